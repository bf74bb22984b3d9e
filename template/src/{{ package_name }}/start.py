"""Where a run starts: from scratch, from its own last checkpoint (`resume=runs/<run>`), or from
other weights (`finetune`). Both training styles begin with these: `starting_point` reads what
the run continues before any work, `make_model` builds the model once the data is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import Config
from .device import check_model_fits
from .finetune import Source, load_pretrained, read_source
from .loaders import DataBundle
from .model import build_model
from .run_folder import check_run_dir, open_resume


@dataclass
class StartingPoint:
    cfg: Config  # a resumed run's own config (overrides on top), or a fine-tuned run's model settings
    run_dir: Path | None = None  # a resumed run's folder (a new run's is made later)
    checkpoint: Path | None = None  # the checkpoint it resumes from
    state: dict[str, Any] | None = None  # and what that holds (None: a new run, or one started over)
    source: Source | None = None  # the weights a fine-tuned run starts from, read once

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """How images are prepared: as the run that is continued prepared them, or (None) from
        the training split."""
        if self.state:
            return self.state["preprocessing"]
        return self.source.preprocessing if self.source else None


def starting_point(cfg: Config, overrides: list[str] | None = None) -> StartingPoint:
    """The run `cfg.resume` names (its config, with `overrides` such as more epochs on top), the
    weights `cfg.finetune.checkpoint` names, or a new run, whose run_name is checked here."""
    run_dir, checkpoint, state = None, None, None
    if cfg.resume:
        run_dir, checkpoint, state, cfg = open_resume(cfg.resume, overrides)
    else:
        check_run_dir(cfg)  # refuse an existing run_name before any work
    source = None
    if cfg.finetune.checkpoint and not state:
        cfg, source = read_source(cfg)  # with the model settings those weights fit
    return StartingPoint(cfg, run_dir, checkpoint, state, source)


def make_model(start: StartingPoint, data: DataBundle, device: torch.device) -> nn.Module:
    """The model for `data`, from the fine-tuning source's weights when there is one; one too big
    for the device, or weights that do not fit, are refused before any run folder is made."""
    cfg = start.cfg
    check_model_fits(cfg, data.input_shape, len(data.classes), device)
    if start.source:
        return load_pretrained(cfg, data, start.source)
    return build_model(cfg.model, data.input_shape, len(data.classes))
