"""Search strategies, chosen by name with parameters, each an Optuna sampler.

==========  ==============================================================================
name        sampler
==========  ==============================================================================
random      ``optuna.samplers.RandomSampler``
tpe         ``optuna.samplers.TPESampler`` (multivariate, grouped by default)
nsga2       ``optuna.samplers.NSGAIISampler``
nsga3       ``optuna.samplers.NSGAIIISampler``
gp          ``optuna.samplers.GPSampler`` (log expected hypervolume improvement when
            multi-objective, log EI when single-objective)
rea         :class:`REASampler`, regularized evolution as in NATS-Bench (population 10,
            tournament 3, mutation of one edge / one layer)
pls         :class:`ParetoLocalSampler`, Pareto local search: one-edge / one-layer moves from
            the current non-dominated front, never a queried class twice
mpls        the default: :class:`ParetoLocalSampler` guided by a model (``model="xgb"``):
            three bootstrap XGBoost models of every objective pick, among the front's
            unqueried neighbours (20 % of trials: among all unqueried classes), the largest
            expected hypervolume improvement
brute       :class:`ExhaustiveSampler`, every distinct architecture once (TSS: one cell per
            isomorphism class), in index order or shuffled
==========  ==============================================================================

A strategy is written ``name`` or ``name:key=value,key=value``, for example
``nsga2:population_size=20`` or ``rea:population_size=20,tournament_size=5``.

Example:
    >>> from bench.arch.spaces import get_space
    >>> sampler = make_sampler("rea:tournament_size=4", get_space("tss"), seed=0)
    >>> type(sampler).__name__, sampler.tournament_size
    ('REASampler', 4)
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from bench.arch.spaces import Space
from bench.checks import check_int
from bench.errors import InputError

__all__ = [
    "STRATEGIES",
    "DEFAULT_STRATEGY",
    "REASampler",
    "ExhaustiveSampler",
    "ParetoLocalSampler",
    "parse_strategy",
    "split_strategies",
    "make_sampler",
]

#: The strategy ``calnas search run`` uses unless told otherwise, chosen by measurement with
#: scripts/perf_search.py (20 seeds, queries to normalized HV 0.95; see the search README
#: section for the figures): on NB201 valid_acc vs params_m mpls needs 0.19 of random search's
#: queries (pls 0.29; rea, nsga2 and tpe more), on the demo table it needs the fewest of those
#: measured, and 1,000 trials take under 30 s on an idle 2-core machine (pls: 2 s).
DEFAULT_STRATEGY = "mpls"


class REASampler(BaseSampler):
    """Regularized evolution (Real et al. 2019) as NATS-Bench runs it, as an Optuna sampler.

    The population is the ``population_size`` most recent completed trials (aging: the oldest
    leaves as a child arrives). Until the population is full, architectures are drawn uniformly.
    Then ``tournament_size`` members are drawn without replacement, the best becomes the parent,
    and the child is the parent with one parameter changed: to a different choice
    (``mutation="different"``, NATS-Bench's TSS rule) or resampled, possibly unchanged
    (``mutation="resample"``, its SSS rule). With several objectives the tournament winner is a
    random non-dominated member of the sample; with constraints, feasible members beat infeasible
    ones and smaller total violation beats larger. All state lives in the study, so several
    workers can share one study and a resumed study picks up where it stopped.

    Example:
        >>> import optuna
        >>> space = {"x": (0, 1, 2, 3), "y": (0, 1, 2, 3)}
        >>> study = optuna.create_study(sampler=REASampler(space, seed=0))
        >>> study.optimize(lambda t: (t.suggest_categorical("x", space["x"]) - 2) ** 2
        ...                + t.suggest_categorical("y", space["y"]), n_trials=40)
        >>> study.best_value
        0.0
    """

    def __init__(
        self,
        param_space: Mapping[str, Sequence[Any]],
        *,
        population_size: int = 10,
        tournament_size: int = 3,
        mutation: str = "different",
        seed: int | None = None,
    ) -> None:
        if not param_space:
            raise InputError("REASampler needs a non-empty parameter space")
        if int(population_size) < 2:
            raise InputError(f"population_size must be >= 2, got {population_size}")
        if not 1 <= int(tournament_size) <= int(population_size):
            raise InputError(
                f"tournament_size must be in 1..population_size ({population_size}), "
                f"got {tournament_size}"
            )
        if mutation not in ("different", "resample"):
            raise InputError(f"mutation must be 'different' or 'resample', got {mutation!r}")
        self.param_space = {k: tuple(v) for k, v in param_space.items()}
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)
        self.mutation = mutation
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {k: CategoricalDistribution(v) for k, v in self.param_space.items()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        done = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        if len(done) < self.population_size:
            return {}  # the initial population is random (sample_independent)
        population = sorted(done, key=lambda t: t.number)[-self.population_size :]
        picks = self._rng.choice(len(population), size=self.tournament_size, replace=False)
        parent = self._winner(study, [population[i] for i in picks])
        child = {k: parent.params[k] for k in self.param_space if k in parent.params}
        if len(child) != len(self.param_space):
            return {}  # a parent from another search space: fall back to random sampling
        name = list(self.param_space)[int(self._rng.integers(len(self.param_space)))]
        choices = self.param_space[name]
        if self.mutation == "different" and len(choices) > 1:
            others = [c for c in choices if c != child[name]]
            child[name] = others[int(self._rng.integers(len(others)))]
        else:
            child[name] = choices[int(self._rng.integers(len(choices)))]
        return child

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return _uniform_choice(self._rng, param_name, param_distribution, "REASampler")

    def _winner(self, study: Study, sample: list[FrozenTrial]) -> FrozenTrial:
        violation = np.array([sum(max(v, 0.0) for v in t.constraints.values()) for t in sample])
        sample = [t for t, v in zip(sample, violation, strict=True) if v == violation.min()]
        signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions])
        losses = np.array([t.values for t in sample], dtype=np.float64) * signs
        if losses.shape[1] == 1:
            best = np.flatnonzero(losses[:, 0] == losses[:, 0].min())
        else:
            from search.indicators import pareto_mask

            best = np.flatnonzero(pareto_mask(losses))
        return sample[int(best[int(self._rng.integers(len(best)))])]


class ExhaustiveSampler(BaseSampler):
    """Brute force: trial ``n`` gets the ``n``-th architecture of a fixed list.

    The list holds every distinct architecture once (for TSS, the representative of each
    isomorphism class), in index order or, with ``shuffle=True``, in a seeded random order.
    Trial numbers are unique across workers, so parallel workers never evaluate the same entry;
    a study that runs past the end starts again (those repeats are answered from the cache).

    Example:
        >>> from bench.arch.spaces import get_space
        >>> s = ExhaustiveSampler.for_space(get_space("sss"))
        >>> len(s.candidates)
        32768
    """

    def __init__(
        self,
        candidates: Sequence[Mapping[str, Any]],
        *,
        shuffle: bool = False,
        seed: int | None = None,
        param_space: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        if not candidates:
            raise InputError("ExhaustiveSampler needs at least one candidate")
        self.candidates = [dict(c) for c in candidates]
        self.shuffle = bool(shuffle)
        self.seed = seed
        self._order = (
            np.random.default_rng(seed).permutation(len(self.candidates))
            if self.shuffle
            else np.arange(len(self.candidates))
        )
        # The distributions must equal the ones the objective suggests (same choices, same order).
        if param_space is None:
            param_space = {
                n: tuple(dict.fromkeys(c[n] for c in self.candidates)) for n in self.candidates[0]
            }
        self._space = {n: CategoricalDistribution(tuple(v)) for n, v in param_space.items()}

    @classmethod
    def for_space(cls, space: Space, *, shuffle: bool = False, seed: int | None = None):
        """All distinct architectures of a search space (TSS: one per isomorphism class)."""
        return cls(
            [space.to_params(int(i)) for i in space.unique_indices()],
            shuffle=shuffle,
            seed=seed,
            param_space=space.param_space(),
        )

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._space)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return dict(self.candidates[int(self._order[trial.number % len(self._order)])])

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        raise InputError(f"ExhaustiveSampler does not know the parameter {param_name!r}")


class ParetoLocalSampler(BaseSampler):
    """Pareto local search: mutate members of the current non-dominated front by one edge/layer.

    After ``n_startup`` architectures drawn uniformly among the classes not queried yet, each
    trial takes a parent from the non-dominated set of the completed trials (feasible ones first
    when there are constraints; the single best when there is one objective) and proposes one of
    its one-edge (TSS) or one-layer (SSS) neighbours (``Space.neighbours``) whose isomorphism
    class nobody has queried yet. Parents are drawn with weights that favour the two ends of the
    front and its sparse parts (crowding distance), so the front grows along its whole length.
    When every neighbour of the front is queried, the next non-dominated layer supplies the
    parents, and so on. With probability ``p_random``, or when no completed trial has an
    unqueried neighbour left, the trial is a uniform draw among unqueried classes instead (so the
    search never stalls on a local front). ``weights="uniform"`` draws parents uniformly;
    ``startup="tpe"`` lets TPE propose the first ``n_startup`` architectures (measured no better
    on NB201, kept for comparison). Constraint values are not modelled beyond feasible-first.

    ``model="xgb"`` (strategy ``mpls``) starts from ``n_startup`` classes drawn at once without
    replacement and replaces the random parent-then-child draw by a model's choice: the
    candidates are the unqueried neighbours of the whole first layer that has any (with
    probability ``p_random``, every unqueried class), and each objective's loss is
    predicted by an XGBoost model fitted on a bootstrap resample of the completed classes
    (features: :func:`surrogate.features.feature_table`; ``members`` models per objective, each
    on its own bootstrap resample, refitted after every completed class for the first 40, then
    every ``refit_every`` or 2.5 % more classes). The pick is the candidate with the largest
    hypervolume improvement over the current front averaged over the members (see ``_acquire``
    for one and for three or more objectives).
    Every trial that holds parameters counts as queried, whatever its state, so
    workers sharing a study do not propose each other's architectures; all state is read from the
    study, so a resumed study continues where it stopped.

    Example:
        >>> import optuna
        >>> from bench.arch.spaces import get_space
        >>> sp = get_space("sss")
        >>> s = ParetoLocalSampler(sp, seed=0, n_startup=5)
        >>> study = optuna.create_study(directions=["minimize", "minimize"], sampler=s)
        >>> def f(t):
        ...     p = {n: t.suggest_categorical(n, c) for n, c in sp.param_space().items()}
        ...     w = [p[n] for n in sp.param_names()]
        ...     return sum(w), -min(w)
        >>> study.optimize(f, n_trials=30)
        >>> len({tuple(t.params.values()) for t in study.trials})  # never a repeat
        30
    """

    def __init__(
        self,
        space: Space,
        *,
        n_startup: int = 10,
        p_random: float = 0.05,
        weights: str = "crowding",
        startup: str = "random",
        model: str = "none",
        refit_every: int = 5,
        members: int = 3,
        seed: int | None = None,
    ) -> None:
        check_int(n_startup, "n_startup")
        if not 0.0 <= float(p_random) <= 1.0:
            raise InputError(f"p_random must be in [0, 1], got {p_random!r}")
        self.space = space
        self.n_startup = n_startup
        self.p_random = float(p_random)
        if weights not in ("crowding", "uniform"):
            raise InputError(f"weights must be 'crowding' or 'uniform', got {weights!r}")
        if startup not in ("random", "tpe"):
            raise InputError(f"startup must be 'random' or 'tpe', got {startup!r}")
        if model not in ("none", "xgb"):
            raise InputError(f"model must be 'none' or 'xgb', got {model!r}")
        for name, value in (("refit_every", refit_every), ("members", members)):
            check_int(value, name)
        self.weights = weights
        self.startup = startup
        self.model = model
        self.refit_every = refit_every
        self.members = members
        self._guide: _ModelGuide | None = None
        self._design: np.ndarray | None = None
        self._tpe: BaseSampler | None = None
        if startup == "tpe":
            _quiet()
            self._tpe = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._names = space.param_names()
        self._dists = {n: CategoricalDistribution(c) for n, c in space.param_space().items()}
        self._reps = space.representatives()
        self._unique = space.unique_indices()
        self._neigh: dict[int, np.ndarray] = {}
        self._trial_rep: dict[int, int] = {}  # trial number -> class representative

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        if self._guide is not None:
            self._guide.rng = self._rng

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def _rep(self, t: FrozenTrial) -> int | None:
        rep = self._trial_rep.get(t.number)
        if rep is None:
            if any(n not in t.params for n in self._names):
                return None  # not sampled yet, or another search space
            idx = self.space.index(self.space.from_params({n: t.params[n] for n in self._names}))
            rep = self._trial_rep[t.number] = int(self._reps[idx])
        return rep

    def _neighbours(self, rep: int) -> np.ndarray:
        got = self._neigh.get(rep)
        if got is None:
            idx = [self.space.index(a) for a in self.space.neighbours(rep)]
            got = self._neigh[rep] = np.unique(self._reps[np.asarray(idx, dtype=np.int64)])
        return got

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        trials = study._get_trials(deepcopy=False, use_cache=True)
        queried: set[int] = set()
        best: dict[int, FrozenTrial] = {}  # rep -> a completed trial of it
        for t in trials:
            if t.number == trial.number:
                continue
            rep = self._rep(t)
            if rep is None:
                continue
            queried.add(rep)
            if t.state == TrialState.COMPLETE and t.values is not None and rep not in best:
                best[rep] = t
        if len(best) < self.n_startup and self._tpe is not None:
            # TPE's own startup is random; past it, TPE proposes until PLS takes over
            ss = self._tpe.infer_relative_search_space(study, trial)
            params = self._tpe.sample_relative(study, trial, ss)
            if all(n in params for n in self._names):
                idx = self.space.index(self.space.from_params(params))
                if int(self._reps[idx]) not in queried:
                    return params
        elif len(best) >= self.n_startup and self.model != "none":
            return self.space.to_params(self._guided(study, best, queried))
        elif len(best) >= self.n_startup and self._rng.random() >= self.p_random:
            child = self._mutate_front(study, best, queried)
            if child is not None:
                return self.space.to_params(child)
        guided_start = self.model != "none" and len(best) < self.n_startup
        return self.space.to_params(self._start(queried) if guided_start else self._fresh(queried))

    def _start(self, queried: set[int]) -> int:
        """The next unqueried class of mpls's start design: n_startup classes drawn at once
        without replacement (measured on NB201, 20 seeds: 64.6 queries to normalized HV 0.95,
        against 102.5 when each start class is drawn on its own; see the README)."""
        if self._design is None:
            size = min(self.n_startup, len(self._unique))
            self._design = self._rng.choice(self._unique, size=size, replace=False)
        for rep in self._design:
            if int(rep) not in queried:
                return int(rep)
        return self._fresh(queried)

    def _guided(self, study: Study, best: dict[int, FrozenTrial], queried: set[int]) -> int:
        """The model's pick among the front's open neighbours (at rate p_random: all classes)."""
        all_reps, all_losses, keep = self._losses(study, best)
        losses = all_losses[keep]  # the front is feasible-first; the models learn from every class
        pool = None
        if self._rng.random() >= self.p_random:
            layer = self._open_layer(all_reps[keep], losses, queried)
            if layer is not None:
                pool = np.unique(np.concatenate(layer[2]))
        if pool is None:
            pool = np.setdiff1d(self._unique, np.fromiter(queried, dtype=np.int64))
            if not len(pool):
                return self._fresh(queried)
        if self._guide is None:
            self._guide = _ModelGuide(self.space, self._rng, self.refit_every, self.members)
        predicted = self._guide.predict(all_reps, all_losses, pool)
        return int(pool[_acquire(predicted, losses, self._rng)])

    def _losses(
        self, study: Study, best: dict[int, FrozenTrial]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reps, losses, least-violating mask) of the completed classes (all feasible ones when
        any is feasible)."""
        reps = np.fromiter(best, dtype=np.int64, count=len(best))
        done = list(best.values())
        signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions])
        losses = np.array([t.values for t in done], dtype=np.float64) * signs
        violation = np.array([sum(max(v, 0.0) for v in t.constraints.values()) for t in done])
        return reps, losses, violation == violation.min()

    def _fresh(self, queried: set[int]) -> int:
        """A uniformly drawn class that nobody has queried (any class once all are queried)."""
        for _ in range(64):  # rejection is cheap while most classes are unqueried
            rep = int(self._unique[int(self._rng.integers(len(self._unique)))])
            if rep not in queried:
                return rep
        left = np.setdiff1d(self._unique, np.fromiter(queried, dtype=np.int64))
        pool = left if len(left) else self._unique
        return int(pool[int(self._rng.integers(len(pool)))])

    def _mutate_front(
        self, study: Study, best: dict[int, FrozenTrial], queried: set[int]
    ) -> int | None:
        reps, losses, keep = self._losses(study, best)
        layer = self._open_layer(reps[keep], losses[keep], queried)
        if layer is None:
            return None
        flosses, has, children = layer
        # crowding is measured on the whole layer, then restricted to parents with open children
        weights = _crowding(flosses)[has] if self.weights == "crowding" else np.ones(len(children))
        p = weights / weights.sum()
        pick = children[int(self._rng.choice(len(children), p=p))]
        return int(pick[int(self._rng.integers(len(pick)))])

    def _open_layer(
        self, reps: np.ndarray, losses: np.ndarray, queried: set[int]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]] | None:
        """(losses of the layer, which members have an unqueried neighbour, those members'
        unqueried neighbours) for the first non-dominated layer with any: successive fronts are
        peeled off, so a fully explored front hands over to the next layer. None when no
        completed class has one left."""
        from search.indicators import pareto_mask

        while len(reps):
            mask = pareto_mask(losses)
            front, flosses = reps[mask], losses[mask]
            open_children = [
                np.array(
                    [c for c in self._neighbours(int(r)) if int(c) not in queried], dtype=np.int64
                )
                for r in front
            ]
            has = np.array([len(c) > 0 for c in open_children])
            if has.any():
                kept = [c for c, h in zip(open_children, has, strict=True) if h]
                return flosses, has, kept
            reps, losses = reps[~mask], losses[~mask]
        return None

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return _uniform_choice(self._rng, param_name, param_distribution, "ParetoLocalSampler")


