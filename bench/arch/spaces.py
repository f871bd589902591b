"""The two NATS-Bench search spaces: arch strings, NATS index order, isomorphism, encodings.

The shared :class:`Space` interface lives here, with :func:`get_space` (its isomorphism-class
methods in :mod:`bench.arch.isomorphism`, its Optuna parameters in :mod:`bench.arch.params`);
the two spaces are :mod:`bench.arch.tss` and :mod:`bench.arch.sss`. TSS is the NAS-Bench-201
cell space (6 edges, 5 operations, 15,625 cells); SSS is the channel-size space (5 layers,
8 widths, 32,768 networks). Both enumerate their architectures in exactly the order NATS-Bench
uses, so an index here is a NATS-Bench index.

This module needs only numpy, and imports it only where arrays are built: an index's arch
string, parsing and range checks are plain Python, so importing it is cheap, and nothing here
imports torch. (A benchmark query does import numpy: the table's one query path is numpy's, see
:mod:`bench.table.selection`.)

Example:
    >>> from bench.arch.spaces import get_space
    >>> tss = get_space("tss")
    >>> tss.arch(11)
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|'
    >>> tss.index(tss.arch(11)), tss.size
    (11, 15625)
    >>> get_space("sss").index("64:64:64:64:64")
    32767
"""

from __future__ import annotations

import functools
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.arch.isomorphism import IsomorphismMixin
from bench.arch.params import ParamsMixin
from bench.errors import InputError
from bench.lazy import lazy_exports

if TYPE_CHECKING:  # numpy is imported where arrays are built: see the module docstring
    import numpy as np

__all__ = [
    "OPS",
    "EDGES",
    "CHANNELS",
    "NUM_LAYERS",
    "SPACES",
    "Space",
    "get_space",
]

#: TSS operations in NATS-Bench's code order (the order fixes enumeration and encodings).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: TSS edges (target node, source node) in canonical order e0..e5.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: SSS channel choices and number of searchable layers.
CHANNELS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
NUM_LAYERS = 5
SPACES: tuple[str, ...] = ("tss", "sss")

_TSS_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in {" + ", ".join(OPS) + "}"
_SSS_FORM = "C1:C2:C3:C4:C5 with each C in {" + ", ".join(map(str, CHANNELS)) + "}"
_TSS_SHUFFLE_SEED = 88  # NATS-Bench shuffled the lexicographic list once with random.seed(88)


def _check_index(index: Any, size: int) -> int:
    """Return ``index`` as an int after checking its type and range."""
    # a numpy scalar can only exist once numpy is imported: do not import it to rule one out
    np_ = sys.modules.get("numpy")
    bools: tuple[type, ...] = (bool,) if np_ is None else (bool, np_.bool_)
    ints: tuple[type, ...] = (int,) if np_ is None else (int, np_.integer)
    if isinstance(index, bools) or not isinstance(index, ints):
        raise InputError(f"an arch index must be an integer, got {type(index).__name__} {index!r}")
    index = int(index)
    if not 0 <= index < size:
        raise InputError(f"arch index {index} is out of range; accepted: 0 <= index < {size}")
    return index


