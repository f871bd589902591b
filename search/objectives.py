"""What a search optimizes: objectives, the HCS scalarization, and constraints.

An objective is any column of the benchmark table, written ``name``, ``name:max`` or ``name:min``;
without a suffix the direction follows :func:`bench.table.schema.direction` (accuracies maximized,
calibration errors, NLL, Brier, params, FLOPs, latency and train time minimized).

``hcs`` is the Harmonic Calibration Score of Tao et al. (ICLR 2024),
``HCS_beta = (1 + beta) * acc * (1 - ECE) / (beta * acc + (1 - ECE))`` with ECE = ``pre_ECE_15``
and beta = 1: usable as a (maximized) objective, and the rule that picks one architecture from a
front. Write ``hcs@<ece column>`` to use another calibration error, for example ``hcs@post_ECE_15``.

A constraint is ``metric<=bound`` or ``metric>=bound`` (for example ``pre_ECE_15<=0.05`` or
``params_m<=1``); Optuna receives it as ``value - bound`` (feasible when <= 0).

Example:
    >>> objs = parse_objectives("acc,pre_ECE_15")
    >>> [(o.name, o.direction) for o in objs]
    [('acc', 'max'), ('pre_ECE_15', 'min')]
    >>> round(hcs(0.9, 0.05), 4)
    0.9243
    >>> parse_constraints("pre_ECE_15<=0.05")[0].violation(0.07)
    0.020000000000000004
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bench.errors import InputError

__all__ = [
    "HCS_ECE",
    "Objective",
    "Constraint",
    "hcs",
    "parse_objectives",
    "parse_constraints",
    "objective_columns",
    "objective_values",
]

#: The calibration error HCS uses unless told otherwise (the paper's choice).
HCS_ECE = "pre_ECE_15"
_HCS = "hcs"
_DIRECTIONS = ("max", "min")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_@]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


def hcs(acc: float | np.ndarray, ece: float | np.ndarray, beta: float = 1.0) -> float | np.ndarray:
    """Harmonic Calibration Score ``(1+beta)*acc*(1-ece) / (beta*acc + (1-ece))``.

    ``acc`` and ``ece`` are fractions (0..1); works elementwise on arrays. A degenerate point
    with acc = 0 and ece = 1 scores 0 rather than dividing by zero.

    Example:
        >>> hcs(1.0, 0.0)
        1.0
    """
    if not beta > 0:
        raise InputError(f"HCS beta must be positive, got {beta!r}")
    a = np.asarray(acc, dtype=np.float64)
    c = 1.0 - np.asarray(ece, dtype=np.float64)
    den = beta * a + c
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, (1.0 + beta) * a * c / np.where(den > 0, den, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class Objective:
    """One objective: a table column (or ``hcs``) and its direction, ``'max'`` or ``'min'``.

    Example:
        >>> Objective.parse("params_m:max")
        Objective(name='params_m', direction='max', beta=1.0)
    """

    name: str
    direction: str
    beta: float = 1.0

    @classmethod
    def parse(cls, text: str, *, beta: float = 1.0) -> Objective:
        """Parse ``name``, ``name:max`` or ``name:min`` (ValueError naming the problem)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"an objective must be a non-empty string, got {text!r}")
        name, _, suffix = text.strip().partition(":")
        name, suffix = name.strip(), suffix.strip().lower()
        if suffix and suffix not in _DIRECTIONS:
            raise InputError(
                f"objective {text!r}: direction must be 'max' or 'min' (write name:max or name:min)"
            )
        if name.lower().startswith(_HCS):
            ece = _hcs_ece(name)
            _check_metric(ece, what=f"objective {text!r}")
            if suffix == "min":
                raise InputError(f"objective {text!r}: HCS is a score and is only maximized")
            return cls(_HCS if ece == HCS_ECE else f"{_HCS}@{ece}", "max", float(beta))
        _check_metric(name, what=f"objective {text!r}")
        return cls(name, suffix or _default_direction(name), float(beta))

    @property
    def is_hcs(self) -> bool:
        """True for the HCS scalarization (computed from acc and a calibration error)."""
        return self.name.startswith(_HCS)

    @property
    def columns(self) -> tuple[str, ...]:
        """Table columns this objective is computed from."""
        return ("acc", _hcs_ece(self.name)) if self.is_hcs else (self.name,)

    @property
    def optuna_direction(self) -> str:
        """``'maximize'`` or ``'minimize'``."""
        return "maximize" if self.direction == "max" else "minimize"

    @property
    def sign(self) -> float:
        """+1 for minimized, -1 for maximized: multiplying by it turns values into losses."""
        return -1.0 if self.direction == "max" else 1.0

    def value(self, row: Mapping[str, float]) -> float:
        """This objective's value from a mapping of column values."""
        if self.is_hcs:
            return float(hcs(row["acc"], row[_hcs_ece(self.name)], self.beta))
        return float(row[self.name])

    def __str__(self) -> str:
        return f"{self.name}:{self.direction}"


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``; :meth:`violation` is <= 0 when satisfied.

    Example:
        >>> Constraint.parse("params_m<=1").violation(0.5)
        -0.5
    """

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse ``metric<=bound`` or ``metric>=bound``."""
        match = _CONSTRAINT.match(text) if isinstance(text, str) else None
        if match is None:
            raise InputError(
                f"constraint {text!r} is not of the form metric<=bound or metric>=bound "
                "(for example pre_ECE_15<=0.05 or params_m<=1)"
            )
        metric, op, bound = match.groups()
        try:
            value = float(bound)
        except ValueError:
            raise InputError(f"constraint {text!r}: bound {bound!r} is not a number") from None
        if not np.isfinite(value):
            raise InputError(f"constraint {text!r}: bound must be finite")
        if metric.lower().startswith(_HCS):
            _check_metric(_hcs_ece(metric), what=f"constraint {text!r}")
        else:
            _check_metric(metric, what=f"constraint {text!r}")
        return cls(metric, op, value)

    @property
    def columns(self) -> tuple[str, ...]:
        """Table columns the constraint reads."""
        return ("acc", _hcs_ece(self.metric)) if self.metric.startswith(_HCS) else (self.metric,)

    def violation(self, value: float) -> float:
        """Optuna's constraint value: ``value - bound`` for <=, ``bound - value`` for >=."""
        return float(value - self.bound if self.op == "<=" else self.bound - value)

    def value(self, row: Mapping[str, float]) -> float:
        """The constrained quantity from a mapping of column values."""
        if self.metric.startswith(_HCS):
            return float(hcs(row["acc"], row[_hcs_ece(self.metric)]))
        return float(row[self.metric])

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.bound:g}"


