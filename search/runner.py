"""Run a calibration-aware architecture search: :func:`run_search`.

One trial: the sampler proposes one choice per edge (TSS) or layer (SSS); the runner turns them
into an arch and its NATS index, answers with the values of that architecture, and tells Optuna.

* **Backends.** ``table``: values come from the benchmark table. ``surrogate``: from a
  :class:`surrogate.model.Surrogate` fitted on the table (or the one you pass). ``compute``:
  measured rows of the table, and missing ones computed through ``bench.compute.run``.
* **Cache.** An architecture (for TSS, any cell of its isomorphism class, answered with the class
  representative's row) is charged once: a repeat is answered from the cache, still told to the
  sampler, and does not spend the budget. The ledger lives in the study's trials, so it is shared
  by every worker on one storage and survives a restart.
* **Budget.** ``trials=N`` distinct architectures, or ``budget_seconds=T`` of simulated time:
  each new architecture advances the clock by its ``train_time_s``. As in NATS-Bench, when the
  table holds a 12-epoch proxy below the final epoch the search sees and pays for the 12-epoch
  values while the report scores the final-epoch values; the run stops once the clock reaches T
  (the architecture that crosses T is kept, as NATS-Bench's loop does).
* **Multi-fidelity.** With one objective and a table with several epochs, each trial reports the
  objective at every epoch and Optuna's Hyperband pruner stops poor ones early; a pruned trial
  pays only for the epochs it trained (Optuna cannot prune multi-objective studies).
* **Storage.** In memory by default; a file path means an Optuna journal file
  (``JournalFileBackend``); a URL (``sqlite:///x.db``, ``postgresql://...``) an RDB storage.
  ``workers=N`` runs N processes on one study. Re-running with the same storage and study name
  resumes: trials a killed process left RUNNING are marked failed and the budget counts what was
  already spent. ``optuna-dashboard <storage>`` opens any of these.

Example:
    >>> from search.runner import run_search
    >>> res = run_search("tss", "digits", "acc,pre_ECE_15", "rea", trials=50)  # doctest: +SKIP
    >>> res.report["normalized_hv"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.errors import InputError, MissingFileError
from search.indicators import (
    hcs_pick,
    hv_history,
    igd_plus,
    normalized_hypervolume,
    pareto_mask,
    reference_point,
    to_losses,
)
from search.objectives import (
    HCS_ECE,
    Constraint,
    Objective,
    objective_columns,
    objective_values,
    parse_constraints,
    parse_objectives,
)
from search.samplers.registry import DEFAULT_STRATEGY, make_sampler, parse_strategy

__all__ = ["BACKENDS", "SearchResult", "run_search", "open_storage", "compare_strategies"]

BACKENDS = ("table", "surrogate", "compute")
#: NATS-Bench's search proxy: the 12-epoch schedule.
PROXY_EPOCH = 12
_DONE = (TrialState.COMPLETE, TrialState.PRUNED)
_LOCK_GRACE_S = 5
# A RUNNING trial with no owner this old was left by a killed process (owners tag in milliseconds).
_UNTAGGED_GRACE_S = 30.0

optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- the problem: arrays every worker answers from ------------------------------------------------
@dataclass
class _Problem:
    """Everything a worker needs to answer trials, as plain arrays (cheap to send to processes)."""

    space: str
    dataset: str
    objectives: list[Objective]
    constraints: list[Constraint]
    reps: np.ndarray  # index -> representative index (TSS isomorphism; identity for SSS)
    signal: dict[str, np.ndarray]  # column -> value per index: what the sampler sees
    final: dict[str, np.ndarray]  # column -> final-epoch value per index: what the report scores
    cost: np.ndarray | None  # simulated seconds to obtain the signal, per index
    curves: list[tuple[int, dict[str, np.ndarray], np.ndarray | None]] = field(default_factory=list)
    signal_epoch: int | None = None
    final_epoch: int | None = None
    predicted: bool = False
    compute: Any = None  # bench.compute.run.ComputeConfig for backend="compute"
    bench_root: str | None = None  # the store the compute backend reads and writes
    sources: list[str] = field(default_factory=list)  # sources of the rows that answer
    schedule: int | None = None  # training schedule (hp) of those rows, in epochs

    def row(self, columns: Mapping[str, np.ndarray], index: int) -> dict[str, float] | None:
        vals = {c: float(a[index]) for c, a in columns.items()}
        return vals if all(math.isfinite(v) for v in vals.values()) else None


@dataclass
class _Config:
    storage: str | None
    study_name: str
    strategy: str
    seed: int
    trials: int | None
    budget_seconds: float | None
    max_repeats: int
    multi_fidelity: bool


@dataclass
class SearchResult:
    """What :func:`run_search` returns.

    Attributes:
        report: the JSON report (see :func:`run_search`).
        queries: one dict per distinct architecture queried, in order (index, arch, trial,
            values, cost_s, clock_s, pruned).
        hv_history: normalized hypervolume after each query.
        true_front: the true front's rows ({index, arch, values}).
        study: the Optuna study (for its trials, or to continue it).
    """

    report: dict[str, Any]
    queries: list[dict[str, Any]]
    hv_history: np.ndarray
    true_front: list[dict[str, Any]]
    study: optuna.Study


# -- public entry ----------------------------------------------------------------------------------
def run_search(
    space: str,
    dataset: str,
    objectives: str | Sequence[str],
    strategy: str = DEFAULT_STRATEGY,
    *,
    trials: int | None = None,
    budget_seconds: float | None = None,
    backend: str = "table",
    storage: str | None = None,
    study_name: str | None = None,
    workers: int = 1,
    seed: int = 0,
    bench: Any = None,
    constraints: str | Sequence[str] | None = None,
    source: str | None = None,
    proxy_epoch: int | str | None = "auto",
    multi_fidelity: bool | None = None,
    surrogate: Any = None,
    hcs_beta: float = 1.0,
    max_repeats: int = 1000,
    compute: Any = None,
    progress: bool = False,
) -> SearchResult:
    """Search ``space``/``dataset`` for ``objectives`` with ``strategy`` and score the result.

    Args:
        space: ``"tss"`` or ``"sss"``.
        dataset: a dataset of the table (``"digits"`` for the embedded demo).
        objectives: ``"acc,pre_ECE_15"``, ``["acc:max", "params_m"]``, ``"hcs"``, ...
        strategy: ``random``, ``tpe``, ``nsga2``, ``nsga3``, ``gp``, ``rea`` or ``brute``, with
            optional parameters (``"nsga2:population_size=20"``).
        trials: budget in distinct architectures queried (repeats are free).
        budget_seconds: budget in simulated training seconds (needs ``train_time_s``).
        backend: ``"table"``, ``"surrogate"`` or ``"compute"``.
        storage: None (in memory), a journal file path, or a database URL.
        study_name: the study to create or resume (default: derived from the arguments).
        workers: processes working on the one study.
        seed: seeds the sampler (worker ``w`` uses ``seed + 1000 * w``).
        bench: a ``bench.table.benchmark.Benchmark``, a store path, or None for the default store.
        constraints: ``"pre_ECE_15<=0.05,params_m<=1"`` or a list.
        source: read only this source of the table (default: the table's priority order).
        proxy_epoch: ``"auto"`` (12 when the table has it below the final epoch), an epoch, or
            None to search on final-epoch values.
        multi_fidelity: Hyperband pruning over epochs; None = on for one objective when the table
            has several epochs (table backend only).
        surrogate: for ``backend="surrogate"``: a fitted Surrogate, a saved one's path, or None to
            fit one on the table.
        hcs_beta: beta of HCS (objective ``hcs`` and the pick).
        max_repeats: stop after this many consecutive trials that found nothing new.
        compute: for ``backend="compute"``: a ``bench.compute.run.ComputeConfig`` or a dict of its
            fields (``epochs``, ``fidelities``, ``batch_size``, ``C``, ``N``, ``data_root``,
            ``device``, ``seed``, ...); default ``ComputeConfig(space, dataset)`` (NATS's
            12-epoch schedule). The search answers from the store's rows measured with exactly
            this protocol (its source, ``hp`` = epochs, seed; final epoch) and trains, measures
            and upserts the missing ones; the clock charges each one's measured train time.
        progress: show a tqdm bar on stderr (distinct architectures, trials, simulated seconds,
            best value of each objective, normalized HV). The CLI turns it on only when stderr
            is a terminal and ``--quiet`` is not given.

    The search stops when the budget is spent, when every distinct architecture the table holds
    has been queried, or after ``max_repeats`` trials in a row that found nothing new;
    ``report["stopped"]`` says which (``"trials"``, ``"budget"``, ``"space exhausted"``,
    ``"max repeats"``).

    Returns:
        A :class:`SearchResult`; ``result.report`` holds space, dataset, objectives, strategy,
        pareto_front ([{index, arch, values}]), normalized_hv, igd_plus, queries,
        simulated_seconds, hcs_pick, stopped, the table's sources and schedule, and the HV
        history.

    Example:
        >>> r = run_search("tss", "digits", "acc,pre_ECE_15", "rea", trials=100)  # doctest: +SKIP
    """
    sp = get_space(space)
    objs = parse_objectives(objectives, beta=hcs_beta)
    cons = parse_constraints(constraints)
    name, _ = parse_strategy(strategy)
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}")
    trials, budget_seconds = _check_budget(trials, budget_seconds, brute=name == "brute")
    check_int(workers, "workers")
    check_int(seed, "seed", minimum=None)
    if not isinstance(max_repeats, int) or max_repeats < 1:
        raise InputError(f"max_repeats must be a positive integer, got {max_repeats!r}")

    bm = _open_bench(bench)
    if backend == "compute":
        problem = _load_compute_problem(bm, sp.name, dataset, objs, cons, source, compute)
    else:
        if compute is not None:
            raise InputError("compute= configures backend='compute' only")
        problem = _load_problem(
            bm, sp.name, dataset, objs, cons, backend, source, proxy_epoch, surrogate, seed
        )
    if budget_seconds is not None and problem.cost is None:
        raise InputError(
            f"the {sp.name}/{dataset} table has no train_time_s column, so a simulated-time "
            "budget cannot be charged; give trials=N instead"
        )
    mf = _multi_fidelity(multi_fidelity, problem, backend)
    if mf and len(objs) != 1:
        raise InputError("multi-fidelity (Hyperband pruning) needs exactly one objective, e.g. hcs")

    temp_dir = None
    if storage is None and workers > 1:
        # Several processes need a shared storage: a journal file in a temporary folder.
        temp_dir = tempfile.mkdtemp(prefix="calnas-search-")
        storage = os.path.join(temp_dir, "study.journal")
    study_name = study_name or _default_name(sp.name, dataset, objs, cons, name, seed, backend)
    cfg = _Config(storage, study_name, strategy, int(seed), trials, budget_seconds,
                  max_repeats, mf)  # fmt: skip
    store = open_storage(storage)
    study = _create_study(store, cfg, problem, backend)

    if workers == 1:
        _work(problem, cfg, 0, storage_obj=store, progress=progress)
    else:
        ctx = get_context("spawn")  # forking a process that may hold torch threads is unsafe
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            # one bar, from worker 0: its ledger reads every worker's trials from the storage
            futures = [pool.submit(_work, problem, cfg, w, None, progress and w == 0)
                       for w in range(workers)]  # fmt: skip
            for fut in futures:
                fut.result()
    study = optuna.load_study(study_name=study_name, storage=store)
    if backend == "compute":
        # the workers added rows to the store: score against everything measured now
        problem = _load_compute_problem(bm, sp.name, dataset, objs, cons, source, problem.compute)
    return _build_result(study, problem, cfg, backend, storage, workers)


def open_storage(storage: str | None) -> optuna.storages.BaseStorage:
    """None -> in-memory storage; a path -> journal file; a URL -> RDB storage.

    Raises ValueError for a URL SQLAlchemy cannot use or a server it cannot reach, and
    FileNotFoundError for a journal file in a folder that does not exist.

    Example:
        >>> type(open_storage(None)).__name__
        'InMemoryStorage'
    """
    if storage is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(storage, str) or not storage.strip():
        raise InputError(f"storage must be a journal file path or a database URL, got {storage!r}")
    if "://" not in storage:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        folder = os.path.dirname(os.path.abspath(storage))
        if not os.path.isdir(folder):
            raise MissingFileError(f"journal storage {storage!r}: folder {folder} does not exist")
        # The open-lock works on every file system (the symlink lock does not on some mounts).
        # A process killed inside a write leaves the lock behind; our writes take milliseconds,
        # so a lock older than 5 s is stale (Optuna's default waits 30 s).
        lock = JournalFileOpenLock(storage, grace_period=_LOCK_GRACE_S)
        return optuna.storages.JournalStorage(JournalFileBackend(storage, lock_obj=lock))
    scheme = storage.split("://", 1)[0]
    if not scheme or not all(c.isalnum() or c in "+_-" for c in scheme):
        raise InputError(f"storage URL {storage!r} has no valid scheme (e.g. sqlite:///x.db)")
    storage = _pg_driver(storage)
    try:
        return optuna.storages.RDBStorage(storage, engine_kwargs={"pool_pre_ping": True})
    except Exception as err:  # SQLAlchemy raises many types; say which URL failed and why
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot open storage {_redact(storage)!r}: {first}") from None


# -- loading ---------------------------------------------------------------------------------------
def _check_budget(
    trials: int | None, budget_seconds: float | None, *, brute: bool
) -> tuple[int | None, float | None]:
    if trials is not None and budget_seconds is not None:
        raise InputError("give either trials or budget_seconds, not both")
    if trials is None and budget_seconds is None:
        if brute:
            return None, None  # brute force without a budget visits every architecture
        raise InputError("empty budget: give trials=N (distinct archs) or budget_seconds=T")
    if trials is not None:
        check_int(trials, "empty budget: trials")
    if budget_seconds is not None:
        try:
            budget_seconds = float(budget_seconds)
        except (TypeError, ValueError):
            raise InputError(f"budget_seconds must be a number, got {budget_seconds!r}") from None
        if not budget_seconds > 0 or not math.isfinite(budget_seconds):
            raise InputError(f"empty budget: budget_seconds must be > 0, got {budget_seconds!r}")
    return (None if trials is None else int(trials)), budget_seconds


def _open_bench(bench: Any) -> Any:
    if bench is not None and hasattr(bench, "frame"):
        return bench
    from bench.table.benchmark import Benchmark

    return Benchmark.open(bench)


def _frame(
    bm: Any,
    space: str,
    dataset: str,
    cols: list[str],
    source: str | None,
    epoch: int | None = None,
    hp: int | None = None,
):
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


def _arrays(frame, cols: Sequence[str], size: int) -> dict[str, np.ndarray]:
    """Column arrays indexed by NATS index (NaN where the table has no row)."""
    idx = frame["config"].to_numpy(dtype=np.int64)
    out = {}
    for c in cols:
        arr = np.full(size, np.nan)
        arr[idx] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        out[c] = arr
    return out


def _load_problem(
    bm: Any,
    space: str,
    dataset: str,
    objs: list[Objective],
    cons: list[Constraint],
    backend: str,
    source: str | None,
    proxy_epoch: int | str | None,
    surrogate: Any,
    seed: int,
) -> _Problem:
    sp = get_space(space)
    needed = objective_columns(objs, cons)
    have = _columns(bm, space, dataset, source)
    extras = [c for c in ("acc", HCS_ECE) if c in have and c not in needed]
    cols = needed + extras
    has_time = "train_time_s" in have
    final_frame = _frame(bm, space, dataset, cols + ["train_time_s"] * has_time, source)
    final = _arrays(final_frame, cols, sp.size)
    final_epoch = _final_epoch(final_frame)
    # TSS copies answer with their class representative's row (the cache works per class).
    reps = sp.representatives().copy() if sp.name == "tss" else np.arange(sp.size)
    final = {c: a[reps] for c, a in final.items()}
    cost = (
        _arrays(final_frame, ["train_time_s"], sp.size)["train_time_s"][reps] if has_time else None
    )
    signal, signal_epoch = final, final_epoch
    hps = sorted(int(h) for h in bm.hps(space, dataset, source)) if hasattr(bm, "hps") else []
    epochs = _epochs(bm, space, dataset, source, hps[-1] if hps else None)
    time_col = ["train_time_s"] * has_time

    proxy = _proxy(proxy_epoch, sorted(set(epochs) | set(hps)), final_epoch)
    if proxy is not None and backend == "table":
        # NATS-Bench's proxy is its own 12-epoch schedule (hp=12) when the table has one.
        pf = _frame(bm, space, dataset, needed + time_col, source,
                    **({"hp": proxy} if proxy in hps else {"epoch": proxy}))  # fmt: skip
        signal = {c: a[reps] for c, a in _arrays(pf, needed, sp.size).items()}
        signal.update({c: final[c] for c in extras})
        if "train_time_s" in pf.columns:
            cost = _arrays(pf, ["train_time_s"], sp.size)["train_time_s"][reps]
        signal_epoch = proxy

    curves: list[tuple[int, dict[str, np.ndarray], np.ndarray | None]] = []
    if backend == "table" and len(objs) == 1 and len(epochs) > 1:
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
    if backend == "surrogate":
        signal = _surrogate_signal(bm, sp, dataset, needed, source, surrogate, seed, reps)
        signal.update({c: final[c] for c in extras})
        predicted = True
    problem = _Problem(space, dataset, objs, cons, reps, signal, final, cost, curves,
                       signal_epoch, final_epoch, predicted)  # fmt: skip
    problem.sources, problem.schedule = _provenance(final_frame)
    return problem


def _provenance(frame) -> tuple[list[str], int | None]:
    """The sources and the (longest) training schedule of the rows a search answers from."""
    sources = sorted(str(s) for s in frame["source"].dropna().unique()) if (
        "source" in frame.columns) else []  # fmt: skip
    hp = None
    if "hp" in frame.columns and not frame["hp"].isna().all():
        hp = int(frame["hp"].max())
    return sources, hp


def _final_epoch(frame) -> int | None:
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


def _multi_fidelity(flag: bool | None, problem: _Problem, backend: str) -> bool:
    usable = backend == "table" and len(problem.curves) > 1
    if flag is None:
        return usable and len(problem.objectives) == 1
    if flag and not usable:
        raise InputError(
            "multi-fidelity needs the table backend and a table with several epochs "
            f"(this one has {len(problem.curves) or 1})"
        )
    return bool(flag)


def _surrogate_signal(
    bm: Any, sp: Any, dataset: str, cols: list[str], source, surrogate, seed, reps
) -> dict[str, np.ndarray]:
    from surrogate.model import Surrogate

    if surrogate is None:
        model = Surrogate.from_benchmark(bm, sp.name, dataset, cols, source=source, seed=seed)
    elif isinstance(surrogate, (str, os.PathLike)):
        model = Surrogate.load(surrogate)
    else:
        model = surrogate
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


def _compute_config(space: str, dataset: str, compute: Any) -> Any:
    """The ComputeConfig of a compute-backend search (checked against space and dataset)."""
    from bench.compute.run import ComputeConfig

    if compute is None:
        return ComputeConfig(space, dataset)
    if isinstance(compute, ComputeConfig):
        cfg = compute
    elif isinstance(compute, Mapping):
        fields = {k: v for k, v in compute.items() if k not in ("space", "dataset")}
        try:
            cfg = ComputeConfig(space, dataset, **fields)
        except TypeError as err:
            raise InputError(f"compute: bad ComputeConfig fields {sorted(fields)}: {err}") from None
    else:
        raise InputError(
            "compute must be a bench.compute.run.ComputeConfig or a dict, "
            f"got {type(compute).__name__}"
        )
    if get_space(cfg.space).name != space or cfg.dataset != dataset:
        raise InputError(
            f"compute config is for {cfg.space}/{cfg.dataset}, the search for {space}/{dataset}"
        )
    if cfg.weights is not None:
        raise InputError("the compute backend trains networks; a weights archive is not used here")
    return cfg


def _load_compute_problem(
    bm: Any,
    space: str,
    dataset: str,
    objs: list[Objective],
    cons: list[Constraint],
    source: str | None,
    compute: Any,
) -> _Problem:
    """Arrays of the rows measured with the compute protocol (NaN where none is stored yet)."""
    from bench.table.schema import check_columns

    ccfg = _compute_config(space, dataset, compute)
    if source is not None and source != ccfg.source:
        raise InputError(
            f"the compute backend reads and writes source {ccfg.source!r}, not {source!r}"
        )
    store = getattr(bm, "store", None)
    if store is None:
        raise InputError("the compute backend needs a store to write to: give bench=PATH")
    sp = get_space(space)
    needed = objective_columns(objs, cons)
    check_columns(needed)  # a name no computation can produce fails before any training
    extras = [c for c in ("acc", HCS_ECE) if c not in needed]
    cols = needed + extras
    frame = _computed_rows(store, ccfg)
    final = {c: np.full(sp.size, np.nan) for c in cols}
    cost = np.full(sp.size, np.nan)
    if len(frame):
        _check_computed_columns(frame, needed, ccfg)
        idx = frame["config"].to_numpy(dtype=np.int64)
        for c in cols:
            if c in frame.columns:
                final[c][idx] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        cost[idx] = frame["train_time_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    reps = sp.representatives().copy() if sp.name == "tss" else np.arange(sp.size)
    final = {c: a[reps] for c, a in final.items()}
    return _Problem(space, dataset, objs, cons, reps, final, final, cost[reps], [], ccfg.epochs,
                    ccfg.epochs, False, ccfg, str(store.root), [ccfg.source], ccfg.hp)  # fmt: skip


def _computed_rows(store: Any, ccfg: Any, config: int | None = None):
    """Final-epoch rows of the compute protocol (its source, hp, seed) in the store."""
    import pandas as pd

    filters = [("hp", "==", ccfg.hp), ("epoch", "==", ccfg.epochs), ("seed", "==", ccfg.seed)]
    if config is not None:
        filters.append(("config", "==", int(config)))
    try:
        frame = store.read(get_space(ccfg.space).name, ccfg.dataset, ccfg.source, filters=filters)
    except FileNotFoundError:
        return pd.DataFrame({"config": pd.Series(dtype=np.int64)})
    return frame.drop_duplicates("config", keep="last")


def _check_computed_columns(frame: Any, needed: list[str], ccfg: Any) -> None:
    absent = [c for c in needed if c not in frame.columns or frame[c].isna().all()]
    if absent:
        raise InputError(
            f"unknown metric {', '.join(map(repr, absent))}: the compute pipeline does not "
            f"measure it for {ccfg.space}/{ccfg.dataset}"
        )


def _compute_row(problem: _Problem, rep: int) -> dict[str, float]:
    """Train and measure architecture ``rep`` with the compute protocol, store it, return its row.

    Another process computing the same class holds its claim: wait for its rows (a claim of a
    dead process is taken over by ``bench.compute.run.compute``).
    """
    from bench.compute.run import compute, merge_journal
    from bench.table.store import Store

    ccfg = problem.compute
    store = Store(problem.bench_root)
    needed = objective_columns(problem.objectives, problem.constraints)
    while True:
        rep_report = compute(ccfg, [int(rep)], bench=problem.bench_root, jobs=0, quiet=True)
        if rep_report.failures:
            raise RuntimeError(f"computing architecture {rep} failed: {rep_report.failures[0]}")
        merge_journal(store, ccfg)  # rows another process left in the journal
        frame = _computed_rows(store, ccfg, rep)
        if len(frame):
            break
        time.sleep(1.0)  # claimed by a live process: its rows arrive when it finishes
    _check_computed_columns(frame, needed, ccfg)
    row = frame.iloc[0]
    for c, arr in problem.signal.items():
        arr[problem.reps == rep] = float(row[c]) if c in frame.columns else math.nan
    if problem.cost is not None:
        problem.cost[problem.reps == rep] = float(row["train_time_s"])
    return {"computed": float(rep_report.networks)}


# -- the study -------------------------------------------------------------------------------------
def _default_name(space, dataset, objs, cons, strategy, seed, backend) -> str:
    parts = [space, dataset, "+".join(str(o) for o in objs), strategy, backend, f"seed{seed}"]
    if cons:
        parts.append("+".join(str(c) for c in cons))
    return "calnas:" + ":".join(parts)


def _create_study(store, cfg: _Config, problem: _Problem, backend: str) -> optuna.Study:
    identity = {
        "space": problem.space,
        "dataset": problem.dataset,
        "objectives": [str(o) for o in problem.objectives],
        "constraints": [str(c) for c in problem.constraints],
        "backend": backend,
    }
    study = optuna.create_study(
        storage=store,
        study_name=cfg.study_name,
        directions=[o.optuna_direction for o in problem.objectives],
        load_if_exists=True,
    )
    held = study.user_attrs.get("calnas")
    if held is None:
        study.set_user_attr("calnas", identity)
    elif held != identity:
        raise InputError(
            f"study {cfg.study_name!r} already holds a different search ({held}); "
            "give another study_name"
        )
    return study


class _Ledger:
    """Per-architecture charges read from the study's finished trials (shared by all workers)."""

    def __init__(self) -> None:
        self.charges: dict[int, float] = {}
        self.complete: set[int] = set()
        self._seen: set[int] = set()

    def sync(self, study: optuna.Study) -> None:
        for t in study._storage.get_all_trials(study._study_id, deepcopy=False, states=_DONE):
            if t.number in self._seen:
                continue
            self._seen.add(t.number)
            rep = t.user_attrs.get("rep")
            if rep is None:
                continue
            self.charges[rep] = max(self.charges.get(rep, 0.0), t.user_attrs.get("charge_s", 0.0))
            if t.state == TrialState.COMPLETE:
                self.complete.add(rep)

    @property
    def clock(self) -> float:
        return float(sum(self.charges.values()))

    @property
    def trials(self) -> int:
        return len(self._seen)


class _Progress:
    """A tqdm bar on stderr: distinct architectures queried (of the budget, else of all the table
    holds), with trials, simulated seconds, the best value of each objective and the normalized
    HV of the (final-epoch, feasible) front found so far. Redrawn at most twice a second."""

    _EVERY_S = 0.5

    def __init__(self, problem: _Problem, cfg: _Config, n_unique: int) -> None:
        from tqdm import tqdm

        self.problem, self.cfg = problem, cfg
        total = n_unique if cfg.trials is None else min(cfg.trials, n_unique)
        self.bar = tqdm(total=total, unit="arch", desc=f"{problem.space}/{problem.dataset}",
                        file=sys.stderr, dynamic_ncols=True, leave=True)  # fmt: skip
        self.true: np.ndarray | None = None
        self.ref: np.ndarray | None = None
        if problem.compute is None:  # the compute backend's true front is known only at the end
            try:
                self.true = _true_front(problem)[1]
                self.ref = reference_point(self.true, problem.objectives)
            except ValueError:
                self.true = None
        self._found: dict[int, list[float]] = {}  # rep -> objective values, usable and feasible
        self._done: set[int] = set()
        self._last = -math.inf

    def show(self, ledger: _Ledger, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._EVERY_S:
            return
        self._last = now
        self.bar.n = min(len(ledger.charges), self.bar.total)
        self.bar.set_postfix_str(self._postfix(ledger), refresh=False)
        self.bar.refresh()

    def close(self, ledger: _Ledger) -> None:
        self.show(ledger, force=True)
        self.bar.close()

    def _postfix(self, ledger: _Ledger) -> str:
        objs = self.problem.objectives
        for rep in ledger.complete - self._done:
            self._done.add(rep)
            vals = _values_dict(self.problem, rep, self.problem.final)
            v = [o.value(vals) for o in objs]
            if all(math.isfinite(x) for x in v) and _feasible(self.problem, vals):
                self._found[rep] = v
        budget = f"/{self.cfg.budget_seconds:,.0f}" if self.cfg.budget_seconds else ""
        parts = [f"trials {ledger.trials}", f"sim {ledger.clock:,.0f}{budget} s"]
        if self._found:
            found = np.array(list(self._found.values()), dtype=np.float64)
            best = [(found[:, j].max() if o.sign < 0 else found[:, j].min())
                    for j, o in enumerate(objs)]  # fmt: skip
            parts.append(
                "best " + " ".join(f"{o.name} {b:.4g}" for o, b in zip(objs, best, strict=True))
            )
            if self.true is not None:
                nhv = normalized_hypervolume(found, self.true, objs, self.ref)
                parts.append(f"HV {nhv:.3f}")
        return ", ".join(parts)


def _fail_orphans(study: optuna.Study) -> None:
    """Mark RUNNING trials of dead processes on this host as failed (after a kill)."""
    host = socket.gethostname()
    for t in study._storage.get_all_trials(
        study._study_id, deepcopy=False, states=(TrialState.RUNNING,)
    ):
        owner = str(t.user_attrs.get("worker", ""))
        h, _, pid = owner.rpartition(":")
        dead = h == host and pid.isdigit() and not _alive(int(pid))
        # Only a popped enqueued trial is briefly untagged; a live worker tags it at once.
        untagged = not owner and _age_s(t) > _UNTAGGED_GRACE_S
        if dead or untagged:
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def _ask(study: optuna.Study, worker: str) -> optuna.Trial:
    """``study.ask()`` whose new trial carries its owner from the start.

    A trial is created and tagged in one storage write, so a process killed at any moment leaves no
    RUNNING trial without an owner (``ask`` then ``set_user_attr`` is two writes, and a kill between
    them left an orphan that no later run could attribute to a dead process). A trial the user
    enqueued is popped first, as ``ask`` does, and tagged right after; ``_fail_orphans`` covers that
    one short window by age.
    """
    template = FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, values=None,
        datetime_start=datetime.now(), datetime_complete=None, params={},
        distributions={}, user_attrs={"worker": worker}, system_attrs={},
        intermediate_values={}, trial_id=-1,
    )  # fmt: skip
    study._thread_local.cached_all_trials = None  # as ask() does: samplers see the latest trials
    waiting = study._pop_waiting_trial_id()  # a user's enqueued trial goes first, as in ask()
    if waiting is not None:
        study._storage.set_trial_user_attr(waiting, "worker", worker)
        return optuna.Trial(study, waiting)
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    return optuna.Trial(study, trial_id)


def _age_s(trial: FrozenTrial) -> float:
    start = trial.datetime_start
    if start is None:
        return 0.0
    now = datetime.now(start.tzinfo) if start.tzinfo else datetime.now()
    return (now - start).total_seconds()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _work(
    problem: _Problem, cfg: _Config, worker: int, storage_obj: Any = None, progress: bool = False
) -> None:
    """One worker: ask, answer, tell until the shared budget is spent (or the space exhausted,
    or ``max_repeats`` trials in a row found nothing new). ``progress``: a bar on stderr."""
    store = storage_obj if storage_obj is not None else open_storage(cfg.storage)
    sp = get_space(problem.space)
    study = optuna.load_study(study_name=cfg.study_name, storage=store)
    _fail_orphans(study)
    n_before = len(study._storage.get_all_trials(study._study_id, deepcopy=False))
    # A resumed study reseeds past its history so it does not replay the same proposals.
    seed = cfg.seed + 1000 * worker + n_before
    study.sampler = make_sampler(cfg.strategy, sp, seed=seed, n_objectives=len(problem.objectives))
    if cfg.multi_fidelity:
        epochs = [e for e, _, _ in problem.curves]
        study.pruner = optuna.pruners.HyperbandPruner(
            min_resource=epochs[0], max_resource=epochs[-1], reduction_factor=3
        )
    n_unique = _n_unique(problem)
    names = sp.param_names()
    space_params = sp.param_space()
    me = f"{socket.gethostname()}:{os.getpid()}"
    ledger = _Ledger()
    bar = _Progress(problem, cfg, n_unique) if progress else None
    repeats = 0
    try:
        while True:
            ledger.sync(study)
            if bar is not None:
                bar.show(ledger)
            if _spent(ledger, cfg, n_unique) or repeats >= cfg.max_repeats:
                return
            found_new = _step(study, problem, cfg, sp, names, space_params, me, ledger)
            repeats = 0 if found_new else repeats + 1
    finally:
        if bar is not None:
            ledger.sync(study)
            bar.close(ledger)


def _n_unique(problem: _Problem) -> int:
    """Distinct architectures (TSS: isomorphism classes) the search can query.

    Only measured architectures can be answered from a table; the compute backend can compute any.
    Once all of them are queried the space is exhausted and the search stops.
    """
    uniq = np.unique(problem.reps)
    if problem.compute is not None:
        return len(uniq)
    ok = np.all([np.isfinite(a[uniq]) for a in problem.signal.values()], axis=0)
    return int(ok.sum())


def _step(
    study: optuna.Study,
    problem: _Problem,
    cfg: _Config,
    sp: Any,
    names: Sequence[str],
    space_params: Mapping[str, Sequence[Any]],
    me: str,
    ledger: _Ledger,
) -> bool:
    """Ask, answer and tell one trial; True when it taught the search something new.

    New means a class nobody had queried, or the first complete answer for a class that was
    only pruned so far. A cached repeat, a pruned class pruned again, and a missing row are not.
    """
    trial = _ask(study, me)
    params = {n: trial.suggest_categorical(n, space_params[n]) for n in names}
    index = sp.index(sp.from_params(params))
    rep = int(problem.reps[index])
    trial.set_user_attr("index", index)
    trial.set_user_attr("rep", rep)
    cached = rep in ledger.complete
    state, values = _answer(problem, cfg, trial, rep, cached, ledger)
    if state == TrialState.FAIL:
        study.tell(trial, state=TrialState.FAIL)
    elif state == TrialState.PRUNED:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, values)
    if state == TrialState.FAIL:
        return False
    return rep not in ledger.charges or (state == TrialState.COMPLETE and not cached)


