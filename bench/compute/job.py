"""A compute run: plan the networks, skip what is done or claimed, dispatch, collect, store.

One *unit* of work is one network: for TSS the representative of an isomorphism class (its rows
are copied to the other members of the class, flagged ``copied``), for SSS one index.
:class:`ComputeJob` is one run, in steps:

1. plan: the targets the caller names, less what the store (or journal) holds, grouped by unit;
   a unit whose representative is stored only needs its copies written;
2. skip: each unit is claimed just before it is dispatched, and skipped if another process holds
   it or has finished it meanwhile;
3. dispatch: :func:`bench.compute.measure.run_unit` on the chosen backend
   (:mod:`bench.compute.backends`);
4. collect and store: each finished unit's rows (and copies) go to the journal at once, and the
   journal is merged into the store every ``flush_every`` seconds and at the end
   (:mod:`bench.compute.journal`);
5. report: a :class:`ComputeReport`, a log line per network, a progress bar on a terminal.

:func:`compute` is the function to call; it runs one :class:`ComputeJob`.

Example:
    >>> import tempfile
    >>> from bench.compute import ComputeConfig, compute
    >>> cfg = ComputeConfig("sss", "digits", epochs=1)
    >>> report = compute(cfg, [0, 7], bench=tempfile.mkdtemp(), jobs=0, quiet=True)
    >>> report.networks, report.rows, report.failures
    (2, 2, [])
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.compute.backends import check_backend, dispatch
from bench.compute.config import ComputeConfig
from bench.compute.copies import copies, copy_from_store, unit_of
from bench.compute.journal import (
    Claims,
    check_same_protocol,
    done_configs,
    journal_dir,
    merge_journal,
    unit_name,
    write_journal,
)
from bench.compute.measure import run_unit
from bench.compute.measure_pack import run_pack
from bench.errors import InputError
from bench.table.validation import normalize

__all__ = ["ComputeReport", "ComputeJob", "compute", "select_targets"]

log = logging.getLogger("calnas.compute")


@dataclass
class ComputeReport:
    """What a :func:`compute` call did.

    Example:
        >>> ComputeReport(networks=3, seconds=36.0).per_hour
        300.0
    """

    networks: int = 0  # units computed by this call
    copied_only: int = 0  # TSS units whose rows were copied from a stored representative
    rows: int = 0  # rows written (computed + copied)
    skipped: int = 0  # units already done (or claimed by another process)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def per_hour(self) -> float:
        """Networks computed per hour of this call's wall time."""
        return self.networks / self.seconds * 3600 if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict, with ``per_hour`` rounded."""
        return {**asdict(self), "per_hour": round(self.per_hour, 1)}


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

    Resumable: a rerun merges what a killed run left in the journal and skips what is stored.
    Several processes may compute into one store at once; the claims split the work.

    Args:
        cfg: what to compute and how.
        archs: 'missing' (default: every index not stored yet), 'all' (every index,
            recomputing stored ones), a list of indices or arch strings, or a file listing them
            (see :func:`select_targets`).
        bench: the benchmark directory (``$CALNAS_HOME``, else ``~/.calnas``).
        jobs: worker processes (loky) or dask workers at ``scheduler`` (``backend='dask'``);
            0 runs in this process (no pool).
        backend: 'loky' or 'dask'.
        scheduler: the dask scheduler's address, ``tcp://HOST:PORT``.
        limit: compute at most this many networks in this call.
        force: recompute networks already stored.
        flush_every: merge the journal into the store this often, in seconds (each finished
            network is durable in the journal at once either way).
        quiet: no progress bar (there is none either when stderr is not a terminal).

    Returns:
        What was done: networks computed, rows written, units skipped, failures.

    Raises:
        InputError: a bad option or target.
        MissingFileError: the dataset's files are missing.
        MissingExtra: ``backend='dask'`` without the dask extra.

    Example:
        >>> import tempfile
        >>> cfg = ComputeConfig("sss", "digits", epochs=2, fidelities=(1,))
        >>> bench = tempfile.mkdtemp()
        >>> compute(cfg, "0,7", bench=bench, jobs=0, quiet=True).rows  # 2 networks, 2 epochs
        4
        >>> compute(cfg, "0,7", bench=bench, jobs=0, quiet=True).skipped  # stored already
        2
    """
    job = ComputeJob(
        cfg,
        archs,
        bench=bench,
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        limit=limit,
        force=force,
        flush_every=flush_every,
        quiet=quiet,
    )
    return job.run()


