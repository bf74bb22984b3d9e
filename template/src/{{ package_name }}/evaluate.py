"""Evaluation: the loss and accuracy of a model over a loader, and of a checkpoint on its test
split with a confusion matrix, per-class precision and recall, and plots of both."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import plots
from .checkpoint import load_checkpoint, model_with_weights, resolve_checkpoint
from .config import Config, config_from_dict
from .dataset import load_data
from .device import pick_device
from .errors import NOT_WRITABLE, UserError
from .loaders import DataBundle, Loader, samples_in


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Loader, loss_fn: nn.Module) -> tuple[float, float]:
    """Mean loss and accuracy over a loader."""
    return means(evaluation_totals(model, loader, loss_fn))


@torch.inference_mode()
def evaluation_totals(model: nn.Module, loader: Loader, loss_fn: nn.Module) -> torch.Tensor:
    """Loss sum, correct predictions and images over a loader."""
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
    return totals


def batch_totals(
    losses: list[torch.Tensor], predictions: list[torch.Tensor], targets: list[torch.Tensor]
) -> torch.Tensor:
    """Loss sum, correct predictions and images of training steps (their mean losses, predicted
    and true classes), on the device: the same three figures as `evaluation_totals`."""
    sizes = torch.tensor([len(batch) for batch in targets], device=targets[0].device)
    correct = (torch.cat(predictions) == torch.cat(targets)).sum()
    return torch.stack([(torch.stack(losses).float() * sizes).sum(), correct.float(), sizes.sum().float()])


def means(totals: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy from a loss sum, correct predictions and images."""
    loss_sum, correct, seen = totals.tolist()  # waits for the device once
    return loss_sum / seen, correct / seen


@dataclass
class TestResult:
    """A model on the test split: its figures, and some images with their predictions."""

    loss: float
    accuracy: float
    confusion: torch.Tensor  # [true class, predicted class] -> number of images
    images: torch.Tensor  # at most SAMPLES test images, the mistakes first, as the model saw them
    labels: torch.Tensor
    predicted: torch.Tensor


SAMPLES = 16  # test images in plots/samples.png


@torch.inference_mode()
def test_weights(weights: dict[str, torch.Tensor], cfg: Config, data: DataBundle) -> TestResult:
    """A model of `cfg.model` with these weights, on the test split."""
    model = model_with_weights(cfg.model, data.input_shape, len(data.classes), weights).to(data.device)
    model.eval()
    loss_fn, n = nn.CrossEntropyLoss(reduction="sum"), len(data.classes)
    loss_sum, confusion = 0.0, torch.zeros(n * n, dtype=torch.long, device=data.device)
    wrong: list[tuple[torch.Tensor, ...]] = []  # the images shown: mistakes first, then hits
    right: list[tuple[torch.Tensor, ...]] = []
    for images, labels in data.loader("test", cfg.data.batch_size, workers=cfg.data.num_workers):
        images, labels = images.to(data.device), labels.to(data.device)
        logits = model(images)
        predicted = logits.argmax(dim=1)
        loss_sum += loss_fn(logits, labels).item()
        confusion += torch.bincount(labels * n + predicted, minlength=n * n)
        for kept, mask in ((wrong, predicted != labels), (right, predicted == labels)):
            if sum(len(part[1]) for part in kept) < SAMPLES:
                kept.append(tuple(t[mask][:SAMPLES].cpu() for t in (images, labels, predicted)))
    assert right or wrong, "an empty test split is refused when the data is split"
    shown = [torch.cat(parts)[:SAMPLES] for parts in zip(*wrong, *right, strict=True)]
    confusion = confusion.view(n, n).cpu()
    seen = int(confusion.sum())
    return TestResult(loss_sum / seen, confusion.trace().item() / seen, confusion, *shown)


def per_class(result: TestResult, classes: list[str]) -> dict[str, dict[str, float]]:
    """Precision (of the images called this class, the share that are) and recall (of the
    images of this class, the share found) of each class, and its number of test images."""
    confusion = result.confusion.double()
    hits, called, present = confusion.diag(), confusion.sum(dim=0), confusion.sum(dim=1)
    return {
        str(name): {
            "precision": round((hits[i] / called[i]).item(), 6) if called[i] else 0.0,
            "recall": round((hits[i] / present[i]).item(), 6) if present[i] else 0.0,
            "support": int(present[i]),
        }
        for i, name in enumerate(classes)
    }


def format_table(figures: dict[str, dict[str, float]]) -> str:
    width = max(len("class"), *(len(name) for name in figures))
    lines = [f"{'class':<{width}}  precision  recall  images"]
    for name, row in figures.items():
        lines.append(f"{name:<{width}}  {row['precision']:>9.3f}  {row['recall']:>6.3f}  {row['support']:>6}")
    return "\n".join(lines)


def show_test_result(
    result: TestResult,
    data: DataBundle,
    run_dir: Path,
    title: str,
    table: bool = True,
    plots_optional: bool = False,
) -> dict[str, Any]:
    """Print the per-class table (`table`) and draw the confusion matrix and sample predictions into
    run_dir/plots/; return the figures for summary.json. `plots_optional` (evaluate, which only
    reads a run): a folder this process may not write into gets no plots, and a line that says so."""
    figures = per_class(result, data.classes)
    if table:
        print(format_table(figures))
    out = run_dir / "plots"
    try:
        out.mkdir(exist_ok=True)
        plots.plot_confusion_matrix(result.confusion, data.classes, out / "confusion_matrix.png", title)
        plots.plot_samples(result.images, result.labels, result.predicted, data, out / "samples.png", title)
    except OSError as error:
        if not (plots_optional and error.errno in NOT_WRITABLE):
            raise
        print(
            f"no plots drawn: {out} cannot be written ({error.strerror}); the figures above stand",
            file=sys.stderr,
        )
    return {"per_class": figures, "confusion_matrix": result.confusion.tolist()}


def evaluate_checkpoint(checkpoint: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """Test a run's best checkpoint (or any checkpoint file) on its dataset's test split; print
    the per-class table, and draw its plots into the run folder when it lies in one."""
    path = resolve_checkpoint(checkpoint, prefer="best")
    state = load_checkpoint(path)
    cfg = config_from_dict(state["config"], overrides)
    if cfg.model != config_from_dict(state["config"]).model:
        raise UserError("evaluate uses the checkpoint's own model: model.* cannot be overridden")
    data = load_data(cfg.data, preprocessing=state["preprocessing"])
    device = pick_device(cfg.device)
    data = data.to(device)
    if data.classes != state["classes"]:
        raise UserError(f"the checkpoint knows classes {state['classes']}, the data has {data.classes}")
    result = test_weights(state["model"], cfg, data)
    print(f"test accuracy {result.accuracy:.4f}, loss {result.loss:.4f} on {samples_in(data.test)} images")
    in_run = path.parent.name == "checkpoints"
    run_dir = path.parent.parent if in_run else path.parent
    title = f"{run_dir.name}: {path.name}, epoch {state['epoch']}"
    figures = show_test_result(result, data, run_dir, title=title, plots_optional=True)
    return {"test_accuracy": result.accuracy, "test_loss": result.loss, "epoch": state["epoch"], **figures}
