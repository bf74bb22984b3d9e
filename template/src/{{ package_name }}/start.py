"""Where a run starts: from scratch, from its own last checkpoint (`resume=runs/<run>`), or from
other weights (`finetune`); read before any work, so that a refusal comes first."""

from __future__ import annotations

from dataclasses import dataclass, replace
from operator import attrgetter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import finished, load_checkpoint, resolve_checkpoint
from .config import Config, config_from_dict, saved_config
from .device import check_model_fits
from .errors import UserError
from .finetune import Source, load_pretrained, read_source
from .loaders import DataBundle
from .model import build_model
from .project import FRAMEWORK
from .run_folder import check_run_dir, check_run_files, unstarted

# What a resumed run cannot change: its data, model and optimizer stay those of its checkpoints.
DATA_FIXED = ("name", "classes", "train_size", "image_size", "split_seed", "val_fraction", "test_fraction")
FIXED_ON_RESUME = ("model", "optim", "finetune.backbone_lr_scale", *(f"data.{key}" for key in DATA_FIXED))


@dataclass
class StartingPoint:
    cfg: Config  # a resumed run's own config (overrides on top), or a fine-tuned run's model settings
    run_dir: Path | None = None  # a resumed run's folder (a new run's is made later)
    checkpoint: Path | None = None  # the checkpoint it resumes from
    state: dict[str, Any] | None = None  # and what that holds (None: a new run, or one started over)
    source: Source | None = None  # the weights a fine-tuned run starts from, read once
    preprocessing: dict[str, Any] | None = None  # the continued run's or the source's (None: new)


def starting_point(cfg: Config, overrides: list[str] | None = None) -> StartingPoint:
    """The run `cfg.resume` names (its config, with `overrides` such as more epochs on top), or a
    new run (its run_name checked here), with the weights `cfg.finetune.checkpoint` names."""
    if cfg.resume:
        start = open_resume(Path(cfg.resume), overrides)
    else:
        check_run_dir(cfg)
        start = StartingPoint(cfg)
    if start.cfg.finetune.checkpoint and not start.state:
        start.cfg, start.source = read_source(start.cfg)  # with the model settings those weights fit
        start.preprocessing = start.source.preprocessing
    return start


def open_resume(folder: Path, overrides: list[str] | None) -> StartingPoint:
    """The run folder is where the checkpoint lies, so a copied or moved run continues where it
    is now; one without a checkpoint yet is started over with its config."""
    if unstarted(folder) and (folder / "config.yaml").is_file():
        check_run_files(folder)
        print(f"{folder} has no checkpoint yet (its attempt ended before the first one): starting it over")
        return StartingPoint(replace(saved_config(folder / "config.yaml", overrides), resume=None), folder)
    checkpoint = resolve_checkpoint(folder, prefer="last")
    run_dir = checkpoint.parent.parent
    if checkpoint.parent.name != "checkpoints":
        raise UserError(
            f"resume takes a run folder (runs/<run>) or a checkpoint in its checkpoints/: {checkpoint}"
        )
    state = load_checkpoint(checkpoint)
    kind = "lightning" if "loops" in state else "pytorch"
    if kind != FRAMEWORK:
        raise UserError(
            f"{checkpoint} was trained in the {kind} style and this project trains in the {FRAMEWORK} "
            "style: resume it there, or start from its weights with `finetune`"
        )
    saved = config_from_dict(state["config"])
    cfg = replace(config_from_dict(state["config"], overrides), resume=None)
    changed = [key for key in FIXED_ON_RESUME if attrgetter(key)(saved) != attrgetter(key)(cfg)]
    if changed:
        raise UserError(
            f"resume continues {run_dir} as it was: {', '.join(changed)} cannot change (start a new "
            "run, or `finetune` from this one)"
        )
    if cfg.optim.scheduler == "cosine" and cfg.epochs != saved.epochs:
        raise UserError("epochs cannot change on resume with optim.scheduler=cosine (its length is fixed)")
    if finished(run_dir, state) and cfg.epochs <= saved.epochs:
        raise UserError(
            f"{run_dir} is finished ({state['epoch']} of {saved.epochs} epochs, summary.json written): "
            f"nothing changed; to train on, resume with epochs=N above {saved.epochs}"
        )
    check_run_files(run_dir)
    return StartingPoint(cfg, run_dir, checkpoint, state, preprocessing=state["preprocessing"])


def make_model(start: StartingPoint, data: DataBundle, device: torch.device) -> nn.Module:
    """The model for `data`, from the fine-tuning source's weights when there is one; one too big
    for the device is refused before any run folder is made."""
    check_model_fits(start.cfg, data.input_shape, len(data.classes), device)
    if start.source:
        return load_pretrained(start.cfg, data, start.source)
    return build_model(start.cfg.model, data.input_shape, len(data.classes))
