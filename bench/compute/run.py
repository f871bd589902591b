"""Compute missing benchmark entries: train (or load) a network, predict, measure, store.

One *unit* of work is one network: for TSS the representative of an isomorphism class (its rows
are copied to the other members of the class, flagged ``copied``), for SSS one index. A unit
runs in a worker process (joblib: loky on one host, dask on a cluster) and returns its rows;
the parent writes them at once to a per-network journal file (atomic rename) and merges the
journal into the store every ``flush_every`` seconds and at the end. So a killed run loses only
the networks in flight, never leaves a partial row, and a rerun (which merges any journal left
behind first) skips what is done. Several processes may compute into one store: a unit is
claimed with an exclusive claim file before it is dispatched, and claims of dead processes on
this host are taken over.

Weights come from a NATS-Bench "full" archive (through the ``nats_bench`` package) or from a
directory of state_dict files (``<index>.pt``), loaded with ``strict=True``; without weights the
network is trained with the NATS protocol (:mod:`bench.compute.training`) and measured at each
epoch of
``fidelities`` and at the end.

Example:
    >>> from bench.compute.run import ComputeConfig, compute
    >>> cfg = ComputeConfig("tss", "digits", epochs=2, fidelities=(1,))
    >>> report = compute(cfg, [0, 1], bench="/tmp/calnas-doc", quiet=True)  # doctest: +SKIP
    >>> report.networks
    2
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import __version__
from bench.arch.spaces import get_space
from bench.arch.datasets import dataset_info
from bench.compute.readers import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION
from bench.errors import InputError
from bench.extras import require
from bench.table.schema import breakdown_flags

__all__ = [
    "ComputeConfig",
    "ComputeReport",
    "compute",
    "compute_network",
    "select_targets",
    "done_configs",
    "merge_journal",
]

log = logging.getLogger("calnas.compute")

#: NATS-Bench's full schedules: the default hp of loaded weights.
_WEIGHTS_HP = {"tss": 200, "sss": 90}
_NATS_KEYS = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}


@dataclass(frozen=True)
class ComputeConfig:
    """What to compute and how (everything a worker needs; picklable).

    ``epochs`` is the training schedule (the row's ``hp``); ``fidelities`` are extra epochs at
    which the network is also measured (the end is always measured). With ``weights`` the network
    is loaded instead (``weights_hp``, default 200 TSS / 90 SSS, becomes ``hp`` and ``epoch``).
    ``C``/``N`` override the dataset's TSS skeleton. ``threads`` caps torch's CPU threads in each
    worker. ``seed`` seeds initialisation and data order (and picks the weights' seed when the
    archive holds it).
    """

    space: str
    dataset: str
    data_root: str | None = None
    epochs: int = 12
    fidelities: tuple[int, ...] = ()
    weights: str | None = None
    weights_hp: int | None = None
    device: str = "cpu"
    seed: int = 777
    batch_size: int = 256
    C: int | None = None
    N: int | None = None
    threads: int | None = 1
    metrics_protocol: str = "tao2024"
    ood: bool = True
    source: str = "computed"

    def __post_init__(self) -> None:
        get_space(self.space)
        dataset_info(self.dataset)
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise InputError(f"epochs must be a positive integer, got {self.epochs!r}")
        fids = tuple(sorted({int(f) for f in self.fidelities}))
        if any(f < 1 or f > self.epochs for f in fids):
            raise InputError(
                f"fidelities must be epochs in 1..{self.epochs} (the schedule), got {fids}"
            )
        object.__setattr__(self, "fidelities", fids)
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise InputError(f"device must be cpu, cuda or cuda:K, got {self.device!r}")
        if self.dataset != "digits" and self.data_root is None:
            raise InputError(f"{self.dataset} needs a data root (--data-root DIR)")

    @property
    def hp(self) -> int:
        """The row's ``hp``: the schedule length (trained) or the archive's tag (loaded)."""
        if self.weights is not None:
            return self.weights_hp or _WEIGHTS_HP[get_space(self.space).name]
        return self.epochs

    @property
    def epochs_measured(self) -> tuple[int, ...]:
        if self.weights is not None:
            return (self.hp,)
        return tuple(sorted({*self.fidelities, self.epochs}))

    @property
    def skeleton(self) -> tuple[int, int]:
        sk = dataset_info(self.dataset).skeleton
        return (self.C or sk.get("C", 16), self.N or sk.get("N", 5))

    @property
    def cwce_em_variant(self) -> str:
        # the published TSS files use Nixon's ACE, the SSS files Kumar's marginal variant
        return "ace" if get_space(self.space).name == "tss" else "marginal"

    def protocol(self) -> str:
        """The ``protocol`` string stored with each row: how it was measured."""
        space = get_space(self.space).name
        parts = []
        if self.weights is not None:
            parts.append(f"weights=nats-{space}-hp{self.hp}")
        else:
            sched = _schedule(self)
            parts.append(f"train=nats[{sched.describe()}]")
        if space == "tss":
            parts.append("skeleton=C{}N{}".format(*self.skeleton))
        if self.dataset == "digits":
            parts.append(
                f"split=digits-stratified(seed={DIGITS_SPLIT_SEED},test={DIGITS_TEST_FRACTION:g})"
            )
        parts.append(f"metrics={self.metrics_protocol}(cwCE_em={self.cwce_em_variant})")
        return "calnas-compute;" + ";".join(parts)


def _schedule(cfg: ComputeConfig) -> Any:
    from bench.compute.training import Schedule

    return Schedule(cfg.epochs, batch_size=cfg.batch_size)


@dataclass
class ComputeReport:
    """What a :func:`compute` call did."""

    networks: int = 0  # units computed by this call
    copied_only: int = 0  # TSS units whose rows were copied from a stored representative
    rows: int = 0  # rows written (computed + copied)
    skipped: int = 0  # units already done (or claimed by another process)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def per_hour(self) -> float:
        return self.networks / self.seconds * 3600 if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_hour": round(self.per_hour, 1)}


# ------------------------------------------------------------------------------------------------
# The worker side: data cache, one network -> rows
# ------------------------------------------------------------------------------------------------

_DATA: dict[tuple[Any, ...], dict[str, Any]] = {}


def _device(cfg: ComputeConfig) -> Any:
    import torch

    if cfg.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError("device cuda asked for but torch sees no CUDA device")
    if cfg.device == "cuda":
        # one GPU per worker process where there are several
        return torch.device(f"cuda:{os.getpid() % torch.cuda.device_count()}")
    return torch.device(cfg.device)


def _data(cfg: ComputeConfig, device: Any) -> dict[str, Any]:
    """Train/test (and OOD) tensors of the dataset, read once per worker process."""
    import torch

    from bench.compute.ood import read_cifar10c, read_svhn_test
    from bench.compute.readers import read_split
    from bench.compute.transforms import to_tensor

    key = (cfg.dataset, cfg.data_root, str(device), cfg.weights is None, cfg.ood)
    if key not in _DATA:
        data: dict[str, Any] = {}
        if cfg.weights is None:  # training needs the train split; loaded weights do not
            x, y = read_split(cfg.dataset, "train", cfg.data_root)
            data["train"] = (to_tensor(x, cfg.dataset, device), torch.as_tensor(y, device=device))
        x, y = read_split(cfg.dataset, "test", cfg.data_root)
        data["test"] = (to_tensor(x, cfg.dataset, device), torch.as_tensor(y, device=device))
        data["ood"] = {}
        if cfg.ood and cfg.dataset == "cifar10":
            # the study's OOD sets: CIFAR-10-C gaussian noise at severity 5 and SVHN test
            for name, reader in (
                ("cifar10c", lambda: read_cifar10c(cfg.data_root, "gaussian_noise", 5)),
                ("svhn", lambda: read_svhn_test(cfg.data_root)),
            ):
                try:
                    ox, _ = reader()
                except FileNotFoundError as err:
                    log.warning("auc_%s not computed: %s", name, err)
                    continue
                data["ood"][name] = to_tensor(ox, "cifar10", device)
        _DATA[key] = data
    return _DATA[key]


def _load_weights(cfg: ComputeConfig, index: int, net: Any) -> int:
    """Load the published weights of ``index`` into ``net`` (strict); return the seed used."""
    import torch

    root = Path(cfg.weights).expanduser()  # type: ignore[arg-type]
    for name in (f"{index:06d}.pt", f"{index}.pt", f"{index:06d}.pth", f"{index}.pth"):
        path = root / name
        if path.is_file():
            obj = torch.load(path, map_location="cpu", weights_only=True)
            seed = cfg.seed
            if obj and all(isinstance(k, int) for k in obj):  # {seed: state_dict}
                seed = cfg.seed if cfg.seed in obj else min(obj)
                obj = obj[seed]
            net.load_state_dict(obj, strict=True)
            return seed
    missing = FileNotFoundError(
        f"no weights for index {index} in {root}: expected {index:06d}.pt (a state_dict with "
        "NATS-Bench key names, or {seed: state_dict}), or a NATS-Bench 'full' archive "
        "directory (with meta.pickle.pbz2) together with the nats_bench package "
        "(pip install nats_bench)"
    )
    if not (root / "meta.pickle.pbz2").is_file():
        raise missing
    try:
        import nats_bench  # type: ignore[import-not-found]
    except ImportError:
        raise missing from None
    api = nats_bench.create(str(root), cfg.space, fast_mode=True, verbose=False)
    params = api.get_net_param(index, _NATS_KEYS[cfg.dataset], None, hp=str(cfg.hp))
    if not params or any(v is None for v in params.values()):
        raise InputError(f"{root} holds no weights for index {index} (a 'simple' archive?)")
    seed = cfg.seed if cfg.seed in params else min(params)
    net.load_state_dict(params[seed], strict=True)
    return seed


def _measure(cfg: ComputeConfig, net: Any, data: dict[str, Any]) -> dict[str, float]:
    """Predictions on the test (and OOD) sets -> every metric column, plus latency."""
    import torch

    from bench.calibration import evaluate
    from bench.compute.training import predict

    x, y = data["test"]
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    logits = predict(net, x, batch_size=1024)
    sync()
    # NATS-Bench's latency is the time of one batch of 256: scaled from the whole test pass
    latency = (time.perf_counter() - start) / len(x) * 256
    ood = {name: predict(net, ox, batch_size=1024) for name, ox in data["ood"].items()}
    values = evaluate(
        logits,
        y,
        ood=ood or None,
        protocol=cfg.metrics_protocol,
        cwce_em_variant=cfg.cwce_em_variant,
        undefined="nan",
    )
    values["latency_s"] = latency
    values["test_acc"] = values["acc"]
    values["test_loss"] = float(torch.nn.functional.cross_entropy(logits.float(), y).item())
    return values


def compute_network(cfg: ComputeConfig, index: int) -> pd.DataFrame:
    """Train (or load) network ``index`` and measure it: one row per measured epoch.

    The rows carry the key, provenance and every metric; TSS copies are made by the caller.

    Example:
        >>> cfg = ComputeConfig("sss", "digits", epochs=1)
        >>> compute_network(cfg, 0)[["config", "epoch", "hp"]].values.tolist()  # doctest: +SKIP
        [[0, 1, 1]]
    """
    import torch

    from bench.arch.costs import cost
    from bench.arch.networks import build
    from bench.compute.training import seed_everything, train

    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    space = get_space(cfg.space)
    index, arch = space.resolve(int(index))
    info = dataset_info(cfg.dataset)
    device = _device(cfg)
    data = _data(cfg, device)
    C, N = cfg.skeleton
    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    net = build(space.name, index, info.num_classes, C=C, N=N, in_channels=info.in_channels)
    rows: list[dict[str, Any]] = []
    measured = 0.0
    if cfg.weights is not None:
        seed = _load_weights(cfg, index, net)
        net = net.to(device)
        t = time.perf_counter()
        rows.append({"epoch": cfg.hp, "seed": seed, **_measure(cfg, net, data)})
        measured += time.perf_counter() - t
        train_s = 0.0
    else:
        net = net.to(device)
        at: dict[int, dict[str, float]] = {}

        def on_epoch(epoch: int, model: Any) -> None:
            nonlocal measured
            t = time.perf_counter()
            at[epoch] = _measure(cfg, model, data)
            measured += time.perf_counter() - t

        history = train(
            net,
            *data["train"],
            cfg.dataset,
            _schedule(cfg),
            seed=cfg.seed,
            on_epoch=on_epoch,
            callback_epochs=cfg.epochs_measured,
        )
        for epoch in cfg.epochs_measured:
            h = history[epoch - 1]
            rows.append(
                {
                    "epoch": epoch,
                    "seed": cfg.seed,
                    "train_acc": h["train_acc"],
                    "train_loss": h["train_loss"],
                    "train_time_s": h["train_time_s"],
                    **at[epoch],
                }
            )
        train_s = history[-1]["train_time_s"]
    costs = cost(space.name, index, cfg.dataset, C=C, N=N)
    frame = pd.DataFrame(rows)
    frame.insert(0, "space", space.name)
    frame.insert(1, "dataset", info.name)
    frame.insert(2, "source", cfg.source)
    frame.insert(3, "config", index)
    frame.insert(4, "arch", arch)
    frame.insert(5, "hp", cfg.hp)
    frame["copied"] = False
    frame["params_m"] = costs["params_m"]
    frame["flops_m"] = costs["flops_m"]
    frame["protocol"] = cfg.protocol()
    flags = breakdown_flags(frame, len(frame))  # kept as computed, flagged for the analyses
    frame["flags"] = [";".join(f) if f else None for f in flags]
    frame["calnas_version"] = __version__
    frame["created"] = pd.Timestamp.now(tz="UTC")
    frame.attrs["timing"] = {
        "train_s": train_s,
        "measure_s": measured,
        "total_s": time.perf_counter() - t0,
        "pid": os.getpid(),
    }
    return frame


def _run_unit(cfg: ComputeConfig, index: int) -> tuple[int, pd.DataFrame | None, str | None]:
    """Worker entry: never raises, so one bad network does not stop the others."""
    try:
        frame = compute_network(cfg, index)
        return index, frame, None
    except Exception as err:  # reported by the parent (and in the report), never swallowed
        import traceback

        return index, None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


# ------------------------------------------------------------------------------------------------
# The parent side: targets, done detection, claims, journal, merge
# ------------------------------------------------------------------------------------------------


def select_targets(space: str, archs: str | Sequence[int | str] | None) -> np.ndarray:
    """Indices named by an ``--archs`` value: 'missing'/'all'/None (every index), a comma list
    of indices or arch strings, a file (one index or arch per line), or a sequence. The order
    given is kept (it is the order of computation); repeats are dropped.

    Example:
        >>> select_targets("sss", "7,0,64:64:64:64:64,0").tolist()
        [7, 0, 32767]
    """
    sp = get_space(space)
    if archs is None or (isinstance(archs, str) and archs in ("missing", "all")):
        return np.arange(sp.size)
    if isinstance(archs, str):
        path = Path(archs).expanduser()
        if path.is_file():
            items = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
            items = [i for i in items if i]
            if not items:
                raise InputError(f"{path} lists no architectures")
        elif "," in archs or archs.strip().lstrip("-").isdigit() or sp.name == "sss":
            # SSS arch strings contain no comma; TSS strings contain none either
            items = [a.strip() for a in archs.split(",") if a.strip()]
        else:
            items = [archs]
    else:
        items = list(archs)
    out = []
    for item in items:
        if isinstance(item, str) and item.strip().lstrip("-").isdigit():
            item = int(item)
        try:
            out.append(sp.index(item))
        except ValueError as err:
            raise InputError(f"--archs: {err}") from None
    # keep the caller's order (it is the order of computation), drop repeats
    return np.asarray(list(dict.fromkeys(out)), dtype=np.int64)


def _journal_dir(root: Path, cfg: ComputeConfig) -> Path:
    sp = get_space(cfg.space).name
    return root / "journal" / f"{sp}__{cfg.dataset}__{cfg.source}"


def _unit_name(cfg: ComputeConfig, index: int) -> str:
    return f"hp{cfg.hp}_seed{cfg.seed}_{index:06d}"


def done_configs(store: Any, cfg: ComputeConfig) -> np.ndarray:
    """Configs that have a row at every measured epoch for (hp, seed) in the store or journal."""
    sp = get_space(cfg.space).name
    need = set(cfg.epochs_measured)
    frames = []
    if store.has(sp, cfg.dataset, cfg.source):
        frames.append(
            store.read(
                sp,
                cfg.dataset,
                cfg.source,
                columns=["config", "hp", "epoch", "seed"],
                filters=[("hp", "==", cfg.hp)],
            )
        )
    jdir = _journal_dir(store.root, cfg)
    if jdir.is_dir():
        for path in jdir.glob(f"hp{cfg.hp}_seed{cfg.seed}_*.parquet"):
            try:
                frames.append(pd.read_parquet(path, columns=["config", "hp", "epoch", "seed"]))
            except Exception:  # a journal file being replaced right now: it is re-read later
                continue
    if not frames:
        return np.empty(0, dtype=np.int64)
    df = pd.concat(frames, ignore_index=True)
    if cfg.weights is None:
        df = df[df["seed"] == cfg.seed]
    df = df[df["epoch"].isin(need)].drop_duplicates(["config", "epoch"])
    counts = df.groupby("config")["epoch"].nunique()
    return np.sort(counts.index[counts.to_numpy() == len(need)].to_numpy(dtype=np.int64))


def merge_journal(store: Any, cfg: ComputeConfig) -> int:
    """Upsert every journal file of ``cfg``'s table into the store, then delete them.

    Idempotent (a crash between upsert and delete re-upserts the same keys) and locked, so two
    processes never merge the same files at once. Returns the number of rows merged.
    """
    from filelock import FileLock

    jdir = _journal_dir(store.root, cfg)
    if not jdir.is_dir():
        return 0
    (store.root / "locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(store.root / "locks" / f"journal__{jdir.name}.lock"), timeout=3600):
        paths = sorted(jdir.glob("*.parquet"))
        if not paths:
            return 0
        frames = [pd.read_parquet(p) for p in paths]
        try:
            store.upsert(pd.concat(frames, ignore_index=True))
            good = list(zip(paths, frames, strict=True))
        except ValueError:
            # one network's rows fail the store's validation: find it, set it aside (it will be
            # recomputed by a rerun) and merge the others
            good = []
            for path, frame in zip(paths, frames, strict=True):
                try:
                    from bench.table.store import normalize

                    normalize(frame)
                    good.append((path, frame))
                except ValueError as err:
                    rejected = jdir / "rejected"
                    rejected.mkdir(exist_ok=True)
                    os.replace(path, rejected / path.name)
                    log.error(
                        "rows of %s refused by the store, moved to %s: %s", path.name, rejected, err
                    )
            if good:
                store.upsert(pd.concat([f for _, f in good], ignore_index=True))
        for path, _ in good:
            path.unlink(missing_ok=True)
        return sum(len(f) for _, f in good)


def _write_journal(store: Any, cfg: ComputeConfig, index: int, frame: pd.DataFrame) -> None:
    jdir = _journal_dir(store.root, cfg)
    jdir.mkdir(parents=True, exist_ok=True)
    path = jdir / f"{_unit_name(cfg, index)}.parquet"
    tmp = jdir / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp"
    frame.attrs = {}
    frame.to_parquet(tmp, index=False)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # atomic: a unit is in the journal whole or not at all


class _Claims:
    """Exclusive claim files, so concurrent compute processes split the work."""

    def __init__(self, store: Any, cfg: ComputeConfig) -> None:
        self.dir = _journal_dir(store.root, cfg) / "claims"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        self.host = socket.gethostname()
        self.held: set[Path] = set()

    def _path(self, index: int) -> Path:
        return self.dir / f"{_unit_name(self.cfg, index)}.claim"

    def _stale(self, path: Path) -> bool:
        try:
            host, pid = path.read_text().split()[:2]
        except (OSError, ValueError):
            return True  # an empty or torn claim file: its writer died while writing it
        if host != self.host:
            return False  # another host's claim: respected (remove it by hand if that host died)
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def take(self, index: int) -> bool:
        path = self._path(index)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._stale(path):
                    path.unlink(missing_ok=True)
                    continue
                return False
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{self.host} {os.getpid()} {time.time():.0f}\n")
            self.held.add(path)
            return True
        return False

    def release(self, index: int) -> None:
        path = self._path(index)
        path.unlink(missing_ok=True)
        self.held.discard(path)

    def release_all(self) -> None:
        for path in list(self.held):
            path.unlink(missing_ok=True)
        self.held.clear()


def _copies(frame: pd.DataFrame, members: Iterable[int], space: Any) -> pd.DataFrame:
    """Rows of a TSS representative copied to other members of its class (``copied=True``)."""
    members = [int(m) for m in members]
    if not members:
        return frame.iloc[0:0]
    reps = frame[~frame["copied"].astype(bool)] if "copied" in frame else frame
    out = reps.loc[reps.index.repeat(len(members))].reset_index(drop=True)
    out["config"] = np.tile(np.asarray(members, dtype=np.int64), len(reps))
    out["arch"] = [space.arch(m) for m in out["config"]]
    out["copied"] = True
    return out


def _parallel(jobs: int, backend: str, scheduler: str | None) -> tuple[Any, Any]:
    """A joblib Parallel (and a context to run it in) for the chosen backend."""
    import contextlib

    import joblib

    if backend == "loky":
        par = joblib.Parallel(
            n_jobs=jobs, backend="loky", return_as="generator_unordered", pre_dispatch="n_jobs"
        )
        return par, contextlib.nullcontext()
    if backend == "dask":
        Client = require("dask.distributed", "dask", "--backend dask").Client
        if scheduler is None:
            raise InputError("--backend dask needs --scheduler tcp://HOST:PORT")
        client = Client(scheduler, timeout="30s")
        stack = contextlib.ExitStack()
        stack.callback(client.close)
        stack.enter_context(joblib.parallel_config(backend="dask"))
        n = jobs if jobs > 0 else -1
        par = joblib.Parallel(n_jobs=n, return_as="generator_unordered", pre_dispatch="n_jobs")
        return par, stack
    raise InputError(f"backend must be 'loky' or 'dask', got {backend!r}")


def compute(
    cfg: ComputeConfig,
    archs: str | Sequence[int | str] | None = "missing",
    *,
    bench: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    limit: int | None = None,
    force: bool = False,
    flush_every: float = 30.0,
    quiet: bool = False,
) -> ComputeReport:
    """Compute the entries named by ``archs`` that the store lacks, and store them.

    ``archs``: 'missing' (default: every index not stored yet), 'all' (every index, recomputing
    stored ones), a list of indices/arch strings, or a file listing them. ``jobs`` worker
    processes (loky) or dask workers at ``scheduler`` (``backend='dask'``); ``jobs=0`` runs in
    this process (no pool). ``limit`` caps the networks computed by this call. Rows reach the
    store every ``flush_every`` seconds and at the end (each finished network is durable in
    the journal at once). Shows a progress bar unless ``quiet`` or stderr is not a terminal.

    Example:
        >>> cfg = ComputeConfig("sss", "digits", epochs=2, fidelities=(1,))
        >>> compute(cfg, "0,7", bench="/tmp/calnas-doc", quiet=True).rows  # doctest: +SKIP
        4
    """
    from tqdm import tqdm

    from bench.table.store import Store

    if jobs < 0:
        raise InputError(f"jobs must be >= 0, got {jobs}")
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    if backend not in ("loky", "dask"):
        raise InputError(f"backend must be 'loky' or 'dask', got {backend!r}")
    store = Store(bench)
    space = get_space(cfg.space)
    report = ComputeReport()
    start = time.perf_counter()
    merge_journal(store, cfg)  # finish what a killed run left in the journal

    targets = select_targets(space.name, archs)
    force = force or archs == "all"
    done = set() if force else set(done_configs(store, cfg).tolist())
    reps = space.representatives()
    # unit -> members still to write; a unit whose representative is stored only needs copies
    units: dict[int, list[int]] = {}
    for idx in targets.tolist():
        if idx in done:
            continue
        units.setdefault(int(reps[idx]), []).append(idx)
    if space.name == "tss":
        for rep in list(units):  # write the whole class, not only the requested members
            units[rep] = [m for m in space.class_members(rep).tolist() if force or m not in done]
    copy_only = [r for r in units if r in done and not force]
    todo = [r for r in units if r not in copy_only]
    report.skipped = len(set(targets.tolist()) & done)
    for rep in copy_only:
        report.copied_only += 1
        report.rows += _copy_from_store(store, cfg, rep, units[rep], space)
    if limit is not None:
        todo = todo[:limit]

    if todo:
        from bench.compute.readers import check_files

        check_files(cfg.dataset, cfg.data_root)  # fail here, once, not in every worker
    claims = _Claims(store, cfg)
    bar = tqdm(
        total=len(todo),
        unit="net",
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
        desc=f"{space.name}/{cfg.dataset}",
    )
    last_flush = time.monotonic()

    def tasks() -> Iterator[Any]:
        from joblib import delayed

        table = store.path_for(space.name, cfg.dataset, cfg.source)
        jdir = _journal_dir(store.root, cfg)
        seen: list[Any] = [None, set()]  # (table mtime, done set): re-read only when it changes

        def finished_elsewhere(rep: int) -> bool:
            # another process may have finished this unit since we listed the work
            if (jdir / f"{_unit_name(cfg, rep)}.parquet").exists():
                return True
            mtime = table.stat().st_mtime_ns if table.exists() else None
            if mtime != seen[0]:
                seen[0], seen[1] = mtime, set(done_configs(store, cfg).tolist())
            return rep in seen[1]

        for rep in todo:
            if not claims.take(rep):
                skip = True
            elif not force and finished_elsewhere(rep):
                claims.release(rep)
                skip = True
            else:
                skip = False
            if skip:
                report.skipped += 1
                bar.total -= 1
                bar.refresh()
                continue
            yield delayed(_run_unit)(cfg, rep)

    def handle(rep: int, frame: pd.DataFrame | None, error: str | None) -> None:
        nonlocal last_flush
        if error is not None:
            report.failures.append(f"{rep}: {error.splitlines()[0]}")
            log.error("%s %s #%d failed: %s", space.name, cfg.dataset, rep, error)
            claims.release(rep)
            return
        assert frame is not None
        timing = frame.attrs.get("timing", {})
        members = [m for m in units[rep] if m != rep]
        full = pd.concat([frame, _copies(frame, members, space)], ignore_index=True)
        _write_journal(store, cfg, rep, full)
        claims.release(rep)
        report.networks += 1
        report.rows += len(full)
        last = frame.sort_values("epoch").iloc[-1]
        bar.update(1)
        elapsed = time.perf_counter() - start
        rate = report.networks / elapsed * 3600
        bar.set_postfix(per_h=f"{rate:.0f}", refresh=False)
        log.info(
            "%s %s #%d done in %.2f s (train %.2f s, measure %.2f s; pid %s): %d rows "
            "(%d copies), epoch %d acc %.4f pre_ECE_15 %.4f",
            space.name,
            cfg.dataset,
            rep,
            timing.get("total_s", float("nan")),
            timing.get("train_s", float("nan")),
            timing.get("measure_s", float("nan")),
            timing.get("pid", "?"),
            len(full),
            len(full) - len(frame),
            int(last["epoch"]),
            float(last["acc"]),
            float(last.get("pre_ECE_15", float("nan"))),
        )
        if time.monotonic() - last_flush >= flush_every:
            merge_journal(store, cfg)
            last_flush = time.monotonic()

    try:
        if jobs == 0:
            for task in tasks():
                fn, args, kwargs = task
                handle(*fn(*args, **kwargs))
        else:
            par, ctx = _parallel(jobs, backend, scheduler)
            with ctx:
                for result in par(tasks()):
                    handle(*result)
    finally:
        claims.release_all()
        bar.close()
        merge_journal(store, cfg)
        report.seconds = time.perf_counter() - start
    if report.failures:
        log.error("%d networks failed: %s", len(report.failures), "; ".join(report.failures[:5]))
    return report


def _copy_from_store(
    store: Any, cfg: ComputeConfig, rep: int, members: list[int], space: Any
) -> int:
    """Write rows for ``members`` from their stored representative's rows (no recompute)."""
    frame = store.read(
        space.name, cfg.dataset, cfg.source, filters=[("config", "==", rep), ("hp", "==", cfg.hp)]
    )
    if cfg.weights is None:
        frame = frame[frame["seed"] == cfg.seed]
    frame = frame[frame["epoch"].isin(cfg.epochs_measured)]
    if "copied" in frame:
        frame = frame.assign(copied=False)
    out = _copies(frame, [m for m in members if m != rep], space)
    if len(out):
        _write_journal(store, cfg, rep, out)
    return len(out)
