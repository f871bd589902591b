"""Kendall's tau-b, fast: a whole matrix of columns in O(k^2 n log n), NaNs left out pairwise.

The study computed every ranking agreement with ``DataFrame.corr(method="kendall")`` (or
``scipy.stats.kendalltau`` on ranks): tau-b, with each pair of columns over the rows where both
have a value. This module computes the same numbers.

**How.** For a pair (x, y), sort the rows by (x, y); the discordant pairs are the strict
inversions of y in that order (Knight's algorithm). Each column is ranked once and each
tie-free column's order is shared by all its pairs; the inversion counts of many pairs are then
taken together over a (pairs, rows) integer array: inside blocks of 512 rows by a bottom-up
merge sort (numpy's sorting networks merge every block at once), across blocks by a histogram of
(value run, row block) and the same merge sort inside each run of 512 values. Ties are corrected
as tau-b
does: ``tau = (n0 - n1 - n2 + n3 - 2 D) / sqrt((n0 - n1) (n0 - n2))``, with n0 the pairs, n1 and
n2 the pairs tied in x and in y, n3 those tied in both, D the discordant pairs.

**Populations.** :func:`population` picks the rows an analysis runs on: all of them, or the top
K by a column (``order="desc"``, the default, is the K largest: what "top" means; ``"asc"`` the K
smallest, which is what the study's robustness notebooks took while calling it "top").

Example:
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    >>> y = np.array([1.0, 3.0, 2.0, 4.0, 0.0])
    >>> round(tau_b(x, y), 4)   # the NaN row is left out: 5 of 6 pairs concordant
    0.6667
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from bench.checks import check_int
from bench.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KendallMatrix", "kendall_matrix", "tau_b", "population", "union_top", "ORDERS"]

#: Accepted orders of a top-K population: ``desc`` (the K largest) and ``asc`` (the K smallest).
ORDERS: tuple[str, ...] = ("desc", "asc")
#: Rows of q counted together: a (block, 2^15) int32 array stays in the CPU's L2 cache.
_BATCH = 16
#: Blocks whose inner pairs are counted by direct comparison.
_SMALL = 16
#: Blocks of 2**9 = 512 positions: merged by sorting; pairs across them counted apart.
_BLOCK_LEVELS = 9
#: Threads counting batches of a large matrix (numpy's sorts release the GIL).
_THREADS = min(2, os.cpu_count() or 1)


class KendallMatrix(NamedTuple):
    """Tau-b of every pair of columns and the number of rows each pair used.

    ``tau[i, j]`` is NaN where fewer than two rows hold both values, or where one column is
    constant over them (tau-b is undefined there).
    """

    columns: list[str]
    tau: np.ndarray
    n: np.ndarray

    def as_dict(self, digits: int | None = None) -> dict[str, Any]:
        """JSON-ready: columns, tau (None for NaN), the pair counts and the largest count."""
        tau = self.tau if digits is None else np.round(self.tau, digits)
        return {
            "columns": list(self.columns),
            "tau": [[None if np.isnan(v) else float(v) for v in row] for row in tau],
            "n": int(self.n.max()) if self.n.size else 0,
            "n_pairs": self.n.astype(int).tolist(),
        }


def tau_b(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b of ``x`` and ``y`` over the positions where both are numbers.

    Args:
        x: values (NaN: missing).
        y: values of the same length (NaN: missing).

    Returns:
        tau-b in [-1, 1]; NaN when fewer than two positions hold both values or one side is
        constant there.

    Raises:
        InputError: the lengths differ or the values are not numbers.

    Example:
        >>> tau_b([1, 2, 3, 4], [1, 1, 2, 2])
        0.8164965809277261
    """
    xa, ya = _as_float(x, "x"), _as_float(y, "y")
    if xa.ndim != 1 or ya.ndim != 1 or xa.shape != ya.shape:
        raise InputError(f"x and y must be 1-D of the same length, got {xa.shape} and {ya.shape}")
    return float(kendall_matrix(np.column_stack([xa, ya])).tau[0, 1])


