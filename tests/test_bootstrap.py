"""bootstrap.py: its plan as data for every backend and installer, and one real run end to end."""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN, ROOT, render, run
from packaging.markers import Marker
from packaging.version import Version
from standin_wheels import simple_index, torch_pair
from variants import choice_values, copier_config


@pytest.fixture(scope="module")
def bootstrap(default_project):
    spec = importlib.util.spec_from_file_location("bootstrap", default_project / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TABLE = copier_config()["backends"]["default"]
INSTALLABLE = sorted(name for name in TABLE if name != "auto")


def install_args(index, option="--index-url"):
    return [option, index] if index else []


@pytest.mark.parametrize("backend", INSTALLABLE)
@pytest.mark.parametrize("windows", [False, True], ids=["posix", "windows"])
def test_pip_plan(bootstrap, backend, windows):
    index = TABLE[backend]["index"]
    commands = bootstrap.plan(backend, "pip", index, python="py", windows=windows)
    venv_python = str(Path(".venv", "Scripts/python.exe" if windows else "bin/python"))
    assert commands == [
        ["py", "-m", "venv", ".venv"],
        [venv_python, "-m", "pip", "install", "--upgrade", "pip>=25.1"],  # for --group
        [venv_python, "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1", *install_args(index)],
        [venv_python, "-m", "pip", "install", "--editable", ".", "--group", "dev"],
        [venv_python, "-m", "digit_lab", "doctor", "--backend", backend],
    ]
    assert not any("--user" in part for command in commands for part in command)


@pytest.mark.parametrize("backend", INSTALLABLE)
def test_uv_plan(bootstrap, backend):
    index = TABLE[backend]["index"]
    commands = bootstrap.plan(backend, "uv", index, python="py", windows=False)
    assert commands[0] == ["uv", "venv", ".venv", "--python", "py", "--allow-existing"]
    pair = ["torch==2.14.1", "torchvision==0.29.1"]
    assert commands[1] == [
        "uv",
        "pip",
        "install",
        "--python",
        ".venv/bin/python",
        *pair,
        *install_args(index, "--default-index"),  # uv's --index-url yields to UV_DEFAULT_INDEX
    ]
    assert commands[2][-4:] == ["--editable", ".", "--group", "dev"]
    assert commands[3][-4:] == ["digit_lab", "doctor", "--backend", backend]


def test_pip_config_index_leaves_the_index_to_pip(bootstrap):
    assert bootstrap.choose_index(TABLE["cpu"]["index"], "pip-config", "cpu") == (
        None,
        "--torch-index pip-config",
    )
    commands = bootstrap.plan("cpu", "pip", None, python="py", windows=False)
    assert not any("--index-url" in command for command in commands)


def test_a_mirror_replaces_the_backend_index(bootstrap):
    mirror = "https://mirror.example/whl/cu130"
    assert bootstrap.choose_index(TABLE["cu130"]["index"], mirror, "cu130") == (mirror, "--torch-index")
    assert bootstrap.choose_index(None, mirror, "mps")[0] == mirror  # mps: PyPI's wheels, or the mirror named


def test_an_unreachable_index_falls_back_to_the_configured_one(bootstrap, monkeypatch, capsys):
    cpu = TABLE["cpu"]["index"]
    monkeypatch.setattr(bootstrap, "reachable", lambda url, timeout=10.0: "no route to host")
    assert bootstrap.choose_index(cpu, None, "cpu") == (None, f"{cpu} could not be reached")
    assert "cannot reach https://download.pytorch.org/whl/cpu (no route to host)" in capsys.readouterr().out
    monkeypatch.setattr(bootstrap, "reachable", lambda url, timeout=10.0: None)
    assert bootstrap.choose_index(cpu, None, "cpu") == (cpu, "")


def test_every_offered_backend_can_be_bootstrapped(bootstrap):
    assert {*bootstrap.INDEXES, "auto"} == set(choice_values(copier_config()["torch_backend"]))
    assert {name: TABLE[name]["index"] for name in INSTALLABLE} == bootstrap.INDEXES
    assert {name: TABLE[name]["wheels"] for name in INSTALLABLE} == bootstrap.WHEELS
    nvidia = {name: {key: TABLE[name].get(key) for key in ("cuda", "driver", "compute")} for name in TABLE}
    assert {name: facts for name, facts in nvidia.items() if facts["cuda"] is not None} == bootstrap.NVIDIA
    assert {*bootstrap.AUTO_CUDA, bootstrap.AUTO_ROCM} <= set(bootstrap.INDEXES)


# --- a torch of another build in the venv (`doctor` then says: python bootstrap.py --backend cpu)

CPU = {"cuda": None, "hip": None}
CU130 = {"torch": "2.14.1+cu130", "torchvision": "0.29.1+cu130", "cuda": "13.0", "hip": None}


@pytest.mark.parametrize(
    ("backend", "found", "replaced"),
    [
        ("cpu", {}, []),  # no venv yet
        ("cpu", CU130, ["torch", "torchvision"]),
        ("cpu", {"torch": "2.14.1+cpu", "torchvision": "0.29.1+cpu", **CPU}, []),
        ("cpu", {"torch": "2.14.1", "torchvision": "0.29.1", **CPU}, []),  # PyPI's CPU wheels (macOS)
        (
            "cpu",
            {"torch": "2.14.1", "torchvision": "0.29.1", "cuda": "13.0", "hip": None},
            ["torch", "torchvision"],
        ),
        (
            "cpu",
            {"torch": "2.14.1+cpu", "torchvision": "0.29.1+cpu", **CPU, "broken": True},
            ["torch", "torchvision"],
        ),
        ("cu130", CU130, []),
        ("cu130", {**CU130, "torchvision": "0.29.1+cpu"}, ["torchvision"]),
        ("cu126", CU130, ["torch", "torchvision"]),
        (
            "rocm7.2",
            {"torch": "2.14.1+rocm7.2", "torchvision": "0.29.1+rocm7.2", "cuda": None, "hip": "7.2.1"},
            [],
        ),
        ("rocm7.2", {"torch": "2.14.1+cpu", "torchvision": "0.29.1+cpu", **CPU}, ["torch", "torchvision"]),
        ("xpu", {"torch": "2.14.1+xpu", "torchvision": "0.29.1+xpu", **CPU}, []),
        ("mps", {"torch": "2.14.1", "torchvision": "0.29.1", **CPU}, []),
        ("mps", {"torch": "2.14.1+cpu", "torchvision": "0.29.1", **CPU}, ["torch"]),
    ],
)
def test_a_torch_of_another_build_is_replaced(bootstrap, backend, found, replaced):
    assert bootstrap.stale(backend, found) == replaced
    commands = bootstrap.plan(backend, "pip", None, python="py", windows=False, replace=replaced)
    uninstalls = [command for command in commands if "uninstall" in command]
    assert uninstalls == (
        [[".venv/bin/python", "-m", "pip", "uninstall", "--yes", *replaced]] if replaced else []
    )
    if replaced:  # before the install that brings the backend's build
        assert commands.index(uninstalls[0]) < next(i for i, c in enumerate(commands) if "torch==2.14.1" in c)


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_bootstrap_replaces_a_cuda_torch_in_a_cpu_project(bootstrap, installer, tmp_path):
    """Offline, with the real installer: a venv holding a +cu130 torch (stand-in wheels), then
    bootstrap's torch commands for the cpu backend and its local index. Without the uninstall,
    the installer keeps +cu130: `2.14.1+cu130` satisfies `torch==2.14.1`."""
    uv = BIN / "uv"
    if installer == "uv" and not uv.exists():
        pytest.skip("uv is not in the dev environment (pyproject.toml's dev group has it)")
    cu130 = simple_index(
        tmp_path / "cu130", torch_pair(tmp_path / "w130", "2.14.1+cu130", "0.29.1+cu130", "13.0")
    )
    cpu = simple_index(tmp_path / "cpu", torch_pair(tmp_path / "wcpu", "2.14.1+cpu", "0.29.1+cpu", None))
    venv = tmp_path / ".venv"
    isolated = {
        "PIP_CONFIG_FILE": os.devnull,
        "UV_NO_CONFIG": "1",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }
    unset = ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT", "VIRTUAL_ENV")
    unset += ("UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS")

    def commands(index, replace=()):
        planned = bootstrap.plan("cpu", installer, index, python=sys.executable, venv=venv, replace=replace)
        planned = [[str(uv) if part == "uv" else part for part in command] for command in planned]
        return [c for c in planned if "uninstall" in c or "torch==2.14.1" in c]  # what touches torch

    def found():
        result = run(
            [bootstrap.venv_python(venv), "-c", bootstrap.INSTALLED], tmp_path, env=isolated, unset=unset
        )
        return json.loads(result.stdout.splitlines()[-1])

    if installer == "uv":
        run([uv, "venv", venv, "--python", sys.executable], tmp_path, env=isolated, unset=unset)
    else:
        run([sys.executable, "-m", "venv", venv], tmp_path, env=isolated, unset=unset)
    for command in commands(cu130):
        run(command, tmp_path, env=isolated, unset=unset)
    assert found() == CU130
    for command in commands(cpu):  # what pip and uv do with the version pin alone
        run(command, tmp_path, env=isolated, unset=unset)
    assert found()["torch"] == "2.14.1+cu130"
    replace = bootstrap.stale("cpu", found())
    assert replace == ["torch", "torchvision"]
    for command in commands(cpu, replace):
        run(command, tmp_path, env=isolated, unset=unset)
    assert found() == {"torch": "2.14.1+cpu", "torchvision": "0.29.1+cpu", **CPU}
    assert bootstrap.stale("cpu", found()) == []


@pytest.fixture
def doctor(default_project):
    """The default project's doctor.py, imported from its src/ (and forgotten again after)."""
    sys.path.insert(0, str(default_project / "src"))
    try:
        yield importlib.import_module("digit_lab.doctor")
    finally:
        sys.path.remove(str(default_project / "src"))
        for name in [name for name in sys.modules if name.partition(".")[0] == "digit_lab"]:
            del sys.modules[name]


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_an_unreachable_index_gets_doctor_to_name_the_override_not_the_same_command(
    bootstrap, doctor, installer, tmp_path, monkeypatch, capsys
):
    """download.pytorch.org out of reach, and pip (or uv) configured with an index whose torch is
    the CUDA build (PyPI's, as stand-in wheels): bootstrap says so and installs that build; doctor
    says which build came from where and why, and its fix names --torch-index, not the command
    that installed it; that command again keeps the torch rather than download it again; and the
    fix, with an index that has the cpu build, installs the cpu build."""
    if installer == "uv" and not (BIN / "uv").exists():
        pytest.skip("uv is not in the dev environment (pyproject.toml's dev group has it)")
    offline = (tmp_path / "no-route").as_uri()  # answers nothing, as download.pytorch.org here
    configured = simple_index(tmp_path / "pypi", torch_pair(tmp_path / "w", "2.14.1", "0.29.1", "13.0"))
    cpu = simple_index(tmp_path / "cpu", torch_pair(tmp_path / "wcpu", "2.14.1+cpu", "0.29.1+cpu", None))
    monkeypatch.setitem(bootstrap.INDEXES, "cpu", offline)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "TORCH_INDEX_URL", "UV_INDEX"):
        monkeypatch.delenv(name, raising=False)
    isolated = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": configured, "UV_DEFAULT_INDEX": configured}
    isolated |= {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    for name, value in {**isolated, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}.items():  # uv
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # bootstrap.main() moves to the project: back here after

    plan = bootstrap.plan

    def offline_plan(*args, **kwargs):  # the venv and the torch commands, then a stand-in for doctor
        planned = plan(*args, **kwargs)
        torch = [command for command in planned if "uninstall" in command or "torch==2.14.1" in command]
        return [planned[0], *torch, [sys.executable, "-c", ""]]

    monkeypatch.setattr(bootstrap, "plan", offline_plan)
    venv = tmp_path / ".venv"
    command = ["--installer", installer, "--venv", str(venv)]  # `python bootstrap.py` of a cpu project

    def doctors_torch_findings():
        found = json.loads(run([bootstrap.venv_python(venv), "-c", bootstrap.INSTALLED], tmp_path).stdout)
        facts = {**found, "torchvision_cuda": found["cuda"], "os": "linux", "driver": None, "mps": False}
        note = doctor.torch_build.recorded(venv / bootstrap.RECORD)
        return doctor.diagnose({**facts, "bootstrap": note}, "cpu")[:2]

    assert bootstrap.main(command) == 0
    said = capsys.readouterr().out
    assert f"cannot reach {offline} (" in said
    assert "for the cpu build, name an index that has it: --torch-index URL" in said
    (pair, build) = doctors_torch_findings()
    assert pair.level == "ok" and build.level == "note"
    assert build.message.startswith("this is a CUDA 13.0 build of torch; the project targets the CPU")
    assert build.message.endswith(
        f"bootstrap.py installed torch 2.14.1 from {installer}'s configured index "
        f"({offline} could not be reached)"
    )
    fixed = "python bootstrap.py --backend cpu --torch-index URL (URL: an index that has the cpu build"
    assert build.fix.startswith(fixed)
    assert build.fix.split(" (")[0] not in ("python bootstrap.py", "python bootstrap.py --backend cpu")

    assert bootstrap.main(command) == 0  # the same command again: the same index, the same torch
    assert not any("uninstall" in line for line in capsys.readouterr().out.splitlines())
    assert doctors_torch_findings()[1].fix == build.fix

    assert bootstrap.main([*command, "--torch-index", cpu]) == 0  # the fix, with a cpu index for URL
    assert f"torch and torchvision in {venv} are not the cpu build: replacing them" in capsys.readouterr().out
    assert [finding.level for finding in doctors_torch_findings()] == ["ok", "ok"]


# --- which build for which machine: every backend x OS x driver, as data (no network, no GPU)

M = collections.namedtuple("M", "os arch driver compute rocm")
MACHINES = {
    "linux-no-gpu": M("linux", "x86_64", None, None, False),
    "linux-driver-580-ampere": M("linux", "x86_64", "580.82.07", "8.6", False),
    "linux-driver-570-ada": M("linux", "x86_64", "570.124.06", "8.9", False),
    "linux-driver-580-pascal": M("linux", "x86_64", "580.82.07", "6.1", False),
    "linux-driver-535-compute-unknown": M("linux", "x86_64", "535.54.03", None, False),
    "linux-driver-470": M("linux", "x86_64", "470.256.02", "7.5", False),
    "linux-aarch64-driver-580-hopper": M("linux", "aarch64", "580.65.06", "9.0", False),
    "linux-rocm": M("linux", "x86_64", None, None, True),
    "windows-driver-560": M("win32", "AMD64", "560.94", "8.6", False),
    "windows-driver-527": M("win32", "AMD64", "527.41", "8.6", False),
    "windows-no-gpu": M("win32", "AMD64", None, None, False),
    "windows-arm64": M("win32", "ARM64", None, None, False),
    "macos-arm64": M("darwin", "arm64", None, None, False),
    "macos-x86_64": M("darwin", "x86_64", None, None, False),
}

# What `auto` installs on each machine: (backend, index); or the refusal's words.
AUTO = {
    "linux-no-gpu": ("cpu", "cpu"),
    "linux-driver-580-ampere": ("cu130", "cu130"),
    "linux-driver-570-ada": ("cu126", "cu126"),
    "linux-driver-580-pascal": ("cu126", "cu126"),
    "linux-driver-535-compute-unknown": ("cu126", "cu126"),
    "linux-driver-470": "NVIDIA driver 470.256.02 is older than cu126 needs (525.60.13 or newer)",
    "linux-aarch64-driver-580-hopper": ("cu130", "cu130"),
    "linux-rocm": ("rocm7.2", "rocm7.2"),
    "windows-driver-560": ("cu126", "cu126"),
    "windows-driver-527": "NVIDIA driver 527.41 is older than cu126 needs (528.33 or newer)",
    "windows-no-gpu": ("cpu", "cpu"),
    "windows-arm64": ("cpu", None),
    "macos-arm64": ("mps", None),
    "macos-x86_64": ("cpu", None),
}


def outcome(bootstrap, backend, machine, explicit):
    try:
        chosen, index, notes = bootstrap.resolve(backend, bootstrap.Machine(*machine), explicit)
    except bootstrap.Refusal as refusal:
        return str(refusal)
    return chosen, index, notes


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_auto_picks_the_build_for_the_machine(bootstrap, name):
    result = outcome(bootstrap, "auto", MACHINES[name], explicit=True)
    expected = AUTO[name]
    if isinstance(expected, str):
        assert isinstance(result, str) and result.startswith(expected), result
        assert result.endswith("update the NVIDIA driver, or run python bootstrap.py --backend cpu")
    else:
        backend, index_of = expected
        assert result[:2] == (backend, TABLE[index_of]["index"] if index_of else None)
        assert result[2][0].startswith("auto: "), result


UPDATE_OR = ": update the driver, or run python bootstrap.py --backend "


@pytest.mark.parametrize(
    ("backend", "machine", "explicit", "expected"),
    [
        (
            "cu130",
            "linux-driver-570-ada",
            True,
            "NVIDIA driver 570.124.06 is older than cu130 needs (580 or newer)" + UPDATE_OR + "cu126",
        ),
        (
            "cu130",
            "linux-driver-580-pascal",
            False,
            "this GPU (compute capability 6.1) is older than cu130 supports (7.5 and newer)"
            + UPDATE_OR
            + "cu126",
        ),
        (
            "cu132",
            "linux-driver-470",
            False,
            "NVIDIA driver 470.256.02 is older than cu132 needs (580 or newer)" + UPDATE_OR + "cpu",
        ),
        (
            "cu130",
            "macos-arm64",
            True,
            "cu130 has no wheels for macOS arm64; run python bootstrap.py --backend mps",
        ),
        (
            "rocm7.2",
            "windows-no-gpu",
            True,
            "rocm7.2 has no wheels for Windows AMD64; run python bootstrap.py --backend cpu",
        ),
        (
            "mps",
            "linux-no-gpu",
            True,
            "mps has no wheels for Linux x86_64; run python bootstrap.py --backend cpu",
        ),
        # the rendered backend (no --backend) falls back to what the machine runs, and says so
        (
            "cu130",
            "macos-arm64",
            False,
            ("mps", None, ["cu130 has no wheels for macOS arm64, so the mps build instead"]),
        ),
        (
            "xpu",
            "linux-aarch64-driver-580-hopper",
            False,
            ("cpu", "cpu", ["xpu has no wheels for Linux aarch64, so the cpu build instead"]),
        ),
        (
            "rocm7.2",
            "windows-arm64",
            False,
            (
                "cpu",
                None,
                [
                    "rocm7.2 has no wheels for Windows ARM64, so the cpu build instead",
                    "cpu: PyPI's wheels on Windows ARM64",
                ],
            ),
        ),
        # no GPU to ask (a CPU laptop, a Docker build): the CUDA build installs, doctor notes it
        ("cu130", "linux-no-gpu", True, ("cu130", "cu130", [])),
        ("cu126", "windows-driver-560", True, ("cu126", "cu126", [])),
        ("cpu", "macos-arm64", True, ("cpu", None, ["cpu: PyPI's wheels on macOS arm64"])),
        ("cpu", "linux-driver-580-ampere", True, ("cpu", "cpu", [])),
    ],
)
def test_a_named_backend_on_a_machine(bootstrap, backend, machine, explicit, expected):
    result = outcome(bootstrap, backend, MACHINES[machine], explicit)
    if isinstance(expected, tuple):
        chosen, index_of, notes = expected
        expected = (chosen, TABLE[index_of]["index"] if index_of else None, notes)
    assert result == expected


@pytest.mark.parametrize("machine", sorted(MACHINES))
@pytest.mark.parametrize("backend", sorted(TABLE))
@pytest.mark.parametrize("explicit", [True, False], ids=["--backend", "rendered"])
def test_every_backend_on_every_machine_installs_what_runs_or_says_what_to_type(
    bootstrap, backend, machine, explicit
):
    """Across the whole table: an index that has wheels for the machine and a build its driver
    runs, or one line that names a command which itself works on that machine."""
    here = MACHINES[machine]
    result = outcome(bootstrap, backend, here, explicit)
    if isinstance(result, str):
        assert "\n" not in result
        suggested = result.rsplit("python bootstrap.py --backend ", 1)[1]
        follow = outcome(bootstrap, suggested, here, explicit=True)
        assert isinstance(follow, tuple), (result, follow)
        return
    chosen, index, notes = result
    assert chosen != "auto"
    if index is not None:
        assert index == TABLE[chosen]["index"]
        assert here.arch in TABLE[chosen]["wheels"].get(here.os, [])
    if here.driver and "driver" in TABLE[chosen] and index is not None:
        needed = TABLE[chosen]["driver"][here.os]
        assert Version(here.driver) >= Version(needed)
    if chosen != backend and backend != "auto":
        assert not explicit and notes, "a named backend is never swapped silently"


def test_the_uv_marker_and_the_wheels_agree():
    """pyproject.toml's uv sources use `marker`; bootstrap.py uses `wheels`: the same places."""
    machines = {("linux", "x86_64"), ("linux", "aarch64"), ("win32", "AMD64"), ("win32", "ARM64")}
    machines |= {("darwin", "arm64"), ("darwin", "x86_64")}
    for name, row in TABLE.items():
        if not row["index"]:
            assert "marker" not in row, name
            continue
        marker = Marker(row["marker"])
        for os_name, arch in machines:
            applies = marker.evaluate({"sys_platform": os_name, "platform_machine": arch})
            assert applies == (arch in row["wheels"].get(os_name, [])), (name, os_name, arch)


NVIDIA_SMI = """#!/bin/sh
case "$1" in
  --query-gpu=driver_version,compute_cap) printf '%s\n' "{rows}" ;;
  --query-gpu=driver_version) printf '%s\n' "{driver}" ;;
esac
"""


@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    """Put an nvidia-smi on PATH that answers like the real one."""

    def install(rows, driver):
        tools = tmp_path / "bin"
        tools.mkdir(exist_ok=True)
        script = tools / "nvidia-smi"
        script.write_text(NVIDIA_SMI.format(rows=rows, driver=driver))
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tools}{os.pathsep}/usr/bin{os.pathsep}/bin")

    return install


