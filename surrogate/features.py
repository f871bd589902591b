"""Numeric features of NATS-Bench architectures for the surrogate models.

Every feature is computed once for the whole space, vectorized over the (size, positions) code
array of :mod:`bench.arch.spaces`, and cached read-only; :func:`encode` then gathers rows by NATS
index, so encoding 15,625 architectures costs one dictionary lookup per arch string.

TSS (the NAS-Bench-201 cell: nodes 0..3, edges e0=1<-0, e1=2<-0, e2=2<-1, e3=3<-0, e4=3<-1,
e5=3<-2) has four input-to-output paths::

    p0: 0->3 (e3)    p1: 0->1->3 (e0, e4)    p2: 0->2->3 (e1, e5)    p3: 0->1->2->3 (e0, e2, e5)

A path is *live* when none of its edges is ``none``; an edge is live when it lies on a live path
(an op on a dead edge cannot influence the output). The TSS features, in column order:

- ``onehot_e{e}_{op}`` (30): one-hot op of each edge, NATS-Bench's op order.
- ``count_{op}`` (5): how many edges carry each op.
- ``path{p}_live`` (4): whether path p exists from input to output.
- ``path{p}_{skip|conv1|conv3|pool}`` (16): op counts along path p (0 when the path is dead).
- ``path{p}_seq_{ops}`` (4 + 16 + 16 + 64 = 100): one-hot of the op sequence a live path carries
  (the path encoding of White et al., "BANANAS", restricted to the four NB201 paths).
- ``live_paths``, ``max_conv_depth``, ``min_conv_depth``, ``dead_edges`` (4): number of live
  paths, most and fewest convolutions on any live path (0 when none is live), and edges that
  are ``none`` or off every live path.
- ``live_{skip|conv1|conv3|pool}`` (4): op counts over live edges only.
- canonical-class features (6): ``class_size`` (archs in the isomorphism class),
  ``is_representative``, ``disconnected`` (the canonical form does not reach the input), and
  ``canon_{conv1|conv3|pool}``: how often each op occurs in NATS-Bench's canonical expression
  (an isomorphism-invariant, path-expanded op count).
- ``params_m``, ``flops_m`` (2): :func:`bench.arch.costs.cost_all` for the dataset.

SSS (five widths): ``channel_{0..4}`` (5), ``channel_min``, ``channel_mean`` (2), ``params_m``,
``flops_m`` (2).

Costs need a dataset (the classifier head and input resolution differ); with ``dataset=None`` the
cifar10 costs stand in, which within one space are an affine function of the same counts and so
carry the same ordering information.

Example:
    >>> from surrogate.features import encode, feature_names
    >>> x = encode("tss", ["|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
    ...                    "|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"], "cifar10")
    >>> x.shape == (1, len(feature_names("tss")))
    True
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np

from bench.arch.costs import cost_all
from bench.arch.spaces import CHANNELS, EDGES, OPS, get_space
from bench.errors import InputError

__all__ = ["PATHS", "feature_names", "feature_table", "encode", "arch_indices", "cost_dataset"]

#: The four NB201 input-to-output paths as tuples of edge positions (see the module docstring).
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))

_NONE, _SKIP, _CONV1, _CONV3, _POOL = (OPS.index(o) for o in OPS)
_KINDS = (("skip", _SKIP), ("conv1", _CONV1), ("conv3", _CONV3), ("pool", _POOL))
_LIVE_OPS = (_SKIP, _CONV1, _CONV3, _POOL)  # ops a live path can carry, in sequence-code order
_SHORT = {_SKIP: "skip", _CONV1: "conv1", _CONV3: "conv3", _POOL: "pool"}
_REFERENCE_DATASET = "cifar10"
#: Store datasets that share another dataset's networks: cifar10-valid is NATS-Bench's CIFAR-10
#: run on the 25k/25k train/valid split, the same 10-class 32x32 networks as cifar10.
_COST_ALIASES = {"cifar10-valid": "cifar10"}


def _resolve_space(space: str):
    return get_space(space)


@functools.cache
def feature_names(space: str) -> tuple[str, ...]:
    """Column names of the features of ``space`` (``"tss"`` or ``"sss"``), in column order.

    Args:
        space: ``"tss"`` or ``"sss"``.

    Returns:
        171 names for TSS, 9 for SSS (see the module docstring).

    Raises:
        InputError: an unknown space.

    Example:
        >>> feature_names("sss")[:2]
        ('channel_0', 'channel_1')
    """
    sp = _resolve_space(space)
    if sp.name == "sss":
        return (
            *(f"channel_{k}" for k in range(len(sp.param_names()))),
            "channel_min",
            "channel_mean",
            "params_m",
            "flops_m",
        )
    names = [f"onehot_e{e}_{op}" for e in range(len(EDGES)) for op in OPS]
    names += [f"count_{op}" for op in OPS]
    names += [f"path{p}_live" for p in range(len(PATHS))]
    names += [f"path{p}_{k}" for p in range(len(PATHS)) for k, _ in _KINDS]
    for p, edges in enumerate(PATHS):
        for seq in itertools.product(_LIVE_OPS, repeat=len(edges)):
            names.append(f"path{p}_seq_" + "-".join(_SHORT[o] for o in seq))
    names += ["live_paths", "max_conv_depth", "min_conv_depth", "dead_edges"]
    names += [f"live_{k}" for k, _ in _KINDS]
    names += ["class_size", "is_representative", "disconnected"]
    names += ["canon_conv1", "canon_conv3", "canon_pool"]
    names += ["params_m", "flops_m"]
    return tuple(names)


def _tss_table(dataset: str) -> np.ndarray:
    sp = get_space("tss")
    codes = sp.codes().astype(np.int64)  # (n, 6)
    n = len(codes)
    cols: list[np.ndarray] = []

    cols.append(np.eye(len(OPS), dtype=np.float32)[codes].reshape(n, -1))
    cols.append(np.stack([(codes == o).sum(1) for o in range(len(OPS))], 1))

    live = np.stack([(codes[:, list(p)] != _NONE).all(1) for p in PATHS], 1)  # (n, 4)
    cols.append(live)
    per_path = []
    for p, edges in enumerate(PATHS):
        ops = codes[:, list(edges)]
        for _, o in _KINDS:
            per_path.append(np.where(live[:, p], (ops == o).sum(1), 0))
    cols.append(np.stack(per_path, 1))

    # op-sequence one-hot: a live path's ops map to base-4 digits 0..3 (none is impossible there)
    digit = np.full(len(OPS), -1, dtype=np.int64)
    digit[list(_LIVE_OPS)] = np.arange(len(_LIVE_OPS))
    for p, edges in enumerate(PATHS):
        width = len(_LIVE_OPS) ** len(edges)
        d = digit[codes[:, list(edges)]]
        seq = (d * (len(_LIVE_OPS) ** np.arange(len(edges) - 1, -1, -1))).sum(1)
        block = np.zeros((n, width), dtype=np.float32)
        rows = np.flatnonzero(live[:, p])
        block[rows, seq[rows]] = 1.0
        cols.append(block)

    conv = (codes == _CONV1) | (codes == _CONV3)
    depth = np.stack([conv[:, list(p)].sum(1) for p in PATHS], 1)
    big = np.iinfo(np.int64).max
    any_live = live.any(1)
    max_depth = np.where(live, depth, -1).max(1).clip(min=0)
    min_depth = np.where(any_live, np.where(live, depth, big).min(1), 0)
    live_edge = np.zeros((n, len(EDGES)), dtype=bool)
    for p, edges in enumerate(PATHS):
        live_edge[:, list(edges)] |= live[:, [p]]
    cols.append(np.stack([live.sum(1), max_depth, min_depth, (~live_edge).sum(1)], 1))
    cols.append(np.stack([((codes == o) & live_edge).sum(1) for _, o in _KINDS], 1))

    canon = sp.canonical_strings()
    reps = sp.representatives()
    class_size = np.bincount(reps, minlength=n)[reps]
    cols.append(
        np.stack(
            [
                class_size,
                reps == np.arange(n),
                np.fromiter(("0" not in c for c in canon), dtype=bool, count=n),
                *(
                    np.fromiter((c.count(f"@{op}") for c in canon), dtype=np.int64, count=n)
                    for op in ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
                ),
            ],
            1,
        )
    )
    params, flops = cost_all("tss", dataset)
    cols.append(np.stack([params, flops], 1))
    return np.concatenate([c.astype(np.float32) for c in cols], axis=1)


def _sss_table(dataset: str) -> np.ndarray:
    sp = get_space("sss")
    widths = np.asarray(CHANNELS, dtype=np.float32)[sp.codes()]
    params, flops = cost_all("sss", dataset)
    extra = np.stack([widths.min(1), widths.mean(1), params, flops], 1).astype(np.float32)
    return np.concatenate([widths, extra], axis=1)


@functools.cache
def _table(space: str, dataset: str) -> np.ndarray:
    table = _tss_table(dataset) if space == "tss" else _sss_table(dataset)
    table.flags.writeable = False
    return table


def feature_table(space: str, dataset: str | None = None) -> np.ndarray:
    """Features of every architecture of ``space``, row ``i`` = NATS index ``i`` (read-only).

    Args:
        space: ``"tss"`` or ``"sss"``.
        dataset: selects the costs (params/FLOPs); None uses cifar10's (see the module
            docstring).

    Returns:
        A read-only float32 array (size, len(feature_names(space))), cached per space and
        cost dataset.

    Raises:
        InputError: an unknown space or dataset.

    Example:
        >>> feature_table("tss", "cifar10").shape
        (15625, 171)
    """
    sp = _resolve_space(space)
    return _table(sp.name, cost_dataset(dataset))


def cost_dataset(dataset: str | None) -> str:
    """The dataset whose networks (and so costs) ``dataset`` uses.

    Args:
        dataset: a table dataset name (``cifar10-valid`` is cifar10's network), or None.

    Returns:
        A dataset :func:`bench.arch.costs.cost_all` knows (None: cifar10).

    Raises:
        InputError: an unknown dataset.

    Example:
        >>> cost_dataset("cifar10-valid"), cost_dataset(None)
        ('cifar10', 'cifar10')
    """
    from bench.arch.datasets import dataset_info
    from bench.table.schema import DATASETS

    if dataset is None:
        return _REFERENCE_DATASET
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}")
    name = _COST_ALIASES.get(dataset, dataset)
    dataset_info(name)
    return name


def arch_indices(space: str, archs: Sequence[str | int] | np.ndarray) -> np.ndarray:
    """NATS indices of arch strings (or ints, range-checked).

    Args:
        space: ``"tss"`` or ``"sss"``.
        archs: arch strings or NATS indices, or an integer numpy array of indices.

    Returns:
        An int64 array of indices, one per arch.

    Raises:
        InputError: one string instead of a sequence, or a bad entry (the message names it).

    Example:
        >>> arch_indices("sss", ["8:8:8:8:8", 5]).tolist()
        [0, 5]
    """
    sp = _resolve_space(space)
    if isinstance(archs, (str, bytes)):
        raise InputError("archs must be a sequence of arch strings or indices, not one string")
    if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
        out = archs.astype(np.int64, copy=False).reshape(-1)
        bad = np.flatnonzero((out < 0) | (out >= sp.size))
        if bad.size:
            raise InputError(
                f"archs[{bad[0]}] = {out[bad[0]]} is out of range; accepted: 0 <= index < {sp.size}"
            )
        return out
    lookup = sp._lookup()
    out = np.empty(len(archs), dtype=np.int64)
    for i, a in enumerate(archs):
        found = lookup.get(a) if isinstance(a, str) else None
        if found is None:
            try:
                found = sp.index(a.item() if isinstance(a, np.generic) else a)
            except ValueError as err:
                raise InputError(f"archs[{i}]: {err}") from None
        out[i] = found
    return out


def encode(
    space: str, archs: Sequence[str | int] | np.ndarray, dataset: str | None = None
) -> np.ndarray:
    """Feature matrix (n, d) float32 of ``archs`` (arch strings or NATS indices).

    Args:
        space: ``"tss"`` or ``"sss"``.
        archs: arch strings or NATS indices.
        dataset: selects the cost features (see :func:`feature_table`).

    Returns:
        Rows of :func:`feature_table`, a new array.

    Raises:
        InputError: an unknown space or dataset, or a bad arch.

    Example:
        >>> encode("sss", ["64:64:64:64:64"], "cifar10")[0, :5].tolist()
        [64.0, 64.0, 64.0, 64.0, 64.0]
    """
    return feature_table(space, dataset)[arch_indices(space, archs)]
