"""Helpers shared by the template's tests: render a variant, run a command in it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from plan import render as render  # the tests' way to render a variant

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the dev environment's tools: ruff, pre-commit, ...


def run(
    args: list[Any],
    cwd: Path,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
):
    """Run a command (with `env` added to ours, `unset` removed); fail the test if it fails."""
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


MYPY_CACHE = ROOT / "build" / "mypy-cache"  # shared by the renders' mypy hooks


def precommit(project: Path) -> None:
    """The project's own pre-commit hooks, run as its README says: from its environment (here
    the dev one, whose mypy has torch's types); they pass and change nothing."""
    tools = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MYPY_CACHE_DIR": str(MYPY_CACHE)}
    run([BIN / "pre-commit", "run", "--all-files", "--show-diff-on-failure"], project, timeout=900, env=tools)
    assert run(["git", "status", "--porcelain"], project).stdout == "", "pre-commit changed files"


@pytest.fixture(scope="session")
def default_project(tmp_path_factory) -> Path:
    """The default project, rendered once per test process."""
    return render(tmp_path_factory.mktemp("default") / "digit-lab", {"project_name": "Digit Lab"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lane",
        choices=["all", "check"],
        default="all",
        help="check: only the fast lane (make check), the default and one Lightning variant, fully",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast lane keeps only the steps of its variants."""
    if config.getoption("lane") != "check":
        return
    kept = [item for item in items if "variant" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


# --- xdist: a variant's steps go to one worker, one after the other

VARIANT_STEP = re.compile(r"^tests/test_variants\.py::\w+\[(?P<variant>.+)\]$")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`, grouping each variant's steps (test_variants.py's parametrized tests,
    marked xdist_group by their variant's id) into one unit of work. xdist's own loadgroup reads
    the mark through a node attribute pytest 9 no longer has, so the group is read from the id."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class VariantScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            match = VARIANT_STEP.match(nodeid)
            return f"variant {match['variant']}" if match else super()._split_scope(nodeid)

    return VariantScheduling(config, log)


# --- the suite's wall time, for benchmarks/run.py: recorded after a full run (`make test`)

SUITE_RECORD = ROOT / "build" / "suite-time.json"


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[STARTED] = time.time()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    filtered = config.option.keyword or config.option.markexpr
    if hasattr(config, "workerinput") or not whole or filtered or exitstatus != 0:
        return
    SUITE_RECORD.parent.mkdir(exist_ok=True)
    record = {
        "seconds": round(time.time() - config.stash[STARTED], 1),
        "tests": session.testscollected,
        "workers": getattr(config.option, "numprocesses", None),
        "date": time.strftime("%Y-%m-%d"),
    }
    SUITE_RECORD.write_text(json.dumps(record) + "\n")


STARTED = pytest.StashKey[float]()
