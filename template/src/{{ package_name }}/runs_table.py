"""`python -m <package> runs [folder]`: the runs in a folder, newest first, with their key
figures, read from each run's summary.json (or, for a run that has not finished, its config
and metrics.csv)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from .errors import UserError

COLUMNS = ("run", "model", "dataset", "epochs", "best val acc", "test acc", "samples/s", "finished")


def list_runs(folder: str | Path) -> list[dict[str, Any]]:
    """One row per run folder (a folder with a config.yaml), newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist: train a run first, or name the folder that holds them")
    rows = [read_or_damaged(path) for path in folder.iterdir() if (path / "config.yaml").is_file()]
    return sorted(rows, key=lambda row: row["sort"], reverse=True)


def read_or_damaged(run_dir: Path) -> dict[str, Any]:
    """A run's row, or, when its summary.json, config.yaml or metrics.csv cannot be read (cut
    short, edited), a row that says so: one damaged run does not hide the others."""
    try:
        return read_run(run_dir)
    except Exception as error:  # JSON, YAML and CSV errors, missing keys, wrong types
        row = dict.fromkeys(COLUMNS, "-")
        row.update(run=run_dir.name, finished=f"damaged ({type(error).__name__})", sort=stamp(run_dir))
        return row


def read_run(run_dir: Path) -> dict[str, Any]:
    summary_file = run_dir / "summary.json"
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text())
        finished = summary.get("finished", "")
        return {
            "run": run_dir.name,
            "model": summary["model"],
            "dataset": summary["dataset"],
            "epochs": str(summary["epochs"]),
            "best val acc": f"{summary['best_val_accuracy']:.4f}",
            "test acc": f"{summary['test_accuracy']:.4f}",
            "samples/s": f"{summary['samples_per_second'] or 0:,.0f}",
            "finished": finished[:16].replace("T", " "),
            "sort": finished or stamp(run_dir),
        }
    config: Any = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    metrics_file = run_dir / "metrics.csv"
    epochs: list[dict[str, str]] = []
    if metrics_file.is_file():
        with open(metrics_file, newline="") as file:
            epochs = list(csv.DictReader(file))
    best = max((float(row["val_accuracy"]) for row in epochs), default=None)
    return {
        "run": run_dir.name,
        "model": config.get("model", {}).get("name", "?"),
        "dataset": config.get("data", {}).get("name", "?"),
        "epochs": f"{len(epochs)}/{config.get('epochs', '?')}",
        "best val acc": "-" if best is None else f"{best:.4f}",
        "test acc": "-",
        "samples/s": "-",
        "finished": "not finished",
        "sort": stamp(run_dir),
    }


def stamp(run_dir: Path) -> str:
    """When the run folder last changed, in the form summary.json's `finished` takes."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(run_dir.stat().st_mtime))


def format_runs(rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    widths = [max(len(name), *(len(row[name]) for row in rows)) for name in columns]
    lines = ["  ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True))]
    for row in rows:
        lines.append("  ".join(row[name].ljust(width) for name, width in zip(columns, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def show_runs(folder: Path) -> None:
    """What `runs` prints: the runs in a folder, and the folders beside them that hold runs
    (a sweep's trials, say), which `runs <folder>/<name>` lists."""
    rows = list_runs(folder)
    print(format_runs(rows) if rows else f"no runs in {folder} yet: `train` makes one")
    inner = {config.parent.parent for config in folder.glob("*/*/config.yaml")}  # <folder>/<name>/<run>/
    holding = sorted(group.name for group in inner if not (group / "config.yaml").is_file())
    if holding:
        print(f"folders of runs: {', '.join(holding)} (`runs {folder}/<folder>` lists them)")
