"""Data splits and loaders, shared by every dataset (`dataset.py` reads the chosen one). Data that
fits in memory sits on the device, batched by `TensorLoader`: a permutation per epoch, then indexing
(~10x cheaper than a per-sample DataLoader)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
from torch.nn import functional as nnf
from torch.utils.data import Dataset

from .config import DataConfig
from .errors import UserError

Batch = tuple[torch.Tensor, torch.Tensor]


class Loader(Protocol):
    """A split's batches: a TensorLoader, or the DataLoader-backed loader of files."""

    def set_epoch(self, epoch: int) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Batch]: ...


@dataclass
class Split:
    x: torch.Tensor  # images, float32, (N, C, H, W), normalized
    y: torch.Tensor  # labels, int64, (N,)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


def samples_in(split: Split | Dataset) -> int:
    """len() of a split: torch's Dataset declares no __len__ to type checkers (ours all have one)."""
    return len(split)  # type: ignore[arg-type]


@dataclass
class DataBundle:
    train: Split | Dataset
    val: Split | Dataset
    test: Split | Dataset
    classes: list[str]
    preprocessing: dict[str, Any]  # channels, image_size, mean, std
    augment: Shift | None = None  # for batches of a train Split
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        height, width = self.preprocessing["image_size"]
        return self.preprocessing["channels"], height, width

    def to(self, device: torch.device | str) -> DataBundle:
        """The same data for training on `device`: tensor splits move there."""
        device = torch.device(device)
        train, val, test = (
            Split(s.x.to(device), s.y.to(device)) if isinstance(s, Split) else s
            for s in (self.train, self.val, self.test)
        )
        return replace(self, train=train, val=val, test=test, device=device)

    def loader(self, split: str, batch_size: int, seed: int = 0) -> Loader:
        """One split's batches, the training split's shuffled (and augmented) by seed + epoch."""
        train = split == "train"
        return TensorLoader(getattr(self, split), batch_size, train, seed, self.augment if train else None)


