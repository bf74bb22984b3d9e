"""Run inside a rendered project: some of its own test files, then a real training run.

Both share this one process, so torch (and the rest) are imported once per variant. A dataset
that downloads trains on the tiny copy the project's tests write (tests/sample_data.py) in
data/, in its real on-disk format. Writes a JSON report to the path given as the first argument.

    python run_variant.py REPORT.json PACKAGE TESTS MULTI [key=value ...]

TESTS is a comma-separated list of files in tests/ ("" to run none); MULTI lists those of them
whose multi-process tests (marker `distributed`) run too ("*" for every file's); the overrides
go to `train`.
"""

import io
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

import pytest


class Collected:
    """A pytest plugin: it leaves out the multi-process tests of the files not in `multi`, and
    records the test files the run selected, and how many tests."""

    def __init__(self, multi: str) -> None:
        self.multi = None if multi == "*" else set(filter(None, multi.split(",")))
        self.files: set[str] = set()
        self.tests = 0

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.multi is None:
            return
        left = [i for i in items if i.get_closest_marker("distributed") and i.path.name not in self.multi]
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if item not in left]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.files = {item.path.name for item in session.items}
        self.tests = len(session.items)


COVERAGE = "VARIANT_COVERAGE"  # set: the tests run under coverage.py, of src/ (the default variant)


class Measured:
    """coverage.py over src/ while the tests run, in this process and in those they start."""

    def __init__(self, folder: Path) -> None:
        import coverage

        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        rc = folder / "coveragerc"
        rc.write_text(
            f"[run]\nsource = {Path('src').resolve()}\nparallel = true\npatch = subprocess\n"
            f"data_file = {folder / '.coverage'}\n"
        )
        self.cov = coverage.Coverage(config_file=str(rc))
        self.cov.start()

    def finish(self) -> dict:
        """The share of src/'s statements that ran (percent), and the lines that did not."""
        self.cov.stop()
        self.cov.save()
        self.cov.combine()
        percent = self.cov.report(file=io.StringIO())
        missing = {}
        for name in self.cov.get_data().measured_files():
            *_, lines, text = self.cov.analysis2(name)
            if lines:
                missing[str(Path(name).relative_to(Path("src").resolve()))] = text
        return {"percent": round(percent, 2), "missing": missing}


def main() -> None:
    report_path, package, tests, multi, *overrides = sys.argv[1:]
    files = [f"tests/{name}" for name in tests.split(",") if name]
    collected = Collected(multi)
    started = time.perf_counter()
    pytest_code, coverage_report = None, None
    # TMPDIR while the tests run is a folder of its own, pytest's folders lie elsewhere: what
    # the tests leave in it (a killed process's, torchrun's log folders) a user finds in /tmp.
    scratch = Path(report_path).with_name("scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    os.environ["TMPDIR"], tempfile.tempdir = str(scratch), None
    if files:
        # -n 0: in this process (the project runs its tests on several by default). The -W: forked
        # from variant_server.py, this process has imported libraries that are also pytest
        # plugins (anyio, platformdirs) before pytest could rewrite their asserts.
        options = ["-q", "-p", "no:cacheprovider", "-n", "0", "--durations=5", "-m", ""]
        options += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
        basetemp = Path(report_path).with_name("pytest-tmp")
        options += ["--basetemp", str(basetemp)]
        measured = Measured(Path(report_path).with_name("coverage")) if os.environ.get(COVERAGE) else None
        pytest_code = int(pytest.main([*options, *files], plugins=[collected]))
        coverage_report = measured.finish() if measured else None
        if pytest_code == 0:  # a failure's files stay to be read; 24 variants' checkpoints would not fit
            shutil.rmtree(basetemp, ignore_errors=True)
    # Libraries' own files, which any use of them leaves, not the tests': torch's compile cache (one
    # a user's own compile=true runs share, kept on purpose), and the session id that ONNX
    # Runtime writes to $TMPDIR/.ses when it is imported (the deploy extra).
    ours = [p.name for p in scratch.iterdir() if not p.name.startswith("torchinductor_") and p.name != ".ses"]
    left_in_tmp = sorted(ours)
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
        "left_in_tmp": left_in_tmp,
        "coverage": coverage_report,
        "train_exit": train_code,
        "train_wall_seconds": round(train_seconds, 2),
        "summary": json.loads(summary_file.read_text()) if summary_file.exists() else None,
    }
    Path(report_path).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
