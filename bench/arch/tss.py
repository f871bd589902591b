"""TSS, the NAS-Bench-201 cell space: arch strings, NATS index order and NATS's isomorphism rule.

Example:
    >>> from bench.arch.spaces import get_space
    >>> from bench.arch.tss import TopologySpace
    >>> isinstance(get_space("tss"), TopologySpace)
    True
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.arch.spaces import _TSS_FORM, _TSS_SHUFFLE_SEED, EDGES, OPS, Space
from bench.errors import InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TopologySpace"]


class TopologySpace(Space):
    """TSS: the NAS-Bench-201 cell space, in NATS-Bench index order.

    A cell has 4 nodes; each of its 6 edges (:data:`EDGES`) carries one of the 5 :data:`OPS`.

    Example:
        >>> from bench.arch.spaces import get_space
        >>> tss = get_space("tss")
        >>> cell = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
        >>> tss.parse_code(cell)
        (0, 1, 2, 3, 4, 0)
    """

    name = "tss"
    size = len(OPS) ** len(EDGES)
    encodings = ("ops", "onehot", "adjacency")
    form = _TSS_FORM

    def choices(self) -> tuple[str, ...]:
        """The five operations, :data:`OPS`."""
        return OPS

    def param_names(self) -> tuple[str, ...]:
        """``edge_<source>_<target>`` for the six edges, in :data:`EDGES` order."""
        return tuple(f"edge_{src}_{dst}" for dst, src in EDGES)

    @functools.cache
    def codes(self) -> np.ndarray:
        """The lexicographic codes shuffled once as NATS-Bench did (``random.seed(88)``)."""
        import numpy as np

        lexicographic = list(itertools.product(range(len(OPS)), repeat=len(EDGES)))
        # NATS-Bench's order: one in-place shuffle of the lexicographic list by CPython's random.
        random.Random(_TSS_SHUFFLE_SEED).shuffle(lexicographic)
        codes = np.array(lexicographic, dtype=np.int8)
        codes.flags.writeable = False
        return codes

    def format_code(self, code: Sequence[int]) -> str:
        """``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` from six op codes."""
        o = [OPS[c] for c in code]
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    def parse_code(self, arch: str) -> tuple[int, ...]:
        """Six op codes of a TSS arch string; the error names the node or edge at fault."""
        if not (arch.startswith("|") and arch.endswith("|")):
            raise InputError(f"TSS arch {arch!r} must start and end with '|'; expected {self.form}")
        nodes = arch.split("+")
        if len(nodes) != 3:
            raise InputError(
                f"TSS arch {arch!r} has {len(nodes)} node(s) separated by '+', expected 3; "
                f"expected {self.form}"
            )
        code: list[int] = []
        for target, node in enumerate(nodes, start=1):
            tokens = node.strip("|").split("|")
            if len(tokens) != target or not node.startswith("|") or not node.endswith("|"):
                raise InputError(
                    f"node {target} of TSS arch {arch!r} must have {target} edge(s) written "
                    f"'|op~src|', got {node!r}; expected {self.form}"
                )
            for source, token in enumerate(tokens):
                op, sep, src = token.partition("~")
                if not sep:
                    raise InputError(f"edge {token!r} of TSS arch {arch!r} lacks '~source'")
                if op not in OPS:
                    raise InputError(
                        f"unknown operation {op!r} on edge {source}->{target} of TSS arch; "
                        f"accepted: {', '.join(OPS)}"
                    )
                if src != str(source):
                    raise InputError(
                        f"edge {token!r} into node {target} names source node {src!r}, expected "
                        f"{source} (edges into a node list sources 0..{target - 1} in order)"
                    )
                code.append(OPS.index(op))
        return tuple(code)

    @functools.cache
    def canonical_strings(self) -> tuple[str, ...]:
        """NATS-Bench's ``get_unique_str`` of every cell (6,466 distinct ones)."""
        return tuple(_tss_unique_str(code) for code in self.codes().tolist())

    def _encode_codes(self, codes: np.ndarray, kind: str) -> np.ndarray:
        import numpy as np

        if kind == "ops":
            return codes.astype(np.int64)
        if kind == "onehot":
            return np.eye(len(OPS), dtype=np.float32)[codes].reshape(len(codes), -1)
        # adjacency: M[j, i] = op code of edge i -> j (NATS-Bench's str2matrix layout)
        mats = np.zeros((len(codes), 4, 4), dtype=np.int64)
        for e, (dst, src) in enumerate(EDGES):
            mats[:, dst, src] = codes[:, e]
        return mats

    def info(self) -> dict[str, Any]:
        """:meth:`Space.info` plus the ``ops``."""
        return {**super().info(), "ops": list(OPS)}


def _tss_unique_str(code: Sequence[int]) -> str:
    """NATS-Bench's canonical expression of node 3 (``get_unique_str``), quirks included.

    A term is '#' when the op is none or the source expression is exactly '#'; skip passes the
    source expression through; any other op wraps it as '(src)@op'. Terms are sorted as strings.
    A node whose terms are all '#' becomes e.g. '#+#', which is *not* '#' downstream: that quirk
    is what yields 6,466 classes.
    """
    reps = ["0"]
    e = 0
    for target in (1, 2, 3):
        terms = []
        for source in range(target):
            op = OPS[code[e]]
            e += 1
            src = reps[source]
            if op == "none" or src == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(src)
            else:
                terms.append(f"({src})@{op}")
        reps.append("+".join(sorted(terms)))
    return reps[3]
