"""Where the metrics go: `metrics.csv` in the run folder, one row per epoch."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CSVTracker:
    """Appends one row per epoch to `metrics.csv`.

    On resume it keeps the rows up to the epoch the checkpoint holds and drops any later rows
    from the interrupted attempt, so the file tells one consistent story.
    """

    def __init__(self, path: str | Path, resume_epoch: int | None = None):
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        if resume_epoch is not None and self.path.exists():
            with open(self.path, newline="") as file:
                self.rows = [row for row in csv.DictReader(file) if int(row["epoch"]) <= resume_epoch]
            self.rewrite()

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        new = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def rewrite(self) -> None:
        with open(self.path, "w", newline="") as file:
            if self.rows:
                writer = csv.DictWriter(file, fieldnames=list(self.rows[0]))
                writer.writeheader()
                writer.writerows(self.rows)

    def history(self, key: str) -> list[float]:
        return [float(row[key]) for row in self.rows]
