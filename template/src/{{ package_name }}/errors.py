"""The exceptions that reach the user as a sentence instead of a traceback, and their exit codes.

2   UserError: a bad key or value, a missing file, a wrong checkpoint, a path that cannot be
    written (a folder that is a file, a name too long, a read-only disk, no permission)
3   Diverged: the loss became NaN or infinite
74  the disk is full (or over quota, or failing): not a mistake in the command, which works
    again once there is room; a run continues with resume (EX_IOERR)
75  stopped by SIGTERM/SIGUSR1 (signals.py); the line says what continues it: resume, or the
    same command again (EX_TEMPFAIL); a signal after a run was complete exits 0 and says where its results are
130 interrupted by Ctrl-C

A file the project writes is written whole or not at all (files.py), whatever the exit code.
"""

import errno

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3
EXIT_DISK_FULL = 74
EXIT_REQUEUE = 75
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake the user can fix: a bad key or value, a missing file, a wrong checkpoint.

    The command line prints its message on one line and exits with code 2.
    """


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EIO)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)  # a read-only disk or folder, no permission


def describe_os_error(error: OSError) -> tuple[str, int]:
    """A file-system error as one line naming the path and the cause, and its exit code."""
    where = error.filename if error.filename is not None else "a file"
    if error.filename2 is not None:
        where = f"{where} -> {error.filename2}"
    cause = error.strerror or str(error) or type(error).__name__
    if error.errno in DISK_FULL:
        return f"cannot write {where}: {cause} (free some space, then run it again or resume)", EXIT_DISK_FULL
    return f"cannot use {where}: {cause}", EXIT_USER_ERROR


class Diverged(Exception):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class Preempted(Exception):
    """Training stopped on a signal after writing a checkpoint it can resume from."""


class StoppedOutsideTraining(BaseException):
    """SIGTERM or SIGUSR1 where the command stops at once: before training began (imports,
    data), after it ended (testing the best checkpoint, the plots), and, in a project without
    the cluster extra, inside it too. A BaseException, so that no `except Exception` on
    the way swallows it. `message` and `code`: what the command line says and exits with; a
    run folder in use then puts in what it holds and what continues it (signals.in_use)."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.message = f"stopped by {signal_name}: run the same command again"
        self.code = EXIT_REQUEUE
