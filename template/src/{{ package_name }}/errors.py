"""The exceptions that reach the user as one line instead of a traceback, and their exit codes.
Whatever the code, a file the project writes is whole or as it was (files.py)."""

import errno
import signal

EXIT_USER_ERROR = 2  # a bad key or value, a missing file, a wrong checkpoint, a path it cannot write
EXIT_DIVERGED = 3  # the loss became NaN or infinite
EXIT_DISK_FULL = 74  # EX_IOERR: not a mistake in the command, which works again once there is room
EXIT_REQUEUE = 75  # EX_TEMPFAIL: stopped by SIGTERM/SIGUSR1; the line says what continues it
EXIT_INTERRUPTED = 130  # Ctrl-C

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EIO)  # full, over quota, or failing
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)  # a read-only disk or folder, no permission


class UserError(Exception):
    """A mistake the user can fix: one line on the command line, exit code 2."""


class Diverged(Exception):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Preempted(Exception):
    """Training stopped on a signal after writing a checkpoint it can resume from."""


class StoppedOutsideTraining(BaseException):
    """SIGTERM or SIGUSR1 where the command stops at once (a BaseException, so that no `except
    Exception` swallows it); signals.in_use puts what the run folder holds into `message`."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.message = f"stopped by {signal_name}: run the same command again"
        self.code = EXIT_REQUEUE


def describe_os_error(error: OSError) -> tuple[str, int]:
    """A file-system error as one line naming the path and the cause, and its exit code."""
    where = error.filename if error.filename is not None else "a file"
    if error.filename2 is not None:
        where = f"{where} -> {error.filename2}"
    cause = error.strerror or str(error) or type(error).__name__
    if error.errno in DISK_FULL:
        return f"cannot write {where}: {cause} (free some space, then run it again or resume)", EXIT_DISK_FULL
    return f"cannot use {where}: {cause}", EXIT_USER_ERROR
