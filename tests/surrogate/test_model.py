"""surrogate.model on the real NB201 cifar10 table: quality, intervals, persistence, errors."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import xgboost as xgb
from scipy.stats import kendalltau

from bench.arch.spaces import get_space
from bench.errors import InputError
from search.cli import main
from surrogate.model import DEFAULT_MEMBERS, Surrogate, _conformal_quantile

TARGET = "valid_acc"  # NB201 200-epoch validation accuracy (fraction)

TSS = get_space("tss")
DS = "cifar10-valid"  # NB201's cifar10 column is NATS-Bench's cifar10-valid run


@pytest.fixture(scope="module")
def fitted(cifar10_frame, split) -> Surrogate:
    train, _ = split
    rows = cifar10_frame.iloc[train]
    return Surrogate("tss", TARGET, dataset="cifar10-valid", seed=0).fit(
        rows["config"].to_numpy(), rows[TARGET].to_numpy()
    )


def test_quality_and_coverage_on_the_rest_of_the_space(fitted, cifar10_frame, split) -> None:
    """The issue's bar: 1,000 training cells, tau >= 0.80 and 85-95% coverage on the rest."""
    _, rest = split
    y = cifar10_frame[TARGET].to_numpy()[rest]
    mean, lower, upper = fitted.predict_with_interval(cifar10_frame["config"].to_numpy()[rest])
    assert mean.shape == lower.shape == upper.shape == (len(rest), 1)
    tau = kendalltau(y, mean[:, 0]).statistic
    assert tau >= 0.80, tau
    coverage = ((y >= lower[:, 0]) & (y <= upper[:, 0])).mean()
    assert 0.85 <= coverage <= 0.95, coverage
    assert (lower <= mean).all() and (mean <= upper).all()


def test_predict_accepts_strings_and_indices(fitted) -> None:
    by_str = fitted.predict([TSS.arch(11), TSS.arch(7)])
    np.testing.assert_array_equal(by_str, fitted.predict([11, 7]))
    np.testing.assert_array_equal(by_str[:, 0], fitted.predict_with_interval([11, 7])[0][:, 0])


def test_interval_width_grows_with_coverage(fitted) -> None:
    lo50, hi50 = fitted.predict_interval(range(200), alpha=0.5)
    lo99, hi99 = fitted.predict_interval(range(200), alpha=0.01)
    assert ((hi99 - lo99) >= (hi50 - lo50)).all() and ((hi99 - lo99) > (hi50 - lo50)).any()


def test_same_seed_same_model(cifar10_frame) -> None:
    rows = cifar10_frame.iloc[:300]
    kw = {"dataset": "cifar10-valid", "n_members": 2, "n_estimators": 60}
    a = Surrogate("tss", TARGET, seed=3, **kw).fit(rows["config"], rows[TARGET])
    b = Surrogate("tss", TARGET, seed=3, **kw).fit(rows["config"], rows[TARGET])
    c = Surrogate("tss", TARGET, seed=4, **kw).fit(rows["config"], rows[TARGET])
    probe = np.arange(0, 15625, 50)
    np.testing.assert_array_equal(a.predict_interval(probe)[0], b.predict_interval(probe)[0])
    assert not np.array_equal(a.predict_interval(probe)[0], c.predict_interval(probe)[0])


def test_several_targets_and_from_benchmark(nb201) -> None:
    frame = nb201.frame("tss", "cifar10-valid", [TARGET], source="nb201")
    other = next(
        c
        for c in nb201.columns("tss", "cifar10-valid", "nb201")
        if c not in (TARGET, "config", "arch") and frame is not None and c.endswith("_s")
    )
    model = Surrogate.from_benchmark(
        nb201,
        "tss",
        "cifar10-valid",
        [TARGET, other],
        source="nb201",
        n_train=400,
        seed=1,
        n_members=3,
        n_estimators=80,
    )
    assert model.targets == (TARGET, other) and model.n_train_ == 400
    assert len(set(model.train_indices_.tolist())) == 400
    mean, lower, upper = model.predict_with_interval(np.arange(15625))
    assert mean.shape == (15625, 2) and np.isfinite(lower).all() and np.isfinite(upper).all()
    # the second target lives on its own scale: predictions stay in its range
    truth = nb201.frame("tss", "cifar10-valid", [other], source="nb201")[other].to_numpy()
    assert truth.min() * 0.5 <= np.median(mean[:, 1]) <= truth.max() * 1.5


