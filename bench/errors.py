"""The errors calnas raises for a bad request or bad data: one root, :class:`CalnasError`.

A :class:`CalnasError` says what was wrong and how to fix it; the command line prints it as one
line and exits with status 2. Any other exception is a bug in calnas and keeps its traceback.
Each subclass also derives from the built-in exception it stands for, so code that catches
``ValueError`` or ``FileNotFoundError`` keeps working.

Example:
    >>> from bench.errors import CalnasError, InputError
    >>> try:
    ...     raise InputError("--trials must be a positive integer, got 0")
    ... except ValueError as err:
    ...     isinstance(err, CalnasError)
    True
"""

from __future__ import annotations

__all__ = ["CalnasError", "InputError", "MissingFileError"]


class CalnasError(Exception):
    """Root of the errors that describe a bad request or bad data, not a bug.

    Catch it to tell a user's mistake from a failure of calnas itself.

    Example:
        >>> from bench.arch.spaces import get_space
        >>> try:
        ...     get_space("nasbench101")
        ... except CalnasError as err:
        ...     print(err)
        unknown search space 'nasbench101'; accepted: tss, sss
    """


class InputError(CalnasError, ValueError):
    """A bad argument, value or file content: the message names it and the accepted form.

    Example:
        >>> issubclass(InputError, ValueError)
        True
    """


class MissingFileError(CalnasError, FileNotFoundError):
    """A file or folder the request names does not exist, or lacks what it must hold.

    Example:
        >>> from bench.importers.safe_pickle import load
        >>> try:
        ...     load("/nonexistent/meta.pickle.pbz2")
        ... except FileNotFoundError as err:
        ...     print(type(err).__name__, err)
        MissingFileError /nonexistent/meta.pickle.pbz2: no such pickle file
    """
