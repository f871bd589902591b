"""Read NATS-Bench "simple" archives (``NATS-tss-v1_0-3ffb9-simple``, ``NATS-sss-...-simple``).

An archive directory holds ``meta.pickle.pbz2`` (the arch strings in index order) and one
bz2-compressed pickle per architecture (``000123.pickle.pbz2``) with, per hp tag ('12'/'200' for
TSS, '01'/'12'/'90' for SSS) and per (dataset key, seed), the per-epoch accuracy and loss of
training and of each evaluation set, params, FLOPs, latency and times (spec natsbench 6.2).
Every file is read through :mod:`bench.importers.safe_pickle` with the NATS allow-list.

:func:`record_rows` turns one record into calnas rows: accuracies divided by 100 (NATS stores
percent), epochs 1-based (NATS's ``@199`` is epoch 200), ``train_time_s`` and ``<set>_time_s`` the
cumulative training and evaluation times up to the epoch (NATS-Bench's "all-time"; the archives
hold evaluation times at every epoch even where TSS '200' keeps an accuracy only at the last), the
latency the mean of the run's list (NATS's ``get_latency``; none when not positive), evaluation
sets mapped to columns per dataset key:

=================  ===========  ===========  ============
dataset key        x-valid      x-test       ori-test
=================  ===========  ===========  ============
cifar10-valid      valid_*      -            test_*
cifar10            -            -            test_*
cifar100, IN16     valid_*      test_*       valtest_*
=================  ===========  ===========  ============

Example:
    >>> from bench.importers.nats_archive import read_record, record_rows
    >>> rec = read_record("NATS-tss-v1_0-3ffb9-simple/000000.pickle.pbz2")   # doctest: +SKIP
    >>> rows = record_rows(rec, 0, "tss")                                     # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.errors import InputError, MissingFileError
from bench.importers import safe_pickle
from bench.table.schema import NATS_EVAL_SETS

__all__ = [
    "ARCHIVE_NAMES",
    "HP_TAGS",
    "EVAL_SETS",
    "find_archives",
    "archive_space",
    "read_meta",
    "record_files",
    "read_record",
    "record_rows",
]

ARCHIVE_NAMES: dict[str, str] = {"tss": "NATS-tss-v1_0-3ffb9", "sss": "NATS-sss-v1_0-50262"}
HP_TAGS: dict[str, tuple[str, ...]] = {"tss": ("12", "200"), "sss": ("01", "12", "90")}
#: evaluation set -> column prefix, per NATS dataset key
EVAL_SETS: dict[str, dict[str, str]] = NATS_EVAL_SETS
_RECORD = re.compile(r"^(\d+)\.pickle\.pbz2$")
_RESULT_KEYS = ("train_acc1es", "train_losses", "train_times", "eval_acc1es", "eval_losses")


def find_archives(path: str | Path) -> list[tuple[str, Path]]:
    """``(space, directory)`` of the archive at ``path`` or of those directly inside it.

    An archive is a directory holding ``meta.pickle.pbz2``; its name tells the space.

    Args:
        path: an archive directory, or a folder holding archive directories.

    Returns:
        One ``(space, directory)`` per archive, sorted by directory name.

    Raises:
        MissingFileError: ``path`` does not exist, or holds no archive.
        InputError: ``path`` is a file, or an archive's name does not tell its space.

    Example:
        >>> import os, tempfile
        >>> archive = os.path.join(tempfile.mkdtemp(), "NATS-sss-v1_0-50262-simple")
        >>> os.mkdir(archive); open(os.path.join(archive, "meta.pickle.pbz2"), "wb").close()
        >>> [(space, p.name) for space, p in find_archives(os.path.dirname(archive))]
        [('sss', 'NATS-sss-v1_0-50262-simple')]
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such NATS-Bench archive directory")
    if not path.is_dir():
        raise InputError(f"{path}: a NATS-Bench 'simple' archive is a directory, not a file")
    if (path / "meta.pickle.pbz2").is_file():
        return [(archive_space(path), path)]
    found = [
        (archive_space(p), p)
        for p in sorted(path.iterdir())
        if p.is_dir() and (p / "meta.pickle.pbz2").is_file()
    ]
    if not found:
        raise MissingFileError(
            f"{path}: no NATS-Bench archive (a directory with meta.pickle.pbz2, such as "
            f"{ARCHIVE_NAMES['tss']}-simple) here or directly inside"
        )
    return found


def archive_space(path: Path) -> str:
    """'tss' or 'sss' from the directory name (NATS-tss-..., NATS-sss-...).

    Args:
        path: the archive directory.

    Returns:
        ``"tss"`` or ``"sss"``.

    Raises:
        InputError: the name names neither space, or both.

    Example:
        >>> archive_space(Path("/data/NATS-tss-v1_0-3ffb9-simple"))
        'tss'
    """
    name = path.name.lower()
    hits = [s for s in ("tss", "sss") if f"-{s}-" in f"-{name}-" or name.startswith(f"nats-{s}")]
    if len(hits) != 1:
        raise InputError(
            f"{path}: cannot tell the space from the directory name; expected "
            f"{ARCHIVE_NAMES['tss']}-simple or {ARCHIVE_NAMES['sss']}-simple"
        )
    return hits[0]


