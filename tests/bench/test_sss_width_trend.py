"""``scripts/sss_width_trend.py``: the width trend against one seed, on a real SSS build (digits,
one epoch: real networks trained and measured, then the script's report and its CLI)."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from demo_script import REPO, build_script


def trend_script():
    spec = importlib.util.spec_from_file_location(
        "sss_width_trend", REPO / "scripts" / "sss_width_trend.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """An SSS digits store: seeds 1 and 2 on the first 4 networks, seed 1 alone on 8 more."""
    root = tmp_path_factory.mktemp("trend") / "store"
    common = ["--bench", str(root), "--spaces", "sss", "--epochs", "1", "--quiet", "--jobs", "0"]
    build_script().main([*common, "--seeds", "1,2", "--sample", "4"])
    build_script().main([*common, "--seeds", "1", "--sample", "12"])
    return root


@pytest.mark.slow
def test_the_trend_is_fitted_outside_the_sample_and_scored_on_it(store, capsys):
    script = trend_script()
    rep = script.trend_report(store, "digits", (1, 2), ["acc", "pre_ECE_15"], epochs=1)
    assert rep["metric"].tolist() == ["acc", "pre_ECE_15"]
    assert (rep["n_fit"] == 8).all() and (rep["n_sample"] == 4).all() and (rep["epoch"] == 1).all()
    for name in ("tau_seeds", "tau_trend_b", "tau_trend_a"):
        assert rep[name].between(-1, 1).all()
        assert (rep[f"{name}_lo"] <= rep[f"{name}_hi"]).all()
    # the trend is the least-squares fit of the fit networks' seed-1 values on the widths
    from bench.table.store import Store

    df = Store(store).read("sss", "digits", "computed")
    df = df[(df["seed"] == 1) & (df["epoch"] == 1)].set_index("config")
    sample = df.index.intersection(
        Store(store).read("sss", "digits", "computed").query("seed == 2")["config"]
    )
    fit = df.drop(index=sample)
    x = np.column_stack([np.ones(len(fit)), script.widths(fit["arch"])])
    coef = np.linalg.lstsq(x, fit["acc"].to_numpy(np.float64), rcond=None)[0]
    got = rep.set_index("metric").loc["acc", [f"coef_{k}" for k in range(1, 6)]].to_numpy()
    np.testing.assert_allclose(got.astype(np.float64), coef[1:], rtol=1e-9)
    script.main(["--bench", str(store), "--dataset", "digits", "--seeds", "1,2", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "sss/digits at epoch 1: width trend fitted on seed 1 of 8 networks" in out
    assert re.search(r"\n  acc +-?[0-9.]+ \[", out)


@pytest.mark.slow
def test_too_few_networks_or_no_table_is_one_clear_line(store, tmp_path):
    script = trend_script()
    with pytest.raises(SystemExit, match="holds no sss/digits table: build it first"):
        script.trend_report(tmp_path / "empty", "digits")
    with pytest.raises(SystemExit, match=r"need seeds 1 and 3 on 3 networks or more .* holds 0"):
        script.trend_report(store, "digits", (1, 3), epochs=1)
    with pytest.raises(SystemExit, match=r"holds 0 and 0 at epoch 5"):  # an epoch not measured
        script.trend_report(store, "digits", (1, 2), epochs=1, epoch=5)
    with pytest.raises(SystemExit):
        script.main(["--bench", str(store), "--seeds", "1"])  # argparse: two seeds
