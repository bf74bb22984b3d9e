"""`python -m <package> sweep`: a hyperparameter search, with Optuna as the engine and every
trial a run of `train`.

    runs/<sweep>/sweep.yaml       the sweep's settings (a later run of the command must match them)
    runs/<sweep>/study.db         the Optuna study, in SQLite (or in the database `storage` names)
    runs/<sweep>/trial-NNN/       each trial's run folder, as `train` writes it (its summary.json
                                  says whether the trial was pruned)
    runs/<sweep>/trials.csv       the trials, best first (`runs runs/<sweep>` prints them)
    runs/<sweep>/best.yaml        the best trial's config: `train --config runs/<sweep>/best.yaml`
    runs/<sweep>/plots/*.png      Optuna's optimisation history, parameter importances, slice plot

The same command again continues the sweep until `trials` trials are finished or pruned. A
trial whose process died (kill -9, a lost machine) is retried by Optuna's retry callback, in the
same folder: from its last checkpoint, so finished epochs are not trained again; finished
trials never are. SIGTERM or SIGUSR1 stop the trial after its current step with a checkpoint,
and the command exits with code 75, as `train` does.

Each trial holds a lock file, runs/<sweep>/locks/<trial>.lock, while it trains: a trial the
study says is running but whose lock nobody holds has lost its process. Asking the study for
the next trial happens under runs/<sweep>/sweep.lock, so `workers` processes here (or several
machines sharing runs/<sweep>/) start exactly the trials asked for, no more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from . import sweep_results
from .config import Config, with_values
from .errors import EXIT_REQUEUE, Diverged, Preempted, StoppedOutsideTraining, UserError
from .files import lock, write_text
from .project import PACKAGE
from .run_folder import unstarted
from .sweep_config import Sweep, load_sweep
from .sweep_study import distributions, open_study, retry, setting_changes
from .tracker import sweep_keys

TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def sweep(path: str | Path | None, overrides: list[str], worker: int = 0) -> None:
    """Run the sweep in this process and `workers - 1` more (worker 0, the first, also
    writes the table, best.yaml and the plots once they are all done)."""
    spec = load_sweep(path, overrides)
    if worker:
        work(spec, open_study(spec, worker))
        return
    study = start(spec)
    others = [start_worker(path, overrides, n) for n in range(1, spec.settings.workers)]
    try:
        work(spec, study)
        for process in others:  # their last trials
            process.wait()
    finally:  # on a signal or an error too: the other workers stop after a step, with a checkpoint
        for process in others:
            if process.poll() is None:
                process.terminate()
            process.wait()
    codes = {f"worker {n}": process.returncode for n, process in enumerate(others, 1) if process.returncode}
    if any(code == EXIT_REQUEUE for code in codes.values()):
        raise Preempted(f"a worker was stopped by a signal: run the same command to continue {spec.folder}")
    if codes:
        raise UserError(f"{', '.join(codes)} ended with exit code {', '.join(map(str, codes.values()))}")
    with sweep_lock(spec.folder):  # machines sharing the sweep may end it at the same moment
        sweep_results.write_results(spec, study)
        sweep_results.draw_plots(spec, study)
    print(sweep_results.format_table(sweep_results.read_table(spec.folder)))
    print(sweep_results.best_per_class(spec, study))
    print(f"best trial's config in {spec.folder / 'best.yaml'} (train --config {spec.folder / 'best.yaml'})")


def start_worker(path: str | Path | None, overrides: list[str], worker: int) -> subprocess.Popen[bytes]:
    """One more worker: this command line again in a new process (of this package, wherever it
    was imported from), which takes the study's next trials."""
    config = ["--config", str(path)] if path is not None else []
    command = [sys.executable, "-m", PACKAGE, "sweep", *config, *overrides, f"--worker={worker}"]
    source = str(Path(__file__).resolve().parents[1])
    paths = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(command, env={**os.environ, "PYTHONPATH": paths})


def start(spec: Sweep) -> optuna.Study:
    """Make the sweep folder, or check that the one there was started with these settings
    (under its lock: several machines may start the same sweep at once)."""
    settings_file = spec.folder / "sweep.yaml"
    marks = (settings_file, spec.folder / "sweep.lock")  # a sweep's, or one being started
    if spec.folder.is_dir() and any(spec.folder.iterdir()) and not any(path.is_file() for path in marks):
        raise UserError(f"{spec.folder} exists and is not a sweep: pick another run_name")
    made = [path for path in (spec.folder, *spec.folder.parents) if not path.exists()]  # innermost first
    spec.folder.mkdir(parents=True, exist_ok=True)
    try:
        with sweep_lock(spec.folder):
            saved = sweep_results.saved_settings(settings_file)
            changed = setting_changes(saved, spec) if saved is not None else []
            if changed:
                raise UserError(
                    f"{spec.folder} was started with other {', '.join(changed)}: continue it with those "
                    "(the same command), or pick another run_name for a new sweep"
                )
            study = open_study(spec, 0)  # a database that cannot be reached says so here
            if saved is None:
                write_text(settings_file, sweep_results.settings_yaml(spec))
            return study
    except UserError:
        if made:  # nothing of this attempt stays behind
            (spec.folder / "sweep.lock").unlink(missing_ok=True)
            (spec.folder / "study.db").unlink(missing_ok=True)
            for folder in made:
                folder.rmdir()
        raise


