"""The analyses' figures: heatmaps with the numbers in the cells, boxplots, scatter and line plots.

Plain matplotlib objects (``matplotlib.figure.Figure``, the Agg renderer; no pyplot, so no global
state and no display), in one style: readable at a glance, values in percent where the study
plotted percent, every as-published figure saying so in its title.

Example:
    >>> from bench.analysis.result import Matrix
    >>> fig = heatmap(Matrix("m", ["a", "b"], [[1.0, 0.5], [0.5, 1.0]]), "two columns")
    >>> png_bytes(fig)[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from bench.analysis.result import Matrix
from bench.fileio import atomic_write_bytes

__all__ = ["heatmap", "boxplot", "scatter", "lines", "table_figure", "png_bytes", "save", "DPI"]

DPI = 110
_AS_PUBLISHED = " [as published]"


def _title(text: str, as_published: bool) -> str:
    return text + (_AS_PUBLISHED if as_published else "")


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg, :data:`DPI`, tight bounding box).

    Args:
        fig: a figure made by this module.

    Returns:
        The PNG file's bytes.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write the figure as a PNG file (atomically, through :mod:`bench.fileio`).

    Args:
        fig: the figure.
        path: where to write (the folder must exist).

    Returns:
        The path written.
    """
    return atomic_write_bytes(path, png_bytes(fig))


def heatmap(
    matrix: Matrix,
    title: str,
    *,
    as_published: bool = False,
    groups: Sequence[str] | None = None,
) -> Figure:
    """A tau matrix as a heatmap (-1 blue, +1 red) with each value printed in its cell.

    Args:
        matrix: the labels and values.
        title: the figure title.
        as_published: add the as-published mark to the title.
        groups: one group name per label (a dataset, say): lines separate the groups.

    Returns:
        The figure.
    """
    vals = np.array(matrix.values, dtype=float)
    k = len(matrix.labels)
    side = max(4.0, (0.42 if k <= 14 else 0.5) * k + 1.8)
    fig = Figure(figsize=(side + 1.0, side))
    ax = fig.subplots()
    img = ax.imshow(np.ma.masked_invalid(vals), cmap="RdBu_r", vmin=-1, vmax=1)
    fontsize = 9 if k <= 8 else 7
    for i in range(k):
        for j in range(k):
            v = vals[i, j]
            text = "-" if math.isnan(v) else f"{v:.2f}".replace("0.", ".", 1)
            color = "white" if not math.isnan(v) and abs(v) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color=color)
    ax.set_xticks(range(k), matrix.labels, rotation=90, fontsize=fontsize + 1)
    ax.set_yticks(range(k), matrix.labels, fontsize=fontsize + 1)
    if groups is not None:
        edges = [i for i in range(1, k) if groups[i] != groups[i - 1]]
        for e in edges:
            ax.axhline(e - 0.5, color="black", lw=1.2)
            ax.axvline(e - 0.5, color="black", lw=1.2)
    ax.set_title(_title(title, as_published), fontsize=10)
    fig.colorbar(img, ax=ax, fraction=0.046, pad=0.03, label="Kendall tau-b")
    return fig


