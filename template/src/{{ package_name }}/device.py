"""Which device to train on (`pick_device`), and how (`configure`): one policy for every backend."""

from __future__ import annotations

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
    """Refuse a model whose weights, gradients and optimizer state exceed the device's memory."""
    with torch.device("meta"):
        parameters = sum(p.numel() for p in build_model(cfg.model, input_shape, num_classes).parameters())
    needed = parameters * 4 * 4  # float32 weights, their gradients, two optimizer buffers (AdamW)
    if device.type == "cuda":
        available = torch.cuda.mem_get_info(device)[1]
    elif device.type == "cpu" and "SC_PHYS_PAGES" in getattr(os, "sysconf_names", {}):
        available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    else:
        return  # torch and the OS do not say
    if needed > available:
        raise UserError(
            f"the model has {parameters:,} parameters: with gradients and optimizer state that is "
            f"{needed / 2**30:,.1f} GiB, more than the {available / 2**30:,.1f} GiB of {device.type} memory "
            "here (make model.* smaller)"
        )


def pick_device(name: str = "auto", warn: bool = True) -> torch.device:
    """The device `name` asks for; with `warn`, a GPU project on a machine without one says so."""
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if name == "auto":
        if accelerator is None and warn and TORCH_BACKEND not in ("cpu", "auto"):
            print(
                f"warning: this project targets {TORCH_BACKEND} but torch finds no GPU here, so it "
                f"trains on the CPU; `python -m {PACKAGE} doctor` tells why",
                file=sys.stderr,
            )
        return accelerator or torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if accelerator is None or accelerator.type != name:
        found = accelerator.type if accelerator is not None else "none"
        raise UserError(f"device={name} is not available here (accelerator found: {found}); use device=auto")
    return accelerator


def choose_precision(requested: str, device_type: str, bf16_supported: bool) -> str:
    """bf16 autocast where the GPU has it, else fp16 (with a GradScaler); fp32 on the CPU and MPS."""
    if requested != "auto":
        return requested
    if device_type in ("cpu", "mps"):
        return "fp32"
    return "bf16" if bf16_supported else "fp16"


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "xpu"


@dataclass
class Runtime:
    """How a run trains on its device; `autocast()` and `scaler` go into the training step."""

    device: torch.device
    precision: str  # fp32, bf16 or fp16
    channels_last: bool
    scaler: torch.amp.GradScaler

    def autocast(self) -> torch.autocast:
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.precision != "fp32")


def configure(cfg: Config, device: torch.device, model: nn.Module) -> Runtime:
    """Precision, TF32, channels_last, compile: global torch settings, and the model in place."""
    precision = choose_precision(cfg.precision, device.type, bf16_supported(device))
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it, before its first use
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        tf32 = "ieee" if cfg.precision == "fp32" else "tf32"  # TF32: fp32 matmuls on tensor cores
        torch.backends.cuda.matmul.fp32_precision = tf32
        torch.backends.cudnn.conv.fp32_precision = tf32  # type: ignore[attr-defined]  # not in torch's stubs
        torch.backends.cudnn.benchmark = not cfg.deterministic
    channels_last = device.type != "cpu" and any(isinstance(m, nn.Conv2d) for m in model.modules())
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if cfg.compile:
        model.compile()  # in place: the state_dict keeps its keys, checkpoints stay loadable
    if device.type != "cpu":
        extras = ", channels_last" if channels_last else ""
        extras += ", compiled" if cfg.compile else ""
        print(f"precision {precision}{extras} on {device}")
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    return Runtime(device, precision, channels_last, scaler)
