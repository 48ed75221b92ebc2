"""The one exception that means "the user's input is wrong" (exit status 2)."""


class InputError(Exception):
    """Bad input a user can fix: a missing file or column, unreadable values.

    The message is one line, names the file (and the column or line where it
    applies) and is shown to the user as is, without a traceback.
    """
