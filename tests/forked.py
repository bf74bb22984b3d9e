"""The suite's side of variant_server.py: run run_variant.py in a child forked from a process that
has already imported the heavy libraries, or as a plain subprocess where forking is not safe."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = Path(__file__).with_name("variant_server.py")


class Forker:
    """One variant_server.py process; `run` is subprocess.run's capture_output=True, text=True."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (the server's stderr, read if it dies; closed in close())
        self.process = subprocess.Popen(
            [sys.executable, SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env
        )
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # both are pipes (above)
        self.stdin, self.stdout = stdin, stdout
        self.pending = b""
        ready = self.reply(timeout=300)
        self.usable = ready is not None and ready.get("threads") == 1  # fork is unsafe beside threads

    def reply(self, timeout: float) -> dict | None:
        """The server's next line, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        fd = self.stdout.fileno()
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self.log.seek(0)
                raise RuntimeError(f"variant_server.py ended:\n{self.log.read().decode()[-4000:]}")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def run(
        self, command: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        """`command` is [python, run_variant.py, ...]: its child runs the rest as its argv."""
        if not self.usable:
            return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
        with tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            request = {"argv": command[1:], "cwd": str(cwd), "env": env}
            request |= {"stdout": str(out), "stderr": str(err)}
            self.stdin.write((json.dumps(request) + "\n").encode())
            self.stdin.flush()
            started = self.reply(timeout=60)
            if started is None:
                raise RuntimeError("variant_server.py did not start the run within 60 s")
            pid = started["pid"]
            done = self.reply(timeout=timeout)
            if done is None:
                os.kill(pid, signal.SIGKILL)
                self.reply(timeout=60)
                raise subprocess.TimeoutExpired(command, timeout, out.read_text(), err.read_text())
            return subprocess.CompletedProcess(command, done["exit"], out.read_text(), err.read_text())

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=60)
        self.stdout.close()
        self.log.close()