def boxplot(
    panels: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "",
    percent: bool = True,
    as_published: bool = False,
    medians: bool = True,
) -> Figure:
    """One boxplot panel per (panel title, {group label: values}), two panels per row.

    Args:
        panels: (panel title, {group label: values}) pairs; NaN values are dropped.
        title: the figure title.
        ylabel: the value axis label (" (%)" is added when ``percent``).
        xlabel: the group axis label.
        percent: multiply the values by 100.
        as_published: add the as-published mark to the title.
        medians: print each box's median at it.

    Returns:
        The figure. Far outliers (above 1.5 times the largest upper whisker) are cut off the
        axis, and the panel title says how many.

    Example:
        >>> fig = boxplot([("a", {"5": np.array([0.01, 0.02]), "15": np.array([0.03])})],
        ...               title="t", ylabel="ECE")
        >>> len(fig.axes)
        1
    """
    n = max(1, len(panels))
    widest = max((len(groups) for _, groups in panels), default=1)
    cols = min(2, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(max(4.5, 0.55 * widest + 1.5) * cols, 4.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    scale = 100.0 if percent else 1.0
    for ax, (name, groups) in zip(axes, panels, strict=False):
        labels = list(groups)
        data = [np.asarray(groups[g], dtype=float) * scale for g in labels]
        data = [d[~np.isnan(d)] for d in data]
        keep = [i for i, d in enumerate(data) if d.size]
        if keep:
            ax.boxplot(
                [data[i] for i in keep],
                positions=keep,
                widths=0.6,
                flierprops={"markersize": 2, "alpha": 0.4},
            )
            if medians:
                for i in keep:
                    med = float(np.median(data[i]))
                    ax.text(
                        i, med, f"{med:.2f}", ha="center", va="bottom", fontsize=7, color="darkred"
                    )
        ax.set_xticks(range(len(labels)), labels, rotation=45 if widest > 6 else 0, fontsize=8)
        pooled = np.concatenate([data[i] for i in keep]) if keep else np.zeros(0)
        top = 1.5 * max((_whisker(data[i]) for i in keep), default=0.0)
        if pooled.size and 0 < top < pooled.max():
            # far outliers would squeeze every box flat: cut the axis, and say so
            ax.set_ylim(top=top)
            cut = int((pooled > top).sum())
            name = f"{name}\n({cut} of {pooled.size} points above {top:.3g} not shown)"
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel + (" (%)" if percent else ""))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(_title(title, as_published), fontsize=10)
    fig.tight_layout()
    return fig


def _whisker(values: np.ndarray) -> float:
    """The upper whisker of a boxplot: the largest value within 1.5 IQR of the third quartile."""
    q1, q3 = np.percentile(values, [25, 75])
    return float(values[values <= q3 + 1.5 * (q3 - q1)].max())


def scatter(
    panels: Sequence[dict[str, Any]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    clabel: str | None = None,
    percent: bool = True,
    as_published: bool = False,
) -> Figure:
    """Scatter panels side by side, one colour scale for all.

    Args:
        panels: dicts with ``x``, ``y``, and optionally ``c`` (colour values), ``title``,
            ``xscale``/``yscale`` (override the percent factor of that axis; 1: counts).
        title: the figure title.
        xlabel: the x axis label (" (%)" added when ``percent``).
        ylabel: the y axis label (likewise).
        clabel: the colour bar label.
        percent: multiply values by 100.
        as_published: add the as-published mark to the title.

    Returns:
        The figure.

    Example:
        >>> fig = scatter([{"x": [0.9, 0.95], "y": [0.05, 0.04], "title": "p"}], title="t",
        ...               xlabel="accuracy", ylabel="ECE")
        >>> fig.axes[0].get_title()
        'p'
    """
    n = max(1, len(panels))
    fig = Figure(figsize=(5.2 * n + (0.8 if clabel else 0), 4.3))
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    scale = 100.0 if percent else 1.0
    cs = [p["c"] for p in panels if p.get("c") is not None]
    norm = None
    if cs:
        allc = np.concatenate([np.asarray(c, dtype=float) for c in cs])
        allc = allc[~np.isnan(allc)]
        if allc.size:
            norm = Normalize(float(allc.min()), float(allc.max()))
    mappable = None
    for ax, p in zip(axes, panels, strict=False):
        x = np.asarray(p["x"], dtype=float) * p.get("xscale", scale)
        y = np.asarray(p["y"], dtype=float) * p.get("yscale", scale)
        c = p.get("c")
        size = 4 if x.size > 2000 else 10
        if c is not None and norm is not None:
            order = np.argsort(np.nan_to_num(np.asarray(c, dtype=float), nan=-np.inf))
            mappable = ax.scatter(
                x[order],
                y[order],
                c=np.asarray(c, dtype=float)[order],
                s=size,
                cmap="viridis",
                norm=norm,
                alpha=0.8,
                linewidths=0,
            )
        else:
            ax.scatter(x, y, s=size, alpha=0.5, linewidths=0, color="tab:blue")
        ax.set_title(p.get("title", ""), fontsize=9)
        ax.set_xlabel(xlabel + (" (%)" if percent else ""))
        ax.set_ylabel(ylabel + (" (%)" if percent else ""))
        ax.grid(alpha=0.3)
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes), fraction=0.03, pad=0.02, label=clabel or "")
    fig.suptitle(_title(title, as_published), fontsize=10)
    return fig


def lines(
    panels: Sequence[tuple[str, Sequence[float], Mapping[str, Sequence[float]]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    as_published: bool = False,
) -> Figure:
    """Line panels of Kendall tau side by side, one colour per series name in every panel.

    Args:
        panels: (panel title, x values, {series label: y values}) triples.
        title: the figure title.
        xlabel: the x axis label.
        ylabel: the y axis label (the axis spans -1 to 1).
        as_published: add the as-published mark to the title.

    Returns:
        The figure.

    Example:
        >>> fig = lines([("p", [1, 2], {"acc": [0.1, 0.2]})], title="t", xlabel="K", ylabel="tau")
        >>> fig.axes[0].get_lines()[0].get_label()
        'acc'
    """
    n = max(1, len(panels))
    fig = Figure(figsize=(6.0 * n + 1.6, 4.3))
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    # one colour and style per series name, the same in every panel
    names = list(dict.fromkeys(lab for _, _, series in panels for lab in series))
    palette = [f"C{i % 10}" for i in range(len(names))]
    for ax, (name, x, series) in zip(axes, panels, strict=False):
        for lab, y in series.items():
            i = names.index(lab)
            ax.plot(
                x, y, "-" if i < 10 else "--", marker="o", markersize=3, label=lab, color=palette[i]
            )
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(_title(title, as_published), fontsize=10)
    fig.tight_layout()
    return fig


def table_figure(
    rows: Sequence[Sequence[str]],
    columns: Sequence[str],
    *,
    title: str,
    colors: Mapping[str, str] | None = None,
    as_published: bool = False,
) -> Figure:
    """A table of short strings as a figure.

    Args:
        rows: the cells, row by row.
        columns: the header.
        title: the figure title.
        colors: cell text -> fill colour (cells whose text is absent stay white).
        as_published: add the as-published mark to the title.

    Returns:
        The figure.

    Example:
        >>> fig = table_figure([["1", "c3"]], ["rank", "E1"], title="t", colors={"c3": "#f4a582"})
        >>> fig.axes[0].get_title()
        't'
    """
    fig = Figure(figsize=(1.1 * len(columns) + 1.0, 0.28 * len(rows) + 1.2))
    ax = fig.subplots()
    ax.axis("off")
    fills = [[(colors or {}).get(str(v), "white") for v in r] for r in rows]
    tab = ax.table(
        cellText=[list(map(str, r)) for r in rows],
        colLabels=list(columns),
        cellColours=fills,
        loc="center",
        cellLoc="center",
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    tab.scale(1.0, 1.2)
    ax.set_title(_title(title, as_published), fontsize=10)
    return fig
