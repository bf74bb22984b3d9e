"""All of the template's benchmarks: one table on the terminal, one JSON file.

    .venv/bin/python benchmarks/run.py [--json build/benchmarks.json] [--quick | --smoke]

Every comparison is a ratio measured side by side in this one run: the sides interleaved
(their order alternating), several rounds, and the median of the per-round ratios with their
range; a ratio below 1 means ours is faster or cheaper. The JSON file's `ratios` object holds
the medians, `ranges` the lowest and highest round, `meaning` what each one compares.

1. the rendered plain loop's training epochs against a naive loop on the same tensors (the
   digits at batch 32; MNIST-sized tensors at batch 128);
2. Lightning against the plain loop (lightning_vs_plain.py), batch 128 and 512;
3. per-image augmentation on the device against one random shift per batch;
4. against the programs users would otherwise run, each a process of its own on the same
   MNIST-format files (made from the digits, mnist_files.py): the tutorial's DataLoader
   pipeline and a lightning-hydra-template-style Lightning project (peers/). Training epochs,
   the whole process (start to exit) and peak memory (with /usr/bin/time -v, where installed);
5. the full size only: `copier copy`/`update` wall time, the tensor loader against a
   DataLoader (tensor_loader.py), time to 0.95 test accuracy, the suite's recorded wall time.

Sizes: full (about ten minutes on 2 cores), --quick (under three), --smoke (the suite's check
that the benchmark runs; its figures mean little). Every side runs with one torch thread
(--threads): with two on a 2-core machine that other work shares, a busy neighbour slows a
run several-fold at random, and the ratios with it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path

import copier
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import lightning_vs_plain  # noqa: E402
import mnist_files  # noqa: E402
import tensor_loader  # noqa: E402
from projects import quietly, render, run_fit, synthetic_bundle  # noqa: E402

TRANSFER_RECORD = ROOT / "build" / "transfer.json"  # written by tests/test_transfer.py
SUITE_RECORD = ROOT / "build" / "suite-time.json"
TIME = Path("/usr/bin/time")  # GNU time (Debian's `time` package), for peak memory
PLAIN, LIT, MNIST = "benchplain", "benchlit", "benchmnist"  # the rendered projects' packages


@dataclass(frozen=True)
class Size:
    rounds: int  # interleaved rounds of the in-process comparisons
    digits_epochs: int  # plain vs naive at batch 32, on the digits
    images: int  # MNIST-sized tensors for batch 128/512 and augmentation
    peer_rounds: int
    peer_train: int  # MNIST-format files for the peers
    peer_test: int
    peer_epochs: int
    extras: bool  # copier, tensor loader, time to accuracy


SIZES = {
    "full": Size(5, 10, 60_000, 3, 20_000, 5_000, 2, True),
    "quick": Size(3, 10, 10_000, 3, 2_000, 500, 1, False),
    "smoke": Size(1, 2, 2_000, 1, 500, 200, 1, False),
}

MEANING = {
    "plain_vs_naive_b32": "plain loop / naive loop, training epochs, SimpleNet on the digits, batch 32",
    "plain_vs_naive_b128": "plain loop / naive loop, training epochs, SimpleNet, MNIST-sized, batch 128",
    "lightning_vs_plain_b128": "Lightning project / plain project, training epochs, batch 128",
    "lightning_vs_plain_b512": "Lightning project / plain project, training epochs, batch 512",
    "augment_per_image_vs_per_batch": "training epochs with a random shift per image / one per batch",
    "augment_per_image_vs_per_batch_iterate": "iterating the loader alone, per image / per batch",
    "ours_vs_tutorial_pipeline_mnist": "training seconds per image: ours / tutorial DataLoader pipeline",
    "ours_vs_tutorial_pipeline_mnist_end_to_end": "process start to exit: ours / tutorial pipeline",
    "ours_vs_tutorial_pipeline_mnist_peak_rss": "peak memory: ours / tutorial pipeline",
    "ours_vs_dataloader_lightning_mnist": "training seconds per image: ours / Lightning + DataLoader peer",
    "ours_vs_dataloader_lightning_mnist_end_to_end": "process start to exit: ours / Lightning peer",
    "ours_vs_dataloader_lightning_mnist_peak_rss": "peak memory: ours / Lightning peer",
}


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "range": [min(values), max(values)]}


# --- 1. the plain loop against a naive loop


def naive_loop(x: torch.Tensor, y: torch.Tensor, classes: int, epochs: int, batch: int, seed: int) -> float:
    """The tutorial's loop on the same tensors: SimpleNet, SGD, shuffled slices. No validation,
    metrics, checkpoints or plots: what is left is the cost of the loop itself."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(x[0].numel(), 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, classes),
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


