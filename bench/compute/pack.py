"""Many TSS networks trained together in one process, each as if it trained alone.

A pack stacks K networks of the TSS space along the channel dimension: network ``k`` owns channels
``[k * c, (k + 1) * c)`` of every activation. The stem reads the shared input with one convolution
of ``K * c`` filters; the reduction blocks are grouped convolutions (``groups=K``); on each cell
edge the networks that chose a convolution run it as one grouped convolution over their gathered
channels (scattered back with ``index_add``), skip and pooling edges are per-channel masks, ``none``
edges add nothing; BatchNorm is per channel, so per network; the classifier is a batched matmul.
Nothing mixes channels of two networks, so each network's loss, gradients, BatchNorm statistics and
SGD update are its own: the pack's loss is the *sum* of the networks' mean losses, and
:func:`bench.compute.pack_train.train_pack` runs NATS-Bench's protocol
(:func:`bench.compute.training.train`, same batches, same schedule) on it. Per network the result
equals training alone up to float rounding (tests/bench/test_pack.py).

SSS networks differ in width layer by layer and are refused (an ``InputError``).

Example:
    >>> import torch
    >>> from bench.compute.pack import build_pack
    >>> pack = build_pack("tss", [11, 284, 5000], 10, C=4, N=1, in_channels=1)
    >>> features, logits = pack(torch.zeros(2, 1, 8, 8))
    >>> tuple(features.shape), tuple(logits.shape)
    ((3, 2, 16), (3, 2, 10))
    >>> sorted(pack.network_state_dict(1)) == sorted(pack.network(1).state_dict())
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from bench.arch.networks import build
from bench.arch.spaces import EDGES, get_space
from bench.checks import check_int
from bench.errors import InputError

__all__ = ["PackedNetworks", "build_pack"]

_CONVS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class _Layer(nn.Module):
    """ReLU? -> conv (no bias) -> BN? for the networks ``members``, their tensors stacked on dim 0.

    ``names`` maps each local state_dict key to the NATS-Bench key of the same tensor in each
    member (the same key for every member: they share the skeleton).
    """

    def __init__(
        self,
        members: Sequence[int],
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        *,
        conv_key: str,
        bn_key: str | None,
        relu: bool = True,
        shared_input: bool = False,
    ) -> None:
        super().__init__()
        g = len(members)
        self.members = list(members)
        self.relu = relu
        # a shared input (the stem) feeds every filter; otherwise each member sees its own channels
        self.conv = nn.Conv2d(
            c_in if shared_input else g * c_in,
            g * c_out,
            kernel,
            stride=stride,
            padding=(kernel - 1) // 2,
            groups=1 if shared_input else g,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(g * c_out) if bn_key is not None else None
        self.names = {"conv.weight": f"{conv_key}.weight"}
        if bn_key is not None:
            self.names.update({f"bn.{k}": f"{bn_key}.{k}" for k in _BN_KEYS})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The members' outputs, stacked along channels."""
        y = self.conv(torch.relu(x) if self.relu else x)
        return y if self.bn is None else self.bn(y)


