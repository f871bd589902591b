"""bench.arch.spaces: NATS index order, isomorphism, encodings, neighbours, params, bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.arch.spaces import CHANNELS, OPS, get_space

TSS = get_space("tss")
SSS = get_space("sss")

# spec natsbench 1.6 / 2.1 (arch strings are data: long lines kept whole)
TSS_FIXTURES = {
    0: "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    1: "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    3: "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
    9: "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
    11: "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    123: "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    284: "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|",
    1462: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    1651: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    9930: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    15624: "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|",
}
SSS_FIXTURES = {
    0: "8:8:8:8:8",
    1: "8:8:8:8:16",
    7: "8:8:8:8:64",
    8: "8:8:8:16:8",
    11: "8:8:8:16:32",
    12: "8:8:8:16:40",
    284: "8:8:40:32:40",
    5887: "16:32:32:64:64",
    14043: "32:32:32:32:32",
    32767: "64:64:64:64:64",
}


def _sha(strings: list[str]) -> str:
    return hashlib.sha256("\n".join(strings).encode()).hexdigest()


def test_fingerprints_match_nats_bench() -> None:
    assert _sha(TSS.archs()) == "83abc799e45cf34e9d2163654668ab998b9a54d01c39e72ca1f71f2cdf356d84"
    assert _sha(SSS.archs()) == "8b99b4c0aabe959924c6fb36c0ee4a3f79362343e36b7752b90deee9409b492f"


@pytest.mark.parametrize(("space", "fixtures"), [(TSS, TSS_FIXTURES), (SSS, SSS_FIXTURES)])
def test_fixture_strings(space, fixtures) -> None:
    for index, arch in fixtures.items():
        assert space.arch(index) == arch
        assert space.index(arch) == index


def test_sizes_and_unique_counts() -> None:
    assert (TSS.size, len(TSS), TSS.unique_indices().size) == (15625, 15625, 6466)
    assert (SSS.size, SSS.unique_indices().size) == (32768, 32768)
    assert np.bincount(TSS.representatives()).max() == 275


def test_isomorphism_matches_robustness_meta(shared_dir) -> None:
    """The robustness dataset's meta.json names each index's class representative."""
    meta = json.loads((shared_dir / "fixtures" / "robustness" / "meta.json").read_text())["ids"]
    reps = TSS.representatives()
    for key, entry in meta.items():
        assert TSS.arch(int(key)) == entry["nb201-string"]
        assert reps[int(key)] == int(entry["isomorph"])


def test_canonical_quirk_all_none_node_is_not_zero() -> None:
    # node 1 is zero; a skip from it gives the term '#', the same as 'none'
    a = "|none~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    b = "|none~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert TSS.canonical(a) == TSS.canonical(b) == "#+#+#+0"
    # node 2 sums two zero edges into '#+#', which NATS does not treat as zero downstream, so
    # these two cells compute the same function yet fall in different classes (spec 1.7)
    c = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|skip_connect~2|"
    d = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert TSS.canonical(c) == "#+#+#+0"
    assert TSS.canonical(d) == "#+#+0"
    assert TSS.representative(c) != TSS.representative(d)


def _isomorphic_rewrites(code: list[int], ops: tuple[int, int]) -> list[list[int]]:
    """Rewrites that compute the same function and must keep NATS's canonical string.

    - node 1 is zero (edge 1<-0 is 'none'): the ops on the edges leaving node 1 do not matter;
    - node 1 equals the input (edge 1<-0 is 'skip_connect'): an edge from node 1 and the edge
      from node 0 into the same node can swap their ops.
    """
    e0, e1, e2, e3, e4, e5 = code
    if e0 == OPS.index("none"):
        return [[e0, e1, ops[0], e3, ops[1], e5]]
    if e0 == OPS.index("skip_connect"):
        return [[e0, e2, e1, e3, e4, e5], [e0, e1, e2, e4, e3, e5], [e0, e2, e1, e4, e3, e5]]
    return []


@settings(max_examples=400, deadline=None)
@given(st.integers(0, TSS.size - 1), st.tuples(st.integers(0, 4), st.integers(0, 4)))
def test_canonical_invariant_under_isomorphic_rewrite(index: int, ops: tuple[int, int]) -> None:
    code = TSS.codes()[index].tolist()
    for rewritten in _isomorphic_rewrites(code, ops):
        other = TSS.format_code(rewritten)
        assert TSS.canonical(other) == TSS.canonical(index)
        assert TSS.representative(other) == TSS.representative(index)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["tss", "sss"]), st.data())
def test_index_arch_roundtrip(name: str, data) -> None:
    space = get_space(name)
    i = data.draw(st.integers(0, space.size - 1))
    assert space.index(space.arch(i)) == i
    assert space.from_params(space.to_params(i)) == space.arch(i)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["tss", "sss"]), st.data())
def test_neighbours_differ_in_exactly_one_position(name: str, data) -> None:
    space = get_space(name)
    i = data.draw(st.integers(0, space.size - 1))
    base = space.codes()[i]
    neigh = space.neighbours(i)
    assert len(neigh) == space.positions * (len(space.choices()) - 1)
    assert len(set(neigh)) == len(neigh)
    for arch in neigh:
        assert int((space.codes()[space.index(arch)] != base).sum()) == 1


def test_encodings() -> None:
    arch = TSS_FIXTURES[11]
    assert TSS.encode(arch, "ops").tolist() == [3, 3, 4, 0, 3, 4]
    onehot = TSS.encode(arch, "onehot")
    assert onehot.shape == (30,) and onehot.sum() == 6 and onehot[3] == 1 and onehot[5 + 3] == 1
    adj = TSS.encode(arch, "adjacency")
    assert adj.shape == (4, 4)
    assert adj[1, 0] == 3 and adj[2, 1] == 4 and adj[3, 2] == 4 and np.triu(adj).sum() == 0
    assert SSS.encode("8:16:24:32:40", "channels").tolist() == [8, 16, 24, 32, 40]
    assert SSS.encode_all("onehot").shape == (32768, 40)
    assert TSS.encode_all("ops").shape == (15625, 6)
    with pytest.raises(ValueError, match=r"unknown encoding 'graph'.*ops, onehot, adjacency"):
        TSS.encode(0, "graph")


def test_sample_is_seeded_and_uniformish() -> None:
    assert TSS.sample(7) == TSS.sample(np.random.default_rng(7))
    rng = np.random.default_rng(0)
    draws = [SSS.index(SSS.sample(rng)) for _ in range(2000)]
    assert len(set(draws)) > 1900


def test_param_space_and_bad_params() -> None:
    assert TSS.param_space()["edge_0_1"] == OPS
    assert SSS.param_space()["layer_4"] == CHANNELS
    params = TSS.to_params(11)
    assert params["edge_1_2"] == "avg_pool_3x3"
    with pytest.raises(ValueError, match="missing: \\['edge_2_3'\\]"):
        TSS.from_params({k: v for k, v in params.items() if k != "edge_2_3"})
    with pytest.raises(ValueError, match="layer_0=12 is not a choice"):
        SSS.from_params({**SSS.to_params(0), "layer_0": 12})
    with pytest.raises(ValueError, match="must be a mapping"):
        SSS.from_params([8, 8, 8, 8, 8])


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv_5x5'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "names source node '1', expected 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 .* must have 2 edge"),
        ("|none~0|+|none~0|none~1|", "has 2 node"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "has 4 node"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '\\|'"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~source'"),
    ],
)
def test_malformed_tss_arch(arch: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TSS.index(arch)
    with pytest.raises(ValueError, match=message):
        TSS.validate(arch)


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("8:8:8:8", "has 4 layer"),
        ("8:8:8:8:8:8", "has 6 layer"),
        ("8:8:8:8:12", "layer 4 .* channel count '12'; accepted: 8, 16"),
        ("8:8:8:8:72", "channel count '72'"),
        ("8:8:x:8:8", "channel count 'x'"),
        ("8:8:-8:8:8", "channel count '-8'"),
    ],
)
def test_malformed_sss_arch(arch: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SSS.index(arch)


@pytest.mark.parametrize("bad", [-1, 15625, 10**9])
def test_index_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match="out of range; accepted: 0 <= index < 15625"):
        TSS.arch(bad)


@pytest.mark.parametrize("bad", [1.0, "3", None, True, [1]])
def test_index_wrong_type(bad) -> None:
    with pytest.raises(ValueError, match="must be an integer"):
        TSS.arch(bad)
    with pytest.raises(ValueError):
        SSS.validate(bad)


def test_unknown_space() -> None:
    with pytest.raises(ValueError, match="unknown search space 'nb101'; accepted: tss, sss"):
        get_space("nb101")
    assert get_space("topology") is TSS and get_space("SIZE") is SSS


def test_importing_spaces_does_not_import_torch() -> None:
    code = "import sys, bench, bench.arch.spaces, bench.arch.costs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
