"""Checkpoints: plain dicts of tensors, numbers and strings, written atomically (files.py) and read
with `weights_only=True`, so that loading one runs no code."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from .config import config_from_dict
from .errors import UserError
from .files import atomic_write, same_file
from .model import build_model
from .model_config import ModelConfig
from .project import MODEL

FORMAT_VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | Path, best: bool = False) -> None:
    """`path` (checkpoints/last.pt); after a `best` epoch, best.pt is written first and `path` becomes
    its second name: a crash in between leaves the previous last.pt, and resume redoes that epoch."""
    path = Path(path)
    written = path.with_name("best.pt") if best else path
    with atomic_write(written, binary=True) as file:
        torch.save({"format_version": FORMAT_VERSION, **state}, file)
    if best:
        same_file(written, path)


def finished(run_dir: Path, state: dict[str, Any]) -> bool:
    """The run wrote its summary.json after the step its last checkpoint holds."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):  # none, or damaged: not finished
        return False
    return isinstance(summary, dict) and summary.get("steps") == state.get("step")


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
    check_checkpoint(state, file)
    return state


def check_checkpoint(state: dict[str, Any], file: Path) -> None:
    """The check every command relies on: a foreign, newer, edited or other model's checkpoint
    is one line here, not a TypeError or a size mismatch later."""
    if not {"format_version", "model", "config", "classes", "preprocessing"} <= state.keys():
        raise UserError(f"{file} is not a checkpoint written by this project")
    version, config, prep = state["format_version"], state["config"], state["preprocessing"]
    if type(version) is int and version > FORMAT_VERSION:
        raise UserError(
            f"{file} was written by a newer version of this project (checkpoint format {version}, this "
            f"code reads up to {FORMAT_VERSION}): `copier update` brings that version's code"
        )

    def refuse(what: str) -> NoReturn:
        raise UserError(f"{file} is not a checkpoint this project can use: {what} (was it edited?)")

    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        refuse("its config is not a mapping with a model section")
    if config["model"].get("name") != MODEL:
        raise UserError(
            f"{file} holds a {config['model'].get('name')} model and this project's model is {MODEL}: "
            f"use it in a project rendered with that model, or train a {MODEL} here"
        )
    try:
        cfg = config_from_dict(config)
    except UserError as error:
        raise UserError(f"{file} holds a config this project refuses: {error}") from None
    if not all(type(state.get(key, 0)) is int for key in ("format_version", "epoch", "step")):
        refuse("its format_version, epoch or step is not a whole number")
    classes = state["classes"]
    if not (isinstance(classes, list) and classes and all(isinstance(c, str | int) for c in classes)):
        refuse("its classes are not a list of class names")
    try:  # 1 or 3 channels, two whole sizes of at least 1, a mean and a nonzero std per channel
        size, mean, std = (torch.tensor(prep[key]) for key in ("image_size", "mean", "std"))
        channels = (prep["channels"],) if prep["channels"] in (1, 3) else None
        fits = size.shape == (2,) and not size.is_floating_point() and bool(size.min() >= 1)
        fits = fits and mean.shape == std.shape == channels and bool(std.all())
    except (KeyError, TypeError, ValueError, RuntimeError):
        fits = False
    if not fits:
        refuse("its preprocessing is not channels, image_size, mean and std")
    try:  # names and shapes, on the meta device: no memory, no time
        with torch.device("meta"):
            model = build_model(cfg.model, (prep["channels"], *prep["image_size"]), len(classes))
        # A copy: an assigning load marks the dict's _metadata, and later loads of it would assign too.
        model.load_state_dict({**state["model"]}, assign=True)
    except (RuntimeError, TypeError) as error:
        detail = textwrap.shorten(str(error).split(":", 1)[-1], 300, placeholder=" ...")
        refuse(f"its weights do not fit its own config: {detail}")


def model_with_weights(
    cfg: ModelConfig, input_shape: Sequence[int], num_classes: int, weights: dict[str, torch.Tensor]
) -> torch.nn.Module:
    """The model `cfg` describes, holding `weights`: built on the meta device and given their
    tensors (no time spent initialising), or as usual where that would miss a tensor or a dtype."""
    with torch.device("meta"):
        model = build_model(cfg, input_shape, num_classes)
    own = model.state_dict()
    if all(key in weights and weights[key].dtype == value.dtype for key, value in own.items()):
        model.load_state_dict(weights, assign=True)
        if not any(tensor.is_meta for tensor in (*model.parameters(), *model.buffers())):
            return model
    model = build_model(cfg, input_shape, num_classes)
    model.load_state_dict(weights)
    return model


def rng_state() -> dict[str, Any]:
    """The random state of the CPU and of each GPU (CUDA/ROCm: dropout masks on the GPU)."""
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if len(state.get("cuda", [])) == torch.cuda.device_count():  # the same GPUs
        torch.cuda.set_rng_state_all(state["cuda"])
