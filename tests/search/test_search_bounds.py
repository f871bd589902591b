"""scripts/search_bounds.py: the query counts its oracle bounds rest on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "search_bounds.py"
_spec = importlib.util.spec_from_file_location("search_bounds", _PATH)
bounds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bounds)

# losses (both minimized): a 3-point true front and 5 dominated points
LOSSES = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0],
                   [0.9, 0.9], [0.8, 1.0], [1.0, 0.8], [0.95, 0.95], [1.0, 1.0]])  # fmt: skip


def test_queries_to_counts_until_the_front_is_found():
    # the dominated points first: the target needs all three front points (each holds > 5 %)
    order = np.array([3, 4, 5, 6, 7, 0, 1, 2])
    assert bounds.queries_to(order, LOSSES, LOSSES) == 8
    assert bounds.queries_to(np.array([0, 1, 2, 3]), LOSSES, LOSSES) == 3
    # an order that never holds the middle point never reaches the target
    assert bounds.queries_to(np.array([0, 2, 3]), LOSSES, LOSSES) == 4


def test_greedy_follows_exact_predictions_and_pays_for_wrong_ones():
    start = np.array([7])
    assert bounds.greedy(LOSSES, LOSSES, start) == 4  # the start, then the three front points
    wrong = LOSSES.copy()
    wrong[:3] += 2.0  # the front predicted worst of all: the dominated points come first
    assert bounds.greedy(LOSSES, wrong, start) == 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--objectives", "acc"], "exactly two objectives"),
        (["--objectives", "acc,nope"], "unknown metric 'nope'"),
        (["--exact", "params_m"], "--exact must be one of"),
        (["--seeds", "0"], "must be positive"),
        (["--dataset", "cifar10"], "holds nothing for tss/cifar10"),
    ],
)
def test_bad_arguments_exit_with_one_clear_line(argv, message):
    with pytest.raises(SystemExit) as info:
        bounds.main([*argv, "--no-random"])
    assert str(info.value).startswith("search_bounds: ") and message in str(info.value)


def test_the_population_is_classes_or_functions(demo):
    from bench.arch.spaces import get_space
    from search.objectives import parse_objectives

    classes, functions = bounds.population(), bounds.population(functional=True)
    assert len(classes) == 6466 and len(functions) == 4930
    assert np.isin(functions, classes).all()  # a function's smallest index is a class's
    objs = parse_objectives("acc,pre_ECE_15")
    answered, merged = bounds.table_losses(demo, "digits", objs, functional=True)
    assert merged.shape == (4930, 2) and np.array_equal(answered, functions)
    # each function's losses are its smallest index's row
    i = int(np.flatnonzero(functions == get_space("tss").function_representatives()[828])[0])
    row = demo.query_many("tss", "digits", [185], ["acc", "pre_ECE_15"])
    assert np.allclose(merged[i], [-row["acc"].iloc[0], row["pre_ECE_15"].iloc[0]])


def test_a_partial_table_bounds_only_the_classes_it_answers(demo, tmp_path):
    import pandas as pd

    from bench.arch.spaces import get_space
    from bench.table.benchmark import Benchmark
    from bench.table.store import Store
    from search.objectives import parse_objectives

    # a real store holding 60 of the 6,466 classes (a build stopped early)
    held = np.sort(get_space("tss").unique_indices())[::100][:60]
    frame = demo.frame("tss", "digits", ["acc", "pre_ECE_15"])
    rows = frame[frame["config"].isin(held)].assign(
        space="tss", dataset="digits", source="computed", hp=4, epoch=4, seed=777
    )
    Store(tmp_path).upsert(pd.DataFrame(rows))
    partial = Benchmark.open(tmp_path, demo=False)
    classes, losses = bounds.table_losses(partial, "digits", parse_objectives("acc,pre_ECE_15"))
    assert np.array_equal(classes, held) and np.isfinite(losses).all()
    learned = bounds.learned_losses(classes, losses)  # NaN labels used to stop XGBoost here
    assert learned.shape == (60, 2) and np.isfinite(learned).all()
    assert 1 <= bounds.learned_bound(losses, learned, 2)[0] <= 60
    # a column the table lacks, or one without a single value: each said in one line
    with pytest.raises(ValueError, match="no source holds post_ECE_15"):
        bounds.table_losses(partial, "digits", parse_objectives("acc,post_ECE_15"))
    half = rows["config"].isin(held[:30])  # each class lacks one of the two
    rows = rows.assign(acc=rows["acc"].where(~half), pre_ECE_15=rows["pre_ECE_15"].where(half))
    Store(tmp_path / "empty").upsert(pd.DataFrame(rows))
    empty = Benchmark.open(tmp_path / "empty", demo=False)
    with pytest.raises(ValueError, match="holds no class with"):
        bounds.table_losses(empty, "digits", parse_objectives("acc,pre_ECE_15"))


def test_constraints_bound_only_the_feasible_classes(demo):
    from search.objectives import parse_objectives

    objs = parse_objectives("acc,pre_ECE_15")
    every, _ = bounds.table_losses(demo, "digits", objs)
    kept, losses = bounds.table_losses(demo, "digits", objs, constraints="acc>=0.5")
    acc = demo.query_many("tss", "digits", list(every), ["acc"])["acc"].to_numpy()
    assert np.array_equal(kept, every[acc >= 0.5]) and 0 < len(kept) < len(every)
    assert (-losses[:, 0] >= 0.5).all()
    hcs, _ = bounds.table_losses(demo, "digits", objs, constraints="hcs>=0.8")
    assert 0 < len(hcs) < len(kept)
    with pytest.raises(ValueError, match="within acc>=2"):
        bounds.table_losses(demo, "digits", objs, constraints="acc>=2")


def test_a_class_and_its_copy_never_sit_in_different_folds(demo, tmp_path):
    import pandas as pd

    from bench.arch.spaces import get_space
    from bench.table.benchmark import Benchmark
    from bench.table.store import Store

    sp = get_space("tss")
    func = sp.function_representatives()
    classes = np.sort(sp.unique_indices())
    # a store like fashion8's: 816 trained, 828 (same function: conv3x3(conv1x1(x))) its copy
    assert func[816] == func[828]
    held = np.sort(np.r_[classes[::50][:120], 816, 828])
    frame = demo.frame("tss", "digits", ["acc", "pre_ECE_15"])
    rows = frame[frame["config"].isin(held)].assign(
        space="tss", dataset="digits", source="computed", hp=4, epoch=4, seed=777, copied=False
    )
    twin = rows["config"] == 828
    rows.loc[twin, ["acc", "pre_ECE_15"]] = rows.loc[rows["config"] == 816, ["acc", "pre_ECE_15"]]
    rows.loc[twin, "copied"] = True
    Store(tmp_path).upsert(pd.DataFrame(rows))
    store = Benchmark.open(tmp_path, demo=False)
    groups = bounds.copy_groups(store, "digits", held, "acc")
    i, j = np.searchsorted(held, [816, 828])
    assert groups[i] == groups[j] == func[816]
    others = np.delete(np.arange(len(held)), [i, j])
    assert np.array_equal(groups[others], held[others])  # trained on their own: their own group
    # the embedded digits table copies no class: every class its own group, the folds as before
    every = np.sort(sp.unique_indices())
    assert np.array_equal(bounds.copy_groups(demo, "digits", every, "acc"), every)
    draws = np.random.default_rng(0).integers(5, size=len(every))
    assert np.array_equal(bounds.folds(every), draws)
    fold = bounds.folds(groups)
    assert fold[i] == fold[j] and len(set(fold)) == 5
