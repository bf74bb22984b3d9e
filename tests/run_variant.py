"""Run inside a rendered project: some of its own test files, then a real training run.

Both share this one process, so torch (and the rest) are imported once per variant. A dataset
that downloads trains on the tiny copy the project's tests write (tests/sample_data.py) in
data/, in its real on-disk format. Writes a JSON report to the path given as the first argument.

    python run_variant.py REPORT.json PACKAGE MARKERS TESTS [key=value ...]

MARKERS selects the project's tests as `pytest -m` does ("" for all of them); TESTS is a
comma-separated list of files in tests/ ("" to run none); the overrides go to `train`.
"""

import json
import sys
import time
from importlib import import_module
from pathlib import Path

import pytest


class Collected:
    """A pytest plugin: the test files the run selected, and how many tests."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.tests = 0

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.files = {item.path.name for item in session.items}
        self.tests = len(session.items)


def main() -> None:
    report_path, package, markers, tests, *overrides = sys.argv[1:]
    files = [f"tests/{name}" for name in tests.split(",") if name]
    collected = Collected()
    started = time.perf_counter()
    pytest_code = None
    if files:
        # -n 0: in this process (the project runs its tests on several by default)
        options = ["-q", "-p", "no:cacheprovider", "-n", "0", "--durations=5", "-m", markers]
        pytest_code = int(pytest.main([*options, *files], plugins=[collected]))
    tests_seconds = time.perf_counter() - started

    sys.path.insert(0, str(Path("src").resolve()))
    if Path("tests/sample_data.py").is_file():
        sys.path.insert(0, str(Path("tests").resolve()))
        import_module("sample_data").install(Path("data"))
    cli = import_module(f"{package}.cli")
    started = time.perf_counter()
    train_code = cli.main(["train", "run_name=suite", *overrides])
    train_seconds = time.perf_counter() - started
    summary_file = Path("runs/suite/summary.json")
    report = {
        "pytest_exit": pytest_code,
        "test_files": sorted(collected.files),
        "tests": collected.tests,
        "tests_seconds": round(tests_seconds, 2),
        "train_exit": train_code,
        "train_wall_seconds": round(train_seconds, 2),
        "summary": json.loads(summary_file.read_text()) if summary_file.exists() else None,
    }
    Path(report_path).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
