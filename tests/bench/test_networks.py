"""bench.arch.networks and bench.arch.costs: module structure, NATS state_dict names, params and
FLOPs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.arch.costs import cost, cost_all
from bench.arch.networks import build, count_flops, count_params
from bench.arch.spaces import get_space

# spec natsbench 3.3 and 3.4: (space, index) -> {dataset: (params_m, flops_m)}
REFERENCE = {
    ("tss", 0): {
        "cifar10": (0.129306, 15.64737),
        "cifar100": (0.135156, 15.65322),
        "ImageNet16-120": (0.136456, 3.91948),
    },
    ("tss", 11): {
        "cifar10": (0.802426, 113.95137),
        "cifar100": (0.808276, 113.95722),
        "ImageNet16-120": (0.809576, 28.49548),
    },
    ("tss", 284): {
        "cifar10": (0.101306, 11.71521),
        "cifar100": (0.107156, 11.72106),
        "ImageNet16-120": (0.108456, 2.93644),
    },
    ("tss", 1651): {
        "cifar10": (0.073306, 7.78305),
        "cifar100": (0.079156, 7.78890),
        "ImageNet16-120": (0.080456, 1.95340),
    },
    ("tss", 1462): {
        "cifar10": (1.531546, 220.11969),
        "cifar100": (1.537396, 220.12554),
        "ImageNet16-120": (1.538696, 55.03756),
    },
    ("tss", 9930): {
        "cifar10": (1.288506, 184.73025),
        "cifar100": (1.294356, 184.73610),
        "ImageNet16-120": (1.295656, 46.19020),
    },
    ("tss", 13714): {
        "cifar10": (1.073466, 153.27297),
        "cifar100": (1.079316, 153.27882),
        "ImageNet16-120": (1.080616, 38.32588),
    },
    ("tss", 857): {
        "cifar10": (0.858426, 121.81569),
        "cifar100": (0.864276, 121.82154),
        "ImageNet16-120": (0.865576, 30.46156),
    },
    ("tss", 9): {"cifar10": (0.316346, 43.17249)},
    ("sss", 0): {
        "cifar10": (0.011714, 4.481114),
        "cifar100": (0.012524, 4.481924),
        "ImageNet16-120": (0.012704, 1.121336),
    },
    ("sss", 11): {
        "cifar10": (0.049202, 6.84065),
        "cifar100": (0.052172, 6.84362),
        "ImageNet16-120": (0.052832, 1.71404),
    },
    ("sss", 12): {"cifar10": (0.067378, None)},
    ("sss", 284): {
        "cifar10": (0.144834, 21.827994),
        "cifar100": (0.148524, 21.831684),
        "ImageNet16-120": (0.149344, 5.461816),
    },
    ("sss", 5887): {"cifar10": (0.316346, 43.17249)},
    ("sss", 14043): {
        "cifar10": (0.179690, 69.042506),
        "cifar100": (0.182660, 69.045476),
        "ImageNet16-120": (0.183320, 17.264504),
    },
    ("sss", 32767): {
        "cifar10": (0.713674, 274.399882),
        "cifar100": (0.719524, 274.405732),
        "ImageNet16-120": (0.720824, 68.607608),
    },
}
SHAPES = {"cifar10": (3, 32, 32), "cifar100": (3, 32, 32), "ImageNet16-120": (3, 16, 16)}
CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


@pytest.mark.parametrize(("key", "dataset"), [(k, d) for k, v in REFERENCE.items() for d in v])
def test_closed_form_matches_reference(key, dataset) -> None:
    params, flops = REFERENCE[key][dataset]
    got = cost(key[0], key[1], dataset)
    assert got["params_m"] == pytest.approx(params, abs=5e-7)
    if flops is not None:
        assert got["flops_m"] == pytest.approx(flops, abs=5e-7)


@pytest.mark.parametrize(("key", "dataset"), [(k, d) for k, v in REFERENCE.items() for d in v])
def test_built_module_counts_match_closed_form(key, dataset) -> None:
    space, index = key
    net = build(space, index, CLASSES[dataset])
    got = cost(space, index, dataset)
    assert count_params(net) / 1e6 == pytest.approx(got["params_m"], abs=5e-7)
    assert count_flops(net, SHAPES[dataset]) / 1e6 == pytest.approx(got["flops_m"], abs=5e-7)


@pytest.mark.parametrize("space", ["tss", "sss"])
def test_random_archs_and_proxy_skeleton_match_closed_form(space: str) -> None:
    rng = np.random.default_rng(3)
    sp = get_space(space)
    for index in rng.integers(0, sp.size, 6).tolist():
        net = build(space, index, 10, C=8, N=1, in_channels=1)
        got = cost(space, index, "digits", C=8, N=1)
        assert count_params(net) / 1e6 == pytest.approx(got["params_m"], abs=5e-7)
        assert count_flops(net, (1, 8, 8)) / 1e6 == pytest.approx(got["flops_m"], abs=5e-7)


def test_cost_all_agrees_with_cost() -> None:
    params, flops = cost_all("tss", "cifar100")
    assert params.shape == (15625,)
    for i in (0, 11, 1462, 15624):
        assert cost("tss", i, "cifar100") == {
            "params_m": round(params[i], 6),
            "flops_m": round(flops[i], 6),
        }
    # only the conv counts matter for TSS: 28 distinct values
    assert np.unique(np.round(params, 6)).size == 28


def test_tss_state_dict_names_follow_nats() -> None:
    keys = set(build("tss", 11, 10).state_dict())
    # stem, a conv edge in cell 0, the residual block at layer 5, the head
    for key in (
        "stem.0.weight",
        "stem.1.num_batches_tracked",
        "cells.0.layers.0.op.1.weight",
        "cells.0.layers.0.op.2.running_var",
        "cells.5.conv_a.op.1.weight",
        "cells.5.conv_b.op.2.bias",
        "cells.5.downsample.1.weight",
        "cells.16.layers.4.op.1.weight",
        "lastact.0.weight",
        "classifier.weight",
        "classifier.bias",
    ):
        assert key in keys
    # edge 3 (3<-0) of index 11 is 'none' and edge 2 is avg_pool: no tensors in those slots
    assert not any(k.startswith(("cells.0.layers.3.", "cells.0.layers.2.")) for k in keys)
    assert len(build("tss", 11, 10).cells) == 17


def test_sss_projection_names_follow_nats() -> None:
    keys = set(build("sss", "8:16:24:32:40", 10).state_dict())
    # cell 2 maps 16 -> 24: the skip edge 3<-0 becomes a 1x1 conv + BN
    assert "cells.2.layers.3.conv.weight" in keys and "cells.2.layers.3.bn.weight" in keys
    # cell 0 is 8 -> 8: the skip stays an identity
    assert not any(k.startswith("cells.0.layers.3.") for k in keys)
    assert build("sss", 0, 10).state_dict()["cells.0.layers.0.op.1.weight"].shape == (8, 8, 3, 3)


def test_pool_projection_when_widths_differ() -> None:
    from bench.arch.networks import Cell

    cell = Cell(["avg_pool_3x3", "none", "none", "none", "none", "none"], 8, 16)
    names = set(cell.state_dict())
    assert "layers.0.preprocess.op.1.weight" in names
    out = cell(torch.randn(2, 8, 4, 4))
    assert out.shape == (2, 16, 4, 4)


def test_weights_roundtrip_strict() -> None:
    torch.manual_seed(0)
    a, b = build("tss", 284, 10), build("tss", 284, 10)
    b.load_state_dict(a.state_dict(), strict=True)
    a.eval(), b.eval()
    x = torch.randn(4, 3, 32, 32)
    feats, logits = a(x)
    assert feats.shape == (4, 64)
    assert torch.equal(logits, b(x)[1])
    with pytest.raises(RuntimeError, match="Missing key"):
        build("tss", 11, 10).load_state_dict(a.state_dict(), strict=True)


def test_forward_and_backward_on_all_none_cell() -> None:
    net = build("tss", 1651, 10, C=8, N=1, in_channels=1)
    _, logits = net(torch.randn(3, 1, 8, 8))
    logits.sum().backward()
    assert logits.shape == (3, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 0}, "num_classes must be a positive integer"),
        ({"num_classes": 10, "C": 2.5}, "C must be a positive integer"),
        ({"num_classes": 10, "in_channels": True}, "in_channels must be a positive integer"),
    ],
)
def test_bad_build_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        build("tss", 0, **kwargs)


def test_bad_arch_and_dataset() -> None:
    with pytest.raises(ValueError, match="out of range"):
        build("sss", 40000, 10)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        cost("tss", 0, "mnist")