def parse_objectives(spec: str | Sequence[str], *, beta: float = 1.0) -> list[Objective]:
    """Objectives from ``"acc,pre_ECE_15"`` or a list of such names (no duplicates).

    Example:
        >>> [str(o) for o in parse_objectives(["hcs"])]
        ['hcs:max']
    """
    items = _split(spec, "objectives")
    objectives = [Objective.parse(item, beta=beta) for item in items]
    names = [o.name for o in objectives]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"objectives repeat {', '.join(dupes)}; give each column once")
    return objectives


def parse_constraints(spec: str | Sequence[str] | None) -> list[Constraint]:
    """Constraints from ``"pre_ECE_15<=0.05,params_m<=1"`` or a list (None -> none).

    Example:
        >>> [str(c) for c in parse_constraints("params_m<=1")]
        ['params_m<=1']
    """
    if spec is None:
        return []
    if isinstance(spec, str) and not spec.strip():
        return []
    return [Constraint.parse(item) for item in _split(spec, "constraints")]


def objective_columns(
    objectives: Iterable[Objective], constraints: Iterable[Constraint] = ()
) -> list[str]:
    """The table columns the objectives and constraints are computed from, in first-use order."""
    cols: list[str] = []
    for item in (*objectives, *constraints):
        cols.extend(item.columns)
    return list(dict.fromkeys(cols))


def objective_values(
    objectives: Sequence[Objective], columns: Mapping[str, np.ndarray]
) -> np.ndarray:
    """An (n, k) array of objective values from column arrays (vectorized :meth:`Objective.value`).

    Example:
        >>> objective_values(parse_objectives("acc"), {"acc": np.array([0.5])}).tolist()
        [[0.5]]
    """
    out = []
    for obj in objectives:
        if obj.is_hcs:
            out.append(hcs(columns["acc"], columns[_hcs_ece(obj.name)], obj.beta))
        else:
            out.append(np.asarray(columns[obj.name], dtype=np.float64))
    return np.column_stack([np.atleast_1d(v) for v in out]).astype(np.float64)


# -- helpers ----------------------------------------------------------------------------------
def _split(spec: str | Sequence[str], what: str) -> list[str]:
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
    elif isinstance(spec, Sequence):
        items = [s.strip() if isinstance(s, str) else s for s in spec]
    else:
        raise InputError(f"{what} must be a comma-separated string or a list of strings")
    if not items or any(not isinstance(s, str) or not s for s in items):
        raise InputError(f"{what} {spec!r} has an empty entry; give names separated by commas")
    return items


def _hcs_ece(name: str) -> str:
    _, at, ece = name.partition("@")
    if name.split("@")[0].lower() != _HCS:
        raise InputError(f"{name!r} is not hcs or hcs@<ece column>")
    return ece.strip() if at else HCS_ECE


def _default_direction(name: str) -> str:
    from bench.table.schema import direction

    return direction(name)


def _check_metric(name: str, *, what: str) -> None:
    """Reject a name that is not a known column (the schema's grammar decides)."""
    from bench.table.schema import direction

    try:
        direction(name)
    except (ValueError, KeyError) as err:
        raise InputError(f"{what}: unknown metric {name!r} ({err})") from None