def _spent(ledger: _Ledger, cfg: _Config, n_unique: int) -> bool:
    if len(ledger.charges) >= n_unique:
        return True  # every distinct architecture has been seen
    if cfg.trials is not None:
        return len(ledger.charges) >= cfg.trials
    if cfg.budget_seconds is not None:
        return ledger.clock >= cfg.budget_seconds
    return False


def _answer(
    problem: _Problem, cfg: _Config, trial: optuna.Trial, rep: int, cached: bool, ledger: _Ledger
) -> tuple[TrialState, list[float] | None]:
    if cfg.multi_fidelity and not cached:
        return _answer_curve(problem, trial, rep)
    row = problem.row(problem.signal, rep)
    if row is None and problem.compute is not None:
        info = _compute_row(problem, rep)
        trial.set_user_attr("computed", bool(info["computed"]))
        row = problem.row(problem.signal, rep)
    if row is None:
        trial.set_user_attr("missing", True)  # no value to give: not charged, not counted
        return TrialState.FAIL, None
    charge = 0.0 if problem.cost is None else float(problem.cost[rep])
    if not math.isfinite(charge):
        charge = 0.0
    # The ledger keeps the largest charge per architecture, so a repeat adds nothing.
    trial.set_user_attr("charge_s", charge)
    trial.set_user_attr("cached", cached)
    for c in problem.constraints:
        trial.set_constraint(str(c), c.violation(c.value(row)))
    return TrialState.COMPLETE, [o.value(row) for o in problem.objectives]


