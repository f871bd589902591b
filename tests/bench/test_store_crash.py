"""A writer killed (SIGKILL) during an upsert: the table stays whole, its temp files are cleaned."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from bench.table.store import Store

# a writer that rewrites every row of one table in a loop: upsert k sets acc = k on all rows, so a
# whole table holds one value of acc, and a torn one would hold two (or lack rows)
_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, pandas as pd
    from bench.table.store import Store
    store, n = Store(sys.argv[1]), 15625
    config, epoch = np.repeat(np.arange(n), 8), np.tile(np.arange(1, 9), n)
    k = int(sys.argv[2])
    while True:
        store.upsert(pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "computed",
                                   "config": config, "hp": 200, "epoch": epoch, "acc": k / 1e4}))
        print(k, flush=True)
        k += 1
    """
)
_ROWS = 15625 * 8


def _temps(store: Store) -> list[str]:
    folder = store.path_for("tss", "cifar10", "computed").parent
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


def _check_whole(store: Store) -> float:
    frame = store.read("tss", "cifar10", "computed", columns=["config", "epoch", "acc"])
    assert len(frame) == _ROWS
    assert not frame.duplicated(["config", "epoch"]).any()
    values = frame["acc"].unique()
    assert len(values) == 1, values  # all rows of one complete upsert
    side = store.sidecar("tss", "cifar10", "computed")
    if side is not None:  # a fresh sidecar agrees with the parquet file
        assert np.array_equal(side.read("acc"), np.full(_ROWS, values[0]))
    return float(values[0])


@pytest.mark.slow  # several writer processes, each killed mid-loop (~15 s)
def test_kill_during_upsert_leaves_a_whole_table_and_temps_cleaned(tmp_path):
    store = Store(tmp_path)
    rng = random.Random(14)
    kills, torn, k = 0, 0, 1
    while kills < 5 or (torn == 0 and kills < 16):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = writer.stdout.readline()  # the first upsert is complete
        assert line.strip() == str(k), writer.stderr.read()
        time.sleep(rng.uniform(0.0, 1.2))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        writer.stderr.close()
        kills += 1
        torn += bool(_temps(store))
        value = _check_whole(store)
        assert value >= k / 1e4
        k = round(value * 1e4) + 100
    assert torn >= 1, "no kill landed inside a write: nothing was tested"
    print(f"kills {kills}, left temp files {torn}")
    # the next write (under the table's lock) removes what the killed writers left
    store.upsert(
        pd.DataFrame(
            {
                "space": "tss",
                "dataset": "cifar10",
                "source": "computed",
                "config": np.repeat(np.arange(15625), 8),
                "hp": 200,
                "epoch": np.tile(np.arange(1, 9), 15625),
                "acc": 0.5,
            }
        )
    )
    assert _temps(store) == []
    assert _check_whole(store) == 0.5


def test_next_write_removes_only_stale_temps(tmp_path):
    store = Store(tmp_path)
    rows = pd.DataFrame(
        {"space": "tss", "dataset": "cifar10", "source": "computed", "config": [0, 1]}
    ).assign(hp=200, epoch=200, acc=[0.8, 0.9])
    store.upsert(rows)
    path = store.path_for("tss", "cifar10", "computed")
    stale = [
        path.with_name(".computed.parquet.0a1b2c3d.tmp"),
        path.with_name(".computed.npcols.deadbeef.tmp"),
    ]
    for p in stale:
        p.write_bytes(b"half a file")
        os.utime(p, (time.time() - 60, time.time() - 60))
    others = [path.with_name("notes.tmp"), path.with_name(".official.parquet.0a1b2c3d.tmp")]
    for p in others:
        p.write_bytes(b"not ours")
    store.upsert(rows.assign(acc=[0.7, 0.6]))
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in others)  # other names, other tables: left alone
    assert store.read("tss", "cifar10", "computed")["acc"].tolist() == [0.7, 0.6]
    # rebuilding a sidecar (under the lock too) cleans up as well
    stale[1].write_bytes(b"half")
    os.utime(stale[1], (time.time() - 60, time.time() - 60))
    store.sidecar("tss", "cifar10", "computed").path.unlink()
    assert store.rebuild_sidecar("tss", "cifar10", "computed")
    assert not stale[1].exists()
