"""`doctor`: does the installed torch build fit the hardware and the backend chosen?

`collect()` gathers the facts; `diagnose()` turns them into findings, each with the command
that fixes it. The two are separate so the advice can be tested as data.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from .project import PACKAGE, TORCH_BACKEND, TORCH_VERSION, TORCHVISION_VERSION

OK, NOTE, FAIL = "ok", "note", "FAIL"


@dataclass
class Finding:
    level: str  # ok, note or FAIL
    message: str
    fix: str = ""


def collect() -> dict[str, Any]:
    """What is installed and what the machine has."""
    facts: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        import torch
    except ImportError as error:
        facts["torch_error"] = str(error)
        return facts
    facts["torch"] = torch.__version__
    facts["cuda"] = torch.version.cuda
    facts["hip"] = torch.version.hip
    facts["accelerator"] = (
        str(torch.accelerator.current_accelerator()) if torch.accelerator.is_available() else None
    )
    try:
        import torchvision

        facts["torchvision"] = torchvision.__version__
    except (ImportError, RuntimeError) as error:  # a mismatched torchvision fails on import
        facts["torchvision_error"] = str(error).strip().splitlines()[-1]
    return facts


def build_of(facts: dict[str, Any]) -> str:
    if facts.get("cuda"):
        return f"CUDA {facts['cuda']}"
    if facts.get("hip"):
        return f"ROCm {facts['hip']}"
    return "CPU only"


def release(version: str) -> str:
    """2.14.1+cu130 -> 2.14.1"""
    return version.split("+")[0]


def diagnose(facts: dict[str, Any], backend: str = TORCH_BACKEND) -> list[Finding]:
    rebootstrap = f"python bootstrap.py --backend {backend}"
    if "torch_error" in facts:
        return [Finding(FAIL, f"torch does not import: {facts['torch_error']}", rebootstrap)]
    findings = []
    pair = f"torch {TORCH_VERSION} with torchvision {TORCHVISION_VERSION}"
    if "torchvision_error" in facts:
        findings.append(
            Finding(FAIL, f"torchvision does not import ({facts['torchvision_error']})", rebootstrap)
        )
    elif (release(facts["torch"]), release(facts["torchvision"])) != (TORCH_VERSION, TORCHVISION_VERSION):
        findings.append(
            Finding(
                FAIL,
                f"torch {facts['torch']} with torchvision {facts['torchvision']} is not the pair this "
                f"project pins ({pair}); a mismatched pair fails on import or in its operators",
                rebootstrap,
            )
        )
    else:
        findings.append(Finding(OK, f"{pair}, the pair this project pins"))

    cuda, accelerator = facts.get("cuda"), facts.get("accelerator")
    if backend == "cpu":
        if cuda:
            findings.append(
                Finding(
                    NOTE,
                    f"this is a CUDA {cuda} build of torch; the project targets the CPU, "
                    "where the CPU-only build is several GB smaller",
                    "python bootstrap.py --backend cpu",
                )
            )
        else:
            findings.append(Finding(OK, "a CPU build for a CPU project"))
    elif backend.startswith("cu"):
        wanted = f"{backend[2:-1]}.{backend[-1]}"
        if not cuda:
            findings.append(
                Finding(
                    FAIL,
                    f"the project targets {backend} but this torch is a CPU-only build "
                    "(the cause of 'Torch not compiled with CUDA enabled')",
                    rebootstrap,
                )
            )
        elif cuda != wanted:
            findings.append(
                Finding(
                    NOTE, f"this torch is built for CUDA {cuda}, the project targets {backend}", rebootstrap
                )
            )
        else:
            findings.append(Finding(OK, f"a CUDA {cuda} build for a {backend} project"))
        if cuda and not (accelerator or "").startswith("cuda"):
            findings.append(
                Finding(
                    NOTE,
                    "no CUDA device is visible: training will run on the CPU. Check the GPU and "
                    f"its driver with `nvidia-smi`; {backend} wheels need a driver of 580 or newer",
                )
            )
    return findings


def report(backend: str = TORCH_BACKEND) -> int:
    """Print the facts and the verdict; 1 when something must be fixed, else 0."""
    facts = collect()
    print(f"project       {PACKAGE}, rendered for torch backend '{TORCH_BACKEND}'")
    if backend != TORCH_BACKEND:
        print(f"checking for  backend '{backend}'")
    print(f"python        {facts['python']} on {facts['platform']}")
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
