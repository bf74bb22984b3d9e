"""One run's folder, runs/<run>/: where it goes, what it refuses before any training, and what
is written as training starts, after each epoch and when it ends."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import plots
from .checkpoint import load_checkpoint, read_torch_file
from .config import Config, to_yaml
from .errors import Diverged, UserError
from .evaluate import show_test_result, test_weights
from .files import not_a_file, write_text
from .finetune import count_parameters
from .loaders import DataBundle, samples_in
from .metrics_csv import CSVTracker
from .tracker import open_tracker

# Called after each epoch with the epochs done and the validation accuracy (a sweep reports it to
# its study, sweep.py); True ends the run there, as early stopping does (a pruned trial).
EpochHook = Callable[[int, float], bool]

# The files training writes into a run folder (each through a temporary <name>.tmp beside it).
CHECKPOINTS = ("checkpoints/best.pt", "checkpoints/last.pt")
PLOTS = ("plots/curves.png", "plots/confusion_matrix.png", "plots/samples.png")
RUN_FILES = ("config.yaml", "metrics.csv", "summary.json", *CHECKPOINTS, *PLOTS)


def check_run_dir(cfg: Config) -> None:
    """A new run's run_name: a folder name, not taken by a run that has started."""
    if not cfg.run_name:
        return
    if cfg.run_name in (".", "..") or any(sep in cfg.run_name for sep in "/\\"):
        raise UserError(f"run_name is a folder name, without / or \\ (got '{cfg.run_name}')")
    run_dir = Path(cfg.runs_dir) / cfg.run_name
    if run_dir.exists() and not unstarted(run_dir):
        raise UserError(f"{run_dir} exists already: pick another run_name, or resume={run_dir}")
    check_run_files(run_dir)


def check_run_files(run_dir: Path) -> None:
    """Refuse, before any training, a folder, a link or a special file where the run writes a file."""
    for name in RUN_FILES:
        for path in (run_dir / name, run_dir / f"{name}.tmp"):
            if odd := not_a_file(path):
                raise UserError(
                    f"{path} is {odd}, where the run writes its {Path(name).name}: move it away first"
                )


def unstarted(run_dir: Path) -> bool:
    """A run folder left by an attempt that ended before its first checkpoint (killed during
    start-up or its first epoch, a full disk): nothing in it to keep, so it is started over."""
    made_by_a_run = (run_dir / "config.yaml").is_file() or (run_dir / "checkpoints").is_dir()
    return run_dir.is_dir() and made_by_a_run and not any((run_dir / "checkpoints").glob("*.pt"))


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
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=unstarted(run_dir))
    return run_dir


def start_run(
    run_dir: Path, cfg: Config, model: torch.nn.Module, device: torch.device, resume_epoch: int | None
) -> CSVTracker:
    """config.yaml, the tracker (metrics.csv up to `resume_epoch` on resume), and what trains where."""
    write_text(run_dir / "config.yaml", to_yaml(cfg))
    tracker = open_tracker(run_dir, cfg, resume_epoch)
    trainable, total = count_parameters(model)
    print(f"model {cfg.model.name}: {total:,} parameters ({trainable:,} trainable) on {device}")
    return tracker


def stopped_early(cfg: Config, epochs_done: int, best_epoch: int) -> bool:
    """`early_stopping` epochs without a better validation accuracy than the best epoch's."""
    if cfg.early_stopping and epochs_done - best_epoch >= cfg.early_stopping:
        print(f"early stop: no better validation accuracy for {cfg.early_stopping} epochs")
        return True
    return False


def check_finite(value: float, epoch: int, run_dir: Path, what: str = "training loss") -> None:
    """Stop before a NaN or infinite loss reaches a checkpoint: the last one stays the last good one."""
    if not math.isfinite(value):
        raise Diverged(f"the {what} became {value} in epoch {epoch + 1}: stopped; {last_good_state(run_dir)}")


def last_good_state(run_dir: Path) -> str:
    """What a diverged run leaves to go on from."""
    advice = "train again with a lower optim.lr, or check the data"
    last = run_dir / "checkpoints" / "last.pt"
    if not last.is_file():
        return f"no checkpoint was written yet, so there is nothing to resume: {advice}"
    try:
        state = read_torch_file(last)
        epoch, batch = int(state["epoch"]), int(state.get("batch", 0))
    except (UserError, KeyError, TypeError, ValueError):  # damaged: still the last one written
        return f"{last} is the last checkpoint written: {advice}"
    when = f"at batch {batch} of epoch {epoch + 1}" if batch else f"after epoch {epoch}"
    return f"{last} keeps the last good state, {when}: {advice} (resume keeps optim.lr)"


def log_epoch(
    tracker: CSVTracker, epochs: int, epoch: int, step: int, metrics: dict[str, float], show: Callable = print
) -> None:
    """An epoch's row of metrics.csv (and the tracker's), and its line on the terminal (`show`)."""
    speed = metrics["seen"] / metrics["seconds"]
    losses = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
    row = {key: round(metrics[key], 6) for key in losses}
    timing = {"epoch_seconds": round(metrics["seconds"], 4), "samples_per_second": round(speed, 1)}
    tracker.log({"epoch": epoch, "step": step, **row, "lr": metrics["lr"], **timing})
    show(
        f"epoch {epoch}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f}  "
        f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f}  {speed:,.0f} samples/s"
    )


def finish(
    run_dir: Path,
    cfg: Config,
    data: DataBundle,
    tracker: CSVTracker,
    step: int,
    best_val_accuracy: float,
    train_seconds: float,
    per_class: bool = True,
) -> dict[str, Any]:
    """Test the best checkpoint, draw the plots, write summary.json and close the tracker
    (`per_class`: print the per-class table too; a sweep's trials leave it to the sweep)."""
    best = load_checkpoint(run_dir, prefer="best")
    result = test_weights(best["model"], cfg, data)
    title = f"{run_dir.name}: {cfg.model.name} on {cfg.data.name}"
    if tracker.rows:
        plots.plot_curves(tracker.rows, run_dir / "plots" / "curves.png", title=title)
    figures = show_test_result(result, data, run_dir, f"{title}, best epoch {best['epoch']}", table=per_class)
    epochs_done = len(tracker.rows)
    samples = samples_in(data.train) * epochs_done
    summary = {
        "run": run_dir.name,
        "test_accuracy": round(result.accuracy, 6),
        "test_loss": round(result.loss, 6),
        "best_val_accuracy": round(best_val_accuracy, 6),
        "best_epoch": best["epoch"],
        "epochs": epochs_done,
        "steps": step,
        "train_seconds": round(train_seconds, 3),
        "samples_per_second": round(samples / train_seconds, 1) if train_seconds else None,
        "model": cfg.model.name,
        "dataset": cfg.data.name,
        "classes": data.classes,
        "device": str(data.device),
        "torch": torch.__version__,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **figures,
    }
    write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    tracker.close(summary)
    print(f"test accuracy {result.accuracy:.4f} (best epoch {best['epoch']}); run files in {run_dir}")
    return summary
