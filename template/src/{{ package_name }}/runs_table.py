"""`runs [folder]`: the runs in a folder, newest first, with their key figures."""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from .errors import UserError

COLUMNS = ("run", "model", "dataset", "epochs", "best val acc", "test acc", "samples/s", "finished")


def run(args: argparse.Namespace) -> int:
    """The table, then the folders beside the runs that hold runs (a sweep's trials, say)."""
    folder = args.folder
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist: train a run first, or name the folder that holds them")
    rows = [read_run(path) for path in folder.iterdir() if (path / "config.yaml").is_file()]
    rows.sort(key=lambda row: row["sort"], reverse=True)
    print(format_columns(rows) if rows else f"no runs in {folder} yet: `train` makes one")
    inner = {config.parent.parent for config in folder.glob("*/*/config.yaml")}  # <folder>/<name>/<run>/
    holding = sorted(group.name for group in inner if not (group / "config.yaml").is_file())
    if holding:
        print(f"folders of runs: {', '.join(holding)} (`runs {folder}/<folder>` lists them)")
    return 0


def read_run(run_dir: Path) -> dict[str, str]:
    """A run's row; one whose files cannot be read (cut short, edited) says so and hides no other."""
    changed = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(run_dir.stat().st_mtime))
    row = dict.fromkeys(COLUMNS, "-") | {"run": run_dir.name, "sort": changed}
    try:
        if (run_dir / "summary.json").is_file():
            summary = json.loads((run_dir / "summary.json").read_text())
            finished = summary.get("finished", "")
            return row | {
                "model": summary["model"],
                "dataset": summary["dataset"],
                "epochs": str(summary["epochs"]),
                "best val acc": f"{summary['best_val_accuracy']:.4f}",
                "test acc": f"{summary['test_accuracy']:.4f}",
                "samples/s": f"{summary['samples_per_second'] or 0:,.0f}",
                "finished": finished[:16].replace("T", " "),
                "sort": finished or changed,
            }
        config: Any = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
        epochs: list[dict[str, str]] = []
        if (run_dir / "metrics.csv").is_file():
            with open(run_dir / "metrics.csv", newline="") as file:
                epochs = list(csv.DictReader(file))
        best = max((float(epoch["val_accuracy"]) for epoch in epochs), default=None)
        return row | {
            "model": config.get("model", {}).get("name", "?"),
            "dataset": config.get("data", {}).get("name", "?"),
            "epochs": f"{len(epochs)}/{config.get('epochs', '?')}",
            "best val acc": "-" if best is None else f"{best:.4f}",
            "finished": "not finished",
        }
    except Exception as error:  # JSON, YAML and CSV errors, missing keys, wrong types
        return row | {"finished": f"damaged ({type(error).__name__})"}


def format_columns(rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    widths = {name: max(len(name), *(len(row[name]) for row in rows)) for name in columns}
    header = {name: name for name in columns}
    lines = ["  ".join(row[name].ljust(widths[name]) for name in columns) for row in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)
