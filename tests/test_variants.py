"""Every variant renders, lints clean, passes its own tests and trains.

The variants come from copier.yml (see variants.py); each one is a test here.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
import yaml
from conftest import BIN, ROOT, render, run
from variants import EVERY_FRAMEWORK, PAIRED, axes, questions, variant_id, variants, with_distributed_tests

ROWS = variants()
MYPY_CACHE = ROOT / "build" / "mypy-cache"
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#")  # ${{ ... }}: a GitHub Actions expression
# A key, token or password written out: no question asks for one, and no file may hold one.
SECRET = re.compile(r"(api[_-]?key|token|secret|password)['\"]?\s*[:=]\s*['\"]?[\w\-]{16,}", re.IGNORECASE)
# Every variant trains the default config on its dataset; those that download train on the
# tiny copy their tests write (300 images, or 120 in 3 folders: a centred square whose size is
# the class). The test accuracy each reaches at least (chance: 0.1; 0.33 for the folders):
MIN_TEST_ACCURACY = {"digits": 0.95, "mnist": 0.5, "fashion_mnist": 0.5, "cifar10": 0.5, "imagefolder": 0.5}
# ResNet-18 learns about 60 images a second here (2 CPU cores): fewer epochs of the 1,257
# digits; smaller images (fewer patches, for the ViT) and more, smaller batches of the sample.
DIGITS_OVERRIDES = {"resnet": ["epochs=4"]}
SAMPLE_DATA_OVERRIDES = {
    "resnet": ["data.image_size=16", "data.batch_size=16"],
    "vit": ["data.image_size=16", "data.batch_size=16"],
}


def test_every_offered_choice_is_rendered_and_trained():
    for key, values in axes().items():
        missing = set(values) - {row[key] for row in ROWS}
        assert not missing, f"{key}: {sorted(missing)} offered in copier.yml but never trained"
    assert variant_id(ROWS[0]) == "default"


def test_every_tracker_is_trained_in_every_framework():
    first = PAIRED[0]
    for key in EVERY_FRAMEWORK:
        trained = {(row[first], row[key]) for row in ROWS}
        for framework in axes()[first]:
            missing = set(axes()[key]) - {value for f, value in trained if f == framework}
            assert not missing, f"{key}: {sorted(missing)} never trained with {first}={framework}"


def test_the_torchrun_tests_run_in_both_styles_with_both_loaders_and_slurm():
    chosen = with_distributed_tests()
    assert {(row["framework"], row["dataset"] == "imagefolder") for row in chosen} == {
        (framework, folder) for framework in axes()["framework"] for folder in (False, True)
    }
    assert any(row["slurm"] for row in chosen)


@pytest.mark.parametrize("answers", ROWS, ids=[variant_id(row) for row in ROWS])
def test_variant(answers, tmp_path):
    project = render(tmp_path / "project", answers)
    package = "digit_lab"
    assert (project / "src" / package / "train.py").is_file()

    # --- no Jinja leftovers, in names or in text
    for path in project.rglob("*"):
        if ".git" in path.parts:
            continue
        assert not JINJA_LEFTOVER.search(path.name), path
        if path.is_file():
            text = path.read_text()
            match = JINJA_LEFTOVER.search(text)
            where = path.relative_to(project)
            assert match is None, f"{where}: {text[match.start() - 40 : match.end() + 40]!r}"
            assert not SECRET.search(text), f"{where} holds what looks like a secret"

    # --- the answers, the files they switch, the first commit
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: recorded[k] for k in answers} == answers
    assert set(recorded) <= {*questions(), "_commit", "_src_path"}  # answers only, no settings or keys
    assert (project / ".github" / "workflows" / "ci.yml").exists() == (answers["ci"] == "github")
    assert (project / ".gitlab-ci.yml").exists() == (answers["ci"] == "gitlab")
    assert (project / "Dockerfile").exists() == (project / ".dockerignore").exists() == answers["docker"]
    assert (project / "scripts" / "slurm" / "train.sbatch").exists() == answers["slurm"]
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert run(["git", "log", "--oneline"], project).stdout.count("\n") == 1

    # --- lint: ruff, the config files, the project's own pre-commit hooks, all without edits
    run([BIN / "ruff", "check", "--no-cache", "."], project)
    run([BIN / "ruff", "format", "--check", "--no-cache", "."], project)
    run([BIN / "validate-pyproject", "pyproject.toml"], project)
    if answers["ci"] == "github":
        workflow = ".github/workflows/ci.yml"
        run([BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow], project)
        dependabot = ".github/dependabot.yml"
        run([BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot", dependabot], project)
        run([BIN / "zizmor", "--offline", "--persona=pedantic", ".github"], project)  # 0 findings
    if answers["ci"] == "gitlab":
        run([BIN / "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml"], project)
    if answers["docker"]:
        run([BIN / "hadolint", "Dockerfile"], project)
    if answers["slurm"]:
        run([BIN / "shellcheck", "scripts/slurm/train.sbatch"], project)
    # mypy's hook runs the environment's mypy (the dev one here, with torch); its cache of torch's
    # types is shared by the variants
    tools = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MYPY_CACHE_DIR": str(MYPY_CACHE)}
    run([BIN / "pre-commit", "run", "--all-files", "--show-diff-on-failure"], project, timeout=900, env=tools)
    assert run(["git", "status", "--porcelain"], project).stdout == "", "pre-commit changed files"

    # --- the project's own tests, then a real training run, in one process
    report_file = tmp_path / "report.json"
    digits = answers["dataset"] == "digits"
    overrides = (DIGITS_OVERRIDES if digits else SAMPLE_DATA_OVERRIDES).get(answers["model"], [])
    markers = "" if answers in with_distributed_tests() else "not distributed"
    result = run(
        [sys.executable, ROOT / "tests" / "run_variant.py", report_file, package, markers, *overrides],
        project,
        env={"OMP_NUM_THREADS": "1"},
    )
    report = json.loads(report_file.read_text())
    output = f"--- stdout\n{result.stdout[-8000:]}\n--- stderr\n{result.stderr[-4000:]}"
    assert report["pytest_exit"] == 0, f"the rendered project's tests failed\n{output}"
    assert report["train_exit"] == 0, output
    summary = report["summary"]
    epochs = [int(o.split("=")[1]) for o in overrides if o.startswith("epochs=")]
    assert summary["epochs"] == (epochs[-1] if epochs else 10)
    assert summary["test_accuracy"] >= MIN_TEST_ACCURACY[answers["dataset"]], summary
    assert summary["samples_per_second"] > 0
    run_dir = project / "runs" / "suite"
    for name in ("config.yaml", "metrics.csv", "checkpoints/best.pt", "plots/curves.png"):
        assert (run_dir / name).is_file(), name
    print(f"{variant_id(answers)}: {json.dumps(report)}")
