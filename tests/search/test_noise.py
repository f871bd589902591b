"""noise="seed": each query answered by one seed's row, drawn per class; scored on the mean.

The multi-seed table is real: the demo table's TSS digits rows of a few hundred classes, written
into a temporary store (as tss/cifar10, source computed) under three seeds whose values and
training times differ per class, plus a few classes stored only as a mean (seed -1), as NB201
stores the cells it trained with two seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optuna.trial import TrialState

from bench.arch.spaces import get_space
from bench.errors import InputError
from bench.table.benchmark import Benchmark
from bench.table.store import Store
from search import run_search
from search.cli import main
from search.config import SearchConfig
from search.indicators import normalized_hypervolume, pareto_mask, reference_point, to_losses
from search.noise import draw
from search.problem import load_problem, resolve_multi_fidelity

SEEDS = (777, 888, 999)
N_CLASSES, N_MEAN_ONLY = 300, 20
OBJ = "acc,pre_ECE_15"
COLS = ("acc", "pre_ECE_15", "train_time_s")


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory, demo: Benchmark) -> tuple[Path, dict]:
    """(store path, seed -> frame indexed by config with the COLS that seed holds)."""
    path = tmp_path_factory.mktemp("multiseed")
    reps = get_space("tss").unique_indices()[: N_CLASSES + N_MEAN_ONLY]
    base = demo.frame("tss", "digits", list(COLS)).set_index("config").loc[reps, list(COLS)]
    rng = np.random.default_rng(0)
    by_seed: dict[int, pd.DataFrame] = {}
    for k, seed in enumerate(SEEDS):
        shift = rng.uniform(-0.1, 0.1, len(reps))  # per class: the seeds disagree by class
        by_seed[seed] = pd.DataFrame(
            {
                "acc": np.clip(base["acc"].to_numpy() + shift, 0.0, 1.0),
                "pre_ECE_15": np.clip(base["pre_ECE_15"].to_numpy() - shift / 2, 0.0, 1.0),
                "train_time_s": base["train_time_s"].to_numpy() * (1 + k) + 10 * k,
            },
            index=pd.Index(reps, name="config"),
        ).iloc[:N_CLASSES]
    by_seed[-1] = base.iloc[N_CLASSES:].copy()  # classes stored only as their mean
    key = {"space": "tss", "dataset": "cifar10", "source": "computed", "hp": 200, "epoch": 200}
    rows = [f.reset_index().assign(seed=s, **key) for s, f in by_seed.items()]
    Store(path).upsert(pd.concat(rows, ignore_index=True))
    return path, by_seed


def _bench(multi: tuple[Path, dict]) -> Benchmark:
    return Benchmark.open(multi[0], demo=False)


def _mean(by_seed: dict[int, pd.DataFrame], rep: int, col: str) -> float:
    vals = [f.loc[rep, col] for f in by_seed.values() if rep in f.index]
    return float(np.mean(vals))


def _run(bm: Benchmark, seed: int, trials: int = 40, **kw) -> object:
    return run_search("tss", "cifar10", OBJ, "random", trials=trials, seed=seed, bench=bm,
                      noise="seed", **kw)  # fmt: skip


def test_the_table_holds_the_seeds(multi):
    bm = _bench(multi)
    assert bm.seeds("tss", "cifar10") == [-1, 777, 888, 999]
    problem = load_problem(bm, SearchConfig("tss", "cifar10", OBJ, trials=5, noise="seed"))
    assert problem.noisy is not None and problem.noisy.seeds.tolist() == [-1, 777, 888, 999]


def test_a_seeded_run_repeats_and_another_seed_draws_differently(multi):
    bm = _bench(multi)
    a, b = _run(bm, seed=3), _run(bm, seed=3)
    assert a.report == b.report and a.queries == b.queries
    assert a.report["noise"] == "seed" and a.report["study_name"].endswith(":noise-seed")
    problem = load_problem(bm, SearchConfig("tss", "cifar10", OBJ, trials=5, noise="seed"))
    classes = np.unique(problem.reps[np.isfinite(problem.signal["acc"])])
    drawn_3 = [draw(problem.noisy, 3, int(r))[0] for r in classes]
    drawn_4 = [draw(problem.noisy, 4, int(r))[0] for r in classes]
    assert drawn_3 != drawn_4  # another run seed: other seeds answer
    assert [q["seed"] for q in a.queries] == [draw(problem.noisy, 3, q["index"])[0]
                                              for q in a.queries]  # fmt: skip


def test_each_answer_is_one_seeds_row_and_charge(multi):
    bm, by_seed = _bench(multi), multi[1]
    res = _run(bm, seed=1, trials=60)
    seen: dict[int, tuple] = {}
    for t in res.study.get_trials(deepcopy=False, states=[TrialState.COMPLETE]):
        rep, seed = t.user_attrs["rep"], t.user_attrs["seed"]
        row = by_seed[seed].loc[rep]
        assert t.values == [row["acc"], row["pre_ECE_15"]]
        assert t.user_attrs["charge_s"] == row["train_time_s"]
        # a repeat of a class (cached or not) sees the very same observation
        assert seen.setdefault(rep, (seed, t.values)) == (seed, t.values)
    drawn = {q["seed"] for q in res.queries}
    assert {777, 888, 999} <= drawn  # the seeds vary across classes
    assert res.report["simulated_seconds"] == pytest.approx(
        sum(by_seed[q["seed"]].loc[q["index"], "train_time_s"] for q in res.queries)
    )


def test_the_report_scores_the_mean_over_seeds(multi):
    bm, by_seed = _bench(multi), multi[1]
    res = _run(bm, seed=2, trials=60)
    problem = load_problem(bm, SearchConfig("tss", "cifar10", OBJ, trials=5, noise="seed"))
    for q in res.queries:
        for col in ("acc", "pre_ECE_15"):
            assert q["values"][col] == pytest.approx(_mean(by_seed, q["index"], col))
    # the front of the queried classes by their mean values is the report's front
    objs = problem.objectives
    vals = np.array([[q["values"]["acc"], q["values"]["pre_ECE_15"]] for q in res.queries])
    mask = pareto_mask(to_losses(vals, objs))
    front = sorted(q["index"] for q, m in zip(res.queries, mask, strict=True) if m)
    assert sorted(r["index"] for r in res.report["pareto_front"]) == front
    _, true_vals = problem.true_front()
    ref = reference_point(true_vals, objs)
    nhv = normalized_hypervolume(vals[mask], true_vals, objs, ref)
    assert res.report["normalized_hv"] == pytest.approx(nhv)
    assert res.report["hv_history"][-1] == pytest.approx(nhv)


def test_bad_noise_options_are_refused(multi, demo):
    with pytest.raises(InputError, match="unknown noise mode 'bogus'; accepted: None"):
        SearchConfig("tss", "cifar10", OBJ, trials=5, noise="bogus")
    with pytest.raises(InputError, match="needs backend='table', not 'surrogate'"):
        SearchConfig("tss", "cifar10", OBJ, trials=5, backend="surrogate", noise="seed")
    with pytest.raises(InputError, match="not combined with multi-fidelity"):
        SearchConfig("tss", "digits", "hcs", "tpe", trials=5, multi_fidelity=True, noise="seed")
    with pytest.raises(InputError, match=r"several seeds .* tss/digits table holds one \(seed 777"):
        run_search("tss", "digits", OBJ, "random", trials=5, bench=demo, noise="seed")
    # multi-fidelity is off under noise when left to decide (the demo table has epochs 1, 2, 4)
    plain = SearchConfig("tss", "digits", "hcs", "tpe", trials=5)
    problem = load_problem(demo, plain)
    assert resolve_multi_fidelity(plain, problem) is True
    noisy = SearchConfig("tss", "digits", "hcs", "tpe", trials=5, noise="seed")
    assert resolve_multi_fidelity(noisy, problem) is False


def test_a_study_keeps_its_noise_mode(multi, tmp_path):
    bm = _bench(multi)
    journal = str(tmp_path / "s.journal")
    first = _run(bm, seed=5, trials=10, storage=journal, study_name="s")
    resumed = _run(bm, seed=5, trials=20, storage=journal, study_name="s")
    seeds = {q["index"]: q["seed"] for q in resumed.queries}
    assert all(seeds[q["index"]] == q["seed"] for q in first.queries)
    with pytest.raises(InputError, match="already holds a different search"):
        run_search("tss", "cifar10", OBJ, "random", trials=20, seed=5, bench=bm,
                   storage=journal, study_name="s")  # fmt: skip


def test_cli_noise_seed(multi, demo_path, tmp_path, capsys):
    args = ["--dataset", "cifar10", "--objectives", OBJ, "--noise", "seed"]
    rc = main(["search", "run", "--bench", str(multi[0]), *args, "--strategy", "random",
               "--trials", "15", "--format", "json", "--out", str(tmp_path / "o")])  # fmt: skip
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["noise"] == "seed" and rep["queries"] == 15
    rc = main(["search", "compare", "--bench", str(multi[0]), *args, "--strategies", "random",
               "--runs", "2", "--budgets", "5", "--format", "json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and rows[0]["strategy"] == "random"
    rc = main(["search", "run", "--bench", str(demo_path), "--dataset", "digits", "--noise",
               "seed", "--trials", "5", "--out", str(tmp_path / "d")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "several seeds per architecture" in err


@pytest.mark.slow
def test_mpls_denoise_fronts_the_models_view_and_repeats(multi):
    bm = _bench(multi)

    def proposals(strategy: str, seed: int = 0) -> list[int]:
        res = run_search("tss", "cifar10", OBJ, strategy, trials=30, seed=seed, bench=bm,
                         noise="seed")  # fmt: skip
        return [q["index"] for q in res.queries]

    plain, denoised = proposals("mpls"), proposals("mpls:denoise=True")
    assert denoised == proposals("mpls:denoise=True")  # seeded: repeats exactly
    # the start design (10 classes) is the same; once the model guides, the fronts differ
    assert denoised[:10] == plain[:10] and denoised != plain
    with pytest.raises(InputError, match="denoise must be True or False"):
        run_search("tss", "cifar10", OBJ, "mpls:denoise=1", trials=2, seed=0, bench=bm,
                   noise="seed")  # fmt: skip
