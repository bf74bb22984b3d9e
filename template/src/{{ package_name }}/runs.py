"""The run folder: where it goes, and what is written when training ends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint
from .config import Config
from .data import DataBundle, TensorLoader
from .errors import UserError
from .evaluate import evaluate
from .model import build_model
from .plots import plot_curves
from .tracking import CSVTracker


def check_run_dir(cfg: Config) -> None:
    if cfg.run_name and (Path(cfg.runs_dir) / cfg.run_name).exists():
        run_dir = Path(cfg.runs_dir) / cfg.run_name
        raise UserError(f"{run_dir} exists already: pick another run_name, or resume={run_dir}")


def make_run_dir(cfg: Config) -> Path:
    """runs/<run_name>, or runs/<time>-<model> (with -2, -3... if that exists already)."""
    root = Path(cfg.runs_dir)
    if cfg.run_name:
        check_run_dir(cfg)
        run_dir = root / cfg.run_name
    else:
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model.name}"
        run_dir, n = root / base, 2
        while run_dir.exists():
            run_dir, n = root / f"{base}-{n}", n + 1
    (run_dir / "checkpoints").mkdir(parents=True)
    return run_dir


def finish(
    run_dir: Path,
    cfg: Config,
    data: DataBundle,
    tracker: CSVTracker,
    step: int,
    best_val_accuracy: float,
    train_seconds: float,
) -> dict[str, Any]:
    """Test the best checkpoint, plot the curves and write summary.json."""
    best = load_checkpoint(run_dir, prefer="best")
    device = data.test.x.device
    model = build_model(cfg.model, data.input_shape, len(data.classes)).to(device)
    model.load_state_dict(best["model"])
    test_loss, test_accuracy = evaluate(model, TensorLoader(data.test, 512), nn.CrossEntropyLoss())

    history = {key: tracker.history(key) for key in tracker.rows[0]} if tracker.rows else {}
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    if history:
        plot_curves(history, plots / "curves.png", title=f"{run_dir.name}: {cfg.model.name}")

    epochs_done = len(tracker.rows)
    samples = len(data.train) * epochs_done
    summary = {
        "run": run_dir.name,
        "test_accuracy": round(test_accuracy, 6),
        "test_loss": round(test_loss, 6),
        "best_val_accuracy": round(best_val_accuracy, 6),
        "best_epoch": best["epoch"],
        "epochs": epochs_done,
        "steps": step,
        "train_seconds": round(train_seconds, 3),
        "samples_per_second": round(samples / train_seconds, 1) if train_seconds else None,
        "model": cfg.model.name,
        "dataset": cfg.data.name,
        "classes": data.classes,
        "device": str(device),
        "torch": torch.__version__,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"test accuracy {test_accuracy:.4f} (best epoch {best['epoch']}); run files in {run_dir}")
    return summary
