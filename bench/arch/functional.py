"""TSS cells that compute exactly the same function, beyond NATS-Bench's isomorphism rule.

NATS-Bench groups the 15,625 TSS cells into 6,466 isomorphism classes by a canonical string
(``get_unique_str``, :func:`bench.arch.tss._tss_unique_str`). That string has quirks: a node
whose terms are all zero is written ``#+#``, which is not zero downstream; a zero term stays in
a sum (``#+(0)@op`` is not ``(0)@op``); and a sum passed on by ``skip_connect`` stays one term
instead of joining the sum it enters. So some distinct classes compute the same function.

Here a cell's output is written as an expression under these rules:

- ``none`` is zero and ``skip_connect`` is the identity;
- a sum is a multiset of terms: nested sums are flattened and zeros dropped;
- any operation of a zero input is zero (what NATS-Bench's rule does too);
- ``nor_conv_1x1``, ``nor_conv_3x3`` (ReLU-Conv-BN: nonlinear, own weights) and
  ``avg_pool_3x3`` wrap their input expression (avg_pool's linearity is not used);
- two cells compute the same function when their output expressions are equal.

Like NATS-Bench's rule, the expression is a tree: two edges that apply the same operation to
the same input are two equal terms whether or not one conv's weights reach the output twice
(NATS-Bench's isomorphism classes already make that identification). Under these rules the
6,466 classes compute 4,930 distinct functions: 1,536 class representatives compute the same
function as a smaller one. Every isomorphism class lies inside one function class. SSS has no
such merge: every network is its own function class.

Example:
    >>> function_key(816) == function_key(828) == "nor_conv_3x3(nor_conv_1x1(x))"
    True
    >>> int(function_representatives()[828]), functional_duplicates().size
    (185, 1536)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.arch.spaces import EDGES, OPS, get_space
from bench.errors import InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "function_key",
    "function_representatives",
    "functional_duplicates",
    "function_summary",
]

#: The expression of the cell input and of a zero output.
INPUT, ZERO = "x", "0"


def function_key(code_or_arch: str | int | Sequence[int]) -> str:
    """Canonical expression of a TSS cell's output (see the module docstring for the rules).

    Args:
        code_or_arch: a TSS arch string, a NATS index, or six op codes (:data:`OPS` order).

    Returns:
        The expression: ``x`` for the input, ``op(...)`` for an operation, terms of a sum sorted
        and joined by ``+``; ``0`` for a cell whose output is always zero.

    Raises:
        InputError: a malformed arch string, an index out of range, or a bad code.

    Example:
        >>> function_key("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
        'avg_pool_3x3(x)'
        >>> function_key((0, 0, 0, 3, 0, 0))
        'nor_conv_3x3(x)'
    """
    return _key(_code(code_or_arch))


def function_representatives(space: str = "tss") -> np.ndarray:
    """For every NATS index, the smallest index computing the same function (read-only).

    Args:
        space: ``tss`` or ``sss`` (SSS: every network is its own function class).

    Returns:
        An int64 array of the space's size; ``reps[i] <= i`` and, for TSS,
        ``reps[i] == reps[Space.representatives()[i]]``.

    Raises:
        InputError: an unknown space.

    Example:
        >>> reps = function_representatives()
        >>> int(reps[816]) == int(reps[828]), int(function_representatives("sss")[5])
        (True, 5)
    """
    return _representatives(get_space(space).name)


def functional_duplicates(space: str = "tss") -> np.ndarray:
    """Isomorphism-class representatives that compute the same function as a smaller one.

    Args:
        space: ``tss`` or ``sss`` (SSS: none).

    Returns:
        Their NATS indices, ascending (1,536 for TSS under this module's rules).

    Raises:
        InputError: an unknown space.

    Example:
        >>> dups = functional_duplicates()
        >>> 828 in dups, functional_duplicates("sss").size
        (True, 0)
    """
    sp = get_space(space)
    unique = sp.unique_indices()
    return unique[function_representatives(sp.name)[unique] != unique]


def function_summary() -> str:
    """One line on TSS: cells, isomorphism classes, distinct functions (``calnas bench info``).

    Example:
        >>> print(function_summary())
        TSS: 15,625 cells, 6,466 isomorphism classes, 4,930 distinct functions (1,536 ...)
    """
    tss = get_space("tss")
    classes = tss.unique_indices().size
    dups = functional_duplicates("tss").size
    return (
        f"TSS: {tss.size:,} cells, {classes:,} isomorphism classes, {classes - dups:,} distinct "
        f"functions ({dups:,} classes duplicate another's function)"
    )


@functools.cache
def _representatives(space: str) -> np.ndarray:
    import numpy as np

    sp = get_space(space)
    if space != "tss":
        reps = np.arange(sp.size, dtype=np.int64)
    else:
        first: dict[str, int] = {}
        keys = (_key(code) for code in sp.codes().tolist())
        reps = np.fromiter(
            (first.setdefault(k, i) for i, k in enumerate(keys)), dtype=np.int64, count=sp.size
        )
    # shared by every caller through the cache: nobody may change it
    reps.flags.writeable = False
    return reps


def _code(code_or_arch: str | int | Sequence[int]) -> tuple[int, ...]:
    """Six op codes from an arch string, an index or a code; errors say which input is bad."""
    tss = get_space("tss")
    if hasattr(code_or_arch, "tolist"):  # a numpy integer or code array: plain Python values
        code_or_arch = code_or_arch.tolist()
    if isinstance(code_or_arch, str):
        return tss.parse_code(code_or_arch)
    if not isinstance(code_or_arch, Sequence):
        # an int (or numpy integer): the space checks its type and range
        return tuple(tss.codes()[tss.index(code_or_arch)].tolist())
    code = tuple(code_or_arch)
    ok = len(code) == len(EDGES) and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(OPS) for c in code
    )
    if not ok:
        raise InputError(
            f"a TSS code is {len(EDGES)} integers in 0..{len(OPS) - 1} (one op per edge, "
            f"{', '.join(OPS)}), got {code_or_arch!r}"
        )
    return code


def _key(code: Sequence[int]) -> str:
    """The output expression of a valid code; nodes are sorted tuples of term strings."""
    nodes: list[tuple[str, ...]] = [(INPUT,)]
    for target in (1, 2, 3):
        terms: list[str] = []
        for e, (dst, source) in enumerate(EDGES):
            if dst != target:
                continue
            op, src = OPS[code[e]], nodes[source]
            if op == "none" or not src:  # zero, or any op of zero: nothing to add
                continue
            if op == "skip_connect":
                terms.extend(src)  # a sum passed on joins the sum it enters
            else:
                # a term holds its input in parentheses, so joining terms with '+' is unambiguous
                terms.append(f"{op}({'+'.join(src)})")
        nodes.append(tuple(sorted(terms)))
    return "+".join(nodes[3]) or ZERO
