"""The packed trainer: K networks trained together train exactly as each would alone.

Equivalence is checked in float64, where rounding cannot hide a wrong computation (per-step
losses, every state_dict tensor and the test logits agree to 1e-9 relative after 3 epochs), and
in float32 over a few steps (1e-4). Longer float32 runs are not compared value by value: the
NATS protocol at lr 0.1 amplifies a one-ulp change of one weight to accuracy changes of 0.1 by
epoch 4 (see docs/pack.md), so any reimplementation, the one-at-a-time path on another CPU
included, differs there.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import time

import numpy as np
import pandas as pd
import pytest
import torch

import bench.compute.measure as measure
import bench.compute.measure_pack as measure_pack
import bench.compute.pack_train as pack_train
from bench.arch.networks import build
from bench.compute import ComputeConfig, compute, compute_network
from bench.compute.journal import Claims, unit_name
from bench.compute.measure_pack import compute_pack, run_pack
from bench.compute.pack import build_pack
from bench.compute.pack_train import diverged_epochs, predict_pack, train_pack
from bench.compute.readers import read_digits
from bench.compute.training import Schedule, predict, train
from bench.compute.transforms import to_tensor
from bench.errors import InputError
from bench.table.store import Store
from search.cli import main as calnas

torch.set_num_threads(1)

#: every op on several edges, an all-none and an all-skip cell, and a repeat
ARCHS = [
    "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
    "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
]
#: node 1 feeds no edge in any network: its conv gets no gradient in the pack (a zero is used)
DEAD_NODE = [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    "|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+|nor_conv_3x3~0|none~1|nor_conv_3x3~2|",
]
SEED = 5


def _digits(n: int, dtype: torch.dtype = torch.float32):
    x, y = read_digits("train")
    xt, _ = read_digits("test")
    return (
        to_tensor(x[:n], "digits").to(dtype),
        torch.as_tensor(y[:n]),
        to_tensor(xt[:300], "digits").to(dtype),
    )


def _networks(archs, C=4, N=1):
    nets = []
    for i, arch in enumerate(archs):
        torch.manual_seed(100 + i)
        nets.append(build("tss", arch, 10, C=C, N=N, in_channels=1))
    return nets


def _batch_labels(y: torch.Tensor, schedule: Schedule, seed: int) -> list[torch.Tensor]:
    """The labels of each step, in the order train()/train_pack() draw them (no augmentation)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(schedule.epochs):
        order = torch.randperm(len(y), generator=gen)
        out += [
            y[order[lo : lo + schedule.batch_size]] for lo in range(0, len(y), schedule.batch_size)
        ]
    return out


def _step_losses(logits: list[torch.Tensor], labels: list[torch.Tensor]) -> torch.Tensor:
    """The loss of each step (NaN for steps a network that stopped early never took)."""
    ce = torch.nn.functional.cross_entropy
    losses = [ce(lg.double(), yb) for lg, yb in zip(logits, labels[: len(logits)], strict=True)]
    losses += [torch.tensor(float("nan"), dtype=torch.float64)] * (len(labels) - len(losses))
    return torch.stack(losses)


def _alone(nets, dtype, schedule, x, y):
    """Train copies of ``nets`` one by one with train(); the copies and each step's losses."""
    alone = [copy.deepcopy(net).to(dtype) for net in nets]
    seen: list[list[torch.Tensor]] = [[] for _ in nets]
    for k, net in enumerate(alone):
        net.register_forward_hook(lambda m, i, out, k=k: seen[k].append(out[1].detach()))
        # a poisoned network (test_a_diverging_network_leaves_the_others_untouched) raises
        with contextlib.suppress(FloatingPointError):
            train(net, x, y, "digits", schedule, seed=SEED)
    labels = _batch_labels(y, schedule, SEED)
    return alone, torch.stack([_step_losses(s[: len(labels)], labels) for s in seen])


def _alone_and_packed(archs, dtype, schedule, *, n=256, C=4, N=1, poison=None):
    """Train ``archs`` one by one with train() and together with train_pack(), same start."""
    x, y, xt = _digits(n, dtype)
    nets = _networks(archs, C, N)
    if poison is not None:  # a NaN weight: that network diverges at once
        with torch.no_grad():
            nets[poison].classifier.weight[0, 0] = float("nan")
    pack = build_pack("tss", archs, 10, C=C, N=N, in_channels=1, networks=nets).to(dtype)
    alone, loss_alone = _alone(nets, dtype, schedule, x, y)
    packed: list[torch.Tensor] = []
    pack.register_forward_hook(lambda m, i, out: packed.append(out[1].detach()))
    history = train_pack(pack, x, y, "digits", schedule, seed=SEED)
    labels = _batch_labels(y, schedule, SEED)
    loss_packed = torch.stack(
        [_step_losses([lg[k] for lg in packed[: len(labels)]], labels) for k in range(len(archs))]
    )
    return pack, alone, history, loss_alone, loss_packed, xt


