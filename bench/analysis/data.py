"""The rows an analysis reads: one per measured architecture, flagged values left out.

An analysis asks the table (:class:`bench.Benchmark`) for some columns of one (space, dataset)
and gets a frame with three corrections, each counted so that the output can say what it did:

- **isomorphic copies are left out.** A TSS row that a table fills from its isomorphism-class
  representative (``copied``) repeats a value already counted: it would weigh each class by its
  size and add tied pairs to every ranking. The published tables measured every index, so they
  hold no copies and lose nothing.
- **flagged values are left out** (unless ``include_flagged``). The importer marks the study's
  silent failures in the ``flags`` column: ``zero:<column>`` (a metric that returned 0 from a
  caught exception), ``breakdown:<column>`` (an estimator outside its range: KDECE above 1), and
  ``ece0-at-chance`` (ECE of 0 from a network at chance accuracy, whose constant output makes
  every calibration error vanish: its calibration columns are left out). A value beyond
  ``schema.BREAKDOWN_BOUNDS`` counts as a breakdown even in a table written before flags existed
  (the embedded demo table, for instance).
- **functional duplicates are left out, when asked** (``merge_functional``): a TSS
  isomorphism class that computes exactly the same function as a smaller one
  (:mod:`bench.arch.functional`: 1,536 of the 6,466) gives way to it, one row per function.
- **several seeds are averaged** (the table's rule); :mod:`bench.analysis.reliability` reads them
  one by one.

Example:
    >>> from bench import Benchmark
    >>> bench = Benchmark.open("/tmp/calnas-doc-empty")
    >>> got = load(bench, "tss", "digits", ["acc", "pre_ECE_15", "frost"])
    >>> len(got.frame), got.missing, got.copies_left_out
    (6466, ['frost'], 9159)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from bench.errors import InputError
from bench.table.reader import check_space_dataset
from bench.table.schema import BREAKDOWN_BOUNDS, check_columns, column_spec

if TYPE_CHECKING:
    import pandas as pd

    from bench.table.benchmark import Benchmark

__all__ = ["Loaded", "load", "datasets", "STUDY_DATASETS", "calibration_columns"]

#: The study's datasets, in the order of its figures (ImageNet16-120, CIFAR-10, CIFAR-100).
STUDY_DATASETS: tuple[str, ...] = ("ImageNet16-120", "cifar10", "cifar100")
#: Short names for labels.
SHORT = {"ImageNet16-120": "IN", "cifar10": "C10", "cifar100": "C100", "digits": "digits"}


class Loaded(NamedTuple):
    """A frame ready for analysis and what was done to get it.

    ``frame`` has ``config``, ``arch``, ``hp``, ``epoch`` and the present columns; ``missing``
    lists the asked columns no source holds; ``left_out`` counts the flagged values set to NaN
    per column; ``flagged`` counts the flagged values per column whether left out or not;
    ``functional_left_out`` counts the rows left out by ``merge_functional`` (None: not asked).
    """

    frame: pd.DataFrame
    space: str
    dataset: str
    missing: list[str]
    left_out: dict[str, int]
    flagged: dict[str, int]
    copies_left_out: int
    hp: int | None
    epoch: int | None
    seeds: list[int]
    functional_left_out: int | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts: rows, fidelity, seeds, missing columns, what was left out."""
        return {
            "space": self.space,
            "dataset": self.dataset,
            "rows": len(self.frame),
            "hp": self.hp,
            "epoch": self.epoch,
            "seeds": self.seeds,
            "missing_columns": self.missing,
            "flagged_left_out": self.left_out,
            "flagged_values": self.flagged,
            "isomorphic_copies_left_out": self.copies_left_out,
            **(
                {}
                if self.functional_left_out is None
                else {"functional_duplicates_left_out": self.functional_left_out}
            ),
        }


def datasets(bench: Benchmark, space: str, source: str | None = None) -> list[str]:
    """The datasets the benchmark holds for ``space``: the study's first (in its order), then
    the others (``digits`` and ``fashion8`` for the demo tables).

    Args:
        bench: the benchmark.
        space: ``tss`` or ``sss``.
        source: count only the tables of this source.

    Returns:
        Dataset names.

    Example:
        >>> from bench import Benchmark
        >>> datasets(Benchmark.open("/tmp/calnas-doc-empty"), "tss")
        ['digits', 'fashion8']
    """
    have = {ds for (sp, ds, src) in bench.tables() if sp == space and source in (None, src)}
    first = [d for d in STUDY_DATASETS if d in have]
    return first + sorted(have - set(first))