#: Booster settings of the model guide's members (100 rounds each). XGBoost's own training API
#: needs nothing beyond the core install (its scikit-learn wrapper would need scikit-learn).
_GUIDE_PARAMS = {
    "max_depth": 4, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.8,
    "tree_method": "hist", "nthread": 1, "verbosity": 0, "objective": "reg:squarederror",
}  # fmt: skip


class _ModelGuide:
    """A small ensemble of per-objective XGBoost models of the losses, each member fitted on its
    own bootstrap resample of the completed classes (the spread between members stands in for
    the model's uncertainty).

    Features are :func:`surrogate.features.feature_table` rows (one-hot ops, input-to-output
    paths, op counts, isomorphism-class features, params and FLOPs). Predictions for every class
    are computed at each fit. A fit happens after every completed class while fewer than
    ``_WARM`` are known (the models change fastest then), later after every ``refit_every`` or
    every 2.5 % more classes, whichever is more, so 1,000 trials cost about a hundred fits.
    """

    _WARM = 40

    def __init__(
        self, space: Space, rng: np.random.Generator, refit_every: int, members: int
    ) -> None:
        from surrogate.features import feature_table

        self.rng = rng
        self.refit_every = refit_every
        self.members = members
        # Only class representatives are ever candidates: predicting those alone (TSS: 6,466 of
        # 15,625 rows) keeps a fit's prediction pass at 40 % of the whole table's cost.
        rows = space.unique_indices()
        self._features = feature_table(space.name)[rows]
        self._row_of = np.full(space.size, -1, dtype=np.int64)  # NATS index -> feature row
        self._row_of[rows] = np.arange(len(rows))
        self._fitted_on = -1
        self._predicted = np.zeros((0, 0, 0))

    def predict(self, reps: np.ndarray, losses: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """Predicted losses (members, len(pool), k) of the classes in ``pool`` (NATS indices of
        class representatives, as are ``reps``)."""
        n = len(reps)
        gap = max(self.refit_every, n // 40)
        if self._fitted_on < 0 or n < self._WARM or n - self._fitted_on >= gap:
            self._fit(reps, losses)
        return self._predicted[:, self._row_of[pool]]

    def _fit(self, reps: np.ndarray, losses: np.ndarray) -> None:
        import xgboost as xgb

        # Standardized targets: XGBoost ignores splits whose gain is below a fixed epsilon, so a
        # loss with a small spread (accuracies within a few percent) would grow stunted trees.
        mean, scale = losses.mean(axis=0), losses.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        members = []
        for _ in range(self.members):
            pick = self.rng.integers(len(reps), size=len(reps))  # this member's bootstrap draw
            x = self._features[self._row_of[reps[pick]]]
            cols = []
            for j in range(losses.shape[1]):
                y = (losses[pick, j] - mean[j]) / scale[j]
                if np.ptp(y) == 0:  # a constant target: XGBoost would fit nothing useful
                    cols.append(np.full(len(self._features), losses[pick[0], j]))
                    continue
                params = {**_GUIDE_PARAMS, "seed": int(self.rng.integers(2**31 - 1))}
                booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=100)
                pred = booster.inplace_predict(self._features)
                cols.append(pred * scale[j] + mean[j])
            members.append(np.stack(cols, axis=1))
        self._predicted = np.stack(members)
        self._fitted_on = len(reps)


def _acquire(predicted: np.ndarray, losses: np.ndarray, rng: np.random.Generator) -> int:
    """Candidate that best improves the front of ``losses`` (completed classes, minimized).

    ``predicted`` is (members, candidates, k), or (candidates, k) for one model; each gain is
    averaged over the ensemble's members (an expected improvement under the bootstrap spread).
    One objective: the largest expected improvement on the best loss. Two: the largest expected
    hypervolume improvement over the current front, against a reference point 10 % of the
    observed range beyond the worst loss seen in each objective; when no candidate improves it,
    the one closest to the front (the smallest range-normalized shift of its mean prediction
    that would make it non-dominated). Three or more: the lowest augmented Chebyshev
    scalarization of the range-normalized predictions (ParEGO's rule), with a new random weight
    vector per call.
    """
    from search.indicators import REFERENCE_MARGIN, hv_improvement_2d, pareto_mask

    members = predicted if predicted.ndim == 3 else predicted[None]
    k = losses.shape[1]
    if k == 1:
        gain = np.clip(losses[:, 0].min() - members[..., 0], 0.0, None).mean(axis=0)
        if gain.max() > 0:
            return int(np.argmax(gain))
        return int(np.argmin(members[..., 0].mean(axis=0)))
    front = losses[pareto_mask(losses)]
    lo, hi = losses.min(axis=0), losses.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(1.0, np.abs(hi)))
    if k == 2:
        # The reference point lies beyond the worst loss seen, not the front's nadir: a tight box
        # around an early front hides the gains of extending it (measured on NB201: 138 vs 87
        # queries to normalized HV 0.95, one model).
        ref = hi + REFERENCE_MARGIN * span
        gain = np.mean([hv_improvement_2d(front, ref, m) for m in members], axis=0)
        if gain.max() > 0:
            return int(np.argmax(gain))
        mean = members.mean(axis=0)
        shift = ((mean[:, None, :] - front[None, :, :]) / span).max(axis=2).min(axis=1)
        return int(np.argmin(shift))
    w = rng.dirichlet(np.ones(k))
    z = (members - lo) / span
    return int(np.argmin(((w * z).max(axis=2) + 0.05 * (w * z).sum(axis=2)).mean(axis=0)))


