"""How long a generated project's own `pytest` takes, variant by variant.

Renders each variant the template suite trains (tests/variants.py, derived from copier.yml)
into a temporary folder and times `pytest` there as a user runs it (the project's own settings:
the torchrun tests left out), then `pytest -m distributed` for the first variant. One variant
at a time, so run it while nothing else runs:

    .venv/bin/python benchmarks/project_tests.py --json build/project_tests.json [--only 0 7]

Prints a Markdown table (docs/benchmarks.md shows one) and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import render  # noqa: E402  (the template suite's own render)
from variants import variant_id, variants  # noqa: E402


def timed_pytest(project: Path, *args: str) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, its worker processes included) of `python -m pytest
    -q ARGS` in the project, and its closing line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0:
        raise SystemExit(f"pytest failed in {project}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return seconds, cpu, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--only", type=int, nargs="*", help="variant numbers (default: all)")
    args = parser.parse_args()
    rows = variants()
    chosen = args.only if args.only else range(len(rows))
    results = []
    with tempfile.TemporaryDirectory(prefix="project-tests-") as scratch:
        for number in chosen:
            project = render(Path(scratch) / f"v{number}", rows[number])
            seconds, cpu, closing = timed_pytest(project)
            entry = {"variant": number, "id": variant_id(rows[number]), "pytest_seconds": round(seconds, 1)}
            entry["pytest_cpu_seconds"] = round(cpu, 1)
            if number == 0:
                entry["distributed_seconds"] = round(timed_pytest(project, "-m", "distributed")[0], 1)
            entry["closing"] = closing
            results.append(entry)
            print(f"{number:2d} {seconds:6.1f} s ({cpu:6.1f} s CPU)  {closing}  [{entry['id']}]", flush=True)
            shutil.rmtree(project)  # a ResNet or ViT variant's runs are hundreds of MB
    print("\n| # | variant | `pytest`, wall | CPU (all processes) |\n| --- | --- | --- | --- |")
    for entry in results:
        wall, cpu = entry["pytest_seconds"], entry["pytest_cpu_seconds"]
        print(f"| {entry['variant']} | {entry['id']} | {wall:.0f} s | {cpu:.0f} s |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        machine = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()}
        machine["python"] = platform.python_version()
        args.json.write_text(json.dumps({"machine": machine, "variants": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
