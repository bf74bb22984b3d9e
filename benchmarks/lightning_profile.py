"""What sets Lightning's floor against the plain loop: a profile of each style's training epochs.

Renders a plain and a Lightning project from this checkout and runs each one's real `fit()` on
the same MNIST-sized tensors (projects.synthetic_bundle) and batch, first without a profiler
(the ratio as lightning_vs_plain.py measures it), then with cProfile switched on only while a
training epoch runs (the plain loop's `train_one_epoch`; Lightning's `_TrainingEpochLoop.run`,
less its validation loop). Each function's own time (cProfile's tottime) goes to the code it
belongs to:

- torch: the step's math, autograd and the optimizer (torch's Python and its C functions);
- lightning: Lightning's loops, hooks, closures and bookkeeping (lightning, lightning_fabric,
  lightning_utilities);
- ours: the project's own modules (the LightningModule, the plain loop, the loader);
- other: Python's standard library, tqdm and the rest.

cProfile makes every Python call dearer and leaves C code as fast as it was, so the shares
overstate Python-heavy code (Lightning's, ours) against torch's kernels: read them as where the
time goes, and the unprofiled ratio as how much.

    .venv/bin/python benchmarks/lightning_profile.py [--batches 128 512] [--rounds 3] [--json F]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
from contextlib import contextmanager
from importlib import import_module
from itertools import zip_longest
from pathlib import Path
from typing import Any

import projects
import torch

STYLES = {"plain": ("plainprof", "pytorch"), "lightning": ("litprof", "lightning")}
LIGHTNING_PARTS = ("/lightning/", "/lightning_fabric/", "/lightning_utilities/", "/pytorch_lightning/")


def owner(function: tuple[str, int, str], packages: tuple[str, ...]) -> str:
    """Which code a profiled function belongs to (see the module's doc)."""
    path, _, name = function
    if path == "~":  # a built-in: torch's C functions name torch, or are methods of its tensors
        return "torch" if "torch" in name or "Tensor" in name else "other"
    path = path.replace("\\", "/")
    if any(part in path for part in LIGHTNING_PARTS):
        return "lightning"
    if any(f"/src/{package}/" in path for package in packages):
        return "ours"
    if "/torch/" in path or "/torchmetrics/" in path:
        return "torch"
    return "other"


@contextmanager
def profiled_epochs(package: str, profiler: cProfile.Profile):
    """cProfile on while a training epoch runs, off during its validation."""
    if package == STYLES["plain"][0]:
        train = import_module(f"{package}.train")
        original = train.train_one_epoch

        def epoch(*args, **kwargs):
            profiler.enable()
            try:
                return original(*args, **kwargs)
            finally:
                profiler.disable()

        train.train_one_epoch = epoch
        try:
            yield
        finally:
            train.train_one_epoch = original
        return
    from lightning.pytorch.loops.evaluation_loop import _EvaluationLoop
    from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop

    loops = {_TrainingEpochLoop: (profiler.enable, profiler.disable), _EvaluationLoop: None}
    originals = {cls: cls.run for cls in loops}

    def wrap(cls, on: bool):
        def run(self, *args, **kwargs):
            (profiler.enable if on else profiler.disable)()
            try:
                return originals[cls](self, *args, **kwargs)
            finally:
                (profiler.disable if on else profiler.enable)()

        return run

    _TrainingEpochLoop.run = wrap(_TrainingEpochLoop, True)
    _EvaluationLoop.run = wrap(_EvaluationLoop, False)
    try:
        yield
    finally:
        for cls, run in originals.items():
            cls.run = run


def profile(package: str, bundle, runs: Path, batch: int, epochs: int) -> dict[str, Any]:
    """One profiled fit(): milliseconds per training step by owner, and the top functions."""
    profiler = cProfile.Profile()
    with profiled_epochs(package, profiler):
        summary = projects.run_fit(package, runs, [f"epochs={epochs}", f"data.batch_size={batch}"], bundle)
    steps = epochs * -(-len(bundle.train.y) // batch)
    stats = pstats.Stats(profiler)
    packages = tuple(p for p, _ in STYLES.values())
    per_owner: dict[str, float] = {}
    rows = []
    for function, (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        kind = owner(function, packages)
        per_owner[kind] = per_owner.get(kind, 0.0) + own
        rows.append((kind, function, calls, own, cumulative))
    milliseconds = {kind: 1000 * seconds / steps for kind, seconds in sorted(per_owner.items())}

    def top(kind: str, index: int, count: int = 8) -> list[dict[str, Any]]:
        chosen = sorted((r for r in rows if r[0] == kind), key=lambda r: r[index], reverse=True)[:count]
        return [
            {
                "function": f"{Path(f[0]).name}:{f[1]}({f[2]})",
                "calls_per_step": c / steps,
                "own_ms": 1000 * o / steps,
                "cumulative_ms": 1000 * cum / steps,
            }
            for _, f, c, o, cum in chosen
        ]

    return {
        "steps": steps,
        "train_seconds": summary["train_seconds"],
        "ms_per_step": milliseconds,
        "top_lightning_by_cumulative": top("lightning", 4),
        **{f"top_{kind}_by_own": top(kind, 3, 6) for kind in ("lightning", "ours", "torch", "other")},
    }


def measure(batches: tuple[int, ...], images: int, epochs: int, rounds: int) -> list[dict[str, Any]]:
    """Per batch size, `rounds` interleaved rounds (the styles' order alternating), each style
    run once unprofiled and once profiled per round; medians over the rounds."""
    results = []
    with projects.styles_ready(STYLES, images) as (folder, bundles):
        for batch in batches:
            overrides = [f"epochs={epochs}", f"data.batch_size={batch}"]
            seconds: dict[str, list[float]] = {style: [] for style in STYLES}
            profiles: dict[str, list[dict[str, Any]]] = {style: [] for style in STYLES}
            for r in range(rounds):
                order = list(STYLES.items()) if r % 2 == 0 else list(STYLES.items())[::-1]
                for style, (package, _) in order:
                    runs = Path(folder) / f"{batch}-{r}-{style}"
                    fitted = projects.run_fit(package, runs, overrides, bundles[style])
                    seconds[style].append(fitted["train_seconds"])
                    profiles[style].append(
                        profile(package, bundles[style], runs.with_name(runs.name + "p"), batch, epochs)
                    )
            ratios = [lit / plain for lit, plain in zip(seconds["lightning"], seconds["plain"], strict=True)]
            result: dict[str, Any] = {"batch": batch, "epochs": epochs, "images": images, "rounds": rounds}
            result["train_ratio"], result["train_range"] = (
                statistics.median(ratios),
                [min(ratios), max(ratios)],
            )
            for style in STYLES:
                result[f"{style}_train_seconds"] = statistics.median(seconds[style])
                kinds = {kind for one in profiles[style] for kind in one["ms_per_step"]}
                result[style] = {
                    **profiles[style][-1],  # the last round's top functions
                    "ms_per_step": {
                        k: statistics.median(p["ms_per_step"].get(k, 0.0) for p in profiles[style])
                        for k in sorted(kinds)
                    },
                }
            results.append(result)
    return results


def report(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        plain, lit, steps = r["plain"]["ms_per_step"], r["lightning"]["ms_per_step"], r["plain"]["steps"]
        lines += [
            "",
            f"batch {r['batch']}, {r['images']:,} images, {r['epochs']} epoch(s), {steps} steps each",
            f"Lightning / plain training time {r['train_ratio']:.2f}x ({r['train_range'][0]:.2f}x to "
            f"{r['train_range'][1]:.2f}x, no profiler); ms per step, the medians of {r['rounds']} rounds:",
            "ms per step (profiled) | plain | lightning",
        ]
        for kind in ("torch", "lightning", "ours", "other"):
            lines.append(f"{kind:22} | {plain.get(kind, 0):5.2f} | {lit.get(kind, 0):5.2f}")
        lines.append(f"{'all':22} | {sum(plain.values()):5.2f} | {sum(lit.values()):5.2f}")
        lines.append("Lightning's functions by cumulative ms per step (their callees included):")
        for row in r["lightning"]["top_lightning_by_cumulative"]:
            lines.append(
                f"  {row['cumulative_ms']:6.2f}  {row['calls_per_step']:5.1f} calls  {row['function']}"
            )
        for kind in ("lightning", "ours", "torch", "other"):
            lines.append(f"{kind}, by own ms per step: plain | lightning")
            pairs = zip_longest(r["plain"][f"top_{kind}_by_own"], r["lightning"][f"top_{kind}_by_own"])
            for a, b in pairs:
                left = f"{a['own_ms']:6.2f} {a['function'][:48]:48}" if a else " " * 55
                right = f"{b['own_ms']:6.2f} {b['function'][:48]}" if b else ""
                lines.append(f"  {left} | {right}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = measure(tuple(args.batches), args.images, args.epochs, args.rounds)
    print("\n".join(report(results)))
    projects.write_report(args.json, benchmark="lightning_profile", threads=1, results=results)
    if args.json:
        print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
