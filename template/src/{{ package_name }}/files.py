"""Every file the project writes goes through here: whole or not at all (a temporary
`<name>.tmp`, flushed to disk, then renamed over the target), and never over something it
should not replace. `run_lock` keeps a second process out of a run folder."""

from __future__ import annotations

import os
import shutil
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import UserError


@contextmanager
def atomic_write(path: str | Path, binary: bool = False) -> Iterator[IO[Any]]:
    """`with atomic_write(path) as file:` replaces `path` when the block ends without an error;
    otherwise `path` stays as it was and the temporary file is removed."""
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
    """`path` becomes a second name of `source` in one step: a hard link (a later write of either
    name replaces that name only), or a copy where the file system has none (FAT, some shares)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        with atomic_write(path, binary=True) as file, open(source, "rb") as original:
            shutil.copyfileobj(original, file)


def write_text(path: str | Path, text: str) -> None:
    with atomic_write(path) as file:
        file.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, binary=True) as file:
        file.write(data)


def check_output(
    path: Path, kind: str, is_previous: Callable[[Path], bool], source: Path | None = None
) -> Path:
    """`path` (an --output) if writing a `kind` there replaces nothing but an earlier one: not a
    link, a folder, a special file, a checkpoint (`source`) or a file this project did not write."""
    if odd := not_a_file(path):
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
    """What makes `path` no place to write a file, or None (nothing there yet, a regular file)."""
    if path.is_symlink():
        return "a symbolic link, which is not followed"
    if path.is_dir():
        return "a folder"
    if path.exists() and not path.is_file():
        return "a special file (a device or a pipe)"
    return None


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """`with run_lock(run_dir):` while training in a run folder. The OS lock ends with the process,
    however it ends; a second process is refused with the holder's process id."""
    with open(run_dir / "train.lock", "a+", encoding="utf-8") as file:  # closing it releases the lock
        try:
            lock(file)
        except OSError:
            holder = "another process"
            with suppress(OSError):  # Windows keeps a locked file from being read
                file.seek(0)
                holder = file.read().strip() or holder
            raise UserError(
                f"{run_dir} is in use: process {holder} is training in it (wait for it to end, or stop "
                "it first)"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        yield


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
        """A forked child (a DataLoader worker) closes its copies of the locked files: an flock
        belongs to the open file, so a worker left by a `kill -9` would keep the run locked."""
        for file in list(LOCKED):
            file.close()
        LOCKED.clear()

    os.register_at_fork(after_in_child=close_locked_in_child)
