"""The Lightning style against the plain loop: same model, data, batch and epochs.

Renders two projects from this checkout (framework=pytorch and framework=lightning) and runs
each one's real `fit()` on the same MNIST-sized data (60,000 training images of 1x28x28,
random pixels: the timing does not depend on what they show), interleaved (the order of the
two alternating), several rounds, in one process. Reported per batch size: the median over
rounds of Lightning's time divided by the plain loop's, with its range, for the training
epochs alone and for the whole `fit()` (validation, checkpoints, the final test and the plots).

    .venv/bin/python benchmarks/lightning_vs_plain.py [--rounds 3] [--epochs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import projects
import torch

STYLES = {"plain": ("plainbench", "pytorch"), "lightning": ("litbench", "lightning")}


def run_fit(package: str, bundle, runs: Path, batch: int, epochs: int) -> dict[str, float]:
    summary = projects.run_fit(package, runs, [f"epochs={epochs}", f"data.batch_size={batch}"], bundle)
    return {"fit_s": summary["fit_s"], "train_s": summary["train_seconds"]}


def measure(
    rounds: int = 3, epochs: int = 2, batches: tuple[int, ...] = (128, 512), images: int = 60_000
) -> list[dict]:
    """Both styles, interleaved for `rounds` rounds per batch size; medians of the ratios."""
    results = []
    with projects.styles_ready(STYLES, images) as (folder, bundles):
        for batch in batches:
            rows = []
            for r in range(rounds):
                row = {}
                order = list(STYLES.items()) if r % 2 == 0 else list(STYLES.items())[::-1]
                for style, (package, _) in order:
                    runs = Path(folder) / f"b{batch}-r{r}-{style}"
                    for key, value in run_fit(package, bundles[style], runs, batch, epochs).items():
                        row[f"{style}_{key}"] = value
                row["train_ratio"] = row["lightning_train_s"] / row["plain_train_s"]
                row["fit_ratio"] = row["lightning_fit_s"] / row["plain_fit_s"]
                rows.append(row)
            results.append(
                {
                    "batch": batch,
                    "epochs": epochs,
                    "rounds": rows,
                    "train_ratio": statistics.median(r["train_ratio"] for r in rows),
                    "train_range": [min(r["train_ratio"] for r in rows), max(r["train_ratio"] for r in rows)],
                    "fit_ratio": statistics.median(r["fit_ratio"] for r in rows),
                    "plain_train_s": statistics.median(r["plain_train_s"] for r in rows),
                    "lightning_train_s": statistics.median(r["lightning_train_s"] for r in rows),
                }
            )
    return results


def table(results: list[dict]) -> list[str]:
    first = results[0]
    lines = [
        f"SimpleNet, 60,000 images 1x28x28, {first['epochs']} epochs, {len(first['rounds'])} rounds, CPU",
        f"{'batch':>6}{'plain train':>13}{'lightning train':>17}{'train ratio':>13}{'fit() ratio':>13}",
    ]
    for r in results:
        lines.append(
            f"{r['batch']:>6}{r['plain_train_s']:>12.2f}s{r['lightning_train_s']:>16.2f}s"
            f"{r['train_ratio']:>12.3f}x{r['fit_ratio']:>12.3f}x"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = measure(args.rounds, args.epochs, tuple(args.batches))
    print("\n".join(table(results)))
    if args.json:
        machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
        report = {"benchmark": "lightning_vs_plain", "date": time.strftime("%Y-%m-%d"), "machine": machine}
        args.json.write_text(json.dumps({**report, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
