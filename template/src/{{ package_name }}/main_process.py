"""The one place that decides whether this process talks to the user: prints progress, writes
to the experiment tracker, draws plots. With several processes (torchrun), only rank 0 does."""

from __future__ import annotations

import os
import sys

import torch.distributed as dist


def is_main_process() -> bool:
    """True unless torch.distributed runs and this process is not rank 0."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def interactive() -> bool:
    """Progress bars are for a person at a terminal: not in CI, a log file or another rank."""
    return is_main_process() and sys.stderr.isatty() and not os.environ.get("CI")
