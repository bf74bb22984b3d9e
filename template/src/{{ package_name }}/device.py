"""Which device to train on, and how: one policy for every backend.

`device=auto` takes the accelerator torch finds (CUDA, ROCm, MPS, XPU), else the CPU. A project
rendered for a GPU still runs on a machine without one: it says so once and uses the CPU.

`configure()` then sets up the run for that device:
- precision=auto: bf16 autocast on GPUs that support it, fp16 autocast with a GradScaler on
  GPUs that do not, fp32 on the CPU (and on MPS); or name one: fp32, bf16, fp16.
- TF32 matmuls and convolutions on CUDA (full fp32 when precision=fp32), cudnn.benchmark.
- channels_last memory format for models with 2-D convolutions, on a GPU.
- compile=true: torch.compile the model (off by default: the first steps take longer).
- deterministic=true: deterministic algorithms only (seeded by `seed`), no cudnn.benchmark.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import torch
from torch import nn

from .config import Config
from .errors import UserError
from .model import build_model
from .project import PACKAGE, TORCH_BACKEND


def check_model_fits(
    cfg: Config, input_shape: tuple[int, ...], num_classes: int, device: torch.device
) -> None:
    """Refuse a model whose weights, gradients and optimizer state alone exceed the device's
    memory (model sizes such as model.hidden=[1000000000] ask for hundreds of GB), before any
    allocation: the model is counted on the meta device, which costs nothing."""
    with torch.device("meta"):
        parameters = sum(p.numel() for p in build_model(cfg.model, input_shape, num_classes).parameters())
    needed = parameters * 4 * 4  # float32 weights, their gradients, two optimizer buffers (AdamW)
    available = memory_of(device)
    if available and needed > available:
        raise UserError(
            f"the model has {parameters:,} parameters: with gradients and optimizer state that is "
            f"{needed / 2**30:,.1f} GiB, more than the {available / 2**30:,.1f} GiB of {device.type} memory "
            "here (make model.* smaller)"
        )


def memory_of(device: torch.device) -> int | None:
    """Bytes of memory on the device (None where torch or the OS does not say)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    if device.type == "cpu" and "SC_PHYS_PAGES" in getattr(os, "sysconf_names", {}):
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return None


def pick_device(name: str = "auto", warn: bool = True) -> torch.device:
    """The device `name` asks for; with `warn`, a GPU project on a machine without one says so."""
    if name == "auto":
        if (accelerator := torch.accelerator.current_accelerator(check_available=True)) is not None:
            return accelerator
        if warn and TORCH_BACKEND not in ("cpu", "auto"):
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


DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def choose_precision(requested: str, device_type: str, bf16_supported: bool) -> str:
    """The precision policy, as a pure function: fp32, bf16 or fp16."""
    if requested != "auto":
        return requested
    if device_type in ("cpu", "mps"):
        return "fp32"
    return "bf16" if bf16_supported else "fp16"


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "xpu"


def has_convolutions(model: nn.Module) -> bool:
    return any(isinstance(module, nn.Conv2d) for module in model.modules())


@dataclass
class Runtime:
    """How a run trains on its device; `autocast()` and `scaler` go into the training step."""

    device: torch.device
    precision: str  # fp32, bf16 or fp16
    channels_last: bool
    scaler: torch.amp.GradScaler

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.precision])


def configure(cfg: Config, device: torch.device, model: nn.Module) -> Runtime:
    """Apply the policy to this run (global torch settings and the model, in place)."""
    precision = choose_precision(cfg.precision, device.type, bf16_supported(device))
    if cfg.deterministic:
        # cuBLAS needs this for deterministic results; set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        tf32 = "ieee" if cfg.precision == "fp32" else "tf32"  # TF32: fp32 matmuls on tensor cores
        torch.backends.cuda.matmul.fp32_precision = tf32
        torch.backends.cudnn.conv.fp32_precision = tf32  # type: ignore[attr-defined]  # not in torch's stubs
        torch.backends.cudnn.benchmark = not cfg.deterministic
    channels_last = device.type != "cpu" and has_convolutions(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if cfg.compile:
        model.compile()  # in place: the state_dict keeps its keys, checkpoints stay loadable
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    if device.type != "cpu":
        extras = ", channels_last" if channels_last else ""
        extras += ", compiled" if cfg.compile else ""
        print(f"precision {precision}{extras} on {device}")
    return Runtime(device, precision, channels_last, scaler)
