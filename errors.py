"""The one exception type the command line turns into a clean one-line error.

Raise :class:`UserError` for anything the *user* can fix (a missing file, a wrong shape,
an unknown option, a mismatched engine). Its message is printed as is, on one line, with
no traceback, and the command exits with status 2. Anything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one clear line."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message as one line for a UserError: its first line (or its type's
    name when it has no message), cut at ``limit`` characters."""
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:limit]
