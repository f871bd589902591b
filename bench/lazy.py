"""Lazy re-exports for package ``__init__`` modules: a public name is imported on first use.

A package's public face (``from bench import Benchmark``) should not make every import of the
package pay for numpy, pandas or torch: the cold path of one query imports none of them.

Example:
    >>> from bench.lazy import lazy_exports
    >>> __getattr__, __dir__ = lazy_exports("demo", {"dumps": "json"})
    >>> __getattr__("dumps")([1])
    '[1]'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that import ``exports[name]`` when ``name`` is used.

    Args:
        package: the package's name, for the error message.
        exports: public name -> the module that defines it.

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level. The ``__getattr__``
        raises ``AttributeError`` for a name not in ``exports``, as a module does.

    Example:
        >>> getattr_, dir_ = lazy_exports("mypkg", {"sqrt": "math", "dumps": "json"})
        >>> dir_(), getattr_("sqrt")(9.0)
        (['dumps', 'sqrt'], 3.0)
        >>> getattr_("loads")
        Traceback (most recent call last):
        ...
        AttributeError: module 'mypkg' has no attribute 'loads'
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
