"""What a search is over: :class:`Problem`, the arrays every worker answers trials from.

A problem holds, per NATS index, the values the search sees (``signal``: the 12-epoch proxy, a
surrogate's predictions, or the final-epoch row) and the values the report scores (``final``),
the simulated cost of each architecture, the objectives and constraints, and the map from each
index to its isomorphism class's representative. :func:`load_problem` builds it from the table
(backends ``table`` and ``surrogate``; ``compute`` is in :mod:`search.compute`).

Example:
    >>> from search.config import SearchConfig
    >>> cfg = SearchConfig("tss", "digits", "acc,pre_ECE_15", trials=5)
    >>> p = load_problem(open_bench(None), cfg)
    >>> p.n_unique(), len(p.true_front()[0]) > 0
    (6466, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.arch.spaces import Space, get_space
from bench.errors import InputError
from search.config import SearchConfig
from search.indicators import pareto_mask, to_losses
from search.noise import SeedSignal, load_seed_signal
from search.objectives import (
    HCS_ECE,
    Constraint,
    Objective,
    objective_columns,
    objective_values,
    parse_objectives,
)

__all__ = [
    "PROXY_EPOCH",
    "Problem",
    "class_map",
    "load_problem",
    "open_bench",
    "resolve_multi_fidelity",
]

#: NATS-Bench's search proxy: the 12-epoch schedule.
PROXY_EPOCH = 12

#: (epoch, column -> value per index, train seconds per index or None): one fidelity of a curve.
Fidelity = tuple[int, dict[str, np.ndarray], np.ndarray | None]


@dataclass
class Problem:
    """Everything a worker needs to answer trials, as plain arrays (cheap to send to processes).

    Attributes:
        space, dataset: what is searched (``space`` by its canonical name).
        objectives, constraints: parsed.
        reps: index -> representative index (TSS isomorphism, or function with
            ``merge_functional``; identity for SSS).
        signal: column -> value per index: what the sampler sees.
        final: column -> final-epoch value per index: what the report scores.
        cost: simulated seconds to obtain the signal, per index (None: no ``train_time_s``).
        curves: the fidelities of one training run, for multi-fidelity pruning.
        signal_epoch, final_epoch: the epochs of ``signal`` and ``final`` (None: unknown).
        predicted: ``signal`` holds a surrogate's predictions.
        compute: the ``ComputeConfig`` of the compute backend (None for the others).
        bench_root: the store the compute backend reads and writes.
        sources, schedule: the sources and training schedule (epochs) of the answering rows.
        noisy: under ``noise="seed"``, every seed's rows of the signal columns, from which each
            class's answer is drawn (:mod:`search.noise`); None otherwise.
        functional: ``reps`` maps TSS classes of one function to one (``merge_functional``).
    """

    space: str
    dataset: str
    objectives: list[Objective]
    constraints: list[Constraint]
    reps: np.ndarray
    signal: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    cost: np.ndarray | None
    curves: list[Fidelity] = field(default_factory=list)
    signal_epoch: int | None = None
    final_epoch: int | None = None
    predicted: bool = False
    compute: Any = None
    bench_root: str | None = None
    sources: list[str] = field(default_factory=list)
    schedule: int | None = None
    noisy: SeedSignal | None = None
    functional: bool = False

    def row(self, columns: Mapping[str, np.ndarray], index: int) -> dict[str, float] | None:
        """``{column: value}`` of ``index`` in ``columns``, or None if any value is missing."""
        vals = {c: float(a[index]) for c, a in columns.items()}
        return vals if all(math.isfinite(v) for v in vals.values()) else None

    def final_values(self, rep: int) -> dict[str, float]:
        """The final-epoch values of class ``rep`` (missing ones NaN), HCS objectives included."""
        vals = {c: float(a[rep]) for c, a in self.final.items()}
        for o in self.objectives:
            if o.is_hcs:
                vals[o.name] = o.value(vals)
        return vals

    def feasible(self, vals: Mapping[str, float]) -> bool:
        """Whether ``vals`` (a row's values) satisfies every constraint."""
        return all(c.violation(c.value(vals)) <= 0 for c in self.constraints)

    def n_unique(self) -> int:
        """Distinct architectures (TSS: isomorphism classes) the search can query.

        Only measured architectures can be answered from a table; the compute backend can
        compute any. Once all of them are queried the space is exhausted and the search stops.
        """
        return int(self.answerable()[np.unique(self.reps)].sum())

    def answerable(self) -> np.ndarray:
        """Per NATS index, whether a query of it can be answered: every index for the compute
        backend, else those whose signal columns all hold a value."""
        if self.compute is not None:
            return np.ones(len(self.reps), dtype=bool)
        return np.all([np.isfinite(a) for a in self.signal.values()], axis=0)

    def true_front(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices and objective values of the true front (unique archs, feasible, measured).

        Raises:
            InputError: no architecture of the table satisfies the constraints.
        """
        idx, vals = self.feasible_values()
        mask = pareto_mask(to_losses(vals, self.objectives))
        return idx[mask], vals[mask]

    def feasible_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices and final objective values of every unique, measured, feasible architecture.

        Raises:
            InputError: no architecture of the table satisfies the constraints.
        """
        uniq = np.unique(self.reps)
        cols = {c: a[uniq] for c, a in self.final.items()}
        vals = objective_values(self.objectives, cols)
        ok = np.all(np.isfinite(vals), axis=1)
        for c in self.constraints:
            metric = (parse_objectives([c.metric]) if c.metric.startswith("hcs")
                      else [Objective(c.metric, "min")])  # fmt: skip
            v = objective_values(metric, cols)[:, 0]
            ok &= np.isfinite(v) & (np.array([c.violation(x) for x in v]) <= 0)
        if not ok.any():
            raise InputError(
                "no architecture of the table satisfies the constraints: empty true front"
            )
        return uniq[ok], vals[ok]


def open_bench(bench: Any) -> Any:
    """The benchmark to search: ``bench`` itself if it is one, else ``Benchmark.open(bench)``.

    Args:
        bench: a Benchmark, a store path, or None for the default store (with the demo table).

    Returns:
        A ``bench.table.benchmark.Benchmark``.

    Example:
        >>> bm = open_bench(None)
        >>> open_bench(bm) is bm
        True
    """
    if bench is not None and hasattr(bench, "frame"):
        return bench
    from bench.table.benchmark import Benchmark

    return Benchmark.open(bench)


def load_problem(bm: Any, config: SearchConfig) -> Problem:
    """The problem ``config`` describes, answered from benchmark ``bm``.

    Args:
        bm: the benchmark (see :func:`open_bench`); the compute backend also writes to its store.
        config: the search.

    Returns:
        The :class:`Problem` the workers answer from.

    Raises:
        InputError: the table lacks the space, dataset, source, a column or the proxy epoch.
    """
    if config.backend == "compute":
        from search.compute import load_compute_problem

        return load_compute_problem(bm, config)
    return _load_table_problem(bm, config)


def resolve_multi_fidelity(config: SearchConfig, problem: Problem) -> bool:
    """Whether the search prunes with Hyperband: ``config.multi_fidelity``, None decided here.

    Raises:
        InputError: multi-fidelity asked for without the table backend, a table with several
            epochs, or exactly one objective.

    Example:
        >>> cfg = SearchConfig("tss", "digits", "hcs", "tpe", trials=5)
        >>> resolve_multi_fidelity(cfg, load_problem(open_bench(None), cfg))  # epochs 1, 2, 4
        True
    """
    # under noise="seed" a curve would mix seeds (SearchConfig refuses multi_fidelity=True)
    usable = config.backend == "table" and len(problem.curves) > 1 and config.noise is None
    flag = config.multi_fidelity
    if flag is None:
        return usable and len(problem.objectives) == 1
    if flag and not usable:
        raise InputError(
            "multi-fidelity needs the table backend and a table with several epochs "
            f"(this one has {len(problem.curves) or 1})"
        )
    if flag and len(problem.objectives) != 1:
        raise InputError("multi-fidelity (Hyperband pruning) needs exactly one objective, e.g. hcs")
    return bool(flag)


def class_map(sp: Space, functional: bool = False) -> np.ndarray:
    """Index -> the index whose row answers for it (a writable copy).

    TSS copies answer with their class representative's row, so the cache works per class;
    with ``functional``, every class answers with the row of the smallest index computing the
    same function (:func:`bench.arch.functional.function_representatives`). SSS has no
    isomorphic copies and maps each index to itself.

    Example:
        >>> class_map(get_space("tss"))[:4].tolist()
        [0, 1, 2, 3]
        >>> int(class_map(get_space("tss"))[828]), int(class_map(get_space("tss"), True)[828])
        (828, 185)
    """
    if sp.name != "tss":
        return np.arange(sp.size)
    return (sp.function_representatives() if functional else sp.representatives()).copy()


# -- the table and surrogate backends -------------------------------------------------------------
def _load_table_problem(bm: Any, config: SearchConfig) -> Problem:
    space, dataset, source = config.space, config.dataset, config.source
    objs, cons = config.objective_list(), config.constraint_list()
    sp = get_space(space)
    needed = objective_columns(objs, cons)
    have = _columns(bm, space, dataset, source)
    extras = [c for c in ("acc", HCS_ECE) if c in have and c not in needed]
    cols = needed + extras
    has_time = "train_time_s" in have
    final_frame = _frame(bm, space, dataset, cols + ["train_time_s"] * has_time, source)
    final = _arrays(final_frame, cols, sp.size)
    final_epoch = _final_epoch(final_frame)
    reps = class_map(sp, config.merge_functional)
    final = {c: a[reps] for c, a in final.items()}
    cost = (
        _arrays(final_frame, ["train_time_s"], sp.size)["train_time_s"][reps] if has_time else None
    )
    signal, signal_epoch = final, final_epoch
    hps = sorted(int(h) for h in bm.hps(space, dataset, source)) if hasattr(bm, "hps") else []
    epochs = _epochs(bm, space, dataset, source, hps[-1] if hps else None)
    time_col = ["train_time_s"] * has_time

    proxy = _proxy(config.proxy_epoch, sorted(set(epochs) | set(hps)), final_epoch)
    signal_at: dict[str, int] = {}  # the (hp, epoch) selection of the signal: final by default
    if proxy is not None and config.backend == "table":
        # NATS-Bench's proxy is its own 12-epoch schedule (hp=12) when the table has one.
        signal_at = {"hp": proxy} if proxy in hps else {"epoch": proxy}
        pf = _frame(bm, space, dataset, needed + time_col, source, **signal_at)
        signal = {c: a[reps] for c, a in _arrays(pf, needed, sp.size).items()}
        signal.update({c: final[c] for c in extras})
        if "train_time_s" in pf.columns:
            cost = _arrays(pf, ["train_time_s"], sp.size)["train_time_s"][reps]
        signal_epoch = proxy

    curves: list[Fidelity] = []
    if config.backend == "table" and len(objs) == 1 and len(epochs) > 1:
        for e in epochs:
            if final_epoch is not None and e > final_epoch:
                continue
            ef = _frame(bm, space, dataset, needed + time_col, source, epoch=e,
                        hp=hps[-1] if hps else None)  # fmt: skip
            arr = {c: a[reps] for c, a in _arrays(ef, needed, sp.size).items()}
            t = _arrays(ef, ["train_time_s"], sp.size)["train_time_s"][reps] if (
                "train_time_s" in ef.columns) else None  # fmt: skip
            curves.append((int(e), arr, t))

    predicted = False
    if config.backend == "surrogate":
        signal = _surrogate_signal(bm, sp, config, needed, reps)
        signal.update({c: final[c] for c in extras})
        predicted = True
    problem = Problem(space, dataset, objs, cons, reps, signal, final, cost, curves,
                      signal_epoch, final_epoch, predicted,
                      functional=config.merge_functional)  # fmt: skip
    problem.sources, problem.schedule = _provenance(final_frame)
    if config.noise == "seed":
        problem.noisy = load_seed_signal(bm, config, needed, reps, with_cost=has_time, **signal_at)
    return problem


def _frame(
    bm: Any,
    space: str,
    dataset: str,
    cols: list[str],
    source: str | None,
    epoch: int | None = None,
    hp: int | None = None,
) -> Any:
    """The table's rows with ``cols`` (a pandas frame); says which columns or rows are missing."""
    have = _columns(bm, space, dataset, source)
    missing = [c for c in cols if c not in have]
    if missing:
        raise InputError(
            f"unknown metric {', '.join(map(repr, missing))}: not a column of the "
            f"{space}/{dataset} table (it has {len(have)} columns: {', '.join(have[:12])}"
            + (", ..." if len(have) > 12 else "")
            + ")"
        )
    kw = {"hp": hp} if hp is not None else {}
    frame = bm.frame(space, dataset, cols, source=source, epoch=epoch, **kw)
    if frame is None or len(frame) == 0:
        raise InputError(
            f"the benchmark has no {space}/{dataset} rows with {', '.join(cols)}"
            + (f" from source {source!r}" if source else "")
            + "; import or compute them first (calnas bench ...)"
        )
    return frame


def _columns(bm: Any, space: str, dataset: str, source: str | None) -> list[str]:
    cols = list(bm.columns(space, dataset, source))
    if not cols:
        raise InputError(
            f"the benchmark holds nothing for {space}/{dataset}"
            + (f" from source {source!r}" if source else "")
            + "; import or compute it first (calnas bench ...)"
        )
    return cols


def _arrays(frame: Any, cols: Sequence[str], size: int) -> dict[str, np.ndarray]:
    """Column arrays indexed by NATS index (NaN where the table has no row)."""
    idx = frame["config"].to_numpy(dtype=np.int64)
    out = {}
    for c in cols:
        arr = np.full(size, np.nan)
        arr[idx] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        out[c] = arr
    return out


def _provenance(frame: Any) -> tuple[list[str], int | None]:
    """The sources and the (longest) training schedule of the rows a search answers from."""
    sources = sorted(str(s) for s in frame["source"].dropna().unique()) if (
        "source" in frame.columns) else []  # fmt: skip
    hp = None
    if "hp" in frame.columns and not frame["hp"].isna().all():
        hp = int(frame["hp"].max())
    return sources, hp


def _final_epoch(frame: Any) -> int | None:
    if "epoch" not in frame.columns or frame["epoch"].isna().all():
        return None
    return int(frame["epoch"].max())


def _epochs(bm: Any, space: str, dataset: str, source: str | None, hp: int | None) -> list[int]:
    """Epochs of the longest schedule (the fidelities of one training run)."""
    kw = {"hp": hp} if hp is not None else {}
    return sorted(int(e) for e in bm.epochs(space, dataset, source=source, **kw))


def _proxy(proxy_epoch: int | str | None, epochs: list[int], final: int | None) -> int | None:
    if proxy_epoch is None:
        return None
    if proxy_epoch == "auto":
        return PROXY_EPOCH if PROXY_EPOCH in epochs and final and final > PROXY_EPOCH else None
    if isinstance(proxy_epoch, bool) or not isinstance(proxy_epoch, (int, np.integer)):
        raise InputError(f"proxy_epoch must be 'auto', None or an epoch, got {proxy_epoch!r}")
    if int(proxy_epoch) not in epochs:
        raise InputError(f"proxy_epoch {proxy_epoch} is not in the table; epochs: {epochs}")
    return int(proxy_epoch)


def _surrogate_signal(
    bm: Any, sp: Space, config: SearchConfig, cols: list[str], reps: np.ndarray
) -> dict[str, np.ndarray]:
    """The surrogate's predictions of ``cols`` per index (one prediction per class)."""
    from surrogate.model import Surrogate

    given = config.surrogate
    if given is None:
        model = Surrogate.from_benchmark(bm, sp.name, config.dataset, cols, source=config.source,
                                         seed=config.seed)  # fmt: skip
    elif isinstance(given, (str, os.PathLike)):
        model = Surrogate.load(given)
    else:
        model = given
    missing = [c for c in cols if c not in model.targets]
    if missing:
        raise InputError(f"the surrogate does not predict {missing}; it predicts {model.targets}")
    uniq = np.unique(reps)
    pred = np.asarray(model.predict(uniq))
    out = {}
    for c in cols:
        arr = np.full(sp.size, np.nan)
        arr[uniq] = pred[:, list(model.targets).index(c)]
        out[c] = arr[reps]
    return out
