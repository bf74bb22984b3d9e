"""`export`: a checkpoint's weights as a .safetensors file, for sharing and serving.

safetensors holds tensors only and loads without running any code. The class names and the
preprocessing go into the file's metadata (as JSON strings), so the file stands on its own:

    from safetensors.torch import load_file, safe_open
    weights = load_file("model.safetensors")
    with safe_open("model.safetensors", "pt") as file:
        metadata = file.metadata()   # {"classes": "[...]", "preprocessing": "{...}", ...}
"""

from __future__ import annotations

import json
from pathlib import Path

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


def export_safetensors(checkpoint: str | Path, output: str | Path) -> Path:
    source = resolve_checkpoint(checkpoint, prefer="best")
    output = check_export_output(Path(output), source)
    state = load_checkpoint(source)
    metadata = {
        "classes": json.dumps(state["classes"]),
        "preprocessing": json.dumps(state["preprocessing"]),
        "model": json.dumps(state["config"]["model"]),
        "epoch": str(state.get("epoch", "")),
    }
    weights = {name: tensor.contiguous() for name, tensor in state["model"].items()}
    write_bytes(output, save(weights, metadata=metadata))
    return output
