"""search.report: what it writes (modes from the umask, atomically) and how it labels things."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from bench.fileio import atomic_write_bytes, atomic_write_text
from search.report import axis_label, describe_table, write_report


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_honours_the_umask_and_replaces(tmp_path, umask_027):
    path = atomic_write_text(tmp_path / "a.json", "1\n")
    assert path.read_text() == "1\n" and _mode(path) == 0o666 & ~umask_027 == 0o640
    atomic_write_bytes(path, b"2\n")
    assert path.read_bytes() == b"2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp file left
    os.umask(0o022)
    assert _mode(atomic_write_bytes(tmp_path / "b.png", b"x")) == 0o644


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
    with pytest.raises(TypeError, match="bytes"):
        atomic_write_bytes(target, "text")


class _Result:
    """What write_report needs of a SearchResult, with two badly trained outliers."""

    def __init__(self, objectives=("acc:max", "pre_ECE_15:min")):
        rng = np.random.default_rng(0)
        acc = np.r_[rng.uniform(0.7, 0.95, 60), 0.2, 0.21]
        ece = np.r_[rng.uniform(0.02, 0.15, 60), 0.65, 0.66]
        self.queries = [{"index": i, "arch": f"a{i}", "values": {"acc": a, "pre_ECE_15": e}}
                        for i, (a, e) in enumerate(zip(acc, ece, strict=True))]  # fmt: skip
        order = np.argsort(-acc)
        front, best = [], np.inf
        for i in order:
            if ece[i] < best:
                front.append(self.queries[i])
                best = ece[i]
        self.true_front = front
        pick = dict(front[1], hcs=0.9)
        self.report = {"space": "tss", "dataset": "digits", "objectives": list(objectives),
                       "strategy": "random", "queries": 62, "normalized_hv": 0.8,
                       "pareto_front": front[::2], "hcs_pick": pick}  # fmt: skip
        self.hv_history = np.linspace(0.1, 0.97, 62)


@pytest.mark.parametrize("objectives", [("acc:max", "pre_ECE_15:min"), ("acc:max",)])
def test_write_report_files_get_the_umask_mode(tmp_path, umask_027, objectives):
    paths = write_report(_Result(objectives), tmp_path / "out")
    for kind, path in paths.items():
        assert _mode(path) == 0o640, kind
    assert json.loads(paths["report"].read_text())["plots"]["front"] == str(paths["front"])
    assert paths["front"].read_bytes()[:4] == b"\x89PNG"
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["front.png", "hv.png", "report.json"]


def test_labels_in_words():
    assert axis_label("acc:max") == "accuracy, higher is better"
    assert axis_label("pre_ECE_15:min") == "expected calibration error (15 bins), lower is better"
    assert axis_label("pre_MCE_15:min") == "pre_MCE_15, lower is better"  # falls back to the name
    line = describe_table({"space": "tss", "dataset": "digits", "sources": ["demo"],
                           "schedule_epochs": 4, "final_epoch": 4, "backend": "table"})  # fmt: skip
    assert line == ("searched the embedded demo table: TSS cells trained 4 epochs on "
                    "scikit-learn digits (a CPU proxy, not CIFAR)")  # fmt: skip
    line = describe_table({"space": "tss", "dataset": "cifar10", "sources": ["nats"],
                           "schedule_epochs": 200, "final_epoch": 200,
                           "signal_epoch": 12})  # fmt: skip
    assert "CIFAR-10" in line and "digits" not in line and "epoch-12" in line


def test_the_front_plot_frames_the_front_and_counts_a_stray_point(tmp_path, monkeypatch):
    import pandas as pd

    from bench.arch.spaces import get_space
    from bench.table.benchmark import Benchmark
    from bench.table.store import Store
    from search import report
    from search.runner import run_search

    demo = Benchmark.open(tmp_path / "home")
    if not demo.sources("tss", "digits"):
        pytest.skip("the demo table (bench/data/*.parquet) is not installed")
    # a real store of the demo table's front and 20 other classes, one of those a network at
    # chance level (no path from input to output: constant output, accuracy 0.1, ECE near 0)
    front = demo.pareto_front("tss", "digits", ["acc", "pre_ECE_15"])["config"].to_numpy()
    others = np.setdiff1d(get_space("tss").unique_indices(), front)[:20]
    reps = np.r_[others, front]
    frame = demo.frame("tss", "digits", ["acc", "pre_ECE_15", "train_time_s"])
    rows = frame[frame["config"].isin(reps)].assign(
        space="tss", dataset="digits", source="computed", hp=4, epoch=4, seed=777
    )
    stray = rows["config"] == reps[0]
    rows.loc[stray, ["acc", "pre_ECE_15"]] = [0.1, 0.001]
    Store(tmp_path / "store").upsert(pd.DataFrame(rows))
    bench = Benchmark.open(tmp_path / "store", demo=False)
    res = run_search("tss", "digits", "acc,pre_ECE_15", "brute", bench=bench, trials=len(reps))
    assert any(r["index"] == reps[0] for r in res.true_front)  # it is on the true front
    figures = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or path)
    report.plot_front(res, tmp_path / "front.png")
    zoomed, full = figures[0].axes
    assert zoomed.get_xlim()[0] > 0.1 and full.get_xlim()[0] < 0.1  # framed apart, shown beside
    labels = [t.get_text() for t in zoomed.get_legend().get_texts()]
    assert f"true front ({len(res.true_front)}; 1 outside this view)" in labels
    # every found-front dot is drawn over the rings and the HCS star (it used to hide one)
    layers = {c.get_label().split(" (")[0]: c.get_zorder() for c in zoomed.collections}
    assert layers["found front"] > max(layers["HCS pick"], layers["true front"])
    # the HCS pick's label stays inside the axes (it used to cover the title from the top edge)
    figures[0].canvas.draw()
    label = next(t for t in zoomed.texts if t.get_text().startswith("HCS pick #"))
    box, frame = label.get_window_extent(), zoomed.get_window_extent()
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def test_the_pick_label_stays_inside_when_the_pick_is_at_the_edge(tmp_path, monkeypatch):
    from search import report
    from search.runner import run_search

    home = tmp_path / "home"
    res = run_search("sss", "fashion8", "acc,pre_ECE_15", "rea", trials=200, seed=0, bench=home)
    figures = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or path)
    report.plot_front(res, tmp_path / "front.png")
    zoomed = figures[0].axes[0]
    pick = res.report["hcs_pick"]["values"]
    y0, y1 = zoomed.get_ylim()
    assert (pick["pre_ECE_15"] - y0) / (y1 - y0) > 2 / 3  # the case: the pick near the top edge
    figures[0].canvas.draw()
    label = next(t for t in zoomed.texts if t.get_text().startswith("HCS pick #"))
    box, frame = label.get_window_extent(), zoomed.get_window_extent()
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
