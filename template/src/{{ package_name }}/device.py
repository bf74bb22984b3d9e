"""Which device to train on.

`device=auto` takes the accelerator torch finds (CUDA, ROCm, MPS, XPU), else the CPU. A project
rendered for a GPU still runs on a machine without one: it says so once and uses the CPU.
"""

from __future__ import annotations

import sys

import torch

from .errors import UserError
from .project import PACKAGE, TORCH_BACKEND


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.accelerator.is_available():
            return torch.accelerator.current_accelerator()
        if TORCH_BACKEND != "cpu":
            print(
                f"warning: this project targets {TORCH_BACKEND} but torch finds no GPU here, so it "
                f"trains on the CPU; `python -m {PACKAGE} doctor` tells why",
                file=sys.stderr,
            )
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if accelerator is None or accelerator.type != name:
        found = accelerator.type if accelerator is not None else "none"
        raise UserError(f"device={name} is not available here (accelerator found: {found}); use device=auto")
    return accelerator
