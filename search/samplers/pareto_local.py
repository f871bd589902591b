"""Pareto local search, plain (``pls``) or model-guided (``mpls``): :class:`ParetoLocalSampler`."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from bench.arch.spaces import Space
from bench.checks import check_int
from bench.errors import InputError
from search._optuna import cached_trials
from search.indicators import pareto_mask
from search.samplers import _common
from search.samplers.model_guide import ModelGuide, acquire

__all__ = ["ParetoLocalSampler"]


class ParetoLocalSampler(BaseSampler):
    """Pareto local search: mutate members of the current non-dominated front by one edge/layer.

    After ``n_startup`` architectures drawn uniformly among the classes not queried yet, each
    trial takes a parent from the non-dominated set of the completed trials (feasible ones first
    when there are constraints; the single best when there is one objective) and proposes one of
    its one-edge (TSS) or one-layer (SSS) neighbours (``Space.neighbours``) whose isomorphism
    class (``classes``: the search's own class map, e.g. function classes) nobody has queried
    yet. Parents are drawn with weights that favour the two ends of the front and its sparse
    parts (crowding distance), so the front grows along its whole length.
    When every neighbour of the front is queried, the next non-dominated layer supplies the
    parents, and so on. With probability ``p_random``, or when no completed trial has an
    unqueried neighbour left, the trial is a uniform draw among unqueried classes instead (so the
    search never stalls on a local front). ``weights="uniform"`` draws parents uniformly;
    ``startup="tpe"`` lets TPE propose the first ``n_startup`` architectures (measured no better
    on NB201, kept for comparison); ``startup="indices"`` draws the start as random search
    does, the classes of uniform NATS indices (distinct classes). Constraint values are not
    modelled beyond feasible-first.

    ``model="xgb"`` (strategy ``mpls``) starts from ``n_startup`` classes drawn at once without
    replacement (mpls: by index) and replaces the random parent-then-child draw by a model's
    choice: the candidates are the unqueried neighbours of the whole first layer that has any
    (with probability ``p_random``, every unqueried class), and each objective's loss is
    predicted by an XGBoost model fitted on a bootstrap resample of the completed classes
    (features: :func:`surrogate.features.feature_table`; ``members`` models per objective, each
    on its own bootstrap resample, refitted after every completed class for the first 40, then
    every ``refit_every`` or ``refit_growth`` more classes). The pick is the candidate with the
    largest hypervolume improvement over the current front averaged over the members (see
    :func:`~search.samplers.model_guide.acquire` for one and for three or more objectives).
    With probability ``p_explore`` a guided trial is instead the draw random search would make:
    the class of a uniform NATS index, among the unqueried classes. Trees never predict beyond
    the values they were fitted on, so the model alone does not point past the ends of the front
    it knows, while draws by index favour large isomorphism classes (cells with many ``none``
    and ``skip`` edges), which hold the cheap end of accuracy-against-cost fronts: on NB201
    cifar10-valid (accuracy against latency) random search by index needs 140 queries to
    normalized HV 0.95 and uniform draws over classes 1,568.
    On a table that holds a sample of the space (``held``, for example the SSS demo tables'
    2,048 of 32,768 networks) every draw is among the held classes, and a class's neighbours are
    the held ones that change the fewest edges/layers (:func:`~search.samplers._common.nearest`):
    one-layer neighbours are rarely held there. On a full table this is the plain rule.
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
        p_explore: float = 0.0,
        refit_growth: float = 0.05,
        classes: np.ndarray | None = None,
        held: np.ndarray | None = None,
        denoise: bool = False,
        seed: int | None = None,
    ) -> None:
        check_int(n_startup, "n_startup")
        for name, p in (("p_random", p_random), ("p_explore", p_explore)):
            if not 0.0 <= float(p) <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {p!r}")
        if not 0.0 <= float(refit_growth) <= 1.0:
            raise InputError(f"refit_growth must be in [0, 1], got {refit_growth!r}")
        self.space = space
        self.n_startup = n_startup
        self.p_random = float(p_random)
        if weights not in ("crowding", "uniform"):
            raise InputError(f"weights must be 'crowding' or 'uniform', got {weights!r}")
        if startup not in ("random", "indices", "tpe"):
            raise InputError(f"startup must be 'random', 'indices' or 'tpe', got {startup!r}")
        if model not in ("none", "xgb"):
            raise InputError(f"model must be 'none' or 'xgb', got {model!r}")
        for name, value in (("refit_every", refit_every), ("members", members)):
            check_int(value, name)
        self.weights = weights
        self.startup = startup
        self.model = model
        self.refit_every = refit_every
        self.members = members
        self.p_explore = float(p_explore)
        self.refit_growth = float(refit_growth)
        if not isinstance(denoise, bool):
            raise InputError(f"denoise must be True or False, got {denoise!r}")
        self.denoise = denoise
        self._guide: ModelGuide | None = None
        self._design: np.ndarray | None = None
        self._tpe: BaseSampler | None = None
        if startup == "tpe":
            _common.quiet_experimental()
            self._tpe = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._names = space.param_names()
        self._dists = {n: CategoricalDistribution(c) for n, c in space.param_space().items()}
        # index -> its class (the search's: isomorphism, or function when merged)
        self._reps = space.representatives() if classes is None else np.asarray(classes)
        if self._reps.shape != (space.size,):
            raise InputError(f"classes must map each of the {space.size} indices of {space.name}")
        # the indices the table can answer (a sampled table holds few); draws stay among them
        self._held = np.arange(space.size) if held is None else _common.held_indices(held, space)
        self._held_codes: np.ndarray | None = None
        self._unique = np.unique(self._reps[self._held])
        self._neigh: dict[int, np.ndarray] = {}
        self._trial_rep: dict[int, int] = {}  # trial number -> class representative
        self._scored: dict[int, tuple[np.ndarray, float]] = {}  # trial number -> loss, violation

    def reseed_rng(self) -> None:
        """Draw a fresh seed (Optuna calls this in each process of a parallel ``optimize``)."""
        self._rng = np.random.default_rng()
        if self._guide is not None:
            self._guide.rng = self._rng

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The whole parameter space: an architecture is proposed as one joint sample."""
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
        """The classes of the held indices nearest ``rep`` (on a full table: one move away)."""
        got = self._neigh.get(rep)
        if got is None:
            if self._held_codes is None:
                self._held_codes = self.space.codes()[self._held]
            near = _common.nearest(self._held_codes, self.space.codes()[rep])
            got = self._neigh[rep] = np.unique(self._reps[self._held[near]])
        return got

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """The next architecture: a start draw, the model's pick, or a front member's neighbour."""
        trials = cached_trials(study)
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
            if self.p_explore and self._rng.random() < self.p_explore:
                return self.space.to_params(self._by_index(queried))
            return self.space.to_params(self._guided(study, best, queried))
        elif len(best) >= self.n_startup and self._rng.random() >= self.p_random:
            child = self._mutate_front(study, best, queried)
            if child is not None:
                return self.space.to_params(child)
        # mpls, and any start by index, draws its start design at once
        design = len(best) < self.n_startup and (self.model != "none" or self.startup == "indices")
        return self.space.to_params(self._start(queried) if design else self._fresh(queried))

    def _start(self, queried: set[int]) -> int:
        """The next unqueried class of mpls's start design: n_startup distinct classes drawn at
        once, uniformly over classes or (``startup="indices"``) as random search draws."""
        if self._design is None:
            size = min(self.n_startup, len(self._unique))
            if self.startup == "indices":
                drawn: list[int] = []
                while len(drawn) < size:
                    drawn.append(self._by_index(set(drawn)))
                self._design = np.array(drawn, dtype=np.int64)
            else:
                self._design = self._rng.choice(self._unique, size=size, replace=False)
        for rep in self._design:
            if int(rep) not in queried:
                return int(rep)
        return self._fresh(queried)

    def _guided(self, study: Study, best: dict[int, FrozenTrial], queried: set[int]) -> int:
        """The model's pick among the front's open neighbours (at rate p_random: all classes).

        With ``denoise`` the completed classes enter the front (its layer and the acquisition's
        reference) as the ensemble predicts them, not as their one noisy observation each.
        """
        all_reps, all_losses, keep = self._losses(study, best)
        losses = all_losses[keep]  # the front is feasible-first; the models learn from every class
        if self._guide is None:
            self._guide = ModelGuide(
                self.space,
                self._rng,
                self.refit_every,
                self.members,
                self.refit_growth,
                rows=self._unique,
            )
        if self.denoise:
            losses = self._guide.predict(all_reps, all_losses, all_reps[keep]).mean(axis=0)
        pool = None
        if self._rng.random() >= self.p_random:
            layer = self._open_layer(all_reps[keep], losses, queried)
            if layer is not None:
                pool = np.unique(np.concatenate(layer[2]))
        if pool is None:
            pool = np.setdiff1d(self._unique, np.fromiter(queried, dtype=np.int64))
            if not len(pool):
                return self._fresh(queried)
        predicted = self._guide.predict(all_reps, all_losses, pool)
        return int(pool[acquire(predicted, losses, self._rng)])

    def _losses(
        self, study: Study, best: dict[int, FrozenTrial]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reps, losses, least-violating mask) of the completed classes (all feasible ones when
        any is feasible)."""
        reps = np.fromiter(best, dtype=np.int64, count=len(best))
        new = [t for t in best.values() if t.number not in self._scored]
        if new:  # a finished trial's values never change: score each once
            for t, loss, bad in zip(new, _common.losses(study, new), _common.violations(new),
                                    strict=True):  # fmt: skip
                self._scored[t.number] = (loss, float(bad))
        scored = [self._scored[t.number] for t in best.values()]
        losses = np.array([loss for loss, _ in scored]).reshape(len(scored), -1)
        violation = np.array([bad for _, bad in scored])
        return reps, losses, violation == violation.min()

    def _by_index(self, queried: set[int]) -> int:
        """An unqueried class drawn as random search draws: a uniform NATS index's class."""
        for _ in range(64):
            rep = int(self._reps[self._held[int(self._rng.integers(len(self._held)))]])
            if rep not in queried:
                return rep
        return self._fresh(queried)

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
        """A uniform draw (only for a parameter outside the space)."""
        return _common.uniform_choice(
            self._rng, param_name, param_distribution, "ParetoLocalSampler"
        )


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
