"""Imports the libraries every variant's tests load, once, then forks a fresh child per variant.

run_variant.py runs a variant's own tests and a training run in one interpreter, which spends
4-7 s importing torch, torchvision, pytest and a tracker before its first test. Started once per
test worker, this process pays that once: each request forks it, and the child runs
run_variant.py as `python tests/run_variant.py ...` would, in the variant's folder, with the
environment and output files the request names. The project's own package is never imported
here, so each child imports its variant's fresh.

Protocol, one JSON object a line:
    ready     {"threads": N}      (forking is safe only while N is 1)
    request   {"argv": [...], "cwd": "...", "env": {...}, "stdout": "path", "stderr": "path"}
    replies   {"pid": N}, then {"exit": CODE}   (CODE < 0: ended by that signal)
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import sys
import threading
import traceback

# Not xdist: pytest rewrites a plugin's asserts on import. Some of these import plugins of
# pytest's too (anyio, platformdirs): run_variant.py silences pytest's warning about those.
PRELOAD = [
    "pytest",
    "torch",
    "torchvision",
    "torchvision.transforms.v2",
    "omegaconf",
    "safetensors.torch",
    "tqdm",
    "PIL.Image",
    "matplotlib",
    "sklearn.datasets",
    "optuna",
    "optuna.importance",
    "optuna.visualization.matplotlib",
    "lightning.pytorch",
    "torchmetrics",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "wandb",
    "torch.utils.tensorboard",
]


def preload() -> None:
    import matplotlib

    matplotlib.use("Agg")  # as the projects' plots.py does, before pyplot
    for name in [*PRELOAD, "matplotlib.pyplot"]:
        with contextlib.suppress(ImportError):  # one this environment lacks: not needed, then
            importlib.import_module(name)


def child(request: dict, path: list[str], protocol: int) -> None:
    """In the forked child: become `python run_variant.py ARGS` in request["cwd"]; never returns."""
    code = 1
    try:
        os.close(protocol)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        for fd, name, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, request["stdout"], written),
            (2, request["stderr"], written),
        ):
            opened = os.open(name, flags, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = list(request["argv"])
        sys.path[:] = [os.path.dirname(os.path.abspath(sys.argv[0])), *path[1:]]
        runpy.run_path(sys.argv[0], run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> None:
    path = list(sys.path)
    protocol = os.dup(1)  # replies go here; fd 1 becomes stderr, so nothing stray mixes in
    os.dup2(2, 1)
    preload()
    replies = os.fdopen(protocol, "w", buffering=1)
    replies.write(json.dumps({"threads": threading.active_count()}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            child(request, path, protocol)
        replies.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n")


if __name__ == "__main__":
    main()
