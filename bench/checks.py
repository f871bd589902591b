"""Argument checks shared by every layer: one integer rule, one message.

Example:
    >>> from bench.checks import check_int
    >>> check_int(3, "trials")
    3
    >>> check_int(True, "trials")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: trials must be a positive integer, got True
"""

from __future__ import annotations

import numbers

from bench.errors import InputError

__all__ = ["check_int"]


def check_int(value: object, name: str, *, minimum: int | None = 1) -> int:
    """``value`` as an int, if it is an integer (numpy ones too, bools not) >= ``minimum``.

    Args:
        value: what the caller was given.
        name: the argument's name, for the message.
        minimum: the smallest accepted value (None: no bound; 1, the default: positive).

    Returns:
        ``int(value)``.

    Raises:
        InputError: ``value`` is not an integer, is a bool, or is below ``minimum``.

    Example:
        >>> import numpy as np
        >>> check_int(np.int64(0), "seed", minimum=None), check_int(2, "workers", minimum=2)
        (0, 2)
        >>> check_int(2.0, "epochs")
        Traceback (most recent call last):
        ...
        bench.errors.InputError: epochs must be a positive integer, got 2.0
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (minimum is None or value >= minimum):  # type: ignore[operator]
        return int(value)  # type: ignore[arg-type]
    if minimum is None:
        wanted = "an integer"
    elif minimum == 1:
        wanted = "a positive integer"
    else:
        wanted = f"an integer >= {minimum}"
    raise InputError(f"{name} must be {wanted}, got {value!r}")
