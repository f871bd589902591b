"""surrogate.features: column layout, path semantics, invariance, costs and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from bench.arch.costs import cost_all
from bench.arch.spaces import OPS, get_space
from surrogate.features import PATHS, arch_indices, encode, feature_names, feature_table

TSS = get_space("tss")
ARCH11 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"


def _row(arch: str, dataset: str = "cifar10") -> dict[str, float]:
    return dict(zip(feature_names("tss"), encode("tss", [arch], dataset)[0].tolist(), strict=True))


def test_shapes_names_and_read_only() -> None:
    table = feature_table("tss", "cifar10")
    assert table.shape == (15625, len(feature_names("tss"))) == (15625, 171)
    assert table.dtype == np.float32 and not table.flags.writeable
    assert len(set(feature_names("tss"))) == 171
    assert feature_table("sss", "cifar100").shape == (32768, len(feature_names("sss")))
    assert np.isfinite(table).all()


def test_onehot_and_counts_match_the_space_encoding() -> None:
    table = feature_table("tss", "cifar10")
    np.testing.assert_array_equal(table[:, :30], TSS.encode_all("onehot"))
    counts = table[:, 30:35]
    assert (counts.sum(1) == 6).all()
    ops = TSS.encode_all("ops")
    np.testing.assert_array_equal(counts[:, OPS.index("nor_conv_3x3")], (ops == 3).sum(1))


def test_paths_of_a_known_cell() -> None:
    # arch 11: e0=conv3, e1=conv3, e2=pool, e3=none, e4=conv3, e5=pool
    r = _row(ARCH11)
    assert [r[f"path{p}_live"] for p in range(4)] == [0, 1, 1, 1]
    assert r["path1_seq_conv3-conv3"] == 1 and r["path2_seq_conv3-pool"] == 1
    assert r["path3_seq_conv3-pool-pool"] == 1
    assert r["path1_conv3"] == 2 and r["path3_pool"] == 2 and r["path0_conv3"] == 0
    assert r["live_paths"] == 3 and r["max_conv_depth"] == 2 and r["min_conv_depth"] == 1
    assert r["dead_edges"] == 1  # only the none edge e3
    assert r["live_conv3"] == 3 and r["live_pool"] == 2


def test_dead_edges_do_not_count_as_live() -> None:
    # node 3 fed only by node 0 through a conv; everything into node 3 from 1, 2 is none
    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    r = _row(arch)
    assert r["live_paths"] == 1 and r["path0_seq_skip"] == 1
    assert r["dead_edges"] == 5 and r["live_conv3"] == 0 and r["live_skip"] == 1
    assert r["max_conv_depth"] == 0
    # every edge none: disconnected, no live path, degenerate class
    empty = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    r = _row(empty)
    assert r["disconnected"] == 1 and r["live_paths"] == 0 and r["dead_edges"] == 6


def test_sequence_block_is_one_hot_per_live_path() -> None:
    table = feature_table("tss", "cifar10")
    names = feature_names("tss")
    for p, edges in enumerate(PATHS):
        cols = [i for i, n in enumerate(names) if n.startswith(f"path{p}_seq_")]
        assert len(cols) == 4 ** len(edges)
        live = table[:, names.index(f"path{p}_live")]
        np.testing.assert_array_equal(table[:, cols].sum(1), live)


def test_canonical_features_are_isomorphism_invariant() -> None:
    table = feature_table("tss", "cifar10")
    names = feature_names("tss")
    invariant = [
        names.index(n)
        for n in ("class_size", "disconnected", "canon_conv1", "canon_conv3", "canon_pool")
    ]
    reps = TSS.representatives()
    np.testing.assert_array_equal(table[:, invariant], table[reps][:, invariant])
    size = table[:, names.index("class_size")]
    assert int((table[:, names.index("is_representative")]).sum()) == 6466
    assert np.isclose((1 / size).sum(), 6466)


def test_costs_follow_the_dataset() -> None:
    names = feature_names("tss")
    for ds in ("cifar10", "ImageNet16-120"):
        params, flops = cost_all("tss", ds)
        table = feature_table("tss", ds)
        np.testing.assert_allclose(table[:, names.index("params_m")], params, rtol=1e-6)
        np.testing.assert_allclose(table[:, names.index("flops_m")], flops, rtol=1e-6)
    np.testing.assert_array_equal(feature_table("tss", None), feature_table("tss", "cifar10"))


def test_sss_channels() -> None:
    x = encode("sss", ["8:16:24:32:64"], "cifar10")[0]
    np.testing.assert_allclose(x[:7], [8, 16, 24, 32, 64, 8, 28.8], rtol=1e-6)
    params, flops = cost_all("sss", "cifar10")
    i = get_space("sss").index("8:16:24:32:64")
    assert np.isclose(x[7], params[i]) and np.isclose(x[8], flops[i])


def test_strings_and_indices_agree() -> None:
    archs = [TSS.arch(i) for i in (0, 11, 15624)]
    np.testing.assert_array_equal(encode("tss", archs), encode("tss", [0, 11, 15624]))
    np.testing.assert_array_equal(arch_indices("tss", np.array([3, 4])), [3, 4])


@pytest.mark.parametrize(
    ("archs", "match"),
    [
        (["|bogus~0|+|none~0|none~1|+|none~0|none~1|none~2|"], r"archs\[0\].*unknown operation"),
        ([0, "8:8:8:8:8"], r"archs\[1\]"),
        ([15625], "out of range"),
        (np.array([-1]), "out of range"),
        ([1.5], "integer"),
        ("|none~0|", "not one string"),
    ],
)
def test_bad_archs(archs, match) -> None:
    with pytest.raises(ValueError, match=match):
        encode("tss", archs)


def test_bad_space_and_dataset() -> None:
    with pytest.raises(ValueError, match="unknown search space"):
        feature_table("nb101")
    with pytest.raises(ValueError, match="unknown dataset"):
        feature_table("tss", "mnist")
