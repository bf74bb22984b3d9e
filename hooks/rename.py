"""Copier migration for the files the template renamed: the user's edits move with them.

A plain `copier update` cannot carry a rename. It sees the old name only in the old release and
the new name only in the new one, so it deletes the user's file under the old name, edits and
all, and writes the template's file under the new name. copier.yml runs this script on every
update, once in each stage, and it handles each rename of RENAMES that the update crosses:

before  `git mv OLD NEW` in the project, so that the merge sees the user's version at the new
        name. This alone keeps every edit; copier, lacking a common ancestor for NEW, would
        mark each difference between the user's file and the template's as a conflict.
after   the real three-way merge, with the template's OLD of the release the project came from
        as the common ancestor (read from the template's git history): the user's edits and
        the template's changes combine, and only lines both changed are marked, with copier's
        own `<<<<<<< before updating` / `>>>>>>> after updating` markers.

An update crosses a rename when the template had OLD at the commit the project came from and
has NEW but no OLD in the tree updated to. That is read from the template's git history, not
from version tags: copier runs a migration with a `version` only between two tags, so a template
without them (a fork, a branch, `--vcs-ref=HEAD`) would skip it and lose the edits.

OLD and NEW are paths in the template repository, names in Jinja as there
(`template/src/{{ package_name }}/runs.py`); the answers file gives the values. The three-way
merge needs OLD to be rendered verbatim (no `.jinja`); otherwise copier's markers stay.

Usage (copier.yml does this, from the project's folder):
    python rename.py before|after --from REF [--answers FILE]
Standard library only: copier runs it with the Python copier itself runs on.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE_REPO = Path(__file__).resolve().parents[1]
LABELS = ("before updating", "last update", "after updating")  # copier's conflict labels
PACKAGE = "template/src/{{ package_name }}"
# Every file the template renamed: the release that renamed it, its path before and after. A
# rename gets a row here (docs/updating.md, "How releases are made"), and no other migration.
RENAMES = (
    # run_folder.py manages one run's folder; `runs` names the command that lists past runs
    ("0.2.0", f"{PACKAGE}/runs.py", f"{PACKAGE}/run_folder.py"),
    # beside dataset.py and tracker.py the old names did not say which file does what
    ("0.3.0", f"{PACKAGE}/data.py", f"{PACKAGE}/loaders.py"),
    ("0.3.0", f"{PACKAGE}/tracking.py", f"{PACKAGE}/metrics_csv.py"),
    # it says which torch build is installed and from where, for both doctors (cpu and GPU)
    ("0.3.0", f"{PACKAGE}/torch_source.py", f"{PACKAGE}/torch_build.py"),
)


def git(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], check=check, capture_output=True, text=True, cwd=cwd)


def answers(path: Path) -> dict[str, str]:
    """The one-line answers of copier's answers file (enough to fill in a path)."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"(\w+): *(.*?) *", line)
        if match:
            found[match[1]] = match[2].strip("'\"")
    return found


def subdirectory() -> str:
    """copier.yml's _subdirectory: where the project's files lie in the template repository."""
    match = re.search(r"^_subdirectory: *(\S+)", (TEMPLATE_REPO / "copier.yml").read_text(), re.M)
    return match[1].strip("'\"") if match else ""


def in_project(template_path: str, values: dict[str, str]) -> str:
    """template/src/{{ package_name }}/x.py -> src/<package>/x.py"""
    prefix = subdirectory().rstrip("/") + "/" if subdirectory() else ""
    if not template_path.startswith(prefix):
        sys.exit(f"rename.py: {template_path} is not under {prefix}")
    path = template_path[len(prefix) :]
    return re.sub(r"\{\{ *(\w+) *\}\}", lambda m: values[m[1]], path)


def crossed(version_from: str) -> list[tuple[str, str, str]]:
    """The renames between the template at version_from and this checkout of it, in order."""
    found = []
    for release, old, new in RENAMES:
        was_there = git("cat-file", "-e", f"{version_from}:{old}", check=False, cwd=TEMPLATE_REPO)
        if (
            was_there.returncode == 0
            and not (TEMPLATE_REPO / old).exists()
            and (TEMPLATE_REPO / new).is_file()
        ):
            found.append((release, old, new))
    return found


def record_file(new: str) -> Path:
    """Where the before stage tells the after stage what it moved: in the project's git folder."""
    name = "copier-rename-" + re.sub(r"[^\w.-]", "_", new) + ".json"
    return Path(git("rev-parse", "--git-path", name).stdout.strip())