def _gaps(pack_or_states, alone, xt, loss_a, loss_b) -> torch.Tensor:
    """Per network: the largest difference of step losses, state tensors (relative to their
    scale) and test logits between a run and the one-by-one run ``alone``."""
    gaps = []
    for k, ref in enumerate(alone):
        if isinstance(pack_or_states, list):
            other, logits = pack_or_states[k].state_dict(), predict(pack_or_states[k], xt)
        else:
            other, logits = (
                pack_or_states.network_state_dict(k),
                predict_pack(pack_or_states, xt)[k],
            )
        theirs = ref.state_dict()
        assert list(other) == list(theirs)
        worst = float((loss_a[k] - loss_b[k]).abs().max())
        for key, t in theirs.items():
            scale = float(t.double().abs().max()) + 1.0
            worst = max(worst, float((other[key].double() - t.double()).abs().max()) / scale)
        ref_logits = predict(ref, xt)
        scale = float(ref_logits.abs().max()) + 1.0
        worst = max(worst, float((logits - ref_logits).abs().max()) / scale)
        gaps.append(worst)
    return torch.tensor(gaps, dtype=torch.float64)


def _assert_same(pack, alone, loss_alone, loss_packed, xt, rtol, skip=()):
    """Step losses, every state tensor and the test logits agree to ``rtol`` (of their scale)."""
    gaps = _gaps(pack, alone, xt, loss_alone, loss_packed)
    keep = [k for k in range(len(alone)) if k not in skip]
    assert (gaps[keep] <= rtol).all(), gaps


def test_pack_trains_each_network_as_alone_float64():
    schedule = Schedule(3, batch_size=48)  # 9 steps, cosine lr, momentum and weight decay active
    pack, alone, history, la, lp, xt = _alone_and_packed(ARCHS, torch.float64, schedule, n=144)
    assert la.shape == (len(ARCHS), 9)
    _assert_same(pack, alone, la, lp, xt, rtol=1e-9)
    assert len(history) == 3 and history[-1]["finite"] == [True] * len(ARCHS)
    # the epoch means are the same running averages as train()'s
    assert np.allclose(history[0]["train_loss"], la[:, :3].mean(1).numpy(), rtol=1e-9)


@pytest.mark.slow  # three float32 trainings of six networks (~3 s)
@pytest.mark.filterwarnings("ignore::UserWarning")  # oneDNN's TF32 note when it is switched off
def test_pack_float32_differs_from_alone_only_as_rounding_does():
    """In float32 the pack stays as close to the one-by-one run as float rounding alone keeps it.

    The yardstick: the same one-by-one training with another float32 convolution algorithm
    (oneDNN off). Both start one rounding error apart; a chaotic network (ARCHS[0] here) turns
    that into a 1e-2 gap in loss within 4 steps either way.
    """
    schedule = Schedule(2, batch_size=64)
    pack, alone, _, la, lp, xt = _alone_and_packed(ARCHS, torch.float32, schedule)
    x, y, _ = _digits(256)
    with torch.backends.mkldnn.flags(enabled=False):
        other, lo = _alone(_networks(ARCHS), torch.float32, schedule, x, y)
    rounding = _gaps(other, alone, xt, la, lo)
    packed = _gaps(pack, alone, xt, la, lp)
    assert (packed <= 10 * rounding + 1e-4).all(), (packed, rounding)
    # the first step, before any update, has nothing to amplify: float32 rounding only
    torch.testing.assert_close(lp[:, 0], la[:, 0], rtol=1e-6, atol=1e-6)


def test_pack_with_dead_nodes_and_two_cells_per_stage():
    schedule = Schedule(2, batch_size=128)
    pack, alone, _, la, lp, xt = _alone_and_packed(DEAD_NODE, torch.float64, schedule, N=2)
    _assert_same(pack, alone, la, lp, xt, rtol=1e-9)


