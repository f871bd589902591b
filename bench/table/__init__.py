"""The benchmark table: its columns, the parquet store, and the query API.

Modules: ``schema`` (column grammar, directions, sources; pure Python), ``validation`` (rows
checked against the schema; the data-quality report), ``store`` (validated, atomic, locked
parquet tables), ``sidecar`` (their numeric columns, memory-mapped), ``reader`` (one table's
file), ``selection`` (the rows a query selects, merged over sources: the one query path),
``embedded`` (the demo table in the package), ``benchmark`` (:class:`Benchmark`), ``pareto``
(non-dominated rows) and ``nats`` (NATS-Bench's verbs through ``create``).

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
    "create": "bench.table.nats",
    "NATSBench": "bench.table.nats",
    "Store": "bench.table.store",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
