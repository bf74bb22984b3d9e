"""Stopping cleanly when the machine is taken away: SIGTERM or SIGUSR1.

A scheduler that preempts a job, or ends it at its time limit, first sends a signal (SLURM:
SIGTERM, or the signal `#SBATCH --signal` names, here SIGUSR1; Kubernetes and `docker stop`:
SIGTERM). Training then finishes the step it is in, writes `checkpoints/last.pt` with the
position inside the epoch, and exits with code 75 (EXIT_REQUEUE). `resume=runs/<run>` continues
from that step and ends with the weights an uninterrupted run ends with, bit for bit.
scripts/slurm/train.sbatch turns the signal into a requeue of the job.

Across torchrun's ranks the signal may reach each process at a different step, so every step
asks all ranks whether one of them has it; all of them stop after the same step.

Outside training (start-up, or testing the best checkpoint after the last epoch) the signal
stops the command at once; `in_use` then says what the run folder holds and which command
continues it, or that the run is complete (exit code 0).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from .checkpoint import read_torch_file
from .distributed import any_rank
from .errors import EXIT_REQUEUE, Preempted, StoppedOutsideTraining, UserError

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))


def ignore_stop_signals(worker_id: int) -> None:
    """For DataLoader workers: a scheduler signals every process of the job (torchrun and SLURM
    signal whole process groups), but the training process decides when to stop; it ends its
    workers itself."""
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)


class StopSignal:
    """While active (`with StopSignal() as stop:`), SIGTERM and SIGUSR1 set `stop.received`
    instead of ending the process; `stop.requested(device)` is checked after each step."""

    def __init__(self) -> None:
        self.received: str | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        for number in SIGNALS:
            self.previous[number] = signal.signal(number, self.handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def handle(self, number: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(number).name
            message = f"{self.received}: saving a checkpoint after this step\n"
            try:  # os.write, not print: the handler may interrupt a print (a progress bar) under way
                os.write(sys.stderr.fileno(), message.encode())
            except (AttributeError, OSError):  # stderr without a file descriptor (captured output)
                sys.stderr.write(message)

    def requested(self, device: torch.device) -> bool:
        return any_rank(self.received is not None, device)

    def stopped(self, step: int, epoch: int, batch: int, run_dir: object) -> Preempted:
        """The exception that ends the run once its checkpoint is written."""
        return Preempted(
            f"stopped by {self.received or 'a signal to another rank'} at step {step} (epoch {epoch + 1}, "
            f"batch {batch}); continue with: train resume={run_dir}"
        )


@contextmanager
def in_use(run_dir: Path, epochs: int) -> Iterator[None]:
    """`with in_use(run_dir, cfg.epochs):` around the work in a run folder. A signal outside
    training (in start-up, or while the best checkpoint is tested after the last epoch) then
    says what the folder holds and what continues it (after_a_signal)."""
    try:
        yield
    except StoppedOutsideTraining as stop:
        stop.message, stop.code = after_a_signal(stop.signal_name, run_dir, epochs)
        raise


def after_a_signal(name: str, run_dir: Path, epochs: int) -> tuple[str, int]:
    """What is true of a run folder of `epochs` epochs when a signal stopped the command outside
    training, and the exit code: complete (0), to resume, or not started (EXIT_REQUEUE)."""
    from .run_folder import finished  # not at the top: run_folder imports what imports this module

    last = run_dir / "checkpoints" / "last.pt"
    if not last.is_file():
        again = f"run the same command again (resume={run_dir} starts that folder over)"
        return f"stopped by {name} before the first checkpoint of {run_dir}: {again}", EXIT_REQUEUE
    resume = f"train resume={run_dir}"
    try:
        state = read_torch_file(last)
        done, saved = int(state["epoch"]), int(state["config"]["epochs"])
    except (UserError, KeyError, TypeError, ValueError):  # damaged: resume says what is wrong with it
        return f"stopped by {name}; continue with: {resume}", EXIT_REQUEUE
    if done >= epochs and finished(run_dir, state):
        return f"stopped by {name} after the run was complete: its results are in {run_dir}", 0
    if done >= epochs:
        return (
            f"stopped by {name} after the last epoch, before the results (summary.json, plots) were "
            f"written: write them with: {resume}",
            EXIT_REQUEUE,
        )
    more = f" epochs={epochs}" if epochs != saved else ""  # a resume that asked for more epochs
    return (
        f"stopped by {name} before training went on from epoch {done}; continue with: {resume}{more}",
        EXIT_REQUEUE,
    )
