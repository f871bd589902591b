"""bench.importers.safe_pickle: allow-listed unpickling; the NATS-Bench sample archives read
through it."""

from __future__ import annotations

import bz2
import collections
import os
import pickle

import numpy as np
import pytest

from bench.arch.costs import cost
from bench.arch.spaces import get_space
from bench.importers import safe_pickle
from bench.importers.safe_pickle import NATS, ForbiddenGlobal, load, loads, referenced_globals


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_os_system_is_refused():
    data = pickle.dumps(_Evil())
    assert ("posix", "system") in referenced_globals(data) or ("nt", "system") in (
        referenced_globals(data)
    )
    with pytest.raises(ForbiddenGlobal, match=r"refused global (posix|nt)\.system"):
        loads(data, allowed=NATS)
    with pytest.raises(pickle.UnpicklingError):  # also a pickle error for generic handlers
        loads(data, allowed=NATS)
    with pytest.raises(ValueError):  # and a ValueError for the CLI's one-line errors
        loads(pickle.dumps(_Evil(), protocol=0))


def test_refused_in_a_compressed_file(tmp_path):
    path = tmp_path / "evil.pickle.pbz2"
    path.write_bytes(bz2.compress(pickle.dumps({"x": _Evil()})))
    with pytest.raises(ForbiddenGlobal, match=r"evil\.pickle\.pbz2"):
        load(path, allowed=NATS)


def test_allowed_globals_round_trip():
    value = collections.OrderedDict(a=np.float64(1.5), b=np.dtype("float32"), c=[1, "x"])
    back = loads(pickle.dumps(value), allowed=NATS)
    assert back == value and isinstance(back, collections.OrderedDict)
    assert isinstance(back["a"], np.float64)
    # plain containers need no globals at all
    assert loads(pickle.dumps({"k": [1.0, 2.0]})) == {"k": [1.0, 2.0]}
    with pytest.raises(ForbiddenGlobal, match=r"collections\.OrderedDict"):
        loads(pickle.dumps(collections.OrderedDict(a=1)))  # PLAIN allows nothing


def test_numpy_core_spellings_both_resolve():
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        assert (module, "scalar") in NATS
    # numpy arrays are refused by the NATS list but accepted by the CIFAR list
    data = pickle.dumps(np.arange(3))
    with pytest.raises(ForbiddenGlobal):
        loads(data, allowed=NATS)
    assert loads(data, allowed=safe_pickle.CIFAR).tolist() == [0, 1, 2]


def test_garbage_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="not a readable pickle"):
        loads(b"definitely not a pickle")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.pickle.pbz2")
    bad = tmp_path / "trunc.pickle.pbz2"
    bad.write_bytes(bz2.compress(pickle.dumps({"a": 1}))[:20])
    with pytest.raises(ValueError):
        load(bad)


@pytest.mark.parametrize("space", ["tss", "sss"])
def test_sample_archives(nats_sample_dir, space):
    name = {"tss": "NATS-tss-v1_0-3ffb9-simple", "sss": "NATS-sss-v1_0-50262-simple"}[space]
    directory = nats_sample_dir / name
    sp = get_space(space)
    meta = load(directory / "meta.pickle.pbz2", allowed=NATS)
    assert meta["meta_archs"] == sp.archs()  # index order and arch strings
    assert meta["total_archs"] == sp.size
    for index in (0, 11, 284):
        path = directory / f"{index:06d}.pickle.pbz2"
        assert referenced_globals(path) <= set(NATS)
        record = load(path, allowed=NATS)
        for arch_results in record.values():
            assert arch_results["arch_index"] == index
            assert arch_results["arch_str"] == sp.arch(index)
            for (dataset, _seed), result in arch_results["all_results"].items():
                base = "cifar10" if dataset == "cifar10-valid" else dataset
                expected = cost(space, index, base)
                assert float(result["params"]) == pytest.approx(expected["params_m"], abs=1e-6)
                assert float(result["flop"]) == pytest.approx(expected["flops_m"], abs=1e-5)


def test_protocol2_bytes_from_python3_read_with_latin1_only(tmp_path):
    """Python 3 writes bytes at protocol 2 through _codecs.encode(text, 'latin1'): a CIFAR-format
    batch written that way is read; the same global with another codec is refused."""
    from bench.compute.readers import read_cifar

    payload = bytes(range(256))
    data = pickle.dumps({"raw": payload}, protocol=2)
    assert ("_codecs", "encode") in safe_pickle.referenced_globals(data)
    assert safe_pickle.loads(data, allowed=safe_pickle.CIFAR, encoding="latin1") == {"raw": payload}
    with pytest.raises(safe_pickle.ForbiddenGlobal, match=r"_codecs\.encode"):
        safe_pickle.loads(data, allowed=safe_pickle.NATS)  # not on the NATS allow-list
    evil = data.replace(b"latin1", b"utf_16")
    with pytest.raises(safe_pickle.ForbiddenGlobal, match="only the latin1 codec"):
        safe_pickle.loads(evil, allowed=safe_pickle.CIFAR, encoding="latin1")

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    images = rng.integers(0, 256, (6, 3 * 32 * 32), dtype=np.uint8)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        record = {b"batch_label": b"batch", b"labels": list(range(6)), b"data": images,
                  b"filenames": [b"a.png"] * 6}  # fmt: skip
        (folder / name).write_bytes(pickle.dumps(record, protocol=2))
    assert b"_codecs" in (folder / "test_batch").read_bytes()
    got = read_cifar(tmp_path, "cifar10", "test")
    assert len(got[1]) == 6 and list(got[1]) == list(range(6))
