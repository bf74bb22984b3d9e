"""bootstrap.py: its plan as data for every backend and installer, and one real run end to end."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import render, run
from variants import choice_values, copier_config


@pytest.fixture(scope="module")
def bootstrap(default_project):
    spec = importlib.util.spec_from_file_location("bootstrap", default_project / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BACKENDS = copier_config()["backends"]["default"]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("windows", [False, True], ids=["posix", "windows"])
def test_pip_plan(bootstrap, backend, windows):
    index = BACKENDS[backend]["index"]
    commands = bootstrap.plan(backend, "pip", index, python="py", windows=windows)
    venv_python = str(Path(".venv", "Scripts/python.exe" if windows else "bin/python"))
    assert commands == [
        ["py", "-m", "venv", ".venv"],
        [venv_python, "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1", "--index-url", index],
        [venv_python, "-m", "pip", "install", "--editable", ".[dev]"],
        [venv_python, "-m", "digit_lab", "doctor", "--backend", backend],
    ]
    assert not any("--user" in part for command in commands for part in command)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_uv_plan(bootstrap, backend):
    index = BACKENDS[backend]["index"]
    commands = bootstrap.plan(backend, "uv", index, python="py", windows=False)
    assert commands[0] == ["uv", "venv", ".venv", "--python", "py", "--allow-existing"]
    assert commands[1][-2:] == ["--index-url", index]
    assert commands[2][-2:] == ["--editable", ".[dev]"]
    assert commands[3][-4:] == ["digit_lab", "doctor", "--backend", backend]


def test_pip_config_index_leaves_the_index_to_pip(bootstrap):
    assert bootstrap.choose_index("cpu", "pip-config") is None
    commands = bootstrap.plan("cpu", "pip", None, python="py", windows=False)
    assert "--index-url" not in commands[1]


def test_a_mirror_replaces_the_backend_index(bootstrap):
    assert (
        bootstrap.choose_index("cu130", "https://mirror.example/whl/cu130")
        == "https://mirror.example/whl/cu130"
    )


def test_an_unreachable_index_falls_back_to_the_configured_one(bootstrap, monkeypatch, capsys):
    monkeypatch.setattr(bootstrap, "reachable", lambda url, timeout=10.0: "no route to host")
    assert bootstrap.choose_index("cpu", None) is None
    assert "cannot reach https://download.pytorch.org/whl/cpu (no route to host)" in capsys.readouterr().out
    monkeypatch.setattr(bootstrap, "reachable", lambda url, timeout=10.0: None)
    assert bootstrap.choose_index("cpu", None) == "https://download.pytorch.org/whl/cpu"


def test_every_offered_backend_can_be_bootstrapped(bootstrap):
    assert set(bootstrap.BACKENDS) == set(choice_values(copier_config()["torch_backend"]))
    assert {k: v["index"] for k, v in BACKENDS.items()} == bootstrap.BACKENDS


def test_dry_run_prints_every_command_and_runs_none(default_project):
    result = run(
        [sys.executable, "bootstrap.py", "--dry-run", "--installer", "pip", "--torch-index", "pip-config"],
        default_project,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("+ ") for line in lines)
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
def test_bootstrap_end_to_end_then_train(tmp_path):
    """The real thing: a fresh .venv with pip, torch from the index pip is configured with
    (this machine has no route to download.pytorch.org), doctor, then `train`."""
    project = render(tmp_path / "digit-lab", {"project_name": "Digit Lab"})
    unset = ("VIRTUAL_ENV", "PYTHONPATH", "TORCH_INDEX_URL")
    try:
        bootstrap = [sys.executable, "bootstrap.py", "--installer", "pip"]
        result = run(bootstrap, project, timeout=1500, unset=unset)
        assert "+ " in result.stdout and "verdict: ready to train" in result.stdout
        venv_bin = project / ".venv" / "bin"
        run([venv_bin / "digit-lab", "train", "run_name=e2e"], project, timeout=600, unset=unset)
        summary = json.loads((project / "runs" / "e2e" / "summary.json").read_text())
        assert summary["test_accuracy"] >= 0.95
        run([venv_bin / "pytest", "-q", "-x", "tests/test_model.py"], project, unset=unset)
    finally:
        shutil.rmtree(project / ".venv", ignore_errors=True)  # 5 GB: do not leave it in /tmp
