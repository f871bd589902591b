"""What a benchmark holds: its tables (the user's store and the embedded demo), their sources,
value columns and training schedules, found from file names without reading the files.

:class:`Catalog` is the part of :class:`~bench.table.benchmark.Benchmark` that lists; the
benchmark adds the queries. :class:`MissingEntry` is the error of a request the tables cannot
answer.

Example:
    >>> from bench.table.embedded import DEMO_DIR
    >>> from bench.table.store import Store
    >>> catalog = Catalog(Store("/tmp/calnas-doc-bench"), DEMO_DIR)
    >>> catalog.sources("tss", "digits"), catalog.sources("tss", "cifar10")
    (['demo'], [])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.table.embedded import embedded_tables
from bench.table.reader import Table, check_space_dataset, pick_run
from bench.table.schema import SOURCE_PRIORITY, is_value_column
from bench.table.store import Store, TableInfo

__all__ = ["Catalog", "MissingEntry"]


class MissingEntry(InputError):
    """The benchmark holds no value for the requested architecture (or metric).

    Example:
        >>> from bench.table.benchmark import Benchmark
        >>> bench = Benchmark.open("/tmp/calnas-doc-bench", demo=False)
        >>> try:
        ...     bench.query("tss", "cifar10", 0, ["acc"])
        ... except MissingEntry as err:
        ...     print(str(err).split(";")[1].strip())
        import data first (calnas bench import ...)
    """


class Catalog:
    """The tables of a store and of the embedded demo, and what they hold (cached until
    :meth:`refresh`).

    Args:
        store: the user's store.
        demo_dir: the folder of the embedded demo files, or None to leave them out.

    Example:
        >>> from bench.table.store import Store
        >>> Catalog(Store("/tmp/calnas-doc-bench"), None).info()
        []
    """

    def __init__(self, store: Store, demo_dir: Path | None):
        self.store = store
        self.demo_dir = demo_dir
        self._tables: dict[tuple[str, str, str], Table] | None = None

    def refresh(self) -> None:
        """Forget the tables found (after writing to the store from this process)."""
        self._tables = None

    # -- tables --------------------------------------------------------------------------------
    def tables(self) -> dict[tuple[str, str, str], Table]:
        """Readable tables by (space, dataset, source); user tables shadow embedded demo ones."""
        if self._tables is None:
            tables = {(t.space, t.dataset, t.source): t for t in embedded_tables(self.demo_dir)}
            # the file names say which tables exist: no file is opened until it is queried
            for path in sorted((self.store.root / "tables").glob("*/*/*.parquet")):
                space, dataset, source = path.parent.parent.name, path.parent.name, path.stem
                tables[(space, dataset, source)] = Table(
                    space, dataset, source, path, store=self.store
                )
            self._tables = tables
        return self._tables

    def info(self) -> list[dict[str, Any]]:
        """One entry per table: space, dataset, source, rows, columns, whether embedded, and
        the seed-reliability reports its file records (None: none recorded)."""
        out = []
        for t in self.tables().values():
            d = TableInfo(t.space, t.dataset, t.source, t.path, t.rows, t.columns).as_dict()
            d["embedded"] = t.embedded
            d["reliability"] = t.reliability()
            out.append(d)
        return out

    def sources(self, space: str, dataset: str) -> list[str]:
        """Sources holding rows for (space, dataset), in priority order."""
        have = {s for (sp, ds, s) in self.tables() if sp == space and ds == dataset}
        return [s for s in SOURCE_PRIORITY if s in have]

    def columns(self, space: str, dataset: str, source: str | None = None) -> list[str]:
        """Value columns available for (space, dataset) (from one source, or any)."""
        names: dict[str, None] = {}
        for src in [source] if source else self.sources(space, dataset):
            table = self.tables().get((space, dataset, src))
            if table:
                names.update((c, None) for c in table.columns if is_value_column(c))
        return list(names)

    def _select_sources(self, space: str, dataset: str, source: str | None) -> list[str]:
        check_space_dataset(space, dataset)
        available = self.sources(space, dataset)
        if source is None:
            if not available:
                raise MissingEntry(
                    f"the benchmark at {self.store.root} holds nothing for {space}/{dataset}; "
                    "import data first (calnas bench import ...)"
                )
            return available
        if source not in SOURCE_PRIORITY:
            raise InputError(f"unknown source {source!r}; accepted: {', '.join(SOURCE_PRIORITY)}")
        if source not in available:
            raise MissingEntry(
                f"no {source!r} rows for {space}/{dataset}; sources present: "
                f"{', '.join(available) or 'none'}"
            )
        return [source]

    # -- fidelities ----------------------------------------------------------------------------
    def epochs(
        self, space: str, dataset: str, source: str | None = None, hp: int | None = None
    ) -> list[int]:
        """Sorted epochs (fidelities) available for (space, dataset), optionally of one hp.

        Example:
            >>> from bench.table.benchmark import Benchmark
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> bench.epochs("tss", "digits")[-1] == bench.hps("tss", "digits")[-1]
            True
        """
        found: set[int] = set()
        for src in self._select_sources(space, dataset, source):
            sched = self.tables()[(space, dataset, src)].schedule
            if hp is not None:
                sched = sched[sched[:, 0] == int(hp)]
            found.update(int(e) for e in sched[:, 1])
        return sorted(found)

    def hps(self, space: str, dataset: str, source: str | None = None) -> list[int]:
        """Sorted training-schedule lengths (hp) available for (space, dataset)."""
        found: set[int] = set()
        for src in self._select_sources(space, dataset, source):
            found.update(int(h) for h in self.tables()[(space, dataset, src)].schedule[:, 0])
        return sorted(found)

    def seeds(
        self,
        space: str,
        dataset: str,
        source: str | None = None,
        *,
        hp: int | None = None,
        epoch: int | None = None,
    ) -> list[int]:
        """Sorted seeds of the rows a request of (``hp``, ``epoch``) selects, over the sources.

        Each source answers with the run :func:`~bench.table.reader.pick_run` picks (None: the
        longest schedule, its last epoch), as :meth:`Benchmark.frame` does; -1 marks rows that
        are no one seed's (a mean). Unlike the listings above, this reads the tables' key
        columns (once; they are cached).

        Raises:
            InputError: an unknown space, dataset or source.
            MissingEntry: no source holds rows for (space, dataset).

        Example:
            >>> from bench.table.benchmark import Benchmark
            >>> Benchmark.open("/tmp/calnas-doc-bench").seeds("tss", "digits")  # one run
            [777]
        """
        import numpy as np

        found: set[int] = set()
        for src in self._select_sources(space, dataset, source):
            table = self.tables()[(space, dataset, src)]
            picked = pick_run(table.schedule, hp, epoch)
            if picked is None:
                continue
            index = table.index
            rows = (index["hp"] == picked[0]) & (index["epoch"] == picked[1])
            found.update(int(s) for s in np.unique(index["seed"][rows]))
        return sorted(found)