def _uniform_choice(
    rng: np.random.Generator, name: str, distribution: BaseDistribution, sampler: str
) -> Any:
    """A uniform draw for a parameter outside the search space's joint proposal."""
    if not isinstance(distribution, CategoricalDistribution):
        raise InputError(f"{sampler} handles categorical parameters only, not {name}")
    choices = distribution.choices
    return choices[int(rng.integers(len(choices)))]


def _crowding(losses: np.ndarray) -> np.ndarray:
    """Selection weights of front members: 1 + crowding distance, ends of the front get the most.

    The crowding distance (NSGA-II's) is the normalized size of the box between a member's two
    neighbours on the front, summed over objectives; the ends get twice the largest finite one.
    """
    n, k = losses.shape
    if n <= 2:
        return np.ones(n)
    dist = np.zeros(n)
    ends = np.zeros(n, dtype=bool)
    for j in range(k):
        order = np.argsort(losses[:, j], kind="stable")
        col = losses[order, j]
        span = col[-1] - col[0]
        ends[order[0]] = ends[order[-1]] = True
        if span > 0:
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    top = dist[~ends].max() if (~ends).any() else 1.0
    dist[ends] = 2.0 * max(top, 1.0)
    return 1.0 + dist


# -- registry ---------------------------------------------------------------------------------
def _random(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed, **kw)


