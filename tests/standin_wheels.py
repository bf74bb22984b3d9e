"""Tiny stand-in wheels in a local PEP 503 index: real installers (pip, uv) resolve and install
them offline, in seconds, where the real torch would be gigabytes from the internet."""

from __future__ import annotations

import base64
import hashlib
import html
import zipfile
from pathlib import Path


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str] | None = None) -> Path:
    """A py3-none-any wheel of `name` `version` holding `files` (path -> text)."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    contents = {
        **(files or {}),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: copier-pytorch tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**contents, f"{dist}/RECORD": "\n".join(record) + "\n"}.items():
            archive.writestr(path, text)
    return wheel


def torch_pair(folder: Path, torch: str, torchvision: str, cuda: str | None) -> list[Path]:
    """torch and torchvision whose `torch.version.cuda` is `cuda` (None: a CPU build)."""
    version_py = f"cuda = {cuda!r}\nhip = None\n__version__ = {torch!r}\n"
    return [
        build_wheel(
            folder,
            "torch",
            torch,
            {"torch/__init__.py": "from . import version\n", "torch/version.py": version_py},
        ),
        build_wheel(folder, "torchvision", torchvision, {"torchvision/__init__.py": ""}),
    ]


def simple_index(root: Path, wheels: list[Path]) -> str:
    """A PEP 503 "simple" index of `wheels` under root; returns its file:// URL."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        by_project.setdefault(wheel.name.split("-")[0].replace("_", "-").lower(), []).append(wheel)
    for project, files in by_project.items():
        page = root / project
        page.mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{html.escape(w.resolve().as_uri())}">{w.name}</a>\n' for w in files)
        (page / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    index = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(by_project))
    (root / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{index}</body></html>\n")
    return root.resolve().as_uri() + "/"