def calibration_columns(names: Sequence[str]) -> list[str]:
    """The calibration-error columns among ``names`` (what ``ece0-at-chance`` leaves out).

    Args:
        names: column names (unknown ones are skipped).

    Returns:
        Those of kind "calibration" in the schema, in order.

    Example:
        >>> calibration_columns(["acc", "pre_ECE_15", "post_NLL", "frost"])
        ['pre_ECE_15', 'post_NLL']
    """
    out = []
    for n in names:
        try:
            if column_spec(n).kind == "calibration":
                out.append(n)
        except ValueError:
            continue
    return out


def load(
    bench: Benchmark,
    space: str,
    dataset: str,
    columns: Sequence[str],
    *,
    source: str | None = None,
    include_flagged: bool = False,
    hp: int | None = None,
    epoch: int | None = None,
    seed: int | None = None,
    merge_functional: bool = False,
) -> Loaded:
    """The analysis frame of ``columns`` on (space, dataset): copies and flagged values out.

    Args:
        bench: the benchmark to read.
        space: ``tss`` or ``sss``.
        dataset: a dataset the benchmark holds for ``space``.
        columns: the columns wanted; those no source holds are listed in ``missing``.
        source: read only this source (default: every source, by priority).
        include_flagged: keep flagged values (the study's silent zeros, estimator breakdowns).
        hp: training-schedule length (default: the longest the table holds).
        epoch: epoch of that schedule (default: its end).
        seed: one seed (default: the mean of the seeds the table holds).
        merge_functional: keep one row per function class (TSS: the smallest index of those
            present; SSS: every row), see :mod:`bench.arch.functional`.

    Returns:
        A :class:`Loaded`.

    Raises:
        InputError: an unknown column name (with close matches), or the benchmark holds nothing
            for (space, dataset) or nothing at that fidelity; the message says what it holds.

    Example:
        >>> from bench import Benchmark
        >>> got = load(Benchmark.open("/tmp/calnas-doc-empty"), "tss", "digits", ["acc"], epoch=1)
        >>> got.epoch, got.seeds
        (1, [777])
        >>> load(Benchmark.open("/tmp/calnas-doc-empty"), "tss", "digits", ["acc"],
        ...      merge_functional=True).functional_left_out
        1536
    """
    wanted = check_columns(dict.fromkeys(columns))  # a typo is an error, not a missing column
    check_space_dataset(space, dataset)
    if not bench.sources(space, dataset):
        held = datasets(bench, space)
        raise InputError(
            f"the benchmark at {bench.store.root} holds nothing for {space}/{dataset} "
            f"({space} tables held: {', '.join(held) or 'none'}); import data first "
            "(calnas bench import ...) or pass --bench PATH"
        )
    _sources(bench, space, dataset, source)  # an absent source says which ones are there
    available = set(bench.columns(space, dataset, source))
    present = [c for c in wanted if c in available]
    missing = [c for c in wanted if c not in available]
    # nothing asked is there: read one column for the rows, and keep none of its values
    read = present or sorted(available)[:1]
    if not read:
        raise InputError(f"the benchmark holds no value columns for {space}/{dataset}")
    frame = bench.frame(space, dataset, read, source=source, hp=hp, epoch=epoch, seed=seed)
    if not present:
        frame = frame[["config", "arch", "source", "hp", "epoch", "copied"]]
    copied = frame["copied"].to_numpy(dtype=bool)
    frame = frame.loc[~copied].reset_index(drop=True)
    merged = None
    if merge_functional:
        frame, merged = _merge_functional(frame, space)
    hp_used = int(frame["hp"].iloc[0]) if len(frame) else hp
    epoch_used = int(frame["epoch"].iloc[0]) if len(frame) else epoch
    flags = _flags(bench, space, dataset, source, frame, seed)
    left_out: dict[str, int] = {}
    flagged: dict[str, int] = {}
    if present:
        calib = set(calibration_columns(present))
        values = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan).copy() for c in present}
        for c in present:
            bad = np.zeros(len(frame), dtype=bool)
            for token, rows in flags.items():
                named = token in (f"zero:{c}", f"breakdown:{c}")
                if named or (token == "ece0-at-chance" and c in calib):
                    bad[rows] = True
            bound = BREAKDOWN_BOUNDS.get(c)
            if bound is not None:
                with np.errstate(invalid="ignore"):
                    bad |= values[c] > bound
            bad &= ~np.isnan(values[c])
            if bad.any():
                flagged[c] = int(bad.sum())
                if not include_flagged:
                    values[c][bad] = np.nan
                    left_out[c] = int(bad.sum())
        for c in left_out:
            frame[c] = values[c]
    return Loaded(
        frame,
        space,
        dataset,
        missing,
        left_out,
        flagged,
        int(copied.sum()),
        hp_used,
        epoch_used,
        bench.seeds(space, dataset, source, hp=hp_used, epoch=epoch_used)
        if seed is None
        else [int(seed)],
        merged,
    )