def _answer_curve(
    problem: _Problem, trial: optuna.Trial, rep: int
) -> tuple[TrialState, list[float] | None]:
    obj = problem.objectives[0]
    charge = 0.0
    trial.set_user_attr("cached", False)
    row = None
    for epoch, arrays, times in problem.curves:
        row = problem.row(arrays, rep)
        if row is None:
            trial.set_user_attr("missing", True)
            trial.set_user_attr("charge_s", charge)
            return TrialState.FAIL, None
        if times is not None and math.isfinite(times[rep]):
            charge = float(times[rep])
        trial.set_user_attr("charge_s", charge)
        trial.report(obj.value(row), step=epoch)
        if epoch != problem.curves[-1][0] and trial.should_prune():
            trial.set_user_attr("pruned_at", epoch)
            return TrialState.PRUNED, None
    for c in problem.constraints:
        trial.set_constraint(str(c), c.violation(c.value(row)))
    return TrialState.COMPLETE, [obj.value(row)]


# -- the result ------------------------------------------------------------------------------------
def _values_dict(problem: _Problem, rep: int, source: Mapping[str, np.ndarray]) -> dict[str, float]:
    vals = {c: float(a[rep]) for c, a in source.items()}
    for o in problem.objectives:
        if o.is_hcs:
            vals[o.name] = o.value(vals)
    return vals


