"""Checkpoints: written atomically, read back with `weights_only=True`.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads without
unpickling arbitrary code. It carries everything `evaluate`, `predict`, `finetune` and `resume`
need: the model weights, the optimizer and scheduler states, the RNG state, the epoch and step,
the resolved config, the class names and the preprocessing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .errors import UserError
from .project import MODEL

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "model", "config", "classes", "preprocessing")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`.

    A crash mid-write leaves the previous checkpoint intact: the rename is atomic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        torch.save({"format_version": FORMAT_VERSION, **state}, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def resolve_checkpoint(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint file, or a run folder (then its checkpoints/<prefer>.pt)."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / f"{prefer}.pt"
        if not candidate.is_file():
            raise UserError(f"{path} holds no checkpoints/{prefer}.pt: is it a run folder?")
        return candidate
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}")
    return path


def read_torch_file(file: Path) -> dict[str, Any]:
    """A dict saved with torch.save, read without unpickling code; a damaged file is a UserError."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # damaged bytes fail in many ways (unpickling, zip, index errors)
        raise UserError(
            f"{file} is not a readable checkpoint: damaged, cut short, or not written by torch.save "
            f"({type(error).__name__})"
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"{file} holds a {type(state).__name__}, not a checkpoint or weights")
    return state


def load_checkpoint(path: str | Path, prefer: str = "best") -> dict[str, Any]:
    file = resolve_checkpoint(path, prefer)
    state = read_torch_file(file)
    if any(key not in state for key in REQUIRED_KEYS):
        raise UserError(f"{file} is not a checkpoint written by this project")
    if state["format_version"] > FORMAT_VERSION:
        raise UserError(f"{file} was written by a newer version of this project")
    check_model(state, file)
    return state


def check_model(state: dict[str, Any], file: Path) -> None:
    """Refuse a checkpoint of another model, or one whose head does not match its class names."""
    saved = state["config"].get("model", {}).get("name")
    if saved != MODEL:
        raise UserError(
            f"{file} holds a {saved} model and this project's model is {MODEL}: use it in a project "
            f"rendered with model={saved}, or train a {MODEL} here"
        )
    head = state["model"].get("head.weight")
    if head is not None and head.shape[0] != len(state["classes"]):
        raise UserError(
            f"{file} does not add up: its head has {head.shape[0]} outputs for {len(state['classes'])} "
            "class names (was it edited or mixed with another run's?)"
        )


def rng_state() -> dict[str, Any]:
    """The random state of the CPU and of the accelerator (CUDA/ROCm: dropout masks on the GPU)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