def test_a_diverging_network_leaves_the_others_untouched():
    schedule = Schedule(2, batch_size=64)
    pack, alone, history, la, lp, xt = _alone_and_packed(
        ARCHS[:3], torch.float64, schedule, poison=1
    )
    _assert_same(pack, alone, la, lp, xt, rtol=1e-9, skip=(1,))
    assert history[0]["finite"] == [True, False, True]
    assert diverged_epochs(history) == [None, 1, None]


def test_export_and_import_use_nats_names():
    nets = _networks(ARCHS[:3], C=8)
    pack = build_pack("tss", ARCHS[:3], 10, C=8, N=1, in_channels=1, networks=nets)
    x = _digits(8)[0]
    logits = predict_pack(pack, x)
    for k, net in enumerate(nets):
        state = pack.network_state_dict(k)
        assert list(state) == list(net.state_dict())  # same keys, same order
        fresh = build("tss", ARCHS[k], 10, C=8, N=1, in_channels=1)
        fresh.load_state_dict(state, strict=True)
        torch.testing.assert_close(predict(fresh, x), logits[k], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(predict(pack.network(k), x), predict(net, x))
    with pytest.raises(InputError, match="need 3 networks"):
        pack.load_networks(nets[:2])
    with pytest.raises(InputError, match=r"does not fit|lacks|has tensors"):
        pack.load_networks([nets[1], nets[0], nets[2]])  # genotypes in the wrong places
    with pytest.raises(InputError, match="below the pack's size"):
        pack.network_state_dict(3)


def test_pack_runs_under_autocast_as_predict_does_on_cuda():
    """predict_pack autocasts on CUDA (float16); CPU bfloat16 autocast takes the same mixed path."""
    pack = build_pack("tss", ARCHS[:4], 10, C=4, N=1, in_channels=1)
    x = _digits(16)[0]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = pack.eval()(x)[1]
        for k in range(4):
            ref = pack.network(k).eval()(x)[1]
            gap = float((logits[k].float() - ref.float()).abs().max())
            assert gap <= 5e-2 * (1 + float(ref.float().abs().max())), (k, gap)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pack.train()(x)[1].float().sum().backward()
    assert all(p.grad is not None for p in pack.stem.parameters())


def test_bad_packs_are_refused():
    with pytest.raises(InputError, match="TSS only"):
        build_pack("sss", [0, 1], 10)
    with pytest.raises(InputError, match="non-empty"):
        build_pack("tss", [], 10)
    with pytest.raises(InputError, match="TSS only"):
        ComputeConfig("sss", "digits", pack=4)
    with pytest.raises(InputError, match="pack must be a positive integer"):
        ComputeConfig("tss", "digits", pack=0)
    with pytest.raises(InputError, match="weights"):
        ComputeConfig("tss", "cifar10", data_root=".", weights=".", pack=2)
    with pytest.raises(InputError, match="as many labels"):
        train_pack(build_pack("tss", [1], 10, C=4, N=1, in_channels=1),
                   torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.int64), "digits",
                   Schedule(1), seed=0)  # fmt: skip


# two steps (batch 512 on 899 images): the rows of both paths are comparable value by value
CFG = ComputeConfig("tss", "digits", epochs=1, batch_size=512, C=4, pack=3)
INDICES = [3, 11, 100, 1462, 5000]


#: metric columns continuous in the logits; the binned, equal-mass, kernel and post-temperature
#: (grid-searched temperature) ones jump when a near-tied confidence moves by 1e-6, so they are
#: compared for presence only here and value by value, from identical weights, in
#: test_packed_measurement_is_the_standalone_modules
CONTINUOUS = (
    "train_acc",
    "train_loss",
    "acc",
    "test_acc",
    "test_loss",
    "correct_confidence",
    "incorrect_confidence",
    "pre_NLL",
    "pre_Brier",
    "pre_Brier_sum",
    "pre_MMCE",
)


