"""copier.yml: bad answers are refused with a sentence that says what to type instead, and the
facts it holds agree with each other and with the dev environment."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import copier
import pytest
import yaml
from conftest import ROOT, render
from packaging.version import Version
from variants import choice_values, copier_config, questions


def refusal(answers: dict[str, str], tmp_path) -> str:
    with pytest.raises(ValueError) as error:
        render(tmp_path / "out", answers)
    assert not (tmp_path / "out").exists(), "a refused answer must not leave a half-rendered project"
    return str(error.value)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            {"package_name": "class"},
            "'class' is a Python keyword and cannot be imported; type e.g. class_lab",
        ),
        ({"package_name": "import"}, "'import' is a Python keyword"),
        ({"package_name": "random"}, "'random' would shadow Python's standard-library module"),
        ({"package_name": "test"}, "'test' would shadow Python's standard-library module"),
        ({"package_name": "copy"}, "'copy' would shadow Python's standard-library module"),
        ({"package_name": "typing"}, "type another, e.g. typing_lab"),
        ({"package_name": "torch"}, "'torch' would shadow the torch package this project depends on"),
        ({"package_name": "torchvision"}, "would shadow the torchvision package"),
        ({"package_name": "9lives"}, "is not a valid package name: use lower-case letters"),
        ({"package_name": "my-lab"}, "is not a valid package name"),
        ({"package_name": "Lab"}, "is not a valid package name"),
        ({"package_name": ""}, "Type a package name"),
        ({"project_name": ""}, "Type a name for the project"),
        ({"project_name": "   "}, "Type a name for the project"),
        ({"project_name": "!!!"}, "Use at least one letter or digit"),
        ({"project_name": 'Say "hi"'}, "Leave out double quotes"),
        ({"author_name": ""}, "Type the author's name"),
        ({"author_email": ""}, "is not an e-mail address; type one like ada@example.org."),
        ({"author_email": "ada"}, "is not an e-mail address"),
        ({"author_email": "ada@example"}, "is not an e-mail address"),
        ({"author_email": "ada @example.org"}, "is not an e-mail address"),
        ({"description": ""}, "Type a one-line description"),
        ({"description": "two\nlines"}, "Keep the description on one line"),
        ({"torch_backend": "cu999"}, "Invalid choice"),
        ({"python_version": "3.9"}, "Invalid choice"),
        ({"license": "GPL"}, "Invalid choice"),
        ({"copyright_year": "next year"}, "'next year' is not a year; type one like 2026"),
    ],
)
def test_bad_answers_are_refused_with_what_to_type(answers, expected, tmp_path):
    assert expected in refusal(answers, tmp_path)


def test_package_name_is_derived_from_the_project_name(tmp_path):
    project = render(tmp_path / "p", {"project_name": "My 2nd Lab!"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "my_2nd_lab"
    assert (project / "src" / "my_2nd_lab" / "cli.py").is_file()
    assert '[project.scripts]\nmy-2nd-lab = "my_2nd_lab.cli:main"' in (project / "pyproject.toml").read_text()


COPIER = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD"]


def copier_copy(answer: str, dst) -> subprocess.CompletedProcess:
    """`copier copy` on the command line, with one answer given and the defaults for the rest."""
    return subprocess.run(
        [*COPIER, "-d", answer, str(ROOT), str(dst)], capture_output=True, text=True, timeout=300
    )


def test_the_cli_shows_the_refusal(tmp_path):
    result = copier_copy("package_name=random", tmp_path / "out")
    assert result.returncode != 0
    assert "'random' would shadow Python's standard-library module of that name" in result.stderr


def test_stdlib_list_covers_this_python():
    listed = set(yaml.safe_load(copier_config()["stdlib_modules"]["default"]))
    missing = {name for name in sys.stdlib_module_names if not name.startswith("_")} - listed
    assert not missing, f"add to stdlib_modules in copier.yml: {sorted(missing)}"


def test_backend_table_and_choices_name_the_same_backends():
    config = copier_config()
    assert set(choice_values(config["torch_backend"])) == set(config["backends"]["default"])


def test_facts_match_the_dev_environment():
    """The suite trains rendered projects with this environment: it must be the pinned pair."""
    config = copier_config()
    assert version("torch").split("+")[0] == config["torch_version"]["default"]
    assert version("torchvision").split("+")[0] == config["torchvision_version"]["default"]
    assert version("ruff") == config["ruff_version"]["default"]


def test_every_question_has_help_and_a_default():
    for key, spec in questions().items():
        assert spec.get("help"), f"{key} has no help text"
        assert "default" in spec, f"{key} has no default, so --defaults cannot render"


def test_settings():
    config = copier_config()
    assert config["_subdirectory"] == "template"
    assert config["_answers_file"] == ".copier-answers.yml"
    assert config["_envops"]["undefined"] == "jinja2.StrictUndefined"
    assert Version(copier.__version__) >= Version(config["_min_copier_version"])


def test_a_name_whose_package_would_shadow_torch_renders_with_defaults(tmp_path):
    """`copier copy -d project_name=Torch`: no traceback, the package is torch_lab."""
    result = copier_copy("project_name=Torch", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out" / "src" / "torch_lab").is_dir()
