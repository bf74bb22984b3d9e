"""`export`: a checkpoint's weights as a .safetensors file, for sharing and serving.

safetensors holds tensors only and loads without running any code. The class names and the
preprocessing go into the file's metadata (as JSON strings), so the file stands on its own:

    from safetensors.torch import load_file, safe_open
    weights = load_file("model.safetensors")
    with safe_open("model.safetensors", "pt") as file:
        metadata = file.metadata()   # {"classes": "[...]", "preprocessing": "{...}", ...}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save

from .checkpoint import load_checkpoint, resolve_checkpoint
from .files import check_output, write_bytes


def check_export_output(output: Path, source: Path) -> Path:
    """A path export may write: new, or an earlier export (files.check_output)."""
    return check_output(output, ".safetensors", is_export, source=source)


def is_export(path: Path) -> bool:
    try:
        with safe_open(str(path), "pt") as file:
            return "classes" in (file.metadata() or {})
    except Exception:  # not a safetensors file at all: each kind of damage fails differently
        return False


def run(args: argparse.Namespace) -> int:
    """`export RUN [--output FILE]` (project.EXPORT_FORMATS: the module of `--format safetensors`)."""
    source = resolve_checkpoint(args.checkpoint, prefer="best")
    output = args.output or source.with_suffix(".safetensors")
    print(f"wrote {export_safetensors(source, output)}")
    return 0


def export_safetensors(checkpoint: str | Path, output: str | Path) -> Path:
    source = resolve_checkpoint(checkpoint, prefer="best")
    output = check_export_output(Path(output), source)
    write_bytes(output, safetensors_bytes(load_checkpoint(source)))
    return output


def safetensors_bytes(state: dict[str, Any]) -> bytes:
    """A checkpoint's weights as a .safetensors file, with its class names and preprocessing."""
    metadata = {
        "classes": json.dumps(state["classes"]),
        "preprocessing": json.dumps(state["preprocessing"]),
        "model": json.dumps(state["config"]["model"]),
        "epoch": str(state.get("epoch", "")),
    }
    weights = {name: tensor.contiguous() for name, tensor in state["model"].items()}
    return save(weights, metadata=metadata)
