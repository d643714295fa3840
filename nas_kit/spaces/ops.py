"""Candidate operations of the two search spaces.

DARTS CNN space (Liu et al., ICLR 2019, official `cnn/operations.py`) and NAS-Bench-201
(Dong & Yang, ICLR 2020, `xautodl/models/cell_operations.py`), re-implemented from the
specs in the project's research notes. Every op maps (N, C, H, W) -> (N, C, H/s, W/s).

`affine` switches the BatchNorm affine parameters: the DARTS supernet uses
``affine=False`` inside cells, evaluation networks and RF-DARTS use ``affine=True``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = [
    "DARTS_OPS", "NB201_OPS", "make_op", "NoisyIdentity", "ReLUConvBN", "FactorizedReduce", "SepConv",
    "DilConv", "Zero", "Identity", "PoolBN", "ResNetBasicBlock",
]


class Zero(nn.Module):
    """The `none` op: zeros of the output shape (subsampled when stride 2)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Identity(nn.Module):
    """`skip_connect` with stride 1. Drop-path skips it (it has no weights to regularise)."""

    def forward(self, x):
        return x


class NoisyIdentity(nn.Module):
    """Stride-1 skip plus Gaussian noise, x + d·N(0, 1), in training mode only.

    Fair DARTS' "unfair advantage" ablation (``--noise_darts``): noise removes the
    advantage a clean skip path has while the convolutions are still random. The search
    loop sets ``scale`` (d) every epoch; d = 0 makes it an identity.

    d is also kept in the 0-dim buffer ``scale_tensor``, which the noise is multiplied by:
    a captured CUDA graph reads each epoch's d from it at every replay, where a Python float
    would stay frozen at its value at capture time. The noise itself comes from the default
    generator of x's device, which CUDA graphs advance at every replay.
    """

    def __init__(self):
        super().__init__()
        self._scale = 0.0
        self.register_buffer("scale_tensor", torch.zeros(()), persistent=False)

    @property
    def scale(self) -> float:
        return self._scale

    @scale.setter
    def scale(self, d: float) -> None:
        self._scale = float(d)
        self.scale_tensor.fill_(self._scale)

    def forward(self, x):
        if self.training and self._scale > 0:
            return x + self.scale_tensor * torch.randn_like(x)
        return x


class ReLUConvBN(nn.Module):
    """ReLU -> Conv(k, stride, pad) -> BN. `bias` only for NB201's affine-free search convs."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine=True, bias=False,
                 track_running_stats=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=bias),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    """ReLU -> depthwise k x k (dilation d) -> 1x1 -> BN."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, dilation, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    """The separable block applied twice (only the first one strided), as in DARTS."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            DilConv(c_in, c_in, kernel_size, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel_size, 1, padding, 1, affine),
        )

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halve H and W with two 1x1 stride-2 convs, the second on the input shifted by one pixel.

    Used for stride-2 `skip_connect` and to preprocess s0 after a reduction cell.
    """

    def __init__(self, c_in, c_out, affine=True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        # Odd sizes (e.g. 7x7 Fashion-MNIST maps): the shifted branch is one pixel short; pad it back.
        shifted = x[:, :, 1:, 1:]
        if x.shape[-1] % 2:
            shifted = nn.functional.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class PoolBN(nn.Module):
    """Pooling followed by BN, as pools appear inside the DARTS search MixedOp (non-affine there;
    affine under random features, where BN is all that trains)."""

    def __init__(self, pool: nn.Module, c: int, affine: bool):
        super().__init__()
        self.pool = pool
        self.bn = nn.BatchNorm2d(c, affine=affine)

    def forward(self, x):
        return self.bn(self.pool(x))


def _pool(kind: str, stride: int) -> nn.Module:
    if kind == "max":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


# Each factory: (C, stride, affine, search) -> module. `search` adds the BN after pools
# (DARTS search MixedOp) and, in NB201, gives convs a bias when BN is not affine.
OpFactory = Callable[[int, int, bool, bool], nn.Module]

DARTS_OPS: dict[str, OpFactory] = {
    "none": lambda C, s, affine, search: Zero(s),
    "max_pool_3x3": lambda C, s, affine, search: (
        PoolBN(_pool("max", s), C, affine) if search else _pool("max", s)),
    "avg_pool_3x3": lambda C, s, affine, search: (
        PoolBN(_pool("avg", s), C, affine) if search else _pool("avg", s)),
    "skip_connect": lambda C, s, affine, search: Identity() if s == 1 else FactorizedReduce(C, C, affine),
    "sep_conv_3x3": lambda C, s, affine, search: SepConv(C, C, 3, s, 1, affine),
    "sep_conv_5x5": lambda C, s, affine, search: SepConv(C, C, 5, s, 2, affine),
    "dil_conv_3x3": lambda C, s, affine, search: DilConv(C, C, 3, s, 2, 2, affine),
    "dil_conv_5x5": lambda C, s, affine, search: DilConv(C, C, 5, s, 4, 2, affine),
}

NB201_OPS: dict[str, OpFactory] = {
    "none": lambda C, s, affine, search: Zero(s),
    "skip_connect": lambda C, s, affine, search: Identity() if s == 1 else FactorizedReduce(C, C, affine),
    # NB201 gives convs a bias exactly when its BN has no affine parameters.
    "nor_conv_1x1": lambda C, s, affine, search: ReLUConvBN(C, C, 1, s, 0, affine, bias=not affine),
    "nor_conv_3x3": lambda C, s, affine, search: ReLUConvBN(C, C, 3, s, 1, affine, bias=not affine),
    "avg_pool_3x3": lambda C, s, affine, search: _pool("avg", s),
}


def make_op(name: str, space: str, channels: int, stride: int, *, affine: bool, search: bool) -> nn.Module:
    """Build one candidate op by name, with a clear error for a name outside the space."""
    table = {"darts": DARTS_OPS, "nb201": NB201_OPS}.get(space)
    if table is None:
        raise ValueError(f"unknown search space {space!r}; valid: darts, nb201")
    if name not in table:
        raise ValueError(f"unknown op {name!r} for space {space!r}; valid: {', '.join(table)}")
    return table[name](channels, stride, affine, search)


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block between stages: two ReLU-Conv-BN and an avg-pool + 1x1 shortcut."""

    def __init__(self, c_in, c_out, stride, affine=True):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1, affine)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine)
        if stride == 2:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False))
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1, 1, 0, affine)
        else:
            self.downsample = None

    def forward(self, x):
        out = self.conv_b(self.conv_a(x))
        residual = x if self.downsample is None else self.downsample(x)
        return residual + out
