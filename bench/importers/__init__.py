"""Importers of published data: the study's calibration CSVs, the robustness dataset, NATS-Bench
archives and the NB201 tables. Each reads and validates a whole source before one atomic write.

Modules: `official`, `robustness`, `nats` (with the archive format in `nats_archive`), `nb201`,
`common` (the report and the checks they share), `registry` (`IMPORTERS`: name -> importer).
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
    "IMPORTERS": "bench.importers.registry",
    "NB201_FILES": "bench.importers.nb201",
    "NB201_SEEDS": "bench.importers.nb201",
    "OFFICIAL_FILES": "bench.importers.official",
    "ROBUSTNESS_FILES": "bench.importers.robustness",
    "ImportReport": "bench.importers.common",
    "import_nats": "bench.importers.nats",
    "import_nb201": "bench.importers.nb201",
    "import_official": "bench.importers.official",
    "import_robustness": "bench.importers.robustness",
    "nb201_default_dir": "bench.importers.nb201",
    "read_nats": "bench.importers.nats",
    "read_nb201": "bench.importers.nb201",
    "read_official": "bench.importers.official",
    "read_robustness": "bench.importers.robustness",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
