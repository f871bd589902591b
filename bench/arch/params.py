"""Optuna parameters of a search space: the :class:`~bench.arch.spaces.Space` methods that turn
an architecture into one categorical parameter per edge (TSS) or layer (SSS) and back.

Part of :class:`~bench.arch.spaces.Space`, kept in its own module for size; the methods rely on
the space's ``name``, ``choices``, ``resolve``, ``parse_code`` and ``format_code``.

Example:
    >>> from bench.arch.spaces import get_space
    >>> sss = get_space("sss")
    >>> sss.from_params(sss.to_params("8:8:8:16:32"))
    '8:8:8:16:32'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from bench.errors import InputError

__all__ = ["ParamsMixin"]


class ParamsMixin(ABC):
    """Optuna's view of an architecture: parameter names, choices, and conversions (a part of
    ``Space``)."""

    @abstractmethod
    def param_names(self) -> tuple[str, ...]:
        """Names of the categorical parameters, one per edge or layer.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("tss").param_names()[:2]
            ('edge_0_1', 'edge_0_2')
        """

    def param_space(self) -> dict[str, tuple[Any, ...]]:
        """Parameter name -> tuple of choices, ready for Optuna's ``suggest_categorical``.

        Returns:
            A dict with one entry per :meth:`param_names` name.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("sss").param_space()["layer_0"][:3]
            (8, 16, 24)
        """
        return {name: self.choices() for name in self.param_names()}

    def to_params(self, arch: str | int) -> dict[str, Any]:
        """Arch -> Optuna parameter dict.

        Args:
            arch: an arch string or a NATS index.

        Returns:
            Parameter name -> choice (op name or width).

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("sss").to_params("8:8:8:16:32")["layer_4"]
            32
        """
        _, arch = self.resolve(arch)
        choices = self.choices()
        code = self.parse_code(arch)
        return {n: choices[c] for n, c in zip(self.param_names(), code, strict=True)}

    def from_params(self, params: Mapping[str, Any]) -> str:
        """Optuna parameter dict -> arch string (the inverse of :meth:`to_params`).

        Args:
            params: exactly the names of :meth:`param_names`, each mapped to a choice.

        Returns:
            The arch string.

        Raises:
            InputError: ``params`` is not a mapping, lacks or adds a key, or holds a bad choice.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> sss = get_space("sss")
            >>> sss.from_params(sss.to_params(11))
            '8:8:8:16:32'
        """
        if not isinstance(params, Mapping):
            raise InputError(f"params must be a mapping, got {type(params).__name__}")
        names = self.param_names()
        missing = [n for n in names if n not in params]
        extra = [k for k in params if k not in names]
        if missing or extra:
            raise InputError(
                f"{self.name} params need exactly the keys {', '.join(names)}; "
                f"missing: {missing or 'none'}, unexpected: {extra or 'none'}"
            )
        choices = self.choices()
        code = []
        for name in names:
            value = params[name]
            if value not in choices or isinstance(value, bool):
                raise InputError(
                    f"param {name}={value!r} is not a choice of {self.name}; "
                    f"accepted: {', '.join(map(str, choices))}"
                )
            code.append(choices.index(value))
        return self.format_code(code)
