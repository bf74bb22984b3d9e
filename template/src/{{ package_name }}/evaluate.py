"""Evaluation: the loss and accuracy of a model over a loader, and of a checkpoint on its test split."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint
from .config import Config, config_from_dict
from .data import DataBundle, FolderLoader, TensorLoader
from .dataset import load_data
from .device import pick_device
from .distributed import sum_over_ranks
from .errors import UserError
from .model import build_model


@torch.inference_mode()
def evaluate(
    model: nn.Module, loader: TensorLoader | FolderLoader, loss_fn: nn.Module, across_ranks: bool = False
) -> tuple[float, float]:
    """Mean loss and accuracy over a loader (over every rank's shard of it, `across_ranks`)."""
    model.eval()
    device = next(model.parameters()).device
    dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    totals = torch.zeros(3, dtype=dtype, device=device)  # loss sum, correct, images
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        logits = model(images)
        totals[0] += loss_fn(logits, labels).to(dtype) * len(labels)
        totals[1] += (logits.argmax(dim=1) == labels).sum()
        totals[2] += len(labels)
    if across_ranks:
        sum_over_ranks(totals)
    loss_sum, correct, seen = totals.tolist()  # waits for the device once
    return loss_sum / seen, correct / seen


def test_weights(weights: dict[str, torch.Tensor], cfg: Config, data: DataBundle) -> tuple[float, float]:
    """Loss and accuracy on the test split of a model of `cfg.model` with these weights."""
    model = build_model(cfg.model, data.input_shape, len(data.classes)).to(data.device)
    model.load_state_dict(weights)
    loader = data.loader("test", cfg.data.batch_size, workers=cfg.data.num_workers)
    return evaluate(model, loader, nn.CrossEntropyLoss())


def evaluate_checkpoint(checkpoint: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """Test a run's best checkpoint (or any checkpoint file) on its dataset's test split."""
    state = load_checkpoint(checkpoint, prefer="best")
    cfg = config_from_dict(state["config"], overrides)
    if cfg.model != config_from_dict(state["config"]).model:
        raise UserError("evaluate uses the checkpoint's own model: model.* cannot be overridden")
    data = load_data(cfg.data, preprocessing=state["preprocessing"])
    device = pick_device(cfg.device)
    data = data.to(device)
    if data.classes != state["classes"]:
        raise UserError(f"the checkpoint knows classes {state['classes']}, the data has {data.classes}")
    test_loss, test_accuracy = test_weights(state["model"], cfg, data)
    print(f"test accuracy {test_accuracy:.4f}, loss {test_loss:.4f} on {len(data.test)} images")
    return {"test_accuracy": test_accuracy, "test_loss": test_loss, "epoch": state["epoch"]}
