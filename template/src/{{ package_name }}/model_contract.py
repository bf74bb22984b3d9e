"""What a model's two files define: the contract the rest of the project relies on.

Every model_config.py defines, without importing torch (config.py reads it before torch loads)

- `ModelConfig`: a dataclass of the model's settings, `name` first: the `model:` section of
  configs/train.yaml;
- `CHOICES` and `LIMITS`: the valid values and ranges of those settings (config.py checks them);

and every model.py defines

- `build_model(cfg, input_shape, num_classes)`: the model, an nn.Module in two parts. Its
  `backbone` turns images (channels, height, width) into features, and its `head`, one
  nn.Linear, turns those into class scores: fine-tuning swaps the head and freezes the
  backbone (finetune.py).

torchvision's models (resnet, vit) also define what their own fsdp.py and pretrained.py use:
`shard_units(model)`, the blocks `fsdp=true` shards one by one, `pretrained_weights(cfg)`,
torchvision's ImageNet weights, and `adapt_torchvision_state(state, cfg, input_shape)`, those
weights as this backbone's.

Another model is another model.py and model_config.py that keep this contract: mypy checks it
here (`ModelFile`, `ModelSettings`), and tests/test_model.py checks the model it builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from torch import nn

from . import model, model_config


class ModelSettings(Protocol):
    ModelConfig: type[Any]
    CHOICES: dict[str, tuple[Any, ...]]
    LIMITS: dict[str, Any]


class ModelFile(Protocol):
    def build_model(self, cfg: Any, input_shape: Sequence[int], num_classes: int) -> nn.Module: ...


CHECKED: ModelFile = model  # mypy: model.py keeps the contract
CHECKED_SETTINGS: ModelSettings = model_config  # and model_config.py
