"""The continuous relaxation: a mixed op on one edge, and the op-weight functions.

A mixed op holds every candidate op of an edge and returns their weighted sum
``sum_o w_o * o(x)``. The weights come from the architecture parameters through a
*relaxation*: softmax (DARTS, exclusive competition) or element-wise sigmoid
(Fair DARTS, independent weights). With partial channels (PC-DARTS) only the first
C/K channels go through the ops; the rest bypass them and a channel shuffle mixes the
two groups so that the next edge sees other channels.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .ops import make_op

RELAXATIONS = ("softmax", "sigmoid")


def relax(alpha: torch.Tensor, relaxation: str) -> torch.Tensor:
    """Op weights from architecture parameters.

    alpha: (E, n_ops) -> (E, n_ops): softmax over each row, or element-wise sigmoid.
    """
    if relaxation == "softmax":
        return torch.softmax(alpha, dim=-1)
    if relaxation == "sigmoid":
        return torch.sigmoid(alpha)
    raise ValueError(f"unknown relaxation {relaxation!r}; valid: {', '.join(RELAXATIONS)}")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H, W) with channels interleaved across `groups` groups."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class MixedOp(nn.Module):
    """All candidate ops of one edge.

    forward(x (N, C, H, W), weights (n_ops,)) -> (N, C, H/stride, W/stride).
    """

    def __init__(self, primitives: Sequence[str], space: str, channels: int, stride: int, *,
                 affine: bool, partial_channels: int = 1):
        super().__init__()
        if partial_channels < 1 or channels % partial_channels:
            raise ValueError(
                f"partial_channels K={partial_channels} must be >= 1 and divide the channel "
                f"count {channels}")
        self.k = partial_channels
        self.stride = stride
        c_op = channels // partial_channels
        self.ops = nn.ModuleList(
            make_op(p, space, c_op, stride, affine=affine, search=True) for p in primitives)
        # PC-DARTS sends the bypassed channels through a 2x2 max-pool on reduction edges.
        self.bypass_pool = nn.MaxPool2d(2, 2) if (partial_channels > 1 and stride == 2) else None

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.k == 1:
            return sum(w * op(x) for w, op in zip(weights, self.ops))
        c_op = x.shape[1] // self.k
        active, bypass = x[:, :c_op], x[:, c_op:]
        out = sum(w * op(active) for w, op in zip(weights, self.ops))
        if self.bypass_pool is not None:
            bypass = self.bypass_pool(bypass)
            # An odd input (e.g. 7x7) pools to floor(H/2) while the ops give ceil(H/2).
            if bypass.shape[-1] != out.shape[-1]:
                bypass = nn.functional.pad(bypass, (0, out.shape[-1] - bypass.shape[-1],
                                                    0, out.shape[-2] - bypass.shape[-2]))
        return channel_shuffle(torch.cat([out, bypass], dim=1), self.k)