def _merge_functional(frame: pd.DataFrame, space: str) -> tuple[pd.DataFrame, int]:
    """One row per function class (the smallest config present) and the count left out."""
    from bench.arch.functional import function_representatives

    func = function_representatives(space)[frame["config"].to_numpy(dtype=np.int64)]
    # frame is sorted by config: the first row of a function class is its smallest index
    _, first = np.unique(func, return_index=True)
    keep = np.zeros(len(frame), dtype=bool)
    keep[first] = True
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def _sources(bench: Benchmark, space: str, dataset: str, source: str | None) -> list[str]:
    have = bench.sources(space, dataset)
    if source is not None:
        if source not in have:
            raise InputError(
                f"no {source!r} rows for {space}/{dataset}; sources present: "
                f"{', '.join(have) or 'none'}"
            )
        return [source]
    return have


def _rows(
    bench: Benchmark, space: str, dataset: str, source: str, extra: Sequence[str]
) -> dict[str, np.ndarray]:
    """Key columns (config, hp, epoch, seed) and ``extra`` of every row of one source table.

    The one place this package reads a table below :meth:`Benchmark.frame`: the flags and the
    per-seed rows are not part of the merged frame.
    """
    table = bench.tables()[(space, dataset, source)]
    names = ["config", "hp", "epoch", "seed", *extra]
    got = table.arrays([c for c in dict.fromkeys(names) if c in table.columns])
    n = len(got["config"])
    got.setdefault("seed", np.full(n, -1, dtype=np.int64))
    for c in extra:
        got.setdefault(c, np.full(n, None, dtype=object))
    return got


def _flags(
    bench: Benchmark,
    space: str,
    dataset: str,
    source: str | None,
    frame: pd.DataFrame,
    seed: int | None,
) -> dict[str, np.ndarray]:
    """Flag token -> positions (in ``frame``) of the rows carrying it, from every source read."""
    out: dict[str, list[int]] = {}
    if not len(frame):
        return {}
    config = frame["config"].to_numpy(dtype=np.int64)
    pos = np.full(int(config.max()) + 1, -1, dtype=np.int64)
    pos[config] = np.arange(len(config))
    row_hp, row_epoch = frame["hp"].to_numpy(), frame["epoch"].to_numpy()
    for src in _sources(bench, space, dataset, source):
        if "flags" not in bench.tables()[(space, dataset, src)].columns:
            continue
        got = _rows(bench, space, dataset, src, ["flags"])
        text = got["flags"]
        keep = np.array([t is not None and t == t and t != "" for t in text], dtype=bool)
        keep &= got["config"] <= config.max()
        if seed is not None:
            keep &= got["seed"] == seed
        at = pos[np.where(keep, got["config"], 0)]
        keep &= at >= 0
        # the flag belongs to the row the frame shows: same schedule and epoch
        keep &= (row_hp[at] == got["hp"]) & (row_epoch[at] == got["epoch"])
        for p, t in zip(at[keep], text[keep], strict=True):
            for token in str(t).split(";"):
                out.setdefault(token.strip(), []).append(int(p))
    return {k: np.unique(np.array(v, dtype=np.int64)) for k, v in out.items()}