def read_meta(path: Path, space: str) -> list[str]:
    """The arch strings of ``meta.pickle.pbz2``, checked against the space's index order.

    Args:
        path: the archive directory.
        space: ``"tss"`` or ``"sss"``.

    Returns:
        The arch strings, in NATS index order.

    Raises:
        InputError: not a NATS-Bench meta file, or its archs differ from the space's order.
        ForbiddenGlobal: the pickle names a global outside the NATS allow-list.

    Example:
        >>> import bz2, os, pickle, tempfile
        >>> from bench.arch.spaces import get_space
        >>> archive = Path(tempfile.mkdtemp())
        >>> meta = {"meta_archs": get_space("sss").archs()}
        >>> with bz2.open(archive / "meta.pickle.pbz2", "wb") as fh:
        ...     pickle.dump(meta, fh)
        >>> read_meta(archive, "sss")[:2]
        ['8:8:8:8:8', '8:8:8:8:16']
    """
    meta = safe_pickle.load(path / "meta.pickle.pbz2", allowed=safe_pickle.NATS)
    if not isinstance(meta, Mapping) or "meta_archs" not in meta:
        raise InputError(f"{path}/meta.pickle.pbz2: not a NATS-Bench meta file (no meta_archs)")
    archs = list(meta["meta_archs"])
    expected = get_space(space).archs()
    if archs != expected:
        pairs = enumerate(zip(archs, expected, strict=False))
        first = next((i for i, (a, b) in pairs if a != b), None)
        raise InputError(
            f"{path}/meta.pickle.pbz2: arch list differs from the {space} index order "
            f"({len(archs)} archs, {len(expected)} expected; first difference at {first})"
        )
    return archs


def record_files(path: Path) -> list[tuple[int, Path]]:
    """``(index, file)`` of every per-architecture record, sorted by index.

    Args:
        path: the archive directory; files named ``<index>.pickle.pbz2`` are records.

    Returns:
        ``(index, file)`` pairs, ascending by index.

    Raises:
        InputError: two files name the same index (``11`` and ``011``).

    Example:
        >>> import tempfile
        >>> archive = Path(tempfile.mkdtemp())
        >>> for name in ("000011.pickle.pbz2", "000000.pickle.pbz2", "meta.pickle.pbz2"):
        ...     (archive / name).touch()
        >>> [(i, f.name) for i, f in record_files(archive)]
        [(0, '000000.pickle.pbz2'), (11, '000011.pickle.pbz2')]
    """
    found: dict[int, Path] = {}
    for p in path.iterdir():
        m = _RECORD.match(p.name)
        if m:
            index = int(m.group(1))
            if index in found:
                raise InputError(f"{path}: two record files for index {index}")
            found[index] = p
    return sorted(found.items())


def read_record(path: str | Path) -> Any:
    """One per-architecture record, unpickled through the NATS allow-list.

    Args:
        path: a ``<index>.pickle.pbz2`` file.

    Returns:
        The record: hp tag -> that run's results (see :func:`record_rows`).

    Raises:
        ForbiddenGlobal: the pickle names a global outside the NATS allow-list.
        InputError: the file is not a readable (bz2-compressed) pickle.

    Example:
        >>> import bz2, os, pickle, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "000000.pickle.pbz2")
        >>> with bz2.open(path, "wb") as fh:
        ...     pickle.dump({"12": {"arch_index": 0}}, fh)
        >>> read_record(path)
        {'12': {'arch_index': 0}}
    """
    return safe_pickle.load(path, allowed=safe_pickle.NATS)


def _series(mapping: Any, epochs: int, what: str) -> np.ndarray:
    if not isinstance(mapping, Mapping):
        raise InputError(f"{what}: expected a per-epoch mapping, got {type(mapping).__name__}")
    out = np.full(epochs, np.nan)
    for k, v in mapping.items():
        if not 0 <= int(k) < epochs:
            raise InputError(f"{what}: epoch {k} outside 0..{epochs - 1}")
        out[int(k)] = float(v)
    return out