def _quiet() -> None:
    # multivariate/group TPE, NSGA-III and the GP options are flagged experimental by Optuna
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _tpe(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    _quiet()
    kw.setdefault("multivariate", True)
    kw.setdefault("group", True)
    return optuna.samplers.TPESampler(seed=seed, **kw)


def _nsga2(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, **kw)


def _nsga3(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    _quiet()
    return optuna.samplers.NSGAIIISampler(seed=seed, **kw)


def _gp(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    _quiet()
    # Table values are deterministic: telling the GP so drops the noise term it would fit.
    kw.setdefault("deterministic_objective", True)
    return optuna.samplers.GPSampler(seed=seed, **kw)


def _rea(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    # NATS-Bench mutates a TSS edge to a *different* op and resamples an SSS width.
    kw.setdefault("mutation", "different" if space.name == "tss" else "resample")
    return REASampler(space.param_space(), seed=seed, **kw)


def _pls(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return ParetoLocalSampler(space, seed=seed, **kw)


def _mpls(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    kw.setdefault("model", "xgb")
    kw.setdefault("p_random", 0.2)
    return ParetoLocalSampler(space, seed=seed, **kw)


def _brute(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return ExhaustiveSampler.for_space(space, seed=seed, **kw)


#: name -> factory(space, seed, n_objectives, **params) -> sampler
STRATEGIES: dict[str, Callable[..., BaseSampler]] = {
    "random": _random,
    "tpe": _tpe,
    "nsga2": _nsga2,
    "nsga3": _nsga3,
    "gp": _gp,
    "rea": _rea,
    "pls": _pls,
    "mpls": _mpls,
    "brute": _brute,
}


def parse_strategy(spec: str) -> tuple[str, dict[str, Any]]:
    """``"nsga2:population_size=20"`` -> ``("nsga2", {"population_size": 20})``.

    Values are Python literals (ints, floats, True/False, None) or plain strings.

    Example:
        >>> parse_strategy("tpe:n_startup_trials=5,multivariate=False")
        ('tpe', {'n_startup_trials': 5, 'multivariate': False})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"a strategy must be a name such as {', '.join(STRATEGIES)}; got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; accepted: {', '.join(STRATEGIES)}")
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise InputError(f"strategy {spec!r}: parameter {item!r} is not key=value")
        try:
            value: Any = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        params[key.strip()] = value
    return name, params


def split_strategies(text: str) -> list[str]:
    """Split a comma-separated list of strategies whose parameters also use commas.

    A piece ``key=value`` without a ``:`` belongs to the strategy before it.

    Example:
        >>> split_strategies("random,rea:population_size=20,tournament_size=5,tpe")
        ['random', 'rea:population_size=20,tournament_size=5', 'tpe']
    """
    out: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if "=" in piece and ":" not in piece and out:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out


def make_sampler(
    strategy: str,
    space: Space,
    *,
    seed: int | None = 0,
    n_objectives: int = 2,
    params: Mapping[str, Any] | None = None,
) -> BaseSampler:
    """Build the sampler for ``strategy`` (``name`` or ``name:key=value,...``) on ``space``.

    Keyword ``params`` add to (and override) the ones in the string. Unknown parameters raise
    ValueError naming the strategy.
    """
    name, kw = parse_strategy(strategy)
    kw.update(params or {})
    try:
        return STRATEGIES[name](space, seed, n_objectives, **kw)
    except TypeError as err:
        raise InputError(f"strategy {name!r}: bad parameters {kw}: {err}") from None
