"""The worker loop: ask the sampler, answer from the problem, tell Optuna, until a stop rule holds.

* **Cache.** An architecture (for TSS, any cell of its isomorphism class, answered with the class
  representative's row) is charged once: a repeat is answered from the cache, still told to the
  sampler, and does not spend the budget. The :class:`Ledger` lives in the study's trials, so it
  is shared by every worker on one storage and survives a restart.
* **Clock.** Each new architecture advances the simulated clock by its ``train_time_s`` (the
  ledger keeps the largest charge per architecture, so a repeat adds nothing).
* **Multi-fidelity.** With Hyperband pruning, a trial reports its objective at every epoch and a
  pruned one pays only for the epochs it trained.
* **Stop rules.** The budget is spent (``trials`` distinct architectures, or ``budget_seconds``
  of clock), every distinct architecture is queried, or ``max_repeats`` trials in a row found
  nothing new.

Example:
    >>> import optuna
    >>> from search.config import SearchConfig
    >>> from search.problem import load_problem, open_bench
    >>> cfg = SearchConfig("tss", "digits", "acc,pre_ECE_15", "random", trials=3, study_name="w")
    >>> problem = load_problem(open_bench(None), cfg)
    >>> store = optuna.storages.InMemoryStorage()
    >>> _ = optuna.create_study(storage=store, study_name="w", directions=["maximize", "minimize"])
    >>> work(problem, cfg, 0, store)
    >>> ledger = Ledger()
    >>> ledger.sync(optuna.load_study(study_name="w", storage=store))
    >>> len(ledger.charges)
    3
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import TrialState

from bench.arch.spaces import get_space
from search import _optuna
from search.config import SearchConfig
from search.problem import Problem
from search.samplers import make_sampler
from search.storage import fail_orphans, open_storage, owner_tag

__all__ = ["DONE", "Ledger", "work", "step", "spent", "stop_reason"]

#: The states of a trial that answered (a pruned one answered the epochs it trained).
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


class Ledger:
    """Per-architecture charges read from the study's finished trials (shared by all workers).

    Attributes:
        charges: class representative -> the largest charge (simulated seconds) of its trials.
        complete: the classes with a complete (not only pruned) answer.

    Example:
        >>> study = optuna.create_study()
        >>> study.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={"rep": 7,
        ...                                                                  "charge_s": 2.5}))
        >>> ledger = Ledger()
        >>> ledger.sync(study)
        >>> ledger.clock, ledger.trials, ledger.complete
        (2.5, 1, {7})
    """

    def __init__(self) -> None:
        self.charges: dict[int, float] = {}
        self.complete: set[int] = set()
        self._seen: set[int] = set()

    def sync(self, study: optuna.Study) -> None:
        """Add the trials finished since the last call."""
        for t in study.get_trials(deepcopy=False, states=DONE):
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
        """Simulated seconds spent: each class's charge, once."""
        return float(sum(self.charges.values()))

    @property
    def trials(self) -> int:
        """Finished trials seen."""
        return len(self._seen)


def work(
    problem: Problem,
    config: SearchConfig,
    worker: int,
    store: optuna.storages.BaseStorage | None = None,
    progress: bool = False,
) -> None:
    """One worker: ask, answer, tell until a stop rule holds.

    Args:
        problem: what is searched.
        config: the search, resolved: ``study_name`` names an existing study in
            ``config.storage`` and ``multi_fidelity`` is a bool.
        worker: this worker's number (its sampler's seed is ``seed + 1000 * worker`` plus the
            number of trials the study already holds, so a resumed study does not replay).
        store: the opened storage (None: open ``config.storage``, as a new process must).
        progress: show a bar on stderr.
    """
    store = store if store is not None else open_storage(config.storage)
    sp = get_space(problem.space)
    study = optuna.load_study(study_name=config.study_name, storage=store)
    fail_orphans(study)
    n_before = len(study.get_trials(deepcopy=False))
    seed = config.seed + 1000 * worker + n_before
    study.sampler = make_sampler(
        config.strategy,
        sp,
        seed=seed,
        n_objectives=len(problem.objectives),
        classes=problem.reps,
        held=problem.answerable(),
    )
    if config.multi_fidelity:
        epochs = [e for e, _, _ in problem.curves]
        study.pruner = optuna.pruners.HyperbandPruner(
            min_resource=epochs[0], max_resource=epochs[-1], reduction_factor=3
        )
    n_unique = problem.n_unique()
    owner = owner_tag()
    ledger = Ledger()
    bar = None
    if progress:
        from search.progress import Progress

        bar = Progress(problem, config, n_unique)
    repeats = 0
    try:
        while True:
            ledger.sync(study)
            if bar is not None:
                bar.show(ledger)
            if spent(ledger, config, n_unique) or repeats >= config.max_repeats:
                return
            found_new = step(study, problem, config, ledger, owner)
            repeats = 0 if found_new else repeats + 1
    finally:
        if bar is not None:
            ledger.sync(study)
            bar.close(ledger)


