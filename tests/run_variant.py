"""Run inside a rendered project: its own test suite, then a real training run.

Both share this one process, so torch (and the rest) are imported once per variant. A dataset
that downloads trains on the tiny copy the project's tests write (tests/sample_data.py) in
data/, in its real on-disk format. Writes a JSON report to the path given as the first argument.

    python run_variant.py REPORT.json PACKAGE MARKERS [key=value ...]

MARKERS selects the project's tests as `pytest -m` does ("" for all of them).
"""

import json
import sys
import time
from importlib import import_module
from pathlib import Path

import pytest


def main() -> None:
    report_path, package, markers, *overrides = sys.argv[1:]
    started = time.perf_counter()
    pytest_code = int(pytest.main(["-q", "-p", "no:cacheprovider", "-m", markers, "tests"]))
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
        "tests_seconds": round(tests_seconds, 2),
        "train_exit": train_code,
        "train_wall_seconds": round(train_seconds, 2),
        "summary": json.loads(summary_file.read_text()) if summary_file.exists() else None,
    }
    Path(report_path).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
