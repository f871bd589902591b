"""The journal of finished networks and the claims on networks in flight.

A finished network's rows go at once to a journal file of their own
(``<store>/journal/<space>__<dataset>__<source>/hp<hp>_seed<seed>_<index>.parquet``), written
atomically, so a killed run loses only the networks in flight and never leaves a partial row.
:func:`merge_journal` upserts the journal into the store (a run does it every ``flush_every``
seconds, at its end and at its start, which finishes what a killed run left behind).

Several processes may compute into one store: a network is claimed with a claim file
(``claims/<unit>.claim``, holding the host and process id) before it is dispatched. A claim of a
process that died on this host is taken over; a claim from another host is respected (remove it
by hand if that host died).

Example:
    >>> import tempfile
    >>> from bench.compute.config import ComputeConfig
    >>> from bench.compute.journal import Claims, done_configs, merge_journal, write_journal
    >>> from bench.compute.measure import compute_network
    >>> from bench.table.store import Store
    >>> store, cfg = Store(tempfile.mkdtemp()), ComputeConfig("sss", "digits", epochs=1)
    >>> claims = Claims(store, cfg)
    >>> claims.take(0), claims.take(0)
    (True, False)
    >>> path = write_journal(store, cfg, 0, compute_network(cfg, 0))
    >>> claims.release(0)
    >>> done_configs(store, cfg).tolist()  # done: in the journal
    [0]
    >>> merge_journal(store, cfg), path.exists()  # now in the store
    (1, False)
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.compute.config import ComputeConfig
from bench.fileio import atomic_create_text, atomic_path

__all__ = [
    "Claims",
    "journal_dir",
    "unit_name",
    "write_journal",
    "done_configs",
    "merge_journal",
]

log = logging.getLogger("calnas.compute")


def journal_dir(root: str | os.PathLike[str], cfg: ComputeConfig) -> Path:
    """The journal folder of ``cfg``'s table in the store at ``root`` (it may not exist yet).

    Example:
        >>> journal_dir("/data/bench", ComputeConfig("sss", "digits")).as_posix()
        '/data/bench/journal/sss__digits__computed'
    """
    space = get_space(cfg.space).name
    return Path(root) / "journal" / f"{space}__{cfg.dataset}__{cfg.source}"


def unit_name(cfg: ComputeConfig, index: int) -> str:
    """The name of network ``index``'s journal and claim files under ``cfg``.

    Example:
        >>> unit_name(ComputeConfig("sss", "digits", epochs=4), 7)
        'hp4_seed777_000007'
    """
    return f"hp{cfg.hp}_seed{cfg.seed}_{index:06d}"


def write_journal(store: Any, cfg: ComputeConfig, index: int, frame: pd.DataFrame) -> Path:
    """Write the rows of unit ``index`` (with its copies) to its journal file, atomically.

    Args:
        store: the :class:`bench.table.store.Store` the rows are for.
        cfg: the run's config.
        index: the unit (a TSS class representative, or an SSS index).
        frame: its rows.

    Returns:
        The journal file: it holds all of the rows, or it does not exist.

    Example:
        >>> import tempfile
        >>> from bench.compute.measure import compute_network
        >>> from bench.table.store import Store
        >>> cfg = ComputeConfig("sss", "digits", epochs=1)
        >>> write_journal(Store(tempfile.mkdtemp()), cfg, 0, compute_network(cfg, 0)).name
        'hp1_seed777_000000.parquet'
    """
    folder = journal_dir(store.root, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    frame = frame.copy(deep=False)
    frame.attrs = {}  # timings are for the log, not for the table's metadata
    path = folder / f"{unit_name(cfg, index)}.parquet"
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def done_configs(store: Any, cfg: ComputeConfig) -> np.ndarray:
    """Configs that have a row at every measured epoch for (hp, seed) in the store or journal.

    Args:
        store: a :class:`bench.table.store.Store`.
        cfg: the run's config (its table, ``hp``, seed and measured epochs).

    Returns:
        The configs, sorted, as int64.

    Example:
        >>> import tempfile
        >>> from bench.table.store import Store
        >>> done_configs(Store(tempfile.mkdtemp()), ComputeConfig("sss", "digits")).tolist()
        []
    """
    space = get_space(cfg.space).name
    need = set(cfg.epochs_measured)
    key = ["config", "hp", "epoch", "seed"]
    frames = []
    if store.has(space, cfg.dataset, cfg.source):
        frames.append(
            store.read(space, cfg.dataset, cfg.source, columns=key, filters=[("hp", "==", cfg.hp)])
        )
    folder = journal_dir(store.root, cfg)
    if folder.is_dir():
        for path in folder.glob(f"hp{cfg.hp}_seed{cfg.seed}_*.parquet"):
            try:
                frames.append(_read_journal(path, key))
            except FileNotFoundError:  # merged into the store (and removed) since the glob
                continue
    if not frames:
        return np.empty(0, dtype=np.int64)
    df = pd.concat(frames, ignore_index=True)
    if cfg.weights is None:
        df = df[df["seed"] == cfg.seed]
    df = df[df["epoch"].isin(need)].drop_duplicates(["config", "epoch"])
    counts = df.groupby("config")["epoch"].nunique()
    return np.sort(counts.index[counts.to_numpy() == len(need)].to_numpy(dtype=np.int64))


def check_same_protocol(store: Any, cfg: ComputeConfig) -> None:
    """Refuse a table holding rows of this run's keys (hp, and seed when trained) measured
    another way (another ``protocol`` string, e.g. another training subset or metrics
    protocol): :func:`done_configs` would take them as this run's own.

    Raises:
        InputError: such rows exist; the message names both protocols.

    Example:
        >>> import tempfile
        >>> from bench.table.store import Store
        >>> check_same_protocol(Store(tempfile.mkdtemp()), ComputeConfig("sss", "digits"))
    """
    space = get_space(cfg.space).name
    if "protocol" not in store.columns(space, cfg.dataset, cfg.source):  # [] without a table
        return
    rows = store.read(space, cfg.dataset, cfg.source, columns=["seed", "protocol"],
                      filters=[("hp", "==", cfg.hp)])  # fmt: skip
    if cfg.weights is None:
        rows = rows[rows["seed"] == cfg.seed]
    mine = cfg.protocol()
    other = sorted(str(p) for p in set(rows["protocol"].dropna()) - {mine})
    if other:
        from bench.errors import InputError

        raise InputError(
            f"{store.root}: the {space}/{cfg.dataset}/{cfg.source} table holds "
            f"rows for hp {cfg.hp}, seed {cfg.seed} measured another way ({other[0]}); this run's "
            f"protocol is {mine}. Rows with the same key would mix: use another store (--bench)"
        )


def _read_journal(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """One journal file; one InputError naming it when it is not readable (damaged on disk)."""
    import pyarrow as pa

    from bench.errors import InputError

    try:
        return pd.read_parquet(path, columns=columns)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError, ValueError) as err:
        raise InputError(
            f"{path}: not a readable journal file ({' '.join(str(err).split())}); move it "
            "away and run again (its network is computed again)"
        ) from None


def merge_journal(store: Any, cfg: ComputeConfig) -> int:
    """Upsert every journal file of ``cfg``'s table into the store, then delete them.

    Idempotent (a crash between upsert and delete re-upserts the same keys) and locked, so two
    processes never merge the same files at once. A file whose rows the store refuses is moved to
    ``rejected/`` (a rerun computes that network again) and logged; the others are merged.

    Args:
        store: a :class:`bench.table.store.Store`.
        cfg: the run's config (its table).

    Returns:
        The number of rows merged.

    Example:
        >>> import tempfile
        >>> from bench.table.store import Store
        >>> merge_journal(Store(tempfile.mkdtemp()), ComputeConfig("sss", "digits"))  # none
        0
    """
    from filelock import FileLock

    folder = journal_dir(store.root, cfg)
    if not folder.is_dir():
        return 0
    (store.root / "locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(store.root / "locks" / f"journal__{folder.name}.lock"), timeout=3600):
        paths = sorted(folder.glob("*.parquet"))
        if not paths:
            return 0
        frames = [_read_journal(p) for p in paths]
        try:
            store.upsert(pd.concat(frames, ignore_index=True))
            good = list(zip(paths, frames, strict=True))
        except ValueError:
            good = _merge_valid(store, folder, paths, frames)
        for path, _ in good:
            path.unlink(missing_ok=True)
        return sum(len(f) for _, f in good)


def _merge_valid(
    store: Any, folder: Path, paths: list[Path], frames: list[pd.DataFrame]
) -> list[tuple[Path, pd.DataFrame]]:
    """Upsert the files the store accepts, set the others aside; return the merged ones."""
    from bench.table.validation import normalize

    good = []
    for path, frame in zip(paths, frames, strict=True):
        try:
            normalize(frame)
        except ValueError as err:
            rejected = folder / "rejected"
            rejected.mkdir(exist_ok=True)
            os.replace(path, rejected / path.name)
            log.error("rows of %s refused by the store, moved to %s: %s", path.name, rejected, err)
            continue
        good.append((path, frame))
    if good:
        store.upsert(pd.concat([f for _, f in good], ignore_index=True))
    return good


class Claims:
    """Claim files, so that concurrent compute processes split the work.

    Args:
        store: the :class:`bench.table.store.Store` computed into.
        cfg: the run's config (its table, hp and seed name the claims).

    Example:
        >>> import tempfile
        >>> from bench.table.store import Store
        >>> claims = Claims(Store(tempfile.mkdtemp()), ComputeConfig("sss", "digits"))
        >>> claims.take(7), claims.take(7), [p.name for p in claims.dir.iterdir()]
        (True, False, ['hp12_seed777_000007.claim'])
        >>> claims.release(7)
    """

    def __init__(self, store: Any, cfg: ComputeConfig) -> None:
        self.dir = journal_dir(store.root, cfg) / "claims"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        self.host = socket.gethostname()
        self.held: set[Path] = set()

    def take(self, index: int) -> bool:
        """Claim unit ``index``; False if a live process (or another host) holds it.

        A claim left by a dead process on this host is removed and taken over.
        """
        path = self._path(index)
        mine = f"{self.host} {os.getpid()} {time.time():.0f}\n"
        for _ in range(2):
            if atomic_create_text(path, mine):
                self.held.add(path)
                return True
            if not self._stale(path):
                return False
            path.unlink(missing_ok=True)
        return False

    def release(self, index: int) -> None:
        """Remove this process's claim on unit ``index`` (if it has one)."""
        path = self._path(index)
        path.unlink(missing_ok=True)
        self.held.discard(path)

    def release_all(self) -> None:
        """Remove every claim this object took."""
        for path in list(self.held):
            path.unlink(missing_ok=True)
        self.held.clear()

    def _path(self, index: int) -> Path:
        return self.dir / f"{unit_name(self.cfg, index)}.claim"

    def _stale(self, path: Path) -> bool:
        """Whether the claim at ``path`` is gone or was left by a dead process on this host."""
        try:
            host, pid = path.read_text().split()[:2]
        except FileNotFoundError:
            return True  # released since our attempt: try again
        except (OSError, ValueError):
            return True  # unreadable or torn (an older calnas wrote claims in two steps)
        if host != self.host:
            return False  # another host's claim: respected (remove it by hand if that host died)
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # a live process of another user
        return False
