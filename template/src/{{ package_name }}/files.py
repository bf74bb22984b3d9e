"""Every file the project writes goes through here: whole or not at all, and never over
something it should not replace.

`atomic_write` writes to a temporary file beside the target (`<name>.tmp`), flushes it to
disk and renames it over the target, which is atomic: a crash, a full disk or a kill mid-write
leaves the previous file as it was, and a failed write removes its temporary file. Checkpoints,
metrics.csv, summary.json, config.yaml, plots, predictions and exports all use it.
`same_file` gives a written file a second name the same way (best.pt and last.pt after a best
epoch): a hard link, so the bytes are written and kept on disk once.

`check_output` guards a path the user names with `--output`: a folder, a device, a pipe, a
symbolic link (not followed: a write lands on the path named or nowhere), a checkpoint, or any
existing file that is not an earlier output of the same kind is refused before any work.

`RunLock` is an OS lock on a run folder while a process trains in it; the OS releases it when
the process ends, however it ends. A lock (`lock`: this one, a sweep's) is the locking process's
alone: a forked child (a DataLoader worker) closes its copy of the file at once, so workers
left behind by a `kill -9` do not keep the run from being resumed.
"""

from __future__ import annotations

import os
import shutil
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import UserError


@contextmanager
def atomic_write(path: str | Path, binary: bool = False) -> Iterator[IO[Any]]:
    """`with atomic_write(path) as file:` write to `file`; `path` is replaced when the block
    ends without an error, and left as it was otherwise."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.unlink(missing_ok=True)  # a stale hard link (same_file) would pass the write on
        with open(temporary, "wb") if binary else open(temporary, "w", encoding="utf-8", newline="") as file:
            try:
                yield file
                file.flush()
            except RuntimeError:  # torch.save reports a failed write so; flushing shows the OSError behind it
                file.flush()
                raise
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        # A failed write names no file, a failed open the temporary one: the user knows the target.
        if isinstance(error, OSError) and error.filename in (None, str(temporary)):
            error.filename = str(path)
        raise


def same_file(source: Path, path: Path) -> None:
    """`path` becomes a second name of the file `source` (a hard link), in one step like
    atomic_write. A later atomic_write of either name replaces that name only: the other keeps
    the bytes. Where the file system has no hard links (FAT, some network shares) `path` gets a
    copy."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        with atomic_write(path, binary=True) as file, open(source, "rb") as original:
            shutil.copyfileobj(original, file)
        return
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_write(path) as file:
        file.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, binary=True) as file:
        file.write(data)


def check_output(
    path: Path, kind: str, is_previous: Callable[[Path], bool], source: Path | None = None
) -> Path:
    """`path` if writing a `kind` there replaces nothing but an earlier one (see the module's doc)."""
    odd = not_a_file(path)
    if odd:
        raise UserError(
            f"--output {path} is {odd}: name {'the file itself' if 'link' in odd else f'a {kind} file'}"
        )
    if not path.exists():
        return path
    if path.suffix in (".pt", ".ckpt") or (source is not None and path.samefile(source)):
        raise UserError(f"--output {path} is a checkpoint: name another file, a {kind} file")
    if not is_previous(path):
        raise UserError(
            f"--output {path} exists and is not a {kind} file this project wrote: name another file, "
            "or remove that one first"
        )
    return path


def not_a_file(path: Path) -> str | None:
    """What makes `path` no place to write a file at (a symbolic link, a folder, a device or a
    pipe), or None: nothing there yet, or a regular file."""
    if path.is_symlink():
        return "a symbolic link, which is not followed"
    if path.is_dir():
        return "a folder"
    if path.exists() and not path.is_file():
        return "a special file (a device or a pipe)"
    return None


class RunLock:
    """`with RunLock(run_dir):` while training in a run folder (`active=False`: a no-op, for
    torchrun's other ranks). A second process is refused with the holder's process id, which
    the lock file keeps."""

    def __init__(self, run_dir: Path, active: bool = True):
        self.path = run_dir / "train.lock"
        self.active = active
        self.file: IO[str] | None = None

    def __enter__(self) -> RunLock:
        if not self.active:
            return self
        file = open(self.path, "a+", encoding="utf-8")  # held until __exit__
        try:
            lock(file)
        except OSError:
            holder = read_holder(file) or "another process"
            file.close()
            raise UserError(
                f"{self.path.parent} is in use: process {holder} is training in it (wait for it to end, "
                "or stop it first)"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self.file = file
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()  # closing releases the lock (so does the process ending)
            self.file = None


def read_holder(file: IO[str]) -> str:
    try:
        file.seek(0)
        return file.read().strip()
    except OSError:  # Windows keeps a locked file from being read
        return ""


if sys.platform == "win32":
    import msvcrt

    def lock(file: IO[str]) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    LOCKED: weakref.WeakSet[IO[str]] = weakref.WeakSet()  # the files this process has locked

    def lock(file: IO[str]) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        LOCKED.add(file)

    def close_locked_in_child() -> None:
        """In a forked child (a DataLoader worker): close its copies of the locked files. An
        flock belongs to the open file, which a fork shares: without this, the lock would last
        until the last child holding a copy ended, not with the process that took it."""
        for file in list(LOCKED):
            file.close()
        LOCKED.clear()

    os.register_at_fork(after_in_child=close_locked_in_child)
