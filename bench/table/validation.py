"""Rows checked against the schema: :func:`normalize` before a write, :func:`validate_tables` after.

:func:`normalize` is what :meth:`Store.upsert <bench.table.store.Store.upsert>` runs on every
frame before touching a file: names, types, ranges, spaces, datasets, sources, config ranges, arch
strings and duplicate keys, with the stored dtypes and defaults filled in; the first problem is
raised with its column, row and value. :func:`validate_tables` is the data-quality report of
``calnas bench validate`` over the tables already stored (and the embedded ones).

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "computed",
    ...                      "config": [0, 1], "hp": 200, "epoch": 200, "acc": [0.84, 0.93]})
    >>> list(normalize(rows).columns)[:8]
    ['space', 'dataset', 'source', 'config', 'arch', 'hp', 'epoch', 'seed']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bench import __version__
from bench.errors import InputError
from bench.table.schema import (
    DATASETS,
    KEY,
    PUBLISHED_COLUMNS,
    SOURCES,
    check_columns,
    column_spec,
)

if TYPE_CHECKING:  # numpy and pandas are imported where used
    import numpy as np
    import pandas as pd

    from bench.table.benchmark import Benchmark

__all__ = ["normalize", "validate_tables", "column_order", "REQUIRED"]

#: Columns every row must bring.
REQUIRED: tuple[str, ...] = ("space", "dataset", "source", "config", "hp", "epoch")
_FIRST = ("space", "dataset", "source", "config", "arch", "hp", "epoch", "seed", "copied")


def column_order(names: Iterable[str]) -> list[str]:
    """The stored order of column names: keys and provenance first, then the published columns
    in the published order, then calnas's own columns alphabetically.

    Example:
        >>> column_order(["temperature", "pre_ECE_15", "acc", "config"])
        ['config', 'acc', 'pre_ECE_15', 'temperature']
    """
    names = list(dict.fromkeys(names))
    published = {n: i for i, n in enumerate(PUBLISHED_COLUMNS)}
    first = [n for n in _FIRST if n in names]
    pub = sorted((n for n in names if n in published and n not in first), key=published.get)
    rest = sorted(n for n in names if n not in published and n not in first)
    return first + pub + rest


def _fail(column: str, mask: np.ndarray, frame: pd.DataFrame, what: str) -> None:
    import numpy as np

    rows = np.flatnonzero(mask)
    if rows.size:
        row = rows[0]
        value = frame[column].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise InputError(
            f"column {column!r}: {what} (row {row}: {value!r}; {rows.size} bad rows in all)"
        )


def _as_int(frame: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    col = frame[name]
    num = pd.to_numeric(col, errors="coerce")
    _fail(name, (num.isna() & col.notna()).to_numpy(), frame, "not a number")
    _fail(name, num.isna().to_numpy(), frame, "missing value in a column that needs one")
    values = num.to_numpy(dtype=np.float64)
    _fail(name, values != np.round(values), frame, "not an integer")
    return values.astype(np.int64)


def _as_float(frame: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    col = frame[name]
    if col.dtype == bool:
        raise InputError(f"column {name!r}: booleans are not measurements")
    num = pd.to_numeric(col, errors="coerce")
    _fail(name, (num.isna() & col.notna()).to_numpy(), frame, "not a number")
    return num.to_numpy(dtype=np.float64)


def _as_str(frame: pd.DataFrame, name: str, nullable: bool) -> np.ndarray:
    import numpy as np

    col = frame[name]
    values = col.to_numpy(dtype=object)
    missing = col.isna().to_numpy()
    if not nullable:
        _fail(name, missing, frame, "missing value in a column that needs one")
    bad = np.fromiter((not isinstance(v, str) for v in values), bool, len(values)) & ~missing
    _fail(name, bad, frame, "not a string")
    return values


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate rows against the schema and return them with the stored dtypes.

    Fills the defaults (``seed`` -1, ``copied`` False, ``arch`` from ``config``, ``created`` now,
    ``calnas_version``), checks names, types, ranges, spaces, datasets, sources, config ranges,
    arch strings and duplicate keys.

    Args:
        frame: the rows, one column per schema column.

    Returns:
        The rows with the stored dtypes and defaults, columns in :func:`column_order`.

    Raises:
        InputError: the first problem found, with its column, row and value.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"space": "sss", "dataset": "cifar10", "source": "computed",
        ...                      "config": [11], "hp": 90, "epoch": 90, "acc": [84.3]})
        >>> normalize(rows)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        InputError: column 'acc': outside [0.0, 1.0]; it looks like a percentage: ...
        >>> normalize(rows.assign(acc=0.843))[["config", "arch", "seed", "acc"]].values.tolist()
        [[11, '8:8:8:16:32', -1, 0.843]]
    """
    import numpy as np
    import pandas as pd

    from bench.arch.spaces import SPACES, get_space

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"rows must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise InputError(f"duplicate column names: {dup}")
    if len(frame) == 0:
        raise InputError("no rows to write")
    check_columns([str(c) for c in frame.columns])
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"rows lack required columns {missing} (required: {list(REQUIRED)})")
    frame = frame.reset_index(drop=True)
    out: dict[str, Any] = {}
    n = len(frame)
    for name in frame.columns:
        spec = column_spec(name)
        if spec.dtype == "int64":
            values = _as_int(frame, name)
        elif spec.dtype == "float64":
            values = _as_float(frame, name)
        elif spec.dtype == "string":
            values = _as_str(frame, name, spec.nullable and name != "arch")
        elif spec.dtype == "bool":
            col = frame[name]
            ok = col.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
            _fail(name, ~ok, frame, "not a boolean")
            values = col.to_numpy(dtype=bool)
        else:  # timestamp
            try:
                values = pd.to_datetime(frame[name], utc=True)
            except (ValueError, TypeError) as err:
                raise InputError(f"column {name!r}: not a timestamp ({err})") from None
        if spec.dtype in ("int64", "float64"):
            finite = values[np.isfinite(values)] if spec.dtype == "float64" else values
            if spec.dtype == "float64":
                _fail(name, np.isinf(values), frame, "infinite value")
            if finite.size and (finite.min() < spec.low or finite.max() > spec.high):
                bad = (values < spec.low) | (values > spec.high)
                hint = ""
                if spec.is_fraction and 1 < np.nanmax(values) <= 100:
                    hint = "; it looks like a percentage: calnas stores fractions (divide by 100)"
                _fail(name, bad, frame, f"outside [{spec.low}, {spec.high}]{hint}")
        out[name] = values
    rows = pd.DataFrame(out)
    for name, allowed in (("space", SPACES), ("dataset", DATASETS), ("source", SOURCES)):
        bad = ~rows[name].isin(allowed).to_numpy()
        _fail(name, bad, rows, f"unknown value; accepted: {', '.join(allowed)}")
    if "seed" not in rows:
        rows["seed"] = np.full(n, -1, dtype=np.int64)
    if "copied" not in rows:
        rows["copied"] = np.zeros(n, dtype=bool)
    if "created" not in rows:
        rows["created"] = pd.Timestamp.now(tz="UTC").floor("us")
    if "calnas_version" not in rows:
        rows["calnas_version"] = __version__
    has_arch = "arch" in rows
    arch = rows["arch"].to_numpy(dtype=object) if has_arch else np.empty(n, dtype=object)
    for space_name, idx in rows.groupby("space").indices.items():
        space = get_space(space_name)
        config = rows["config"].to_numpy()[idx]
        out_of_range = np.zeros(n, dtype=bool)
        out_of_range[idx] = config >= space.size
        _fail("config", out_of_range, rows, f"out of range for {space_name} (< {space.size})")
        expected = np.asarray(space.archs(), dtype=object)[config]
        if has_arch:
            given = arch[idx]
            wrong = given != expected
            if wrong.any():
                row = idx[np.flatnonzero(wrong)[0]]
                raise InputError(
                    f"arch does not match config in row {row}: config {rows['config'].iloc[row]} "
                    f"is {space.arch(int(rows['config'].iloc[row]))!r} in {space_name}, the row "
                    f"says {rows['arch'].iloc[row]!r} ({int(wrong.sum())} mismatching rows)"
                )
        else:
            arch[idx] = expected
    if not has_arch:
        rows["arch"] = arch
    dup = rows.duplicated(list(KEY), keep=False).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        key = {k: rows[k].iloc[row] for k in KEY}
        key = {k: v.item() if isinstance(v, np.generic) else v for k, v in key.items()}
        raise InputError(f"duplicate key {key} ({int(dup.sum())} rows share a key)")
    return rows[column_order(rows.columns)]