def test_probe_reads_the_driver_and_the_oldest_gpu(bootstrap, fake_nvidia_smi):
    fake_nvidia_smi("580.82.07, 8.6\n580.82.07, 7.0", "580.82.07")
    machine = bootstrap.probe()
    assert (machine.driver, machine.compute, machine.rocm) == ("580.82.07", "7.0", False)


def test_probe_asks_an_old_driver_for_the_version_alone(bootstrap, fake_nvidia_smi):
    fake_nvidia_smi("", "470.256.02")  # before 510, compute_cap is an unknown field
    assert bootstrap.probe().driver == "470.256.02"


def test_auto_refuses_a_driver_too_old_in_one_line(default_project, fake_nvidia_smi):
    fake_nvidia_smi("470.256.02, 7.5", "470.256.02")
    command = [sys.executable, "bootstrap.py", "--backend", "auto", "--dry-run", "--installer", "pip"]
    result = subprocess.run(command, cwd=default_project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stdout == (
        "error: NVIDIA driver 470.256.02 is older than cu126 needs (525.60.13 or newer), the oldest "
        "CUDA build offered: update the NVIDIA driver, or run python bootstrap.py --backend cpu\n"
    )
    assert not (default_project / ".venv").exists()


def test_auto_with_a_current_driver_installs_cu130(default_project, fake_nvidia_smi):
    fake_nvidia_smi("580.82.07, 8.9", "580.82.07")
    command = [sys.executable, "bootstrap.py", "--backend", "auto", "--dry-run", "--installer", "pip"]
    command += ["--torch-index", "pip-config"]
    result = run(command, default_project)
    lines = result.stdout.splitlines()
    assert lines[0] == "auto: NVIDIA driver 580.82.07 on Linux x86_64, so the cu130 build"
    assert lines[-1].endswith("doctor --backend cu130")


def test_dry_run_prints_every_command_and_runs_none(default_project):
    result = run(
        [sys.executable, "bootstrap.py", "--dry-run", "--installer", "pip", "--torch-index", "pip-config"],
        default_project,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(line.startswith("+ ") for line in lines)
    assert not (default_project / ".venv").exists()


def test_an_old_python_is_refused_in_one_line(tmp_path):
    project = render(tmp_path / "p", {"python_version": "3.13"})
    if sys.version_info >= (3, 13):
        pytest.skip("needs a Python older than 3.13 to show the refusal")
    result = subprocess.run(
        [sys.executable, "bootstrap.py"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout.strip().startswith("error: this project needs Python 3.13 or newer")
    assert len(result.stdout.strip().splitlines()) == 1
    assert not (project / ".venv").exists()


OLD_PYTHONS = sorted(Path.home().glob(".pyenv/versions/3.[6-9].*/bin/python")) + sorted(
    Path.home().glob(".pyenv/versions/3.10.*/bin/python")
)


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python 3.6-3.10 on this machine to run bootstrap.py with")
def test_every_older_python_3_gets_the_one_line_refusal(default_project):
    """bootstrap.py avoids newer syntax, so even Python 3.6 reaches the version check."""
    for python in OLD_PYTHONS:
        command = [python, "bootstrap.py", "--dry-run"]
        result = subprocess.run(command, cwd=default_project, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (python, result.stderr)
        assert result.stdout.startswith("error: this project needs Python 3.11 or newer"), python
        assert len(result.stdout.strip().splitlines()) == 1 and not result.stderr


@pytest.mark.slow
def test_make_demo_bootstraps_trains_and_says_where_the_run_is(tmp_path):
    """The real thing, as the README's first command: `make demo` renders the default project,
    bootstraps a fresh .venv with pip (torch from the index pip is configured with: this
    machine has no route to download.pytorch.org), whose doctor says it is ready, trains, and
    ends with a line naming the project and its runs by paths from where make ran."""
    demo = tmp_path / "digit-lab"
    unset = ("VIRTUAL_ENV", "PYTHONPATH", "TORCH_INDEX_URL")
    make = [
        "make",
        "--no-print-directory",
        "-o",
        ".venv/.installed-dev",
        "demo",
        f"DEMO={demo}",
        f"PYTHON={sys.executable}",
    ]
    try:
        result = run([*make, "BOOTSTRAP_ARGS=--installer pip"], ROOT, timeout=2100, unset=unset)
        assert "+ " in result.stdout and "verdict: ready to train" in result.stdout
        last = result.stdout.strip().splitlines()[-1]
        said = f"The project is {demo}; its runs are in {demo}/runs (the paths above are inside the project)."
        assert last == said
        (trained,) = [line for line in result.stdout.splitlines() if line.startswith("test accuracy")]
        run_dir = demo / trained.rsplit("run files in ", 1)[1]  # printed relative to the project
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["test_accuracy"] >= 0.95
        run([demo / ".venv" / "bin" / "pytest", "-q", "-x", "tests/test_model.py"], demo, unset=unset)
    finally:
        shutil.rmtree(demo / ".venv", ignore_errors=True)  # 5 GB: do not leave it in /tmp


OFFERED_PYTHONS = choice_values(copier_config()["python_version"])  # oldest first


def interpreter(version: str) -> str | None:
    """A Python of that version on this machine: on PATH, else pyenv's (its shims on PATH fail
    for a version pyenv has not selected), else None."""
    pyenv = [*Path.home().glob(".pyenv/versions"), *Path("/opt").glob("pyenv*/versions")]
    found = [shutil.which(f"python{version}")]
    found += sorted(str(path) for root in pyenv for path in root.glob(f"{version}.*/bin/python{version}"))
    check = "import sys; print('%d.%d' % sys.version_info[:2])"
    for python in filter(None, found):
        answer = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=60)
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return python
    return None


@pytest.mark.slow
def test_the_oldest_and_newest_python_offered_bootstrap_a_project_that_passes_its_own_tests(tmp_path):
    """For the oldest and the newest python_version copier.yml offers: render the project with
    it, run bootstrap.py with that Python into a fresh .venv (pip, as the project's CI does), and
    run the project's own tests (all of them but the distributed ones, as `pytest` does) with that
    venv's pytest. The suite runs under one Python; a project's CI runs under its own (Python 3.13
    warned of the sweep's unclosed SQLite connection, which its tests turn into failures). One
    after the other, each venv (5 GB) deleted before the next."""
    pythons = {version: interpreter(version) for version in (OFFERED_PYTHONS[0], OFFERED_PYTHONS[-1])}
    missing = [version for version, python in pythons.items() if python is None]
    if missing:
        pytest.skip(f"no Python {' or '.join(missing)} on this machine (pyenv install {missing[0]})")
    unset = ("VIRTUAL_ENV", "PYTHONPATH", "TORCH_INDEX_URL")
    for version, python in pythons.items():
        # with the sweep, whose tests failed under 3.13
        answers = {"project_name": "Digit Lab", "python_version": version, "extras": ["sweep"]}
        project = render(tmp_path / f"py{version}", answers)
        try:
            result = run([python, "bootstrap.py", "--installer", "pip"], project, timeout=1800, unset=unset)
            assert f"python        {version}." in result.stdout, result.stdout[-3000:]  # doctor's report
            assert "verdict: ready to train" in result.stdout, result.stdout[-3000:]
            own_tests = [project / ".venv" / "bin" / "pytest", "-q", "--basetemp", tmp_path / f"tmp{version}"]
            tests = run(own_tests, project, timeout=900, unset=unset)  # its folders in this test's
            assert " passed" in tests.stdout.splitlines()[-1], (version, tests.stdout[-3000:])
        finally:
            shutil.rmtree(project / ".venv", ignore_errors=True)
