"""XGBoost surrogate: metric = f(architecture), with calibrated prediction intervals.

Design (the choices the issue asks to document):

- **One model per (space, dataset).** Every dataset of the table covers the same architectures,
  its targets live on their own scale (ImageNet16-120 accuracy is about half of cifar10's) and
  its costs differ (class count, resolution), so a per-dataset model spends no trees on
  separating datasets, and the server can refuse a request for a dataset the model never saw.
  The dataset as a feature would only pay off for transfer to a sparsely measured dataset.
- **Several targets in one booster.** XGBoost's multi-output regression (``hist``, one tree per
  target per round) fits accuracy and calibration columns together from one feature matrix;
  targets are standardized first so that one learning rate suits all of them.
- **Intervals: seeded bootstrap ensemble + conformal calibration, not quantile regression.**
  The point prediction comes from one booster fitted on all training rows. ``n_members``
  further boosters are fitted on bootstrap resamples (seeded; a resample is a weight vector of
  multinomial counts). Every training row that is *out of bag* for some members gets a
  residual ``|y - mean of those members|``, an honest held-out error obtained without setting
  a single row aside; the interval is ``mean ± q`` with ``q`` the finite-sample conformal
  ``(1 - alpha)`` quantile of those residuals (jackknife+-after-bootstrap style, Kim et al.
  2020). Why not ``reg:quantileerror``: a quantile booster is fitted for fixed levels, while
  ``predict_interval`` and the HTTP API take any ``alpha``; quantile trees are poorly calibrated
  at the small training sizes of the White et al. protocol (5 to 100 rows) and would need a
  held-out calibration split, which those sizes cannot spare.
- **Why the width is constant per target.** Dividing residuals by the ensemble spread (to get
  per-arch widths) was measured on NB201 (1,000 training cells) and under-covered: 82-86% for
  nominal 90%, and 75-82% at 100 cells, because at a training row most members have seen the
  row and agree, so the spread there is smaller than at a new arch. Constant-width residuals
  covered 91-94% at both sizes (see the README table), so calibration wins over adaptivity.
- With fewer residuals than ``1/alpha - 1`` the conformal quantile is undefined (infinite); the
  largest residual is used instead and :meth:`Surrogate.info` reports how many there were. With
  none at all (a single training row, or ``n_members=0``) intervals are refused.
- **Threads.** Training uses one thread unless ``nthread`` is given: on a shared machine
  XGBoost's OpenMP threads spin against other processes (fitting 15,625 rows took 236 s with 2
  threads and 31 s with 1 on a loaded 2-core host), and one thread makes fits bit-for-bit
  reproducible. Prediction keeps the same thread count (predicting 15,625 cells took 0.11 s
  with 1 thread and 0.23 s with 2 on that host); a server parallelizes across requests instead.

Files: :meth:`Surrogate.save` writes a directory holding ``surrogate.json`` (metadata, scaling,
calibration residuals, SHA-256 of each booster) and ``mean.ubj``, ``member_{k}.ubj`` in XGBoost's
UBJSON format; it is built in a temporary sibling directory and renamed into place
(:func:`bench.fileio.atomic_dir`), with the modes the umask gives. Never pickle.

Example:
    >>> from bench.arch.spaces import get_space
    >>> sss = get_space("sss")
    >>> archs = [sss.arch(i) for i in range(0, 32768, 97)]
    >>> y = [sum(sss.channels(a)) / 320 for a in archs]  # any real column works the same way
    >>> s = Surrogate("sss", ["acc"], dataset="cifar10", n_estimators=50).fit(archs, y)
    >>> s.predict(["64:64:64:64:64"]).shape
    (1, 1)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.errors import InputError
from surrogate.features import arch_indices, cost_dataset, feature_table
from surrogate.persist import FORMAT, read_model, write_model

__all__ = ["Surrogate", "DEFAULT_XGB_PARAMS", "FORMAT"]

#: Bootstrap boosters per model: enough out-of-bag residuals for calibrated 90% intervals.
DEFAULT_MEMBERS = 8


#: Booster settings used unless overridden through ``**xgb_params``. Chosen on NB201 validation
#: accuracy at 1,000 training archs: a small learning rate with row/column subsampling generalizes
#: better than XGBoost's defaults on these 171 mostly binary features, and 200 rounds keep
#: predicting all 15,625 cells under 0.1 s on a loaded host (400 rounds gained < 0.01 tau).
DEFAULT_XGB_PARAMS: dict[str, Any] = {
    "tree_method": "hist",
    "objective": "reg:squarederror",
    "n_estimators": 200,
    "learning_rate": 0.1,
    "max_depth": 6,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.7,
    "reg_lambda": 1.0,
    "max_bin": 64,
}
#: Bootstrap members train with this fraction of the rounds at a proportionally larger learning
#: rate: they only supply out-of-bag residuals, and it keeps fitting 15,625 rows under 30 s.
_MEMBER_ROUND_FRACTION = 0.5


def _as_targets(targets: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(targets, str):
        targets = [targets]
    targets = tuple(targets)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise InputError(f"targets must be one or more column names, got {targets!r}")
    if len(set(targets)) != len(targets):
        raise InputError(f"targets repeat a column: {list(targets)}")
    return targets


def _conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The finite-sample conformal (1 - alpha) quantile; the largest score when m is too small."""
    m = scores.size
    if m == 0:
        raise InputError(
            "no out-of-bag residuals to calibrate intervals: fit on at least 2 archs with "
            "n_members >= 1"
        )
    k = math.ceil((m + 1) * (1 - alpha))
    return float(np.sort(scores)[min(k, m) - 1])


