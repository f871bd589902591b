"""Decompression bombs are refused fast and in bounded memory; real files fit under the caps."""

from __future__ import annotations

import bz2
import collections
import gzip
import json
import lzma
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from bench.importers import safe_pickle
from bench.importers.safe_pickle import MAX_PICKLE_BYTES, load, read_file

# 1 GiB once decompressed, a few KB on disk: streams of 1 MiB of zeros, concatenated (bz2, gzip
# and xz readers all read every stream of a file, so this is one file of 1 GiB to them)
_BOMB_MIB = 1024


def _bomb(kind: str, mib: int = _BOMB_MIB) -> bytes:
    compress = {"bz2": bz2.compress, "gz": gzip.compress, "xz": lzma.compress}[kind]
    return compress(bytes(1 << 20)) * mib


def _peak_and_time(code: str) -> dict:
    """Run ``code`` in a fresh interpreter that reports its peak RSS growth (MiB) and seconds."""
    script = textwrap.dedent(
        """
        import json, resource, sys, time
        from bench.importers import safe_pickle
        from bench.compute import ood
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
        {body}
            error = None
        except Exception as err:
            error = f"{{type(err).__name__}}: {{err}}"
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"mib": (after - before) / 1024, "seconds": seconds, "error": error}}))
        """
    ).format(body=textwrap.indent(code, "    "))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("kind", ["bz2", "gz", "xz"])
def test_bomb_refused_in_bounded_memory_and_time(tmp_path, kind):
    path = tmp_path / "000000.pickle.pbz2"
    path.write_bytes(_bomb(kind))
    assert path.stat().st_size < (_BOMB_MIB << 20) / 900  # gzip's best ratio is ~1000:1
    got = _peak_and_time(f"safe_pickle.load({str(path)!r}, allowed=safe_pickle.NATS)")
    assert got["error"].startswith("InputError: ")
    assert str(path) in got["error"] and "64 MiB" in got["error"], got["error"]
    assert "\n" not in got["error"]
    cap_mib = MAX_PICKLE_BYTES / (1 << 20)
    assert got["mib"] < cap_mib + 48, got  # the cap and a chunk, not the 1 GiB it expands to
    assert got["seconds"] < 10, got


def test_single_stream_bz2_bomb(tmp_path):
    """The shape of a real bomb: one bz2 stream (80 MiB of zeros in 4 KB)."""
    path = tmp_path / "000000.pickle.pbz2"
    path.write_bytes(bz2.compress(bytes(80 << 20)))
    with pytest.raises(ValueError, match=r"more than 67108864 bytes once decompressed"):
        load(path, allowed=safe_pickle.NATS)


def test_gzipped_idx_bomb_is_refused(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(_bomb("gz"))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 0]))
    got = _peak_and_time(f"ood.read_fashion_mnist({str(tmp_path)!r}, 'test')")
    assert got["error"].startswith("InputError: Fashion-MNIST test: "), got
    assert str(path) in got["error"] and "64 MiB" in got["error"]
    assert got["mib"] < 64 + 48 and got["seconds"] < 10, got


def test_real_files_fit_with_margin(nats_sample_dir):
    """The caps are >= 30x the largest real files (NATS sample records and meta, NB201 tables)."""
    largest = max(len(read_file(p)) for p in nats_sample_dir.glob("*/*.pickle.pbz2"))
    assert 1_000_000 < largest < MAX_PICKLE_BYTES / 30  # the TSS meta file: 1.4 MB
    nb201 = pytest.importorskip("bench.importers.nb201").nb201_default_dir()
    if nb201.is_dir():
        assert max(p.stat().st_size for p in nb201.glob("*.pkl")) < MAX_PICKLE_BYTES / 30
    assert safe_pickle.MAX_BATCH_BYTES > 155_000_000 * 3  # CIFAR-100 train batch


