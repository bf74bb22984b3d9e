"""Copier task, run once after `copier copy`: make the new project a git repository.

`copier update` needs the project in git with the first render committed: it diffs the
user's work against that state. So after a copy this script runs `git init` and commits
everything under the author's name. It never runs during `copier update` (copier.yml
limits it to the copy operation), and it stays out of the way when

- git is not installed (one line says so; the project still works),
- the folder already belongs to a git repository (a project rendered inside a monorepo):
  the user's own repository decides what gets committed.

Usage (copier.yml does this): python init_repo.py AUTHOR_NAME AUTHOR_EMAIL
Standard library only: copier runs it with the Python copier itself runs on.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], check=check, capture_output=True, text=True)


def identity_args(author_name: str, author_email: str) -> list[str]:
    """Use the user's git identity; fall back to the answers only where git has none."""
    args = []
    for key, answer in (("user.name", author_name), ("user.email", author_email)):
        if not git("config", key, check=False).stdout.strip():
            args += ["-c", f"{key}={answer}"]
    return args


def main(author_name: str, author_email: str) -> int:
    project = Path.cwd()
    if shutil.which("git") is None:
        print("git is not installed: skipped `git init` (run it before `copier update`).")
        return 0
    inside = git("rev-parse", "--show-toplevel", check=False)
    if inside.returncode == 0:
        print(f"{project} is inside the git repository {inside.stdout.strip()}: left it to you to commit.")
        return 0
    git("init", "--quiet")
    git("add", "--all")
    message = "Start from copier-pytorch"
    commit = git(
        *identity_args(author_name, author_email), "commit", "-q", "--no-verify", "-m", message, check=False
    )
    if commit.returncode != 0:
        print(f"git commit failed, so commit the first render yourself:\n{commit.stderr.strip()}")
        return 0
    print("Made a git repository with the first render committed (copier update needs it).")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