def work(spec: Sweep, study: optuna.Study) -> None:
    """Take the study's next trial and train it, until `trials` are finished, pruned or taken."""
    with sweep_lock(spec.folder):
        shared = sweep_keys(spec.folder, spec.base)  # the tracker's group of the sweep's trials
    while True:
        with sweep_lock(spec.folder):
            sweep_results.write_results(spec, study)  # the table and best.yaml so far
            trial, held = next_trial(spec, study)
        if trial is None or held is None:
            return
        with held:  # closing the file releases the trial's lock
            run_trial(spec, study, trial, shared)


def next_trial(spec: Sweep, study: optuna.Study) -> tuple[Trial | None, IO[str] | None]:
    """The next trial (a retried one first) and the lock it holds; None when none is left."""
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not alive(spec.folder, frozen):
            print(f"{frozen.user_attrs.get('run', f'trial {frozen.number}')} lost its process: retrying it")
            study.tell(frozen.number, state=TrialState.FAIL)
            retry(study, frozen)
    if len(study.get_trials(deepcopy=False, states=TAKEN)) >= spec.settings.trials:
        return None, None
    trial = study.ask(distributions(spec))
    run = trial.user_attrs.get("run") or f"trial-{len(runs_named(study)) + 1:03d}"
    trial.set_user_attr("run", run)
    path = spec.folder / "locks" / f"{run}.lock"
    path.parent.mkdir(exist_ok=True)
    held = open(path, "a+", encoding="utf-8")  # noqa: SIM115  # closed when the trial ends (work)
    lock(held)  # free: a retried trial's process is gone
    return trial, held


def runs_named(study: optuna.Study) -> set[str]:
    return {str(t.user_attrs["run"]) for t in study.get_trials(deepcopy=False) if "run" in t.user_attrs}


def alive(folder: Path, frozen: FrozenTrial) -> bool:
    """Whether a process still holds the trial's lock."""
    run = frozen.user_attrs.get("run")
    path = folder / "locks" / f"{run}.lock"
    if run is None or not path.is_file():
        return False
    with open(path, "a+", encoding="utf-8") as file:
        try:
            lock(file)
        except OSError:
            return True
    return False


@contextmanager
def sweep_lock(folder: Path) -> Iterator[None]:
    """The sweep folder's lock: one process at a time asks for trials and writes the results."""
    with open(folder / "sweep.lock", "a+", encoding="utf-8") as file:
        wait_for_lock(file)
        yield  # closing the file releases the lock


def wait_for_lock(file: IO[str]) -> None:
    while True:
        try:
            lock(file)
            return
        except OSError:
            time.sleep(0.05)


def run_trial(spec: Sweep, study: optuna.Study, trial: Trial, shared: dict[str, Any]) -> None:
    """Train one trial (or continue it from its last checkpoint) and tell the study its result."""
    from .train import fit  # here: the sweep's settings are checked before torch's training code loads

    run_dir = spec.folder / trial.user_attrs["run"]
    cfg = trial_config(spec, trial, run_dir, shared)
    pruned: list[bool] = []

    def on_epoch(epoch: int, val_accuracy: float) -> bool:
        with warnings.catch_warnings():  # a continued trial reports its last epoch again: ignored
            warnings.filterwarnings("ignore", message="The reported value is ignored")
            trial.report(val_accuracy, epoch)
        pruned.append(spec.settings.pruner != "none" and trial.should_prune())
        return pruned[-1]

    summary = sweep_results.read_summary(run_dir)  # finished before the study heard of it
    if summary is None:
        print(f"{run_dir.name}: {json.dumps(trial.params)}")
        try:
            summary = fit(cfg, on_epoch=on_epoch, per_class=False)  # the best trial's table at the end
        except Diverged as error:  # pruned, and its summary.json says why
            print(f"{run_dir.name} pruned: {error}")
            summary = sweep_results.mark_diverged(run_dir, trial.number, str(error))
        except Preempted as error:  # left running: the same command retries it from its checkpoint
            raise Preempted(f"{error}, or run the same sweep command to continue the sweep") from None
        except StoppedOutsideTraining as stop:  # before or after the trial's training
            stop.message = (
                f"stopped by {stop.signal_name} in {run_dir.name}: run the same command to continue"
            )
            stop.code = EXIT_REQUEUE  # not 0 when the trial was complete: the sweep is not
            raise
        except Exception:
            study.tell(trial, state=TrialState.FAIL)  # a bug or a mistake: not retried
            raise
        else:
            assert summary is not None  # one process: the summary of rank 0
            summary = sweep_results.mark_summary(run_dir, summary, trial.number, bool(pruned and pruned[-1]))
    if summary.get("pruned"):
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, sweep_results.objective(spec.settings, run_dir, summary))


def trial_config(spec: Sweep, trial: Trial, run_dir: Path, shared: dict[str, Any]) -> Config:
    """The base config with the trial's values, in its run folder; or, when the folder holds
    a checkpoint (a trial that lost its process), resume from it."""
    where = {"runs_dir": str(spec.folder), "run_name": run_dir.name}
    cfg = with_values(spec.base, {**trial.params, **where, **shared}, source=f"trial {trial.number}")
    if run_dir.is_dir() and not unstarted(run_dir) and (run_dir / "checkpoints").is_dir():
        return replace(cfg, resume=str(run_dir))
    return cfg
