"""hooks/init_repo.py, the task `copier copy --trust` runs: a first commit, or a clear word why not."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, render, run

HOOK = ROOT / "hooks" / "init_repo.py"


def test_copy_makes_a_repository_with_everything_committed(default_project):
    assert run(["git", "status", "--porcelain"], default_project).stdout == ""
    log = run(["git", "log", "--format=%s"], default_project).stdout.splitlines()
    assert log == ["Start from copier-pytorch"]
    tracked = run(["git", "ls-files"], default_project).stdout.splitlines()
    assert ".copier-answers.yml" in tracked and "bootstrap.py" in tracked


def test_without_a_git_identity_the_answers_sign_the_commit(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home)}
    project = tmp_path / "p"
    project.mkdir()
    (project / "README.md").write_text("hello\n")
    run([sys.executable, HOOK, "Ada Lovelace", "ada@example.org"], project, env=env)
    author = run(["git", "log", "--format=%an <%ae>"], project, env=env).stdout.strip()
    assert author == "Ada Lovelace <ada@example.org>"


def test_inside_an_existing_repository_it_leaves_the_commit_to_the_user(tmp_path):
    run(["git", "init", "-q"], tmp_path)
    project = render(tmp_path / "sub" / "lab")
    assert not (project / ".git").exists()
    assert run(["git", "rev-list", "--all", "--count"], tmp_path).stdout.strip() == "0"
    assert "sub/" in run(["git", "status", "--porcelain"], tmp_path).stdout


def test_without_git_it_says_so_and_succeeds(tmp_path):
    result = subprocess.run(
        [sys.executable, str(HOOK), "Ada", "ada@example.org"],
        cwd=tmp_path,
        env={"PATH": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "git is not installed" in result.stdout
    assert not (tmp_path / ".git").exists()
