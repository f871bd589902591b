"""Isomorphism classes of a search space: the :class:`~bench.arch.spaces.Space` methods that
map each architecture to its class (cells that compute the same function class share one).

Part of :class:`~bench.arch.spaces.Space`, kept in its own module for size; the methods rely on
the space's ``index``, ``size`` and ``_strings`` (the canonical form of every index).

Example:
    >>> from bench.arch.spaces import get_space
    >>> tss = get_space("tss")
    >>> tss.unique_indices().size, tss.representative(int(tss.class_members(11)[-1]))
    (6466, 11)
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are built (see bench.arch.spaces)
    import numpy as np

__all__ = ["IsomorphismMixin"]


class IsomorphismMixin:
    """Canonical forms, class representatives and members (a part of ``Space``)."""

    def canonical(self, arch: str | int) -> str:
        """Canonical form: equal for two archs iff they compute the same function class.

        Args:
            arch: an arch string or a NATS index.

        Returns:
            The canonical string (NATS-Bench's ``get_unique_str`` for TSS; the arch for SSS).

        Example:
            >>> from bench.arch.spaces import get_space
            >>> tss = get_space("tss")
            >>> a = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
            >>> b = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
            >>> tss.canonical(a) == tss.canonical(b)
            True
        """
        return self.canonical_strings()[self.index(arch)]

    @functools.cache
    def canonical_strings(self) -> tuple[str, ...]:
        """Every architecture's canonical form, by NATS index (cached; see :meth:`canonical`).

        Returns:
            A tuple of :attr:`size` strings.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("sss").canonical_strings()[1]
            '8:8:8:8:16'
        """
        return self._strings()

    @functools.cache
    def representatives(self) -> np.ndarray:
        """For every index, the smallest index of its isomorphism class (a read-only array).

        Returns:
            An int64 array of :attr:`size` indices.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> reps = get_space("tss").representatives()
            >>> bool((reps <= range(len(reps))).all())
            True
        """
        import numpy as np

        first: dict[str, int] = {}
        reps = np.fromiter(
            (first.setdefault(c, i) for i, c in enumerate(self.canonical_strings())),
            dtype=np.int64,
            count=self.size,
        )
        reps.flags.writeable = False
        return reps

    def representative(self, arch: str | int) -> int:
        """Index of the class representative (the smallest index in the class).

        Args:
            arch: an arch string or a NATS index.

        Returns:
            The representative's NATS index.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> tss = get_space("tss")
            >>> members = tss.class_members(11)
            >>> tss.representative(int(members[-1])) == int(members[0])
            True
        """
        return int(self.representatives()[self.index(arch)])

    def unique_indices(self) -> np.ndarray:
        """Sorted indices of the class representatives (6,466 for TSS, all for SSS).

        Returns:
            An int64 array, ascending.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("tss").unique_indices().size
            6466
        """
        import numpy as np

        reps = self.representatives()
        return np.flatnonzero(reps == np.arange(self.size))

    def class_members(self, arch: str | int) -> np.ndarray:
        """All indices isomorphic to ``arch`` (itself included), sorted.

        Args:
            arch: an arch string or a NATS index.

        Returns:
            An int64 array, ascending; its first entry is the representative.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("sss").class_members(5).tolist()
            [5]
        """
        import numpy as np

        reps = self.representatives()
        return np.flatnonzero(reps == reps[self.index(arch)])

    def function_representatives(self) -> np.ndarray:
        """For every index, the smallest index computing the same function (read-only).

        Coarser than :meth:`representatives` for TSS (4,930 functions), the same for SSS; the
        rules are in :mod:`bench.arch.functional`.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> int(get_space("tss").function_representatives()[828])
            185
        """
        from bench.arch.functional import function_representatives

        return function_representatives(self.name)
