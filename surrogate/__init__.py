"""calnas surrogate layer: XGBoost models that predict calibration and accuracy from the
architecture, with intervals (Python API, ``calnas surrogate``, ``calnas serve``).

Modules: `features` (the architecture encoding), `model` (`Surrogate`), `validation` (White et
al.'s protocol: rank correlation and coverage against training-set size), `server` (HTTP API),
`cli`. ``Surrogate`` is imported on first use (it loads XGBoost).

Example:
    >>> from surrogate import Surrogate
    >>> Surrogate.__name__
    'Surrogate'
"""

from __future__ import annotations

from bench.lazy import lazy_exports

_EXPORTS = {"Surrogate": "surrogate.model"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
