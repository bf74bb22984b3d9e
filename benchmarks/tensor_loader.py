"""The rendered project's batched tensor loader against a per-sample DataLoader.

1. The digits: both feed the same train split in shuffled batches of 32, measured two ways:
   iterating alone (the loader's own cost) and one epoch of training the default SimpleNet
   (forward, backward, SGD step).
2. MNIST-sized data (60,000 28x28 images, batch 128), iterating one epoch with augmentation
   (random shifts of up to 3 pixels) three ways: the TensorLoader with the project's `Shift`
   (each image its own shift, a batch at once), a DataLoader over a TensorDataset (no
   augmentation: the collate cost alone), and a DataLoader over a dataset that applies v2
   transforms image by image, the way torchvision's MNIST class does with `transform=`.

Everything runs interleaved, several rounds, in one process, and the tables give the median of
each round's ratio, so the machine's noise hits all sides alike.

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
        from bench.dataset import load_data
        from bench.loaders import TensorLoader
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


class PerSample(torch.utils.data.Dataset):
    """uint8 images, each made a normalized float tensor and shifted on its own."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def measure_mnist_sized(rounds: int = 3, batch: int = 128) -> dict:
    """Three ways to feed 60,000 28x28 images; medians of the per-round ratios to the TensorLoader."""
    from torchvision.transforms import v2

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        project = render_default(Path(folder))
        sys.path.insert(0, str(project / "src"))
        from bench.loaders import Shift, Split, TensorLoader

        generator = torch.Generator().manual_seed(0)
        raw = torch.randint(0, 256, (60_000, 1, 28, 28), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, 10, (60_000,), generator=generator)
        images = (raw.float() / 255 - 0.13) / 0.31
        shift = v2.RandomCrop(28, padding=3)
        per_image = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.13], [0.31]), shift])
        loaders = {
            "tensor_loader": TensorLoader(Split(images, labels), batch, shuffle=True, transform=Shift(3)),
            "dataloader_tensordataset": DataLoader(
                TensorDataset(images, labels), batch_size=batch, shuffle=True
            ),
            "dataloader_per_sample": DataLoader(
                PerSample(raw, labels, per_image), batch_size=batch, shuffle=True
            ),
        }
        rows = []
        for _ in range(rounds):
            row = {name: iterate(loader) for name, loader in loaders.items()}
            rows.append(row)
    torch.set_num_threads(threads)
    return {
        "images": 60_000,
        "batch": batch,
        "rounds": rows,
        **{f"{name}_median_s": statistics.median(r[name] for r in rows) for name in loaders},
        **{
            f"{name}_median_ratio": statistics.median(r[name] / r["tensor_loader"] for r in rows)
            for name in loaders
            if name != "tensor_loader"
        },
    }


def mnist_table(result: dict) -> list[str]:
    lines = [
        f"MNIST-sized ({result['images']:,} images 28x28), batch {result['batch']}, 1 thread, "
        f"{len(result['rounds'])} rounds: iterate one epoch",
    ]
    for label, name in (
        ("TensorLoader, Shift per image", "tensor_loader"),
        ("DataLoader(TensorDataset), none", "dataloader_tensordataset"),
        ("DataLoader, v2 shifts per image", "dataloader_per_sample"),
    ):
        ratio = result.get(f"{name}_median_ratio", 1.0)
        lines.append(f"{label:<36}{result[f'{name}_median_s']:>9.3f}s{ratio:>9.1f}x")
    return lines


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
    result["mnist_sized"] = measure_mnist_sized()
    print("\n".join(table(result) + mnist_table(result["mnist_sized"])))
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
