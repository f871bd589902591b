"""The demo table embedded in the package: where it is, and which tables its files hold.

``bench/data/*.parquet`` is package data (read-only, source ``demo``); one file may hold several
(space, dataset) tables. Which ones is cached in the user's cache directory
(``$XDG_CACHE_HOME/calnas``, else ``~/.cache/calnas``), keyed by the file's identity, so that
opening a benchmark does not import pyarrow to learn that the demo holds nothing for a dataset.

Example:
    >>> sorted((t.space, t.dataset, t.source) for t in embedded_tables(DEMO_DIR))
    [('sss', 'digits', 'demo'), ('sss', 'fashion8', 'demo'), ('tss', 'digits', 'demo'),
     ('tss', 'fashion8', 'demo')]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.fileio import atomic_write_text
from bench.table.reader import Table
from bench.table.sidecar import parquet_identity

__all__ = ["DEMO_DATASETS", "DEMO_DIR", "default_dataset", "embedded_pairs", "embedded_tables"]

#: Where the embedded demo table lives (package data; may be absent).
DEMO_DIR = Path(__file__).resolve().parents[1] / "data"

#: The datasets an embedded table may hold, the main one first (see :func:`default_dataset`).
DEMO_DATASETS: tuple[str, ...] = ("fashion8", "digits")


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (
        (Path(base).expanduser() if base else Path.home() / ".cache")
        / "calnas"
        / ("embedded-tables.json")
    )


def embedded_pairs(path: Path) -> list[tuple[str, str]]:
    """The (space, dataset) pairs an embedded parquet file holds, in order of appearance.

    Read from the cache while the file's identity (inode, size, mtime, footer hash) matches,
    else from the file (with pyarrow) and cached. A cache that cannot be read is rebuilt; one
    that cannot be written is skipped (the next call reads the file again).

    Args:
        path: a parquet file with ``space`` and ``dataset`` columns.

    Returns:
        The distinct (space, dataset) pairs.

    Example:
        >>> sorted(embedded_pairs(DEMO_DIR / "demo.parquet"))
        [('sss', 'digits'), ('tss', 'digits')]
    """
    cache = _cache_file()
    try:
        with open(path, "rb") as fh:
            identity = parquet_identity(fh)
    except (OSError, ValueError):
        identity = None
    entries: dict[str, Any] = {}
    try:
        entries = json.loads(cache.read_text())
        entry = entries.get(str(path))
        if identity is not None and entry and entry.get("identity") == identity:
            return [(str(s), str(d)) for s, d in entry["pairs"]]
    except (OSError, ValueError, AttributeError, TypeError):
        entries = {}
    import pyarrow.parquet as pq

    ids = pq.read_table(path, columns=["space", "dataset"])
    pairs = list(
        dict.fromkeys(
            zip(ids.column("space").to_pylist(), ids.column("dataset").to_pylist(), strict=True)
        )
    )
    if identity is not None:
        entries = entries if isinstance(entries, dict) else {}
        entries[str(path)] = {"identity": identity, "pairs": pairs}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache, json.dumps(entries))
        except OSError:  # no cache then: the next open reads the file again
            pass
    return pairs


def embedded_tables(folder: Path | None) -> list[Table]:
    """The tables of the embedded parquet files in ``folder`` (none when it is None or absent).

    Args:
        folder: the folder of the demo files (:data:`DEMO_DIR`), or None.

    Returns:
        One read-only :class:`~bench.table.reader.Table` (source ``demo``) per (space, dataset).

    Example:
        >>> embedded_tables(None)
        []
    """
    if folder is None or not folder.is_dir():
        return []
    return [
        Table(space, dataset, "demo", path, embedded=True)
        for path in sorted(folder.glob("*.parquet"))
        for space, dataset in embedded_pairs(path)
    ]


def default_dataset(space: str = "tss", folder: Path | None = DEMO_DIR) -> str:
    """The dataset a command uses when none is named: the first of :data:`DEMO_DATASETS` whose
    ``space`` table the embedded files hold (``"digits"`` when they hold none: the command then
    says the demo is not installed).

    Args:
        space: ``"tss"`` or ``"sss"`` (canonical name).
        folder: the folder of the demo files.

    Returns:
        A dataset name.

    Example:
        >>> default_dataset("tss", None)
        'digits'
    """
    held = {t.dataset for t in embedded_tables(folder) if t.space == space}
    return next((d for d in DEMO_DATASETS if d in held), DEMO_DATASETS[-1])
