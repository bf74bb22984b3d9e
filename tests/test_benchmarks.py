"""The benchmarks run: `make bench` and the GPU check must not break unseen again.

Both run here in their smallest size (--smoke; the GPU check's CPU dry run), which checks that
every measurement runs and reports the figures docs/benchmarks.md is made from, not what the
figures are.
"""

from __future__ import annotations

import json
import math
import sys

from conftest import ROOT, run

# The ratios benchmarks/run.py promises (issue 18); < 1 means ours is faster or cheaper.
RATIOS = [
    "plain_vs_naive_b32",
    "plain_vs_naive_b128",
    "lightning_vs_plain_b128",
    "lightning_vs_plain_b512",
    "augment_per_image_vs_per_batch",
    "ours_vs_tutorial_pipeline_mnist",
    "ours_vs_dataloader_lightning_mnist",
]


def positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_benchmark_smoke_run_writes_every_ratio_with_its_range(tmp_path):
    out = tmp_path / "b.json"
    command = [sys.executable, ROOT / "benchmarks" / "run.py", "--smoke", "--json", out]
    result = run(command, ROOT, timeout=300)
    report = json.loads(out.read_text())
    ratios, ranges = report["ratios"], report["ranges"]
    assert set(RATIOS) <= set(ratios), set(RATIOS) - set(ratios)
    for key, value in ratios.items():
        low, high = ranges[key]
        assert positive(value) and positive(low) and positive(high), (key, value, ranges[key])
        assert low <= value <= high, key
        assert report["meaning"][key]
        assert f"`{key}`" in result.stdout  # the table on the terminal
    assert report["size"] == "smoke" and report["machine"] and report["date"]


def test_gpu_check_dry_run_on_the_cpu_writes_its_figures(tmp_path):
    out = tmp_path / "gpu.json"
    env = {"DRY_RUN": "1", "OUT": str(out)}
    run(["bash", ROOT / "benchmarks" / "gpu_check.sh"], ROOT, timeout=300, env=env)
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["device"] == "cpu"
    resnet = report["resnet18_32px"]
    for key in ("samples_per_second", "flops_per_sample", "mfu"):
        assert positive(resnet["eager"][key]) and positive(resnet["compiled"][key]), key
    assert positive(resnet["compiled_vs_eager"])
    assert positive(report["mnist_mlp_epoch"]["seconds"]) and report["mnist_mlp_epoch"]["batch"] == 1024


def test_lightning_profile_splits_each_style_s_steps_by_whose_code_runs(tmp_path):
    """benchmarks/lightning_profile.py, at a toy size: docs/benchmarks.md reads its split of
    a training step between torch, Lightning, the project and the rest."""
    out = tmp_path / "profile.json"
    command = [sys.executable, ROOT / "benchmarks" / "lightning_profile.py", "--images", "512"]
    result = run([*command, "--rounds", "1", "--batches", "128", "--json", out], ROOT, timeout=300)
    (figures,) = json.loads(out.read_text())["results"]
    plain, lightning = figures["plain"]["ms_per_step"], figures["lightning"]["ms_per_step"]
    assert positive(plain["torch"]) and positive(lightning["torch"]) and positive(lightning["ours"])
    assert positive(lightning["lightning"]) and plain.get("lightning", 0.0) == 0.0  # none in plain
    assert figures["plain"]["steps"] == figures["lightning"]["steps"] == 4  # 512 images, batch 128
    assert figures["lightning"]["top_lightning_by_cumulative"] and positive(figures["train_ratio"])
    assert "ms per step (profiled) | plain | lightning" in result.stdout
