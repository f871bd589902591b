"""NATS-Bench "simple" archive directories into the store.

Read through ``bench.importers.safe_pickle``; the archive format itself is
:mod:`bench.importers.nats_archive`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.errors import InputError, MissingFileError
from bench.importers import nats_archive
from bench.importers.common import (
    ImportReport,
    validated_rows,
)
from bench.table.store import Store

__all__ = ["read_nats", "import_nats"]


def read_nats(
    path: str | Path,
    *,
    final_only: bool = False,
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
) -> tuple[pd.DataFrame, ImportReport]:
    """Read and validate NATS-Bench 'simple' archives at or directly under ``path``.

    Checks the meta file against the space's index order, each record's index and arch string,
    and its stored parameter count and FLOPs against ``bench.arch.costs``.

    Args:
        path: an archive directory, or a folder holding archive directories.
        final_only: keep only the last epoch of each run.
        progress: wraps the records of each archive, ``progress(items, total, name)``, to show
            progress (a tqdm bar, say).

    Returns:
        ``(rows, report)``; the report notes how many of the space's architectures each
        archive held.

    Raises:
        MissingFileError: no archive, or an archive without records.
        InputError: a malformed meta file or record, or costs that do not match the index.
        ForbiddenGlobal: a pickle names a global outside the NATS allow-list.

    Example:
        >>> import bz2, pickle, tempfile
        >>> from bench.arch.costs import cost
        >>> from bench.arch.spaces import get_space
        >>> archive = Path(tempfile.mkdtemp()) / "NATS-sss-v1_0-50262-simple"
        >>> archive.mkdir()
        >>> def dump(name, obj):
        ...     with bz2.open(archive / name, "wb") as fh:
        ...         pickle.dump(obj, fh)
        >>> dump("meta.pickle.pbz2", {"meta_archs": get_space("sss").archs()})
        >>> c = cost("sss", 0, "cifar10")
        >>> run = {"epochs": 1, "train_acc1es": {0: 40.0}, "train_losses": {0: 1.5},
        ...        "train_times": {0: 9.0}, "eval_acc1es": {"ori-test@0": 45.0},
        ...        "eval_losses": {"ori-test@0": 1.4},
        ...        "params": c["params_m"], "flop": c["flops_m"]}
        >>> dump("000000.pickle.pbz2", {"01": {"arch_index": 0, "arch_str": "8:8:8:8:8",
        ...                                    "all_results": {("cifar10", 777): run}}})
        >>> rows, report = read_nats(archive)
        >>> rows[["config", "epoch", "test_acc"]].to_dict("records")
        [{'config': 0, 'epoch': 1, 'test_acc': 0.45}]
        >>> report.notes
        ['NATS-sss-v1_0-50262-simple: 1 of 32768 architectures']
    """
    from bench.arch.costs import cost_all

    archives = nats_archive.find_archives(path)
    report = ImportReport("nats")
    frames = []
    for space, directory in archives:
        nats_archive.read_meta(directory, space)
        records = nats_archive.record_files(directory)
        if not records:
            raise MissingFileError(f"{directory}: no per-architecture records (000000.pickle.pbz2)")
        size = get_space(space).size
        if records[-1][0] >= size:
            raise InputError(f"{directory}: record {records[-1][0]} beyond the {space} space")
        costs = {}
        items: Iterable[tuple[int, Path]] = records
        if progress is not None:
            items = progress(records, len(records), directory.name)
        parts = []
        for index, file in items:
            rows = nats_archive.record_rows(
                nats_archive.read_record(file), index, space, final_only=final_only, where=str(file)
            )
            for dataset in rows["dataset"].unique():
                base = "cifar10" if dataset == "cifar10-valid" else dataset
                if base not in costs:
                    costs[base] = cost_all(space, base)
                params, flops = costs[base][0][index], costs[base][1][index]
                sub = rows[rows["dataset"] == dataset]
                if not np.allclose(sub["params_m"], params, atol=2e-6) or not np.allclose(
                    sub["flops_m"], flops, rtol=1e-6, atol=2e-6
                ):
                    raise InputError(
                        f"{file}: {dataset} params/FLOPs {sub['params_m'].iloc[0]}/"
                        f"{sub['flops_m'].iloc[0]} differ from {space} index {index}'s "
                        f"{params:.6f}/{flops:.6f}: wrong file or corrupt record"
                    )
            parts.append(rows)
            report.files.append(str(file))
        frame = validated_rows(directory, pd.concat(parts, ignore_index=True))
        frames.append(frame)
        report.rows[directory.name] = len(frame)
        report.notes.append(f"{directory.name}: {len(records)} of {size} architectures")
    return pd.concat(frames, ignore_index=True), report


def import_nats(
    store: Store,
    path: str | Path,
    *,
    final_only: bool = False,
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
) -> ImportReport:
    """Import NATS-Bench 'simple' archives (every epoch, or only the last with ``final_only``).

    The whole import is held in memory before the single write: for the complete TSS archive
    with every epoch that is tens of millions of rows, so prefer ``final_only`` on small machines.

    Args:
        store: the store to write to.
        path: as :func:`read_nats`.
        final_only: as :func:`read_nats`.
        progress: as :func:`read_nats`.

    Returns:
        The report, with ``written`` set.

    Raises:
        MissingFileError: as :func:`read_nats`.
        InputError: as :func:`read_nats`; nothing is written.

    Example:
        >>> from bench.table.store import Store
        >>> import bz2, pickle, tempfile
        >>> from bench.arch.costs import cost
        >>> from bench.arch.spaces import get_space
        >>> archive = Path(tempfile.mkdtemp()) / "NATS-sss-v1_0-50262-simple"
        >>> archive.mkdir()
        >>> def dump(name, obj):
        ...     with bz2.open(archive / name, "wb") as fh:
        ...         pickle.dump(obj, fh)
        >>> dump("meta.pickle.pbz2", {"meta_archs": get_space("sss").archs()})
        >>> c = cost("sss", 0, "cifar10")
        >>> run = {"epochs": 1, "train_acc1es": {0: 40.0}, "train_losses": {0: 1.5},
        ...        "train_times": {0: 9.0}, "eval_acc1es": {"ori-test@0": 45.0},
        ...        "eval_losses": {"ori-test@0": 1.4},
        ...        "params": c["params_m"], "flop": c["flops_m"]}
        >>> dump("000000.pickle.pbz2", {"01": {"arch_index": 0, "arch_str": "8:8:8:8:8",
        ...                                    "all_results": {("cifar10", 777): run}}})
        >>> import_nats(Store(archive.parent / "bench"), archive).as_dict()["inserted"]
        1
    """
    rows, report = read_nats(path, final_only=final_only, progress=progress)
    report.written = store.upsert(rows)
    return report
