"""The rendered project's batched tensor loader against a per-sample DataLoader.

Both feed the same train split of the digits in shuffled batches of 32, measured two ways:
iterating alone (the loader's own cost) and one epoch of training the default SimpleNet
(forward, backward, SGD step). They run interleaved, several rounds, in one process, and the
table gives the median of each round's ratio, so the machine's noise hits both sides alike.

    .venv/bin/python benchmarks/tensor_loader.py [--rounds 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import copier
import torch
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]


def render_default(folder: Path) -> Path:
    project = folder / "bench"
    copier.run_copy(
        str(ROOT),
        project,
        data={"project_name": "bench"},
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    return project


def iterate(batches) -> float:
    started = time.perf_counter()
    for _images, _labels in batches:
        pass
    return time.perf_counter() - started


def one_epoch(model, optimizer, batches) -> float:
    started = time.perf_counter()
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return time.perf_counter() - started


def measure(rounds: int = 7) -> dict:
    """Both loaders, interleaved for `rounds` rounds; medians of the per-round ratios."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        project = render_default(Path(folder))
        sys.path.insert(0, str(project / "src"))
        from bench.config import load_config
        from bench.data import TensorLoader, load_data
        from bench.model import build_model

        cfg = load_config()
        data = load_data(cfg.data)
        model = build_model(cfg.model, data.input_shape, len(data.classes))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        tensor_loader = TensorLoader(data.train, batch_size=32, shuffle=True)
        data_loader = DataLoader(TensorDataset(data.train.x, data.train.y), batch_size=32, shuffle=True)
        one_epoch(model, optimizer, tensor_loader)  # warm up both
        one_epoch(model, optimizer, data_loader)

        rows = []
        for epoch in range(rounds):
            tensor_loader.set_epoch(epoch)
            row = {
                "iterate_tensor_loader_s": iterate(tensor_loader),
                "iterate_dataloader_s": iterate(data_loader),
                "train_tensor_loader_s": one_epoch(model, optimizer, tensor_loader),
                "train_dataloader_s": one_epoch(model, optimizer, data_loader),
            }
            row["iterate_ratio"] = row["iterate_dataloader_s"] / row["iterate_tensor_loader_s"]
            row["train_ratio"] = row["train_dataloader_s"] / row["train_tensor_loader_s"]
            rows.append(row)
    torch.set_num_threads(threads)
    return {
        "images": len(data.train),
        "rounds": rows,
        "iterate_median_ratio": statistics.median(r["iterate_ratio"] for r in rows),
        "train_median_ratio": statistics.median(r["train_ratio"] for r in rows),
        **{
            f"{key}_median_s": statistics.median(r[key] for r in rows)
            for key in (
                "iterate_tensor_loader_s",
                "iterate_dataloader_s",
                "train_tensor_loader_s",
                "train_dataloader_s",
            )
        },
    }


def table(result: dict) -> list[str]:
    lines = [
        f"digits train split ({result['images']} images), batch 32, 1 thread, {len(result['rounds'])} rounds",
        f"{'':<28}{'TensorLoader':>14}{'DataLoader':>12}{'ratio (median)':>16}",
    ]
    for label, key in (("iterate one epoch", "iterate"), ("train SimpleNet one epoch", "train")):
        fast = result[f"{key}_tensor_loader_s_median_s"]
        slow = result[f"{key}_dataloader_s_median_s"]
        lines.append(f"{label:<28}{fast:>13.4f}s{slow:>11.4f}s{result[f'{key}_median_ratio']:>15.1f}x")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure(args.rounds)
    print("\n".join(table(result)))
    if args.json:
        machine = f"{platform.machine()}, 1 thread, torch {torch.__version__}"
        report = {
            "benchmark": "tensor_loader_vs_dataloader",
            "date": time.strftime("%Y-%m-%d"),
            "machine": machine,
        }
        args.json.write_text(json.dumps({**report, **result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
