"""Fine-tuning: start from a checkpoint's weights, new head, frozen backbone first."""

from __future__ import annotations

from torch import nn

from .checkpoint import load_checkpoint
from .config import Config, ModelConfig
from .data import DataBundle
from .errors import UserError
from .model import build_model, count_parameters, replace_head, set_backbone_trainable


def load_pretrained(cfg: Config, data: DataBundle) -> nn.Module:
    """The model of `cfg.finetune.checkpoint`, with a new head when the classes differ.

    The architecture (`model.*`) comes from the checkpoint, since the weights must fit it.
    Keys that do not match are reported; a shape that does not match is an error.
    """
    state = load_checkpoint(cfg.finetune.checkpoint, prefer="best")
    saved = ModelConfig(**state["config"]["model"])
    if cfg.model != saved:
        print(f"model settings come from the checkpoint: {saved} (the weights fit only those)")
    cfg.model = saved
    model = build_model(cfg.model, data.input_shape, len(state["classes"]))
    own = model.state_dict()
    mismatched = [
        f"{key} {tuple(value.shape)} in the checkpoint, {tuple(own[key].shape)} here"
        for key, value in state["model"].items()
        if key in own and value.shape != own[key].shape
    ]
    if mismatched:
        raise UserError(f"{cfg.finetune.checkpoint} does not fit this data: {'; '.join(mismatched)}")
    result = model.load_state_dict(state["model"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        print(f"partial load: missing keys {result.missing_keys}, unexpected keys {result.unexpected_keys}")
    if state["classes"] != data.classes:
        replace_head(model, len(data.classes))
        print(f"new head: {len(state['classes'])} classes in the checkpoint, {len(data.classes)} here")
    return model


def freeze_for_epoch(model: nn.Module, cfg: Config, epoch: int) -> None:
    """Freeze the backbone for the first `finetune.freeze_epochs` epochs (0-based `epoch`)."""
    if not cfg.finetune.freeze_epochs:
        return
    frozen = epoch < cfg.finetune.freeze_epochs
    set_backbone_trainable(model, not frozen)
    if epoch in (0, cfg.finetune.freeze_epochs):
        trainable, _ = count_parameters(model)
        state = "frozen" if frozen else "unfrozen"
        print(f"epoch {epoch + 1}: backbone {state}, {trainable:,} trainable parameters")
