"""A warm start from another dataset's table: :func:`warm_start` and :func:`enqueue_prior`.

Architectures that do well on one dataset tend to do well on another (the study's question (i):
accuracy carries over between CIFAR-10, CIFAR-100 and ImageNet16-120 far better than calibration
does). When the benchmark already holds a table of another dataset of the same space, a search
may first query that table's best architectures for the same objectives and constraints, then
let its strategy go on. The search counts those queries like any other (they are real
measurements on the searched dataset); it only chooses *which* architectures come first.

The order: the prior table's non-dominated layers (its true front, then the front of the rest,
...), within a layer greedily by the hypervolume each architecture adds to those already picked
(one objective: best first), at most :data:`PRIOR_SIZE` architectures. Measured on NB201
(``scripts/perf_search.py --prior auto``; docs/performance.md): queries to normalized HV 0.95
fall several-fold where the datasets' fronts agree, and nothing is gained where they do not.

Example:
    >>> import numpy as np
    >>> greedy_order(np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.9]]), 3).tolist()
    [2, 0, 1]
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import optuna

from bench.arch.spaces import get_space
from bench.errors import InputError
from search.config import SearchConfig
from search.indicators import (
    hv_improvement_2d,
    hypervolume,
    loss_reference,
    pareto_mask,
    to_losses,
)
from search.problem import Problem, load_problem

__all__ = ["PRIOR_SIZE", "enqueue_prior", "greedy_order", "warm_start"]

#: Most architectures a warm start queues (NB201's fronts hold 17-33 classes; the first few of
#: the greedy order carry most of a front's hypervolume).
PRIOR_SIZE = 20


def warm_start(
    bm: Any, config: SearchConfig, problem: Problem, size: int = PRIOR_SIZE
) -> list[int]:
    """The NATS indices a search of ``problem`` queries first, from ``config.prior``'s table.

    Args:
        bm: the benchmark holding both tables.
        config: the search (its ``prior`` names the other dataset).
        problem: the searched problem (its classes; the architectures it can answer).
        size: most architectures returned (and at most the trial budget).

    Returns:
        Class representatives of ``problem``, best of the prior first, each once, only ones the
        search can answer.

    Raises:
        InputError: no prior named, or the prior's table lacks the objectives or constraints.

    Example (a store holding the NB201 tables, ``calnas bench import nb201``):
        >>> from search.problem import load_problem, open_bench
        >>> bm = open_bench("~/nb201")  # doctest: +SKIP
        >>> cfg = SearchConfig("tss", "cifar10-valid", "valid_acc,train_time_s", trials=50,
        ...                    bench=bm, prior="cifar100")  # doctest: +SKIP
        >>> warm_start(bm, cfg, load_problem(bm, cfg))[:3]  # doctest: +SKIP
        [804, 55, 11692]
    """
    if config.prior is None:
        raise InputError("warm_start needs config.prior: the dataset whose table leads")
    # the prior's final values, from its table, with the same objectives and constraints
    prior_cfg = replace(config, dataset=config.prior, prior=None, noise=None, backend="table",
                        compute=None, surrogate=None, source=None, multi_fidelity=False,
                        proxy_epoch=None)  # fmt: skip
    try:
        prior = load_problem(bm, prior_cfg)
        idx, vals = prior.feasible_values()
    except InputError as err:
        raise InputError(f"prior {config.prior!r}: {err}") from None
    if config.trials is not None:
        size = min(size, config.trials)
    # keep the prior's measured architectures the search can answer, one per searched class
    reps = problem.reps[idx]
    ok = problem.answerable()[reps]
    reps, losses = reps[ok], to_losses(vals[ok], problem.objectives)
    _, first = np.unique(reps, return_index=True)
    first.sort()
    reps, losses = reps[first], losses[first]
    picked: list[int] = []
    left = np.arange(len(reps))
    while len(picked) < size and len(left):
        layer = left[pareto_mask(losses[left])]
        order = greedy_order(losses[layer], size - len(picked))
        picked.extend(int(reps[i]) for i in layer[order])
        left = np.setdiff1d(left, layer)
    return picked


def greedy_order(losses: np.ndarray, count: int) -> np.ndarray:
    """Positions of up to ``count`` of ``losses`` (n, k; mutually non-dominated, minimized),
    each next one the point adding the most hypervolume to those before it (one objective: the
    lowest first). The reference point lies 10 % of the range beyond the points' worst loss.

    Example:
        >>> greedy_order(np.array([[3.0], [1.0], [2.0]]), 2).tolist()
        [1, 2]
    """
    losses = np.asarray(losses, dtype=np.float64)
    n, k = losses.shape
    count = min(count, n)
    if k == 1:
        return np.argsort(losses[:, 0], kind="stable")[:count]
    ref = loss_reference(losses)
    chosen: list[int] = []
    left = list(range(n))
    while len(chosen) < count:
        front = losses[chosen]
        if k == 2:
            gain = hv_improvement_2d(front, ref, losses[left])
        else:
            base = hypervolume(front, ref) if chosen else 0.0
            gain = np.array([hypervolume(np.vstack([front, losses[i]]), ref) - base for i in left])
        chosen.append(left.pop(int(np.argmax(gain))))
    return np.asarray(chosen, dtype=np.int64)


def enqueue_prior(study: optuna.Study, bm: Any, config: SearchConfig, problem: Problem) -> int:
    """Queue the warm start of ``config.prior`` as the study's first trials; the number queued.

    Only a study without trials is given one (a resumed search has already had it); the study
    records ``{"dataset", "queued"}`` in its user attribute ``prior`` for the report.

    Args:
        study: the search's study, new or resumed.
        bm: the benchmark.
        config: the search, with ``prior`` set.
        problem: the searched problem.

    Returns:
        How many trials were queued now (0 for a resumed study).

    Example (what :func:`search.runner.run_search` does with ``prior=``):
        >>> from search.runner import run_search
        >>> res = run_search("tss", "cifar10-valid", "valid_acc,train_time_s", trials=30,
        ...                  bench="~/nb201", prior="cifar100")  # doctest: +SKIP
        >>> res.report["prior"]  # doctest: +SKIP
        {'dataset': 'cifar100', 'queued': 20}
    """
    if study.get_trials(deepcopy=False):
        return 0
    sp = get_space(problem.space)
    picked = warm_start(bm, config, problem)
    for index in picked:
        study.enqueue_trial(sp.to_params(index), skip_if_exists=True)
    study.set_user_attr("prior", {"dataset": config.prior, "queued": len(picked)})
    return len(picked)
