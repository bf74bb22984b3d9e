"""The exceptions that reach the user as a sentence instead of a traceback, and their exit codes.

2   UserError: a bad key or value, a missing file, a wrong checkpoint
3   Diverged: the loss became NaN or infinite
75  Preempted: stopped by SIGTERM/SIGUSR1 after a checkpoint; resume to continue (EX_TEMPFAIL)
130 interrupted by Ctrl-C
"""

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3
EXIT_REQUEUE = 75
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake the user can fix: a bad key or value, a missing file, a wrong checkpoint.

    The command line prints its message on one line and exits with code 2.
    """


class Diverged(Exception):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class Preempted(Exception):
    """Training stopped on a signal after writing a checkpoint it can resume from."""
