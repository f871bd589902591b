"""``calnas surrogate fit|predict|evaluate`` end to end on the imported NB201 table."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from search.cli import main

TARGET = "valid_acc"  # NB201 200-epoch validation accuracy (fraction)


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_fit_then_predict(nb201_path, tmp_path, capsys) -> None:
    model = tmp_path / "model"
    rc, out, err = _run(
        capsys,
        [
            "surrogate", "fit", "--bench", str(nb201_path), "--space", "tss",
            "--dataset", "cifar10-valid", "--targets", TARGET, "--source", "nb201",
            "--n-train", "300", "--n-members", "3", "--param", "n_estimators=80",
            "--out", str(model), "--format", "json",
        ],
    )  # fmt: skip
    assert rc == 0, err
    info = json.loads(out)
    assert info["n_train"] == 300 and info["targets"] == [TARGET]
    assert (model / "surrogate.json").is_file()

    archs = tmp_path / "archs.txt"
    archs.write_text("11\n|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|\n")
    rc, out, err = _run(
        capsys,
        ["surrogate", "predict", "--model", str(model), "--archs-file", str(archs),
         "--index", "3", "--alpha", "0.2", "--format", "json"],
    )  # fmt: skip
    assert rc == 0, err
    rows = json.loads(out)
    assert [r["index"] for r in rows][:1] == [3] and len(rows) == 3
    for r in rows:
        assert r[f"{TARGET}_lower"] <= r[TARGET] <= r[f"{TARGET}_upper"]

    rc, out, _ = _run(
        capsys, ["surrogate", "predict", "--model", str(model), "--all", "--format", "csv"]
    )
    assert rc == 0
    frame = pd.read_csv(io.StringIO(out))
    assert len(frame) == 15625 and list(frame.columns)[:3] == ["index", "arch", "canonical"]


def test_evaluate_prints_table_and_saves_plot(nb201_path, tmp_path, capsys) -> None:
    plot = tmp_path / "eval.png"
    results = tmp_path / "results.csv"
    rc, out, err = _run(
        capsys,
        [
            "surrogate", "evaluate", "--bench", str(nb201_path), "--dataset", "cifar10-valid",
            "--targets", TARGET, "--source", "nb201", "--sizes", "10,100", "--seeds", "2",
            "--n-members", "2", "--param", "n_estimators=40", "--plot", str(plot),
            "--results", str(results), "--quiet",
        ],
    )  # fmt: skip
    assert rc == 0, err
    header = out.splitlines()[0].split()
    assert header[:5] == ["target", "n_train", "seeds", "n_test", "kendall_tau"]
    assert "coverage" in header and len(out.splitlines()) == 3
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert len(pd.read_csv(results)) == 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["surrogate", "predict", "--model", "/no/such/model", "--index", "1"], "no saved"),
        (["surrogate", "evaluate", "--dataset", "cifar10-valid", "--targets", "x", "--seeds", "0"],
         "--seeds"),
        (["surrogate", "fit", "--dataset", "cifar10-valid", "--targets", "nope",
          "--source", "nb201", "--out", "/tmp/never"], "nope"),
    ],
)  # fmt: skip
def test_errors_are_one_line(nb201_path, capsys, argv, message) -> None:
    if argv[1] == "fit":
        argv = [*argv, "--bench", str(nb201_path)]
    rc, _, err = _run(capsys, argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_predict_needs_archs(nb201_path, tmp_path, capsys) -> None:
    from surrogate.model import Surrogate

    model = Surrogate.from_benchmark(
        nb201_path, "tss", "cifar10-valid", TARGET, source="nb201", n_train=30, n_members=2,
        n_estimators=10,
    ).save(tmp_path / "m")  # fmt: skip
    rc, _, err = _run(capsys, ["surrogate", "predict", "--model", str(model)])
    assert rc == 2 and "--arch" in err
    rc, _, err = _run(capsys, ["surrogate", "predict", "--model", str(model), "--arch", "bad"])
    assert rc == 2 and "archs[0]" in err