def tensor_bundle(
    splits: tuple[Split, ...],
    classes: list[str],
    cfg: DataConfig,
    preprocessing: dict[str, Any] | None,
    flip: bool = False,
) -> DataBundle:
    """Resize (for data.image_size) and normalize in-memory splits of images scaled to 0..1, with
    the training split's mean and std, or with `preprocessing` when given (a checkpoint's). With
    data.augment, training batches get shifts of up to an eighth of the size (and mirror images)."""
    if cfg.train_size is not None:
        train = splits[0]
        splits = (Split(train.x[: cfg.train_size], train.y[: cfg.train_size]), *splits[1:])
    if preprocessing is None:
        size = cfg.image_size
        splits = tuple(resize(s, [size, size]) for s in splits) if size else splits
        train_x = splits[0].x
        preprocessing = {
            "channels": int(train_x.shape[1]),
            "image_size": [int(train_x.shape[2]), int(train_x.shape[3])],
            "mean": train_x.mean(dim=(0, 2, 3)).tolist(),
            "std": train_x.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist(),
        }
    else:
        splits = tuple(resize(s, preprocessing["image_size"]) for s in splits)
    train, val, test = (normalize(s, preprocessing) for s in splits)
    augment = Shift(max(1, preprocessing["image_size"][0] // 8), flip) if cfg.augment else None
    return DataBundle(train, val, test, classes, preprocessing, augment)


def resize(split: Split, size: list[int]) -> Split:
    if list(split.x.shape[2:]) == list(size):
        return split
    # torch's own antialiased resize (what torchvision's resize calls): no torchvision import (2 s)
    resized = nnf.interpolate(split.x, size=list(size), mode="bilinear", align_corners=False, antialias=True)
    return Split(resized, split.y)


def keep_classes(
    images: torch.Tensor, labels: torch.Tensor, classes: list[str], keep: list[int] | None
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Keep only the labels in `keep`, renumbered 0..len(keep)-1 in the order given."""
    if keep is None:
        return images, labels, classes
    check_classes(keep, classes)
    mask = torch.isin(labels, torch.tensor(keep))
    remap = torch.full((len(classes),), -1, dtype=torch.int64)
    remap[torch.tensor(keep)] = torch.arange(len(keep))
    return images[mask], remap[labels[mask]], [classes[k] for k in keep]


def check_classes(keep: list[int], classes: list[str]) -> None:
    unknown = [k for k in keep if not 0 <= k < len(classes)]
    if unknown or len(set(keep)) != len(keep) or len(keep) < 2:
        raise UserError(
            f"data.classes must list at least two distinct labels from 0 to {len(classes) - 1} (got {keep})"
        )


def split_indices(n: int, cfg: DataConfig, test: bool = True) -> tuple[torch.Tensor, ...]:
    """Shuffle 0..n-1 once with `split_seed`, then cut it into train, validation (and test)."""
    fractions_ok = 0 < cfg.val_fraction < 1 and (not test or 0 < cfg.test_fraction < 1)
    if not fractions_ok or cfg.val_fraction + (cfg.test_fraction if test else 0) >= 1:
        raise UserError("data.val_fraction and data.test_fraction must be above 0 and sum below 1")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.split_seed))
    n_val = max(1, round(n * cfg.val_fraction))
    n_test = max(1, round(n * cfg.test_fraction)) if test else 0
    if n - n_val - n_test < 1:
        raise UserError("data.val_fraction and data.test_fraction leave no images to train on")
    train, val = order[n_val + n_test :], order[:n_val]
    return (train, val, order[n_val : n_val + n_test]) if test else (train, val)


def split(
    images: torch.Tensor, labels: torch.Tensor, cfg: DataConfig, test: bool = True
) -> tuple[Split, ...]:
    """Train, validation (and test) splits, fixed by `split_seed` whatever the training seed."""
    return tuple(Split(images[idx], labels[idx]) for idx in split_indices(len(labels), cfg, test))


def normalize(split: Split, preprocessing: dict[str, Any]) -> Split:
    mean = torch.tensor(preprocessing["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(preprocessing["std"]).view(1, -1, 1, 1)
    return Split((split.x - mean) / std, split.y)


@dataclass(frozen=True)
class Shift:
    """Random shifts of up to `padding` pixels (as torchvision's RandomCrop(size, padding)), and with
    `flip` a mirror image half of the time: each image its own, a whole batch at once on its device."""

    padding: int
    flip: bool = False

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, 3): each image's top and left offsets in 0..2*padding, and 1 where it is mirrored."""
        offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=generator)
        if self.flip:
            return torch.cat([offsets, torch.randint(0, 2, (n, 1), generator=generator)], dim=1)
        return torch.cat([offsets, torch.zeros(n, 1, dtype=torch.int64)], dim=1)

    def __call__(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W), shifted (and mirrored) by their rows of `params` (B, 3)."""
        batch, channels, height, width = images.shape
        p = self.padding
        padded = nnf.pad(images, (p, p, p, p))  # (B, C, H + 2p, W + 2p), zeros around
        # Every crop of every padded image, as a view (B, 2p + 1, 2p + 1, C, H, W); one
        # indexed copy then takes each image's own.
        b, c, h, w = padded.stride()
        crops = padded.as_strided((batch, 2 * p + 1, 2 * p + 1, channels, height, width), (b, h, w, c, h, w))
        shifted = crops[torch.arange(batch, device=images.device), params[:, 0], params[:, 1]]
        if self.flip:
            shifted = torch.where(params[:, 2, None, None, None].bool(), shifted.flip(-1), shifted)
        return shifted


@dataclass(eq=False)
class TensorLoader:
    """Mini-batches of a Split on the device. Each epoch's order and augmentation come from a
    generator seeded with `seed + epoch`: a resumed run sees exactly the batches it would have seen."""

    split: Split
    batch_size: int
    shuffle: bool = False
    seed: int = 0
    transform: Shift | None = None
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def order(self, generator: torch.Generator) -> torch.Tensor:
        n = len(self.split)
        return torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        device = self.split.y.device
        order = self.order(generator).to(device)
        # One row of parameters per image of the split, whichever batch it lands in.
        params = self.transform.draw(len(self.split), generator).to(device) if self.transform else None
        for index in order.split(self.batch_size):
            images = self.split.x[index]
            if self.transform and params is not None:
                images = self.transform(images, params[index])
            yield images, self.split.y[index]
