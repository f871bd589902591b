"""The calibration study's research questions, answered on any table calnas holds.

Tao et al., "A Benchmark Study on Calibration" (ICLR 2024), asked seven questions of its table;
this package answers each one as the study posed it (its populations, bin counts, metrics,
brackets and scores), corrects the study where it erred (``as_published`` reproduces the study
instead, and says so), leaves out the values the importer flagged, and adds the question the
study did not ask: how reliable each ranking is across training seeds.

Modules: ``kendall`` (fast tau-b matrices, populations), ``data`` (the rows an analysis reads),
``questions`` (the registry and context), ``rq1`` ... ``rq7`` and ``rq_seeds`` (one question
each), ``reliability`` (seed reliability), ``reliability_text`` (its reports as text),
``figures``, ``report`` (``report.html``), ``cli`` (``calnas analyze``). Importing the package
is cheap: numpy, pandas and matplotlib load with the modules that need them.

Example:
    >>> from bench.analysis import tau_b
    >>> tau_b([1, 2, 3], [3, 2, 1])
    -1.0
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {
    "Context": "bench.analysis.questions",
    "QUESTIONS": "bench.analysis.questions",
    "run_question": "bench.analysis.questions",
    "kendall_matrix": "bench.analysis.kendall",
    "tau_b": "bench.analysis.kendall",
    "population": "bench.analysis.kendall",
    "seed_reliability": "bench.analysis.reliability",
    "write_all": "bench.analysis.report",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