def _compare_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same rows (keys, provenance, costs exactly; metrics to float rounding)."""
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if col in ("created", "latency_s", "train_time_s"):
            continue
        if col in CONTINUOUS:  # one flipped prediction of 898 is 0.0011
            assert np.allclose(a[col], b[col], rtol=1e-3, atol=2e-3), col
        elif pd.api.types.is_float_dtype(a[col]):
            assert (a[col].isna() == b[col].isna()).all(), col
        else:
            assert a[col].tolist() == b[col].tolist(), col


@pytest.mark.slow  # five networks packed and one by one (~3 s)
def test_compute_pack_rows_are_compute_network_rows():
    out = compute_pack(CFG, INDICES)
    assert [i for i, _, _ in out] == INDICES and all(e is None for _, _, e in out)
    for index, frame, _ in out:
        _compare_rows(frame, compute_network(CFG, index))
        assert frame.attrs["timing"]["pack"] == len(INDICES)
        assert (frame["train_time_s"] > 0).all() and (frame["latency_s"] > 0).all()


def test_packed_measurement_is_the_standalone_modules(monkeypatch):
    """The metrics of a packed network equal those of its exported module, measured alone."""
    packs = []
    original = pack_train.train_pack

    def spy(pack, *args, **kwargs):
        packs.append(pack)
        return original(pack, *args, **kwargs)

    monkeypatch.setattr(pack_train, "train_pack", spy)
    cfg = ComputeConfig("tss", "digits", epochs=2, batch_size=128, C=4, pack=2)
    out = compute_pack(cfg, [11, 1462])
    data = measure._data(cfg, torch.device("cpu"))
    for k, (_, frame, _) in enumerate(out):
        alone = measure._measure(cfg, packs[0].network(k), data)
        row = frame[frame["epoch"] == 2].iloc[0]
        for key, value in alone.items():
            if key == "latency_s":
                continue
            rtol = 1e-2 if "KDECE" in key else 1e-4
            assert np.isclose(row[key], value, rtol=rtol, atol=1e-4, equal_nan=True), key


def test_run_pack_falls_back_one_by_one(monkeypatch):
    out = run_pack(CFG, [3, 99999, 11])  # a bad index fails the pack, not its neighbours
    assert [(i, e is None) for i, _, e in out] == [(3, True), (99999, False), (11, True)]
    assert "out of range" in out[1][2]

    def broken(cfg, indices):
        raise RuntimeError("no memory for the pack")

    monkeypatch.setattr(measure_pack, "compute_pack", broken)
    out = run_pack(CFG, [3, 11])
    assert [(i, e is None, len(f)) for i, f, e in out] == [(3, True, 1), (11, True, 1)]


def _stored(bench) -> pd.DataFrame:
    df = Store(bench).read("tss", "digits", "computed")
    return df.sort_values(["config", "epoch"]).reset_index(drop=True)


@pytest.mark.slow  # three compute runs through the CLI (~3 s)
def test_cli_pack_stores_what_one_by_one_stores(tmp_path, capsys):
    args = ["bench", "compute", "--space", "tss", "--dataset", "digits", "--epochs", "1",
            "--batch-size", "512", "--C", "4", "--archs", "3,11,100", "--jobs", "0", "--quiet",
            "--format", "json"]  # fmt: skip
    assert calnas([*args, "--pack", "2", "--bench", str(tmp_path / "packed")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["networks"] == 3 and report["failures"] == []
    assert calnas([*args, "--bench", str(tmp_path / "alone")]) == 0
    capsys.readouterr()
    packed, alone = _stored(tmp_path / "packed"), _stored(tmp_path / "alone")
    assert len(packed) > 3 and packed["copied"].any()  # TSS copies of the class members
    _compare_rows(packed.drop(columns=["created"]), alone.drop(columns=["created"]))
    # resumable: a rerun finds everything stored
    assert calnas([*args, "--pack", "2", "--bench", str(tmp_path / "packed")]) == 0
    assert json.loads(capsys.readouterr().out)["networks"] == 0


def test_packs_respect_claims_and_rows_go_to_the_journal(tmp_path):
    cfg = ComputeConfig("tss", "digits", epochs=1, batch_size=512, C=4, pack=2)
    store = Store(tmp_path)
    claims = Claims(store, cfg)
    # a claim held by a live process on this host (the parent of this test): left alone
    (claims.dir / f"{unit_name(cfg, 11)}.claim").write_text(
        f"{socket.gethostname()} {os.getppid()} {time.time():.0f}\n"
    )
    report = compute(cfg, [3, 11, 100], bench=tmp_path, jobs=0, quiet=True, flush_every=0)
    assert report.networks == 2 and report.skipped == 1 and not report.failures
    assert 11 not in set(_stored(tmp_path)["config"])


@pytest.mark.slow  # a loky worker process (~5 s)
def test_packs_run_in_loky_workers(tmp_path):
    cfg = ComputeConfig("tss", "digits", epochs=1, batch_size=512, C=4, pack=2)
    report = compute(cfg, [3, 11, 100], bench=tmp_path, jobs=1, quiet=True)
    assert report.networks == 3 and not report.failures
    assert {3, 11, 100} <= set(_stored(tmp_path)["config"])
