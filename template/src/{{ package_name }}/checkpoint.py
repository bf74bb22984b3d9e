"""Checkpoints: written atomically, read back with `weights_only=True`.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads without
unpickling arbitrary code. It carries everything `evaluate`, `predict`, `finetune` and `resume`
need: the model weights, the optimizer and scheduler states, the RNG state, the epoch and step,
the resolved config, the class names and the preprocessing.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .config import config_from_dict
from .errors import UserError
from .files import atomic_write, same_file
from .model import build_model
from .model_config import ModelConfig
from .project import MODEL

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "model", "config", "classes", "preprocessing")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Written atomically (files.py): a crash mid-write leaves the previous checkpoint intact."""
    with atomic_write(path, binary=True) as file:
        torch.save({"format_version": FORMAT_VERSION, **state}, file)


def save_epoch(write: Callable[[Path], None], folder: Path, best: bool, main: bool = True) -> None:
    """An epoch's checkpoint, by `write(path)`: last.pt, or after a best epoch best.pt with
    last.pt as a second name of it (files.same_file, by the main process), written once. best.pt
    comes first: a crash in between leaves the previous epoch's last.pt, and resume trains this
    epoch again the same way."""
    last = folder / "last.pt"
    if not best:
        write(last)
        return
    write(folder / "best.pt")
    if main:
        same_file(folder / "best.pt", last)


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
    """The one check of a checkpoint's structure that every command relies on (evaluate,
    predict, export, finetune, resume): a hand-edited or foreign file is one clear line here,
    not a TypeError or a size mismatch later."""
    if any(key not in state for key in REQUIRED_KEYS):
        raise UserError(f"{file} is not a checkpoint written by this project")

    def refuse(what: str) -> None:
        raise UserError(f"{file} is not a checkpoint this project can use: {what} (was it edited?)")

    version = state["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        refuse(f"its format_version is {version!r}, not a whole number")
    if version > FORMAT_VERSION:
        raise UserError(
            f"{file} was written by a newer version of this project (checkpoint format {version}, this "
            f"code reads up to {FORMAT_VERSION}): `copier update` brings that version's code"
        )
    if not isinstance(state["config"], dict) or not isinstance(state["config"].get("model"), dict):
        refuse("its config is not a mapping with a model section")
    classes = state["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str | int) for c in classes):
        refuse("its classes are not a list of class names")
    prep = state["preprocessing"]
    if not (
        isinstance(prep, dict)
        and prep.get("channels") in (1, 3)
        and is_numbers(prep.get("image_size"), 2, whole=True)
        and all(is_numbers(prep.get(key), prep["channels"]) for key in ("mean", "std"))
        and min(prep["image_size"]) >= 1
        and all(prep["std"])
    ):
        refuse("its preprocessing is not channels, image_size, mean and std")
    weights = state["model"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        refuse("its model is not a mapping of names to tensors")
    for key in ("epoch", "step"):
        if not isinstance(state.get(key, 0), int):
            refuse(f"its {key} is {state[key]!r}, not a whole number")
    check_model(state, file)
    check_weights(state, file)


def is_numbers(value: Any, length: int, whole: bool = False) -> bool:
    kind = numbers.Integral if whole else numbers.Real
    return (
        isinstance(value, list | tuple)
        and len(value) == length
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    )


def check_model(state: dict[str, Any], file: Path) -> None:
    """Refuse a checkpoint of another model, or one whose head does not match its class names."""
    saved = state["config"]["model"].get("name")
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


def check_weights(state: dict[str, Any], file: Path) -> None:
    """The weights are those of the model its config describes, name for name and shape for shape
    (the model is built on the meta device: no memory, no time)."""
    try:
        cfg = config_from_dict(state["config"])
    except UserError as error:
        raise UserError(f"{file} holds a config this project refuses: {error}") from None
    prep = state["preprocessing"]
    with torch.device("meta"):
        model = build_model(cfg.model, (prep["channels"], *prep["image_size"]), len(state["classes"]))
    own, weights = model.state_dict(), state["model"]
    wrong = [
        f"{key} {tuple(weights[key].shape)} where its config makes {tuple(own[key].shape)}"
        for key in own
        if key in weights and weights[key].shape != own[key].shape
    ]
    wrong += [f"{key} missing" for key in own if key not in weights]
    wrong += [f"{key} left over" for key in weights if key not in own]
    if wrong:
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise UserError(f"{file}'s weights do not fit its own config: {'; '.join(wrong[:3])}{more}")


def model_with_weights(
    cfg: ModelConfig, input_shape: Sequence[int], num_classes: int, weights: dict[str, torch.Tensor]
) -> torch.nn.Module:
    """The model `cfg` describes, holding `weights`. It is built on the meta device and given the
    weights' own tensors, so no time goes into initialising weights about to be replaced
    (ResNet-18: 30 ms instead of 180 ms). Built the usual way where that would leave a tensor
    unset or change its dtype (a model with a buffer outside its state dict)."""
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
    """The random state of the CPU and of the accelerator (CUDA/ROCm: dropout masks on the GPU)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