def record_rows(
    record: Any,
    index: int,
    space: str,
    *,
    final_only: bool = False,
    where: str = "record",
) -> pd.DataFrame:
    """calnas rows of one NATS-Bench record (all hp tags, dataset keys, seeds and epochs).

    Args:
        record: a record from :func:`read_record`.
        index: the architecture's NATS index (from the file name).
        space: ``"tss"`` or ``"sss"``.
        final_only: keep only the last epoch of each run.
        where: names the record in error messages (its file).

    Returns:
        One row per (hp, dataset key, seed, epoch) with the columns the module docstring
        describes, plus ``space``, ``dataset``, ``source`` (``nats``), ``protocol``, ``config``,
        ``hp`` and ``seed``.

    Raises:
        InputError: the record is not the architecture ``index`` of ``space``, or is malformed.

    Example:
        >>> from bench.arch.spaces import get_space
        >>> per_epoch = dict.fromkeys(range(12), 1.0)
        >>> run = {"epochs": 12, "train_acc1es": dict.fromkeys(range(12), 50.0),
        ...        "train_losses": per_epoch, "train_times": per_epoch, "params": 0.8,
        ...        "flop": 100.0, "eval_acc1es": {"ori-test@11": 80.0},
        ...        "eval_losses": {"ori-test@11": 0.6}}
        >>> record = {"12": {"arch_index": 0, "arch_str": get_space("tss").arch(0),
        ...                  "all_results": {("cifar10", 777): run}}}
        >>> rows = record_rows(record, 0, "tss", final_only=True)
        >>> rows[["epoch", "train_acc", "test_acc", "train_time_s", "seed"]].to_dict("records")
        [{'epoch': 12, 'train_acc': 0.5, 'test_acc': 0.8, 'train_time_s': 12.0, 'seed': 777}]
    """
    sp = get_space(space)
    if not isinstance(record, Mapping) or not record:
        raise InputError(f"{where}: not a NATS-Bench record (expected a mapping of hp tags)")
    parts: list[pd.DataFrame] = []
    for tag, arch_results in record.items():
        if str(tag) not in HP_TAGS[space]:
            raise InputError(f"{where}: unknown hp tag {tag!r} for {space} ({HP_TAGS[space]})")
        if not isinstance(arch_results, Mapping) or "all_results" not in arch_results:
            raise InputError(f"{where}: hp {tag} holds no all_results")
        if int(arch_results.get("arch_index", -1)) != index:
            raise InputError(
                f"{where}: record is for index {arch_results.get('arch_index')!r}, "
                f"the file name says {index}"
            )
        if arch_results.get("arch_str") != sp.arch(index):
            raise InputError(
                f"{where}: arch {arch_results.get('arch_str')!r} does not match {space} index "
                f"{index} ({sp.arch(index)!r})"
            )
        for key, result in arch_results["all_results"].items():
            dataset, seed = key
            parts.append(
                _result_rows(result, index, space, int(tag), dataset, int(seed), final_only, where)
            )
    return pd.concat(parts, ignore_index=True)


def _result_rows(
    r: Any,
    index: int,
    space: str,
    hp: int,
    dataset: str,
    seed: int,
    final_only: bool,
    where: str,
) -> pd.DataFrame:
    what = f"{where} hp {hp} {dataset} seed {seed}"
    if dataset not in EVAL_SETS:
        raise InputError(f"{what}: unknown dataset key (accepted: {', '.join(EVAL_SETS)})")
    if not isinstance(r, Mapping) or any(k not in r for k in _RESULT_KEYS):
        raise InputError(f"{what}: malformed result (needs {', '.join(_RESULT_KEYS)})")
    epochs = int(r["epochs"])
    if epochs != hp:
        raise InputError(f"{what}: {epochs} epochs stored for hp {hp}")
    cols: dict[str, Any] = {"epoch": np.arange(1, epochs + 1)}
    cols["train_acc"] = _series(r["train_acc1es"], epochs, what) / 100.0
    cols["train_loss"] = _series(r["train_losses"], epochs, what)
    cols["train_time_s"] = np.cumsum(_series(r["train_times"], epochs, what))
    mapping = EVAL_SETS[dataset]
    for name in r.get("eval_names") or []:
        if name not in mapping:
            raise InputError(f"{what}: unexpected evaluation set {name!r}")
    eval_times = r.get("eval_times") or {}
    for set_name, prefix in mapping.items():
        acc = np.full(epochs, np.nan)
        loss = np.full(epochs, np.nan)
        times = np.full(epochs, np.nan)
        for key, value in r["eval_acc1es"].items():
            s, _, e = str(key).partition("@")
            if s == set_name:
                acc[int(e)] = float(value) / 100.0
                loss[int(e)] = float(r["eval_losses"][key])
        for key, value in eval_times.items():
            s, _, e = str(key).partition("@")
            if s == set_name:
                times[int(e)] = float(value)
        if not np.isnan(acc).all():
            cols[f"{prefix}_acc"] = acc
            cols[f"{prefix}_loss"] = loss
        if not np.isnan(times).all():
            # an epoch without a time leaves the later sums unknown (NaN), as NATS raises there
            cols[f"{prefix}_time_s"] = np.cumsum(times)
    # NATS's ResultsCount.get_latency: the mean of the list, -1 (unknown) when there is none
    latency = [float(x) for x in (r.get("latency") or [])]
    mean_latency = float(np.mean(latency)) if latency else -1.0
    frame = pd.DataFrame(cols)
    frame["params_m"] = float(r["params"])
    frame["flops_m"] = float(r["flop"])
    frame["latency_s"] = mean_latency if mean_latency > 0 else np.nan
    frame["space"] = space
    frame["dataset"] = dataset
    frame["source"] = "nats"
    frame["protocol"] = f"nats-bench-v1 hp{hp:02d}"
    frame["config"] = index
    frame["hp"] = hp
    frame["seed"] = seed
    if final_only:
        frame = frame.iloc[[-1]]
    return frame