def step(
    study: optuna.Study, problem: Problem, config: SearchConfig, ledger: Ledger, owner: str
) -> bool:
    """Ask, answer and tell one trial.

    Args:
        study: the study, with its sampler set.
        problem: what is searched.
        config: the resolved search (see :func:`work`).
        ledger: synced with the study.
        owner: ``host:pid`` written into the trial.

    Returns:
        True when the trial taught the search something new: a class nobody had queried, or the
        first complete answer for a class that was only pruned so far. A cached repeat, a pruned
        class pruned again, and a missing row are not.
    """
    sp = get_space(problem.space)
    trial = _optuna.ask_owned(study, owner)
    params = {n: trial.suggest_categorical(n, c) for n, c in sp.param_space().items()}
    index = sp.index(sp.from_params(params))
    rep = int(problem.reps[index])
    trial.set_user_attr("index", index)
    trial.set_user_attr("rep", rep)
    cached = rep in ledger.complete
    state, values = _answer(problem, config, trial, rep, cached)
    if state == TrialState.FAIL:
        study.tell(trial, state=TrialState.FAIL)
    elif state == TrialState.PRUNED:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, values)
    if state == TrialState.FAIL:
        return False
    return rep not in ledger.charges or (state == TrialState.COMPLETE and not cached)


def spent(ledger: Ledger, config: SearchConfig, n_unique: int) -> bool:
    """Whether the search must stop: the space is exhausted or the budget spent.

    Example:
        >>> cfg = SearchConfig("tss", "digits", "acc", "random", trials=2)
        >>> ledger = Ledger()
        >>> ledger.charges = {3: 1.0}
        >>> spent(ledger, cfg, n_unique=100), spent(ledger, cfg, n_unique=1)
        (False, True)
    """
    if len(ledger.charges) >= n_unique:
        return True  # every distinct architecture has been seen
    if config.trials is not None:
        return len(ledger.charges) >= config.trials
    if config.budget_seconds is not None:
        return ledger.clock >= config.budget_seconds
    return False


def stop_reason(config: SearchConfig, n_queried: int, clock: float, n_unique: int) -> str:
    """Why the search ended: the budget it was given, the table, or the sampler going round.

    Returns:
        ``"trials"``, ``"budget"``, ``"space exhausted"`` or ``"max repeats"``.

    Example:
        >>> cfg = SearchConfig("tss", "digits", "acc", "random", budget_seconds=60)
        >>> stop_reason(cfg, 5, 61.0, 6466), stop_reason(cfg, 5, 30.0, 6466)
        ('budget', 'max repeats')
    """
    if config.trials is not None and n_queried >= config.trials:
        return "trials"
    if config.budget_seconds is not None and clock >= config.budget_seconds:
        return "budget"
    if n_queried >= n_unique:
        return "space exhausted"
    return "max repeats"


def _answer(
    problem: Problem, config: SearchConfig, trial: optuna.Trial, rep: int, cached: bool
) -> tuple[TrialState, list[float] | None]:
    """The trial's state and objective values for class ``rep``; its attributes record how."""
    if config.multi_fidelity and not cached:
        return _answer_curve(problem, trial, rep)
    drawn = None
    if problem.noisy is not None:  # noise="seed": one seed's row, the same for every repeat
        from search.noise import draw

        drawn = draw(problem.noisy, config.seed, rep)
        row = None if drawn is None else drawn[1]
    else:
        row = problem.row(problem.signal, rep)
    if row is None and problem.compute is not None:
        from search.compute import compute_row

        trial.set_user_attr("computed", compute_row(problem, rep))
        row = problem.row(problem.signal, rep)
    if row is None:
        trial.set_user_attr("missing", True)  # no value to give: not charged, not counted
        return TrialState.FAIL, None
    charge = 0.0 if problem.cost is None else float(problem.cost[rep])
    if drawn is not None:
        trial.set_user_attr("seed", drawn[0])
        if drawn[2] is not None:  # that seed's own training time (else the mean's)
            charge = drawn[2]
    if not math.isfinite(charge):
        charge = 0.0
    trial.set_user_attr("charge_s", charge)
    trial.set_user_attr("cached", cached)
    for c in problem.constraints:
        trial.set_constraint(str(c), c.violation(c.value(row)))
    return TrialState.COMPLETE, [o.value(row) for o in problem.objectives]


def _answer_curve(
    problem: Problem, trial: optuna.Trial, rep: int
) -> tuple[TrialState, list[float] | None]:
    """Report the objective epoch by epoch; stop where the pruner says (paying epochs trained)."""
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
