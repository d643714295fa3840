"""Fused edges: the same cell forward, with all edges that leave one node run together.

Every edge (i -> j) of a cell applies the same candidate ops to the same input h_i. The
eager `MixedOp` runs them edge by edge and op by op: hundreds of small kernels per DARTS
cell, and a search step passes every cell four times (α-step and w-step, forward and
backward) — 32,053 CUDA kernels per first-order DARTS step measured on an H100
(benchmarks/results/), small enough that launching them dominates. Here the m edges
that leave node i run as one tensor of m*C channels:

- ReLU(h_i) once, shared by every conv op and factorized reduction of those edges;
- each conv op type as one grouped conv over the m edges (their weights concatenated,
  so gradients still land in each edge's own parameters);
- BatchNorm over the m*C channels at once. BN statistics are per channel, so this equals
  m separate BNs; running statistics are written back to each edge's own BN;
- parameter-free ops (pools without BN, skip) once, broadcast to every edge;
- the op-weighted sum as one stacked multiply and sum over all ops and all m edges.

A node whose only outgoing edge is one (m = 1) runs the eager MixedOp: nothing to batch.

The parameters, buffers and `state_dict` are the eager modules' own: a checkpoint works
with either engine. Same algorithm, same numbers up to float rounding (grouped and
separate convs may sum in another order); `tests/test_fused.py` checks losses and the
gradients of α and of every weight against the eager path (float64), and whole bilevel
steps of every method (float32). Measured: `benchmarks/search_speed.py` (ATen ops per
step, time, activation memory, α-gradient difference next to the method's own float
sensitivity) and the book's speed appendix.

One difference: the Fair DARTS noise ablation (`NoisyIdentity`) draws its noise for the
m edges in one call, so with noise on, the random numbers differ from eager ones (same
distribution).
"""
from __future__ import annotations

import functools
from collections import defaultdict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .mixed import MixedOp
from .ops import DilConv, FactorizedReduce, Identity, NoisyIdentity, PoolBN, ReLUConvBN, SepConv, Zero

ENGINES = ("eager", "fused")

def edges_by_source(edges: Sequence[tuple[int, int]]) -> dict[int, list[int]]:
    """{source node: indices of the edges that leave it, in edge order}."""
    groups: dict[int, list[int]] = defaultdict(list)
    for e, (src, _) in enumerate(edges):
        groups[src].append(e)
    return dict(groups)


# --- BatchNorm over m edges -------------------------------------------------------------
def batched_batch_norm(x: torch.Tensor, bns: Sequence[nn.BatchNorm2d]) -> torch.Tensor:
    """x (N, m*C, H, W), edge-major channels, through m BatchNorm2d(C) -> (N, m*C, H, W).

    Equals ``cat([bn_e(x_e)])``: statistics are per channel. In training mode the running
    statistics and batch counters of each edge's BN are updated as eager BN would.
    """
    b0 = bns[0]
    track = b0.track_running_stats and b0.running_mean is not None
    update = b0.training and track
    if update and b0.momentum is None:
        raise ValueError("fused edges need BatchNorm momentum set (got None, cumulative "
                         "averaging); use engine='eager' for such a network")
    weight = torch.cat([b.weight for b in bns]) if b0.affine else None
    bias = torch.cat([b.bias for b in bns]) if b0.affine else None
    mean = var = None
    if track:
        mean, var, count = _shared_buffers(bns)
    out = F.batch_norm(x, mean, var, weight, bias, b0.training or not track,
                       b0.momentum or 0.0, b0.eps)
    if update:
        with torch.no_grad():
            count.add_(1)
    return out


def _shared_buffers(bns: Sequence[nn.BatchNorm2d]):
    """One contiguous running mean, var and batch counter for m BNs, the BNs' own buffers
    being views into them, so one batch_norm call updates all m in place.

    The views are made on first use and again whenever `.to()` or assignment replaced a
    buffer; `load_state_dict` copies into buffers in place and keeps them.
    """
    mean0 = bns[0].running_mean
    base = mean0._base
    if base is not None and base.numel() == mean0.numel() * len(bns) and all(
            b.running_mean._base is base for b in bns):
        var_base = bns[0].running_var._base
        count_base = bns[0].num_batches_tracked._base
        if (var_base is not None and count_base is not None
                and all(b.running_var._base is var_base for b in bns)
                and all(b.num_batches_tracked._base is count_base for b in bns)):
            return base, var_base, count_base
    mean = torch.cat([b.running_mean for b in bns])
    var = torch.cat([b.running_var for b in bns])
    count = torch.stack([b.num_batches_tracked for b in bns])
    c = mean0.numel()
    for i, b in enumerate(bns):
        b.running_mean = mean[i * c:(i + 1) * c]
        b.running_var = var[i * c:(i + 1) * c]
        b.num_batches_tracked = count[i]
    return mean, var, count