def test_under_the_cap_and_uncompressed(tmp_path):
    record = collections.OrderedDict(a=list(range(1000)))
    for kind, opener in (("bz2", bz2.open), ("gz", gzip.open), ("xz", lzma.open)):
        path = tmp_path / f"rec.{kind}"
        with opener(path, "wb") as fh:
            pickle.dump(record, fh)
        assert load(path, allowed=safe_pickle.NATS) == record
        with pytest.raises(ValueError, match=rf"{path.name}: more than 100 bytes"):
            load(path, allowed=safe_pickle.NATS, limit=100)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(record))
    assert load(raw, allowed=safe_pickle.NATS) == record
    with pytest.raises(ValueError, match=r"raw\.pkl: \d+ bytes, more than the"):
        load(raw, allowed=safe_pickle.NATS, limit=100)


@pytest.mark.parametrize("kind", ["bz2", "gz", "xz"])
def test_truncated_and_corrupt_name_the_file(tmp_path, kind):
    path = tmp_path / "000001.pickle.pbz2"
    whole = {"bz2": bz2.compress, "gz": gzip.compress, "xz": lzma.compress}[kind](
        pickle.dumps(list(range(5000)))
    )
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=rf"^{path}: truncated compressed file"):
        load(path)
    path.write_bytes(whole[:8] + b"\xa5" * 200)
    with pytest.raises(ValueError, match=rf"^{path}: (corrupt|truncated) compressed file"):
        load(path)
    assert os.path.getsize(path) == 208


def _mat_bomb(mib: int) -> bytes:
    """A MATLAB v5 file whose one zlib-compressed variable, a uint8 array ``X`` of ``mib`` MiB of
    zeros, is what scipy would read whole; full flushes make every 1 MiB block of the deflate
    stream stand alone, so one block is repeated and the file stays small."""
    import struct
    import zlib

    total = mib << 20
    n = total - 56  # the matrix's tags and sub-elements take 56 bytes
    matrix = (
        struct.pack("<II", 14, total - 8)  # miMATRIX
        + struct.pack("<IIII", 6, 8, 9, 0)  # array flags: mxUINT8_CLASS
        + struct.pack("<IIii", 5, 8, n, 1)  # dimensions (n, 1)
        + struct.pack("<I", (1 << 16) | 1)
        + b"X\0\0\0"  # name "X" (a small element)
        + struct.pack("<II", 2, n)  # miUINT8 data follows
    )
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw: the zlib frame is built here
    start, zeros = matrix + bytes((1 << 20) - len(matrix)), bytes(1 << 20)
    first = deflate.compress(start) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    check = zlib.adler32(start)
    for _ in range(mib - 1):  # a correct checksum: scipy reads the stream to its end
        check = zlib.adler32(zeros, check)
    body = first + block * (mib - 1) + deflate.flush()
    payload = b"\x78\xda" + body + struct.pack(">I", check)
    header = b"MATLAB 5.0 MAT-file".ljust(116) + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
    return header + struct.pack("<II", 15, len(payload)) + payload


def test_svhn_mat_bomb_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "test_32x32.mat"
    path.write_bytes(_mat_bomb(_BOMB_MIB))
    assert path.stat().st_size < 2_000_000
    got = _peak_and_time(f"ood.read_svhn_test({str(tmp_path)!r})")
    assert got["mib"] < 64 and got["seconds"] < 20, got  # inflated and counted, never held
    assert got["error"].startswith("InputError: SVHN test: "), got
    assert str(path) in got["error"] and "256 MiB" in got["error"]


def test_small_compressed_mat_still_reads(tmp_path):
    import numpy as np
    import scipy.io

    from bench.compute.ood import read_svhn_test

    x = np.arange(32 * 32 * 3 * 4, dtype=np.uint8).reshape(32, 32, 3, 4)
    y = np.array([[10], [1], [2], [3]], dtype=np.uint8)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": x, "y": y}, do_compression=True)
    images, labels = read_svhn_test(tmp_path)
    assert images.shape == (4, 32, 32, 3) and labels.tolist() == [0, 1, 2, 3]
