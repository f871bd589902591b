"""calnas search layer: calibration-aware architecture search with Optuna.

Modules, in the order a search uses them: `config` (`SearchConfig`, every option), `objectives`
(objectives, HCS, constraints), `problem` and `compute` (what is searched: the table, surrogate or
compute backend), `storage` (Optuna storages, resume), `samplers` (the strategies, one per
module), `worker` (ask, cache, clock, tell, stop rules), `progress` (the bar), `result`
(`SearchResult`: normalized HV, IGD+, HCS pick, the report), `indicators` (hypervolume, IGD+),
`runner` (`run_search`), `compare` (`compare_strategies`), `report` (JSON report and plots),
`cli` (the ``calnas`` command; ``python -m search`` runs it too). `_optuna` holds every use of
Optuna's private API.

Example:
    >>> from search import run_search
    >>> res = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=5, seed=0)
    >>> res.report["queries"]
    5
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {
    "run_search": "search.runner",
    "compare_strategies": "search.compare",
    "SearchConfig": "search.config",
    "SearchResult": "search.result",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
