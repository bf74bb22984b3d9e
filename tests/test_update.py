"""`copier update`: from the previous release with a user's edits, and re-answering a question.

The previous release is a real earlier commit of this repository (FROM_RELEASE); the new one is
this checkout, uncommitted changes included. A clone in tmp gets both as PEP 440 tags, as a user
finds them (the tags of this repository may be missing from a CI checkout); a second clone has
no tags, as a fork or a branch may have none. docs/updating.md describes what these tests show.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from conftest import BIN, ROOT, run

# The release the update test starts from: its version and the commit its tag points at.
# Each release moves it forward (docs/updating.md, "How releases are made").
FROM_RELEASE = ("0.1.0", "3c691bc28088893683d5cd62da57f5e7603c6e06")
# A commit between 0.2.0 and 0.3.0: run_folder.py has its name, data.py and tracking.py not yet.
BEFORE_RENAMES = "1f319332e14a3845b1aa6b1dc81a8f183a9e8dc5"
# A commit with torch_source.py, which became torch_build.py.
WITH_TORCH_SOURCE = "8eb74526f4ad967567b9f3ed8aa3ffcc8ac1bc48"
PACKAGE = "digit_lab"
MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
GIT_ID = ["-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.org", "-c", "commit.gpgsign=false"]


def current_version() -> str:
    """The version this checkout will be released as: pyproject.toml's."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def clone_of_this_checkout(repo: Path, *commits: str) -> Path:
    """A clone of this repository without its tags, and this checkout as it is (what `git
    status` shows, .gitignore respected) committed on top of HEAD."""
    run(["git", "clone", "--quiet", "--no-tags", "--no-checkout", ROOT, repo], ROOT, timeout=120)
    for commit in commits:
        if subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, timeout=30).returncode:
            pytest.fail(f"{commit} is not in this clone: fetch the full history")
    run(["git", f"--work-tree={ROOT}", "add", "--all", "--", "."], repo, timeout=120)
    run(["git", *GIT_ID, "commit", "--quiet", "--allow-empty", "-m", "this checkout"], repo)
    return repo


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A clone of this repository with two tags: the previous release, and this checkout."""
    version, commit = FROM_RELEASE
    repo = clone_of_this_checkout(tmp_path_factory.mktemp("template") / "copier-pytorch", commit)
    run(["git", "tag", f"v{version}", commit], repo)
    run(["git", "tag", f"v{current_version()}"], repo)
    return repo


def copy(template: Path, version: str, dst: Path) -> Path:
    """`copier copy --trust --defaults --vcs-ref v<version>`: a project at that release."""
    command = [BIN / "copier", "copy", "--quiet", "--trust", "--defaults", f"--vcs-ref=v{version}"]
    run([*command, template, dst], template.parent, timeout=300)
    return dst


def copier_update(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`copier update --trust --defaults ...` as a user runs it; its exit code is left to the caller."""
    command = [str(BIN / "copier"), "update", "--trust", "--defaults", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)


def commit(project: Path, message: str) -> None:
    run(["git", "add", "--all"], project)
    run(["git", *GIT_ID, "commit", "--quiet", "--no-verify", "-m", message], project)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: the test's edit expects {old!r} once"
    path.write_text(text.replace(old, new))


def status(project: Path) -> list[str]:
    return run(["git", "status", "--porcelain"], project).stdout.splitlines()


# A user's edits: a path, and text in it that must survive an update. Each is made by one
# function below (a new file is made whole, an edit replaces a line of the rendered file).
OUR_TEST = '''"""Our change: SimpleNet drops out after each hidden layer."""

from torch import nn

from digit_lab.config import ModelConfig
from digit_lab.model import build_model


def test_every_hidden_layer_drops_out():
    model = build_model(ModelConfig(), input_shape=(1, 8, 8), num_classes=10)
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 2
'''
OUR_MODULE = '''"""Our own module: the template does not know it, so updates leave it alone."""


def flip(images):
    return images.flip(-1)
'''
OUR_README = "## Our results\n\nDropout 0.1 with lr 0.05 for 12 epochs.\n"


