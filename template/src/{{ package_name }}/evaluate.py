"""Evaluation: a model's loss and accuracy over a loader, and a checkpoint on its test split with
a confusion matrix, per-class precision and recall, and plots of both."""

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


class Tally:
    """An epoch's losses and predictions, in training and in evaluation: kept on the device and
    added up once, at the end, so that no step waits for the device."""

    def __init__(self, device: torch.device):
        self.device = device
        self.losses: list[torch.Tensor] = []  # each batch's mean loss
        self.predicted: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.losses.append(loss.detach())
        self.predicted.append(logits.argmax(dim=1))
        self.labels.append(labels)

    def totals(self) -> torch.Tensor:
        """Loss sum, correct predictions and images, on the device (zeros for no batches)."""
        if not self.labels:  # a rank's share of a tiny split
            return torch.zeros(3, device=self.device)
        sizes = torch.tensor([len(batch) for batch in self.labels], device=self.device)
        correct = (torch.cat(self.predicted) == torch.cat(self.labels)).sum().float()
        return torch.stack([(torch.stack(self.losses).float() * sizes).sum(), correct, sizes.sum().float()])


def means(totals: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy from a loss sum, correct predictions and images."""
    loss_sum, correct, seen = totals.tolist()  # waits for the device once
    return loss_sum / seen, correct / seen


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Loader, loss_fn: nn.Module) -> Tally:
    model.eval()
    device = next(model.parameters()).device
    tally = Tally(device)
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        logits = model(images)
        tally.add(loss_fn(logits, labels), logits, labels)
    return tally


@dataclass
class TestResult:
    loss: float
    accuracy: float
    confusion: torch.Tensor  # [true class, predicted class] -> number of images
    images: torch.Tensor  # at most SAMPLES test images, the mistakes first, as the model saw them
    labels: torch.Tensor
    predicted: torch.Tensor


SAMPLES = 16  # test images in plots/samples.png


def test_weights(weights: dict[str, torch.Tensor], cfg: Config, data: DataBundle) -> TestResult:
    """A model of `cfg.model` with these weights, on the test split."""
    model = model_with_weights(cfg.model, data.input_shape, len(data.classes), weights).to(data.device)
    loader = data.loader("test", cfg.data.batch_size)
    tally = evaluate(model, loader, nn.CrossEntropyLoss())
    labels, predicted = torch.cat(tally.labels).cpu(), torch.cat(tally.predicted).cpu()
    n = len(data.classes)
    confusion = torch.bincount(labels * n + predicted, minlength=n * n).view(n, n)
    shown = torch.argsort((predicted == labels).int(), stable=True)[:SAMPLES].tolist()  # mistakes first
    images = torch.stack([data.test[i][0] for i in shown]).cpu()  # the test loader keeps the split's order
    return TestResult(*means(tally.totals()), confusion, images, labels[shown], predicted[shown])


def per_class(result: TestResult, classes: list[str]) -> dict[str, dict[str, float]]:
    """Each class's precision (of the images called it), recall (of its images) and test images."""
    confusion = result.confusion.double()
    hits, called, present = confusion.diag(), confusion.sum(dim=0), confusion.sum(dim=1)
    rows = zip(classes, hits / called.clamp_min(1), hits / present.clamp_min(1), present, strict=True)
    return {
        name: {"precision": round(p.item(), 6), "recall": round(r.item(), 6), "support": int(n)}
        for name, p, r, n in rows
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
    """Print the per-class table, draw plots/ of run_dir, return the figures for summary.json.
    `plots_optional` (evaluate, which only reads a run): a folder it cannot write gets no plots."""
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
        said = f"no plots drawn: {out} cannot be written ({error.strerror}); the figures above stand"
        print(said, file=sys.stderr)
    return {"per_class": figures, "confusion_matrix": result.confusion.tolist()}


def evaluate_checkpoint(checkpoint: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """Test a run's best checkpoint (or any checkpoint file) on its test split, with plots."""
    path = resolve_checkpoint(checkpoint, prefer="best")
    state = load_checkpoint(path)
    cfg = config_from_dict(state["config"], overrides)
    if cfg.model != config_from_dict(state["config"]).model:
        raise UserError("evaluate uses the checkpoint's own model: model.* cannot be overridden")
    data = load_data(cfg.data, preprocessing=state["preprocessing"]).to(pick_device(cfg.device))
    if data.classes != state["classes"]:
        raise UserError(f"the checkpoint knows classes {state['classes']}, the data has {data.classes}")
    result = test_weights(state["model"], cfg, data)
    print(f"test accuracy {result.accuracy:.4f}, loss {result.loss:.4f} on {samples_in(data.test)} images")
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    title = f"{run_dir.name}: {path.name}, epoch {state['epoch']}"
    figures = show_test_result(result, data, run_dir, title=title, plots_optional=True)
    return {"test_accuracy": result.accuracy, "test_loss": result.loss, "epoch": state["epoch"], **figures}
