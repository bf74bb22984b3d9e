"""Rendering this checkout into projects the benchmarks import, and running their real `fit()`.

A benchmark renders each project it needs once (package names of its own, so that several can
be imported side by side) and calls its `fit(cfg)`, on data loaded the project's way or on the
same tensors for every side (`synthetic_bundle`).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import copier
import torch

ROOT = Path(__file__).resolve().parents[1]


def quietly(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return function(*args, **kwargs)


def render(folder: Path, package: str, **answers: Any) -> Path:
    """`copier copy` of this checkout (uncommitted changes included) as project `package`;
    its src/ goes on sys.path."""
    project = folder / package
    copier.run_copy(
        str(ROOT),
        project,
        data={"project_name": package, **answers},
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    sys.path.insert(0, str(project / "src"))
    return project


def synthetic_bundle(package: str, train: int = 60_000, held_out: int = 2_000, augment=None):
    """MNIST-sized random images (1x28x28, already normalized) in `package`'s DataBundle: the
    timing of a loop does not depend on what the images show."""
    data = import_module(f"{package}.loaders")
    generator = torch.Generator().manual_seed(0)

    def split(n: int):
        images = torch.randn(n, 1, 28, 28, generator=generator)
        return data.Split(images, torch.randint(0, 10, (n,), generator=generator))

    prep = {"channels": 1, "image_size": [28, 28], "mean": [0.0], "std": [1.0]}
    classes = [str(d) for d in range(10)]
    return data.DataBundle(split(train), split(held_out), split(held_out), classes, prep, augment)


def run_fit(package: str, runs: Path, overrides: list[str], bundle=None) -> dict[str, Any]:
    """`package`'s fit() with these overrides (on `bundle` instead of its own data when given):
    its summary, plus fit_s, the wall time of the whole call."""
    train = import_module(f"{package}.train")
    config = import_module(f"{package}.config")
    dataset = import_module(f"{package}.dataset")
    train.load_data = (lambda cfg, preprocessing=None: bundle) if bundle is not None else dataset.load_data
    cfg = config.load_config(overrides=[f"runs_dir={runs}", "device=cpu", *overrides])
    started = time.perf_counter()
    summary = quietly(train.fit, cfg)
    return {**summary, "fit_s": time.perf_counter() - started}


@contextlib.contextmanager
def styles_ready(styles: dict[str, tuple[str, str]], images: int) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Projects rendered into a temporary folder (style -> (package, framework)), each with its
    own copy of the same synthetic tensors, warmed up by one short fit (imports, first
    allocations): the folder and the bundles by style."""
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for package, framework in styles.values():
            render(folder, package, framework=framework)
        bundles = {style: synthetic_bundle(package, images) for style, (package, _) in styles.items()}
        for style, (package, _) in styles.items():
            run_fit(package, folder / "warm" / style, ["epochs=1", "data.batch_size=512"], bundles[style])
        yield folder, bundles


def spread(values: list[float]) -> dict[str, Any]:
    """The median of a side's rounds and their lowest and highest."""
    return {"median": statistics.median(values), "range": [min(values), max(values)]}


def write_report(path: Path | None, **parts: Any) -> None:
    """A benchmark's figures as JSON, with the date and the machine's CPU count."""
    if path is None:
        return
    stamp = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**stamp, **parts}, indent=2) + "\n")
