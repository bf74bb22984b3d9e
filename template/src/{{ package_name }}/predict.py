"""`predict`: class probabilities for image files, from a checkpoint alone.

The checkpoint carries the class names and the preprocessing (channels, size, normalization),
so nothing else is needed: images are decoded with Pillow (torchvision's own decoders are
deprecated since torchvision 0.29), resized (as loaders.py does: torch's antialiased resize),
normalized and classified, and the top-k classes go to a CSV file.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.nn import functional as nnf

from .checkpoint import load_checkpoint, model_with_weights
from .errors import UserError
from .files import check_output, write_text
from .model_config import ModelConfig

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def load_model(checkpoint: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The best weights of a run (or a checkpoint file), ready for inference on the CPU."""
    state = load_checkpoint(checkpoint, prefer="best")
    prep = state["preprocessing"]
    input_shape = (prep["channels"], *prep["image_size"])
    cfg = ModelConfig(**state["config"]["model"])
    model = model_with_weights(cfg, input_shape, len(state["classes"]), state["model"])
    return model.eval(), state


def find_images(inputs: list[str]) -> dict[Path, bool]:
    """Image files given directly (True), or found (recursively) in the folders given (False);
    each file once, however often it is given."""
    files: dict[Path, bool] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            for path in sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
                files.setdefault(path, False)
        elif item.is_file():
            files[item] = True
        else:
            raise UserError(f"no file or folder at {item}")
    unique: dict[Path, bool] = {}
    seen: set[Path] = set()
    for path, named in files.items():
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique[path] = named
    if not unique:
        raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {' '.join(inputs)}")
    return unique


def preprocess(path: Path, prep: dict[str, Any]) -> torch.Tensor:
    try:
        with Image.open(path) as file:
            decoded = file.convert("L" if prep["channels"] == 1 else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:  # damaged, or huge
        raise UserError(f"cannot read {path} as an image ({str(error).strip()[:120]})") from None
    return image_tensor(decoded, prep)


def image_tensor(decoded: Image.Image, prep: dict[str, Any]) -> torch.Tensor:
    """A decoded image (mode L or RGB, as prep's channels) resized and normalized for the model."""
    pixels = torch.frombuffer(bytearray(decoded.tobytes()), dtype=torch.uint8)  # row by row, channels last
    image = pixels.view(1, decoded.height, decoded.width, -1).permute(0, 3, 1, 2)  # (1, C, H, W)
    size = list(prep["image_size"])
    image = nnf.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    x = image.float() / 255.0
    mean = torch.tensor(prep["mean"]).view(-1, 1, 1)
    std = torch.tensor(prep["std"]).view(-1, 1, 1)
    return (x - mean) / std


@torch.inference_mode()
def predict(checkpoint: str | Path, inputs: list[str], top_k: int = 3) -> list[dict[str, Any]]:
    model, state = load_model(checkpoint)
    classes = state["classes"]
    images: dict[Path, torch.Tensor] = {}
    for path, named in find_images(inputs).items():
        try:
            images[path] = preprocess(path, state["preprocessing"])
        except UserError as error:
            if named:  # a file asked for by name must be read; one in a folder is skipped, as others are
                raise
            print(f"skipped: {error}", file=sys.stderr)
    if not images:
        raise UserError(f"none of the images in {' '.join(inputs)} could be read")
    files = list(images)
    batch = torch.stack(list(images.values()))
    probabilities = model(batch).softmax(dim=1)
    top = probabilities.topk(min(top_k, len(classes)), dim=1)
    rows = []
    for path, values, indices in zip(files, top.values, top.indices, strict=True):
        row: dict[str, Any] = {"file": str(path)}
        for rank, (p, i) in enumerate(zip(values.tolist(), indices.tolist(), strict=True), start=1):
            row[f"class_{rank}"] = classes[i]
            row[f"probability_{rank}"] = round(p, 6)
        rows.append(row)
    return rows


SHOWN = 10  # predictions printed on the terminal; the CSV file has them all


def format_predictions(rows: list[dict[str, Any]], output: Path) -> str:
    """The first SHOWN predictions as a table (file, class, confidence), and how many more
    the CSV file `output` holds."""
    shown = rows[:SHOWN]
    names = [str(row["class_1"]) for row in shown]
    width, class_width = max(4, *(len(row["file"]) for row in shown)), max(5, *map(len, names))
    lines = [f"{'file':<{width}}  {'class':<{class_width}}  confidence"]
    for row, name in zip(shown, names, strict=True):
        lines.append(f"{row['file']:<{width}}  {name:<{class_width}}  {row['probability_1']:>10.3f}")
    if len(rows) > SHOWN:
        lines.append(f"... {len(rows) - SHOWN} more in {output}")
    return "\n".join(lines)


HEADER = "file,class_1,probability_1"  # how a predictions file of this project begins


def check_csv_output(output: Path) -> Path:
    """A path write_csv may write: new, or an earlier predictions file (files.check_output)."""
    return check_output(output, "predictions .csv", is_predictions)


def is_predictions(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(len(HEADER)) == HEADER.encode()


def write_csv(rows: list[dict[str, Any]], output: str | Path) -> Path:
    output = check_csv_output(Path(output))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(output, text.getvalue())
    return output
