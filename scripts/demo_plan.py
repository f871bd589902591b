"""What the demo build builds: its seeds, schedules, samples and order (used by
``build_demo_bench.py`` and ``demo_export.py``; see ``build_demo_bench.py`` for the protocol).

Example (from the repository root, ``scripts`` on the path):
    >>> [len(c) > 0 for c in chunks("sss", targets("sss"), 1024)]
    [True, True]
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.arch.spaces import get_space  # noqa: E402
from bench.compute import ComputeConfig  # noqa: E402

SEED = 777
SSS_SAMPLE_SEED = 2024
SSS_SAMPLE_SIZE = 2048
TSS_EPOCHS, TSS_FIDELITIES = 4, (1, 2)
SSS_EPOCHS, SSS_FIDELITIES = 2, (1,)
#: (epochs, fidelities) per dataset and space; --epochs replaces the epochs (fashion8 then
#: measures at a third and two thirds of them)
SCHEDULES = {
    "digits": {"tss": (TSS_EPOCHS, TSS_FIDELITIES), "sss": (SSS_EPOCHS, SSS_FIDELITIES)},
    # fashion8 SSS: 4 epochs, since an SSS network costs 4.5x a TSS cell there (12 epochs: about
    # 30 CPU-s each, 9 h for the plan's 2,176 trainings on 2 cores; 4 epochs: 14 s; compute.md)
    "fashion8": {"tss": (12, (4, 8)), "sss": (4, (1, 2))},
}
#: training images per class (--per-class's default; None: the whole split or subset)
PER_CLASS: dict[str, int | None] = {"digits": None, "fashion8": 250}
#: whether TSS trains one class per function and copies it (--copy-functional's default)
COPY_FUNCTIONAL = {"digits": False, "fashion8": True}


@dataclass(frozen=True)
class Step:
    """One step of a full build: ``seeds`` for the first ``sample`` networks (TSS: classes) of
    the fixed order of ``space`` (None: all of them)."""

    space: str
    seeds: tuple[int, ...]
    sample: int | None = None


#: The full build of each dataset, in order: what ``build_demo_bench.py --dataset D`` builds when
#: neither --seeds nor --sample is given (--spaces keeps the steps of the spaces it names).
#: fashion8: a third seed on the first 3,500 TSS classes (the seven chunks that a build planned
#: with three seeds everywhere had reached when its throughput made the rest unaffordable; see
#: docs/compute.md), two seeds for every function, a fourth on the first 500 (so two independent
#: 2-seed means can be compared), SSS one seed for the 2,048 networks and a second on the first
#: 128 (for its seed reliability).
PLANS = {
    "digits": (Step("tss", (SEED,)), Step("sss", (SEED,))),
    "fashion8": (
        Step("tss", (779,), sample=3500),
        Step("tss", (777, 778)),
        Step("tss", (780,), sample=500),
        Step("sss", (777, 778), sample=128),
        Step("sss", (777,)),
    ),
}
#: The seeds each shipped table holds (the export's default; fashion8 TSS: 777 and 778 for every
#: network, 779 where the plan trained it). The other seeds of the store only measure the
#: reliability recorded with the table.
SHIPPED_SEEDS = {
    "digits": {"tss": (SEED,), "sss": (SEED,)},
    "fashion8": {"tss": (777, 778, 779), "sss": (777,)},
}
#: the metrics whose seed reliability --reliability reports
RELIABILITY_METRICS = ("acc", "pre_ECE_15", "post_ECE_15", "pre_NLL", "post_NLL", "pre_Brier")
#: at most this many disjoint-halves splits are averaged (10 seeds would give 126)
MAX_SPLITS = 35
BATCH = 128
ORDER_SEED = 0  # order of computation (random, so a partial build is an unbiased subset)
CHUNK = 500  # networks (TSS: classes) built with every seed before the next ones
#: where the export writes each dataset's table and figure
OUT = {
    "digits": REPO / "bench" / "data" / "demo.parquet",
    "fashion8": REPO / "bench" / "data" / "fashion8.parquet",
}
FIGURE = {
    "digits": REPO / "docs" / "demo_tss_ece_vs_acc.png",
    "fashion8": REPO / "docs" / "demo_fashion8.png",
}
#: the most each dataset's file may weigh, in MB: together at most 30 MB of package data
MAX_MB = {"digits": 10.0, "fashion8": 20.0}


def plan_spaces(dataset: str) -> list[str]:
    """The spaces a full build of ``dataset`` builds, in order."""
    return list(dict.fromkeys(step.space for step in PLANS[dataset]))


def sss_sample(size: int = SSS_SAMPLE_SIZE, seed: int = SSS_SAMPLE_SEED) -> np.ndarray:
    """The documented SSS sample: the 8 uniform widths, then others uniformly at random."""
    sss = get_space("sss")
    uniform = [sss.index(":".join([str(w)] * 5)) for w in sss.choices()]
    rest = np.setdiff1d(np.arange(sss.size), uniform)
    drawn = np.random.default_rng(seed).choice(rest, size - len(uniform), replace=False)
    return np.concatenate([uniform, drawn]).astype(np.int64)


def configs(
    dataset: str = "digits",
    epochs: int | None = None,
    seed: int = SEED,
    per_class: int | None = None,
    copy_functional: bool | None = None,
) -> dict[str, ComputeConfig]:
    """The build's config per space: the dataset's schedule (``epochs`` replaces its length;
    fashion8 then measures at a third and two thirds of it too); ``per_class``: fashion8's
    training images per class (None: :data:`PER_CLASS`'s); ``copy_functional``: TSS trains one
    class per function and copies its rows to the other classes of the function (None:
    :data:`COPY_FUNCTIONAL`'s)."""
    per_class = PER_CLASS[dataset] if per_class is None else per_class
    copy = COPY_FUNCTIONAL[dataset] if copy_functional is None else copy_functional
    out = {}
    for space, (default_epochs, fids) in SCHEDULES[dataset].items():
        n = default_epochs if epochs is None else epochs
        if dataset == "fashion8":
            fids = (n // 3, 2 * n // 3)
        out[space] = ComputeConfig(
            space,
            dataset,
            epochs=n,
            fidelities=tuple(f for f in fids if 1 <= f < n),
            seed=seed,
            batch_size=BATCH,
            threads=1,
            train_per_class=per_class,
            copy_functional=copy,
        )
    return out


def targets(space: str, sample: int | None = None) -> list[int]:
    """The fixed random order of the build; ``sample``: its first N networks (TSS: classes)."""
    rng = np.random.default_rng(ORDER_SEED)
    if space == "tss":
        order = rng.permutation(get_space("tss").size)
        return (
            order.tolist() if sample is None else order[: _class_ends(order)[sample - 1]].tolist()
        )
    sample_ = sss_sample()
    # the uniform widths first (they anchor the figure), the rest in random order
    order_sss = [*sample_[:8].tolist(), *rng.permutation(sample_[8:]).tolist()]
    return order_sss if sample is None else order_sss[:sample]


def chunks(space: str, order: list[int], size: int) -> list[list[int]]:
    """``order`` cut into runs of ``size`` networks (TSS: ``size`` classes, each run ending
    where the next class's first member would start); the last run may be shorter."""
    if space != "tss":
        return [order[i : i + size] for i in range(0, len(order), size)]
    ends = _class_ends(np.asarray(order))
    cuts = [0, *ends[size - 1 :: size].tolist()]
    if cuts[-1] < len(order):
        cuts.append(len(order))
    return [order[a:b] for a, b in itertools.pairwise(cuts)]


def _class_ends(order: np.ndarray) -> np.ndarray:
    """For n = 1, 2, ...: the length of the shortest prefix of ``order`` that meets n TSS classes
    (compute writes a whole class when it meets one of its members)."""
    reps = get_space("tss").representatives()[order]
    _, first = np.unique(reps, return_index=True)
    return np.sort(first) + 1