def edit_like_a_user(project: Path) -> list[tuple[str, str]]:
    """Hyperparameters, a layer, a test, a module of ours: (path, text the update must keep)."""
    src = project / "src" / PACKAGE
    edit(project / "configs/train.yaml", "epochs: 10\n", "epochs: 12\n")
    edit(project / "configs/train.yaml", "  lr: 0.01\n", "  lr: 0.05\n")
    dropout = "layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(0.1)]"
    edit(src / "model.py", "layers += [nn.Linear(width, size), nn.ReLU()]", dropout)
    (project / "tests/test_dropout.py").write_text(OUR_TEST)
    (src / "augment.py").write_text(OUR_MODULE)
    return [
        ("configs/train.yaml", "epochs: 12\n"),
        ("configs/train.yaml", "  lr: 0.05\n"),
        (f"src/{PACKAGE}/model.py", dropout),
        ("tests/test_dropout.py", OUR_TEST),
        (f"src/{PACKAGE}/augment.py", OUR_MODULE),
    ]


def edit_the_files_0_3_0_renamed(src: Path) -> list[tuple[str, str, str, str]]:
    """A line in data.py and in tracking.py, on lines the template kept: (old name, new name,
    the line, the line as the user edited it)."""
    edited = []
    for old_name, new_name, line, ours in (
        (
            "data.py",
            "loaders.py",
            '    mean = torch.tensor(preprocessing["mean"]).view(1, -1, 1, 1)',
            "one per channel",
        ),
        ("tracking.py", "metrics_csv.py", "        self.path = Path(path)", "the csv file"),
    ):
        edit(src / old_name, line, f"{line}  # ours: {ours}")
        edited.append((old_name, new_name, line, f"{line}  # ours: {ours}"))
    return edited


def check_kept(project: Path, kept: list[tuple[str, str]]) -> list[str]:
    """Every edit is in its file, merged or inside conflict markers; the conflicted files."""
    conflicted = []
    for path, text in kept:
        content = (project / path).read_text()
        assert text in content, f"{path}: the user's {text!r} was lost in the update"
        if re.search(f"^{MARKERS[0]}$", content, re.M):
            conflicted.append(path)
    assert not list(project.rglob("*.rej")), "inline conflicts leave no .rej files"
    return sorted(set(conflicted))


def project_tests(project: Path) -> None:
    """The project's own tests: the model's and ours, after collecting them all (every test
    module imports, with the renamed module)."""
    select = ["-n", "0", "-k", "test_model or test_dropout"]  # a few tests: no worker processes
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *select], project,
        env={"OMP_NUM_THREADS": "1"}, timeout=300)  # fmt: skip


