#!/usr/bin/env bash
# The GPU check: two projects rendered from this checkout, measured on an NVIDIA GPU by
# benchmarks/gpu_bench.py (ResNet-18 on 32x32 bf16 channels_last images on the GPU: samples/s
# and MFU, eager and compiled; the MNIST MLP's epoch at batch 1024). JSON into $OUT.
#
#   benchmarks/gpu_check.sh                 # on the GPU, with the dev environment's torch
#   BOOTSTRAP=1 benchmarks/gpu_check.sh     # each project's own .venv with $BACKEND's torch
#                                           # build (bootstrap.py, then `doctor`; needs the index)
#   DRY_RUN=1 benchmarks/gpu_check.sh       # on the CPU, toy sizes: checks that it runs (the suite)
#
# Settings: PYTHON (a Python with copier and torch; default .venv/bin/python), BACKEND
# (default cu130), OUT (default build/gpu_check-$BACKEND.json). Until a GPU machine runs it,
# the suite runs the dry run (tests/test_benchmarks.py).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
backend=${BACKEND:-cu130}
out=${OUT:-build/gpu_check-$backend.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

render() {  # render NAME ANSWERS...: a project of this checkout (uncommitted changes included)
    local name=$1
    shift
    local answers=()
    for answer in "$@"; do answers+=(-d "$answer"); done
    "$python" -m copier copy --trust --defaults --vcs-ref=HEAD --quiet \
        -d project_name="$name" -d torch_backend="$backend" "${answers[@]}" . "$work/$name" 2>/dev/null
}
render gpuresnet model=resnet dataset=cifar10
render gpumlp model=simplenet dataset=mnist

runner=$python
if [[ ${BOOTSTRAP:-0} == 1 ]]; then  # the project's own torch build; doctor must pass
    (cd "$work/gpuresnet" && python3 bootstrap.py)
    runner=$work/gpuresnet/.venv/bin/python
fi
dry_run=()
[[ ${DRY_RUN:-0} == 1 ]] && dry_run=(--dry-run)
"$runner" benchmarks/gpu_bench.py --resnet "$work/gpuresnet" --mlp "$work/gpumlp" --out "$out" "${dry_run[@]}"