def test_save_load_roundtrip(fitted, tmp_path) -> None:
    path = fitted.save(tmp_path / "model")
    files = sorted(p.name for p in path.iterdir())
    members = [f"member_{k}.ubj" for k in range(DEFAULT_MEMBERS)]
    assert files == ["mean.ubj", *members, "surrogate.json"]
    meta = json.loads((path / "surrogate.json").read_text())
    assert (meta["space"], meta["dataset"], meta["targets"]) == ("tss", "cifar10-valid", [TARGET])
    xgb.Booster().load_model(str(path / "mean.ubj"))  # plain XGBoost UBJSON
    loaded = Surrogate.load(path)
    probe = np.arange(0, 15625, 7)
    np.testing.assert_array_equal(loaded.predict(probe), fitted.predict(probe))
    for a, b in zip(
        loaded.predict_interval(probe, 0.2), fitted.predict_interval(probe, 0.2), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # saving again replaces the model in place and leaves no temporary files behind
    fitted.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_files_follow_the_umask(tmp_path, umask) -> None:
    """A saved model gets the modes any file the user writes gets (mkstemp/mkdtemp gave 0600)."""
    small = Surrogate("sss", "acc", n_members=1, n_estimators=3)
    small.fit(["8:8:8:8:8", "64:64:64:64:64", "8:64:8:64:8"], [0.5, 0.9, 0.6])
    old = os.umask(umask)
    try:
        path = small.save(tmp_path / "model")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()}
    assert modes == {n: 0o666 & ~umask for n in ("mean.ubj", "member_0.ubj", "surrogate.json")}


def test_failed_save_keeps_the_old_model(tmp_path, monkeypatch) -> None:
    small = Surrogate("sss", "acc", n_members=1, n_estimators=3)
    small.fit(["8:8:8:8:8", "64:64:64:64:64", "8:64:8:64:8"], [0.5, 0.9, 0.6])
    path = small.save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("surrogate.persist.json.dumps", fail)
    with pytest.raises(OSError, match="disk full"):
        small.save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp folder left


