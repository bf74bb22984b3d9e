"""`predict`: the top-k classes of image files, from a checkpoint alone, which holds the class
names and the preprocessing. Pillow decodes the images; they are resized as loaders.py does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.nn import functional as nnf

from .checkpoint import load_checkpoint, model_with_weights
from .errors import UserError
from .files import check_output, write_text
from .metrics_csv import csv_text
from .model_config import ModelConfig
from .runs_table import format_columns

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SHOWN = 10  # predictions printed on the terminal; the CSV file has them all
HEADER = b"file,class_1,probability_1"  # how a predictions file of this project begins


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise UserError(f"--top-k must be at least 1 (got {args.top_k})")
    check_output(args.output, "predictions .csv", lambda path: path.read_bytes().startswith(HEADER))
    rows = predict(args.checkpoint, args.inputs, args.top_k)
    write_text(args.output, csv_text(rows))
    shown = [
        {"file": row["file"], "class": str(row["class_1"]), "confidence": f"{row['probability_1']:.3f}"}
        for row in rows[:SHOWN]
    ]
    print(format_columns(shown, ("file", "class", "confidence")))
    if len(rows) > SHOWN:
        print(f"... {len(rows) - SHOWN} more in {args.output}")
    print(f"wrote {len(rows)} predictions to {args.output}")
    return 0


def load_model(checkpoint: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The best weights of a run (or a checkpoint file), ready for inference on the CPU."""
    state = load_checkpoint(checkpoint, prefer="best")
    shape = (state["preprocessing"]["channels"], *state["preprocessing"]["image_size"])
    cfg = ModelConfig(**state["config"]["model"])
    return model_with_weights(cfg, shape, len(state["classes"]), state["model"]).eval(), state


def find_images(inputs: list[str]) -> dict[Path, bool]:
    """Each image once, in order: True for a file named, False for one found in a folder named."""
    found: dict[Path, tuple[Path, bool]] = {}  # by resolved path: the path as given, named?
    for item in map(Path, inputs):
        named = item.is_file()
        if not named and not item.is_dir():
            raise UserError(f"no file or folder at {item}")
        paths = [item] if named else sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        for path in paths:
            given, before = found.get(path.resolve(), (path, False))
            found[path.resolve()] = (given, before or named)
    if not found:
        raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {' '.join(inputs)}")
    return dict(found.values())


def image_tensor(decoded: Image.Image, prep: dict[str, Any]) -> torch.Tensor:
    """A decoded image (mode L or RGB, as prep's channels) resized and normalized for the model."""
    pixels = torch.frombuffer(bytearray(decoded.tobytes()), dtype=torch.uint8)  # row by row, channels last
    image = pixels.view(1, decoded.height, decoded.width, -1).permute(0, 3, 1, 2)  # (1, C, H, W)
    size = list(prep["image_size"])
    image = nnf.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    mean = torch.tensor(prep["mean"]).view(-1, 1, 1)
    std = torch.tensor(prep["std"]).view(-1, 1, 1)
    return (image.float() / 255.0 - mean) / std


@torch.inference_mode()
def predict(checkpoint: str | Path, inputs: list[str], top_k: int) -> list[dict[str, Any]]:
    model, state = load_model(checkpoint)
    prep, classes = state["preprocessing"], state["classes"]
    images: dict[Path, torch.Tensor] = {}
    for path, named in find_images(inputs).items():
        try:
            with Image.open(path) as file:
                decoded = file.convert("L" if prep["channels"] == 1 else "RGB")
        except (OSError, Image.DecompressionBombError) as error:  # damaged, not an image, or huge
            problem = f"cannot read {path} as an image ({str(error).strip()[:120]})"
            if named:  # a file asked for by name must be read; one in a folder is skipped, as others are
                raise UserError(problem) from None
            print(f"skipped: {problem}", file=sys.stderr)
            continue
        images[path] = image_tensor(decoded, prep)
    if not images:
        raise UserError(f"none of the images in {' '.join(inputs)} could be read")
    top = model(torch.stack(list(images.values()))).softmax(dim=1).topk(min(top_k, len(classes)), dim=1)
    rows = []
    for path, values, indices in zip(images, top.values.tolist(), top.indices.tolist(), strict=True):
        row: dict[str, Any] = {"file": str(path)}
        for rank, (p, i) in enumerate(zip(values, indices, strict=True), start=1):
            row |= {f"class_{rank}": classes[i], f"probability_{rank}": round(p, 6)}
        rows.append(row)
    return rows
