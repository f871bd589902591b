"""calnas search layer: calibration-aware architecture search with Optuna.

Modules: `objectives` (objectives, HCS, constraints), `samplers` (the strategies), `indicators`
(hypervolume, IGD+, the true front), `runner` (`run_search`, `compare_strategies`), `report`
(JSON report and plots), `cli` (the ``calnas`` command; ``python -m search`` runs it too).

Example:
    >>> from search import run_search
    >>> res = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=5, seed=0)
    >>> res.report["queries"]
    5
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {"run_search": "search.runner", "compare_strategies": "search.runner"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
