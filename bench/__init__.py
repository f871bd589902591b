"""calnas bench layer: search spaces, networks, calibration metrics and the benchmark table.

Subpackages: `arch` (spaces, costs, networks), `calibration` (metrics), `table` (schema, store,
`Benchmark`), `importers` (published data), `compute` (train or load, measure, store).
Importing this package is cheap: torch, numpy and pandas load only when a module needs them.

Example:
    >>> from bench import get_space
    >>> get_space("tss").arch(11)
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|'
"""

from __future__ import annotations

from bench.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Benchmark": "bench.table.benchmark",
    "create": "bench.table.nats",
    "get_space": "bench.arch.spaces",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
