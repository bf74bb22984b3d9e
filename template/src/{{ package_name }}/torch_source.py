"""Where the installed torch came from, as bootstrap.py noted it, and what to run when that was
not the backend's own wheel index.

bootstrap.py installs torch from the backend's index. When it cannot reach that index, or
--torch-index names another, it installs whatever build that index has (a CUDA build in a cpu
project, say) and notes so in the environment. The same command would install the same build
again, so doctor's fix for it names an index that has the backend's build instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# bootstrap.py's RECORD, in the environment it set up: the torch it installed, the index it came
# from, and why that was not the backend's own ("" when it was).
RECORD = Path(sys.prefix) / "bootstrap-torch.json"


def recorded(path: Path = RECORD) -> dict[str, Any]:
    """bootstrap.py's note ({} when there is none, or it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build(found: dict[str, Any]) -> tuple[str, str | None]:
    """A torch's release and CUDA: 2.14.1 and 13.0 for PyPI's torch, whose version is 2.14.1 to
    the installer and 2.14.1+cu130 to torch.__version__."""
    return str(found.get("torch", "")).partition("+")[0], found.get("cuda")


def advise(message: str, fix: str, facts: dict[str, Any], backend: str) -> tuple[str, str]:
    """A finding's message and fix, for a torch of the wrong build: when bootstrap.py took this
    torch from another index than the backend's, the message says which and why, and the fix
    names the override; otherwise both are as they were."""
    note = facts.get("bootstrap") or {}
    if not note.get("why") or (note.get("backend"), build(note)) != (backend, build(facts)):
        return message, fix
    uv = f"; uv sync: --index pytorch-{backend}=URL" if backend != "mps" else ""
    override = f"an index that has the {backend} build, e.g. a mirror of its wheel index{uv}"
    return (
        f"{message}; bootstrap.py installed torch {note['torch']} from {note['source']} ({note['why']})",
        f"python bootstrap.py --backend {backend} --torch-index URL (URL: {override})",
    )