def test_update_from_the_previous_release_keeps_every_edit(template, tmp_path):
    old, new = FROM_RELEASE[0], current_version()
    project = copy(template, old, tmp_path / "digit-lab")
    src = project / "src" / PACKAGE
    first_commit = run(["git", "rev-parse", "HEAD"], project).stdout

    checked = run([BIN / "copier", "check-update", "--output-format", "json"], project, timeout=120)
    assert json.loads(checked.stdout) == {
        "update_available": True,
        "current_version": old,
        "latest_version": new,
    }

    kept = edit_like_a_user(project)
    edit(project / "README.md", "\n## Set up\n", f"\n{OUR_README}\n## Set up\n")
    kept.append(("README.md", OUR_README))
    note = '    "data.root",  # ours: the data folder stays too on resume\n'
    edit(src / "runs.py", '    "data.test_fraction",\n)', f'    "data.test_fraction",\n{note})')
    edited = edit_the_files_0_3_0_renamed(src)
    renamed = [  # old name, new name, the user's edit, a line of the template's new version
        ("runs.py", "run_folder.py", note, "One run's folder"),
        ("data.py", "loaders.py", edited[0][3], "Data splits and loaders"),
        ("tracking.py", "metrics_csv.py", edited[1][3], "whatever the tracker"),
    ]

    # Uncommitted edits: copier refuses, and changes nothing.
    refused = copier_update(project)
    assert refused.returncode != 0
    assert "Destination repository is dirty; cannot continue." in refused.stderr
    assert f"_commit: v{old}\n" in (project / ".copier-answers.yml").read_text()
    assert note in (src / "runs.py").read_text()

    commit(project, "Our experiments")
    ours = run(["git", "rev-parse", "HEAD"], project).stdout
    result = copier_update(project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"_commit: v{new}\n" in (project / ".copier-answers.yml").read_text()

    # The renamed files: the user's version moved, the template's changes merged into it.
    for old_name, new_name, ours_in_it, template_line in renamed:
        assert not (src / old_name).exists(), old_name
        kept.append((f"src/{PACKAGE}/{new_name}", ours_in_it))
        assert template_line in (src / new_name).read_text(), f"the template's change to {new_name}"
    conflicted = check_kept(project, kept)
    for old_name, new_name, _, _ in renamed:
        if f"src/{PACKAGE}/{new_name}" not in conflicted:  # the rename staged, the merge not
            assert f"RM src/{PACKAGE}/{old_name} -> src/{PACKAGE}/{new_name}" in status(project)

    # Copier's closing message says where to read and how to resolve; nothing is committed, and
    # the copy-only task (git init and a first commit) ran in none of the update's renders.
    assert "CHANGELOG.md" in result.stderr and MARKERS[0] in result.stderr
    assert run(["git", "rev-parse", "HEAD"], project).stdout == ours != first_commit
    assert "Made a git repository" not in output and "left it to you" not in output
    if not conflicted:
        project_tests(project)


def test_an_edit_on_lines_the_template_changed_is_marked_not_lost(template, tmp_path):
    project = copy(template, FROM_RELEASE[0], tmp_path / "digit-lab")
    src = project / "src" / PACKAGE
    first_line = (src / "runs.py").read_text().splitlines()[0]
    ours = '"""Where our runs go, and what they leave behind."""'
    edit(src / "runs.py", first_line, ours)  # 0.2.0 rewrote this docstring
    helper = (
        "\n\ndef run_names(root: Path) -> list[str]:\n    return sorted(p.name for p in root.iterdir())\n"
    )
    (src / "runs.py").write_text((src / "runs.py").read_text() + helper)
    # A setting's default, on lines the template moved out of the file (ModelConfig: config.py
    # in 0.1.0, model.py in 0.2.0, model_config.py since 0.3.0).
    wider = "    hidden: list[int] = field(default_factory=lambda: [256, 64])  # ours: wider"
    edit(src / "config.py", "    hidden: list[int] = field(default_factory=lambda: [128, 64])", wider)
    commit(project, "Our docstring, helper and default")

    result = copier_update(project)
    assert result.returncode == 0, result.stdout + result.stderr
    merged = (src / "run_folder.py").read_text()
    assert merged.startswith(f"{MARKERS[0]}\n{ours}\n=======\n"), merged[:400]
    assert "One run's folder" in merged[: merged.index(MARKERS[1])]  # the template's side
    assert merged.count(MARKERS[0]) == 1, "only the lines both changed are marked"
    assert merged.endswith(helper), "the user's helper merged in, outside the markers"
    # The moved lines: the user's version kept between the markers, where they were.
    config = (src / "config.py").read_text()
    assert wider in config[config.index(MARKERS[0]) : config.index(MARKERS[1])]
    assert "class ModelConfig" in (src / "model_config.py").read_text()
    assert "1 conflict" in result.stdout  # the rename's merge says so (hooks/rename.py)
    # git knows the files are unmerged: `git commit` refuses until they are resolved and added.
    assert {f"UU src/{PACKAGE}/run_folder.py", f"UU src/{PACKAGE}/config.py"} <= set(status(project))
    refused = subprocess.run(["git", *GIT_ID, "commit", "-qm", "x"], cwd=project, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert refused.returncode != 0 and "unmerged" in refused.stdout + refused.stderr


def test_without_version_tags_the_renamed_files_keep_their_edits(tmp_path):
    """A fork or a branch without tags: copier runs no migration that has a `version` then, so
    the renames' migration has none, and reads the renames from the template's history."""
    template = clone_of_this_checkout(tmp_path / "copier-pytorch", BEFORE_RENAMES)
    run(["git", "checkout", "--quiet", "--force", "HEAD"], template)  # clean, for --vcs-ref=HEAD
    project = tmp_path / "digit-lab"
    command = [BIN / "copier", "copy", "--quiet", "--trust", "--defaults", f"--vcs-ref={BEFORE_RENAMES}"]
    run([*command, template, project], tmp_path, timeout=300)
    edited = edit_the_files_0_3_0_renamed(project / "src" / PACKAGE)
    commit(project, "Our edits")

    result = copier_update(project, "--vcs-ref=HEAD")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Updating to template version 0.0.0.post" in result.stderr, "the template has no tags"
    for old_name, new_name, line, ours in edited:
        old, new = f"src/{PACKAGE}/{old_name}", f"src/{PACKAGE}/{new_name}"
        theirs = (ROOT / "template" / "src" / "{{ package_name }}" / new_name).read_text()
        assert (project / new).read_text() == theirs.replace(line, ours), new
        assert not (project / old).exists(), old
        assert f"RM {old} -> {new}" in status(project)
        assert f"renamed {old} to {new}: moved your file there" in result.stdout


def test_an_update_crosses_the_renames_the_template_made_after_the_project():
    """Which renames hooks/rename.py makes, from the commit a project came from to this checkout;
    none for a project made after them, whose own data.py stays where it is."""
    spec = importlib.util.spec_from_file_location("rename", ROOT / "hooks" / "rename.py")
    rename = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rename)
    olds = [Path(old).name for _, old, _ in rename.crossed(FROM_RELEASE[1])]
    assert olds == ["runs.py", "data.py", "tracking.py"]
    assert [Path(old).name for _, old, _ in rename.crossed(BEFORE_RENAMES)] == ["data.py", "tracking.py"]
    assert [Path(old).name for _, old, _ in rename.crossed(WITH_TORCH_SOURCE)] == ["torch_source.py"]
    assert rename.crossed("HEAD") == []


def test_reanswering_a_question_switches_the_variant_and_keeps_edits(template, tmp_path):
    project = copy(template, current_version(), tmp_path / "digit-lab")
    kept = edit_like_a_user(project)
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n" + OUR_README)  # below the template's last line
    kept.append(("README.md", OUR_README))
    commit(project, "Our experiments")

    result = copier_update(project, "--vcs-ref=:current:", "-d", "framework=lightning")
    assert result.returncode == 0, result.stdout + result.stderr
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["framework"] == "lightning" and answers["_commit"] == f"v{current_version()}"
    assert "LightningModule" in (project / "src" / PACKAGE / "train.py").read_text()
    assert check_kept(project, kept) == []

    train = [sys.executable, "-m", PACKAGE, "train", "run_name=switched", "epochs=1", "device=cpu"]
    run(train, project, env={"PYTHONPATH": "src", "OMP_NUM_THREADS": "1"}, timeout=300)
    summary = json.loads((project / "runs/switched/summary.json").read_text())
    assert summary["epochs"] == 1 and summary["test_accuracy"] > 0.2


def test_the_changelog_names_this_version_and_the_release_updated_from():
    releases = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases[0] == current_version(), "the newest CHANGELOG entry is pyproject.toml's version"
    assert FROM_RELEASE[0] in releases


def test_the_scheduled_update_workflow_in_the_docs_is_valid(tmp_path):
    text = (ROOT / "docs" / "updating.md").read_text()
    (workflow,) = re.findall(r"```yaml\n(# \.github/workflows/template-update\.yml\n.*?)```", text, re.S)
    path = tmp_path / "template-update.yml"
    path.write_text(workflow)
    run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path], tmp_path, timeout=120
    )
    assert "copier update --trust --defaults" in workflow
