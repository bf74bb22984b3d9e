"""Plots written into `runs/<run>/plots/`: each with labelled axes and the run's name on top."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no window, works on servers and in CI

import matplotlib.pyplot as plt
import torch

if TYPE_CHECKING:
    from .data import DataBundle


def plot_curves(history: dict[str, list[float]], path: str | Path, title: str) -> None:
    """Loss and accuracy per epoch, train against validation, side by side."""
    epochs = history["epoch"]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.plot(epochs, history[f"train_{metric}"], marker="o", label="train")
        axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    loss_axis.set_title("loss")
    accuracy_axis.set_title("accuracy")
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion_matrix(confusion: torch.Tensor, classes: list[str], path: str | Path, title: str) -> None:
    """Test images by true class (rows) and predicted class (columns), counts in the cells."""
    n = len(classes)
    size = min(4 + 0.45 * n, 16)
    figure, axis = plt.subplots(figsize=(size, size), constrained_layout=True)
    image = axis.imshow(confusion.numpy(), cmap="Blues")
    figure.colorbar(image, ax=axis, shrink=0.8, label="test images")
    names = [str(name) for name in classes]
    axis.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    axis.set_yticks(range(n), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    if n <= 30:  # the counts, dark on light cells and light on dark ones
        threshold = confusion.max().item() / 2
        for row in range(n):
            for column in range(n):
                count = int(confusion[row, column])
                color = "white" if count > threshold else "black"
                axis.text(column, row, count, ha="center", va="center", color=color, fontsize=8)
    accuracy = confusion.trace().item() / confusion.sum().item()
    axis.set_title(f"{title}\nconfusion matrix, accuracy {accuracy:.3f}")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_samples(
    images: torch.Tensor,
    labels: torch.Tensor,
    predicted: torch.Tensor,
    data: DataBundle,
    path: str | Path,
    title: str,
) -> None:
    """A grid of test images as a person sees them (the normalization undone), each with its
    true and predicted class: green when right, red when wrong."""
    mean = torch.tensor(data.preprocessing["mean"]).view(-1, 1, 1)
    std = torch.tensor(data.preprocessing["std"]).view(-1, 1, 1)
    columns = min(len(images), 8)
    rows = math.ceil(len(images) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows + 0.6), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, label, guess in zip(axes.flat, images, labels, predicted, strict=False):
        pixels = (image.float() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
        gray = pixels.shape[2] == 1
        axis.imshow(pixels[:, :, 0] if gray else pixels, cmap="gray" if gray else None, vmin=0, vmax=1)
        true_name, guess_name = data.classes[int(label)], data.classes[int(guess)]
        color = "green" if label == guess else "red"
        axis.set_title(f"true {true_name}\npredicted {guess_name}", fontsize=8, color=color)
    figure.suptitle(f"{title}\ntest images: true and predicted class")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