def _path_problems(info: Any, frame: pd.DataFrame) -> list[str]:
    """Where a table's file says one (space, dataset, source) and its rows say another."""
    from bench.arch.spaces import SPACES

    found = []
    named = {"space": info.space, "dataset": info.dataset, "source": info.source}
    known = {"space": SPACES, "dataset": DATASETS, "source": SOURCES}
    where = getattr(info, "path", None) or "its file"
    for column, value in named.items():
        if value not in known[column]:
            found.append(
                f"{where} names unknown {column} {value!r} (accepted: {', '.join(known[column])})"
            )
        if column in frame:
            held = sorted({str(v) for v in frame[column].dropna().unique()} - {value})
            if held:
                found.append(
                    f"rows of {column} {', '.join(held[:3])} in the file of {column} {value!r} "
                    f"({where}): move them to their own table, or import again"
                )
    return found


def validate_tables(bench: Benchmark) -> list[dict[str, Any]]:
    """Data-quality findings of every table a benchmark sees: ``calnas bench validate``.

    Each table (the embedded demo tables included) is read whole, one at a time, and checked:
    the schema (:func:`normalize`), rows whose space, dataset or source is not the one the file's
    path names, duplicate keys, complete published runs, values of fractions within [0, 1]
    (problems), computed TSS rows whose params/FLOPs are not their own
    (:func:`bench.table.costs.stale_costs`; problems); empty or partly missing columns and
    flagged rows (warnings). A file that is not
    a calnas table stops the report with one :class:`~bench.errors.InputError` naming it.

    Args:
        bench: the benchmark (:class:`~bench.table.benchmark.Benchmark`).

    Returns:
        Per table: ``table`` ('space/dataset/source'), ``rows``, ``configs``, ``copied``,
        ``problems`` and ``warnings`` (lists of sentences).

    Example:
        >>> from bench.table.benchmark import Benchmark
        >>> validate_tables(Benchmark.open("/tmp/calnas-doc-bench", demo=False))
        []
    """
    import numpy as np

    from bench.arch.spaces import SPACES, get_space
    from bench.table.costs import stale_costs  # it imports the store, which imports this module

    report = []
    for info in bench.tables().values():
        frame = info.frame()
        entry: dict[str, Any] = {
            "table": f"{info.space}/{info.dataset}/{info.source}",
            "rows": len(frame),
            "problems": [],
            "warnings": [],
        }
        entry["problems"] += _path_problems(info, frame)
        try:
            normalize(frame)
        except ValueError as err:
            entry["problems"].append(f"schema: {err}")
        dup = int(frame.duplicated([k for k in KEY if k in frame]).sum())
        if dup:
            entry["problems"].append(f"{dup} duplicate keys")
        size = get_space(info.space).size if info.space in SPACES else None
        for (hp, epoch), part in frame.groupby(["hp", "epoch"]):
            configs = part["config"].nunique()
            if size and configs < size and info.source in ("official", "robustness"):
                entry["problems"].append(f"hp {hp} epoch {epoch}: {configs} of {size} configs")
        entry["configs"] = int(frame["config"].nunique())
        entry["copied"] = int(frame["copied"].sum()) if "copied" in frame else 0
        empty = [
            c for c in frame.columns if column_spec(c).dtype == "float64" and frame[c].isna().all()
        ]
        if empty:
            entry["warnings"].append(f"columns with no values: {', '.join(empty)}")
        partly = {
            c: int(frame[c].isna().sum())
            for c in frame.columns
            if column_spec(c).dtype == "float64" and 0 < frame[c].isna().sum() < len(frame)
        }
        if partly:
            worst = sorted(partly.items(), key=lambda kv: -kv[1])[:5]
            entry["warnings"].append(
                f"{len(partly)} columns have missing values (most: "
                + ", ".join(f"{c} {n}" for c, n in worst)
                + ")"
            )
        if "flags" in frame:
            flagged = frame["flags"].dropna()
            if len(flagged):
                kinds: dict[str, int] = {}
                for text in flagged:
                    for flag in {f.split(":")[0] for f in str(text).split(";")}:
                        kinds[flag] = kinds.get(flag, 0) + 1
                entry["warnings"].append(
                    f"{len(flagged)} flagged rows: "
                    + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
                )
        for c in frame.columns:
            spec = column_spec(c)
            if spec.dtype == "float64" and spec.is_fraction:
                values = frame[c].to_numpy(dtype=np.float64)
                if np.nanmax(values, initial=0) > 1 or np.nanmin(values, initial=0) < 0:
                    entry["problems"].append(f"{c}: values outside [0, 1]")
        stale = int(stale_costs(frame, info.space, info.dataset).sum())
        if stale:
            entry["problems"].append(
                f"{stale} rows carry another architecture's params_m/flops_m (copies made "
                "before calnas gave each its own): calnas bench validate --repair fixes them"
            )
        report.append(entry)
    return report