def kendall_matrix(
    values: np.ndarray | pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    against: Sequence[str] | None = None,
) -> KendallMatrix:
    """Kendall tau-b of every pair of columns of ``values``, each pair over its complete rows.

    Args:
        values: an (n, k) array or a DataFrame (its numeric columns); NaN marks a missing value.
        columns: names of the k columns (default: the DataFrame's, else ``c0``, ``c1``, ...).
        against: compute only the pairs involving these columns (the other cells are NaN):
            the rows of the matrix a line plot needs, at a fraction of the cost.

    Returns:
        A :class:`KendallMatrix` (symmetric tau with 1 on the diagonal, and the pair counts).

    Raises:
        InputError: ``values`` is not 2-D numbers, or ``columns`` has the wrong length.

    Example:
        >>> import numpy as np
        >>> km = kendall_matrix(np.array([[1, 4, 2], [2, 3, 1], [3, 2, 4], [4, 1, 3.0]]))
        >>> km.tau.round(3).tolist()
        [[1.0, -1.0, 0.333], [-1.0, 1.0, -0.333], [0.333, -0.333, 1.0]]
    """
    if hasattr(values, "columns") and hasattr(values, "to_numpy"):
        names = [str(c) for c in values.columns] if columns is None else list(columns)
        mat = _as_float(values.to_numpy(dtype=np.float64, na_value=np.nan), "values")
    else:
        mat = _as_float(values, "values")
        names = None if columns is None else list(columns)
    if mat.ndim != 2:
        raise InputError(f"values must be 2-D (rows, columns), got shape {mat.shape}")
    k = mat.shape[1]
    names = names if names is not None else [f"c{i}" for i in range(k)]
    if len(names) != k:
        raise InputError(f"got {len(names)} column names for {k} columns")
    unknown = [c for c in against or () if c not in names]
    if unknown:
        raise InputError(f"against names columns not in the matrix: {', '.join(unknown)}")
    mat = np.where(np.isfinite(mat), mat, np.nan)  # inf is no more a rank than NaN
    valid = ~np.isnan(mat)
    tau = np.full((k, k), np.nan)
    # pair counts by a float matrix product (exact below 2^53; integer products are slow)
    ones = valid.astype(np.float64)
    count = np.rint(ones.T @ ones).astype(np.int64) if k else np.zeros((0, 0), dtype=np.int64)
    # pairs sharing a row set are counted together: one group when no value is missing
    groups: dict[bytes, list[tuple[int, int]]] = {}
    masks: dict[bytes, np.ndarray] = {}
    full = valid.all(axis=0)
    everything = np.ones(mat.shape[0], dtype=bool)
    focus = set(range(k)) if against is None else {names.index(c) for c in against}
    for i in range(k):
        for j in range(i, k):
            if i not in focus and j not in focus:
                continue
            if full[i] and full[j]:
                key, joint = b"", everything
            else:
                joint = valid[:, i] & valid[:, j]
                key = np.packbits(joint).tobytes()
            groups.setdefault(key, []).append((i, j))
            masks.setdefault(key, joint)
    jobs = [(mat[masks[key]], pairs) for key, pairs in groups.items() if masks[key].sum() >= 2]
    for (_, pairs), taus in zip(jobs, _map(jobs), strict=True):
        for (i, j), t in zip(pairs, taus, strict=True):
            tau[i, j] = tau[j, i] = t
    return KendallMatrix(names, tau, np.asarray(count))


