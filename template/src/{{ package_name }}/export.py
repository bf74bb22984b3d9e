"""`export`: a checkpoint's weights as a .safetensors file, which loads without running any code;
its metadata (`safe_open(path, "pt").metadata()`) holds the classes and preprocessing as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save

from .checkpoint import load_checkpoint, resolve_checkpoint
from .files import check_output, write_bytes


def run(args: argparse.Namespace) -> int:
    source = resolve_checkpoint(args.checkpoint, prefer="best")
    output = args.output or source.with_suffix(".safetensors")
    check_output(output, ".safetensors", is_export, source=source)
    write_bytes(output, safetensors_bytes(load_checkpoint(source)))
    print(f"wrote {output}")
    return 0


def is_export(path: Path) -> bool:
    try:
        with safe_open(str(path), "pt") as file:
            return "classes" in (file.metadata() or {})
    except Exception:  # not a safetensors file at all: each kind of damage fails differently
        return False


def safetensors_bytes(state: dict[str, Any]) -> bytes:
    metadata = {
        "classes": json.dumps(state["classes"]),
        "preprocessing": json.dumps(state["preprocessing"]),
        "model": json.dumps(state["config"]["model"]),
        "epoch": str(state.get("epoch", "")),
    }
    weights = {name: tensor.contiguous() for name, tensor in state["model"].items()}
    return save(weights, metadata=metadata)
