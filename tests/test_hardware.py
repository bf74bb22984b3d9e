"""Every backend renders what it needs: uv's index in pyproject.toml, a Dockerfile that lints,
the facts doctor checks against; and the combinations that cannot work are refused."""

from __future__ import annotations

import json
import re
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


# Runs `doctor` of each project given, in one interpreter (torch imported once, not once per
# backend): each project's package is imported afresh from its src/, in its folder.
DOCTOR_EACH = """
import contextlib, io, json, os, sys
from importlib import import_module
reports = {}
for name, project in json.loads(sys.argv[1]).items():
    for module in [m for m in sys.modules if m == "digit_lab" or m.startswith("digit_lab.")]:
        del sys.modules[module]
    sys.path.insert(0, os.path.join(project, "src"))
    os.chdir(project)
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        code = import_module("digit_lab.cli").main(["doctor"])
    reports[name] = {"code": code, "stdout": said.getvalue()}
    sys.path.pop(0)
print(json.dumps(reports))
"""


@pytest.fixture(scope="module")
def doctor_reports(projects) -> dict[str, dict]:
    """Each backend's `doctor` on this machine: its exit code and what it printed."""
    where = json.dumps({name: str(project) for name, project in projects.items()})
    result = run([sys.executable, "-c", DOCTOR_EACH, where], ROOT)
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("backend", sorted(TABLE))
def test_doctor_checks_this_machine_against_each_backend(doctor_reports, backend):
    """The dev environment holds a CUDA build of torch on a machine without a GPU: fine (with a
    note) for the CPU and CUDA backends, the wrong build for ROCm, XPU and MPS."""
    code, said = doctor_reports[backend]["code"], doctor_reports[backend]["stdout"]
    assert f"rendered for torch backend '{backend}'" in said, said
    if backend in ("rocm7.2", "xpu", "mps"):
        assert code == 1
        assert f"[FAIL] the project targets {backend} but this torch is a CUDA" in said
        assert f"fix: python bootstrap.py --backend {backend}" in said
    else:
        assert code == 0 and "verdict: ready to train" in said, said


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
