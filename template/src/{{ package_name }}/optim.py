"""The optimizer and the learning-rate schedule, from the config."""

from __future__ import annotations

import torch
from torch import nn

from .config import Config


def make_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """The backbone at lr * finetune.backbone_lr_scale, the head at lr (one group when they are equal)."""
    lr, scale = cfg.optim.lr, cfg.finetune.backbone_lr_scale
    backbone, head = (list(model.get_submodule(name).parameters()) for name in ("backbone", "head"))
    groups = [{"params": backbone, "lr": lr * scale}, {"params": head, "lr": lr}]
    if scale == 1:
        groups = [{"params": backbone + head, "lr": lr}]
    if cfg.optim.name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.optim.weight_decay)
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.optim.momentum, weight_decay=cfg.optim.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: Config) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.optim.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
