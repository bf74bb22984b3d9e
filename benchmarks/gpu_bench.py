"""The GPU figures of two rendered projects (gpu_check.sh renders them and calls this).

1. ResNet-18 (the resnet project's model) on 32x32 RGB images that sit on the GPU, bf16
   autocast, channels_last, SGD: samples/s, the FLOPs of a training step (counted by
   torch.utils.flop_counter on one step: forward and backward) and MFU against the peak bf16
   dense rate (989 TFLOP/s, an H100/H200 SXM), eager and with the project's compile=true.
2. The default MLP (the mnist project's SimpleNet) trained by its real fit() on MNIST-sized
   tensors at batch 1024: the seconds of an epoch after the first (which warms up).

    python benchmarks/gpu_bench.py --resnet PROJECT --mlp PROJECT --out FILE [--dry-run]

--dry-run runs the same code on the CPU at toy sizes (16x16 images), compiling with the "eager" backend (no
C++ toolchain or minutes of compilation): it checks that the script works, its figures mean
nothing. Only torch and the projects' own code are needed (a project's bootstrapped .venv
will do).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import statistics
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

PEAK_BF16_FLOPS = 989e12  # H100/H200 SXM, dense


def package_of(project: Path) -> str:
    """The one package under the project's src/, put on sys.path."""
    sys.path.insert(0, str(project / "src"))
    (package,) = [p.name for p in (project / "src").iterdir() if (p / "__init__.py").exists()]
    return package


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def resnet(project: Path, device: torch.device, dry_run: bool) -> dict:
    """Training steps of ResNet-18 on a fixed batch of 32x32 images on the device."""
    package = package_of(project)
    results = {mode: resnet_steps(package, mode, device, dry_run) for mode in ("eager", "compiled")}
    results["compiled_vs_eager"] = (
        results["compiled"]["samples_per_second"] / results["eager"]["samples_per_second"]
    )
    results["compile_backend"] = "eager (dry run)" if dry_run else "inductor"
    return results


def resnet_steps(package: str, mode: str, device: torch.device, dry_run: bool) -> dict:
    config, models, runtime_of = (import_module(f"{package}.{m}") for m in ("config", "model", "device"))
    optim = import_module(f"{package}.optim")
    batch, warmup, steps, size = (4, 1, 1, 16) if dry_run else (256, 20, 100, 32)
    cfg = config.load_config(overrides=["precision=bf16", f"device={device.type}", f"data.image_size={size}"])
    torch.manual_seed(0)
    model = models.build_model(cfg.model, (3, size, size), 10).to(device)
    runtime = runtime_of.configure(cfg, device, model)  # bf16, channels_last on a GPU
    if mode == "compiled":
        # The project's compile=true is model.compile(); a dry run skips inductor's minutes.
        model.compile(backend="eager") if dry_run else model.compile()
        warmup += 0 if dry_run else 3
    optimizer = optim.make_optimizer(model, cfg)
    images = torch.randn(batch, 3, size, size, device=device)
    images = images.to(memory_format=torch.channels_last) if runtime.channels_last else images
    labels = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with runtime.autocast():
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):  # compiled: the compilation happens here
        step()
    with FlopCounterMode(display=False) as counter:
        step()
    sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    samples_per_second = batch * steps / (time.perf_counter() - started)
    flops_per_sample = counter.get_total_flops() / batch
    return {
        "batch": batch,
        "image_size": size,
        "steps": steps,
        "samples_per_second": samples_per_second,
        "flops_per_sample": flops_per_sample,
        "mfu": flops_per_sample * samples_per_second / PEAK_BF16_FLOPS,
        "channels_last": runtime.channels_last,
        "precision": runtime.precision,
    }


def mlp_epoch(project: Path, device: torch.device, dry_run: bool) -> dict:
    """The project's fit() at batch 1024 on MNIST-sized tensors: seconds of the later epochs."""
    package = package_of(project)
    config, data, train = (import_module(f"{package}.{m}") for m in ("config", "loaders", "train"))
    images, epochs = (2048, 2) if dry_run else (60_000, 4)
    generator = torch.Generator().manual_seed(0)

    def split(n: int):
        return data.Split(torch.randn(n, 1, 28, 28, generator=generator), torch.randint(0, 10, (n,)))

    prep = {"channels": 1, "image_size": [28, 28], "mean": [0.0], "std": [1.0]}
    bundle = data.DataBundle(split(images), split(2048), split(2048), [str(d) for d in range(10)], prep)
    train.load_data = lambda cfg, preprocessing=None: bundle
    with tempfile.TemporaryDirectory() as runs:
        overrides = [f"runs_dir={runs}", "run_name=mlp", f"epochs={epochs}", "data.batch_size=1024"]
        cfg = config.load_config(overrides=[*overrides, f"device={device.type}"])
        with contextlib.redirect_stdout(io.StringIO()):
            summary = train.fit(cfg)
        with open(Path(runs) / "mlp" / "metrics.csv") as rows:
            seconds = [float(row["epoch_seconds"]) for row in csv.DictReader(rows)]
    return {
        "images": images,
        "batch": 1024,
        "epochs": epochs,
        "epoch_seconds": seconds,
        "seconds": statistics.median(seconds[1:]),  # the first epoch warms up
        "samples_per_second": summary["samples_per_second"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resnet", type=Path, required=True, help="a rendered model=resnet project")
    parser.add_argument("--mlp", type=Path, required=True, help="a rendered model=simplenet project")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, toy sizes")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run this where `doctor` finds the GPU, or use DRY_RUN=1")
    device = torch.device("cpu" if args.dry_run else "cuda")
    report = {
        "dry_run": args.dry_run,
        "device": device.type,
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "peak_bf16_flops": PEAK_BF16_FLOPS,
        "resnet18_32px": resnet(args.resnet, device, args.dry_run),
        "mnist_mlp_epoch": mlp_epoch(args.mlp, device, args.dry_run),
    }
    if device.type == "cuda":
        report["peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    r, m = report["resnet18_32px"], report["mnist_mlp_epoch"]
    print(
        f"resnet18 {r['eager']['image_size']}px bf16: eager {r['eager']['samples_per_second']:,.0f}/s "
        f"(MFU {r['eager']['mfu']:.1%}), compiled {r['compiled']['samples_per_second']:,.0f} "
        f"(MFU {r['compiled']['mfu']:.1%}, {r['compiled_vs_eager']:.2f}x eager)\n"
        f"MNIST MLP, batch 1024: {m['seconds'] * 1000:.0f} ms an epoch\nwritten to {args.out}"
    )


if __name__ == "__main__":
    main()
