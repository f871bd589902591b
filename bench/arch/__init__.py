"""The architectures: the two NATS-Bench search spaces, their closed-form costs, and the networks.

Modules: `spaces` (the `Space` interface and `get_space`; no numpy at import), `tss` and `sss`
(the two spaces), `datasets` (what a network sees: classes, input shape, normalization), `costs`
(params and FLOPs in closed form), `networks` (torch modules with NATS-Bench's weight names; the
only module here that imports torch).

Example:
    >>> from bench.arch import get_space
    >>> get_space("tss").size, get_space("sss").size
    (15625, 32768)
"""

from __future__ import annotations

from bench.arch.spaces import SPACES, Space, get_space

__all__ = ["SPACES", "Space", "get_space"]