def plain_against_naive(folder: Path, size: Size) -> dict:
    """The plain project's fit() (its own clock of the training epochs: validation,
    checkpoints and the rest excluded) against the naive loop, interleaved.

    b32: the default project on the digits, batch 32, steps of well under a millisecond where
    any per-step cost shows. b128: the same tensors (MNIST-sized) for both, batch 128."""
    config, dataset = (import_module(f"{PLAIN}.{m}") for m in ("config", "dataset"))
    digits = dataset.load_data(config.load_config().data)
    bundle = synthetic_bundle(PLAIN, size.images)
    cases = {
        "b32": (digits, size.digits_epochs, 32, None),
        "b128": (bundle, 1, 128, bundle),
    }
    results = {}
    for name, (data, epochs, batch, given) in cases.items():
        rows = []
        for r in range(size.rounds + 1):  # the first round warms up
            settings = [f"run_name={name}-{r}", f"epochs={epochs}", f"data.batch_size={batch}"]
            row = {}
            for side in ("naive", "plain") if r % 2 else ("plain", "naive"):
                if side == "naive":
                    row["naive_s"] = naive_loop(
                        data.train.x, data.train.y, len(data.classes), epochs, batch, 0
                    )
                else:
                    row["plain_s"] = run_fit(PLAIN, folder / "plain-runs", settings, given)["train_seconds"]
            if r:
                rows.append(row)
        results[name] = {
            "images": len(data.train),
            "epochs": epochs,
            "batch": batch,
            "rounds": rows,
            "ratio": spread([row["plain_s"] / row["naive_s"] for row in rows]),
        }
    return results


# --- 3. augmentation: one shift per image against one per batch


def augmentation(folder: Path, size: Size) -> dict:
    """The plain project's training epochs (batch 128, MNIST-sized) with its per-image shifts
    against the same loop with one v2.RandomCrop per batch (what the template did before), and
    the loader alone both ways. Same tensors, same seed."""
    data = import_module(f"{PLAIN}.loaders")
    per_image = data.Shift(padding=3, flip=False)
    per_batch = PerBatchShift(3)
    bundles = {name: synthetic_bundle(PLAIN, size.images, augment=a) for name, a in
               (("per_image", per_image), ("per_batch", per_batch))}  # fmt: skip
    rows = []
    for r in range(size.rounds + 1):
        row = {}
        for name in bundles if r % 2 else list(bundles)[::-1]:
            settings = [f"run_name=aug-{name}-{r}", "epochs=1", "data.batch_size=128", "data.augment=true"]
            summary = run_fit(PLAIN, folder / "aug-runs", settings, bundles[name])
            row[f"{name}_train_s"] = summary["train_seconds"]
            loader = bundles[name].loader("train", 128, seed=r)
            started = time.perf_counter()
            for _batch in loader:
                pass
            row[f"{name}_iterate_s"] = time.perf_counter() - started
        if r:
            rows.append(row)
    return {
        "images": size.images,
        "batch": 128,
        "rounds": rows,
        "accuracy": augmented_accuracy(folder, size),
        "train_ratio": spread([r["per_image_train_s"] / r["per_batch_train_s"] for r in rows]),
        "iterate_ratio": spread([r["per_image_iterate_s"] / r["per_batch_iterate_s"] for r in rows]),
    }


