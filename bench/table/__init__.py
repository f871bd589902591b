"""The benchmark table: its columns (`schema`), the parquet store, and the query API.

Modules: `schema` (column grammar, directions, sources; pure Python), `store` (validated,
atomic, locked parquet tables with memory-mapped sidecars), `benchmark` (`Benchmark`: one query
path over the store and the embedded demo table, NATS-Bench's verbs through `create`).

Example:
    >>> from bench.table import Benchmark
    >>> Benchmark.open("/tmp/calnas-doc-bench", demo=False).info()
    []
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {
    "Benchmark": "bench.table.benchmark",
    "MissingEntry": "bench.table.benchmark",
    "create": "bench.table.benchmark",
    "Store": "bench.table.store",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