class Space(IsomorphismMixin, ParamsMixin, ABC):
    """A NATS-Bench search space: a fixed, ordered list of architecture strings.

    Subclasses hold the whole list (it is small) and answer every lookup from arrays. Get the
    shared instance with :func:`get_space` rather than building one.

    Example:
        >>> sp = get_space("tss")
        >>> sp.name, len(sp), sp.positions
        ('tss', 15625, 6)
    """

    #: short name, ``"tss"`` or ``"sss"``
    name: str
    #: number of architectures
    size: int

    # -- identity ------------------------------------------------------------------------------
    @abstractmethod
    def codes(self) -> np.ndarray:
        """All architectures as a (size, positions) int array of choice indices, in index order.

        Returns:
            A read-only int8 array; row ``i`` is the code of NATS index ``i``.

        Example:
            >>> get_space("sss").codes()[11].tolist()
            [0, 0, 0, 1, 3]
        """

    @abstractmethod
    def choices(self) -> tuple[Any, ...]:
        """The values one position can take (op names for TSS, widths for SSS).

        Example:
            >>> get_space("sss").choices()
            (8, 16, 24, 32, 40, 48, 56, 64)
        """

    @abstractmethod
    def parse_code(self, arch: str) -> tuple[int, ...]:
        """Choice indices of a well-formed arch string.

        Args:
            arch: an arch string of this space.

        Returns:
            One choice index per position.

        Raises:
            InputError: ``arch`` is malformed; the message names the problem.

        Example:
            >>> get_space("sss").parse_code("8:16:24:32:64")
            (0, 1, 2, 3, 7)
        """

    @abstractmethod
    def format_code(self, code: Sequence[int]) -> str:
        """Arch string of a tuple of choice indices (the inverse of :meth:`parse_code`).

        Args:
            code: one choice index per position.

        Returns:
            The arch string.

        Example:
            >>> get_space("sss").format_code((0, 1, 2, 3, 7))
            '8:16:24:32:64'
        """

    @property
    def positions(self) -> int:
        """Number of independent choices (6 edges, or 5 layers).

        Example:
            >>> get_space("sss").positions
            5
        """
        return self.codes().shape[1]

    def archs(self) -> list[str]:
        """All arch strings in NATS-Bench index order.

        Returns:
            A new list of :attr:`size` strings.

        Example:
            >>> get_space("sss").archs()[:2]
            ['8:8:8:8:8', '8:8:8:8:16']
        """
        return list(self._strings())

    @functools.cache
    def _strings(self) -> tuple[str, ...]:
        return tuple(self.format_code(code) for code in self.codes().tolist())

    @functools.cache
    def _lookup(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self._strings())}

    @functools.cache
    def _code_to_index(self) -> np.ndarray:
        """Index of each architecture by its mixed-radix code (first position most significant)."""
        import numpy as np

        codes = self.codes()
        table = np.empty(self.size, dtype=np.int64)
        table[self._radix_values(codes)] = np.arange(self.size)
        return table

    def code_indices(self, codes: np.ndarray) -> np.ndarray:
        """NATS indices of an (n, positions) array of choice codes (the inverse of :meth:`codes`).

        Args:
            codes: an (n, positions) integer array of choice indices.

        Returns:
            An int64 array of n NATS indices.

        Example:
            >>> sp = get_space("tss")
            >>> int(sp.code_indices(sp.codes()[[11]])[0])
            11
        """
        return self._code_to_index()[self._radix_values(codes)]

    def _radix_values(self, codes: np.ndarray) -> np.ndarray:
        import numpy as np

        base = len(self.choices())
        weights = base ** np.arange(codes.shape[1] - 1, -1, -1, dtype=np.int64)
        return codes.astype(np.int64) @ weights

    def validate(self, arch: str) -> str:
        """Return ``arch`` unchanged if it is a member of the space.

        Args:
            arch: the arch string to check.

        Returns:
            ``arch`` itself.

        Raises:
            InputError: ``arch`` is not a string, or not an arch string of this space.

        Example:
            >>> get_space("sss").validate("8:16:24:32:40")
            '8:16:24:32:40'
        """
        if not isinstance(arch, str):
            raise InputError(
                f"an arch must be a string of the form {self.form}, got {type(arch).__name__}"
            )
        self.parse_code(arch)
        return arch

    @property
    @abstractmethod
    def form(self) -> str:
        """Human description of the accepted arch string.

        Example:
            >>> get_space("sss").form
            'C1:C2:C3:C4:C5 with each C in {8, 16, 24, 32, 40, 48, 56, 64}'
        """

    def arch(self, index: int) -> str:
        """Arch string of a NATS index.

        Args:
            index: a NATS index, ``0 <= index < size``.

        Returns:
            The arch string.

        Raises:
            InputError: ``index`` is not an integer or is out of range.

        Example:
            >>> get_space("sss").arch(0)
            '8:8:8:8:8'
        """
        return self._strings()[_check_index(index, self.size)]

    def index(self, arch: str | int) -> int:
        """NATS index of an arch string (an int index is range-checked and returned).

        Args:
            arch: an arch string or a NATS index.

        Returns:
            The NATS index.

        Raises:
            InputError: a malformed arch string, or an index out of range.

        Example:
            >>> get_space("sss").index("8:8:8:16:32")
            11
        """
        if not isinstance(arch, str):
            return _check_index(arch, self.size)
        found = self._lookup().get(arch)
        if found is None:
            import numpy as np

            code = self.parse_code(arch)  # raises with the reason when malformed
            found = int(self._code_to_index()[self._radix_values(np.array([code]))[0]])
        return found

    def indices(self, archs: Sequence[str | int]) -> np.ndarray:
        """Vectorized :meth:`index` for many archs (strings or ints).

        Args:
            archs: arch strings or NATS indices, mixed freely.

        Returns:
            An int64 array of NATS indices, in the order given.

        Raises:
            InputError: one of ``archs`` is malformed or out of range.

        Example:
            >>> get_space("sss").indices(["8:8:8:8:16", 3]).tolist()
            [1, 3]
        """
        import numpy as np

        return np.fromiter((self.index(a) for a in archs), dtype=np.int64, count=len(archs))

    def resolve(self, arch_or_index: str | int) -> tuple[int, str]:
        """``(index, arch)`` for either an index or an arch string.

        Args:
            arch_or_index: an arch string or a NATS index.

        Returns:
            The NATS index and the arch string.

        Raises:
            InputError: a malformed arch string, or an index out of range.

        Example:
            >>> get_space("sss").resolve(1)
            (1, '8:8:8:8:16')
        """
        index = self.index(arch_or_index)
        return index, self._strings()[index]

    # -- encodings, neighbours, sampling -------------------------------------------------------
    @property
    @abstractmethod
    def encodings(self) -> tuple[str, ...]:
        """Names accepted by :meth:`encode`; the first is the default.

        Example:
            >>> get_space("tss").encodings
            ('ops', 'onehot', 'adjacency')
        """

    def encode(self, arch: str | int, kind: str | None = None) -> np.ndarray:
        """Encode one architecture as a numeric array (see :attr:`encodings`).

        Args:
            arch: an arch string or a NATS index.
            kind: one of :attr:`encodings` (None: the first).

        Returns:
            One row of :meth:`encode_all`.

        Raises:
            InputError: an unknown ``kind``, or a bad ``arch``.

        Example:
            >>> get_space("sss").encode("8:16:24:32:64").tolist()
            [8, 16, 24, 32, 64]
        """
        index = self.index(arch)
        return self.encode_all(kind)[index]

    def encode_all(self, kind: str | None = None) -> np.ndarray:
        """Encode every architecture at once: an array whose first axis is the NATS index.

        Args:
            kind: one of :attr:`encodings` (None: the first). ``ops`` and ``channels`` give one
                int per position, ``onehot`` one float32 block per position, ``adjacency`` a
                4x4 matrix of op codes per cell.

        Returns:
            An array of shape ``(size, ...)``.

        Raises:
            InputError: an unknown ``kind``.

        Example:
            >>> get_space("tss").encode_all("onehot").shape
            (15625, 30)
        """
        kind = self.encodings[0] if kind is None else kind
        if kind not in self.encodings:
            raise InputError(
                f"unknown encoding {kind!r} for {self.name}; accepted: {', '.join(self.encodings)}"
            )
        return self._encode_codes(self.codes(), kind)

    @abstractmethod
    def _encode_codes(self, codes: np.ndarray, kind: str) -> np.ndarray: ...

    def neighbours(self, arch: str | int) -> list[str]:
        """Every architecture that differs from ``arch`` in exactly one edge (or layer).

        Args:
            arch: an arch string or a NATS index.

        Returns:
            Arch strings, position by position, choices in code order.

        Example:
            >>> len(get_space("tss").neighbours(0)), get_space("sss").neighbours(0)[0]
            (24, '16:8:8:8:8')
        """
        _, arch = self.resolve(arch)
        code = self.parse_code(arch)
        out = []
        for pos, current in enumerate(code):
            for choice in range(len(self.choices())):
                if choice != current:
                    out.append(self.format_code(code[:pos] + (choice,) + code[pos + 1 :]))
        return out

    def sample(self, rng: np.random.Generator | int | None = None) -> str:
        """A uniformly random arch string.

        Args:
            rng: a numpy Generator, or a seed for a new one (None: fresh entropy).

        Returns:
            An arch string of this space.

        Example:
            >>> get_space("tss").sample(0) == get_space("tss").sample(0)
            True
        """
        import numpy as np

        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._strings()[int(gen.integers(self.size))]

    def info(self) -> dict[str, Any]:
        """Summary used by ``calnas space info``.

        Returns:
            ``space``, ``size``, ``unique`` (isomorphism classes), and the choices.

        Example:
            >>> get_space("tss").info()
            {'space': 'tss', 'size': 15625, 'unique': 6466, 'ops': [...]}
        """
        return {"space": self.name, "size": self.size, "unique": int(self.unique_indices().size)}

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, size={self.size})"


@functools.cache
def get_space(name: str) -> Space:
    """The search space called ``name``, one shared instance per space.

    Args:
        name: ``"tss"``/``"topology"`` or ``"sss"``/``"size"`` (any case).

    Returns:
        The :class:`TopologySpace` or :class:`SizeSpace`.

    Raises:
        InputError: an unknown name.

    Example:
        >>> get_space("tss").size, get_space("size").size
        (15625, 32768)
    """
    # the subclasses import this module: imported here, when a space is first asked for
    from bench.arch.sss import SizeSpace
    from bench.arch.tss import TopologySpace

    aliases = {"tss": TopologySpace, "topology": TopologySpace, "sss": SizeSpace, "size": SizeSpace}
    if not isinstance(name, str) or name.lower() not in aliases:
        raise InputError(f"unknown search space {name!r}; accepted: tss, sss")
    return _instance(aliases[name.lower()])


@functools.cache
def _instance(cls: type[Space]) -> Space:
    return cls()


# the two classes are importable from here as before, loaded on first use
__getattr__, _ = lazy_exports(
    __name__, {"TopologySpace": "bench.arch.tss", "SizeSpace": "bench.arch.sss"}
)
