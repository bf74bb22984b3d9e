"""What a sweep writes besides its trials' run folders: sweep.yaml, the table of trials
(trials.csv, best first), best.yaml and Optuna's plots. `runs runs/<sweep>` prints the table."""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy
import optuna
from omegaconf import OmegaConf
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from . import plots
from .config import load_config, to_yaml
from .evaluate import format_table as format_per_class
from .files import write_text
from .metrics_csv import readable_rows
from .runs_table import format_runs
from .sweep_config import Sweep, SweepConfig
from .sweep_study import settings_record

EVERY_EPOCH = 1_000_000  # the most epochs a config takes (config.py's LIMITS)

TABLE = "trials.csv"
STATES = {
    TrialState.COMPLETE: "finished",
    TrialState.PRUNED: "pruned",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
    TrialState.FAIL: "failed",
}


def settings_yaml(spec: Sweep) -> str:
    return "# The sweep's settings as it started; `sweep` run again must keep them.\n" + OmegaConf.to_yaml(
        settings_record(spec)
    )


def saved_settings(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return OmegaConf.to_container(OmegaConf.load(path))  # type: ignore[return-value]


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A trial's summary.json, when it finished (None: not yet, or cut short)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) and "steps" in summary else None


def mark_summary(run_dir: Path, summary: dict[str, Any], number: int, pruned: bool) -> dict[str, Any]:
    """The trial's summary.json, with its sweep, its number in the study and whether it was pruned."""
    summary = {**summary, "sweep": run_dir.parent.name, "trial": number, "pruned": pruned}
    write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def mark_diverged(run_dir: Path, number: int, why: str) -> dict[str, Any]:
    """The summary.json of a trial whose loss diverged: pruned, what stopped it, and its epochs
    before that (the run folder keeps their checkpoint, as `train` does)."""
    rows = readable_rows(run_dir / "metrics.csv", up_to_epoch=EVERY_EPOCH)
    summary = {
        "run": run_dir.name,
        "diverged": why,
        "epochs": len(rows),
        "steps": int(rows[-1]["step"]) if rows else 0,
        "best_val_accuracy": max((float(row["val_accuracy"]) for row in rows), default=0.0),
    }
    return mark_summary(run_dir, summary, number, pruned=True)


def objective(settings: SweepConfig, run_dir: Path, summary: dict[str, Any]) -> float:
    if settings.objective == "best_val_accuracy":
        return float(summary["best_val_accuracy"])
    return float(readable_rows(run_dir / "metrics.csv", up_to_epoch=EVERY_EPOCH)[-1]["val_accuracy"])


def table_rows(spec: Sweep, study: optuna.Study) -> list[dict[str, str]]:
    """One row per trial, best first: finished, then pruned, running, waiting; a failed trial
    only when it has not been retried."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("run") for t in trials if t.state != TrialState.FAIL}
    shown = [t for t in trials if t.state != TrialState.FAIL or t.user_attrs.get("run") not in retried]
    order = list(STATES)
    shown.sort(key=lambda t: (order.index(t.state), -(t.value if t.value is not None else -1.0), t.number))
    return [row(spec, t) for t in shown]


def row(spec: Sweep, trial: FrozenTrial) -> dict[str, str]:
    values = {key: trial.params.get(key, "-") for key in spec.settings.space}
    return {
        "trial": str(trial.user_attrs.get("run", trial.number)),
        "state": STATES[trial.state],
        spec.settings.objective: "-" if trial.value is None else f"{trial.value:.4f}",
        **{key: f"{value:.4g}" if isinstance(value, float) else str(value) for key, value in values.items()},
    }


def write_results(spec: Sweep, study: optuna.Study) -> None:
    """trials.csv, and best.yaml once a trial has finished (under the sweep's lock)."""
    rows = table_rows(spec, study)
    text = io.StringIO()
    if rows:
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text(spec.folder / TABLE, text.getvalue())
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if finished:
        write_best(spec, study.best_trial)


def write_best(spec: Sweep, best: FrozenTrial) -> None:
    """The best trial's config, to train it again: `train --config runs/<sweep>/best.yaml`."""
    run_dir = spec.folder / str(best.user_attrs["run"])
    trial = load_config(run_dir / "config.yaml")  # trained again as a new run, beside the sweep
    cfg = replace(trial, run_name=None, runs_dir=spec.base.runs_dir, resume=None)
    header = (
        f"# The best trial of {spec.folder}: {run_dir.name}, {spec.settings.objective} {best.value:.4f}.\n"
        f"# Train it again (the same seed: the same validation accuracy on a CPU) with\n"
        f"#   train --config {spec.folder.as_posix()}/best.yaml\n"
    )
    write_text(spec.folder / "best.yaml", header + to_yaml(cfg))


def best_per_class(spec: Sweep, study: optuna.Study) -> str:
    """The per-class table of the best trial on the test split (each trial printed one line)."""
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    run = str(study.best_trial.user_attrs["run"]) if finished else ""
    summary = read_summary(spec.folder / run) if finished else None
    if summary is None or "per_class" not in summary:  # none finished, or its summary.json edited since
        return "no finished trial with per-class figures yet"
    return (
        f"the best trial, {run}: test accuracy {summary['test_accuracy']:.4f}\n"
        f"{format_per_class(summary['per_class'])}"
    )


def read_table(folder: Path) -> list[dict[str, str]]:
    with open(folder / TABLE, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def format_table(rows: list[dict[str, str]]) -> str:
    return format_runs(rows, tuple(rows[0])) if rows else "no trials yet"


def draw_plots(spec: Sweep, study: optuna.Study) -> None:
    """Optuna's optimisation history, parameter importances and slice plot, as PNG files."""
    from optuna.visualization import matplotlib as optuna_plots

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not finished:
        print("no finished trial yet: no plots")
        return
    drawings: dict[str, Callable[[optuna.Study], Any]] = {
        "history": optuna_plots.plot_optimization_history,
        "slice": optuna_plots.plot_slice,
        "importances": optuna_plots.plot_param_importances,
    }
    if len(finished) < 2:
        del drawings["importances"]  # Optuna needs two finished trials to compare
    with warnings.catch_warnings():
        # Optuna's plots are experimental, and with few trials its importances warn that they
        # come out equal: the plots still show what there is
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="optuna")
        for name, draw in drawings.items():
            figure = numpy.ravel(draw(study))[0].figure  # one Axes, or (slice) one per key
            figure.set_size_inches(8, 5)
            plots.save(figure, spec.folder / "plots" / f"{name}.png")