# --- one op type over m edges -------------------------------------------------------------
def _cat_weights(convs: Sequence[nn.Conv2d]) -> torch.Tensor:
    return torch.cat([c.weight for c in convs])


def _dil_conv(x_rep_relu: torch.Tensor, blocks: Sequence[DilConv], m: int) -> torch.Tensor:
    """m DilConv blocks (ReLU already applied) on x (N, m*C, H, W) -> (N, m*C_out, H', W')."""
    dw0, pw0 = blocks[0].op[1], blocks[0].op[2]
    y = F.conv2d(x_rep_relu, _cat_weights([b.op[1] for b in blocks]), None, dw0.stride,
                 dw0.padding, dw0.dilation, groups=x_rep_relu.shape[1])
    y = F.conv2d(y, _cat_weights([b.op[2] for b in blocks]), None, pw0.stride, pw0.padding,
                 pw0.dilation, groups=m)
    return batched_batch_norm(y, [b.op[3] for b in blocks])


def _sep_conv(x_rep_relu: torch.Tensor, ops: Sequence[SepConv], m: int) -> torch.Tensor:
    y = _dil_conv(x_rep_relu, [op.op[0] for op in ops], m)
    return _dil_conv(F.relu(y), [op.op[1] for op in ops], m)


def _relu_conv_bn(x_relu: torch.Tensor, ops: Sequence[ReLUConvBN]) -> torch.Tensor:
    """m ReLU-Conv-BN on one shared input: a single conv with m*C output channels."""
    conv0 = ops[0].op[1]
    bias = torch.cat([op.op[1].bias for op in ops]) if conv0.bias is not None else None
    y = F.conv2d(x_relu, _cat_weights([op.op[1] for op in ops]), bias, conv0.stride,
                 conv0.padding, conv0.dilation)
    return batched_batch_norm(y, [op.op[2] for op in ops])


