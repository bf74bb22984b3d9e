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

from safetensors.torch import save_file

from .checkpoint import load_checkpoint
from .errors import UserError


def export_safetensors(checkpoint: str | Path, output: str | Path) -> Path:
    state = load_checkpoint(checkpoint, prefer="best")
    output = Path(output)
    if output.is_dir():
        raise UserError(f"--output {output} is a folder: name a .safetensors file")
    output.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "classes": json.dumps(state["classes"]),
        "preprocessing": json.dumps(state["preprocessing"]),
        "model": json.dumps(state["config"]["model"]),
        "epoch": str(state.get("epoch", "")),
    }
    weights = {name: tensor.contiguous() for name, tensor in state["model"].items()}
    save_file(weights, str(output), metadata=metadata)
    return output