def augmented_accuracy(folder: Path, size: Size) -> dict:
    """Test accuracy on the digits (the default project, 10 epochs, data.augment=true) with a
    shift per image and with one per batch, seeds 0, 1, ...: does per-image augmentation lose
    accuracy?"""
    config, dataset = (import_module(f"{PLAIN}.{m}") for m in ("config", "dataset"))
    digits = dataset.load_data(config.load_config(overrides=["data.augment=true"]).data)
    bundles = {"per_image": digits, "per_batch": replace(digits, augment=PerBatchShift(1, size=8))}
    found: dict[str, list[float]] = {name: [] for name in bundles}
    for seed in range(size.rounds):
        for name, bundle in bundles.items():
            settings = [f"run_name=acc-{name}-{seed}", f"seed={seed}", "epochs=10", "data.augment=true"]
            found[name].append(run_fit(PLAIN, folder / "acc-runs", settings, bundle)["test_accuracy"])
    return {**found, **{f"{name}_mean": statistics.mean(values) for name, values in found.items()}}


class PerBatchShift:
    """The template's augmentation before 0.3.0: torchvision's RandomCrop on the whole batch,
    so every image of a batch moves the same way (torch's global generator draws the shift)."""

    def __init__(self, padding: int, size: int = 28):
        from torchvision.transforms import v2

        self.crop = v2.RandomCrop(size, padding=padding)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.empty(n, 0)  # nothing per image

    def __call__(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.crop(images)


# --- 4. against the peers, each its own process


def peak_rss_mib(stderr: str) -> float | None:
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(found.group(1)) / 1024 if found else None


def run_process(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """Wall time from process start to exit, peak RSS (GNU time), and the result the program
    reports (its summary.json, or its last line of output)."""
    timed = [str(TIME), "-v", *command] if TIME.exists() else command
    started = time.perf_counter()
    done = subprocess.run(timed, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return {"wall_s": wall, "peak_rss_mib": peak_rss_mib(done.stderr), "stdout": done.stdout}


def against_peers(folder: Path, size: Size) -> dict:
    """Ours (the plain mnist project's `train`), the tutorial pipeline and the Lightning peer,
    on the same MNIST-format files, batch 32 (ours and the tutorial's default), same epochs."""
    root = mnist_files.write_mnist(folder / "mnist-files", size.peer_train, size.peer_test)
    project = folder / MNIST
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    python, epochs = sys.executable, str(size.peer_epochs)
    common = ["--root", str(root), "--epochs", epochs, "--batch-size", "32"]
    runs = folder / "peer-runs"
    settings = [f"data.root={root}", f"epochs={epochs}", "device=cpu", f"runs_dir={runs}"]
    config = import_module(f"{MNIST}.config").load_config(overrides=settings)
    assert config.data.batch_size == 32, "the mnist project's default batch changed: match the peers'"
    ours_images = len(import_module(f"{MNIST}.dataset").load_data(config.data).train)

    def ours(r: int) -> dict:
        command = [python, "-m", MNIST, "train", *settings, f"run_name=ours-{r}"]
        measured = run_process(command, project, env)
        summary = json.loads((runs / f"ours-{r}" / "summary.json").read_text())
        return {**measured, "train_s": summary["train_seconds"], "images": ours_images,
                "test_accuracy": summary["test_accuracy"]}  # fmt: skip

    def peer(script: str, r: int) -> dict:
        extra = ["--out", str(folder / f"lightning-{r}")] if script == "lightning_mnist.py" else []
        measured = run_process([python, str(HERE / "peers" / script), *common, *extra], folder, env)
        result = json.loads(measured["stdout"].strip().splitlines()[-1])
        return {**measured, "train_s": result["train_seconds"], "images": result["train_images"],
                "test_accuracy": result["test_accuracy"]}  # fmt: skip

    sides = {"ours": ours, "tutorial": lambda r: peer("tutorial_mnist.py", r),
             "lightning": lambda r: peer("lightning_mnist.py", r)}  # fmt: skip
    rows = []
    for r in range(size.peer_rounds):
        names = list(sides)[r % 3 :] + list(sides)[: r % 3]  # each side first in turn
        row = {name: sides[name](r) for name in names}
        for side in row.values():
            side.pop("stdout")
        rows.append(row)

    def ratios(peer_name: str) -> dict:
        def per_image(side: dict) -> float:
            return side["train_s"] / side["images"]

        result = {
            "train_per_image": spread([per_image(r["ours"]) / per_image(r[peer_name]) for r in rows]),
            "end_to_end": spread([r["ours"]["wall_s"] / r[peer_name]["wall_s"] for r in rows]),
        }
        if all(r[s]["peak_rss_mib"] for r in rows for s in ("ours", peer_name)):
            rss = [r["ours"]["peak_rss_mib"] / r[peer_name]["peak_rss_mib"] for r in rows]
            result["peak_rss"] = spread(rss)
        return result

    return {
        "train_images": size.peer_train,
        "test_images": size.peer_test,
        "epochs": size.peer_epochs,
        "batch": 32,
        "peak_rss": "GNU time -v" if TIME.exists() else f"not measured: no {TIME} (Debian's `time` package)",
        "rounds": rows,
        "tutorial": ratios("tutorial"),
        "lightning": ratios("lightning"),
    }


# --- 5. the full size's extras


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
    median = statistics.median
    return {"copy_s": median(copies), "update_s": median(updates), "update_from": previous}


def time_to_accuracy(folder: Path, target: float = 0.95, most: int = 10) -> dict:
    """Fewest epochs of the default config that reach `target` test accuracy on the digits, and
    the wall time of that fit() (in process, after the imports)."""
    for epochs in range(1, most + 1):
        summary = run_fit(PLAIN, folder / "tta", [f"run_name=e{epochs}", f"epochs={epochs}"])
        if summary["test_accuracy"] >= target:
            return {"target": target, "epochs": epochs, "seconds": summary["fit_s"],
                    "test_accuracy": summary["test_accuracy"]}  # fmt: skip
    return {"target": target, "epochs": None, "seconds": None, "test_accuracy": summary["test_accuracy"]}


# --- the run


def measure(size: Size, folder: Path) -> dict:
    render(folder, PLAIN)
    render(folder, MNIST, dataset="mnist")
    sections = {
        "plain_vs_naive": lambda: plain_against_naive(folder, size),
        "lightning_vs_plain": lambda: quietly(
            lightning_vs_plain.measure, size.rounds, 1, (128, 512), size.images
        ),
        "augmentation": lambda: augmentation(folder, size),
        "peers": lambda: against_peers(folder, size),
    }
    if size.extras:
        sections |= {
            "copier": lambda: copier_times(folder, 3),
            "time_to_accuracy": lambda: time_to_accuracy(folder),
            "tensor_loader": lambda: quietly(tensor_loader.measure, 7),
            "tensor_loader_mnist_sized": lambda: quietly(tensor_loader.measure_mnist_sized, 3),
        }
    report: dict = {"section_seconds": {}}
    for name, section in sections.items():
        started = time.perf_counter()
        report[name] = section()
        report["section_seconds"][name] = round(time.perf_counter() - started, 1)
    if size.extras:
        report["transfer"] = json.loads(TRANSFER_RECORD.read_text()) if TRANSFER_RECORD.exists() else None
        report["suite"] = json.loads(SUITE_RECORD.read_text()) if SUITE_RECORD.exists() else None
    return report


def ratios(report: dict) -> dict[str, dict]:
    """The headline ratios (median and range), by name."""
    loops = {row["batch"]: row for row in report["lightning_vs_plain"]}
    peers, aug = report["peers"], report["augmentation"]
    found = {
        "plain_vs_naive_b32": report["plain_vs_naive"]["b32"]["ratio"],
        "plain_vs_naive_b128": report["plain_vs_naive"]["b128"]["ratio"],
        "lightning_vs_plain_b128": {"median": loops[128]["train_ratio"], "range": loops[128]["train_range"]},
        "lightning_vs_plain_b512": {"median": loops[512]["train_ratio"], "range": loops[512]["train_range"]},
        "augment_per_image_vs_per_batch": aug["train_ratio"],
        "augment_per_image_vs_per_batch_iterate": aug["iterate_ratio"],
    }
    named = {"tutorial": "ours_vs_tutorial_pipeline_mnist", "lightning": "ours_vs_dataloader_lightning_mnist"}
    for peer, key in named.items():
        found[key] = peers[peer]["train_per_image"]
        found[f"{key}_end_to_end"] = peers[peer]["end_to_end"]
        if "peak_rss" in peers[peer]:
            found[f"{key}_peak_rss"] = peers[peer]["peak_rss"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "benchmarks.json")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="fewer rounds, less data: under 3 minutes")
    sizes.add_argument("--smoke", action="store_true", help="the smallest size: does it run (the suite)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of every side (0: torch's own choice)"
    )
    args = parser.parse_args()
    if args.threads:  # one thread: ratios that hold on a machine shared with other work
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the peers' processes and ours
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    started = time.perf_counter()
    report = {
        "size": name,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads: {torch.get_num_threads()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        report.update(measure(SIZES[name], Path(tmp)))
    found = ratios(report)
    report = {
        "ratios": {key: value["median"] for key, value in found.items()},
        "ranges": {key: value["range"] for key, value in found.items()},
        "meaning": {key: MEANING[key] for key in found},
        **report,
        "benchmark_seconds": time.perf_counter() - started,
    }
    bad = [key for key, value in report["ratios"].items() if not (math.isfinite(value) and value > 0)]
    print("\n".join(table(report)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.json}")
    if bad:
        sys.exit(f"not a positive finite ratio: {', '.join(bad)}")


def table(report: dict) -> list[str]:
    """The ratios as a Markdown table (docs/benchmarks.md shows one)."""
    lines = [
        f"copier-pytorch benchmarks ({report['size']}), {report['date']}, {report['machine']}, "
        f"torch {report['torch']}",
        "",
        "| ratio | what it compares | median | range |",
        "| --- | --- | --- | --- |",
    ]
    for key, value in report["ratios"].items():
        low, high = report["ranges"][key]
        lines.append(f"| `{key}` | {report['meaning'][key]} | {value:.2f}x | {low:.2f}x to {high:.2f}x |")
    accuracy, peers = report["augmentation"]["accuracy"], report["peers"]
    lines += [
        "",
        f"Test accuracy on the digits, data.augment=true, 10 epochs, {len(accuracy['per_image'])} seeds: "
        f"shift per image {accuracy['per_image_mean']:.3f}, per batch {accuracy['per_batch_mean']:.3f}.",
        "",
        f"Test accuracy of the peers' runs ({peers['epochs']} epoch(s) of {peers['train_images']:,} images): "
        + ", ".join(
            f"{side} {statistics.median(r[side]['test_accuracy'] for r in peers['rounds']):.3f}"
            for side in ("ours", "tutorial", "lightning")
        )
        + ".",
    ]
    if report["peers"]["peak_rss"] != "GNU time -v":
        lines += ["", f"Peak memory {report['peers']['peak_rss']}."]
    if "copier" in report:
        c, tta = report["copier"], report["time_to_accuracy"]
        reached = f"{tta['seconds']:.2f} s ({tta['epochs']} epochs)" if tta["epochs"] else "not in 10 epochs"
        lines += [
            "",
            f"`copier copy` of the default project: {c['copy_s']:.2f} s; `update`: {c['update_s']:.2f} s.",
            "",
            f"Time to {tta['target']} test accuracy on the digits: {reached}.",
        ]
    lines += ["", f"(This benchmark run: {report['benchmark_seconds']:.0f} s.)"]
    return lines


if __name__ == "__main__":
    main()
