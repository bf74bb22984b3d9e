"""Every backend renders what it needs: uv's index in pyproject.toml, a Dockerfile that lints,
the facts doctor checks against; and the combinations that cannot work are refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import tomllib
from conftest import BIN, ROOT, render, run
from packaging.markers import Marker
from test_questionnaire import refusal
from variants import copier_config

TABLE = copier_config()["backends"]["default"]
DOCKER = sorted(name for name in TABLE if name not in ("mps", "auto"))


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Each backend rendered once, with docker wherever it is offered."""
    root = tmp_path_factory.mktemp("backends")
    return {
        name: render(root / name.replace(".", "_"), {"torch_backend": name, "docker": name in DOCKER})
        for name in TABLE
    }


@pytest.mark.parametrize("backend", sorted(TABLE))
def test_pyproject_names_the_backend_index_for_uv(projects, backend):
    project = projects[backend]
    run([BIN / "validate-pyproject", "pyproject.toml"], project)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    row = TABLE[backend]
    uv = pyproject.get("tool", {}).get("uv", {})
    if not row["index"]:  # mps: PyPI's wheels; auto: bootstrap.py decides on the machine
        assert uv == {}
        return
    (index,) = uv["index"]
    assert (index["url"], index["explicit"]) == (row["index"], True)
    packages = {"torch", "torchvision", *([row["companion"]] if "companion" in row else [])}
    assert set(uv["sources"]) == packages
    for (source,) in uv["sources"].values():
        assert source["index"] == index["name"]
        Marker(source["marker"])  # a marker uv can read
        assert source["marker"] == row["marker"]


@pytest.mark.parametrize("backend", DOCKER)
def test_dockerfile_lints_and_uses_the_backend_image(projects, backend):
    project = projects[backend]
    run([BIN / "hadolint", "Dockerfile"], project)
    dockerfile = (project / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    python = copier_config()["python_version"]["default"]
    assert bases[-1] == TABLE[backend].get("image", f"python:{python}-slim")
    if TABLE[backend]["index"]:
        assert f"--index-url {TABLE[backend]['index']}" in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M), "the image trains as a user, not as root"
    assert "--mount=type=cache" in dockerfile
    readme = (project / "README.md").read_text()
    assert f"docker run --rm {TABLE[backend].get('run', '')}".rstrip() in readme
    assert ".venv" in (project / ".dockerignore").read_text().split()


def test_gpu_images_say_how_to_hand_over_the_gpu(projects):
    assert "docker run --rm --gpus all -v" in (projects["cu130"] / "README.md").read_text()
    assert "--device /dev/kfd" in (projects["rocm7.2"] / "Dockerfile").read_text()


@pytest.mark.parametrize("backend", sorted(TABLE))
def test_doctor_checks_this_machine_against_each_backend(projects, backend):
    """The dev environment holds a CUDA build of torch on a machine without a GPU: fine (with a
    note) for the CPU and CUDA backends, the wrong build for ROCm, XPU and MPS."""
    command = [sys.executable, "-m", "digit_lab", "doctor"]
    env = {**os.environ, "PYTHONPATH": str(projects[backend] / "src")}
    result = subprocess.run(command, cwd=projects[backend], env=env, capture_output=True, text=True)
    assert f"rendered for torch backend '{backend}'" in result.stdout, result.stderr
    if backend in ("rocm7.2", "xpu", "mps"):
        assert result.returncode == 1
        assert f"[FAIL] the project targets {backend} but this torch is a CUDA" in result.stdout
        assert f"fix: python bootstrap.py --backend {backend}" in result.stdout
    else:
        assert result.returncode == 0 and "verdict: ready to train" in result.stdout


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"torch_backend": "mps", "docker": True}, "Docker cannot reach the GPU of a Mac"),
        ({"torch_backend": "auto", "docker": True}, "An image is built for one target"),
    ],
)
def test_docker_refuses_what_no_image_can_be(answers, expected, tmp_path):
    assert expected in refusal(answers, tmp_path)


def test_choice_labels_name_the_drivers_of_the_table():
    labels = copier_config()["torch_backend"]["choices"]
    for label, name in labels.items():
        driver = re.search(r"driver (\d+)", label)
        if driver:
            assert TABLE[name]["driver"]["linux"].split(".")[0] == driver.group(1), label


def test_shell_scripts_pass_shellcheck():
    scripts = [ROOT / ".ci" / "run", *sorted(ROOT.glob("benchmarks/*.sh"))]
    assert ROOT / "benchmarks" / "gpu_check.sh" in scripts
    run([BIN / "shellcheck", *scripts], ROOT)
