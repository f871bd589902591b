"""What a search returns: :class:`SearchResult`, scored against the true front.

:func:`build_result` replays the study's finished trials in order (the queries, each new
architecture's cost and the clock, cut at the budget where parallel workers overshot it), then
scores the feasible front found with the final-epoch values: normalized hypervolume and IGD+
against the true front (:mod:`search.indicators`), the HCS pick, and the JSON report.

Example:
    >>> from search import run_search
    >>> res = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=5)
    >>> res.report["stopped"], len(res.hv_history)
    ('trials', 5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.arch.spaces import get_space
from search.config import SearchConfig
from search.indicators import (
    hcs_pick,
    hv_history,
    igd_plus,
    normalized_hypervolume,
    pareto_mask,
    reference_point,
    to_losses,
)
from search.objectives import HCS_ECE
from search.problem import Problem
from search.worker import DONE, stop_reason

__all__ = ["SearchResult", "build_result"]


@dataclass
class SearchResult:
    """What :func:`search.runner.run_search` returns.

    Attributes:
        report: the JSON report: space, dataset, objectives, constraints, strategy, backend,
            seed, workers, budget, pareto_front ([{index, arch, values}]), normalized_hv,
            igd_plus, queries, trials, simulated_seconds, stopped, distinct_architectures,
            hcs_pick, queries_to_hv_0_95, true_front_size, reference_point, the epochs, sources
            and schedule of the table, multi_fidelity, predicted_signal, noise, merge_functional,
            prior, computed,
            compute_protocol, storage, study_name and hv_history.
        queries: one dict per distinct architecture queried, in order (index, arch, trial,
            values, cost_s, clock_s, pruned; under ``noise="seed"`` also the seed drawn; values
            are the final-epoch means either way).
        hv_history: normalized hypervolume after each query.
        true_front: the true front's rows ({index, arch, values}).
        study: the Optuna study (for its trials, or to continue it).
    """

    report: dict[str, Any]
    queries: list[dict[str, Any]]
    hv_history: np.ndarray
    true_front: list[dict[str, Any]]
    study: optuna.Study


def build_result(study: optuna.Study, problem: Problem, config: SearchConfig) -> SearchResult:
    """Score the search that ran in ``study``.

    Args:
        study: the study, after every worker has finished.
        problem: what was searched (for the compute backend: reloaded, so it holds every row
            measured by now).
        config: the resolved search (``storage`` and ``study_name`` as used).

    Returns:
        The :class:`SearchResult`.

    Raises:
        InputError: no architecture of the table satisfies the constraints.
    """
    sp = get_space(problem.space)
    finished = sorted(study.get_trials(deepcopy=False, states=DONE), key=lambda t: t.number)
    queries, n_trials, n_charged, clock = _replay(finished, problem, config)

    true_idx, true_vals = problem.true_front()
    ref = reference_point(true_vals, problem.objectives)
    order_vals, order_ok = [], []
    for q in queries:
        v = [o.value(q["values"]) if all(math.isfinite(x) for x in q["values"].values()) else
             math.nan for o in problem.objectives]  # fmt: skip
        usable = not q["pruned"] and all(math.isfinite(x) for x in v)
        order_vals.append(v if usable else [0.0] * len(v))
        order_ok.append(usable and problem.feasible(q["values"]))
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
            {"index": int(i), "arch": sp.arch(int(i)), "values": problem.final_values(int(i))}
            for i in true_idx
        ),
        key=lambda r: key.sign * key.value(r["values"]),
    )
    reached = np.flatnonzero(history >= 0.95)
    n_unique = problem.n_unique()
    report = {
        "space": problem.space,
        "dataset": problem.dataset,
        "objectives": [str(o) for o in problem.objectives],
        "constraints": [str(c) for c in problem.constraints],
        "strategy": config.strategy,
        "backend": config.backend,
        "seed": config.seed,
        "workers": config.workers,
        "budget": {"trials": config.trials, "seconds": config.budget_seconds},
        "max_repeats": config.max_repeats,
        "pareto_front": front,
        "normalized_hv": float(nhv),
        "igd_plus": float(igd),
        "queries": len(queries),
        "trials": n_trials,
        "simulated_seconds": float(clock),
        "stopped": stop_reason(config, n_charged, clock, n_unique),
        "distinct_architectures": n_unique,  # what the table can answer (TSS: classes)
        "hcs_pick": pick,
        "queries_to_hv_0_95": int(reached[0]) + 1 if reached.size else None,
        "true_front_size": len(true_front),
        "reference_point": (ref * np.array([o.sign for o in problem.objectives])).tolist(),
        "signal_epoch": problem.signal_epoch,
        "final_epoch": problem.final_epoch,
        "sources": list(problem.sources),
        "schedule_epochs": problem.schedule,
        "multi_fidelity": config.multi_fidelity,
        "predicted_signal": problem.predicted,
        "noise": config.noise,  # "seed": the search saw one seed's rows; scored on the mean
        "merge_functional": config.merge_functional,  # classes of one function counted once
        # warm start: {"dataset", "queued"} when the search first queried another table's best
        "prior": study.user_attrs.get("prior"),
        # compute backend: networks this search trained, and the protocol of the rows it used;
        # its true front is the front of every architecture measured with that protocol so far
        "computed": sum(bool(t.user_attrs.get("computed")) for t in finished),
        "compute_protocol": problem.compute.protocol() if problem.compute is not None else None,
        "storage": config.storage if config.storage is not None else "memory",
        "study_name": config.study_name,
        "hv_history": [float(x) for x in history],
    }
    return SearchResult(report, queries, history, true_front, study)


def _replay(
    finished: list[FrozenTrial], problem: Problem, config: SearchConfig
) -> tuple[list[dict[str, Any]], int, int, float]:
    """(queries, trials counted, classes charged, clock) of the finished trials, in order, up to
    the budget: trials past it (parallel workers overshoot) are not part of this run."""
    sp = get_space(problem.space)
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
            (config.trials is not None and len(charged) >= config.trials)
            or (config.budget_seconds is not None and clock >= config.budget_seconds)
        ):
            break
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
            if "seed" in t.user_attrs:  # noise="seed": the seed whose row the search saw
                queries[-1]["seed"] = int(t.user_attrs["seed"])
        if t.state == TrialState.COMPLETE and rep not in complete:
            complete[rep] = t
            for q in queries:
                if q["index"] == rep:
                    q["pruned"] = False
    for q in queries:
        q["values"] = problem.final_values(q["index"])
    return queries, n_trials, len(charged), clock
