"""`metrics.csv` in the run folder, one row per epoch, whatever the tracker (tracker.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from .files import write_text


class CSVTracker:
    """Writes metrics.csv whole after each epoch; a resume keeps the rows up to the checkpoint's epoch."""

    logger: Any = False  # a tracker with a Lightning logger hands it to the Trainer here

    def __init__(self, path: str | Path, resume_epoch: int | None = None):
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        if resume_epoch is not None and self.path.exists():
            try:
                self.path.read_text(encoding="utf-8")
            except UnicodeDecodeError:  # saved over in another encoding, say: kept, not overwritten
                kept = set_aside(self.path)
                print(f"{self.path} is not UTF-8 text: kept as {kept.name}; a new metrics.csv begins")
            self.rows = readable_rows(self.path, resume_epoch)
            write_text(self.path, csv_text(self.rows))

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        write_text(self.path, csv_text(self.rows))

    def close(self, summary: dict[str, Any]) -> None:
        """The run is over: trackers with a store of their own record its final figures."""


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as a CSV file's text, with the first row's keys as the header."""
    text = io.StringIO()
    if rows:
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return text.getvalue()


def set_aside(path: Path) -> Path:
    """Move `path` to a free name beside it (metrics.unreadable.csv, then -2, -3...)."""
    kept, n = path.with_name(f"{path.stem}.unreadable{path.suffix}"), 2
    while kept.exists():
        kept, n = path.with_name(f"{path.stem}.unreadable-{n}{path.suffix}"), n + 1
    return path.rename(kept)


def readable_rows(path: Path, up_to_epoch: int) -> list[dict[str, Any]]:
    """The rows of the epochs up to `up_to_epoch` that are whole: every value a number."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    whole = [row for row in rows if None not in row and all(map(is_number, row.values()))]
    return [row for row in whole if row.get("epoch", "").isdigit() and int(row["epoch"]) <= up_to_epoch]


def is_number(value: str | None) -> bool:
    try:
        float(value or "")  # a row cut short at a comma ends in an empty value
    except ValueError:
        return False
    return True
