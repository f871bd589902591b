"""What a store table file is: the Arrow type of each column, and the check that a parquet file
is a calnas table (:func:`table_schema`) before anything reads or merges it.

Example:
    >>> str(arrow_type("acc")), str(arrow_type("config"))
    ('double', 'int64')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import InputError, MissingFileError
from bench.table.schema import column_spec
from bench.table.validation import REQUIRED

if TYPE_CHECKING:  # pandas and pyarrow are imported where used: a query needs neither
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "arrow_type",
    "arrow_table",
    "table_schema",
    "RELIABILITY_KEY",
    "with_reliability",
    "read_reliability",
]


def arrow_type(name: str) -> pa.DataType:
    """The arrow type a column is stored with.

    Example:
        >>> str(arrow_type("acc")), str(arrow_type("created"))
        ('double', 'timestamp[us, tz=UTC]')
    """
    import pyarrow as pa

    arrow = {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    return arrow[column_spec(name).dtype]


_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


def _fits(arrow: pa.DataType, dtype: str) -> bool:
    """Whether an arrow column type can hold a column calnas stores as ``dtype``."""
    import pyarrow as pa

    if pa.types.is_null(arrow):  # a column with no value at all
        return True
    return {
        "int64": pa.types.is_integer,
        "float64": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
        "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "bool": pa.types.is_boolean,
        "timestamp": pa.types.is_timestamp,
    }[dtype](arrow)


def table_schema(path: str | os.PathLike[str], schema: pa.Schema | None = None) -> tuple[str, ...]:
    """The column names of a store table file, once it is known to be a calnas table.

    A file in the store's layout that is not parquet, or whose columns are not calnas's (a table
    of another tool copied in by hand, a file damaged on disk) is refused here, with one line
    that names it, instead of failing later in whatever reads it first.

    Args:
        path: the parquet file.
        schema: its arrow schema, when the caller has read it already.

    Returns:
        The column names, in file order (without the index columns pandas may add).

    Raises:
        MissingFileError: ``path`` does not exist.
        InputError: not a readable parquet file, lacking a required column, holding an unknown
            column, or a column of the wrong type.

    Example:
        >>> import os, tempfile
        >>> import pandas as pd
        >>> path = os.path.join(tempfile.mkdtemp(), "computed.parquet")
        >>> pd.DataFrame({"x": [1]}).to_parquet(path)
        >>> table_schema(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        bench.errors.InputError: /.../computed.parquet: not a calnas table: it lacks the columns ...
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    fix = "move it out of the store, or import its data again"
    if schema is None:
        if path.is_dir():
            raise InputError(f"{path}: a folder where a table file belongs; {fix}")
        if not path.is_file():
            raise MissingFileError(f"{path}: no such table file")
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError, ValueError) as err:
            raise InputError(
                f"{path}: not a readable parquet file ({' '.join(str(err).split())}); {fix}"
            ) from None
    # pandas stores a frame's index as a column of its own: bookkeeping, not a table column
    names = tuple(n for n in schema.names if not _PANDAS_INDEX.match(n))
    lacking = [c for c in REQUIRED if c not in names]
    if lacking:
        held = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise InputError(
            f"{path}: not a calnas table: it lacks the columns {', '.join(lacking)} (it holds "
            f"{held or 'none'}); {fix}"
        )
    for field in schema:
        if field.name not in names:
            continue
        try:
            spec = column_spec(field.name)
        except ValueError:
            raise InputError(
                f"{path}: not a calnas table: unknown column {field.name!r}; {fix}"
            ) from None
        if not _fits(field.type, spec.dtype):
            raise InputError(
                f"{path}: column {field.name!r} holds {field.type}, calnas stores "
                f"{arrow_type(field.name)}: not a calnas table; {fix}"
            )
    return names


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table with every column's stored type (no index column).

    Example:
        >>> import pandas as pd
        >>> arrow_table(pd.DataFrame({"config": [3], "acc": [0.5]})).schema.types
        [DataType(int64), DataType(double)]
    """
    import pyarrow as pa

    schema = pa.schema([pa.field(c, arrow_type(c)) for c in frame.columns])
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


#: The key of a table file's seed-reliability report in its parquet metadata (JSON).
RELIABILITY_KEY = b"calnas.reliability"


def with_reliability(table: pa.Table, reports: dict[str, list[dict]]) -> pa.Table:
    """``table`` with ``reports`` in its parquet metadata (kept beside pandas' own metadata).

    Args:
        table: an Arrow table about to be written.
        reports: per ``"space/dataset"``, a list of seed-reliability reports (each a dict as
            :func:`bench.analysis.reliability.frame_seed_report` returns it, plus a ``label``).

    Example:
        >>> import pyarrow as pa
        >>> t = with_reliability(pa.table({"acc": [0.5]}), {"tss/digits": []})
        >>> t.schema.metadata[RELIABILITY_KEY]
        b'{"tss/digits": []}'
    """
    import json

    meta = dict(table.schema.metadata or {})
    meta[RELIABILITY_KEY] = json.dumps(reports).encode()
    return table.replace_schema_metadata(meta)


def read_reliability(path: str | os.PathLike[str], space: str, dataset: str) -> list[dict] | None:
    """The seed-reliability reports a table file records for (space, dataset), or None.

    Reads only the file's footer. None where the file records none (most tables: a report is
    written by whoever built the table, as ``scripts/build_demo_bench.py --export`` does).

    Raises:
        InputError: the recorded report is not valid JSON.

    Example:
        >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "t.parquet"
        >>> pq.write_table(with_reliability(pa.table({"a": [1]}), {"tss/digits": [{}]}), path)
        >>> read_reliability(path, "tss", "digits"), read_reliability(path, "sss", "digits")
        ([{}], None)
    """
    import json

    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(RELIABILITY_KEY)
    if raw is None:
        return None
    try:
        reports = json.loads(raw)
    except ValueError as err:
        raise InputError(f"{path}: its recorded reliability report is not JSON ({err})") from None
    return reports.get(f"{space}/{dataset}") if isinstance(reports, dict) else None