def _factorized_reduce(x_relu: torch.Tensor, ops: Sequence[FactorizedReduce]) -> torch.Tensor:
    """m FactorizedReduce on one shared input -> (N, m*C, H/2, W/2), edge-major."""
    m = len(ops)
    a = F.conv2d(x_relu, _cat_weights([op.conv_1 for op in ops]), None, 2)
    shifted = x_relu[:, :, 1:, 1:]
    if x_relu.shape[-1] % 2:
        shifted = F.pad(shifted, (0, 1, 0, 1))
    b = F.conv2d(shifted, _cat_weights([op.conv_2 for op in ops]), None, 2)
    n, half, h, w = a.shape
    y = torch.cat([a.reshape(n, m, half // m, h, w), b.reshape(n, m, half // m, h, w)], dim=2)
    return batched_batch_norm(y.reshape(n, 2 * half, h, w), [op.bn for op in ops])


class _SharedInput:
    """ReLU(h) and its m-fold channel repeat, computed once on first use."""

    def __init__(self, h: torch.Tensor, m: int):
        self.h, self.m = h, m
        self._relu = self._rep = None

    @property
    def relu(self) -> torch.Tensor:
        if self._relu is None:
            self._relu = F.relu(self.h)
        return self._relu

    @property
    def relu_repeated(self) -> torch.Tensor:
        if self._rep is None:
            self._rep = self.relu.repeat(1, self.m, 1, 1)
        return self._rep


def _op_outputs(mixed: Sequence[MixedOp], k: int, inp: _SharedInput):
    """Op k of every edge in the group: (N, m*C', H', W') per edge, (N, C', H', W') shared
    by all edges, or None for the zero op (its term is exactly zero)."""
    ops = [mo.ops[k] for mo in mixed]
    op0, m = ops[0], len(ops)
    if isinstance(op0, Zero):
        return None, False
    if isinstance(op0, NoisyIdentity):
        if op0.training and op0.scale > 0:
            n, c, h, w = inp.h.shape
            noise = torch.randn(n, m * c, h, w, device=inp.h.device, dtype=inp.h.dtype)
            return inp.h.repeat(1, m, 1, 1) + op0.scale * noise, True
        return inp.h, False
    if isinstance(op0, Identity):
        return inp.h, False
    if isinstance(op0, SepConv):
        return _sep_conv(inp.relu_repeated, ops, m), True
    if isinstance(op0, DilConv):
        return _dil_conv(inp.relu_repeated, ops, m), True
    if isinstance(op0, ReLUConvBN):
        return _relu_conv_bn(inp.relu, ops), True
    if isinstance(op0, FactorizedReduce):
        return _factorized_reduce(inp.relu, ops), True
    if isinstance(op0, PoolBN):
        pooled = op0.pool(inp.h)
        return batched_batch_norm(pooled.repeat(1, m, 1, 1), [op.bn for op in ops]), True
    if isinstance(op0, (nn.MaxPool2d, nn.AvgPool2d)):
        return op0(inp.h), False
    raise TypeError(f"fused edges do not know the op {type(op0).__name__}; "
                    f"build the supernet with engine='eager'")


def fused_edges(mixed: Sequence[MixedOp], h: torch.Tensor, weights: torch.Tensor,
                edge_weights: torch.Tensor | None = None) -> torch.Tensor:
    """All m edges leaving one node, on their shared input.

    mixed: the m MixedOps; h (N, C, H, W); weights (m, n_ops) op weights of those edges;
    edge_weights (m,) or None -> (N, m, C, H/s, W/s), edge e's output at [:, e], equal to
    ``edge_weights[e] * mixed[e](h, weights[e])``.
    """
    mo0, m = mixed[0], len(mixed)
    n = h.shape[0]
    if m == 1:  # nothing to batch: the eager op is the shortest path
        out = mo0(h, weights[0])
        return (out if edge_weights is None else edge_weights[0] * out).unsqueeze(1)
    k = mo0.k
    active = h if k == 1 else h[:, : h.shape[1] // k]
    inp = _SharedInput(active, m)
    outputs, cols = [], []
    for o in range(len(mo0.ops)):
        y, per_edge = _op_outputs(mixed, o, inp)
        if y is not None:
            outputs.append(y.reshape(n, m, -1, *y.shape[-2:]) if per_edge else y.unsqueeze(1))
            cols.append(o)
    if not outputs:  # only `none` ops: zeros of the output shape
        s = mo0.stride
        total = active[:, :, ::s, ::s].mul(0.0).unsqueeze(1).expand(n, m, -1, -1, -1)
    else:
        # One weighted sum for all ops and edges: (N, m, K, C', H', W') x (m, K).
        shape = (n, m, *outputs[0].shape[2:]) if outputs[0].shape[1] == m else (
            n, m, *outputs[-1].shape[2:])
        stacked = torch.stack([y.expand(shape) for y in outputs], dim=2)
        w = weights if len(cols) == weights.shape[1] else weights.index_select(
            1, _index(tuple(cols), weights.device))
        total = (stacked * w.view(1, m, len(cols), 1, 1, 1)).sum(2)
    if k > 1:
        total = _with_bypass(total, h, mo0)
    if edge_weights is not None:
        total = edge_weights.view(1, m, 1, 1, 1) * total
    return total


def _with_bypass(mixed_out: torch.Tensor, h: torch.Tensor, mo0: MixedOp) -> torch.Tensor:
    """PC-DARTS: append the bypassed channels to every edge's output, then shuffle."""
    n, m, c_op, hh, ww = mixed_out.shape
    bypass = h[:, c_op:]
    if mo0.bypass_pool is not None:
        bypass = mo0.bypass_pool(bypass)
        if bypass.shape[-1] != ww:
            bypass = F.pad(bypass, (0, ww - bypass.shape[-1], 0, hh - bypass.shape[-2]))
    full = torch.cat([mixed_out, bypass.unsqueeze(1).expand(n, m, -1, -1, -1)], dim=2)
    c, k = full.shape[2], mo0.k
    return full.reshape(n, m, k, c // k, hh, ww).transpose(2, 3).reshape(n, m, c, hh, ww)


@functools.lru_cache(maxsize=None)
def _index(idx: tuple[int, ...], device: torch.device) -> torch.Tensor:
    # Cached so that a step makes no host-to-device copies (and stays graph-capturable).
    return torch.tensor(idx, device=device)


def fused_cell_nodes(edges: Sequence[MixedOp], edge_list: Sequence[tuple[int, int]],
                     states: list[torch.Tensor], n_nodes: int, weights: torch.Tensor,
                     edge_weights: torch.Tensor | None) -> list[torch.Tensor]:
    """Run a cell's DAG source by source; `states` holds the input nodes on entry.

    Node j is the sum of its incoming edges in source order, as in the eager cells, so
    the additions happen in the same order. Returns the list of all `n_nodes` nodes.
    """
    groups = edges_by_source(edge_list)
    incoming: dict[int, list[torch.Tensor]] = defaultdict(list)
    states = list(states)
    for src in range(n_nodes - 1):
        if src >= len(states):
            states.append(sum(incoming.pop(src)))
        idx = groups.get(src)
        if not idx:
            continue
        sel = _index(tuple(idx), weights.device)
        w = weights.index_select(0, sel)
        ew = None if edge_weights is None else edge_weights.index_select(0, sel)
        out = fused_edges([edges[e] for e in idx], states[src], w, ew)
        # unbind, not out[:, e]: its backward is one stack instead of m zero-filled copies
        for e, out_e in zip(idx, out.unbind(1)):
            incoming[edge_list[e][1]].append(out_e)
    states.append(sum(incoming.pop(n_nodes - 1)))
    return states