class ComputeJob:
    """One compute run (see :func:`compute` for the arguments, checked here, before any work).

    The arguments are kept as given; :meth:`run` does the work, once, and returns the report.
    The state of the run lives in attributes ending in ``_`` while it runs.

    Example:
        >>> import tempfile
        >>> cfg = ComputeConfig("sss", "digits", epochs=1)
        >>> job = ComputeJob(cfg, [3], bench=tempfile.mkdtemp())
        >>> job.run().networks, job.units_
        (1, {3: [3]})
    """

    def __init__(
        self,
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
    ) -> None:
        if not isinstance(cfg, ComputeConfig):
            raise InputError(f"cfg must be a ComputeConfig, got {type(cfg).__name__}")
        check_backend(jobs, backend, scheduler)
        if limit is not None:
            check_int(limit, "limit", minimum=0)
        if not (
            isinstance(flush_every, numbers.Real)
            and not isinstance(flush_every, bool)
            and flush_every >= 0
        ):
            raise InputError(f"flush_every must be a number of seconds >= 0, got {flush_every!r}")
        self.cfg = cfg
        self.archs = archs
        self.bench = bench
        self.jobs = jobs
        self.backend = backend
        self.scheduler = scheduler
        self.limit = limit
        self.force = force
        self.flush_every = flush_every
        self.quiet = quiet

    def run(self) -> ComputeReport:
        """Plan, skip, dispatch, collect, store; return the report."""
        from tqdm import tqdm

        from bench.table.store import Store

        targets = select_targets(self.cfg.space, self.archs)
        self.space_ = get_space(self.cfg.space)
        self.store_ = Store(self.bench)
        self.report_ = ComputeReport()
        self.force_ = bool(self.force) or (isinstance(self.archs, str) and self.archs == "all")
        self.started_ = time.perf_counter()
        merge_journal(self.store_, self.cfg)  # finish what a killed run left in the journal
        check_same_protocol(self.store_, self.cfg)  # once: the run's own rows share its protocol
        todo = self._plan(targets)
        if todo:
            from bench.compute.backends import check_scheduler
            from bench.compute.readers import check_files

            check_files(self.cfg.dataset, self.cfg.data_root)  # fail here, not in every worker
            if self.backend == "dask" and self.scheduler:
                check_scheduler(self.scheduler)  # at once, not after dask's 30 s
            else:
                self.cfg.check_device()  # (dask workers have their own devices)
        self.claims_ = Claims(self.store_, self.cfg)
        self.bar_ = tqdm(
            total=len(todo),
            unit="net",
            disable=self.quiet or not sys.stderr.isatty(),
            dynamic_ncols=True,
            desc=f"{self.space_.name}/{self.cfg.dataset}",
        )
        self.flushed_ = time.monotonic()
        self.seen_: tuple[int | None, set[int]] = (None, set())  # (table mtime, done configs)
        results = dispatch(
            run_unit if self.cfg.pack == 1 else run_pack,
            self._claimed(todo),
            jobs=self.jobs,
            backend=self.backend,
            scheduler=self.scheduler,
        )
        try:
            with contextlib.closing(results):
                for result in results:
                    # a pack's task returns each of its networks' results
                    for rep, frame, error in result if self.cfg.pack > 1 else [result]:
                        self._collect(rep, frame, error)
        finally:
            self.claims_.release_all()
            self.bar_.close()
            merge_journal(self.store_, self.cfg)
            self.report_.seconds = time.perf_counter() - self.started_
        failures = self.report_.failures
        if failures:
            log.error("%d networks failed: %s", len(failures), "; ".join(failures[:5]))
        return self.report_

    def _plan(self, targets: np.ndarray) -> list[int]:
        """Group the targets not done by unit; write the copies of stored units; the units to run.

        Sets ``units_``: unit -> the members still to write (the whole TSS class, or with
        ``copy_functional`` every class computing the unit's function).
        """
        space, force = self.space_, self.force_
        done = set() if force else set(done_configs(self.store_, self.cfg).tolist())
        reps = unit_of(self.cfg)
        self.units_: dict[int, list[int]] = {}
        for idx in targets.tolist():
            if idx not in done:
                self.units_.setdefault(int(reps[idx]), []).append(idx)
        if space.name == "tss":  # write the whole unit, not only the requested members
            members = pd.Series(np.arange(len(reps))).groupby(reps).agg(list)
            for rep in list(self.units_):
                self.units_[rep] = [m for m in members[rep] if force or m not in done]
        self.report_.skipped = len(set(targets.tolist()) & done)
        todo = []
        for rep, members in self.units_.items():
            if rep in done and not force:  # the representative is stored: copy its rows
                self.report_.copied_only += 1
                self.report_.rows += copy_from_store(self.store_, self.cfg, rep, members)
            else:
                todo.append(rep)
        return todo if self.limit is None else todo[: self.limit]

    def _claimed(self, todo: list[int]) -> Iterator[tuple[ComputeConfig, int | list[int]]]:
        """The task arguments of the units this process claims and nobody has finished.

        One unit per task (``run_unit``), or ``cfg.pack`` units per task (``run_pack``): each
        unit of a pack is claimed before the pack is dispatched.
        """
        pack: list[int] = []
        for rep in todo:
            if self.claims_.take(rep):
                if self.force_ or not self._finished_elsewhere(rep):
                    if self.cfg.pack == 1:
                        yield self.cfg, rep
                        continue
                    pack.append(rep)
                    if len(pack) == self.cfg.pack:
                        yield self.cfg, pack
                        pack = []
                    continue
                self.claims_.release(rep)
            self.report_.skipped += 1
            self.bar_.total -= 1
            self.bar_.refresh()
        if pack:
            yield self.cfg, pack

    def _finished_elsewhere(self, rep: int) -> bool:
        """Whether another process finished unit ``rep`` since the plan was made."""
        folder = journal_dir(self.store_.root, self.cfg)
        if (folder / f"{unit_name(self.cfg, rep)}.parquet").exists():
            return True
        table = self.store_.path_for(self.space_.name, self.cfg.dataset, self.cfg.source)
        mtime = table.stat().st_mtime_ns if table.exists() else None
        if mtime != self.seen_[0]:  # re-read the done set only when the table changed
            self.seen_ = (mtime, set(done_configs(self.store_, self.cfg).tolist()))
        return rep in self.seen_[1]

    def _collect(self, rep: int, frame: pd.DataFrame | None, error: str | None) -> None:
        """Journal a finished unit's rows (with its copies), or record its failure."""
        if error is not None:
            self.claims_.release(rep)
            self.report_.failures.append(f"{rep}: {error.splitlines()[0]}")
            log.error("%s %s #%d failed: %s", self.space_.name, self.cfg.dataset, rep, error)
            return
        assert frame is not None
        members = [m for m in self.units_[rep] if m != rep]
        full = pd.concat([frame, copies(frame, members, self.cfg)], ignore_index=True)
        try:  # rows the store would refuse are a failure, never counted as written
            normalize(full)
        except ValueError as err:
            self.claims_.release(rep)
            why = " ".join(str(err).split())
            self.report_.failures.append(f"{rep}: rows refused by the store: {why}")
            log.error("%s %s #%d: rows refused by the store: %s", self.space_.name,
                      self.cfg.dataset, rep, why)  # fmt: skip
            return
        write_journal(self.store_, self.cfg, rep, full)
        self.claims_.release(rep)
        self.report_.networks += 1
        self.report_.rows += len(full)
        self.bar_.update(1)
        rate = self.report_.networks / (time.perf_counter() - self.started_) * 3600
        self.bar_.set_postfix(per_h=f"{rate:.0f}", refresh=False)
        self._log_done(rep, frame, len(full) - len(frame))
        if time.monotonic() - self.flushed_ >= self.flush_every:
            merge_journal(self.store_, self.cfg)
            self.flushed_ = time.monotonic()

    def _log_done(self, rep: int, frame: pd.DataFrame, copies: int) -> None:
        timing = frame.attrs.get("timing", {})
        last = frame.sort_values("epoch").iloc[-1]
        log.info(
            "%s %s #%d done in %.2f s (train %.2f s, measure %.2f s; pid %s): %d rows "
            "(%d copies), epoch %d acc %.4f pre_ECE_15 %.4f",
            self.space_.name,
            self.cfg.dataset,
            rep,
            timing.get("total_s", float("nan")),
            timing.get("train_s", float("nan")),
            timing.get("measure_s", float("nan")),
            timing.get("pid", "?"),
            len(frame) + copies,
            copies,
            int(last["epoch"]),
            float(last["acc"]),
            float(last.get("pre_ECE_15", float("nan"))),
        )


