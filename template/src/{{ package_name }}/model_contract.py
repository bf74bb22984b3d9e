"""What a model's two files define, for the rest of the project: another model is another model.py
and model_config.py that keep this contract, which mypy checks here and tests/test_model.py too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from torch import nn

from . import model, model_config


class ModelSettings(Protocol):
    """model_config.py, which imports no torch (config.py reads it before torch loads)."""

    ModelConfig: type[Any]  # the `model:` settings of configs/train.yaml, a dataclass, `name` first
    CHOICES: dict[str, tuple[Any, ...]]  # their valid values
    LIMITS: dict[str, Any]  # and ranges


class ModelFile(Protocol):
    """model.py: an nn.Module whose `backbone` turns images into features and whose `head`, one
    nn.Linear, turns those into class scores (finetune.py swaps the head, freezes the backbone)."""

    def build_model(self, cfg: Any, input_shape: Sequence[int], num_classes: int) -> nn.Module: ...


CHECKED: ModelFile = model
CHECKED_SETTINGS: ModelSettings = model_config
