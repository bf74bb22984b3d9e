"""Where the metrics go: `metrics.csv` in the run folder, one row per epoch, whatever the
tracker; the chosen tracker (tracker.py) writes the same rows to its own store as well."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import write_text

if TYPE_CHECKING:  # config.py imports the tracker's settings, which import this module
    from .config import Config


class CSVTracker:
    """Writes `metrics.csv` after each epoch, whole and atomically (files.py): a full disk or a
    kill mid-write leaves the previous epoch's file.

    On resume it keeps the rows up to the epoch the checkpoint holds and drops any later rows
    from the interrupted attempt, so the file tells one consistent story.
    """

    logger: Any = False  # a tracker with a Lightning logger hands it to the Trainer here

    def __init__(self, path: str | Path, resume_epoch: int | None = None):
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        if resume_epoch is not None and self.path.exists():
            self.rows = readable_rows(self.path, resume_epoch)
            self.rewrite()

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.rewrite()

    def rewrite(self) -> None:
        text = io.StringIO()
        if self.rows:
            writer = csv.DictWriter(text, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)
        write_text(self.path, text.getvalue())

    def history(self, key: str) -> list[float]:
        return [float(row[key]) for row in self.rows]

    def close(self, summary: dict[str, Any]) -> None:
        """The run is over: trackers with a store of their own record its final figures."""


def readable_rows(path: Path, up_to_epoch: int) -> list[dict[str, Any]]:
    """The rows of epochs up to `up_to_epoch`; rows that are cut short or edited beyond reading
    are left out (the checkpoint, not this file, is what a resumed run continues from)."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    whole = [row for row in rows if None not in row.values() and None not in row]
    return [row for row in whole if row.get("epoch", "").isdigit() and int(row["epoch"]) <= up_to_epoch]


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """An epoch's row as the trackers log it: every figure but `step`, which is their x axis."""
    return {key: float(value) for key, value in row.items() if key != "step"}


def final_figures(summary: dict[str, Any]) -> dict[str, float]:
    return {key: summary[key] for key in ("test_accuracy", "test_loss") if key in summary}


def hyperparameters(cfg: Config) -> dict[str, Any]:
    """The resolved config as flat `section.key` names, values a tracker can store (lists and
    null as text)."""
    flat: dict[str, Any] = {}

    def walk(values: dict[str, Any], prefix: str) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                plain = isinstance(value, (bool, int, float, str))
                flat[prefix + key] = value if plain else str(value)

    walk(asdict(cfg), "")
    return flat


# A tracker that keeps its runs in a store of its own (wandb, MLflow) notes the id of this run's
# entry here, so that `resume=runs/<run>` continues the same entry instead of starting another.
RUN_ID_FILE = "tracker.json"


def saved_run_id(run_dir: Path) -> str | None:
    path = run_dir / RUN_ID_FILE
    return json.loads(path.read_text())["run_id"] if path.is_file() else None


def save_run_id(run_dir: Path, tracker: str, run_id: str) -> None:
    write_text(run_dir / RUN_ID_FILE, json.dumps({"tracker": tracker, "run_id": run_id}) + "\n")