def test_load_refuses_damaged_models(fitted, tmp_path) -> None:
    path = fitted.save(tmp_path / "m")
    raw = bytearray((path / "member_2.ubj").read_bytes())
    raw[-10] ^= 0xFF
    (path / "member_2.ubj").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum"):
        Surrogate.load(path)
    (path / "member_2.ubj").unlink()
    with pytest.raises(FileNotFoundError, match=r"member_2\.ubj"):
        Surrogate.load(path)
    (path / "surrogate.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Surrogate.load(path)
    with pytest.raises(FileNotFoundError, match="no saved surrogate"):
        Surrogate.load(tmp_path / "absent")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not a saved surrogate"):
        fitted.save(tmp_path / "file.txt")


def test_errors(cifar10_frame, nb201) -> None:
    rows = cifar10_frame.iloc[:50]
    archs, y = rows["config"].to_numpy(), rows[TARGET].to_numpy()
    small = {"dataset": "cifar10-valid", "n_members": 2, "n_estimators": 5}
    with pytest.raises(ValueError, match="not fitted yet"):
        Surrogate("tss", TARGET, **small).predict([0])
    with pytest.raises(ValueError, match="empty training set"):
        Surrogate("tss", TARGET, **small).fit([], [])
    bad_y = y.copy()
    bad_y[7] = np.nan
    with pytest.raises(ValueError, match=r"NaN/inf.*row 7"):
        Surrogate("tss", TARGET, **small).fit(archs, bad_y)
    with pytest.raises(ValueError, match="shape"):
        Surrogate("tss", TARGET, **small).fit(archs, y[:-1])
    with pytest.raises(ValueError, match="target column"):
        Surrogate("tss", ["nope"], **small).fit(archs, rows)
    with pytest.raises(ValueError, match=r"archs\[1\].*unknown operation"):
        Surrogate("tss", TARGET, **small).fit(
            [TSS.arch(0), "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"], y[:2]
        )
    model = Surrogate("tss", TARGET, **small).fit(archs, y)
    with pytest.raises(ValueError, match="out of range"):
        model.predict([15625])
    with pytest.raises(ValueError, match="alpha"):
        model.predict_interval([0], alpha=1.5)
    with pytest.raises(ValueError, match="unknown search space"):
        Surrogate("nb101", TARGET)
    with pytest.raises(ValueError, match="unknown dataset"):
        Surrogate("tss", TARGET, dataset="mnist")
    with pytest.raises(ValueError, match="repeat"):
        Surrogate("tss", [TARGET, TARGET])
    with pytest.raises(ValueError, match="n_estimators"):
        Surrogate("tss", TARGET, n_estimators=0)
    with pytest.raises(ValueError, match="seed="):
        Surrogate("tss", TARGET, random_state=1)
    with pytest.raises(ValueError, match=r"not columns|unknown"):
        Surrogate.from_benchmark(nb201, "tss", DS, ["no_such_metric"], source="nb201")
    with pytest.raises(ValueError, match="n_train"):
        Surrogate.from_benchmark(nb201, "tss", DS, [TARGET], source="nb201", n_train=10**6)
    with pytest.raises(ValueError, match="no out-of-bag residuals"):
        Surrogate("tss", TARGET, dataset="cifar10-valid", n_members=0, n_estimators=5).fit(
            archs, y
        ).predict_interval([0])


def test_conformal_quantile_small_samples() -> None:
    scores = np.arange(1.0, 11.0)  # 10 scores: (10 + 1) * 0.9 = 9.9 -> 10th smallest
    assert _conformal_quantile(scores, 0.1) == 10.0
    assert _conformal_quantile(scores, 0.5) == 6.0  # ceil(5.5) = 6th
    assert _conformal_quantile(scores[:3], 0.1) == 3.0  # too few: the largest stands in
    with pytest.raises(ValueError, match="no out-of-bag residuals"):
        _conformal_quantile(np.empty(0), 0.1)


def test_tiny_training_sets_still_give_intervals(cifar10_frame) -> None:
    rows = cifar10_frame.iloc[:5]
    model = Surrogate("tss", TARGET, dataset="cifar10-valid", n_members=4, n_estimators=20)
    lo, hi = model.fit(rows["config"], rows[TARGET]).predict_interval(np.arange(100))
    assert np.isfinite(lo).all() and (hi >= lo).all()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda meta: meta.pop("features"), "lacks a valid 'features' field"),
        (lambda meta: meta.update(files={}), "lists no booster files"),
        (lambda meta: meta.update(n_train="12"), "lacks a valid 'n_train' field"),
    ],
)
def test_a_damaged_model_file_is_refused_by_name(tmp_path, capsys, damage, message) -> None:
    s = Surrogate("sss", "acc", n_members=1, n_estimators=5)
    s.fit(["8:8:8:8:8", "64:64:64:64:64"], [0.5, 0.9])
    path = s.save(tmp_path / "m")
    meta = json.loads((path / "surrogate.json").read_text())
    damage(meta)
    (path / "surrogate.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=message):
        Surrogate.load(path)
    code = main(["surrogate", "predict", "--model", str(path), "--index", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_from_benchmark_trains_on_measured_networks_not_copies(fresh_home) -> None:
    from bench.table.benchmark import Benchmark

    # the digits demo table: 15,625 rows, 6,466 trained classes and 9,159 copies of them
    model = Surrogate.from_benchmark(Benchmark.open(), "tss", "digits", ["acc"], n_members=2,
                                     n_estimators=10)  # fmt: skip
    trained = np.asarray(model.train_indices_)
    assert model.n_train_ == 6466 and np.array_equal(
        np.sort(trained), np.sort(get_space("tss").unique_indices())
    )
