"""The benchmark table: its columns, the parquet store, and the query API.

Modules, from the file up:

- ``schema``: column grammar, types, directions, sources (pure Python);
- ``validation``: rows checked against the schema before a write; the data-quality report;
- ``store``: validated, atomic, locked parquet tables; ``sidecar``: their numeric columns as
  arrays that numpy memory-maps;
- ``reader``: one table's file; ``embedded``: the demo table in the package; ``catalog``: what
  the tables hold;
- ``selection``: the rows a query selects, merged over sources (the one query path);
- ``benchmark``: :class:`Benchmark`; ``pareto``: non-dominated rows; ``nats``: NATS-Bench's
  verbs through ``create``.

Example:
    >>> from bench.table import Benchmark
    >>> Benchmark.open("/tmp/calnas-doc-bench", demo=False).info()
    []
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {
    "Benchmark": "bench.table.benchmark",
    "MissingEntry": "bench.table.catalog",
    "create": "bench.table.nats",
    "NATSBench": "bench.table.nats",
    "Store": "bench.table.store",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
