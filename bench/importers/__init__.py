"""Importers of published data: the study's calibration CSVs, the robustness dataset, NATS-Bench
archives and the NB201 tables. Each reads and validates a whole source before one atomic write.

Pickles (NATS-Bench archives, NB201 tables, CIFAR batches) are read only through
`bench.importers.safe_pickle`.

Example:
    >>> from bench.importers import IMPORTERS
    >>> sorted(IMPORTERS)
    ['nats', 'nb201', 'official', 'robustness']
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {
    "IMPORTERS": "bench.importers.published",
    "NB201_FILES": "bench.importers.published",
    "NB201_SEEDS": "bench.importers.published",
    "OFFICIAL_FILES": "bench.importers.published",
    "ROBUSTNESS_FILES": "bench.importers.published",
    "ImportReport": "bench.importers.published",
    "import_nats": "bench.importers.published",
    "import_nb201": "bench.importers.published",
    "import_official": "bench.importers.published",
    "import_robustness": "bench.importers.published",
    "nb201_default_dir": "bench.importers.published",
    "read_nats": "bench.importers.published",
    "read_nb201": "bench.importers.published",
    "read_official": "bench.importers.published",
    "read_robustness": "bench.importers.published",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
