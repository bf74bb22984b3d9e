"""How many torch threads a CPU run should use: alone, and beside a busy neighbour.

Trains the default project (SimpleNet) and the cnn project on the digits, each run a process
of its own (`python -m <package> train`), under three settings of the OpenMP runtime torch
uses on Linux:

- `default`: torch's own, one thread per core, threads that wait spin (OMP_WAIT_POLICY=ACTIVE
  is libgomp's default);
- `one`: OMP_NUM_THREADS=1;
- `passive`: one thread per core, waiting threads sleep (OMP_WAIT_POLICY=PASSIVE).

and two conditions: `alone`, and `busy`, with one process spinning on one core beside the run
(a second test session, an editor's checks, another user's job). Sides interleaved, their order
rotating from round to round; the figure is each run's training samples per second
(summary.json), and a ratio is the setting's time over `default`'s in the same round
(< 1: the setting is faster). Run it on a machine with nothing else running:

    .venv/bin/python benchmarks/threads.py [--rounds 5] [--json build/threads.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from projects import render, spread, write_report  # noqa: E402

SETTINGS = {
    "default": {},
    "one": {"OMP_NUM_THREADS": "1"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
}
MODELS = {"threadsimple": "simplenet", "threadcnn": "cnn"}
SPIN = "while True: pass"


def train(project: Path, package: str, runs: Path, name: str, setting: dict[str, str], epochs: int) -> float:
    """Training samples per second of one run in a new process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    env.update(setting, PYTHONPATH=str(project / "src"))
    command = [sys.executable, "-m", package, "train", f"runs_dir={runs}", f"run_name={name}"]
    command += [f"epochs={epochs}", "device=cpu"]
    subprocess.run(command, cwd=project, env=env, check=True, capture_output=True, timeout=900)
    return json.loads((runs / name / "summary.json").read_text())["samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="threads-") as scratch:
        folder = Path(scratch)
        projects = {package: render(folder, package, model=model) for package, model in MODELS.items()}
        sides = [(p, s, c) for p in MODELS for s in SETTINGS for c in ("alone", "busy")]
        for round_ in range(args.rounds):
            shift = round_ % len(sides)
            for package, setting, condition in sides[shift:] + sides[:shift]:
                neighbour = subprocess.Popen([sys.executable, "-c", SPIN]) if condition == "busy" else None
                try:
                    name = f"{setting}-{condition}-{round_}"
                    rate = train(
                        projects[package],
                        package,
                        folder / package / "runs",
                        name,
                        SETTINGS[setting],
                        args.epochs,
                    )
                finally:
                    if neighbour:
                        neighbour.kill()
                        neighbour.wait()
                rates.setdefault(f"{package}/{setting}/{condition}", []).append(rate)
    ratios = {}
    for package in MODELS:
        for setting in ("one", "passive"):
            for condition in ("alone", "busy"):
                pairs = zip(
                    rates[f"{package}/default/{condition}"],
                    rates[f"{package}/{setting}/{condition}"],
                    strict=True,
                )
                per_round = [base / other for base, other in pairs]  # time ratio: setting / default
                ratios[f"{MODELS[package]}_{setting}_vs_default_{condition}"] = spread(per_round)
    print("| ratio (time: setting / torch's default) | median | range |\n| --- | --- | --- |")
    for key, value in ratios.items():
        low, high = value["range"]
        print(f"| `{key}` | {value['median']:.2f}x | {low:.2f}x to {high:.2f}x |")
    for key, values in rates.items():
        print(f"{key}: median {statistics.median(values):,.0f} samples/s")
    write_report(args.json, ratios=ratios, samples_per_second=rates)


if __name__ == "__main__":
    main()
