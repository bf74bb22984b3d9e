"""How quickly the default project's commands answer: `--help`, `runs` and `predict`.

Each command is a new process, as a user types it. `predict` of one image is compared with
the least any predicting program pays: a process that imports torch and torchvision and reads
the checkpoint. Sides interleaved, their order alternating; medians and ranges of the wall
times, and the ratio `predict / (import torch, torchvision + torch.load)` per round. Run it
while nothing else runs:

    .venv/bin/python benchmarks/latency.py [--rounds 7] [--json build/latency.json]

`python -X importtime -m <package> predict ...` shows where a command's start-up goes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from projects import render, spread, write_report  # noqa: E402

PACKAGE = "latencylab"
BASELINE = "import sys, torch, torchvision; torch.load(sys.argv[1], weights_only=False)"


def wall(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="latency-") as scratch:
        project = render(Path(scratch), PACKAGE)
        env = {**os.environ, "PYTHONPATH": str(project / "src")}
        cli = [sys.executable, "-m", PACKAGE]
        subprocess.run(
            [*cli, "train", "epochs=1", "run_name=one", "device=cpu"], cwd=project, env=env, check=True
        )
        from PIL import Image

        image = project / "image.png"
        Image.new("L", (8, 8), color=128).save(image)
        checkpoint = project / "runs" / "one" / "checkpoints" / "best.pt"
        sides = {
            "help": [*cli, "--help"],
            "runs": [*cli, "runs"],
            "predict": [*cli, "predict", "runs/one", str(image), "--output", "predictions.csv"],
            "baseline": [sys.executable, "-c", BASELINE, str(checkpoint)],
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in order:
                times[name].append(wall(sides[name], project, env))
    per_round = [p / b for p, b in zip(times["predict"], times["baseline"], strict=True)]
    report = {name: spread(values) for name, values in times.items()}
    ratio = spread(per_round)
    for name, value in report.items():
        low, high = value["range"]
        print(f"{name:9s} {value['median']:.2f} s ({low:.2f} to {high:.2f})")
    low, high = ratio["range"]
    print(f"predict / baseline: {ratio['median']:.2f}x ({low:.2f}x to {high:.2f}x)")
    write_report(args.json, seconds=report, predict_vs_baseline=ratio)


if __name__ == "__main__":
    main()
