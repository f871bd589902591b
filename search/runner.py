"""Run a calibration-aware architecture search: :func:`run_search`.

One trial: the sampler proposes one choice per edge (TSS) or layer (SSS); the worker turns them
into an arch and its NATS index, answers with the values of that architecture, and tells Optuna.
The modules, in the order a search uses them:

* :mod:`search.config`: :class:`~search.config.SearchConfig`, every option, checked.
* :mod:`search.problem` (and :mod:`search.compute` for the compute backend): what is searched.
  ``table``: values come from the benchmark table; as in NATS-Bench, when the table holds a
  12-epoch proxy below the final epoch the search sees and pays for the 12-epoch values while the
  report scores the final-epoch values. ``surrogate``: from a :class:`surrogate.model.Surrogate`
  fitted on the table (or the one you pass). ``compute``: measured rows of the table, and missing
  ones computed through ``bench.compute``.
* :mod:`search.storage`: in memory by default, a journal file or a database URL; ``workers=N``
  runs N processes on one study; the same storage and study name resumes (trials a killed
  process left RUNNING are marked failed and the budget counts what was already spent).
* :mod:`search.worker`: the loop (cache per architecture class, simulated clock, Hyperband
  pruning for one objective on a table with several epochs, stop rules).
* :mod:`search.result`: the queries, the found front, normalized HV, IGD+, the HCS pick, the
  report.

Example:
    >>> res = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=5, seed=0)
    >>> res.report["queries"], res.report["stopped"]
    (5, 'trials')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from typing import Any

import optuna

from bench.errors import InputError
from search.config import SearchConfig
from search.prior import enqueue_prior
from search.problem import load_problem, open_bench, resolve_multi_fidelity
from search.result import SearchResult, build_result
from search.samplers import DEFAULT_STRATEGY
from search.storage import open_storage, open_study
from search.worker import work

__all__ = ["run_search"]

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_search(
    space: str | SearchConfig,
    dataset: str | None = None,
    objectives: str | Sequence[str] | None = None,
    strategy: str = DEFAULT_STRATEGY,
    **options: Any,
) -> SearchResult:
    """Search ``space``/``dataset`` for ``objectives`` with ``strategy`` and score the result.

    Either ``run_search(config)`` with a :class:`~search.config.SearchConfig`, or the same
    fields as arguments: ``run_search("tss", "digits", "acc,pre_ECE_15", "mpls", trials=100,
    seed=0)`` builds the config. The search stops when the budget is spent, when every distinct
    architecture the table holds has been queried, or after ``max_repeats`` trials in a row that
    found nothing new; ``report["stopped"]`` says which.

    Args:
        space: ``"tss"`` or ``"sss"``, or a whole SearchConfig (then give nothing else).
        dataset: a dataset of the table (``"digits"`` for the embedded demo).
        objectives: ``"acc,pre_ECE_15"``, ``["acc:max", "params_m"]``, ``"hcs"``, ...
        strategy: a strategy of :data:`search.samplers.STRATEGIES` (default ``mpls``).
        **options: the other SearchConfig fields: ``trials``, ``budget_seconds``, ``backend``,
            ``storage``, ``study_name``, ``workers``, ``seed``, ``bench``, ``constraints``,
            ``source``, ``proxy_epoch``, ``multi_fidelity``, ``surrogate``, ``hcs_beta``,
            ``max_repeats``, ``compute``, ``progress``, ``noise``, ``merge_functional``,
            ``prior``.

    Returns:
        A :class:`~search.result.SearchResult` (its ``report`` is the JSON report).

    Raises:
        InputError: a bad option (see SearchConfig), a table without what the search needs, or
            a stored study that holds a different search.
        MissingFileError: a journal file in a folder that does not exist.

    Example:
        >>> cfg = SearchConfig("tss", "digits", "acc,pre_ECE_15", "rea", trials=5)
        >>> run_search(cfg).report["strategy"]
        'rea'
    """
    if isinstance(space, SearchConfig):
        if dataset is not None or objectives is not None or options:
            raise InputError("give run_search a SearchConfig or its fields, not both")
        config = space
    else:
        config = SearchConfig(space, dataset, objectives, strategy, **options)

    bm = open_bench(config.bench)
    problem = load_problem(bm, config)
    if config.budget_seconds is not None and problem.cost is None:
        raise InputError(
            f"the {config.space}/{config.dataset} table has no train_time_s column, so a "
            "simulated-time budget cannot be charged; give trials=N instead"
        )
    multi_fidelity = resolve_multi_fidelity(config, problem)
    storage = config.storage
    if storage is None and config.workers > 1:
        # Several processes need a shared storage: a journal file in a temporary folder.
        storage = os.path.join(tempfile.mkdtemp(prefix="calnas-search-"), "study.journal")
    # The workers answer from the problem's arrays: the table and the model stay here.
    run = replace(
        config,
        storage=storage,
        study_name=config.study_name or config.default_study_name(),
        multi_fidelity=multi_fidelity,
        bench=None,
        surrogate=None,
    )
    store = open_storage(storage)
    study = open_study(store, run.study_name, problem, run.backend)
    if config.prior is not None:
        enqueue_prior(study, bm, config, problem)

    if run.workers == 1:
        work(problem, run, 0, store, progress=run.progress)
    else:
        ctx = get_context("spawn")  # forking a process that may hold torch threads is unsafe
        with ProcessPoolExecutor(max_workers=run.workers, mp_context=ctx) as pool:
            # one bar, from worker 0: its ledger reads every worker's trials from the storage
            futures = [pool.submit(work, problem, run, w, None, run.progress and w == 0)
                       for w in range(run.workers)]  # fmt: skip
            for fut in futures:
                fut.result()
    study = optuna.load_study(study_name=run.study_name, storage=store)
    if run.backend == "compute":
        # the workers added rows to the store: score against everything measured now
        problem = load_problem(bm, config)
    return build_result(study, problem, run)
