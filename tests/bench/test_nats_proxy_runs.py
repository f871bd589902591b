"""The NATS-Bench facade and a proxy dataset whose runs share NATS's ``hp`` 12: a real network
trained 12 epochs on digits, then queried as NATS-Bench code would query it."""

from __future__ import annotations

import pytest

from bench.compute import ComputeConfig, compute
from bench.table.catalog import MissingEntry
from bench.table.nats import create


@pytest.mark.slow  # one network trained 12 epochs (~2 s)
def test_a_proxy_answers_when_named_and_stays_out_of_the_nats_listing(tmp_path):
    cfg = ComputeConfig("tss", "digits", epochs=12, fidelities=(6,), batch_size=128)
    report = compute(cfg, [11], bench=tmp_path, jobs=0, quiet=True)
    assert report.failures == [] and report.networks == 1
    api = create(str(tmp_path), "tss")
    runs = api.query_by_index(11, "digits", hp=12)  # named: its runs
    assert list(runs) == [cfg.seed]
    # NATS-Bench's every-dataset listing at hp 12 holds only NATS-Bench's datasets: here none
    with pytest.raises(MissingEntry, match="no runs of tss index 11"):
        api.query_by_index(11, hp=12)