def select_targets(space: str, archs: str | Sequence[int | str] | None) -> np.ndarray:
    """Indices named by an ``--archs`` value, in the order given (the order of computation).

    Args:
        space: 'tss' or 'sss'.
        archs: 'missing', 'all' or None (every index), a comma list of indices or arch strings,
            a file (one index or arch per line, ``#`` comments), or a sequence of them.

    Returns:
        The NATS indices, int64, repeats dropped.

    Raises:
        InputError: an entry is not an index or arch string of the space, or the file lists
            nothing.

    Example:
        >>> select_targets("sss", "7,0,64:64:64:64:64,0").tolist()
        [7, 0, 32767]
    """
    sp = get_space(space)
    if archs is None or (isinstance(archs, str) and archs in ("missing", "all")):
        return np.arange(sp.size)
    where: list[str] = []  # where each item came from, for the message
    if isinstance(archs, str):
        path = Path(archs).expanduser()
        if path.is_file():
            try:
                text = path.read_bytes().decode("utf-8-sig")  # a BOM is not part of line 1
            except UnicodeDecodeError as err:
                raise InputError(
                    f"--archs file {path} is not UTF-8 text (byte {err.start}): give one index "
                    "or arch string per line"
                ) from None
            numbered = [(n, line.split("#")[0].strip()) for n, line in
                        enumerate(text.splitlines(), start=1)]  # fmt: skip
            items: list[Any] = [i for _, i in numbered if i]
            where = [f"{path} line {n}: " for n, i in numbered if i]
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
    for k, item in enumerate(items):
        if isinstance(item, str) and item.strip().lstrip("-").isdigit():
            item = int(item)
        try:
            out.append(sp.index(item))
        except ValueError as err:
            raise InputError(f"--archs: {where[k] if where else ''}{err}") from None
    return np.asarray(list(dict.fromkeys(out)), dtype=np.int64)
