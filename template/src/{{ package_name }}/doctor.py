"""`doctor`: does the installed torch build fit the hardware and the backend chosen?

`collect()` gathers the facts; `diagnose()` turns them into findings, each with the command
that fixes it. The two are separate so the advice can be tested as data.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .project import BACKENDS, PACKAGE, TORCH_BACKEND, TORCH_VERSION, TORCHVISION_VERSION
from .torch_source import advise, recorded

# The project's own requirements, when it runs from its checkout (src/<package>/ -> the root).
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

OK, NOTE, FAIL = "ok", "note", "FAIL"
AUTO_FIX = "python bootstrap.py --backend auto"  # bootstrap.py picks the build this machine runs


@dataclass
class Finding:
    level: str  # ok, note or FAIL
    message: str
    fix: str = ""


def collect() -> dict[str, Any]:
    """What is installed and what the machine has."""
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "os": sys.platform,
        "unmet": unmet_requirements(PYPROJECT),
        "bootstrap": recorded(),  # which torch bootstrap.py installed, from where, and why
        **nvidia_gpus(),
    }
    try:
        import torch
    except ImportError as error:
        facts["torch_error"] = str(error)
        return facts
    facts["torch"] = torch.__version__
    facts["cuda"] = torch.version.cuda
    facts["hip"] = torch.version.hip
    facts["xpu"] = getattr(torch.version, "xpu", None)
    facts["mps"] = torch.backends.mps.is_available()
    facts["accelerator"] = (
        str(torch.accelerator.current_accelerator()) if torch.accelerator.is_available() else None
    )
    try:
        import torchvision

        facts["torchvision"] = torchvision.__version__
        # torchvision.version.cuda is e.g. 13000 for CUDA 13.0, and absent from CPU builds
        cuda = getattr(torchvision.version, "cuda", None)
        facts["torchvision_cuda"] = f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None
    except (ImportError, RuntimeError) as error:  # a mismatched torchvision fails on import
        facts["torchvision_error"] = str(error).strip().splitlines()[-1]
    return facts


def nvidia_gpus() -> dict[str, Any]:
    """The NVIDIA driver and the oldest GPU's compute capability, as nvidia-smi reports them."""
    if not shutil.which("nvidia-smi"):
        return {"driver": None}
    # Drivers before 510 do not know compute_cap: then ask for the driver alone.
    for fields in ("driver_version,compute_cap", "driver_version"):
        query = ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"]
        try:
            result = subprocess.run(query, capture_output=True, text=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            continue
        rows = [[part.strip() for part in line.split(",")] for line in result.stdout.splitlines() if line]
        if rows:
            computes = [row[1] for row in rows if len(row) > 1]
            return {"driver": rows[0][0], "compute": min(computes, key=version_tuple, default=None)}
    return {"driver": None}


def version_tuple(version: str) -> tuple[int, ...]:
    """'525.60.13' -> (525, 60, 13)"""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def build_of(facts: dict[str, Any]) -> str:
    if facts.get("cuda"):
        return f"CUDA {facts['cuda']}"
    if facts.get("hip"):
        return f"ROCm {facts['hip']}"
    if facts.get("xpu"):
        return f"XPU {facts['xpu']}"
    return "CPU only" + (", with MPS" if facts.get("mps") else "")


def release(version: str) -> str:
    """2.14.1+cu130 -> 2.14.1"""
    return version.split("+")[0]


def diagnose(facts: dict[str, Any], backend: str = TORCH_BACKEND) -> list[Finding]:
    """The findings, in order: the torch/torchvision pair, the build against the backend, then
    the build against the hardware (driver, GPU, device found)."""
    rebootstrap = f"python bootstrap.py --backend {backend}"
    if "torch_error" in facts:
        return [Finding(FAIL, f"torch does not import: {facts['torch_error']}", rebootstrap)]
    torch = [check_pair(facts, rebootstrap), check_build(facts, backend, rebootstrap)]
    for finding in torch:  # a torch that the same bootstrap command would install again: the override
        if finding.level != OK:
            finding.message, finding.fix = advise(finding.message, finding.fix, facts, backend)
    return [*torch, *check_hardware(facts, backend), *check_requirements(facts, rebootstrap)]


def unmet_requirements(pyproject: Path) -> list[str]:
    """pyproject.toml's dependencies that the installed packages do not satisfy (after
    `copier update` added a tracker, say), as 'name (why)'."""
    try:
        import tomllib  # type: ignore[import-not-found]  # Python 3.11+; on 3.10 this check is left out
    except ImportError:
        return []
    from packaging.requirements import Requirement  # packaging comes with matplotlib and pip

    if not pyproject.is_file():
        return []
    unmet = []
    for line in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{requirement.name} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{requirement.name} ({installed} installed, {requirement.specifier} asked)")
    return unmet


def check_requirements(facts: dict[str, Any], rebootstrap: str) -> list[Finding]:
    unmet = facts.get("unmet") or []
    if not unmet:
        return []
    return [Finding(FAIL, f"pyproject.toml asks for what is not installed: {', '.join(unmet)}", rebootstrap)]


def check_pair(facts: dict[str, Any], rebootstrap: str) -> Finding:
    pair = f"torch {TORCH_VERSION} with torchvision {TORCHVISION_VERSION}"
    if "torchvision_error" in facts:
        return Finding(FAIL, f"torchvision does not import ({facts['torchvision_error']})", rebootstrap)
    if (release(facts["torch"]), release(facts["torchvision"])) != (TORCH_VERSION, TORCHVISION_VERSION):
        return Finding(
            FAIL,
            f"torch {facts['torch']} with torchvision {facts['torchvision']} is not the pair this "
            f"project pins ({pair}); a mismatched pair fails on import or in its operators",
            rebootstrap,
        )
    torchvision_cuda = facts.get("torchvision_cuda")
    if torchvision_cuda != facts.get("cuda"):
        built = f"CUDA {torchvision_cuda}" if torchvision_cuda else "the CPU"
        return Finding(
            FAIL,
            f"torchvision is built for {built} but torch for {build_of(facts)}: they came from "
            "different wheel indexes, and torchvision's operators fail to load",
            rebootstrap,
        )
    return Finding(OK, f"{pair}, the pair this project pins")


def check_build(facts: dict[str, Any], backend: str, rebootstrap: str) -> Finding:
    """The installed build against the backend the project targets."""
    build = build_of(facts)
    cuda, gpu = facts.get("cuda"), facts.get("driver")
    if backend == "auto":
        return Finding(OK, f"a {build} build; `auto` takes whatever build fits this machine")
    if backend == "cpu":
        if cuda:
            return Finding(
                NOTE,
                f"this is a CUDA {cuda} build of torch; the project targets the CPU, "
                "where the CPU-only build is several GB smaller",
                "python bootstrap.py --backend cpu",
            )
        return Finding(OK, f"a {build} build for a CPU project")
    if backend.startswith("cu"):
        wanted = BACKENDS[backend]["cuda"]
        if not cuda:
            where = f" on a machine with an NVIDIA GPU (driver {gpu})" if gpu else ""
            return Finding(
                FAIL,
                f"the project targets {backend} but this torch is a {build} build{where} "
                "(the cause of 'Torch not compiled with CUDA enabled')",
                rebootstrap,
            )
        if cuda != wanted:
            message = f"this torch is built for CUDA {cuda}, the project targets {backend}"
            return Finding(NOTE, message, rebootstrap)
        return Finding(OK, f"a CUDA {cuda} build for a {backend} project")
    # rocm and xpu need their builds; mps needs PyPI's macOS wheel, a CPU build that has MPS
    family = {"rocm": "hip", "xpu": "xpu"}.get(backend.rstrip("0123456789.").lower())
    if (family and not facts.get(family)) or (not family and (cuda or facts.get("hip") or facts.get("xpu"))):
        return Finding(FAIL, f"the project targets {backend} but this torch is a {build} build", rebootstrap)
    return Finding(OK, f"a {build} build for a {backend} project")


def check_hardware(facts: dict[str, Any], backend: str) -> list[Finding]:
    """The build against the machine: the NVIDIA driver, the GPU's age, the device torch finds."""
    cuda, driver, accelerator = facts.get("cuda"), facts.get("driver"), facts.get("accelerator") or ""
    needs = next((row for row in BACKENDS.values() if row and row["cuda"] == cuda), None)
    if cuda and driver and needs:
        oldest = needs["driver"].get(facts.get("os", "linux"))
        if oldest and version_tuple(driver) < version_tuple(oldest):
            return [
                Finding(
                    FAIL,
                    f"driver too old: this torch is built for CUDA {cuda}, which needs NVIDIA driver "
                    f"{oldest} or newer, and nvidia-smi reports {driver}. Update the driver, or "
                    "install the build this driver runs",
                    AUTO_FIX,
                )
            ]
        compute = facts.get("compute")
        if compute and version_tuple(compute) < version_tuple(needs["compute"]):
            return [
                Finding(
                    FAIL,
                    f"this GPU (compute capability {compute}) is older than the CUDA {cuda} build "
                    f"supports ({needs['compute']} and newer): install the build that still has its kernels",
                    AUTO_FIX,
                )
            ]
    if driver and not cuda and backend in ("cpu", "auto"):  # a cu* backend: check_build said it
        return [
            Finding(
                NOTE if backend == "cpu" else FAIL,
                f"a CPU wheel on a GPU machine: nvidia-smi finds an NVIDIA GPU (driver {driver}), "
                f"but this {build_of(facts)} build of torch cannot use it and trains on the CPU",
                AUTO_FIX,
            )
        ]
    if cuda and not accelerator.startswith("cuda"):
        driver_need = needs["driver"].get(facts.get("os", "linux"), "") if needs else ""
        return [
            Finding(
                NOTE,
                "no CUDA device is visible: training will run on the CPU. Check the GPU and its "
                f"driver with `nvidia-smi`; CUDA {cuda} wheels need a driver of {driver_need} or newer",
            )
        ]
    if backend == "mps" and not facts.get("mps"):
        return [
            Finding(
                NOTE,
                "MPS is not available here: it needs a Mac with Apple silicon and macOS 14 or "
                "newer; training will run on the CPU",
            )
        ]
    return []


def report(backend: str = TORCH_BACKEND) -> int:
    """Print the facts and the verdict; 1 when something must be fixed, else 0."""
    facts = collect()
    print(f"project       {PACKAGE}, rendered for torch backend '{TORCH_BACKEND}'")
    if backend != TORCH_BACKEND:
        print(f"checking for  backend '{backend}'")
    print(f"python        {facts['python']} on {facts['platform']}")
    if facts["driver"]:
        print(f"nvidia-smi    driver {facts['driver']}, compute capability {facts['compute'] or '?'}")
    if "torch" in facts:
        print(f"torch         {facts['torch']} ({build_of(facts)})")
        print(f"torchvision   {facts.get('torchvision', 'not importable')}")
        print(f"device        {facts['accelerator'] or 'cpu (no accelerator found)'}")
    findings = diagnose(facts, backend)
    for finding in findings:
        print(f"[{finding.level}] {finding.message}")
        if finding.fix:
            print(f"       fix: {finding.fix}")
    failed = any(f.level == FAIL for f in findings)
    print("verdict: " + ("fix the above before training" if failed else "ready to train"))
    return 1 if failed else 0
