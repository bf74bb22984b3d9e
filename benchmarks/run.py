"""All of the template's benchmarks: one table on the terminal, one JSON file.

    .venv/bin/python benchmarks/run.py [--json build/benchmarks.json] [--quick]

Ratios are measured side by side in this one run (both sides interleaved, several rounds, the
median of the per-round ratios); absolute times carry the machine and the date. It takes about
five minutes on a 2-core machine (--quick: about two).

1. `copier copy` and `copier update` of the default project (wall time);
2. the rendered plain loop against a minimal reference loop (same model, data, batch);
3. Lightning against the plain loop (lightning_vs_plain.py);
4. the tensor loader against a DataLoader (tensor_loader.py);
5. time to 0.95 test accuracy on the digits for the default project;
6. the template test suite's wall time (from its last full run, which tests/conftest.py records).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

import copier
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import lightning_vs_plain  # noqa: E402
import tensor_loader  # noqa: E402

TRANSFER_RECORD = ROOT / "build" / "transfer.json"  # written by tests/test_transfer.py
SUITE_RECORD = ROOT / "build" / "suite-time.json"


def quietly(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return function(*args, **kwargs)


def copier_times(folder: Path, rounds: int) -> dict:
    """Median wall time of `copier copy` (defaults, with the git task), and of an update from
    the previous commit of this repository to the current checkout."""
    copies = []
    for r in range(rounds):
        started = time.perf_counter()
        quietly(copier.run_copy, str(ROOT), folder / f"copy{r}", defaults=True, unsafe=True, vcs_ref="HEAD")
        copies.append(time.perf_counter() - started)
    previous = subprocess.run(
        ["git", "rev-parse", "HEAD~1"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    updates = []
    for r in range(rounds):
        project = folder / f"update{r}"
        quietly(copier.run_copy, str(ROOT), project, defaults=True, unsafe=True, vcs_ref=previous)
        started = time.perf_counter()
        quietly(copier.run_update, project, defaults=True, overwrite=True, unsafe=True, vcs_ref="HEAD")
        updates.append(time.perf_counter() - started)
    return {
        "copy_s": statistics.median(copies),
        "update_s": statistics.median(updates),
        "update_from": previous,
    }


def reference_loop(data, epochs: int, batch: int, seed: int) -> float:
    """The tutorial's loop on the same tensors: SimpleNet, SGD, shuffled slices. No validation,
    metrics, checkpoints or plots: what is left is the cost of the loop itself."""
    torch.manual_seed(seed)
    x, y = data.train.x, data.train.y
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(x[0].numel(), 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, len(data.classes)),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    started = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + epoch))
        for start in range(0, len(y), batch):
            index = order[start : start + batch]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()
    return time.perf_counter() - started


def loop_against_reference(folder: Path, rounds: int, dataset: str = "digits") -> dict:
    """A rendered SimpleNet project's fit(): its training seconds (validation, checkpoints and
    the rest excluded by its own clock) and its whole wall time, against the reference loop.

    `digits`: the default project, batch 32, 10 epochs: steps of about a millisecond, where
    any per-step cost shows. `mnist`: 60,000 images of 28x28 (the project's own sample-data
    writer, at MNIST's size), batch 128, 2 epochs."""
    package = f"loop{dataset}"
    quietly(copier.run_copy, str(ROOT), folder / package, data={"project_name": package, "dataset": dataset},
            defaults=True, unsafe=True, vcs_ref="HEAD")  # fmt: skip
    sys.path.insert(0, str(folder / package / "src"))
    config, data_module, train = (import_module(f"{package}.{m}") for m in ("config", "dataset", "train"))
    settings = ["device=cpu"]
    if dataset == "mnist":
        sys.path.insert(0, str(folder / package / "tests"))
        root = import_module("sample_data").install(folder / "mnist-data", per_class=(6000, 1000))
        settings += [f"data.root={root}", "data.batch_size=128", "epochs=2"]
    rows = []
    for r in range(rounds + 1):  # the first round warms up
        overrides = [f"runs_dir={folder / 'loop-runs'}", f"run_name={dataset}-{r}", *settings]
        cfg = config.load_config(overrides=overrides)
        data = data_module.load_data(cfg.data)
        reference = reference_loop(data, cfg.epochs, cfg.data.batch_size, cfg.seed)
        started = time.perf_counter()
        summary = quietly(train.fit, cfg)
        wall = time.perf_counter() - started
        if r:
            rows.append({"reference_s": reference, "fit_train_s": summary["train_seconds"], "fit_s": wall})
    return {
        "dataset": dataset,
        "images": len(data.train),
        "epochs": cfg.epochs,
        "batch": cfg.data.batch_size,
        "rounds": rows,
        "reference_s": statistics.median(r["reference_s"] for r in rows),
        "train_ratio": statistics.median(r["fit_train_s"] / r["reference_s"] for r in rows),
        "wall_ratio": statistics.median(r["fit_s"] / r["reference_s"] for r in rows),
    }


def time_to_accuracy(folder: Path, target: float = 0.95, most: int = 10) -> dict:
    """Fewest epochs of the default config that reach `target` test accuracy, and the wall time
    of that `train` (in process, after the imports)."""
    train = import_module("loopbench.train")
    config = import_module("loopbench.config")
    for epochs in range(1, most + 1):
        overrides = [f"runs_dir={folder / 'tta'}", f"run_name=e{epochs}", f"epochs={epochs}"]
        cfg = config.load_config(overrides=overrides)
        started = time.perf_counter()
        summary = quietly(train.fit, cfg)
        seconds = time.perf_counter() - started
        if summary["test_accuracy"] >= target:
            break
    else:
        epochs, seconds = None, None
    return {"target": target, "epochs": epochs, "seconds": seconds, "test_accuracy": summary["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "benchmarks.json")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller batches list")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    started = time.perf_counter()
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report["copier"] = copier_times(folder, 2 if args.quick else 3)
        report["loop_vs_reference"] = loop_against_reference(folder, rounds)
        report["loop_vs_reference_mnist"] = loop_against_reference(folder, rounds, "mnist")
        report["time_to_accuracy"] = time_to_accuracy(folder)
    batches = (128, 512) if args.quick else (128, 512, 2048)
    report["lightning_vs_plain"] = quietly(lightning_vs_plain.measure, 2 if args.quick else 3, 2, batches)
    report["tensor_loader"] = quietly(tensor_loader.measure, 3 if args.quick else 7)
    report["tensor_loader"]["mnist_sized"] = quietly(
        tensor_loader.measure_mnist_sized, 2 if args.quick else 3
    )
    report["transfer"] = json.loads(TRANSFER_RECORD.read_text()) if TRANSFER_RECORD.exists() else None
    report["suite"] = json.loads(SUITE_RECORD.read_text()) if SUITE_RECORD.exists() else None
    report["benchmark_seconds"] = time.perf_counter() - started

    print("\n".join(table(report)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.json}")


def table(report: dict) -> list[str]:
    c, loop, tta = report["copier"], report["loop_vs_reference"], report["time_to_accuracy"]
    lines = [
        f"copier-pytorch benchmarks, {report['date']}, {report['machine']}, torch {report['torch']}",
        "",
        "| what | figure |",
        "| --- | --- |",
        f"| `copier copy` of the default project (with its git task) | {c['copy_s']:.2f} s |",
        f"| `copier update` of it from the previous commit | {c['update_s']:.2f} s |",
        f"| plain loop / reference loop, training epochs ({loop['epochs']} epochs, batch {loop['batch']}) "
        f"| {loop['train_ratio']:.2f}x |",
        f"| plain loop / reference loop, whole `fit()` (validation, checkpoints, test, plots) "
        f"| {loop['wall_ratio']:.2f}x |",
    ]
    big = report["loop_vs_reference_mnist"]
    lines += [
        f"| plain loop / reference loop, MNIST-sized ({big['images']:,} images, {big['epochs']} epochs, "
        f"batch {big['batch']}), training epochs | {big['train_ratio']:.2f}x |",
        f"| the same, whole `fit()` | {big['wall_ratio']:.2f}x |",
    ]
    for row in report["lightning_vs_plain"]:
        label = f"Lightning / plain loop, batch {row['batch']}, training epochs"
        lines.append(f"| {label} | {row['train_ratio']:.2f}x |")
    loader = report["tensor_loader"]
    lines += [
        f"| DataLoader / TensorLoader, iterating an epoch | {loader['iterate_median_ratio']:.1f}x |",
        f"| DataLoader / TensorLoader, training SimpleNet an epoch | {loader['train_median_ratio']:.2f}x |",
    ]
    mnist = loader["mnist_sized"]
    lines += [
        "| MNIST-sized, batch 128, shifted: DataLoader(TensorDataset) unshifted / TensorLoader "
        f"| {mnist['dataloader_tensordataset_median_ratio']:.1f}x |",
        "| MNIST-sized, batch 128, shifted: DataLoader with per-image v2 transforms / TensorLoader "
        f"| {mnist['dataloader_per_sample_median_ratio']:.1f}x |",
    ]
    transfer = report["transfer"]
    if transfer:
        lines.append(
            "| test accuracy on 5-9 from 25 images: frozen backbone pretrained on 0-4 / from scratch "
            f"| {transfer['finetuned']['test_accuracy']:.2f} / {transfer['scratch']['test_accuracy']:.2f} |"
        )
    if tta["epochs"]:
        lines.append(
            f"| time to {tta['target']} test accuracy on the digits, default project "
            f"| {tta['seconds']:.2f} s ({tta['epochs']} epochs, {tta['test_accuracy']:.3f}) |"
        )
    else:
        lines.append(f"| time to {tta['target']} test accuracy on the digits | not reached in 10 epochs |")
    suite = report["suite"]
    if suite:
        label = f"template test suite, `make test` ({suite['tests']} tests, {suite['date']})"
        lines.append(f"| {label} | {suite['seconds']:.0f} s |")
    else:
        lines.append("| template test suite | not recorded yet: run `make test` |")
    lines.append(f"| (this benchmark run) | {report['benchmark_seconds']:.0f} s |")
    return lines


if __name__ == "__main__":
    main()
