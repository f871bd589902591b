"""The compute pipeline: NATS training protocol, measuring, journal/claims, copies, backends."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from dataset_files import write_cifar10, write_cifar10c, write_imagenet16, write_svhn_test

from bench.arch.networks import build
from bench.arch.spaces import get_space
from bench.compute import ComputeConfig, compute, compute_network
from bench.compute.job import select_targets
from bench.compute.journal import Claims, done_configs, journal_dir, merge_journal
from bench.compute.readers import read_digits
from bench.compute.training import Schedule, lr_at, predict, seed_everything, train
from bench.compute.transforms import to_tensor
from bench.errors import InputError
from bench.table.schema import KEY
from bench.table.store import Store

torch.set_num_threads(1)


def _digits():
    x, y = read_digits("train")
    return to_tensor(x[:128], "digits"), torch.as_tensor(y[:128])


def test_schedule_is_nats_cosine_per_epoch():
    s = Schedule(4)
    assert [round(lr_at(e, s), 6) for e in range(4)] == [0.1, 0.085355, 0.05, 0.014645]
    assert s.momentum == 0.9 and s.nesterov and s.weight_decay == 5e-4 and s.batch_size == 256
    with pytest.raises(ValueError, match="epochs"):
        Schedule(0)


def test_training_is_seeded_and_learns():
    x, y = _digits()

    def run(seed):
        seed_everything(seed)
        net = build("tss", 284, 10, C=4, N=1, in_channels=1)
        hist = train(net, x, y, "digits", Schedule(3, batch_size=32), seed=seed)
        return hist, predict(net, x)

    h1, p1 = run(0)
    h2, p2 = run(0)
    h3, _ = run(1)
    assert [h["train_loss"] for h in h1] == [h["train_loss"] for h in h2]
    assert torch.equal(p1, p2)
    assert h3[0]["train_loss"] != h1[0]["train_loss"]
    assert h1[-1]["train_loss"] < h1[0]["train_loss"]
    assert [h["epoch"] for h in h1] == [1, 2, 3] and h1[-1]["train_time_s"] > 0
    with pytest.raises(ValueError, match="as many labels"):
        train(build("sss", 0, 10, in_channels=1), x, y[:5], "digits", Schedule(1), seed=0)


def test_digits_tss_rows_fidelities_and_copies(tmp_path):
    cfg = ComputeConfig("tss", "digits", epochs=2, fidelities=(1,), batch_size=128)
    tss = get_space("tss")
    rep = 3  # a small class: its rows are copied to every member
    members = tss.class_members(rep)
    report = compute(cfg, [int(members[-1])], bench=tmp_path, jobs=0, quiet=True)
    assert report.networks == 1 and not report.failures
    df = Store(tmp_path).read("tss", "digits", "computed")
    assert sorted(df["config"].unique()) == sorted(members.tolist())
    assert sorted(df["epoch"].unique()) == [1, 2]
    assert not df.duplicated(list(KEY)).any()
    own = df[df["config"] == rep]
    assert (~own["copied"]).all() and df[df["config"] != rep]["copied"].all()
    assert (df["arch"] == [tss.arch(c) for c in df["config"]]).all()
    row = own[own["epoch"] == 2].iloc[0]
    for col in ("acc", "pre_ECE_15", "post_ECE_15", "pre_NLL", "post_KDECE", "temperature",
                "pre_smECE", "train_acc", "train_loss", "train_time_s", "latency_s",
                "params_m", "flops_m", "test_acc", "test_loss"):  # fmt: skip
        assert np.isfinite(row[col]), col
    assert row["hp"] == 2 and row["seed"] == 777 and row["source"] == "computed"
    assert "skeleton=C8N1" in row["protocol"] and "bs=128" in row["protocol"]
    # copies carry the representative's values
    copy = df[(df["config"] == members[-1]) & (df["epoch"] == 2)].iloc[0]
    assert copy["acc"] == row["acc"] and copy["pre_ECE_15"] == row["pre_ECE_15"]
    # a rerun skips it all
    again = compute(cfg, "missing", bench=tmp_path, jobs=0, quiet=True, limit=0)
    assert again.networks == 0
    again = compute(cfg, [rep], bench=tmp_path, jobs=0, quiet=True)
    assert again.networks == 0 and again.skipped == 1
    assert set(done_configs(Store(tmp_path), cfg)) == set(members.tolist())
    # the same keys measured another way (another metrics protocol) are refused, not taken as
    # done; another seed's keys do not collide
    other = ComputeConfig("tss", "digits", epochs=2, fidelities=(1,), batch_size=128,
                          metrics_protocol="nll")  # fmt: skip
    before = Store(tmp_path).read("tss", "digits", "computed")
    with pytest.raises(InputError, match=r"rows for hp 2, seed 777 measured another way"):
        compute(other, [rep], bench=tmp_path, jobs=0, quiet=True)
    pd.testing.assert_frame_equal(Store(tmp_path).read("tss", "digits", "computed"), before)
    assert done_configs(Store(tmp_path), dataclasses.replace(other, seed=5)).size == 0


def test_cifar10_with_ood_sets(tmp_path):
    write_cifar10(tmp_path, n_train=8, n_test=40)
    write_svhn_test(tmp_path / "svhn", n=12)
    write_cifar10c(tmp_path / "CIFAR-10-C", n_per_severity=6)
    cfg = ComputeConfig("tss", "cifar10", data_root=str(tmp_path), epochs=1, C=2, N=1,
                        batch_size=16)  # fmt: skip
    frame = compute_network(cfg, 0)
    assert len(frame) == 1 and frame["epoch"].iloc[0] == 1
    assert 0 <= frame["auc_cifar10c"].iloc[0] <= 1 and 0 <= frame["auc_svhn"].iloc[0] <= 1
    assert "skeleton=C2N1" in frame["protocol"].iloc[0]
    # random labels are near chance, where KDECE can break down: a value over 1 is kept, flagged
    broken = [f"breakdown:{c}" for c in ("pre_KDECE", "post_KDECE") if frame[c].iloc[0] > 1]
    assert frame["flags"].iloc[0] == (";".join(broken) or None)


def test_imagenet16_and_missing_files(tmp_path):
    write_imagenet16(tmp_path, n_per_batch=12)
    cfg = ComputeConfig("sss", "ImageNet16-120", data_root=str(tmp_path), epochs=1, batch_size=32)
    frame = compute_network(cfg, 0)
    assert frame["config"].tolist() == [0] and 0 <= frame["acc"].iloc[0] <= 1
    bad = ComputeConfig("sss", "cifar100", data_root=str(tmp_path), epochs=1)
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        compute(bad, [0], bench=tmp_path / "b", jobs=0, quiet=True)


def test_weights_with_nats_key_names(tmp_path):
    seed_everything(5)
    net = build("tss", 11, 10, C=8, N=1, in_channels=1)
    sd = net.state_dict()
    assert "cells.0.layers.0.op.1.weight" in sd and "lastact.0.weight" in sd  # NATS names
    wdir = tmp_path / "weights"
    wdir.mkdir()
    torch.save({888: sd}, wdir / "000011.pt")
    cfg = ComputeConfig("tss", "digits", weights=str(wdir), seed=888)
    frame = compute_network(cfg, 11)
    x, y = read_digits("test")
    net.eval()
    acc = (predict(net, to_tensor(x, "digits")).argmax(1).numpy() == y).mean()
    assert frame["acc"].iloc[0] == pytest.approx(acc)
    assert frame[["hp", "epoch", "seed"]].iloc[0].tolist() == [200, 200, 888]
    assert "weights=nats-tss-hp200" in frame["protocol"].iloc[0]
    # strict loading: a missing key fails loudly, and so does a missing file
    sd.pop("classifier.bias")
    torch.save(sd, wdir / "000012.pt")
    with pytest.raises(RuntimeError, match=r"classifier\.bias"):
        compute_network(cfg, 12)
    report = compute(cfg, [12, 13], bench=tmp_path / "b", jobs=0, quiet=True)
    assert report.networks == 0 and len(report.failures) == 2
    assert any("000013.pt" in f for f in report.failures)


def test_select_targets(tmp_path):
    assert select_targets("tss", "5,3,5").tolist() == [5, 3]
    assert len(select_targets("sss", "missing")) == 32768
    f = tmp_path / "archs.txt"
    f.write_text("# sample\n64:64:64:64:64\n0\n\n")
    assert select_targets("sss", str(f)).tolist() == [32767, 0]
    tss = get_space("tss")
    assert select_targets("tss", [tss.arch(9)]).tolist() == [9]
    with pytest.raises(ValueError, match="--archs"):
        select_targets("tss", "15625")
    f.write_text("\n")
    with pytest.raises(ValueError, match="lists no"):
        select_targets("sss", str(f))


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="fidelities"):
        ComputeConfig("tss", "digits", epochs=4, fidelities=(8,))
    with pytest.raises(ValueError, match="data root"):
        ComputeConfig("tss", "cifar10")
    with pytest.raises(ValueError, match="device"):
        ComputeConfig("tss", "digits", device="tpu")
    with pytest.raises(ValueError, match="unknown dataset"):
        ComputeConfig("tss", "mnist")
    assert ComputeConfig("sss", "cifar10", data_root=".", weights=str(tmp_path)).hp == 90
    assert ComputeConfig("tss", "digits", epochs=4, fidelities=(2, 1, 2)).epochs_measured == (
        1, 2, 4)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"fidelities": 2}, "fidelities must be a sequence"),
        ({"fidelities": (1.5,)}, "fidelities must be an integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"threads": 0}, "threads must be a positive integer"),
        ({"C": -8}, "C must be a positive integer"),
        ({"N": True}, "N must be a positive integer"),
        ({"weights_hp": "200"}, "weights_hp must be a positive integer"),
        ({"seed": 1.0}, "seed must be an integer"),
        ({"device": "cuda:x"}, "device must be"),
        ({"ood": "yes"}, "ood must be"),
        ({"metrics_protocol": "ece"}, "metrics_protocol must be one of"),
        ({"source": "../x"}, "source must be one of"),
    ],
)  # fmt: skip
def test_config_names_the_bad_option(options, message):
    with pytest.raises(ValueError, match=message):
        ComputeConfig(**{"space": "tss", "dataset": "digits", **options})


def test_config_needs_existing_folders():
    with pytest.raises(FileNotFoundError, match="weights 'no/such' is not a directory"):
        ComputeConfig("tss", "digits", weights="no/such")
    with pytest.raises(FileNotFoundError, match="data_root 'no/such' is not a directory"):
        ComputeConfig("tss", "cifar10", data_root="no/such")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jobs": -1}, "jobs must be an integer >= 0"),
        ({"jobs": 1.5}, "jobs must be an integer >= 0"),
        ({"limit": -1}, "limit must be an integer >= 0"),
        ({"flush_every": -1}, "flush_every must be"),
        ({"backend": "ray"}, "backend must be"),
        ({"backend": "dask"}, "--scheduler"),
    ],
)  # fmt: skip
def test_compute_checks_its_options_before_any_work(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        compute(ComputeConfig("sss", "digits"), [0], bench=tmp_path, quiet=True, **options)
    assert not (tmp_path / "journal").exists()


def test_claims_and_journal_merge(tmp_path):
    store = Store(tmp_path)
    cfg = ComputeConfig("sss", "digits", epochs=1)
    claims = Claims(store, cfg)
    assert claims.take(4) and not claims.take(4)  # held by this (live) process
    # a claim left by a dead process on this host is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (claims.dir / "hp1_seed777_000005.claim").write_text(f"{claims.host} {dead} 0\n")
    assert claims.take(5)
    (claims.dir / "hp1_seed777_000006.claim").write_text(f"otherhost {os.getpid()} 0\n")
    assert not claims.take(6)  # another host's claim is respected
    claims.release_all()
    # a journal file the store refuses is set aside; the others are merged
    jdir = journal_dir(tmp_path, cfg)
    good = compute_network(cfg, 0)
    good.attrs = {}
    good.to_parquet(jdir / "hp1_seed777_000000.parquet")
    bad = good.assign(config=1, arch=get_space("sss").arch(1), acc=2.0)
    bad.to_parquet(jdir / "hp1_seed777_000001.parquet")
    assert merge_journal(store, cfg) == 1
    assert (jdir / "rejected" / "hp1_seed777_000001.parquet").is_file()
    assert store.read("sss", "digits", "computed")["config"].tolist() == [0]
    assert not list(jdir.glob("*.parquet"))


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    cfg = ComputeConfig("sss", "digits", epochs=1, batch_size=128)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        report = compute(cfg, [0, 9], bench=tmp_path, jobs=1, backend="dask",
                         scheduler=cluster.scheduler_address, quiet=True)  # fmt: skip
    assert report.networks == 2 and not report.failures
    df = Store(tmp_path).read("sss", "digits", "computed")
    assert sorted(df["config"]) == [0, 9]
    with pytest.raises(ValueError, match="scheduler"):
        compute(cfg, [1], bench=tmp_path, backend="dask", quiet=True)


@pytest.mark.slow  # loky worker processes train networks (~8 s)
def test_loky_workers_match_in_process(tmp_path):
    cfg = ComputeConfig("sss", "digits", epochs=1, batch_size=128)
    compute(cfg, [3, 4], bench=tmp_path / "a", jobs=2, quiet=True)
    compute(cfg, [3, 4], bench=tmp_path / "b", jobs=0, quiet=True)
    cols = ["config", "acc", "pre_ECE_15", "post_NLL"]
    a = Store(tmp_path / "a").read("sss", "digits", "computed", columns=cols)
    b = Store(tmp_path / "b").read("sss", "digits", "computed", columns=cols)
    pd.testing.assert_frame_equal(a, b)  # seeded: same numbers in a worker or in-process


def test_log_line_per_network_and_no_bar_off_a_terminal(tmp_path, caplog, capsys):
    cfg = ComputeConfig("sss", "digits", epochs=1, batch_size=128)
    with caplog.at_level("INFO", logger="calnas.compute"):
        report = compute(cfg, [2], bench=tmp_path, jobs=0, quiet=False)
    assert report.networks == 1 and report.per_hour > 0
    lines = [r.getMessage() for r in caplog.records if "done in" in r.getMessage()]
    assert len(lines) == 1 and "sss digits #2" in lines[0] and "train" in lines[0]
    assert "it/s" not in capsys.readouterr().err  # stderr is not a terminal: no progress bar