class _Cell(nn.Module):
    """One TSS cell of every network of the pack (each network with its own genotype)."""

    def __init__(self, ops: Sequence[Sequence[str]], c: int, key: str) -> None:
        super().__init__()
        k_count = len(ops)
        self.layers = nn.ModuleDict()
        # per edge: the networks on a skip/pool edge (a channel mask) and on a conv edge
        self.plan: list[list[tuple[str, str | None]]] = []
        for e in range(len(EDGES)):
            parts: list[tuple[str, str | None]] = []
            members = [k for k in range(k_count) if ops[k][e] == "skip_connect"]
            if members:
                mask = None if len(members) == k_count else f"mask_{e}"
                if mask is not None:
                    self.register_buffer(mask, _mask(members, k_count, c), persistent=False)
                parts.append(("skip", mask))
            members = [k for k in range(k_count) if ops[k][e] == "avg_pool_3x3"]
            if members:
                index = None if len(members) == k_count else f"index_{e}_pool"
                if index is not None:
                    self.register_buffer(index, _channels(members, c), persistent=False)
                parts.append(("pool", index))
            for op, kernel in _CONVS.items():
                members = [k for k in range(k_count) if ops[k][e] == op]
                if members:
                    name = f"e{e}_{kernel}x{kernel}"
                    self.layers[name] = _Layer(
                        members,
                        c,
                        c,
                        kernel,
                        1,
                        conv_key=f"{key}.layers.{e}.op.1",
                        bn_key=f"{key}.layers.{e}.op.2",
                        relu=False,  # the cell applies one ReLU per node for all its conv edges
                    )
                    index = None if len(members) == k_count else f"index_{name}"
                    if index is not None:
                        self.register_buffer(index, _channels(members, c), persistent=False)
                    parts.append((name, index))
            self.plan.append(parts)
        # 3x3 average pooling (count_include_pad=False) as a depthwise sum over the pooled
        # channels divided by the count of valid neighbours: on a CPU, avg_pool2d on NCHW tensors
        # of many channels is ~10x slower than this
        self.register_buffer("ones", torch.ones(k_count * c, 1, 3, 3), persistent=False)
        self._counts: dict[tuple[Any, ...], torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Nodes 1-3 of every network; node j sums its edges in NATS-Bench's order."""
        nodes = [x]
        relu: dict[int, torch.Tensor] = {}
        e = 0
        for target in (1, 2, 3):
            node = _Sum(x)
            for source in range(target):
                h = nodes[source]
                for name, aux in self.plan[e]:
                    index = None if aux is None or name == "skip" else getattr(self, aux)
                    if name == "skip":
                        node.add(
                            h if aux is None else h * getattr(self, aux), fresh=aux is not None
                        )
                        continue
                    if name == "pool":
                        part = self._pool(h if index is None else h.index_select(1, index))
                    else:
                        if source not in relu:  # one ReLU per node for the conv edges leaving it
                            relu[source] = torch.relu(h)
                        r = relu[source]
                        part = self.layers[name](r if index is None else r.index_select(1, index))
                    node.add(part, index=index)
                e += 1
            nodes.append(node.value())
        return nodes[3]

    def _pool(self, h: torch.Tensor) -> torch.Tensor:
        """3x3 average over the valid neighbours (stride 1), channel by channel."""
        key = (h.shape[2], h.shape[3], h.device, h.dtype)
        if key not in self._counts:
            ones = torch.ones(1, 1, *key[:2], device=h.device, dtype=h.dtype)
            kernel = torch.ones(1, 1, 3, 3, device=h.device, dtype=h.dtype)
            self._counts[key] = nn.functional.conv2d(ones, kernel, padding=1)
        weight = self.ones[: h.shape[1]].to(h.dtype)
        summed = nn.functional.conv2d(h, weight, padding=1, groups=h.shape[1])
        return summed / self._counts[key]


class _Sum:
    """A node's sum over its edges, accumulated in place once the cell owns the tensor.

    A part is a full-width tensor, or the channels ``index`` of the node (scattered with
    ``index_add``). Only tensors this node made are changed in place (an edge's input never
    is); autograd's version counters would refuse anything else.
    """

    def __init__(self, like: torch.Tensor) -> None:
        self.like = like
        self.total: torch.Tensor | None = None
        self.owned = False

    def add(
        self, part: torch.Tensor, *, index: torch.Tensor | None = None, fresh: bool = True
    ) -> None:
        """Add ``part`` (to the channels ``index``, if given), promoting dtypes as ``+`` does."""
        if index is not None:
            if self.total is None:
                self.total = torch.zeros_like(self.like, dtype=part.dtype)
                self.owned = True
            dtype = torch.promote_types(self.total.dtype, part.dtype)  # autocast mixes them
            if self.owned and self.total.dtype == dtype:
                self.total.index_add_(1, index, part.to(dtype))
            else:
                self.total = self.total.to(dtype).index_add(1, index, part.to(dtype))
                self.owned = True
        elif self.total is None:
            self.total, self.owned = part, fresh
        elif self.owned and self.total.dtype == torch.promote_types(self.total.dtype, part.dtype):
            self.total.add_(part)
        else:
            self.total, self.owned = self.total + part, True

    def value(self) -> torch.Tensor:
        """The sum (zeros where no edge contributes)."""
        return torch.zeros_like(self.like) if self.total is None else self.total


class _Reduction(nn.Module):
    """The residual reduction block of every network (same widths: grouped convolutions)."""

    def __init__(self, k_count: int, c_in: int, c_out: int, key: str) -> None:
        super().__init__()
        members = range(k_count)
        self.conv_a = _Layer(
            members, c_in, c_out, 3, 2, conv_key=f"{key}.conv_a.op.1", bn_key=f"{key}.conv_a.op.2"
        )
        self.conv_b = _Layer(
            members, c_out, c_out, 3, 1, conv_key=f"{key}.conv_b.op.1", bn_key=f"{key}.conv_b.op.2"
        )
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2, padding=0)
        self.down = _Layer(
            members, c_in, c_out, 1, 1, conv_key=f"{key}.downsample.1", bn_key=None, relu=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shortcut plus the two conv units, at half the resolution."""
        return self.down(self.pool(x)) + self.conv_b(self.conv_a(x))


class _Classifier(nn.Module):
    """K linear heads as one batched matmul; weight (K*O, C) and bias (K*O) stack the heads."""

    def __init__(self, k_count: int, c: int, num_classes: int) -> None:
        super().__init__()
        self.members = list(range(k_count))
        self.weight = nn.Parameter(torch.empty(k_count * num_classes, c))
        self.bias = nn.Parameter(torch.empty(k_count * num_classes))
        self.names = {"weight": "classifier.weight", "bias": "classifier.bias"}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(K, B, C) features -> (K, B, O) logits."""
        k_count = features.shape[0]
        weight = self.weight.view(k_count, -1, features.shape[2]).transpose(1, 2)
        return torch.baddbmm(self.bias.view(k_count, 1, -1), features, weight)


class PackedNetworks(nn.Module):
    """K TSS networks stacked along channels; ``forward`` returns (K, B, ...) features and logits.

    Make one with :func:`build_pack`. Each network keeps its own weights, BatchNorm statistics and
    (in :func:`~bench.compute.pack_train.train_pack`) optimizer state; :meth:`network_state_dict`
    gives a network's tensors under NATS-Bench's names and :meth:`load_networks` takes them from
    built modules.

    Args:
        archs: the K arch strings (TSS).
        num_classes: outputs of each classifier.
        C: stem width.
        N: cells per stage.
        in_channels: image channels.

    Example:
        >>> pack = PackedNetworks([get_space("tss").arch(i) for i in (0, 1)], 10, C=4, N=1,
        ...                       in_channels=1)
        >>> len(pack), pack.archs[1] == get_space("tss").arch(1)
        (2, True)
    """

    def __init__(
        self, archs: Sequence[str], num_classes: int, *, C: int, N: int, in_channels: int
    ) -> None:
        super().__init__()
        self.archs = list(archs)
        self.build_args = {"num_classes": num_classes, "C": C, "N": N, "in_channels": in_channels}
        ops = [[tok.split("~")[0] for tok in a.replace("+", "").strip("|").split("|") if tok]
               for a in self.archs]  # fmt: skip
        k_count = len(ops)
        members = range(k_count)
        self.stem = _Layer(
            members, in_channels, C, 3, 1, conv_key="stem.0", bn_key="stem.1", relu=False,
            shared_input=True,
        )  # fmt: skip
        blocks: list[nn.Module] = []
        width = C
        for stage in range(3):
            if stage:
                blocks.append(_Reduction(k_count, width, width * 2, f"cells.{len(blocks)}"))
                width *= 2
            for _ in range(N):
                blocks.append(_Cell(ops, width, f"cells.{len(blocks)}"))
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.BatchNorm2d(k_count * width)
        self.lastact.members = list(members)  # type: ignore[assignment]
        self.lastact.names = {k: f"lastact.0.{k}" for k in _BN_KEYS}  # type: ignore[assignment]
        self.classifier = _Classifier(k_count, width, num_classes)
        self.width = width

    def __len__(self) -> int:
        return len(self.archs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features, logits)`` of shapes (K, B, width) and (K, B, classes) for (B, C, H, W)."""
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        pooled = torch.relu(self.lastact(x)).mean((2, 3))
        features = pooled.view(pooled.shape[0], len(self), self.width).transpose(0, 1)
        return features, self.classifier(features)

    def _leaves(self) -> Iterable[nn.Module]:
        """The packed layers: each knows its member networks and their NATS-Bench key names."""
        return (m for m in self.modules() if hasattr(m, "members"))

    def network_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Network ``k``'s state_dict under NATS-Bench's key names (copies, on the pack's device).

        Args:
            k: the network's position in the pack.

        Returns:
            A state_dict that a module built with :func:`bench.arch.networks.build` (same arch
            and sizes) loads with ``strict=True``.

        Raises:
            InputError: ``k`` is not a position of the pack.
        """
        check_int(k, "k", minimum=0)
        if k >= len(self):
            raise InputError(f"k must be below the pack's size {len(self)}, got {k}")
        out: dict[str, torch.Tensor] = {}
        for leaf in self._leaves():
            if k not in leaf.members:
                continue
            pos, g = leaf.members.index(k), len(leaf.members)
            local = leaf.state_dict()
            for name, key in leaf.names.items():
                t = local[name]
                out[key] = t.clone() if t.ndim == 0 else t.chunk(g)[pos].clone()
        return out

    def network(self, k: int) -> nn.Module:
        """Network ``k`` as a standalone :func:`~bench.arch.networks.build` module (CPU, float32).

        Example:
            >>> pack = build_pack("tss", [1, 2], 10, C=4, N=1, in_channels=1)
            >>> type(pack.network(0)).__name__
            'NATSNetwork'
        """
        net = build("tss", self.archs[k], **self.build_args)
        net.load_state_dict({n: t.cpu().float() for n, t in self.network_state_dict(k).items()})
        return net

    @torch.no_grad()
    def load_networks(self, networks: Sequence[nn.Module]) -> PackedNetworks:
        """Copy the weights and BatchNorm statistics of K built modules into the pack.

        Args:
            networks: K modules made by :func:`bench.arch.networks.build` for ``archs`` (same
                order and sizes).

        Returns:
            The pack itself.

        Raises:
            InputError: not K networks, or a network's state_dict does not fit its place (other
                keys or shapes, or BatchNorm step counts that differ between networks).
        """
        if len(networks) != len(self):
            raise InputError(f"need {len(self)} networks for the pack, got {len(networks)}")
        states = [net.state_dict() for net in networks]
        used: list[set[str]] = [set() for _ in networks]
        for leaf in self._leaves():
            local = leaf.state_dict()
            for name, key in leaf.names.items():
                try:
                    parts = [states[k][key] for k in leaf.members]
                except KeyError:
                    raise InputError(f"a network lacks {key!r}: not built for this pack") from None
                target = local[name]
                if target.ndim == 0:
                    if any(not torch.equal(p, parts[0]) for p in parts):
                        raise InputError(f"{key}: the networks' BatchNorm step counts differ")
                    target.copy_(parts[0])
                else:
                    stacked = torch.cat([p.reshape(-1, *target.shape[1:]) for p in parts])
                    if stacked.shape != target.shape:
                        raise InputError(f"{key}: shape {tuple(parts[0].shape)} does not fit")
                    target.copy_(stacked)
                for k in leaf.members:
                    used[k].add(key)
        for k, state in enumerate(states):
            extra = sorted(set(state) - used[k])
            if extra:
                raise InputError(f"network {k} has tensors the pack lacks: {extra[:3]}")
        return self


def build_pack(
    space: str,
    archs: Sequence[str | int],
    num_classes: int,
    *,
    C: int = 16,
    N: int = 5,
    in_channels: int = 3,
    networks: Sequence[nn.Module] | None = None,
) -> PackedNetworks:
    """K networks of ``space`` packed for training together, initialised as built one by one.

    Args:
        space: ``"tss"`` (``"sss"`` is refused).
        archs: arch strings or NATS indices (repeats allowed).
        num_classes: outputs of each classifier.
        C: stem width.
        N: cells per stage.
        in_channels: image channels.
        networks: K modules built with :func:`bench.arch.networks.build` for ``archs`` whose
            weights the pack starts from (default: built here, one after the other, from
            torch's global random state).

    Returns:
        The pack, on the CPU, in float32.

    Raises:
        InputError: an SSS pack, no architectures, a bad arch or size, or networks that do
            not fit.

    Example:
        >>> len(build_pack("tss", ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 7],
        ...                10, C=4, N=1))
        2
        >>> build_pack("sss", [0, 1], 10)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        InputError: packs are TSS only: ...
    """
    sp = get_space(space)
    if sp.name != "tss":
        raise InputError(
            "packs are TSS only: SSS networks differ in width layer by layer, so they do not "
            "stack into grouped convolutions; compute SSS networks one by one (pack=1)"
        )
    if isinstance(archs, (str, bytes)) or len(archs) == 0:
        raise InputError(f"archs must be a non-empty sequence of architectures, got {archs!r}")
    for name, value in (("num_classes", num_classes), ("C", C), ("N", N)):
        check_int(value, name)
    check_int(in_channels, "in_channels")
    strings = [sp.resolve(a)[1] for a in archs]
    pack = PackedNetworks(strings, num_classes, C=C, N=N, in_channels=in_channels)
    if networks is None:
        networks = [
            build("tss", a, num_classes, C=C, N=N, in_channels=in_channels) for a in strings
        ]
    return pack.load_networks(networks)


def _mask(members: Sequence[int], k_count: int, c: int) -> torch.Tensor:
    m = torch.zeros(k_count, c)
    m[list(members)] = 1.0
    return m.view(1, k_count * c, 1, 1)


def _channels(members: Sequence[int], c: int) -> torch.Tensor:
    return (torch.as_tensor(list(members)).view(-1, 1) * c + torch.arange(c)).flatten()