def _map(jobs: list[tuple[np.ndarray, list[tuple[int, int]]]]) -> list[list[float]]:
    """tau of each job's pairs; large jobs split over two threads (numpy's sorts and matrix
    products release the GIL)."""
    work = sum(sub.shape[0] * len(pairs) for sub, pairs in jobs)
    if work < 2_000_000 or _THREADS < 2:
        return [_group_tau(sub, pairs) for sub, pairs in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(_THREADS) as pool:
        return list(pool.map(lambda job: _group_tau(*job), jobs))


def _as_float(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold numbers (NaN for missing values)") from None
    return arr


class _Col:
    """One column over a row set: dense ranks, sort order, tie facts."""

    def __init__(self, v: np.ndarray):
        self.order = np.argsort(v)  # any order of ties: a tied column is re-sorted per pair
        s = v[self.order]
        step = np.empty(len(v), dtype=bool)
        step[:1] = False
        np.not_equal(s[1:], s[:-1], out=step[1:])
        self.rank = np.empty(len(v), dtype=np.int64)
        self.rank[self.order] = np.cumsum(step)
        self.levels = int(self.rank.max()) + 1 if len(v) else 0
        self.tied = self.levels < len(v)
        runs = np.diff(np.flatnonzero(np.r_[True, step[1:], True])) if len(v) else np.zeros(0)
        self.tie_pairs = int((runs * (runs - 1) // 2).sum())
        # without ties, the descending rank of each row: q of every pair with this column as y
        self.down = None if self.tied else ((len(v) - 1) - self.rank).astype(np.int32)
        # ranks as keys numpy sorts stably in linear time (a radix sort for 16-bit integers)
        self.key = self.rank.astype(np.int16 if len(v) <= 2**15 else np.int32)
        if self.tied:
            self.count = np.bincount(self.rank, minlength=self.levels)
            self.start = np.cumsum(self.count) - self.count  # rows of a smaller value
            self.greater = len(v) - self.start - self.count  # rows of a larger value


def _group_tau(sub: np.ndarray, pairs: list[tuple[int, int]]) -> list[float]:
    """tau-b of ``pairs`` of columns of ``sub`` (rows all valid for every pair)."""
    m = sub.shape[0]
    n0 = m * (m - 1) // 2
    cols: dict[int, _Col] = {}
    for i, j in pairs:
        for c in (i, j):
            if c not in cols:
                cols[c] = _Col(sub[:, c])
    out: list[float] = [np.nan] * len(pairs)
    todo: list[int] = []  # indices into pairs, one per row of q
    qs: list[np.ndarray] = []
    ties: list[tuple[int, int, int]] = []  # (n1, n2, n3) of each row
    positions = np.arange(m, dtype=np.int64)
    for p, (i, j) in enumerate(pairs):
        a, b = cols[i], cols[j]
        if i == j:
            out[p] = 1.0 if n0 - a.tie_pairs > 0 else np.nan
            continue
        if n0 - a.tie_pairs == 0 or n0 - b.tie_pairs == 0:
            continue  # a constant column: tau-b undefined
        # rows in (x, y) order: tied x broken by y (a stable sort by x of the rows in y order),
        # so that a tie in x is never a discordance
        order = b.order[np.argsort(a.key[b.order], kind="stable")] if a.tied else a.order
        n3 = 0
        if b.down is not None:
            q = b.down[order]
        else:
            # q ranks (y desc, position desc): equal y never counts as an inversion. Rows of
            # a larger y come first; among equal ones, the later position first
            s = b.rank[order]
            by_y = np.argsort(b.key[order], kind="stable")  # positions ascending per value
            within = np.empty(m, dtype=np.int64)
            within[by_y] = positions - b.start[s[by_y]]
            q = (b.greater[s] + b.count[s] - 1 - within).astype(np.int32)
            if a.tied:
                ra = a.rank[order]
                same = (ra[1:] == ra[:-1]) & (s[1:] == s[:-1])
                if same.any():
                    runs = np.diff(np.flatnonzero(np.r_[True, ~same, True]))
                    n3 = int((runs * (runs - 1) // 2).sum())
        todo.append(p)
        qs.append(q)
        ties.append((a.tie_pairs, b.tie_pairs, n3))
    batches = [np.stack(qs[k : k + _BATCH]) for k in range(0, len(qs), _BATCH)]
    if len(batches) > 1 and m * len(qs) >= 1_000_000 and _THREADS > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(_THREADS) as pool:  # numpy's sorts release the GIL
            counted = list(pool.map(_ascending_pairs, batches))
    else:
        counted = [_ascending_pairs(b) for b in batches]
    disc = np.concatenate(counted) if counted else np.zeros(0, dtype=np.int64)
    for row, d in enumerate(disc):
        n1, n2, n3 = ties[row]
        s_ = n0 - n1 - n2 + n3 - 2 * int(d)
        out[todo[row]] = s_ / np.sqrt(float(n0 - n1) * float(n0 - n2))
    return out


def _ascending_pairs(q: np.ndarray) -> np.ndarray:
    """Per row of ``q`` (P, m) of distinct integers in [0, m): the pairs i < j with q_i < q_j.

    The keys ``q * N + position`` (N = m rounded up to a power of two; padding positions hold
    keys below every real one, decreasing, so they add no pair) are counted by
    :func:`_within` inside blocks of 512 positions, and the pairs across those blocks by
    :func:`_across`.
    """
    rows, m = q.shape
    levels = max(1, int(m - 1).bit_length())
    size = 1 << levels
    dtype = np.int32 if size * size < 2**31 else np.int64
    key = np.empty((rows, size), dtype=dtype)
    pad = size - m
    head = key[:, :m]
    head[...] = q
    head += pad
    head *= size
    key[:, m:] = np.arange(pad - 1, -1, -1, dtype=dtype) * size
    key += np.arange(size, dtype=dtype)
    if levels <= _BLOCK_LEVELS:
        return _within(key, levels)
    return _within(key, _BLOCK_LEVELS) + _across(key, levels)


def _within(key: np.ndarray, upto: int) -> np.ndarray:
    """Per row of ``key`` (distinct, the position inside each block of ``2**upto`` in the low
    ``upto`` bits), the ascending pairs inside those blocks; sorts each block.

    A bottom-up merge sort: at the level merging blocks of ``half`` into ``2 half``, every pair
    split by that level is counted once, as the sum over the right half's elements of their
    rank in the merged block (the position bit says which half an element came from). Pairs
    inside blocks of 16 are compared directly, cheaper than sorting tiny blocks four times.
    """
    rows, size = key.shape
    total = np.zeros(rows, dtype=np.int64)
    first = 0
    if size >= _SMALL:
        flat = key.reshape(-1, _SMALL).T.copy()
        inside = np.zeros(flat.shape[1], dtype=np.int8)
        for a in range(_SMALL - 1):
            for b in range(a + 1, _SMALL):
                inside += flat[a] < flat[b]
        total += inside.reshape(rows, -1).sum(axis=1, dtype=np.int64)
        key.reshape(rows, -1, _SMALL).sort(axis=-1)
        first = _SMALL.bit_length() - 1
    for lv in range(first, upto):
        width = 2 << lv
        half = width >> 1
        blocks = key.reshape(rows, -1, width)
        if width == 2:
            lo, hi = blocks[:, :, 0], blocks[:, :, 1]
            total += (lo < hi).sum(axis=1)
            low = np.minimum(lo, hi)
            np.maximum(lo, hi, out=hi)
            lo[...] = low
            continue
        # numpy's vectorized sorting networks merge blocks of up to 512 quickly
        blocks.sort(axis=-1, kind="quicksort" if width <= 512 else "stable")
        total += _right_ranks(key, lv, width) - (size // width) * (half * (half - 1) // 2)
    return total


def _across(key: np.ndarray, levels: int) -> np.ndarray:
    """Per row, the ascending pairs whose two positions lie in different blocks of 512.

    Walk the values in increasing order (the inverse permutation, one scatter) and note each
    one's position block. Split the values into runs of 512 as well: a pair from different value
    runs is ascending exactly when its position blocks increase, which a (value run, position
    block) histogram counts; a pair inside one value run is ascending when its position blocks
    increase strictly, the ascending pairs of ``(block, -order)`` keys inside each run, counted
    by :func:`_within` again (sorting blocks of 512 is what numpy does fast).
    """
    rows, size = key.shape
    shift = _BLOCK_LEVELS
    nb = size >> shift
    value = key >> levels
    pos = key & (size - 1)
    inv = np.empty(rows * size, dtype=key.dtype)
    inv[(value + (np.arange(rows, dtype=key.dtype) * size)[:, None]).ravel()] = pos.ravel()
    block = (inv >> shift).reshape(rows, size)  # position block of each value, values in order
    run = np.arange(size, dtype=key.dtype) >> shift
    code = block + ((np.arange(rows, dtype=key.dtype)[:, None] * nb + run) * nb)
    hist = np.bincount(code.ravel(), minlength=rows * nb * nb).reshape(rows, nb, nb)
    below = hist.cumsum(axis=1).cumsum(axis=2)  # pairs (earlier run, smaller block): shifted
    diff = (hist[:, 1:, 1:] * below[:, :-1, :-1]).sum(axis=(1, 2))
    local = np.arange(size, dtype=key.dtype) & ((1 << shift) - 1)
    key2 = ((block << shift) + ((1 << shift) - 1 - local)) << shift
    key2 += local
    same = _within(key2.reshape(rows * nb, 1 << shift), shift).reshape(rows, nb).sum(axis=1)
    return diff + same


def _right_ranks(key: np.ndarray, lv: int, width: int) -> np.ndarray:
    """Per row, the sum over right-half elements (bit ``lv`` of the key set) of their rank in
    their sorted block of ``width``: one float64 matrix-vector product over whole rows (exact:
    every partial sum is an integer below 2^53), minus the blocks' starts."""
    size = key.shape[1]
    right = np.bitwise_and(key, 1 << lv).astype(np.float64)
    index = np.arange(size, dtype=np.float64)
    sums = np.rint(right @ index).astype(np.int64) >> lv
    nblocks = size // width
    half = width >> 1
    return sums - half * width * (nblocks * (nblocks - 1) // 2)


def population(
    frame: pd.DataFrame,
    by: str | None = None,
    top: int | None = None,
    order: str = "desc",
) -> pd.DataFrame:
    """The rows an analysis runs on: all of them, or the top ``top`` by column ``by``.

    Rows lacking ``by`` cannot be ranked and are left out of a top-K population. Ties at the
    cut go to the smaller ``config`` (the row order when there is no such column), so the
    population is the same on every run.

    Args:
        frame: one row per architecture.
        by: the column to rank by (None: all rows; then ``top`` must be None too).
        top: how many rows to keep (more than the frame holds: all that have ``by``).
        order: ``desc`` for the ``top`` largest (the default: what "top" means), ``asc`` for the
            smallest.

    Returns:
        The selected rows, in their original order.

    Raises:
        InputError: an unknown order, ``top`` without ``by`` (or the reverse), a non-positive
            ``top`` or an absent column.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"config": [0, 1, 2, 3], "acc": [0.5, 0.9, 0.7, 0.9]})
        >>> population(f, "acc", 2)["config"].tolist()
        [1, 3]
        >>> population(f, "acc", 1, order="asc")["config"].tolist()
        [0]
    """
    if order not in ORDERS:
        raise InputError(f"unknown order {order!r}; accepted: {', '.join(ORDERS)}")
    if by is None and top is None:
        return frame
    if by is None or top is None:
        raise InputError("a top-K population needs both the column (--by) and K (--top)")
    top = check_int(top, "top")
    if by not in frame.columns:
        raise InputError(f"cannot rank by {by!r}: the table has no such column")
    values = frame[by].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.flatnonzero(~np.isnan(values))
    tiebreak = (
        frame["config"].to_numpy()[ok] if "config" in frame.columns else np.arange(len(frame))[ok]
    )
    primary = -values[ok] if order == "desc" else values[ok]
    chosen = ok[np.lexsort((tiebreak, primary))[:top]]
    return frame.iloc[np.sort(chosen)]


def union_top(
    frames: Sequence[pd.DataFrame], by: str, top: int, *, key: str = "config"
) -> np.ndarray:
    """The ``key`` values in the top ``top`` by ``by`` of any of ``frames`` (sorted, unique).

    The study's Fig. 1 population: the 100 most accurate configs of each dataset, together.

    Example:
        >>> import pandas as pd
        >>> a = pd.DataFrame({"config": [0, 1, 2], "acc": [0.1, 0.9, 0.5]})
        >>> b = pd.DataFrame({"config": [0, 1, 2], "acc": [0.8, 0.2, 0.3]})
        >>> union_top([a, b], "acc", 1).tolist()
        [0, 1]
    """
    picked = [population(f, by, top)[key].to_numpy() for f in frames]
    return np.unique(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