def before(old: str, new: str) -> None:
    record = record_file(new)
    record.unlink(missing_ok=True)
    if not Path(old).is_file():
        pass  # the user removed it: the update brings the template's file under the new name
    elif Path(new).exists():
        print(
            f"{new} exists already, so {old} was not moved onto it; the update removes {old} "
            f"(your last commit keeps it: git show HEAD:./{old})"
        )
    else:
        Path(new).parent.mkdir(parents=True, exist_ok=True)
        git("mv", old, new)
        blob = git("rev-parse", f":./{new}").stdout.strip()
        record.write_text(json.dumps({"old": old, "new": new, "blob": blob}))
        print(f"The template renamed {old} to {new}: moved your file there (git mv) before the merge.")


def index_entry(path: str) -> tuple[str, dict[int, str]]:
    """The path's mode and its blob at each stage in the index (0, or 1-3 while unmerged)."""
    mode, stages = "100644", {}
    for line in git("ls-files", "--stage", "--", path).stdout.splitlines():
        info, _ = line.split("\t", 1)
        mode, blob, stage = info.split()
        stages[int(stage)] = blob
    return mode, stages


def git_bytes(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    """A git command's output as bytes: file contents go through unchanged (line ends too)."""
    return subprocess.run(["git", *args], input=stdin, capture_output=True, check=True, cwd=cwd).stdout


def write_blob(content: bytes) -> str:
    return git_bytes("hash-object", "-w", "--stdin", stdin=content).decode().strip()


def merge(ours: bytes, base: bytes, theirs: bytes) -> tuple[bytes, int]:
    """git merge-file on three versions: the merged content and its number of conflicts."""
    labels = [arg for label in LABELS for arg in ("-L", label)]
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            files.append(Path(scratch, name))
            files[-1].write_bytes(content)
        merge_file = ["git", "merge-file", "-p", *labels, *map(str, files)]
        result = subprocess.run(merge_file, capture_output=True)
    if result.returncode < 0 or result.returncode > 127:
        raise RuntimeError(result.stderr.decode().strip())
    return result.stdout, result.returncode


def after(new: str, old_template: str, version_from: str) -> None:
    record = record_file(new)
    if not record.exists():
        return  # the before stage moved nothing
    entry = json.loads(record.read_text())
    record.unlink()
    old = entry["old"]
    try:
        base = git_bytes("show", f"{version_from}:{old_template}", cwd=TEMPLATE_REPO)
    except subprocess.CalledProcessError:
        print(
            f"Could not read {old_template} at {version_from} from the template's history: "
            f"{new} keeps copier's conflict markers around every difference."
        )
        return
    mode, stages = index_entry(new)
    ours = git_bytes("cat-file", "blob", entry["blob"])
    theirs = git_bytes("cat-file", "blob", stages[3]) if 3 in stages else Path(new).read_bytes()
    merged, conflicts = merge(ours, base, theirs)
    Path(new).write_bytes(merged)
    Path(f"{new}.rej").unlink(missing_ok=True)
    full = git("ls-files", "--full-name", "--error-unmatch", "--", new).stdout.splitlines()[0]
    lines = [f"0 {'0' * 40}\t{full}"]  # drop whatever stages copier left
    if conflicts:
        theirs_blob = stages.get(3) or write_blob(theirs)
        lines += [
            f"{mode} {write_blob(base)} 1\t{full}",
            f"{mode} {entry['blob']} 2\t{full}",
            f"{mode} {theirs_blob} 3\t{full}",
        ]
        print(
            f"Merged the template's changes into {new}: {conflicts} conflict(s), marked "
            f"<<<<<<< {LABELS[0]} ... >>>>>>> {LABELS[2]}."
        )
    else:
        lines.append(f"{mode} {entry['blob']} 0\t{full}")  # staged: the rename alone
        print(f"Merged the template's changes into {new} ({old} before): no conflict.")
    subprocess.run(
        ["git", "update-index", "--index-info"],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["before", "after"])
    parser.add_argument("--from", dest="version_from", required=True, help="the commit updated from")
    parser.add_argument("--answers", default=".copier-answers.yml")
    args = parser.parse_args(argv)
    values = answers(Path(args.answers))
    for _, old_template, new_template in crossed(args.version_from):
        old, new = in_project(old_template, values), in_project(new_template, values)
        if args.stage == "before":
            before(old, new)
        else:
            after(new, old_template, args.version_from)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
