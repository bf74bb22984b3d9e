"""The installed torch build and what every project's doctor checks of it: the torchvision pair,
the CPU build, pyproject.toml's requirements, and where bootstrap.py took torch from."""

import json
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .project import PACKAGE, TORCH_BACKEND, TORCH_VERSION, TORCHVISION_VERSION

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # the checkout's
RECORD = Path(sys.prefix) / "bootstrap-torch.json"  # bootstrap.py's note: the torch, its index, why
OK, NOTE, FAIL = "ok", "note", "FAIL"


@dataclass
class Finding:
    level: str  # ok, note or FAIL
    message: str
    fix: str = ""


def collect() -> dict[str, Any]:
    """What is installed: Python, torch and its build, torchvision, the unmet requirements."""
    facts: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    facts.update(os=sys.platform, unmet=unmet_requirements(PYPROJECT), bootstrap=recorded())
    try:
        import torch
    except ImportError as error:
        return {**facts, "torch_error": str(error)}
    facts.update(torch=torch.__version__, cuda=torch.version.cuda, hip=torch.version.hip)
    facts.update(xpu=getattr(torch.version, "xpu", None), mps=torch.backends.mps.is_available())
    try:
        import torchvision
    except (ImportError, RuntimeError) as error:  # a mismatched torchvision fails on import
        return {**facts, "torchvision_error": str(error).strip().splitlines()[-1]}
    cuda = getattr(torchvision.version, "cuda", None)  # 13000 for CUDA 13.0; absent from CPU builds
    cuda = f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None
    return {**facts, "torchvision": torchvision.__version__, "torchvision_cuda": cuda}


def recorded(path: Path = RECORD) -> dict[str, Any]:
    """bootstrap.py's note ({} when there is none, or it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def unmet_requirements(pyproject: Path) -> list[str]:
    """pyproject.toml's dependencies that the environment lacks (after `copier update` added a
    tracker, say), as 'name (why)'. Python 3.10 has no tomllib: there, none."""
    try:
        import tomllib  # type: ignore[import-not-found]  # Python 3.11+
    except ImportError:
        return []
    from packaging.requirements import Requirement  # packaging comes with matplotlib and pip

    if not pyproject.is_file():  # an installed package has none
        return []
    needed = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    unmet = []
    for requirement in map(Requirement, needed):
        if requirement.marker is None or requirement.marker.evaluate():
            try:
                installed = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                unmet.append(f"{requirement.name} (not installed)")
                continue
            if not requirement.specifier.contains(installed, prereleases=True):
                unmet.append(f"{requirement.name} ({installed} installed, {requirement.specifier} asked)")
    return unmet


def build_of(facts: dict[str, Any]) -> str:
    for key, name in [("cuda", "CUDA"), ("hip", "ROCm"), ("xpu", "XPU")]:
        if facts.get(key):
            return f"{name} {facts[key]}"
    return "CPU only" + (", with MPS" if facts.get("mps") else "")


def release(version: str) -> str:
    """2.14.1+cu130 -> 2.14.1"""
    return version.split("+")[0]


def check_pair(facts: dict[str, Any], fix: str) -> Finding:
    pair = f"torch {TORCH_VERSION} with torchvision {TORCHVISION_VERSION}"
    if "torchvision_error" in facts:
        return Finding(FAIL, f"torchvision does not import ({facts['torchvision_error']})", fix)
    found = f"torch {facts['torch']} with torchvision {facts['torchvision']}"
    if (release(facts["torch"]), release(facts["torchvision"])) != (TORCH_VERSION, TORCHVISION_VERSION):
        return Finding(FAIL, f"{found} is not the pair this project pins ({pair}): it fails to load", fix)
    if facts.get("torchvision_cuda") != facts.get("cuda"):
        built = f"CUDA {facts['torchvision_cuda']}" if facts.get("torchvision_cuda") else "the CPU"
        why = "they came from different wheel indexes, and torchvision's operators fail to load"
        return Finding(FAIL, f"torchvision is built for {built} but torch for {build_of(facts)}: {why}", fix)
    return Finding(OK, f"{pair}, the pair this project pins")


def check_cpu_build(facts: dict[str, Any]) -> Finding:
    build = build_of(facts)
    if build.startswith("CPU"):
        return Finding(OK, f"a {build} build for a CPU project")
    smaller = "the project targets the CPU, where the CPU-only build is several GB smaller"
    return Finding(NOTE, f"this is a {build} build of torch; {smaller}", "python bootstrap.py --backend cpu")


def advised(findings: list[Finding], facts: dict[str, Any], backend: str) -> list[Finding]:
    """The findings, where bootstrap.py took this torch from another index than the backend's
    (and the same command would again): each that is not ok says so, and names the override."""
    note = facts.get("bootstrap") or {}
    same = (note.get("backend"), release(note.get("torch", "")), note.get("cuda"))
    if not note.get("why") or same != (backend, release(facts["torch"]), facts.get("cuda")):
        return findings
    uv = f"; uv sync: --index pytorch-{backend}=URL" if backend != "mps" else ""
    override = f"an index that has the {backend} build, e.g. a mirror of its wheel index{uv}"
    for finding in (finding for finding in findings if finding.level != OK):
        finding.message += f"; bootstrap.py installed torch {note['torch']} from {note['source']}"
        finding.message += f" ({note['why']})"
        finding.fix = f"python bootstrap.py --backend {backend} --torch-index URL (URL: {override})"
    return findings


def check_unmet(facts: dict[str, Any], fix: str) -> list[Finding]:
    unmet = ", ".join(facts.get("unmet") or [])
    return [Finding(FAIL, f"pyproject.toml asks for what is not installed: {unmet}", fix)] if unmet else []


def print_facts(facts: dict[str, Any], backend: str) -> None:
    print(f"project       {PACKAGE}, rendered for torch backend '{TORCH_BACKEND}'")
    if backend != TORCH_BACKEND:
        print(f"checking for  backend '{backend}'")
    print(f"python        {facts['python']} on {facts['platform']}")
    if "torch" in facts:
        print(f"torch         {facts['torch']} ({build_of(facts)})")
        print(f"torchvision   {facts.get('torchvision', 'not importable')}")


def verdict(findings: list[Finding]) -> int:
    """Print the findings and the verdict; 1 when something must be fixed, else 0."""
    for finding in findings:
        print(f"[{finding.level}] {finding.message}")
        if finding.fix:
            print(f"       fix: {finding.fix}")
    failed = any(finding.level == FAIL for finding in findings)
    print("verdict: " + ("fix the above before training" if failed else "ready to train"))
    return 1 if failed else 0
