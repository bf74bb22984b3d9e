"""uv on a generated project, offline: `uv lock` resolves it when its PyTorch index is pointed
at another index (a mirror, a local one) by name, as the README, docs/troubleshooting.md and
bootstrap.py's fallback message say. Every wheel is a stand-in, served from local folders."""

from __future__ import annotations

import pytest
import tomllib
from conftest import BIN, ROOT, render, run
from packaging.requirements import Requirement
from standin_wheels import build_wheel, simple_index, torch_pair

UV = BIN / "uv"


@pytest.mark.skipif(
    not UV.exists(), reason="uv is not in the dev environment (pyproject.toml's dev group has it)"
)
@pytest.mark.parametrize("how", ["--index", "UV_INDEX"])
def test_uv_lock_takes_torch_from_the_index_named_instead(how, tmp_path):
    project = render(tmp_path / "p", {"torch_backend": "cpu"})
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert [index["name"] for index in meta["tool"]["uv"]["index"]] == ["pytorch-cpu"]
    requirements = [
        Requirement(r) for r in meta["project"]["dependencies"] + meta["dependency-groups"]["dev"]
    ]
    # PyPI: each dependency at the lowest version it allows, and PyPI's (untagged) torch pair
    wheels = torch_pair(tmp_path / "pypi-wheels", "2.14.1", "0.29.1", None)
    for requirement in requirements:
        if requirement.name not in ("torch", "torchvision"):
            lowest = next(s.version for s in requirement.specifier if s.operator in ("==", ">="))
            wheels.append(build_wheel(tmp_path / "pypi-wheels", requirement.name, lowest))
    pypi = simple_index(tmp_path / "pypi", wheels)
    mirror = simple_index(
        tmp_path / "mirror", torch_pair(tmp_path / "mirror-wheels", "2.14.1+cpu", "0.29.1+cpu", None)
    )

    command = [UV, "lock", "--offline", "--default-index", pypi]
    env = {"UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_PYTHON_DOWNLOADS": "never"}
    if how == "--index":
        command += ["--index", f"pytorch-cpu={mirror}"]
    else:
        env["UV_INDEX"] = f"pytorch-cpu={mirror}"
    run(command, project, env=env, unset=("UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL"))

    lock = tomllib.loads((project / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    for name, version in (("torch", "2.14.1+cpu"), ("torchvision", "0.29.1+cpu")):
        assert packages[name]["version"] == version
        assert packages[name]["source"]["registry"].rstrip("/") == str(tmp_path / "mirror")
    for requirement in requirements:
        if requirement.name not in ("torch", "torchvision"):
            assert packages[requirement.name]["source"]["registry"].rstrip("/") == str(tmp_path / "pypi")


def test_the_override_is_named_where_a_user_looks(default_project):
    readme = (default_project / "README.md").read_text()
    assert "uv sync --index pytorch-cpu=" in readme and "UV_INDEX=pytorch-cpu=" in readme
    troubleshooting = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert "uv lock --index pytorch-cpu=" in troubleshooting and "UV_INDEX=pytorch-cpu=" in troubleshooting
    assert "--index pytorch-<backend>=URL" in (default_project / "bootstrap.py").read_text()
