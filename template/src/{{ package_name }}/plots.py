"""Plots written into `runs/<run>/plots/`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no window, works on servers and in CI

import matplotlib.pyplot as plt


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
