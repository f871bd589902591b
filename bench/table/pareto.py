"""Non-dominated rows: the one Pareto filter (the benchmark's fronts, search's indicators).

A row dominates another when it is at least as good in every objective and better in one; the
front is the rows no other row dominates. Equal rows dominate neither each other: duplicates of a
front row are all on the front. :func:`pareto_mask` works on losses (every objective minimized);
:func:`pareto_front` takes a table's frame, the objectives and their directions.

Example:
    >>> import numpy as np
    >>> pareto_mask(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0]])).tolist()
    [True, True, False, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.errors import InputError

if TYPE_CHECKING:  # imported where used
    import numpy as np
    import pandas as pd

__all__ = ["pareto_mask", "pareto_front", "front_directions"]


def pareto_mask(losses: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of an (n, k) loss array (duplicates all kept).

    One objective: the rows at the minimum. Two: one sort and a running minimum. More: a sweep
    in lexicographic order, each row checked against the front found so far (only an earlier
    row can dominate a later one).

    Args:
        losses: (n, k) values, every objective minimized (multiply a maximized one by -1).

    Returns:
        (n,) bool, True for the rows on the front.

    Example:
        >>> import numpy as np
        >>> pareto_mask(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0], [0.0, 5.0, 5.0]])).tolist()
        [True, False, True]
    """
    import numpy as np

    pts = np.asarray(losses, dtype=np.float64)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if pts.shape[1] == 1:
        return pts[:, 0] == pts[:, 0].min()
    if pts.shape[1] == 2:
        # sorted by first loss then second, a row is on the front iff its second loss is below
        # every earlier row's (ties in both coordinates stay on the front)
        order = np.lexsort((pts[:, 1], pts[:, 0]))
        y = pts[order, 1]
        x = pts[order, 0]
        best_before = np.minimum.accumulate(np.concatenate(([np.inf], y[:-1])))
        keep = y < best_before
        # exact duplicates of a front row are non-dominated too
        dup = np.zeros(n, dtype=bool)
        dup[1:] = (x[1:] == x[:-1]) & (y[1:] == y[:-1])
        for i in np.flatnonzero(dup):
            keep[i] = keep[i - 1]
        mask = np.zeros(n, dtype=bool)
        mask[order] = keep
        return mask
    order = np.lexsort(pts.T[::-1])  # by the first loss, then the next ones
    ordered = pts[order]
    front: list[int] = []
    for pos in range(n):
        p = ordered[pos]
        if front:
            f = ordered[front]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
        front.append(pos)
    mask = np.zeros(n, dtype=bool)
    mask[order[front]] = True
    return mask


def front_directions(objectives: Sequence[str], directions: Sequence[str] | None) -> list[str]:
    """One 'max' or 'min' per objective: ``directions`` checked, or the schema's by default.

    Raises:
        InputError: no objective, a direction that is not 'max'/'min', the wrong count, or (by
            default) an objective whose column has no direction.

    Example:
        >>> front_directions(["acc", "pre_ECE_15"], None)
        ['max', 'min']
    """
    from bench.table.schema import direction

    objectives = list(objectives)
    if not objectives:
        raise InputError("pareto_front needs at least one objective")
    dirs = list(directions) if directions is not None else [direction(o) for o in objectives]
    if len(dirs) != len(objectives) or any(d not in ("max", "min") for d in dirs):
        raise InputError(f"directions must be 'max' or 'min', one per objective; got {dirs}")
    return dirs


def pareto_front(
    frame: pd.DataFrame, objectives: Sequence[str], directions: Sequence[str] | None = None
) -> pd.DataFrame:
    """The non-dominated rows of ``frame``, sorted by the first objective, best first.

    Args:
        frame: one row per architecture, with a column per objective and no missing value there.
        objectives: the objective columns.
        directions: 'max' or 'min', one per objective (None: the schema's, see
            :func:`front_directions`).

    Returns:
        The front's rows (index reset), ties in the first objective in ``frame``'s order.

    Raises:
        InputError: see :func:`front_directions`.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"config": [0, 1, 2], "acc": [0.9, 0.8, 0.7],
        ...                      "pre_ECE_15": [0.05, 0.02, 0.03]})
        >>> pareto_front(rows, ["acc", "pre_ECE_15"], ["max", "min"])["config"].tolist()
        [0, 1]
    """
    import numpy as np

    objectives = list(objectives)
    dirs = front_directions(objectives, directions)
    signs = np.array([-1.0 if d == "max" else 1.0 for d in dirs])
    keep = pareto_mask(frame[objectives].to_numpy(dtype=np.float64) * signs)
    front = frame.iloc[np.flatnonzero(keep)]
    return front.sort_values(objectives[0], ascending=dirs[0] == "min", kind="stable").reset_index(
        drop=True
    )
