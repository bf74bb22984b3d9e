"""Plots written into `runs/<run>/plots/`: each with labelled axes and the run's name on top."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only: no window, works on servers and in CI

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from .files import atomic_write

if TYPE_CHECKING:
    from .loaders import DataBundle


def plot_curves(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Loss and accuracy per epoch, train against validation (metrics.csv's rows: text after a resume)."""
    epochs = [int(row["epoch"]) for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for stage, label in (("train", "train"), ("val", "validation")):
            axis.plot(epochs, [float(row[f"{stage}_{metric}"]) for row in rows], marker="o", label=label)
        axis.set(title=metric, xlabel="epoch", ylabel=metric)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    save(figure, path)


def plot_confusion_matrix(confusion: Tensor, classes: list[str], path: Path, title: str) -> None:
    """Test images by true (rows) and predicted class (columns): counts, or colours for over 30 classes."""
    n = len(classes)
    size = min(4 + 0.45 * n, 16)
    figure, axis = plt.subplots(figsize=(size, size + 0.4), layout="constrained")
    image = axis.imshow(confusion.numpy(), cmap="Blues")
    axis.set_xticks(range(n), classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right")
    axis.set_yticks(range(n), classes)
    axis.set(xlabel="predicted class", ylabel="true class")
    if n <= 30:  # the counts, dark on light cells and light on dark ones
        threshold = confusion.max().item() / 2
        for row, counts in enumerate(confusion.tolist()):
            for column, count in enumerate(counts):
                color = "white" if count > threshold else "black"
                axis.text(column, row, str(count), ha="center", va="center", color=color, fontsize=8)
    else:
        figure.colorbar(image, ax=axis, shrink=0.8, label="test images")
    accuracy = confusion.trace().item() / confusion.sum().item()
    axis.set_title(f"{title}\nconfusion matrix, accuracy {accuracy:.3f}")
    save(figure, path)


def plot_samples(
    images: Tensor, labels: Tensor, predicted: Tensor, data: DataBundle, path: Path, title: str
) -> None:
    """Test images as a person sees them, with their true and predicted class (green: right, red: wrong)."""
    mean = torch.tensor(data.preprocessing["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(data.preprocessing["std"]).view(1, -1, 1, 1)
    pixels = (images.float() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    gray = pixels.shape[3] == 1
    columns = min(len(images), 8)
    rows = math.ceil(len(images) / columns)
    height = 1.9 * rows + 0.7  # inches: each image with its two-line caption, the title on top
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, height), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    pairs = zip(labels.tolist(), predicted.tolist(), strict=True)
    for axis, image, (label, guess) in zip(axes.flat, pixels, pairs, strict=False):
        axis.imshow(image[:, :, 0] if gray else image, cmap="gray" if gray else None, vmin=0, vmax=1)
        caption = f"true {data.classes[label]}\npredicted {data.classes[guess]}"
        axis.set_title(caption, fontsize=8, color="green" if label == guess else "red")
    figure.suptitle(f"{title}\ntest images: true and predicted class")
    # placed by hand: a layout engine costs more than the drawing
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.9 / height, hspace=0.45)
    save(figure, path)


def save(figure: plt.Figure, path: Path) -> None:
    try:
        with atomic_write(path, binary=True) as file:
            figure.savefig(file, format="png", dpi=100)
    finally:
        plt.close(figure)
