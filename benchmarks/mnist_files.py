"""MNIST-format files made from scikit-learn's bundled digits, so the peers and our project read
the same real on-disk format offline (torchvision.datasets.MNIST reads them as it reads MNIST).

The 1,797 8x8 digits are split once (1,500 for training images, the rest for test images),
scaled up to 20x20 and centred in 28x28 as MNIST's digits are, then copied with a random shift
of up to 2 pixels and a random brightness until there are as many images as asked for. The
files are the uncompressed IDX files torchvision looks for in `<root>/MNIST/raw/`.
"""

from __future__ import annotations

import struct
from pathlib import Path

import torch
from torch.nn import functional as F

FOLDER = "MNIST/raw"


def digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """The digits as float (N, 28, 28) in 0..1 (a 20x20 digit in the middle) and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    big = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    return F.pad(big, (4, 4, 4, 4)).squeeze(1), torch.tensor(digits.target, dtype=torch.int64)


def copies(pool: torch.Tensor, labels: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 images drawn from `pool`, each shifted by up to 2 pixels and dimmed by up to 20 %."""
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, len(pool), (n,), generator=generator)
    shifts = torch.randint(-2, 3, (n, 2), generator=generator)
    brightness = 0.8 + 0.2 * torch.rand(n, 1, 1, generator=generator)
    images = torch.empty(n, 28, 28)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            chosen = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            images[chosen] = pool[pick[chosen]].roll((dy, dx), dims=(1, 2))  # the borders are empty
    images = (images * brightness * 255).round().clamp(0, 255).to(torch.uint8)
    return images, labels[pick].to(torch.uint8)


def write_idx(path: Path, tensor: torch.Tensor) -> None:
    """IDX: magic (0, 0, type 0x08 = uint8, number of dimensions), the sizes, then the bytes."""
    header = struct.pack(">HBB", 0, 0x08, tensor.dim()) + struct.pack(f">{tensor.dim()}I", *tensor.shape)
    path.write_bytes(header + tensor.numpy().tobytes())


def write_mnist(root: Path, train: int = 60_000, test: int = 10_000) -> Path:
    """Write train and test IDX files under root; return root (for data.root=...)."""
    images, labels = digits_28()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    pools = {"train": order[:1500], "t10k": order[1500:]}
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (prefix, n) in enumerate((("train", train), ("t10k", test))):
        x, y = copies(images[pools[prefix]], labels[pools[prefix]], n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    return Path(root)
