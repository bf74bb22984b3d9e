"""Every variant renders, lints clean, passes its own tests and trains.

The variants come from copier.yml (see variants.py). Each step of a variant is a test of its
own (test_render, test_lint, test_precommit, test_own_tests, test_training, each with the
variant's id), and a variant's steps run one after the other on one xdist worker (`--dist
loadgroup`), on one copy of its rendered project. Which of a variant's rendered test files run
is plan.py's: a file that is byte-identical, with what it tests, to one an earlier variant runs
is not run again. `--lane=check` (`make check`) runs the default project and the first Lightning
variant with every extra instead, each with every one of its rendered tests.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plan
import pytest
import run_variant
import yaml
from conftest import BIN, ROOT, precommit, render, run
from forked import Forker
from variants import (
    CROSSED,
    EVERY_FRAMEWORK,
    axes,
    is_multi_process_home,
    questions,
    to_copier,
    variant_id,
    variants,
)

ROWS = variants()
# `${{ ... }}` is a GitHub Actions expression, not Jinja.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#")
# docs/read-the-code.md's table: a module of the package and its length.
READING_ROW = re.compile(r"^\| `([\w.]+\.py)` \| (\d+) \|", re.M)
LONGEST_FUNCTION, LONGEST_FILE = 60, 300  # lines, as issue 16 set them
COVERED_AT_LEAST = 97  # percent of the default project's src/ its own tests execute (issue 16)
# A key, token or password written out: no question asks for one, and no file may hold one.
SECRET = re.compile(r"(api[_-]?key|token|secret|password)['\"]?\s*[:=]\s*['\"]?[\w\-]{16,}", re.IGNORECASE)
# Every variant trains the default config on its dataset; those that download train on the
# tiny copy their tests write (300 images, or 120 in 3 folders: a centred square whose size is
# the class). The test accuracy each reaches at least (chance: 0.1; 0.33 for the folders):
MIN_TEST_ACCURACY = {"digits": 0.95, "mnist": 0.5, "fashion_mnist": 0.5, "cifar10": 0.5, "imagefolder": 0.5}
# On the sample data, smaller images (fewer patches, for the ViT) and more, smaller batches.
SAMPLE_DATA_OVERRIDES = {
    "resnet": ["data.image_size=16", "data.batch_size=16"],
    "vit": ["data.image_size=16", "data.batch_size=16"],
}


def test_every_offered_choice_is_rendered_and_trained():
    for key, values in axes().items():
        missing = set(values) - {row[key] for row in ROWS}
        assert not missing, f"{key}: {sorted(missing)} offered in copier.yml but never trained"
    assert variant_id(ROWS[0]) == "default"


def test_every_model_and_every_dataset_and_tracker_is_trained_in_every_framework():
    style, model = CROSSED
    trained = {(row[style], row[model]) for row in ROWS}
    assert trained == {(f, m) for f in axes()[style] for m in axes()[model]}
    for key in EVERY_FRAMEWORK:
        trained = {(row[style], row[key]) for row in ROWS}
        for framework in axes()[style]:
            missing = set(axes()[key]) - {value for f, value in trained if f == framework}
            assert not missing, f"{key}: {sorted(missing)} never trained with {style}={framework}"


# The datasets whose images are in colour: CIFAR-10's photos, and the folders' images, read as RGB.
COLOUR = {"cifar10", "imagefolder"}


def test_every_model_trains_on_a_grayscale_and_a_colour_dataset():
    for model in axes()["model"]:
        trained = {row["dataset"] in COLOUR for row in ROWS if row["model"] == model}
        kind = "colour" if True in trained else "grayscale"
        assert trained == {False, True}, f"{model} trains on {kind} images only"


def test_each_style_runs_each_files_multi_process_tests_once():
    """The multi-process tests (torchrun, the SLURM script, the sweep's workers) of each test
    file run in one variant of each training style, one variants.MULTI_PROCESS_HOMES picks
    (torchrun's: a folder dataset, read by DataLoader workers under a DistributedSampler)."""
    rows = plan.plan()
    for framework in axes()["framework"]:
        own = [row for row in rows if row.answers["framework"] == framework]
        having = {
            name
            for row in own
            for name in row.keys
            if plan.torchrun_kind(plan.project_of(row.index) / "tests" / name)
        }
        assert {"test_distributed.py", "test_slurm.py", "test_sweep.py"} <= having, framework
        for name in having:
            homes = [row for row in own if name in row.distributed]
            assert len(homes) == 1, (framework, name, [row.id for row in homes])
            assert name in homes[0].selected and is_multi_process_home(homes[0].answers, name)
        (torchrun,) = (row for row in own if "test_distributed.py" in row.distributed)
        assert torchrun.answers["dataset"] == "imagefolder"


def test_every_rendered_test_file_runs_in_some_variant():
    """Each variant's version of each rendered test file, with its subject, runs somewhere: in
    this variant, or in an earlier one whose file and subject hash the same. A file of
    multi-process tests only is the exception (test_each_style_runs_... says where it runs)."""
    rows = plan.plan()
    assert [row.id for row in rows] == [variant_id(row) for row in ROWS]
    run_keys = {row.keys[name] for row in rows for name in row.selected}
    for row in rows:
        project = plan.project_of(row.index)
        assert set(row.keys) == set(plan.rendered_tests(project)), row.id
        for name, key in row.keys.items():
            if plan.torchrun_kind(project / "tests" / name) == "all":
                continue
            assert key in run_keys, f"{row.id}: its {name} (with its subject) runs in no variant"


def test_the_variants_carry_names_of_every_shape():
    """The rows are rendered with at least 10 names (plan.NAMES): packages that sort before and
    after every module and test helper of the projects, a long one, one from a leading number,
    one transliterated, one typed beside a name without Latin letters."""
    rows = plan.plan()
    answers = [
        yaml.safe_load((plan.project_of(row.index) / ".copier-answers.yml").read_text()) for row in rows
    ]
    packages = [answer["package_name"] for answer in answers]
    assert len(set(packages)) >= 10, packages
    modules = {
        path.stem
        for row in rows
        for folder in ("src", "tests")
        for path in (plan.project_of(row.index) / folder).rglob("*.py")
        if not path.stem.startswith("_")
    }
    assert min(packages) < min(modules) and max(packages) > max(modules), (
        packages,
        min(modules),
        max(modules),
    )
    assert {"unicode_lab", "vision_3d", "shuzi_lab"} <= set(packages)
    assert max(len(package) for package in packages) >= 36
    assert any(not answer["project_name"].isascii() for answer in answers)


def test_a_changed_subject_changes_the_key(tmp_path):
    """The key follows what a test file reaches: changing a statement of the package changes the
    keys of exactly the files whose subject holds it; a docstring changes none."""
    plan.plan()
    project = tmp_path / "digit-lab"
    shutil.copytree(plan.project_of(0), project, symlinks=True)
    before = plan.keys_of(project)
    facts = project / "src" / plan.package_of(project) / "project.py"
    text = facts.read_text()
    (backend,) = (i for i, unit in enumerate(plan.units_of(facts)) if "TORCH_BACKEND" in unit.defines)
    subjects = {name: plan.subject(project, project / "tests" / name) for name in before}
    reaching = {name for name, found in subjects.items() if backend in found.reached.get(facts, ())}
    assert "test_doctor.py" in reaching  # doctor checks the build against the backend

    def keys_after(new_text: str) -> dict[str, str]:
        facts.write_text(new_text)
        plan.units_of.cache_clear()
        plan.rendered_files.cache_clear()
        return plan.keys_of(project)

    changed = keys_after(text.replace('TORCH_BACKEND = "cpu"', 'TORCH_BACKEND = "cu130"'))
    assert {name for name in before if changed[name] != before[name]} == reaching
    assert keys_after(text.replace('"""Facts', '"""Some facts', 1)) == before
    assert keys_after(text) == before


@dataclass
class Variant:
    """A variant's rendered project (a copy of its own) and what of its tests it runs."""

    answers: dict[str, Any]
    project: Path
    selected: list[str]
    multi: str  # run_variant.py's MULTI: the files whose multi-process tests run too


def named(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    return [(row, variant_id(row)) for row in rows]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        lane = metafunc.config.getoption("lane")
        rows = plan.check_lane() if lane == "check" else ROWS
        params = [pytest.param(row, id=key, marks=pytest.mark.xdist_group(key)) for row, key in named(rows)]
        metafunc.parametrize("variant", params, indirect=True, scope="module")


@pytest.fixture(scope="module")
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The variant's project: in the fast lane rendered here, else a copy of the plan's render.
    It goes when the variant's last step ends, unless one of its steps failed."""
    answers = request.param
    project = tmp_path_factory.mktemp("variant") / "digit-lab"
    if request.config.getoption("lane") == "check":
        render(project, {**plan.names_of(ROWS.index(answers)), **to_copier(answers)})
        selected, multi = plan.rendered_tests(project), "*"
    else:
        row = plan.plan()[ROWS.index(answers)]
        shutil.copytree(plan.project_of(row.index), project, symlinks=True)
        selected, multi = row.selected, ",".join(row.distributed)
    failed_before = request.session.testsfailed
    yield Variant(answers, project, selected, multi)
    if request.session.testsfailed == failed_before:
        shutil.rmtree(project.parent, ignore_errors=True)


def test_render(variant):
    project, answers = variant.project, variant.answers
    assert (project / "src" / plan.package_of(project) / "train.py").is_file()

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
    unasked = set(answers) - set(recorded)  # a follow-up copier did not ask: slurm, without cluster
    assert unasked <= {"slurm"} and not (unasked and "cluster" in answers["extras"]), unasked
    expected = {k: v for k, v in to_copier(answers).items() if k not in unasked}
    assert {k: recorded[k] for k in expected} == expected
    assert set(recorded) <= {*questions(), "_commit", "_src_path"}  # answers only, no settings or keys
    assert (project / ".github" / "workflows" / "ci.yml").exists() == (answers["ci"] == "github")
    assert (project / ".gitlab-ci.yml").exists() == (answers["ci"] == "gitlab")
    assert (project / "Dockerfile").exists() == (project / ".dockerignore").exists() == answers["docker"]
    assert (project / "scripts" / "slurm" / "train.sbatch").exists() == answers["slurm"]
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert run(["git", "log", "--oneline"], project).stdout.count("\n") == 1

    # --- the code as docs/read-the-code.md says it (the README links it): every module, its length
    package = project / "src" / plan.package_of(project)
    lengths = {path.name: len(path.read_text().splitlines()) for path in package.glob("*.py")}
    reading = project / "docs" / "read-the-code.md"
    listed = {name: int(lines) for name, lines in READING_ROW.findall(reading.read_text())}
    assert listed == lengths, "docs/read-the-code.md's table"
    assert "](docs/read-the-code.md)" in (project / "README.md").read_text()
    check_lengths(project)


def check_lengths(project: Path) -> None:
    """Short functions in src/ and bootstrap.py, and no file the project tracks over 300 lines."""
    for path in [*(project / "src").rglob("*.py"), project / "bootstrap.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length, where = (node.end_lineno or start) - start + 1, path.relative_to(project)
                assert length <= LONGEST_FUNCTION, f"{where}: {node.name} is {length} lines"
    for name in run(["git", "ls-files"], project).stdout.splitlines():
        length = len((project / name).read_text().splitlines())
        assert length <= LONGEST_FILE, f"{name} is {length} lines"


def test_lint(variant):
    """ruff, the config files, the Dockerfile and the scripts, all without edits."""
    project, answers = variant.project, variant.answers
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


def test_precommit(variant):
    """The project's own pre-commit hooks pass and change nothing. The mypy hook runs the
    environment's mypy: the dev one here, which has torch."""
    project = variant.project
    precommit(project)


def one_thread() -> dict[str, str]:
    """The variants' environment: one torch thread, as their own tests use (their conftest.py)."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def forker():
    """A process per test worker that imports torch and the rest once, and forks each variant's
    run_variant.py from there (forked.py): 5-7 s less per variant."""
    server = Forker(one_thread())
    yield server
    server.close()


@pytest.fixture(scope="module")
def own_run(variant, forker) -> dict[str, Any]:
    """The variant's selected test files, then a real training run: one run_variant.py, one
    interpreter. Its report, and what it printed."""
    answers = variant.answers
    report_file = variant.project.parent / "report.json"
    report_file.unlink(missing_ok=True)
    sample = answers["dataset"] != "digits"
    overrides = SAMPLE_DATA_OVERRIDES.get(answers["model"], []) if sample else []
    command = [
        sys.executable,
        ROOT / "tests" / "run_variant.py",
        report_file,
        plan.package_of(variant.project),
    ]
    command += [",".join(variant.selected), variant.multi, *overrides]
    env = one_thread()
    if variant_id(answers) == "default":  # it carries no other variant's code (issue 16)
        env[run_variant.COVERAGE] = "1"
    result = forker.run([str(c) for c in command], variant.project, env, timeout=1800)
    output = f"exit {result.returncode}\n--- stdout\n{result.stdout[-8000:]}"
    output += f"\n--- stderr\n{result.stderr[-4000:]}"
    report = json.loads(report_file.read_text()) if report_file.is_file() else None
    print(f"{variant_id(answers)}: {json.dumps(report)}")
    return {"report": report, "output": output}


def test_own_tests(variant, own_run):
    """The rendered project's own tests that this variant runs (plan.py) pass."""
    if not variant.selected:
        pytest.skip("each of its rendered test files runs, with the same subject, in an earlier variant")
    report, output = own_run["report"], own_run["output"]
    assert report is not None, f"run_variant.py wrote no report\n{output}"
    assert report["pytest_exit"] == 0, f"the rendered project's tests failed\n{output}"
    assert report["test_files"] == sorted(variant.selected), output  # each selected file ran
    assert report["left_in_tmp"] == [], "the project's tests left these in the temporary folder"
    if report["coverage"] is not None:  # the default project's tests run all but COVERED_AT_LEAST of its code
        assert report["coverage"]["percent"] >= COVERED_AT_LEAST, json.dumps(report["coverage"], indent=1)
    print(f"{report['tests']} tests in {report['tests_seconds']} s: {', '.join(variant.selected)}")


def test_training(variant, own_run):
    """A real training run of the default config reaches its accuracy and writes its run folder."""
    report, output = own_run["report"], own_run["output"]
    assert report is not None, f"run_variant.py wrote no report\n{output}"
    assert report["train_exit"] == 0, output
    summary = report["summary"]
    assert summary["epochs"] == 10  # the default config's
    assert summary["test_accuracy"] >= MIN_TEST_ACCURACY[variant.answers["dataset"]], summary
    assert summary["samples_per_second"] > 0
    run_dir = variant.project / "runs" / "suite"
    for name in ("config.yaml", "metrics.csv", "checkpoints/best.pt", "plots/curves.png"):
        assert (run_dir / name).is_file(), name
