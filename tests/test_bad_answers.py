"""Odd answers to the questionnaire: each is refused with a sentence that says what to type, or
renders a project that lints clean. A default the questionnaire derives is always one it accepts.

The rendered project's own tables of bad input and faults are template/tests/test_bad_input.py.jinja
and test_run_folder_faults.py.jinja; test_questionnaire.py runs `copier copy -d project_name=Torch`
on the command line.
"""

from __future__ import annotations

import re
from importlib import metadata

import jinja2
import pytest
import yaml
from conftest import BIN, ROOT, precommit, render, run
from jinja2_ansible_filters import AnsibleCoreFiltersExtension
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from variants import copier_config


def refusal(answers: dict[str, str], tmp_path) -> str:
    with pytest.raises(ValueError) as error:
        render(tmp_path / "out", answers)
    assert not (tmp_path / "out").exists(), "a refused answer must not leave a half-rendered project"
    return str(error.value)


REFUSED = [
    ({"package_name": "scipy"}, "'scipy' would shadow the scipy package this project depends on"),
    ({"package_name": "google"}, "would shadow the google package"),
    ({"package_name": "yaml"}, "would shadow the yaml package"),
    ({"package_name": "mlflow"}, "would shadow the mlflow package"),
    ({"package_name": "lightning_fabric"}, "would shadow the lightning_fabric package"),
    ({"package_name": "a" * 41}, "Keep the package name to 40 characters or fewer"),
    ({"project_name": " Digit Lab"}, "the start and the end of the name: 'Digit Lab'"),
    ({"project_name": "Digit Lab "}, "Leave out the spaces at the start and the end"),
    ({"project_name": "L" * 61}, "Keep the name to 60 characters or fewer"),
    ({"description": "x" * 101}, "100 characters or fewer"),
    ({"description": " Trailing space. "}, "without spaces at its ends"),
]


@pytest.mark.parametrize(("answers", "expected"), REFUSED, ids=[str(a)[:40] for a, _ in REFUSED])
def test_a_bad_answer_is_refused_with_what_to_type(answers, expected, tmp_path):
    assert expected in refusal(answers, tmp_path)


# (project name, the package name derived from it): accented Latin letters become plain ones,
# a leading number moves to the end, and a derived name the validator would refuse gets _lab, so
# that `copier copy` (interactive or --defaults) offers one it accepts.
DERIVED = [
    ("Torch", "torch_lab"),
    ("Email", "email_lab"),
    ("Test", "test_lab"),
    ("Class", "class_lab"),
    ("Scipy", "scipy_lab"),
    ("Ünïcødé Läb", "unicode_lab"),
    ("Crème Brûlée", "creme_brulee"),
    ("Łódź Vision", "lodz_vision"),
    ("Straße 42", "strasse_42"),
    ("3D Vision", "vision_3d"),
    ("2 Über Lab", "uber_lab_2"),
    ("123", "project_123"),
    ("数字 2", "project_2"),
    ("Σ Lab", "lab"),
    ("Handwritten Digits", "handwritten_digits"),
    ("Extraordinarily Long Handwritten Digit Recognition Lab", "extraordinarily_long_handwritten_dig"),
]


def questionnaire(template: str, **answers: str) -> str:
    """One of copier.yml's templates (a default, a validator) rendered as copier renders it:
    its Jinja filters, the never-asked facts, the answers given."""
    config = copier_config()
    facts = {
        key: yaml.safe_load(spec["default"]) if isinstance(spec["default"], str) else spec["default"]
        for key, spec in config.items()
        if isinstance(spec, dict) and spec.get("when") is False and spec.get("type") == "yaml"
    }
    jinja = jinja2.Environment(extensions=[AnsibleCoreFiltersExtension], undefined=jinja2.StrictUndefined)
    return jinja.from_string(template).render(**facts, **answers).strip()


@pytest.mark.parametrize(("project_name", "package"), DERIVED)
def test_the_derived_package_name_keeps_what_was_typed_and_is_accepted(project_name, package):
    spec = copier_config()["package_name"]
    derived = questionnaire(spec["default"], project_name=project_name)
    assert derived == package
    assert questionnaire(spec["validator"], project_name=project_name, package_name=derived) == ""


