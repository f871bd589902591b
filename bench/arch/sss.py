"""SSS, the channel-size space: five layer widths, NATS (base-8) index order.

Example:
    >>> from bench.arch.spaces import get_space
    >>> from bench.arch.sss import SizeSpace
    >>> isinstance(get_space("sss"), SizeSpace)
    True
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.arch.spaces import _SSS_FORM, CHANNELS, NUM_LAYERS, Space, _check_index
from bench.errors import InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SizeSpace"]


class SizeSpace(Space):
    """SSS: five layer widths from {8, ..., 64}, in NATS-Bench (base-8) index order.

    Every network is its own isomorphism class.

    Example:
        >>> from bench.arch.spaces import get_space
        >>> sss = get_space("sss")
        >>> sss.arch(8), sss.unique_indices().size
        ('8:8:8:16:8', 32768)
    """

    name = "sss"
    size = len(CHANNELS) ** NUM_LAYERS
    encodings = ("channels", "onehot")
    form = _SSS_FORM

    def choices(self) -> tuple[int, ...]:
        """The eight widths, :data:`CHANNELS`."""
        return CHANNELS

    def param_names(self) -> tuple[str, ...]:
        """``layer_0`` .. ``layer_4``."""
        return tuple(f"layer_{k}" for k in range(NUM_LAYERS))

    @functools.cache
    def codes(self) -> np.ndarray:
        """The lexicographic codes (the first layer most significant)."""
        import numpy as np

        codes = np.array(list(itertools.product(range(len(CHANNELS)), repeat=NUM_LAYERS)), np.int8)
        codes.flags.writeable = False
        return codes

    def format_code(self, code: Sequence[int]) -> str:
        """``C1:C2:C3:C4:C5`` from five width codes."""
        return ":".join(str(CHANNELS[c]) for c in code)

    def parse_code(self, arch: str) -> tuple[int, ...]:
        """Five width codes of an SSS arch string; the error names the layer at fault."""
        parts = arch.split(":")
        if len(parts) != NUM_LAYERS:
            raise InputError(
                f"SSS arch {arch!r} has {len(parts)} layer(s), expected {NUM_LAYERS}; "
                f"expected {self.form}"
            )
        code = []
        for layer, part in enumerate(parts):
            if not part.isdigit() or int(part) not in CHANNELS:
                raise InputError(
                    f"layer {layer} of SSS arch {arch!r} has channel count {part!r}; "
                    f"accepted: {', '.join(map(str, CHANNELS))}"
                )
            code.append(CHANNELS.index(int(part)))
        return tuple(code)

    def index(self, arch: str | int) -> int:
        """NATS index in base 8, without building the list of strings (see :meth:`Space.index`)."""
        if isinstance(arch, str):
            code = self.parse_code(arch)
            return int(sum(c * len(CHANNELS) ** (NUM_LAYERS - 1 - k) for k, c in enumerate(code)))
        return _check_index(arch, self.size)

    def representatives(self) -> np.ndarray:
        """Every index is its own representative: ``arange(size)``."""
        import numpy as np

        reps = np.arange(self.size)
        reps.flags.writeable = False
        return reps

    def _encode_codes(self, codes: np.ndarray, kind: str) -> np.ndarray:
        import numpy as np

        if kind == "channels":
            return np.asarray(CHANNELS, dtype=np.int64)[codes]
        return np.eye(len(CHANNELS), dtype=np.float32)[codes].reshape(len(codes), -1)

    def info(self) -> dict[str, Any]:
        """:meth:`Space.info` plus the ``channels``."""
        return {**super().info(), "channels": list(CHANNELS)}

    def channels(self, arch: str | int) -> tuple[int, ...]:
        """The five widths of an SSS arch as ints.

        Args:
            arch: an arch string or a NATS index.

        Returns:
            The widths, first layer first.

        Example:
            >>> from bench.arch.spaces import get_space
            >>> get_space("sss").channels(11)
            (8, 8, 8, 16, 32)
        """
        _, arch = self.resolve(arch)
        return tuple(int(c) for c in arch.split(":"))
