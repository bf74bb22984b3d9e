"""The extras through `copier update`: a project made before the `extras` question keeps the
capabilities it had, and a lean project gains an extra later and can drop it again, its user's
edits kept each time. docs/updating.md shows the commands these tests run.

The template is a tagless clone of this repository with this checkout committed on top (as a
fork or a branch is): what holds here holds with release tags too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BIN, render, run
from test_update import GIT_ID, PACKAGE, clone_of_this_checkout, commit, copier_update, edit

# The last commit before the `extras` question: every project made from it carries the sweep.
BEFORE_EXTRAS = "4c2fe47d71389d93f7ee14d90113a1d84a91c44f"
SWEEP_FILES = ("sweep.py", "sweep_cli.py", "sweep_config.py", "sweep_study.py", "sweep_results.py")
CLUSTER_FILES = ("distributed.py", "fsdp.py", "sharded_state.py", "preemption.py", "mid_epoch.py")
OUR_LOOP = "    # ours: a note in the training loop\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    repo = clone_of_this_checkout(tmp_path_factory.mktemp("template") / "copier-pytorch", BEFORE_EXTRAS)
    run(["git", "checkout", "--quiet", "--force", "HEAD"], repo)  # clean, for --vcs-ref=HEAD
    return repo


def copy_at(template: Path, ref: str, dst: Path, *data: str) -> Path:
    command = [BIN / "copier", "copy", "--quiet", "--trust", "--defaults", f"--vcs-ref={ref}"]
    answers = [arg for pair in data for arg in ("-d", pair)]
    run([*command, *answers, template, dst], template.parent, timeout=300)
    return dst


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def edit_the_loop(project: Path) -> Path:
    train = project / "src" / PACKAGE / "train.py"
    edit(train, "def train_one_epoch(", f"{OUR_LOOP.strip()}\ndef train_one_epoch(")
    return train


def sweep_help(project: Path) -> subprocess.CompletedProcess[str]:
    """`python -m <package> sweep --help` in the project (no torch is imported for it)."""
    command = [sys.executable, "-m", PACKAGE, "sweep", "--help"]
    return subprocess.run(command, cwd=project, env={"PYTHONPATH": "src"}, capture_output=True, text=True)


def test_a_project_made_before_the_extras_keeps_its_sweep_its_cluster_and_its_edits(template, tmp_path):
    project = copy_at(template, BEFORE_EXTRAS, tmp_path / "digit-lab", "slurm=true")
    assert "extras" not in answers(project)
    sweep = project / "src" / PACKAGE / "sweep.py"
    ours = "# ours: the sweep's notes\n"
    sweep.write_text(sweep.read_text() + ours)
    preemption = project / "src" / PACKAGE / "preemption.py"
    our_signals = "    # ours: our scheduler's signals"
    edit(preemption, "    def requested(", f"{our_signals}\n    def requested(")
    train = edit_the_loop(project)
    commit(project, "Our experiments")

    result = copier_update(project, "--vcs-ref=HEAD")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(answers(project)["extras"]) == ["cluster", "sweep"] and answers(project)["slurm"] is True
    assert sweep.read_text().endswith(ours) and OUR_LOOP.strip() in train.read_text()
    assert our_signals in preemption.read_text() and "<<<<<<<" not in preemption.read_text()
    assert "StopSignal" in train.read_text()  # the cluster extra's loop, which stops after a step
    assert all((project / "src" / PACKAGE / name).is_file() for name in SWEEP_FILES + CLUSTER_FILES)
    assert (project / "scripts" / "slurm" / "train.sbatch").is_file()
    assert (project / "tests" / "test_distributed.py").is_file()
    assert (project / "configs" / "sweep.yaml").is_file() and (project / "tests" / "test_sweep.py").is_file()
    assert '"optuna' in (project / "pyproject.toml").read_text()
    said = sweep_help(project)
    assert said.returncode == 0 and "trials=50" in said.stdout, said.stderr


def test_a_lean_project_gains_an_extra_and_drops_it_through_copier_update(template, tmp_path):
    project = copy_at(template, "HEAD", tmp_path / "digit-lab")
    assert answers(project)["extras"] == []
    assert not (project / "src" / PACKAGE / "sweep.py").exists()
    assert not any((project / "src" / PACKAGE / name).exists() for name in CLUSTER_FILES)
    assert '"optuna' not in (project / "pyproject.toml").read_text()
    assert sweep_help(project).returncode == 2  # no such command here
    train = edit_the_loop(project)
    commit(project, "Our experiments")

    added = copier_update(project, "--vcs-ref=:current:", "-d", 'extras=["sweep"]')
    assert added.returncode == 0, added.stdout + added.stderr
    assert answers(project)["extras"] == ["sweep"]
    assert all((project / "src" / PACKAGE / name).is_file() for name in SWEEP_FILES)
    assert (project / "tests" / "test_sweep.py").is_file() and (project / "configs" / "sweep.yaml").is_file()
    assert '"optuna' in (project / "pyproject.toml").read_text()
    assert OUR_LOOP.strip() in train.read_text()
    assert sweep_help(project).returncode == 0
    commit(project, "With the sweep")

    dropped = copier_update(project, "--vcs-ref=:current:", "-d", "extras=[]")
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert answers(project)["extras"] == []
    assert not any((project / "src" / PACKAGE / name).exists() for name in SWEEP_FILES)
    assert not (project / "tests" / "test_sweep.py").exists()
    assert '"optuna' not in (project / "pyproject.toml").read_text()
    assert OUR_LOOP.strip() in train.read_text()
    assert run(["git", *GIT_ID, "status", "--porcelain"], project).stdout  # left to commit


@pytest.mark.parametrize("framework", ["pytorch", "lightning"])
def test_read_the_code_names_every_file_an_extra_adds(tmp_path, framework):
    """A lean project's docs/read-the-code.md says which modules each extra would add: exactly
    the modules a project with every extra has beyond the lean one's (train.py is the cluster's
    own, so it is named too)."""
    lean = render(tmp_path / "lean", {"framework": framework})
    every = {"framework": framework, "extras": ["sweep", "cluster", "deploy"], "slurm": True}
    full = render(tmp_path / "full", every)
    modules = {path.name for path in (full / "src" / PACKAGE).glob("*.py")}
    added = modules - {path.name for path in (lean / "src" / PACKAGE).glob("*.py")}
    reading = (lean / "docs" / "read-the-code.md").read_text()
    reading = reading.split("Extras add files", 1)[1].split("Around them", 1)[0]
    named = set(re.findall(r"`(\w+\.py)`", reading))
    assert named == added | {"train.py"}
    for path in ("configs/sweep.yaml", "scripts/slurm/train.sbatch"):
        assert (full / path).is_file() and f"`{path}`" in reading
