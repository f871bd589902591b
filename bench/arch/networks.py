"""Torch modules for both NATS-Bench spaces, with NATS-Bench's state_dict names.

The module trees mirror NATS-Bench's networks (spec natsbench 1.2-1.5, 2.3) so that published
weights load with ``strict=True``: a stem, cells and residual reduction blocks in ``cells``, a
``lastact`` head and a ``classifier``. ``forward`` returns ``(features, logits)`` as NATS-Bench's
networks do. Smaller skeletons (``C``, ``N``) and grayscale input serve proxy tasks.

Example:
    >>> import torch
    >>> from bench.arch.networks import build
    >>> net = build("tss", 11, num_classes=10)
    >>> features, logits = net(torch.zeros(2, 3, 32, 32))
    >>> tuple(logits.shape)
    (2, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.arch.costs import cost, cost_all
from bench.arch.spaces import EDGES, get_space
from bench.checks import check_int
from bench.errors import InputError

__all__ = ["build", "cost", "cost_all", "count_params", "count_flops", "SSS_GENOTYPE"]

#: Every SSS network uses the cell of TSS index 9930 (spec natsbench 2.2).
SSS_GENOTYPE = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv (no bias) -> BN, held in ``op`` so the names read ``op.1`` / ``op.2``.

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel: square kernel size.
        stride: convolution stride.
        padding: convolution padding.

    Example:
        >>> import torch
        >>> tuple(ReLUConvBN(3, 8, 3, 2, 1)(torch.zeros(1, 3, 8, 8)).shape)
        (1, 8, 4, 4)
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU, conv, BN of an (n, c_in, h, w) batch."""
        return self.op(x)


class Pooling(nn.Module):
    """3x3 average pooling; a 1x1 projection (``preprocess``) first when widths differ.

    Args:
        c_in: input channels.
        c_out: output channels.

    Example:
        >>> Pooling(8, 8).preprocess is None, Pooling(8, 16).preprocess is None
        (True, False)
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.preprocess = None if c_in == c_out else ReLUConvBN(c_in, c_out, 1, 1, 0)
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average-pool (after the projection, if any), same resolution."""
        return self.op(x if self.preprocess is None else self.preprocess(x))


class Zero(nn.Module):
    """The ``none`` op: zeros of the output width (still part of the node sum).

    Args:
        c_in: input channels.
        c_out: output channels.

    Example:
        >>> import torch
        >>> Zero(3, 5)(torch.ones(2, 3, 4, 4)).abs().sum().item(), Zero(3, 5).c_out
        (0.0, 5)
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.c_out = c_out
        self.same = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zeros of shape (n, c_out, h, w)."""
        if self.same:
            return x.mul(0.0)
        return x.new_zeros(x.shape[0], self.c_out, *x.shape[2:])


class Projection(nn.Module):
    """``skip_connect`` between different widths at stride 1: 1x1 conv then BN, no ReLU.

    Args:
        c_in: input channels.
        c_out: output channels.

    Example:
        >>> Projection(8, 16).conv.out_channels
        16
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """1x1 conv, then BN."""
        return self.bn(self.conv(x))


def _edge_op(op: str, c_in: int, c_out: int) -> nn.Module:
    if op == "none":
        return Zero(c_in, c_out)
    if op == "skip_connect":
        return nn.Identity() if c_in == c_out else Projection(c_in, c_out)
    if op == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, 1, 0)
    if op == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, 1, 1)
    if op == "avg_pool_3x3":
        return Pooling(c_in, c_out)
    raise InputError(f"unknown operation {op!r}")


class Cell(nn.Module):
    """A 4-node DAG cell; node j is the plain sum of its incoming edges, node 3 is the output.

    Args:
        ops: six op names, one per edge in :data:`~bench.arch.spaces.EDGES` order.
        c_in: channels of the input node.
        c_out: channels of the other nodes (and of the output).

    Example:
        >>> import torch
        >>> cell = Cell(["nor_conv_3x3"] * 6, 4, 8)
        >>> tuple(cell(torch.zeros(1, 4, 6, 6)).shape)
        (1, 8, 6, 6)
    """

    def __init__(self, ops: Sequence[str], c_in: int, c_out: int) -> None:
        super().__init__()
        # edges leaving the input node map c_in -> c_out; all others are c_out -> c_out
        self.layers = nn.ModuleList(
            _edge_op(op, c_in if src == 0 else c_out, c_out)
            for op, (_, src) in zip(ops, EDGES, strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate the nodes in order and return node 3."""
        nodes = [x]
        e = 0
        for target in (1, 2, 3):
            total = self.layers[e](nodes[0])
            for source in range(1, target):
                total = total + self.layers[e + source](nodes[source])
            e += target
            nodes.append(total)
        return nodes[3]


