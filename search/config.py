"""Every option of a search in one checked value: :class:`SearchConfig`.

Example:
    >>> cfg = SearchConfig("tss", "digits", "acc,pre_ECE_15", "random", trials=5)
    >>> cfg.strategy_name, [str(o) for o in cfg.objective_list()]
    ('random', ['acc:max', 'pre_ECE_15:min'])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.errors import InputError
from search.objectives import Constraint, Objective, parse_constraints, parse_objectives
from search.samplers.registry import DEFAULT_STRATEGY, make_sampler, parse_strategy

__all__ = ["BACKENDS", "NOISE_MODES", "SearchConfig"]

#: Where a search's values come from: the table, a surrogate model of it, or live computation.
BACKENDS = ("table", "surrogate", "compute")

#: How a query is answered when the table holds several seeds: None (their mean) or "seed"
#: (one seed's row, drawn per class; see :mod:`search.noise`).
NOISE_MODES = (None, "seed")


@dataclass(frozen=True)
class SearchConfig:
    """What to search, how, and on what budget; checked when built.

    ``space`` is stored by its canonical name, ``trials`` as an int and ``budget_seconds`` as a
    float; every other field is kept as given.

    Attributes:
        space: ``"tss"`` or ``"sss"``.
        dataset: a dataset of the table (``"digits"`` for the embedded demo).
        objectives: ``"acc,pre_ECE_15"``, ``["acc:max", "params_m"]``, ``"hcs"``, ...
        strategy: ``random``, ``tpe``, ``nsga2``, ``nsga3``, ``gp``, ``rea``, ``pls``, ``mpls``
            or ``brute``, with optional parameters (``"nsga2:population_size=20"``).
        trials: budget in distinct architectures queried (repeats are free).
        budget_seconds: budget in simulated training seconds (needs ``train_time_s``). Give
            exactly one of the two budgets (``brute`` alone may run without one: every
            architecture once).
        backend: ``"table"``, ``"surrogate"`` or ``"compute"``.
        storage: None (in memory), a journal file path, or a database URL.
        study_name: the study to create or resume (default: derived from the options).
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
        compute: for ``backend="compute"``: a ``bench.compute.ComputeConfig`` or a dict of its
            fields (``epochs``, ``fidelities``, ``batch_size``, ``C``, ``N``, ``data_root``,
            ``device``, ``seed``, ...); default ``ComputeConfig(space, dataset)`` (NATS's
            12-epoch schedule). The search answers from the store's rows measured with exactly
            this protocol (its source, ``hp`` = epochs, seed; final epoch) and trains, measures
            and upserts the missing ones; the clock charges each one's measured train time.
        progress: show a tqdm bar on stderr (distinct architectures, trials, simulated seconds,
            best value of each objective, normalized HV).
        noise: None (a query sees the mean over the table's seeds) or ``"seed"`` (a query sees
            one seed's row, drawn at random per class from ``seed`` and charged that seed's
            ``train_time_s``; the report still scores the mean). Table backend only, without
            multi-fidelity pruning; see :mod:`search.noise`.
        merge_functional: treat TSS isomorphism classes that compute the same function
            (:mod:`bench.arch.functional`: 4,930 functions among 6,466 classes) as one
            architecture: the function's smallest index answers for all of them, a query of one
            counts for all, and the true front is over functions. SSS has none: set to False.
        prior: another dataset of the same space in the same benchmark, used as a warm start:
            the search first queries the best architectures of that dataset's table on the same
            objectives (its non-dominated layers in greedy hypervolume order, at most
            :data:`search.prior.PRIOR_SIZE`), then the strategy goes on. Only when the user
            names it: it assumes the fronts carry over between the datasets; see
            :mod:`search.prior`.

    Raises:
        InputError: an unknown space, objective, constraint, strategy, backend or noise mode, an
            empty or double budget, a bad count, ``compute`` without the compute backend, or
            ``noise`` with another backend or with ``multi_fidelity=True``, or a ``prior`` that
            is not another dataset's name.

    Example:
        >>> SearchConfig("tss", "digits", "acc", "rea", trials=0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        bench.errors.InputError: empty budget: trials must be a positive integer, got 0
    """

    space: str
    dataset: str
    objectives: str | Sequence[str]
    strategy: str = DEFAULT_STRATEGY
    trials: int | None = None
    budget_seconds: float | None = None
    backend: str = "table"
    storage: str | None = None
    study_name: str | None = None
    workers: int = 1
    seed: int = 0
    bench: Any = None
    constraints: str | Sequence[str] | None = None
    source: str | None = None
    proxy_epoch: int | str | None = "auto"
    multi_fidelity: bool | None = None
    surrogate: Any = None
    hcs_beta: float = 1.0
    max_repeats: int = 1000
    compute: Any = None
    progress: bool = False
    noise: str | None = None
    merge_functional: bool = False
    prior: str | None = None

    def __post_init__(self) -> None:
        # frozen: the normalized values are set once, here, through object.__setattr__
        object.__setattr__(self, "space", get_space(self.space).name)
        self.objective_list()
        self.constraint_list()
        brute = self.strategy_name == "brute"
        if self.backend not in BACKENDS:
            raise InputError(f"unknown backend {self.backend!r}; accepted: {', '.join(BACKENDS)}")
        trials, seconds = _check_budget(self.trials, self.budget_seconds, brute=brute)
        object.__setattr__(self, "trials", trials)
        object.__setattr__(self, "budget_seconds", seconds)
        check_int(self.workers, "workers")
        check_int(self.seed, "seed", minimum=0)  # numpy and the samplers take seeds >= 0
        # the strategy's parameters are checked now, not at the first trial of a worker
        _check_strategy(self.strategy, self.space, len(self.objective_list()))
        if not isinstance(self.max_repeats, int) or self.max_repeats < 1:
            raise InputError(f"max_repeats must be a positive integer, got {self.max_repeats!r}")
        if self.multi_fidelity not in (None, True, False):
            raise InputError(
                f"multi_fidelity must be True, False or None, got {self.multi_fidelity!r}"
            )
        if self.compute is not None and self.backend != "compute":
            raise InputError("compute= configures backend='compute' only")
        self._check_noise()
        if not isinstance(self.merge_functional, bool):
            raise InputError(
                f"merge_functional must be True or False, got {self.merge_functional!r}"
            )
        # SSS has no functional duplicates: the setting is TSS's, so SSS studies keep one name
        object.__setattr__(self, "merge_functional", self.merge_functional and self.space == "tss")
        if self.prior is not None and (not isinstance(self.prior, str) or not self.prior.strip()):
            raise InputError(f"prior must be a dataset name, got {self.prior!r}")
        if self.prior is not None and self.prior == self.dataset:
            raise InputError(
                f"prior {self.prior!r} is the searched dataset itself: name another dataset "
                "of the benchmark (its table's front is queried first)"
            )

    def _check_noise(self) -> None:
        """Refuse a noise mode that is unknown or that this search cannot honour."""
        if self.noise not in NOISE_MODES:
            raise InputError(
                f"unknown noise mode {self.noise!r}; accepted: None (the mean over seeds), 'seed'"
            )
        if self.noise is None:
            return
        if self.backend != "table":
            raise InputError(
                f"noise={self.noise!r} draws rows of the table: it needs backend='table', "
                f"not {self.backend!r}"
            )
        if self.multi_fidelity:
            # a pruned curve would be one seed's epochs, the final answer another's: not offered
            raise InputError(
                f"noise={self.noise!r} is not combined with multi-fidelity pruning; "
                "leave multi_fidelity unset or False"
            )

    @property
    def strategy_name(self) -> str:
        """The strategy's name without its parameters (``"nsga2:population_size=20"`` -> nsga2)."""
        return parse_strategy(self.strategy)[0]

    def objective_list(self) -> list[Objective]:
        """The parsed objectives (HCS with ``hcs_beta``)."""
        return parse_objectives(self.objectives, beta=self.hcs_beta)

    def constraint_list(self) -> list[Constraint]:
        """The parsed constraints (empty without any)."""
        return parse_constraints(self.constraints)

    def default_study_name(self) -> str:
        """The study name derived from what is searched, used when ``study_name`` is None.

        Example:
            >>> SearchConfig("tss", "digits", "acc", "rea", trials=5).default_study_name()
            'calnas:tss:digits:acc:max:rea:table:seed0'
        """
        parts = [self.space, self.dataset, "+".join(str(o) for o in self.objective_list()),
                 self.strategy_name, self.backend, f"seed{self.seed}"]  # fmt: skip
        cons = self.constraint_list()
        if cons:
            parts.append("+".join(str(c) for c in cons))
        if self.noise is not None:  # only when set: the names of existing studies stay as they are
            parts.append(f"noise-{self.noise}")
        if self.merge_functional:
            parts.append("functional")
        if self.prior is not None:
            parts.append(f"prior-{self.prior}")
        return "calnas:" + ":".join(parts)


@functools.lru_cache(maxsize=64)
def _check_strategy(strategy: str, space: str, n_objectives: int) -> None:
    """Build the strategy's sampler once (cached: configs are copied with ``replace``)."""
    make_sampler(strategy, get_space(space), seed=0, n_objectives=n_objectives)


def _check_budget(
    trials: int | None, budget_seconds: float | None, *, brute: bool
) -> tuple[int | None, float | None]:
    """The budget as (int trials, float seconds), exactly one of them set (brute: maybe none)."""
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
