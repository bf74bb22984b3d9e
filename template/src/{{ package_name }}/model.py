"""The model: SimpleNet, the classic multilayer perceptron, with its head kept separate.

Every model in this project has two parts, so that fine-tuning can treat them differently:

- `backbone`: turns an image into features,
- `head`: one Linear layer from features to class scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .config import ModelConfig


class SimpleNet(nn.Module):
    """Flatten, Linear 128, ReLU, Linear 64, ReLU, Linear num_classes.

    `in_features` comes from the data: 8x8 digits give 64, 28x28 images the classic 784.
    """

    def __init__(self, in_features: int, num_classes: int, hidden: Sequence[int] = (128, 64)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def build_model(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    channels, height, width = input_shape
    return SimpleNet(channels * height * width, num_classes, cfg.hidden)


def replace_head(model: nn.Module, num_classes: int) -> None:
    """A new, freshly initialized head for another number of classes."""
    model.head = nn.Linear(model.head.in_features, num_classes)


def set_backbone_trainable(model: nn.Module, trainable: bool) -> None:
    for parameter in model.backbone.parameters():
        parameter.requires_grad_(trainable)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
