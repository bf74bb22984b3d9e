"""The one exception type that reaches the user as a sentence instead of a traceback."""


class UserError(Exception):
    """A mistake the user can fix: a bad key or value, a missing file, a wrong checkpoint.

    The command line prints its message on one line and exits with code 2.
    """
