"""Fine-tuning: start from a run's weights (`finetune runs/<run>`) or torchvision's (pretrained.py),
give the model a new head, freeze the backbone first. A weight that does not fit is an error."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from .checkpoint import check_checkpoint, read_torch_file, resolve_checkpoint
from .config import Config
from .errors import UserError
from .loaders import DataBundle
from .model import build_model
from .model_config import ModelConfig
from .pretrained import backbone_weights


@dataclass(frozen=True)
class Source:
    """What `finetune.checkpoint` names, read once: torchvision's weights or a run's checkpoint."""

    name: str
    weights: dict[str, torch.Tensor] | None = None  # torchvision's; None: downloaded when needed
    checkpoint: dict[str, Any] | None = None  # a run's: its weights, classes and preprocessing

    @property
    def preprocessing(self) -> dict[str, Any] | None:  # how a run's images were prepared
        return self.checkpoint["preprocessing"] if self.checkpoint else None


def read_source(cfg: Config) -> tuple[Config, Source]:
    """The weights to start from, and the config to fine-tune with: a run's own model settings."""
    name = cfg.finetune.checkpoint
    assert name is not None
    if name == "pretrained":
        return cfg, Source(name)
    file = resolve_checkpoint(name, prefer="best")
    if file.suffix == ".safetensors":  # written by `export`, without what training needs
        raise UserError(
            f"{file} is an exported weights file, for serving: fine-tune from the run it was exported "
            "from (finetune runs/<run>, or its checkpoints/best.pt)"
        )
    state = read_torch_file(file)
    if "format_version" not in state and all(isinstance(v, torch.Tensor) for v in state.values()):
        return cfg, Source(name, weights=state)  # bare weights: a torchvision weights file
    check_checkpoint(state, file)
    saved = ModelConfig(**state["config"]["model"])
    if cfg.model != saved:
        print(f"model settings come from the checkpoint: {saved} (the weights fit only those)")
    return replace(cfg, model=saved), Source(name, checkpoint=state)


def load_pretrained(cfg: Config, data: DataBundle, source: Source) -> nn.Module:
    """The model for `data.classes` with the source's weights: a new head but for a run's same classes."""
    model = build_model(cfg.model, data.input_shape, len(data.classes))
    state = source.checkpoint
    if state is None:
        load_weights(model, backbone_weights(cfg.model, data.input_shape, source.weights), source.name)
        print(f"new head: {len(data.classes)} classes, on torchvision's {cfg.model.name} backbone")
    elif state["classes"] == data.classes:
        load_weights(model, state["model"], source.name)
    else:
        backbone = {key: value for key, value in state["model"].items() if not key.startswith("head.")}
        load_weights(model, backbone, source.name)
        print(f"new head: classes {state['classes']} in the checkpoint, {data.classes} here")
    return model


def load_weights(model: nn.Module, weights: dict[str, Any], source: str) -> None:
    """Load what fits, report what is missing (but a new head) or left over, refuse shapes that differ."""
    own = model.state_dict()
    mismatched = [
        f"{key} {tuple(value.shape)} in the checkpoint, {tuple(own[key].shape)} here"
        for key, value in weights.items()
        if key in own and value.shape != own[key].shape
    ]
    if mismatched:
        raise UserError(f"{source} does not fit this model and data: {'; '.join(mismatched)}")
    if not weights.keys() & own.keys():
        raise UserError(f"{source} holds none of this model's weights ({type(model).__name__})")
    result = model.load_state_dict(weights, strict=False)
    missing = [key for key in result.missing_keys if not key.startswith("head.")]
    if missing or result.unexpected_keys:
        print(f"partial load: missing keys {missing}, unexpected keys {result.unexpected_keys}")


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)


def freeze_for_epoch(model: nn.Module, cfg: Config, epoch: int) -> None:
    """Freeze the backbone for the first `finetune.freeze_epochs` epochs, in eval mode (batch norm too)."""
    if not cfg.finetune.freeze_epochs:
        return
    frozen = epoch < cfg.finetune.freeze_epochs
    backbone = model.get_submodule("backbone").requires_grad_(not frozen)
    if frozen:
        backbone.eval()
    if epoch in (0, cfg.finetune.freeze_epochs):
        trainable, total = count_parameters(model)
        state = "frozen" if frozen else "unfrozen"
        print(f"epoch {epoch + 1}: backbone {state}, {trainable:,} of {total:,} parameters trainable")
