"""Data splits and loaders, shared by every dataset (`dataset.py` reads the chosen one).

A dataset that fits in memory becomes three splits of tensors (train, validation, test) that
sit on the training device. Batches come from `TensorLoader`: one random permutation per
epoch, then indexing, instead of a per-sample DataLoader that collates batches one sample at a
time. On the digits that makes iterating an epoch about 10x cheaper, and a SimpleNet epoch about
1.3x faster (benchmarks/tensor_loader.py in copier-pytorch). Augmentation, when on, shifts
(and, for photos, mirrors) each training image on its own, a whole batch at once on the device
(`Shift`); the random draws come from the loader's seeded generator, so a resumed run repeats
them exactly.

A folder of image files is too big for that: its splits stay datasets that decode files, and
the image-folder dataset's own loader batches them with a DataLoader (worker processes).

The preprocessing (image size, channels, normalization) is returned with the data and saved in
every checkpoint, so `evaluate` and `predict` repeat it exactly.
"""

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
    """What training and evaluation ask of a split's batches: TensorLoader here, or the
    DataLoader-backed loader of a dataset that decodes files."""

    def set_epoch(self, epoch: int, skip: int = 0) -> None: ...
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

    def loader(
        self, split: str, batch_size: int, seed: int = 0, workers: int = 0, ranks: tuple[int, int] = (0, 1)
    ) -> Loader:
        """Batches of one split; the training split's are shuffled, in an order set by seed + epoch.

        `ranks` (this process's rank, and how many there are) gives each process its own share.
        `workers` is for datasets that decode files; tensors in memory need none.
        """
        data, train = getattr(self, split), split == "train"
        augment = self.augment if train else None
        return TensorLoader(data, batch_size, shuffle=train, seed=seed, transform=augment, ranks=ranks)


def tensor_bundle(
    splits: tuple[Split, ...],
    classes: list[str],
    cfg: DataConfig,
    preprocessing: dict[str, Any] | None,
    augment: Shift | None = None,
) -> DataBundle:
    """Resize (for data.image_size) and normalize in-memory splits of images scaled to 0..1.

    The normalization comes from the training split, or from `preprocessing` when given
    (a checkpoint's, so that evaluation repeats what training did).
    """
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
    return DataBundle(train, val, test, classes, preprocessing, augment if cfg.augment else None)


def resize(split: Split, size: list[int]) -> Split:
    if list(split.x.shape[2:]) == list(size):
        return split
    # torch's own antialiased resize (what torchvision's resize calls), so that a project whose
    # model and dataset need no torchvision starts without importing it (2 s here)
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
    """Random shifts of up to `padding` pixels (the borders filled with zeros, as
    torchvision's RandomCrop(size, padding) does), and with `flip` a mirror image half of the
    time: each image of a batch its own, drawn in one go (`draw`) and applied to a whole batch
    on its device by one indexed copy (`__call__`)."""

    padding: int
    flip: bool = False

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Parameters for n images, (n, 3): the crop's top and left offsets in 0..2*padding,
        and 1 where the image is mirrored."""
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


def rank_share(order: torch.Tensor, ranks: tuple[int, int], pad: bool) -> torch.Tensor:
    """Rank r of n takes every n-th index from the r-th on. With `pad` (training) the order is
    first lengthened with its own start so that every rank takes as many steps, as
    DistributedSampler does; without (evaluation) each image is counted exactly once."""
    index, count = ranks
    if count == 1:
        return order
    if pad and len(order) % count:
        order = torch.cat([order, order[: count - len(order) % count]])
    return order[index::count]


class TensorLoader:
    """Mini-batches from tensors that already sit on the device.

    Each epoch draws one permutation from a generator seeded with `seed + epoch`, then the
    augmentation's parameters for every image (`transform.draw`), so the order and the shifts
    depend only on the epoch number: a resumed run sees exactly the batches it would have seen.
    `set_epoch(epoch, skip)` leaves out the epoch's first `skip` batches, for a run resumed from
    the middle of an epoch.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        transform: Shift | None = None,
        ranks: tuple[int, int] = (0, 1),
    ):
        if batch_size < 1:
            raise UserError(f"data.batch_size must be at least 1 (got {batch_size})")
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.transform = transform
        self.ranks = ranks
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def __len__(self) -> int:
        index, count = self.ranks
        n = len(self.split)
        images = math.ceil(n / count) if self.shuffle else len(range(index, n, count))
        return math.ceil(images / self.batch_size)

    def indices(self, generator: torch.Generator) -> torch.Tensor:
        n = len(self.split)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        return rank_share(order, self.ranks, pad=self.shuffle)

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        device = self.split.y.device
        order = self.indices(generator).to(device)
        # One row of parameters per image of the split (whichever rank or batch it lands in).
        params = self.transform.draw(len(self.split), generator).to(device) if self.transform else None
        first, self.skip = self.skip * self.batch_size, 0
        for start in range(first, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            images = self.split.x[index]
            if self.transform and params is not None:
                images = self.transform(images, params[index])
            yield images, self.split.y[index]
