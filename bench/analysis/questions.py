"""The study's seven research questions (and seed reliability) as one registry, and what they share.

Each question lives in its own module (``rq1`` ... ``rq7``) with a ``run(ctx) -> Result`` and a
``figures(result)``; :class:`Context` carries what every question reads: the benchmark, the source,
whether to reproduce the study's published choices (``as_published``) and whether to keep
flagged values. It caches the frames it loads, so ``calnas analyze all`` reads each table once.

Example:
    >>> from bench import Benchmark
    >>> ctx = Context(Benchmark.open("/tmp/calnas-doc-empty"))
    >>> res = run_question("rq3", ctx)
    >>> res.question, res.inputs[0]["dataset"]
    ('rq3', 'digits')
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.analysis import data as _data
from bench.analysis.kendall import kendall_matrix
from bench.analysis.reliability import DEFAULT_TARGET_TAU, seed_reliability
from bench.analysis.result import Matrix, Result
from bench.errors import InputError
from bench.table.embedded import DEMO_DATASETS

if TYPE_CHECKING:
    import pandas as pd

    from bench.table.benchmark import Benchmark

__all__ = ["Context", "QUESTIONS", "run_question", "module", "SEVEN_METRICS", "label"]

#: name -> (module, one-line question).
QUESTIONS: dict[str, tuple[str, str]] = {
    "rq1": ("bench.analysis.rq1", "Does calibration carry over across datasets?"),
    "rq2": ("bench.analysis.rq2", "Can robustness stand in for calibration?"),
    "rq3": ("bench.analysis.rq3", "How reliable are calibration metrics?"),
    "rq4": ("bench.analysis.rq4", "Does temperature scaling help every model equally?"),
    "rq5": ("bench.analysis.rq5", "How does calibration relate to accuracy?"),
    "rq6": ("bench.analysis.rq6", "What does the bin count do to ECE?"),
    "rq7": ("bench.analysis.rq7", "Which architecture choices help calibration?"),
    "reliability": ("bench.analysis.rq_seeds", "Does a ranking survive a change of seed?"),
}

#: The study's seven metrics (15 bins where binned), in its figures' order.
SEVEN_METRICS: tuple[str, ...] = (
    "pre_ECE_15",
    "pre_ECE_em_15",
    "pre_cwCE_15",
    "pre_KSCE",
    "pre_KDECE",
    "pre_MMCE",
    "pre_cwCE_em_15",
)

_LABELS = {
    "pre_ECE_15": "ECE",
    "pre_ECE_em_15": "ECE_em",
    "pre_cwCE_15": "cwCE",
    "pre_KSCE": "KSCE",
    "pre_KDECE": "KDECE",
    "pre_MMCE": "MMCE",
    "pre_cwCE_em_15": "cwCE_em",
    "pre_MCE_15": "MCE",
    "pgd_Linf_acc1_0": "pgd1",
    "fgsm_Linf_acc1_0": "fgsm1",
    "aa_apgd_ce_Linf_acc1_0": "apgd1",
    "aa_square_Linf_acc1_0": "square1",
    "gaussian_noise": "gauss",
    "shot_noise": "shot",
    "glass_blur": "glass",
    "auc_cifar10c": "aucC10C",
    "auc_svhn": "aucSVHN",
}


def label(column: str) -> str:
    """A short label for figures (``pre_ECE_15`` -> ``ECE``).

    Example:
        >>> label("pre_KSCE"), label("frost")
        ('KSCE', 'frost')
    """
    return _LABELS.get(column, column)


def module(name: str) -> ModuleType:
    """The module of question ``name`` (its ``run`` and ``figures``).

    Args:
        name: ``rq1`` ... ``rq7`` or ``reliability``.

    Returns:
        The imported module.

    Raises:
        InputError: an unknown name.

    Example:
        >>> module("rq6").TITLE
        'What does the bin count do to ECE?'
    """
    if name not in QUESTIONS:
        raise InputError(f"unknown question {name!r}; accepted: {', '.join(QUESTIONS)}")
    return importlib.import_module(QUESTIONS[name][0])


def run_question(name: str, ctx: Context) -> Result:
    """Answer question ``name`` on the context's benchmark.

    Args:
        name: ``rq1`` ... ``rq7`` or ``reliability``.
        ctx: the benchmark and options.

    Returns:
        The question's :class:`Result`.

    Raises:
        InputError: an unknown question.
    """
    return module(name).run(ctx)


@dataclass
class Context:
    """What every question reads (see the module docstring).

    ``dataset`` overrides the dataset of the questions that study one dataset (by default the
    study's, when the table holds it, else the embedded demo's main one, ``fashion8``, when held,
    else the first the table holds).
    """

    bench: Benchmark
    source: str | None = None
    as_published: bool = False
    include_flagged: bool = False
    dataset: str | None = None
    merge_functional: bool = False
    with_reliability: bool = True
    target_tau: float = DEFAULT_TARGET_TAU
    _cache: dict[Any, _data.Loaded] = field(default_factory=dict, repr=False)
    _rel: dict[Any, dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.source is not None:
            held = sorted({src for (_, _, src) in self.bench.tables()})
            if self.source not in held:
                raise InputError(
                    f"no {self.source!r} rows in the benchmark at {self.bench.store.root}; "
                    f"sources present: {', '.join(held) or 'none'}"
                )

    @property
    def keep_flagged(self) -> bool:
        """Flagged values stay in: asked for, or reproducing the study (which had no flags)."""
        return self.include_flagged or self.as_published

    def datasets(self, space: str) -> list[str]:
        """Datasets the benchmark holds for ``space`` (the study's first)."""
        return _data.datasets(self.bench, space, self.source)

    def pick(self, space: str, study: str, res: Result) -> str | None:
        """The dataset a one-dataset question runs on, with a note when it is not the study's."""
        have = self.datasets(space)
        if self.dataset is not None:
            if self.dataset not in have:
                raise InputError(
                    f"the benchmark holds no {space} rows for {self.dataset!r}; it holds: "
                    f"{', '.join(have) or 'none'}"
                )
            if self.dataset != study:
                res.notes.append(f"run on {self.dataset} as asked; the study used {study}")
            return self.dataset
        if study in have:
            return study
        if not have:
            res.notes.append(f"the benchmark holds no {space} table: nothing to answer")
            return None
        # the demo's main table before the others, as a search given no dataset does
        ds = next((d for d in DEMO_DATASETS if d in have), have[0])
        res.notes.append(
            f"the study used {space}/{study}, which this benchmark lacks; answered on {space}/{ds}"
        )
        return ds

    def load(
        self,
        space: str,
        dataset: str,
        columns: Sequence[str],
        res: Result | None = None,
        *,
        hp: int | None = None,
        epoch: int | None = None,
    ) -> _data.Loaded:
        """Load (cached) and, given ``res``, record the inputs and notes in it."""
        key = (space, dataset, tuple(columns), hp, epoch)
        if key not in self._cache:
            self._cache[key] = _data.load(
                self.bench,
                space,
                dataset,
                columns,
                source=self.source,
                include_flagged=self.keep_flagged,
                hp=hp,
                epoch=epoch,
                merge_functional=self.merge_functional,
            )
        got = self._cache[key]
        if res is not None:
            record(res, got)
        return got

    def reliability(self, res: Result, space: str, dataset: str, columns: Sequence[str]) -> None:
        """Add the seed reliability of ``columns`` on (space, dataset) to ``res``."""
        if not self.with_reliability:
            return
        key = (space, dataset, tuple(columns))
        if key not in self._rel:
            self._rel[key] = seed_reliability(
                self.bench,
                space,
                dataset,
                columns,
                source=self.source,
                include_flagged=self.keep_flagged,
                target=self.target_tau,
                merge_functional=self.merge_functional,
            )
        res.reliability[f"{space}/{dataset}"] = self._rel[key]


def record(res: Result, got: _data.Loaded) -> None:
    """Note a loaded frame in ``res``: its facts, missing columns, flagged values left out."""
    facts = got.describe()
    if facts in res.inputs:
        return
    res.inputs.append(facts)
    where = f"{got.space}/{got.dataset}"
    if got.missing:
        res.notes.append(f"{where} lacks {', '.join(got.missing)}: answered without them")
    if got.functional_left_out:
        res.notes.append(
            f"{where}: one row per function class (--merge-functional): "
            f"{got.functional_left_out} rows whose isomorphism class computes the same function "
            "as a smaller one left out"
        )
    if got.left_out:
        parts = ", ".join(f"{c} {n}" for c, n in got.left_out.items())
        res.notes.append(
            f"{where}: flagged values left out ({parts}); --include-flagged keeps them"
        )
    elif got.flagged:
        parts = ", ".join(f"{c} {n}" for c, n in got.flagged.items())
        res.notes.append(f"{where}: flagged values kept ({parts})")


def tau_matrix(
    name: str, frame: pd.DataFrame, columns: Sequence[str], caption: str, labels: Sequence[str]
) -> Matrix:
    """A :class:`Matrix` of the tau-b of ``columns`` of ``frame`` (pairwise complete rows).

    The caption ends with n, the rows a pair shares: one number where every pair shares the
    same rows, else the fewest and the most (two datasets' top-100 unions hold configs that one
    of the tables lacks).

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 3, 2, None]})
        >>> tau_matrix("m", f, ["a", "b"], "two columns", ["a", "b"]).caption
        'two columns (n=3-4 by pair)'
    """
    km = kendall_matrix(frame[list(columns)])
    n = int(km.n.max()) if km.n.size else 0
    pairs = km.n[~np.eye(len(km.n), dtype=bool)]
    fewest = int(pairs.min()) if pairs.size else n
    count = f"n={n}" if fewest == n else f"n={fewest}-{n} by pair"
    return Matrix(name, list(labels), km.tau.tolist(), f"{caption} ({count})", n)


def present(columns: Sequence[str], frame: pd.DataFrame) -> list[str]:
    """The columns of ``columns`` that ``frame`` holds with at least one value."""
    return [c for c in columns if c in frame.columns and frame[c].notna().any()]
