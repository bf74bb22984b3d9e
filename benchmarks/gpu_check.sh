#!/usr/bin/env bash
# The GPU check of the hardware targets, for a machine with an NVIDIA GPU and a driver of 580 or
# newer. It renders a project, bootstraps it (its own .venv with the backend's torch build; the
# last step is `doctor`, which must pass), trains it briefly with bf16 autocast (channels_last
# applies to models with convolutions), and writes samples/s and peak GPU memory as JSON.
#
#   benchmarks/gpu_check.sh                    # the cu130 default project (simplenet)
#   MODEL=resnet benchmarks/gpu_check.sh       # another model, once copier.yml offers it
#   BACKEND=cu126 EPOCHS=5 benchmarks/gpu_check.sh
#
# Output: benchmarks/gpu_check-<backend>-<model>.json. Not run yet: the machines this template
# is developed on have no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${BACKEND:-cu130}
model=${MODEL:-simplenet}
epochs=${EPOCHS:-3}
out="benchmarks/gpu_check-${backend}-${model}.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
project="$work/gpu-check"

.venv/bin/copier copy --trust --defaults --vcs-ref=HEAD -d project_name="GPU Check" \
    -d torch_backend="$backend" -d model="$model" . "$project"
(cd "$project" && python3 bootstrap.py --installer pip)

(cd "$project" && .venv/bin/python - "$epochs" "$backend" >"$work/result.json") <<'PY'
import json
import sys

import torch

from gpu_check.config import load_config
from gpu_check.train import fit

epochs, backend = sys.argv[1], sys.argv[2]
assert torch.cuda.is_available(), "no CUDA device: run this where doctor finds the GPU"
torch.cuda.reset_peak_memory_stats()
cfg = load_config("configs/train.yaml", [f"epochs={epochs}", "precision=bf16", "run_name=gpu-check"])
summary = fit(cfg)
print(
    json.dumps(
        {
            "backend": backend,
            "model": cfg.model.name,
            "gpu": torch.cuda.get_device_name(),
            "torch": torch.__version__,
            "precision": "bf16",
            "epochs": summary["epochs"],
            "samples_per_second": summary["samples_per_second"],
            "peak_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "test_accuracy": summary["test_accuracy"],
        },
        indent=2,
    )
)
PY
cp "$work/result.json" "$out"
cat "$out"