class ResidualBlock(nn.Module):
    """Stride-2 reduction: two ReLU-Conv-BN units plus an avg-pool + 1x1 conv shortcut.

    Args:
        c_in: input channels.
        c_out: output channels.

    Example:
        >>> import torch
        >>> tuple(ResidualBlock(4, 8)(torch.zeros(1, 4, 6, 6)).shape)
        (1, 8, 3, 3)
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shortcut plus the two conv units, at half the resolution."""
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NATSNetwork(nn.Module):
    """Stem, cells and reduction blocks, BN-ReLU, pool, linear; returns (features, logits).

    Build one with :func:`build`; the attribute names match NATS-Bench's state_dict keys.

    Args:
        stem_width: channels of the 3x3 stem convolution.
        in_channels: image channels (3, or 1 for grayscale proxies).
        blocks: the cells and reduction blocks, in order (``cells``).
        num_classes: outputs of the classifier.
        last_width: channels of the last block (the classifier's input).

    Example:
        >>> net = NATSNetwork(4, 1, [Cell(["skip_connect"] * 6, 4, 4)], num_classes=3, last_width=4)
        >>> [name for name, _ in net.named_children()]
        ['stem', 'cells', 'lastact', 'global_pooling', 'classifier']
    """

    def __init__(
        self,
        stem_width: int,
        in_channels: int,
        blocks: list[nn.Module],
        num_classes: int,
        last_width: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 3, padding=1, bias=False), nn.BatchNorm2d(stem_width)
        )
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(last_width), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_width, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features, logits)`` of an (n, in_channels, h, w) batch, as NATS-Bench returns."""
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        features = self.global_pooling(self.lastact(x)).flatten(1)
        return features, self.classifier(features)


def _ops(arch: str) -> list[str]:
    return [token.split("~")[0] for node in arch.split("+") for token in node.strip("|").split("|")]


def build(
    space: str,
    arch: str | int,
    num_classes: int,
    *,
    C: int = 16,
    N: int = 5,
    in_channels: int = 3,
) -> nn.Module:
    """A freshly initialised network for ``arch`` (a string or NATS index) of ``space``.

    Default PyTorch initialisation, as in NATS-Bench.

    Args:
        space: ``"tss"`` or ``"sss"``.
        arch: an arch string or a NATS index.
        num_classes: outputs of the classifier.
        C: TSS stem width (ignored by SSS, whose five widths give the whole network).
        N: TSS cells per stage (ignored by SSS).
        in_channels: image channels.

    Returns:
        A :class:`NATSNetwork` whose ``forward`` returns ``(features, logits)``.

    Raises:
        InputError: an unknown space, a bad arch, or a size that is not a positive integer.

    Example:
        >>> net = build("sss", "8:16:24:32:40", num_classes=100)
        >>> net.classifier.out_features
        100
    """
    sp = get_space(space)
    _, arch = sp.resolve(arch)
    for name, value in (
        ("num_classes", num_classes),
        ("C", C),
        ("N", N),
        ("in_channels", in_channels),
    ):
        check_int(value, name)
    if sp.name == "tss":
        ops = _ops(arch)
        blocks: list[nn.Module] = []
        width = C
        for stage in range(3):
            if stage:
                blocks.append(ResidualBlock(width, width * 2))
                width *= 2
            blocks.extend(Cell(ops, width, width) for _ in range(N))
        return NATSNetwork(C, in_channels, blocks, num_classes, width)
    c0, c1, c2, c3, c4 = sp.channels(arch)
    genotype = _ops(SSS_GENOTYPE)
    blocks = [
        Cell(genotype, c0, c0),
        ResidualBlock(c0, c1),
        Cell(genotype, c1, c2),
        ResidualBlock(c2, c3),
        Cell(genotype, c3, c4),
    ]
    return NATSNetwork(c0, in_channels, blocks, num_classes, c4)


def count_params(module: nn.Module) -> int:
    """Trainable parameters (BN running statistics are buffers and do not count).

    Args:
        module: any torch module.

    Returns:
        The number of trainable scalars.

    Example:
        >>> from torch import nn
        >>> count_params(nn.Linear(4, 2))
        10
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_flops(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of Conv2d and Linear layers for one input of shape (C, H, W).

    Counted from the real forward pass with hooks, as NATS-Bench counts: pooling, BN, ReLU,
    additions and zero ops are free; a bias adds one per output element.

    Args:
        module: a torch module that takes one (1, C, H, W) batch.
        input_shape: ``(C, H, W)`` of one input.

    Returns:
        The multiply-accumulates of one forward pass (the module's train/eval mode is kept).

    Example:
        >>> from torch import nn
        >>> count_flops(nn.Conv2d(1, 2, 3, padding=1, bias=False), (1, 4, 4))
        288
    """
    total = 0

    def conv_hook(m: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels * m.out_channels // m.groups
        total += (k + (m.bias is not None) * m.out_channels) * out.shape[2] * out.shape[3]

    def linear_hook(m: nn.Linear, _inp: tuple, _out: torch.Tensor) -> None:
        nonlocal total
        total += m.in_features * m.out_features + (m.bias is not None) * m.out_features

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, *input_shape))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return total