class Surrogate:
    """Gradient-boosted surrogate for one space and dataset, several targets, with intervals.

    Args:
        space: ``"tss"`` or ``"sss"``.
        targets: column name(s) to predict (``"valid_acc"``, ``["acc", "pre_ECE_15"]``, ...).
        dataset: the dataset the targets were measured on (selects the cost features and is
            checked by the server); None for a dataset-free model (cifar10 costs as features).
        seed: seeds XGBoost and the bootstrap resamples; same seed, same model.
        n_members: bootstrap boosters that supply out-of-bag residuals for intervals (0 disables
            intervals).
        **xgb_params: XGBoost parameters overriding :data:`DEFAULT_XGB_PARAMS`
            (``n_estimators`` is the number of boosting rounds).

    Example:
        >>> Surrogate("tss", "valid_acc", dataset="cifar10", max_depth=8).xgb_params["max_depth"]
        8
    """

    def __init__(
        self,
        space: str,
        targets: str | Sequence[str],
        *,
        dataset: str | None = None,
        seed: int = 0,
        n_members: int = DEFAULT_MEMBERS,
        **xgb_params: Any,
    ) -> None:
        self.space = get_space(space).name
        self.targets = _as_targets(targets)
        cost_dataset(dataset)  # ValueError for an unknown dataset
        self.dataset = dataset
        self.seed = check_int(seed, "seed", minimum=None)
        check_int(n_members, "n_members", minimum=0)
        self.n_members = n_members
        params = {**DEFAULT_XGB_PARAMS, **xgb_params}
        rounds = params.get("n_estimators")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise InputError(f"n_estimators must be a positive integer, got {rounds!r}")
        for reserved in ("seed", "random_state", "num_target"):
            if reserved in params:
                raise InputError(f"{reserved!r} is set by Surrogate; pass seed= instead")
        self.xgb_params = params

    # -- state ---------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has produced a model.

        Example:
            >>> Surrogate("sss", "acc").is_fitted
            False
        """
        return hasattr(self, "booster_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise InputError(
                "this Surrogate is not fitted yet: call fit(archs, y) or Surrogate.load(path) "
                "before predicting"
            )

    def _features(self, archs: Sequence[str | int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(archs, (str, bytes)):
            archs = [archs]
        idx = arch_indices(self.space, archs)
        return idx, feature_table(self.space, self.dataset)[idx]

    def _booster_params(self, seed: int, *, member: bool) -> tuple[dict[str, Any], int]:
        params = {k: v for k, v in self.xgb_params.items() if k != "n_estimators"}
        rounds = int(self.xgb_params["n_estimators"])
        if member:
            short = max(1, round(rounds * _MEMBER_ROUND_FRACTION))
            params["learning_rate"] = params.get("learning_rate", 0.3) * rounds / short
            rounds = short
        params["seed"] = seed
        params.setdefault("verbosity", 0)
        params.setdefault("nthread", 1)  # see "Threads" in the module docstring
        return params, rounds

    # -- fitting -------------------------------------------------------------------------------
    def _check_y(self, y: Any, n: int) -> np.ndarray:
        if hasattr(y, "columns"):  # a DataFrame: take the target columns by name
            missing = [t for t in self.targets if t not in y.columns]
            if missing:
                raise InputError(
                    f"target column(s) {missing} are not in y; it has: {list(y.columns)}"
                )
            y = y[list(self.targets)].to_numpy()
        try:
            arr = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InputError(f"y must be numeric: {err}") from None
        if arr.ndim == 1 and len(self.targets) == 1:
            arr = arr[:, None]
        if arr.shape != (n, len(self.targets)):
            raise InputError(
                f"y has shape {arr.shape}, expected ({n}, {len(self.targets)}) for {n} archs and "
                f"targets {list(self.targets)}"
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(
                f"y holds {int(bad.sum())} NaN/inf value(s), e.g. row {row} of target "
                f"{self.targets[col]!r}: drop unmeasured archs before fitting"
            )
        return arr

    def fit(self, archs: Sequence[str | int] | np.ndarray, y: Any) -> Surrogate:
        """Fit on ``archs`` (arch strings or NATS indices) and targets ``y`` (n,) or (n, t).

        Args:
            archs: arch strings or NATS indices of the model's space.
            y: (n,) values for one target, (n, t) for t targets, or a DataFrame holding the
                target columns by name; finite numbers only.

        Returns:
            ``self``, fitted (``booster_``, ``members_``, ``train_indices_``, ...).

        Raises:
            InputError: no archs, a bad arch, or ``y`` of the wrong shape or with NaN/inf.

        Example:
            >>> s = Surrogate("sss", "acc", n_members=2, n_estimators=5)
            >>> s.fit(["8:8:8:8:8", "64:64:64:64:64"], [0.5, 0.9]).is_fitted
            True
        """
        if isinstance(archs, (str, bytes)):
            raise InputError("archs must be a sequence of arch strings or indices, not one string")
        if len(archs) == 0:
            raise InputError("cannot fit on an empty training set: give at least one arch")
        idx, x = self._features(archs)
        y = self._check_y(y, len(idx))
        started = time.perf_counter()
        y_mean = y.mean(0)
        y_std = y.std(0)
        y_std = np.where(y_std > 0, y_std, 1.0)
        z = (y - y_mean) / y_std

        params, rounds = self._booster_params(self.seed, member=False)
        dtrain = xgb.DMatrix(x, label=z)
        booster = xgb.train(params, dtrain, num_boost_round=rounds)

        rng = np.random.default_rng(self.seed)
        members: list[xgb.Booster] = []
        oob_sum = np.zeros_like(z)
        oob_n = np.zeros(len(z))
        for k in range(self.n_members):
            counts = rng.multinomial(len(z), np.full(len(z), 1 / len(z)))
            rows = np.flatnonzero(counts)
            mparams, mrounds = self._booster_params(self.seed * 1000 + k + 1, member=True)
            dm = xgb.DMatrix(x[rows], label=z[rows], weight=counts[rows].astype(np.float32))
            member = xgb.train(mparams, dm, num_boost_round=mrounds)
            members.append(member)
            out = counts == 0
            if out.any():
                oob_sum[out] += member.inplace_predict(x[out]).reshape(int(out.sum()), -1)
                oob_n[out] += 1

        self.booster_ = booster
        self.members_ = members
        self.y_mean_ = y_mean
        self.y_std_ = y_std
        self.train_indices_ = idx.copy()
        self.n_train_ = len(idx)
        has = oob_n > 0
        residuals = np.abs(z[has] - oob_sum[has] / oob_n[has, None])  # standardized units
        self.scores_ = [residuals[:, t].copy() for t in range(len(self.targets))]
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @classmethod
    def from_benchmark(
        cls,
        bench: Any,
        space: str,
        dataset: str,
        targets: str | Sequence[str],
        source: str | None = None,
        n_train: int | None = None,
        seed: int = 0,
        *,
        epoch: int | None = None,
        **kwargs: Any,
    ) -> Surrogate:
        """Fit on the benchmark table: ``n_train`` random measured archs (all when None).

        Rows whose targets are missing (NaN) are not measured and are left out, and so are rows
        the table copied from another architecture (``copied``: an isomorphic cell, or a class
        computing the same function): a copy adds no measurement, and a copy of a training row
        among the out-of-bag rows makes the intervals too narrow (on the digits demo table, 90 %
        intervals fitted with copies covered 81-85 % of unseen classes, without them 88-92 %).
        The indices actually trained on are in ``train_indices_``.

        Args:
            bench: a :class:`bench.table.benchmark.Benchmark`, a path to a store, or None for the
                default store (the embedded demo table included).
            space: ``"tss"`` or ``"sss"``.
            dataset: the table's dataset (``cifar10``, ``digits``, ...).
            targets: column name(s) to predict.
            source: only rows of this source (None: the table's default resolution).
            n_train: how many measured archs to train on, drawn without replacement by ``seed``.
            seed: seeds the draw and the model.
            epoch: only rows of this training epoch (None: the table's default).
            **kwargs: passed to the constructor (``n_members``, XGBoost parameters).

        Returns:
            A fitted surrogate; ``source_`` records ``source``.

        Raises:
            InputError: a target that is not a column, no measured rows, or ``n_train`` larger
                than the measured rows.

        Example:
            >>> s = Surrogate.from_benchmark(
            ...     "/tmp/calnas-doc-bench", "tss", "digits", ["acc", "pre_ECE_15"], n_train=50,
            ...     n_members=2, n_estimators=10)
            >>> s.n_train_, s.predict([0, 11]).shape
            (50, (2, 2))
        """
        from bench.table.benchmark import Benchmark

        if bench is None or isinstance(bench, (str, os.PathLike)):
            bench = Benchmark.open(bench)
        targets = _as_targets(targets)
        frame = bench.frame(space, dataset, list(targets), source=source, epoch=epoch)
        missing = [t for t in targets if t not in frame.columns]
        if missing:
            raise InputError(
                f"target(s) {missing} are not columns of the {space}/{dataset} table; "
                f"it has: {[c for c in frame.columns if c not in ('config', 'arch')]}"
            )
        measured = frame[~frame["copied"].astype(bool)].dropna(subset=list(targets))
        if measured.empty:
            raise InputError(
                f"no {space}/{dataset} rows have all of {list(targets)} measured"
                + (f" for source {source!r}" if source else "")
                + ": nothing to train on"
            )
        if n_train is not None:
            check_int(n_train, "n_train")
            if n_train > len(measured):
                raise InputError(
                    f"n_train={n_train} exceeds the {len(measured)} measured {space}/{dataset} "
                    f"rows of {list(targets)}"
                )
            pick = np.random.default_rng(seed).choice(len(measured), n_train, replace=False)
            measured = measured.iloc[np.sort(pick)]
        model = cls(space, targets, dataset=dataset, seed=seed, **kwargs)
        model.fit(measured["config"].to_numpy(dtype=np.int64), measured[list(targets)])
        model.source_ = source
        return model

    # -- prediction ----------------------------------------------------------------------------
    def predict(self, archs: Sequence[str | int] | np.ndarray) -> np.ndarray:
        """Point predictions, shape (n, n_targets), in the targets' own units.

        Args:
            archs: arch strings or NATS indices of the model's space.

        Returns:
            A float64 array, one row per arch, one column per target.

        Raises:
            InputError: the model is not fitted, or a bad arch.

        Example:
            >>> s = Surrogate("sss", "acc", n_members=0, n_estimators=5)
            >>> s.fit(["8:8:8:8:8", "64:64:64:64:64"], [0.5, 0.9]).predict([0]).shape
            (1, 1)
        """
        self._check_fitted()
        _, x = self._features(archs)
        z = self.booster_.inplace_predict(x).reshape(len(x), -1)
        return z * self.y_std_ + self.y_mean_

    def predict_with_interval(
        self, archs: Sequence[str | int] | np.ndarray, alpha: float = 0.1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, lower, upper)``, each (n, n_targets): a ``1 - alpha`` prediction interval.

        Args:
            archs: arch strings or NATS indices of the model's space.
            alpha: 1 - the coverage the intervals aim at, in (0, 1).

        Returns:
            The point predictions and the interval bounds, in the targets' own units.

        Raises:
            InputError: the model is not fitted, has no out-of-bag residuals (``n_members=0``
                or a single training arch), a bad ``alpha``, or a bad arch.

        Example:
            >>> s = Surrogate("sss", "acc", n_members=2, n_estimators=5)
            >>> _ = s.fit(["8:8:8:8:8", "64:64:64:64:64", "8:64:8:64:8"], [0.5, 0.9, 0.6])
            >>> mean, lo, hi = s.predict_with_interval(["64:64:64:64:64"], alpha=0.2)
            >>> bool(lo[0, 0] <= mean[0, 0] <= hi[0, 0])
            True
        """
        self._check_fitted()
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
            raise InputError(f"alpha must be a number with 0 < alpha < 1, got {alpha!r}")
        q = np.array([_conformal_quantile(r, alpha) for r in self.scores_])  # raises if none
        _, x = self._features(archs)
        mean = self.booster_.inplace_predict(x).reshape(len(x), -1)
        scale = self.y_std_
        return (
            mean * scale + self.y_mean_,
            (mean - q) * scale + self.y_mean_,
            (mean + q) * scale + self.y_mean_,
        )

    def predict_interval(
        self, archs: Sequence[str | int] | np.ndarray, alpha: float = 0.1
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)``, each (n, n_targets): intervals meant to cover ``1 - alpha``.

        Args:
            archs: arch strings or NATS indices of the model's space.
            alpha: 1 - the coverage the intervals aim at, in (0, 1).

        Returns:
            The lower and upper bounds (see :meth:`predict_with_interval`).

        Raises:
            InputError: as :meth:`predict_with_interval`.

        Example:
            >>> s = Surrogate("sss", "acc", n_members=2, n_estimators=5)
            >>> _ = s.fit(["8:8:8:8:8", "64:64:64:64:64", "8:64:8:64:8"], [0.5, 0.9, 0.6])
            >>> lo, hi = s.predict_interval([0], alpha=0.1)
            >>> bool((lo <= hi).all())
            True
        """
        _, lower, upper = self.predict_with_interval(archs, alpha)
        return lower, upper

    # -- persistence ---------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """JSON-ready summary: space, dataset, targets, training size, settings.

        Returns:
            ``format``, ``space``, ``dataset``, ``targets``, ``seed``, ``n_members``,
            ``xgb_params``, ``fitted``; once fitted also ``n_train``, ``n_calibration`` (the
            out-of-bag residuals per target) and ``source``.

        Example:
            >>> Surrogate("tss", ["acc"], dataset="cifar10").info()["fitted"]
            False
        """
        out: dict[str, Any] = {
            "format": FORMAT,
            "space": self.space,
            "dataset": self.dataset,
            "targets": list(self.targets),
            "seed": self.seed,
            "n_members": self.n_members,
            "xgb_params": dict(self.xgb_params),
            "fitted": self.is_fitted,
        }
        if self.is_fitted:
            out["n_train"] = int(self.n_train_)
            out["n_calibration"] = [int(s.size) for s in self.scores_]
            out["source"] = getattr(self, "source_", None)
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to directory ``path`` (UBJSON boosters + JSON metadata), atomically.

        An existing surrogate directory at ``path`` is replaced; any other existing file or
        directory is refused. Missing parent folders are created. The format is
        :mod:`surrogate.persist`'s.

        Args:
            path: the directory to write.

        Returns:
            ``path`` as a ``Path``.

        Raises:
            InputError: the model is not fitted, or ``path`` exists and is not a saved surrogate.

        Example:
            >>> import os, tempfile
            >>> s = Surrogate("sss", "acc", n_members=1, n_estimators=5)
            >>> _ = s.fit(["8:8:8:8:8", "64:64:64:64:64"], [0.5, 0.9])
            >>> saved = s.save(os.path.join(tempfile.mkdtemp(), "m"))
            >>> sorted(os.listdir(saved))
            ['mean.ubj', 'member_0.ubj', 'surrogate.json']
            >>> Surrogate.load(saved).predict([0]).shape
            (1, 1)
        """
        self._check_fitted()
        return write_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Surrogate:
        """Read a model written by :meth:`save` (checksums verified).

        Args:
            path: a directory written by :meth:`save`.

        Returns:
            The fitted surrogate.

        Raises:
            MissingFileError: no ``surrogate.json`` at ``path``, or a booster file is missing.
            InputError: the metadata is not a calnas surrogate of this format version, lacks a
                field, the features differ from this calnas's, or a file fails its checksum.

        Example:
            >>> Surrogate.load("/nonexistent")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            bench.errors.MissingFileError: no saved surrogate at /nonexistent ...
        """
        return read_model(path)

    def __repr__(self) -> str:
        state = f"n_train={self.n_train_}" if self.is_fitted else "unfitted"
        return (
            f"Surrogate(space={self.space!r}, dataset={self.dataset!r}, "
            f"targets={list(self.targets)}, {state})"
        )
