"""NATS-Bench's query API over a calnas benchmark: ``create``, :class:`NATSBench`, :class:`NATSRun`.

For users coming from ``nats_bench``: the same verbs (``query_index_by_arch``, ``get_more_info``,
``get_cost_info``, ``get_latency``, ``query_by_index``, ``find_best``, ``simulate_train_eval``)
with NATS-Bench's keys and values, answered from the benchmark table through
:meth:`Benchmark.query <bench.table.benchmark.Benchmark.query>` (checked against ``nats_bench``
1.8 in ``tests/bench/test_nats_compat.py``; the differences that are meant are listed in
:class:`NATSBench`). ``create`` reads nothing: the first query reads what it needs.

Example:
    >>> from bench.table.nats import create
    >>> api = create("/tmp/calnas-doc-bench", "tss")
    >>> api[11] == api.arch(11), api.query_index_by_arch(api.arch(11))
    (True, 11)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.arch.spaces import get_space
from bench.errors import InputError
from bench.table.benchmark import Benchmark
from bench.table.catalog import MissingEntry
from bench.table.nats_runs import TIME_COLUMNS, NATSRun, nats_run, nats_set
from bench.table.reader import as_floats, check_space_dataset, pick_run
from bench.table.schema import NATS_EVAL_SETS, TRAINING_COLUMNS

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NATSBench", "NATSRun", "create"]

#: Datasets ``simulate_train_eval`` accepts (cifar10 searches read the cifar10-valid run).
_SIM_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


class NATSBench:
    """NATS-Bench's query verbs over a calnas benchmark, for users coming from ``nats_bench``.

    Offers ``len``, ``[i]``/``arch``, ``query_index_by_arch``, ``get_more_info``,
    ``get_cost_info``, ``get_latency``, ``query_by_index``, ``find_best``,
    ``simulate_train_eval``, ``used_time``/``reset_time``, with NATS-Bench's keys and values
    (checked against ``nats_bench`` 1.8 in ``tests/bench/test_nats_compat.py``).

    Differences, on purpose: accuracies are fractions (not percent), ``hp`` defaults to the longest
    schedule held (NATS defaults to '12', a known trap), ``is_random`` defaults to False (the
    mean over seeds) and ``is_random=True`` draws with the facade's seeded generator;
    ``get_more_info`` adds ``epoch``, ``hp``, ``seed`` and ``source`` and has no ``comment``;
    ``query_by_index`` gives :class:`NATSRun` records; a ``find_best`` that nothing satisfies raises
    MissingEntry (NATS returns ``(-1, None)``). Nothing is read before the first query.

    Example:
        >>> from bench.table.nats import create
        >>> api = create("/tmp/calnas-doc-bench", "tss")
        >>> len(api), api.query_index_by_arch("not an arch")
        (15625, -1)
    """

    def __init__(self, bench: Benchmark, space: str, *, seed: int = 0):
        self.bench = bench
        self.space = space
        self.seed = seed
        self._sp = get_space(space)
        # built at the first draw: importing numpy would cost more than the whole creation
        self._rng: np.random.Generator | None = None
        self._used_time = 0.0

    def __len__(self) -> int:
        return self._sp.size

    def __getitem__(self, index: int) -> str:
        if isinstance(index, int) and -self._sp.size <= index < 0:
            index += self._sp.size  # a sequence's negative index, as nats_bench's list takes it
        return self.arch(index)

    def __repr__(self) -> str:
        return f"NATSBench({self.space}, {self._sp.size} architectures, {self.bench.store.root})"

    @property
    def used_time(self) -> float:
        """Simulated seconds charged by :meth:`simulate_train_eval` since the last reset."""
        return self._used_time

    def reset_time(self) -> None:
        """Set :attr:`used_time` back to 0."""
        self._used_time = 0.0

    def arch(self, index: int) -> str:
        """Arch string of ``index`` (ValueError out of range)."""
        return self._sp.arch(index)

    def query_index_by_arch(self, arch: str | int) -> int:
        """Index of ``arch``: an int in range is returned as is, an unknown string gives -1."""
        if isinstance(arch, str):
            try:
                return self._sp.index(arch)
            except ValueError:
                return -1
        if hasattr(arch, "tostr"):
            return self.query_index_by_arch(arch.tostr())
        return self._sp.index(arch)

    def _index(self, arch: Any) -> int:
        index = self.query_index_by_arch(arch)
        if index < 0:
            raise InputError(f"{arch!r} is not an architecture of the {self.space} space")
        return index

    def _seed(self, index: int, dataset: str, hp: int | None, epoch: int | None, is_random: Any):
        if is_random is False:
            return None
        if is_random is True:
            seeds = self.seeds(index, dataset, hp=hp, epoch=epoch)
            if not seeds:
                return None
            if self._rng is None:
                import numpy as np

                self._rng = np.random.default_rng(self.seed)
            return int(self._rng.choice(seeds))
        return int(is_random)

    def seeds(
        self, index: int, dataset: str, *, hp: int | None = None, epoch: int | None = None
    ) -> list[int]:
        """Seeds with rows for ``index`` on ``dataset`` (training sources nats/nb201/computed)."""
        import numpy as np

        found: set[int] = set()
        for src in self.bench.sources(self.space, dataset):
            table = self.bench.tables()[(self.space, dataset, src)]
            picked = pick_run(table.schedule, hp, epoch)
            if picked is None:
                continue
            got = table.arrays(["seed", "config"], hp=picked[0], epoch=picked[1], config=int(index))
            seeds = got.get("seed", np.full(len(got.get("config", [])), -1))
            found.update(int(s) for s in seeds)
        if not found and self.space == "tss":  # an isomorphic copy: its representative's seeds
            rep = int(self._sp.representatives()[index])
            if rep != index:
                return self.seeds(rep, dataset, hp=hp, epoch=epoch)
        return sorted(found)

    def _row(
        self,
        index: int,
        dataset: str,
        wanted: Sequence[str],
        hp: int | None,
        epoch: int | None,
        seed: int | None,
    ) -> dict[str, Any]:
        """:meth:`Benchmark.query` of the ``wanted`` columns the selection holds."""
        # selection() also raises the clear errors (unknown dataset, no rows at that hp/epoch)
        available = self.bench.selection(self.space, dataset, None, hp, epoch, seed).available
        names = [c for c in wanted if c in available]
        if not names:
            raise MissingEntry(
                f"no learning-curve or cost values for {self.space}/{dataset}; import "
                "NATS-Bench archives (calnas bench import nats PATH)"
            )
        return self.bench.query(self.space, dataset, index, names, None, epoch, hp=hp, seed=seed)

    def get_more_info(
        self,
        index: int | str,
        dataset: str,
        iepoch: int | None = None,
        hp: int | str | None = None,
        is_random: bool | int = False,
    ) -> dict[str, Any]:
        """Learning-curve values of one run, with NATS-Bench's keys (accuracies as fractions).

        ``iepoch`` is 0-based like NATS-Bench's (None: the last epoch); keys: ``train-loss``,
        ``train-accuracy``, ``train-per-time``, ``train-all-time``, and ``valid-*``, ``test-*``,
        ``valtest-*`` where the dataset has that evaluation set at that epoch; ``-all-time`` is the
        time spent up to the epoch, ``-per-time`` that divided by the epochs. Added: ``epoch``
        (1-based), ``hp``, ``seed`` (None: the mean over seeds) and ``source``.

        Example:
            >>> api.get_more_info(0, "cifar10", hp=200)["test-accuracy"]   # doctest: +SKIP
            0.85863
        """
        index = self._index(index)
        hp_int = None if hp is None else int(hp)
        epoch = None if iepoch is None else int(iepoch) + 1
        seed = self._seed(index, dataset, hp_int, epoch, is_random)
        wanted = [*TRAINING_COLUMNS, *TIME_COLUMNS]
        row = self._row(index, dataset, wanted, hp_int, epoch, seed)
        v, ep = row["values"], row["epoch"]
        info: dict[str, Any] = {}
        for prefix in ("train", "valid", "test", "valtest"):
            acc, loss = v.get(f"{prefix}_acc"), v.get(f"{prefix}_loss")
            total = v.get(f"{prefix}_time_s")
            # NATS-Bench leaves out an evaluation set it holds no value of at that epoch (its
            # times are kept at every epoch: they do not count)
            if acc is None and loss is None and (prefix != "train" or total is None):
                continue
            info[f"{prefix}-loss"] = loss
            info[f"{prefix}-accuracy"] = acc
            info[f"{prefix}-per-time"] = None if total is None else total / ep
            info[f"{prefix}-all-time"] = total
        if not info:
            raise MissingEntry(
                f"no learning-curve values for {self.space} index {index} on {dataset}; import "
                "NATS-Bench archives (calnas bench import nats PATH)"
            )
        info["epoch"] = ep
        info["hp"] = row["hp"]
        info["seed"] = seed
        info["source"] = row["source"]
        return info

    def get_cost_info(
        self, index: int | str, dataset: str, hp: int | str | None = None
    ) -> dict[str, Any]:
        """NATS-Bench's cost dict: ``flops`` (M), ``params`` (M), ``latency`` (s, None when
        unknown), ``T-train@epoch``/``T-train@total`` and ``T-<set>@epoch``/``T-<set>@total`` for
        each evaluation set of the dataset (per-epoch mean and sum over the whole schedule)."""
        index = self._index(index)
        hp_int = None if hp is None else int(hp)
        wanted = ["flops_m", "params_m", "latency_s", *TIME_COLUMNS]
        row = self._row(index, dataset, wanted, hp_int, None, None)
        v, ep = row["values"], row["epoch"]
        info: dict[str, Any] = {
            "flops": v.get("flops_m"),
            "params": v.get("params_m"),
            "latency": v.get("latency_s"),
        }
        names = [("train", "train"), *NATS_EVAL_SETS.get(dataset, {}).items()]
        for set_name, prefix in names:
            total = v.get(f"{prefix}_time_s")
            info[f"T-{set_name}@epoch"] = None if total is None else total / ep
            info[f"T-{set_name}@total"] = total
        return info

    def get_latency(self, index: int | str, dataset: str, hp: int | str | None = None) -> float:
        """Latency in seconds (NATS-Bench: of a batch of 256), None when unknown."""
        return self.get_cost_info(index, dataset, hp)["latency"]

    def query_by_index(
        self, arch_index: int | str, dataname: str | None = None, hp: int | str | None = None
    ) -> dict[Any, Any]:
        """Every run of one architecture: ``{seed: NATSRun}`` on ``dataname``, or, without it,
        ``{dataset: {seed: NATSRun}}`` over NATS-Bench's datasets (NATS-Bench gives its
        ArchResults then; a proxy dataset such as ``fashion8``, whose 12-epoch runs share TSS's
        ``hp`` 12, answers only when named, so code written for NATS-Bench meets only its keys).

        Runs come from the first source (priority order) holding learning curves of the index at
        that hp (TSS: of its isomorphism-class representative when the index has none).
        """
        index = self._index(arch_index)
        hp_int = None if hp is None else int(hp)
        if dataname is not None:
            return self._runs(index, dataname, hp_int)
        found = {}
        for dataset in NATS_EVAL_SETS:
            if self.bench.sources(self.space, dataset):
                with contextlib.suppress(MissingEntry):
                    found[dataset] = self._runs(index, dataset, hp_int)
        if not found:
            raise MissingEntry(f"no runs of {self.space} index {index} (hp={hp})")
        return found

    def _runs(self, index: int, dataset: str, hp: int | None) -> dict[int, NATSRun]:
        check_space_dataset(self.space, dataset)
        columns = ["config", "seed", "epoch", *TRAINING_COLUMNS, *TIME_COLUMNS]
        columns += ["params_m", "flops_m", "latency_s"]
        for src in self.bench.sources(self.space, dataset):
            table = self.bench.tables()[(self.space, dataset, src)]
            if not any(c in table.columns for c in TRAINING_COLUMNS):
                continue
            picked = pick_run(table.schedule, hp, None)
            if picked is None:
                continue
            got = table.arrays(columns, hp=picked[0], config=index)
            if not len(got["config"]) and self.space == "tss":
                rep = int(table.representatives()[index])
                if rep != index:
                    got = table.arrays(columns, hp=picked[0], config=rep)
            if len(got["config"]):
                return self._build_runs(dataset, picked[0], got)
        raise MissingEntry(f"no runs of {self.space} index {index} on {dataset} (hp={hp})")

    @staticmethod
    def _build_runs(dataset: str, hp: int, got: dict[str, np.ndarray]) -> dict[int, NATSRun]:
        import numpy as np

        seeds = got.get("seed", np.full(len(got["config"]), -1))
        runs: dict[int, NATSRun] = {}
        for seed in sorted({int(s) for s in seeds}):
            rows = np.flatnonzero(seeds == seed)
            rows = rows[np.argsort(got["epoch"][rows], kind="stable")]
            keys = ("config", "seed", "epoch")
            values = {c: as_floats(got[c][rows]) for c in got if c not in keys}
            epochs = got["epoch"][rows].astype(np.int64)
            runs[seed] = nats_run(dataset, hp, seed, epochs, values)
        return runs

    def find_best(
        self,
        dataset: str,
        metric_on_set: str,
        flop_max: float | None = None,
        param_max: float | None = None,
        hp: int | str | None = None,
        enforce_all: bool | None = None,
    ) -> tuple[int, float]:
        """(index, accuracy) of the most accurate architecture on a set (the lowest index of ties).

        ``metric_on_set`` is 'train', 'valid', 'test' or a set of the dataset ('x-valid',
        'x-test', 'ori-test'), remapped as NATS-Bench does (``('cifar10', 'valid')`` reads the
        cifar10-valid run); ``flop_max``/``param_max`` bound FLOPs and params (M, inclusive).
        ``enforce_all`` is accepted for NATS-Bench's signature: every architecture the table holds
        is always considered. MissingEntry when none qualifies.

        Example:
            >>> api.find_best("cifar10", "test", hp=200)   # doctest: +SKIP
            (9930, 0.9437)
        """
        del enforce_all
        dataset, prefix = nats_set(dataset, metric_on_set)
        bounds: dict[str, tuple[float | None, float | None]] = {}
        if flop_max is not None:
            bounds["flops_m"] = (None, float(flop_max))
        if param_max is not None:
            bounds["params_m"] = (None, float(param_max))
        metric = f"{prefix}_acc"
        best = self.bench.find_best(
            self.space, dataset, metric, bounds=bounds, hp=None if hp is None else int(hp)
        )
        return best["index"], best["values"][metric]

    def simulate_train_eval(
        self,
        arch: int | str,
        dataset: str,
        iepoch: int | None = None,
        hp: int | str | None = None,
        account_time: bool = True,
    ) -> tuple[float, float | None, float, float]:
        """Simulate training ``arch`` and validating it: ``(valid accuracy, latency, time cost,
        used time)``, NATS-Bench's semantics.

        The accuracy is one randomly drawn seed's (the facade's seeded generator); cifar10 reads
        the cifar10-valid run. The time cost is the training time up to epoch ``iepoch`` plus one
        validation pass; where the run keeps no validation accuracy at that epoch (TSS '200' on
        cifar100/ImageNet16-120) the ori-test (valtest) accuracy is given, as NATS-Bench does.
        With ``account_time`` the cost is added to :attr:`used_time`.

        Example:
            >>> api.simulate_train_eval(2, "cifar10", iepoch=24, hp=200)   # doctest: +SKIP
            (0.8224, 0.0144, 287.37, 287.37)
        """
        index = self._index(arch)
        if dataset not in _SIM_DATASETS:
            raise InputError(f"unknown dataset {dataset!r}; accepted: {', '.join(_SIM_DATASETS)}")
        key = "cifar10-valid" if dataset == "cifar10" else dataset
        info = self.get_more_info(index, key, iepoch, hp, is_random=True)
        if "valid-accuracy" in info:
            accuracy, valid_time = info["valid-accuracy"], info["valid-per-time"]
        elif "valtest-accuracy" in info:
            accuracy = info["valtest-accuracy"]
            valid_time = self.get_more_info(index, key, None, hp, is_random=True).get(
                "valid-per-time"
            )
        else:
            raise MissingEntry(f"no validation accuracy of {self.space} index {index} on {key}")
        train_time = info.get("train-all-time")
        if train_time is None or valid_time is None:
            raise MissingEntry(
                f"no simulated times of {self.space} index {index} on {key} (train time "
                f"{train_time}, validation time {valid_time}): import NATS-Bench archives"
            )
        cost = train_time + valid_time
        latency = self.get_latency(index, dataset, hp)
        if account_time:
            self._used_time += cost
        return accuracy, latency, cost, self._used_time


def create(
    path: str | os.PathLike[str] | None = None,
    search_space: str = "tss",
    fast_mode: bool = True,
    verbose: bool = False,
    *,
    seed: int = 0,
) -> NATSBench:
    """NATS-Bench's ``create``: a query object for one space over a calnas benchmark directory.

    ``search_space`` is 'tss'/'topology' or 'sss'/'size'. ``fast_mode`` and ``verbose`` are
    accepted so that NATS-Bench calls run unchanged: calnas always reads lazily (nothing before
    the first query) and prints nothing. ``seed`` seeds the ``is_random=True`` draws.

    Example:
        >>> api = create("/tmp/calnas-doc-bench", "sss")
        >>> api.arch(0)
        '8:8:8:8:8'
    """
    del fast_mode, verbose
    aliases = {"tss": "tss", "topology": "tss", "sss": "sss", "size": "sss"}
    if search_space not in aliases:
        raise InputError(f"unknown search space {search_space!r}; accepted: {', '.join(aliases)}")
    bench = Benchmark.open(path)
    facade = NATSBench(bench, aliases[search_space], seed=seed)
    bench._facades.setdefault(facade.space, facade)
    return facade
