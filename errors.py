"""The one exception type the command line turns into a clean one-line error.

Raise :class:`UserError` for anything the *user* can fix (a missing file, a wrong shape,
an unknown option, a mismatched engine). Its message is printed as is, on one line, with
no traceback, and the command exits with status 2. Anything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one clear line."""