def test_a_derived_package_name_is_the_one_rendered(tmp_path):
    project = render(tmp_path / "p", {"project_name": "Ünïcødé Läb"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "unicode_lab"
    assert (project / "src" / "unicode_lab" / "cli.py").is_file()


def test_a_name_without_latin_letters_is_accepted_and_asks_for_a_package_name(tmp_path):
    """数字实验室 is a fine project name; no package name can be made of it, so the question
    asks for one (no default) and says why, instead of inventing one."""
    assert questionnaire(copier_config()["project_name"]["validator"], project_name="数字实验室") == ""
    said = refusal({"project_name": "数字实验室"}, tmp_path)
    assert "'数字实验室' has no Latin letter or digit to make a Python package name of" in said
    project = render(tmp_path / "p", {"project_name": "数字实验室", "package_name": "shuzi_lab"})
    assert "# 数字实验室" in (project / "README.md").read_text(encoding="utf-8")


def test_the_longest_names_render_a_project_that_lints_clean(tmp_path):
    """The longest names the questionnaire accepts, with spaces and unicode inside: ruff, its
    formatter and the project's pre-commit hooks pass with no edits (the CI's first push)."""
    answers = {
        "project_name": "Ünïcode Handwritten Digits and Cifar Experiments Lab 数字 v2.0",
        "package_name": "handwritten_digits_cifar_experiments_lab",
        "description": "Train, fine-tune and serve image classifiers on handwritten digits, letters, photos.",
    }
    assert [len(answers[key]) for key in ("project_name", "package_name")] == [60, 40]
    project = render(tmp_path / "longest", answers)
    run([BIN / "ruff", "check", "--no-cache", "."], project)
    run([BIN / "ruff", "format", "--check", "--no-cache", "."], project)
    precommit(project)


def project_requirements() -> list[str]:
    """Every distribution a project may depend on: pyproject.toml's, with both frameworks and
    every tracker, and the dev tools."""
    text = (ROOT / "template" / "pyproject.toml.jinja").read_text()
    dependencies = text.split("\ndependencies = [", 1)[1].split("\n]", 1)[0]
    names = re.findall(r'^\s*"([A-Za-z0-9][A-Za-z0-9._-]*)[^"{]*",?$', dependencies, flags=re.MULTILINE)
    dev = re.search(r"^dev = \[(.*)\]$", text, flags=re.MULTILINE)
    assert dev, "pyproject.toml.jinja lists its dev tools as dev = [...]"
    names += re.findall(r'"([A-Za-z0-9][A-Za-z0-9._-]*)[=<>~!][^"]*"', dev.group(1))
    names += ["lightning", "tqdm"]  # one of the two, whichever framework
    trackers = yaml.safe_load(str(copier_config()["tracker_packages"]["default"]))
    if isinstance(trackers, str):
        trackers = yaml.safe_load(trackers)
    names += [Requirement(r).name for packages in trackers.values() for r in packages]
    return sorted(set(names))


def top_level_modules(distribution: metadata.Distribution) -> set[str]:
    listed = distribution.read_text("top_level.txt")
    if listed:
        return {name for name in listed.split() if name.isidentifier()}
    modules = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first == "..":
            continue
        name = first.removesuffix(".py").split(".")[0]
        if name.isidentifier():
            modules.add(name)
    return modules


def test_refused_package_names_cover_every_installed_dependency():
    """The dependency closure of a project, every tracker included, as installed in the dev
    environment: each distribution's top-level modules are in copier.yml's dependency_modules."""
    seen: set[str] = set()
    todo = project_requirements()
    modules: set[str] = set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name}, a dependency of generated projects, is not in the dev environment")
        modules |= {m for m in top_level_modules(distribution) if not m.startswith("_")}
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    assert {"torch", "scipy", "sklearn", "yaml", "PIL"} <= modules
    listed = set(yaml.safe_load(str(copier_config()["dependency_modules"]["default"])))
    missing = modules - listed
    assert not missing, f"add to dependency_modules in copier.yml: {sorted(missing)}"