def _feasible(problem: _Problem, vals: Mapping[str, float]) -> bool:
    return all(c.violation(c.value(vals)) <= 0 for c in problem.constraints)


def _true_front(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """Indices and objective values of the true front (unique archs, feasible, measured)."""
    uniq = np.unique(problem.reps)
    cols = {c: a[uniq] for c, a in problem.final.items()}
    vals = objective_values(problem.objectives, cols)
    ok = np.all(np.isfinite(vals), axis=1)
    for c in problem.constraints:
        v = objective_values(
            [Objective(c.metric, "min")] if not c.metric.startswith("hcs") else
            parse_objectives([c.metric]), cols)[:, 0]  # fmt: skip
        ok &= np.isfinite(v) & (np.array([c.violation(x) for x in v]) <= 0)
    if not ok.any():
        raise InputError("no architecture of the table satisfies the constraints: empty true front")
    idx, vals = uniq[ok], vals[ok]
    mask = pareto_mask(to_losses(vals, problem.objectives))
    return idx[mask], vals[mask]


def _build_result(
    study: optuna.Study,
    problem: _Problem,
    cfg: _Config,
    backend: str,
    storage: str | None,
    workers: int,
) -> SearchResult:
    sp = get_space(problem.space)
    finished = sorted(
        study._storage.get_all_trials(study._study_id, deepcopy=False, states=_DONE),
        key=lambda t: t.number,
    )
    queries: list[dict[str, Any]] = []
    charged: dict[int, float] = {}
    complete: dict[int, FrozenTrial] = {}
    clock = 0.0
    n_trials = 0
    for t in finished:
        rep = t.user_attrs.get("rep")
        if rep is None:
            continue
        new = rep not in charged
        if new and (
            (cfg.trials is not None and len(charged) >= cfg.trials)
            or (cfg.budget_seconds is not None and clock >= cfg.budget_seconds)
        ):
            break  # past the budget (overshoot of parallel workers): not part of this run
        n_trials += 1
        charge = float(t.user_attrs.get("charge_s", 0.0))
        extra = charge - charged.get(rep, 0.0)
        if extra > 0 or new:
            charged[rep] = max(charge, charged.get(rep, 0.0))
            clock += max(extra, 0.0)
        if new:
            queries.append(
                {
                    "trial": t.number,
                    "index": rep,
                    "arch": sp.arch(rep),
                    "cost_s": charge,
                    "clock_s": clock,
                    "pruned": t.state == TrialState.PRUNED,
                }
            )
        if t.state == TrialState.COMPLETE and rep not in complete:
            complete[rep] = t
            for q in queries:
                if q["index"] == rep:
                    q["pruned"] = False
    for q in queries:
        q["values"] = _values_dict(problem, q["index"], problem.final)

    true_idx, true_vals = _true_front(problem)
    ref = reference_point(true_vals, problem.objectives)
    order_vals, order_ok = [], []
    for q in queries:
        v = [o.value(q["values"]) if all(math.isfinite(x) for x in q["values"].values()) else
             math.nan for o in problem.objectives]  # fmt: skip
        usable = not q["pruned"] and all(math.isfinite(x) for x in v)
        order_vals.append(v if usable else [0.0] * len(v))
        order_ok.append(usable and _feasible(problem, q["values"]))
    order_vals_arr = np.asarray(order_vals, dtype=np.float64).reshape(-1, len(problem.objectives))
    history = hv_history(order_vals_arr, true_vals, problem.objectives, ref, np.array(order_ok))

    found_rows = [q for q, ok in zip(queries, order_ok, strict=True) if ok]
    found_vals = order_vals_arr[np.array(order_ok, dtype=bool)] if found_rows else np.zeros(
        (0, len(problem.objectives)))  # fmt: skip
    if len(found_rows):
        mask = pareto_mask(to_losses(found_vals, problem.objectives))
        front_rows = [found_rows[i] for i in np.flatnonzero(mask)]
        front_vals = found_vals[mask]
    else:
        front_rows, front_vals = [], found_vals
    key = problem.objectives[0]
    front = sorted(
        ({"index": q["index"], "arch": q["arch"], "values": q["values"]} for q in front_rows),
        key=lambda r: key.sign * key.value(r["values"]),
    )
    nhv = normalized_hypervolume(front_vals, true_vals, problem.objectives, ref)
    igd = igd_plus(front_vals, true_vals, problem.objectives)
    ece = next((o.columns[1] for o in problem.objectives if o.is_hcs), HCS_ECE)
    pick = hcs_pick(front, ece=ece, beta=problem.objectives[0].beta)
    true_front = sorted(
        (
            {
                "index": int(i),
                "arch": sp.arch(int(i)),
                "values": _values_dict(problem, int(i), problem.final),
            }
            for i in true_idx
        ),
        key=lambda r: key.sign * key.value(r["values"]),
    )
    reached = np.flatnonzero(history >= 0.95)
    n_unique = _n_unique(problem)
    report = {
        "space": problem.space,
        "dataset": problem.dataset,
        "objectives": [str(o) for o in problem.objectives],
        "constraints": [str(c) for c in problem.constraints],
        "strategy": cfg.strategy,
        "backend": backend,
        "seed": cfg.seed,
        "workers": workers,
        "budget": {"trials": cfg.trials, "seconds": cfg.budget_seconds},
        "max_repeats": cfg.max_repeats,
        "pareto_front": front,
        "normalized_hv": float(nhv),
        "igd_plus": float(igd),
        "queries": len(queries),
        "trials": n_trials,
        "simulated_seconds": float(clock),
        "stopped": _stop_reason(cfg, len(charged), clock, n_unique),
        "distinct_architectures": n_unique,  # what the table can answer (TSS: classes)
        "hcs_pick": pick,
        "queries_to_hv_0_95": int(reached[0]) + 1 if reached.size else None,
        "true_front_size": len(true_front),
        "reference_point": (ref * np.array([o.sign for o in problem.objectives])).tolist(),
        "signal_epoch": problem.signal_epoch,
        "final_epoch": problem.final_epoch,
        "sources": list(problem.sources),
        "schedule_epochs": problem.schedule,
        "multi_fidelity": cfg.multi_fidelity,
        "predicted_signal": problem.predicted,
        # compute backend: networks this search trained, and the protocol of the rows it used;
        # its true front is the front of every architecture measured with that protocol so far
        "computed": sum(bool(t.user_attrs.get("computed")) for t in finished),
        "compute_protocol": problem.compute.protocol() if problem.compute is not None else None,
        "storage": storage if storage is not None else "memory",
        "study_name": cfg.study_name,
        "hv_history": [float(x) for x in history],
    }
    return SearchResult(report, queries, history, true_front, study)


def _stop_reason(cfg: _Config, n_queried: int, clock: float, n_unique: int) -> str:
    """Why the search ended: the budget it was given, the table, or the sampler going round."""
    if cfg.trials is not None and n_queried >= cfg.trials:
        return "trials"
    if cfg.budget_seconds is not None and clock >= cfg.budget_seconds:
        return "budget"
    if n_queried >= n_unique:
        return "space exhausted"
    return "max repeats"


def _pg_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only it is there."""
    from bench.extras import MissingExtra, has

    if url.startswith(("postgresql://", "postgres://")) and not has("psycopg"):
        if not has("psycopg2"):
            raise MissingExtra(
                "a PostgreSQL storage needs psycopg2: pip install 'calnas[postgres]'"
            )
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def _redact(url: str) -> str:
    """Hide a password in a database URL before it goes into an error message."""
    head, sep, tail = url.partition("://")
    if "@" in tail:
        cred, _, host = tail.rpartition("@")
        user = cred.split(":", 1)[0]
        return f"{head}{sep}{user}:***@{host}"
    return url


# -- comparing strategies --------------------------------------------------------------------------
def compare_strategies(
    space: str,
    dataset: str,
    objectives: str | Sequence[str],
    strategies: Sequence[str],
    *,
    runs: int = 20,
    budgets: Sequence[int] = (25, 50, 100, 200),
    target: float = 0.95,
    seed: int = 0,
    bench: Any = None,
    progress: bool = False,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Mean and std of normalized HV at fixed query budgets, and queries needed to reach ``target``.

    Each strategy runs ``runs`` times (seeds ``seed .. seed+runs-1``) with ``max(budgets)``
    queries on the table. ``queries_to_target`` averages over the runs that reached the target;
    ``reached`` says how many did. ``progress``: a tqdm bar over the runs on stderr.

    Example:
        >>> compare_strategies("tss", "digits", "acc,pre_ECE_15", ["random", "rea"], runs=3)
        ... # doctest: +SKIP
    """
    if not strategies:
        raise InputError("give at least one strategy to compare")
    check_int(runs, "runs")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise InputError(f"budgets must be positive integers, got {list(budgets)}")
    if not 0 < target <= 1:
        raise InputError(f"target must be in (0, 1], got {target}")
    for s in strategies:
        parse_strategy(s)  # fail before any run
    bm = _open_bench(bench)
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(strategies) * runs, unit="run", desc="compare", file=sys.stderr,
                   dynamic_ncols=True)  # fmt: skip
    for strat in strategies:
        hv = np.zeros((runs, len(budgets)))
        reach: list[int] = []
        for r in range(runs):
            res = run_search(space, dataset, objectives, strat, trials=budgets[-1],
                             seed=seed + r, bench=bm, **kwargs)  # fmt: skip
            if bar is not None:
                nhv = res.report["normalized_hv"]
                bar.set_postfix_str(f"{strat} seed {seed + r}: HV {nhv:.3f}")
                bar.update(1)
            h = res.hv_history
            for j, b in enumerate(budgets):
                hv[r, j] = h[min(b, len(h)) - 1] if len(h) else 0.0
            hit = np.flatnonzero(h >= target)
            if hit.size:
                reach.append(int(hit[0]) + 1)
        row: dict[str, Any] = {"strategy": strat, "runs": runs}
        for j, b in enumerate(budgets):
            row[f"hv@{b}"] = round(float(hv[:, j].mean()), 4)
            row[f"std@{b}"] = round(float(hv[:, j].std()), 4)
        row[f"queries_to_{target:g}"] = round(float(np.mean(reach)), 1) if reach else None
        row["reached"] = f"{len(reach)}/{runs}"
        rows.append(row)
    if bar is not None:
        bar.close()
    return rows
