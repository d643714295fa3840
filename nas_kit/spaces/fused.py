"""Fused edges: the same cell forward, with all edges that leave one node run together.

Every edge (i -> j) of a cell applies the same candidate ops to the same input h_i. The
eager `MixedOp` runs them edge by edge and op by op: hundreds of small kernels per DARTS
cell, and a search step passes every cell four times (α-step and w-step, forward and
backward) — 32,053 CUDA kernels per first-order DARTS step measured on an H100
(benchmarks/results/), small enough that launching them dominates. Here the E edges
that leave a node run as one tensor of E*C channels:

- ReLU(h_i) once, shared by every conv op and factorized reduction of those edges;
- each conv op type as one grouped conv over the E edges (their weights concatenated,
  so gradients still land in each edge's own parameters);
- BatchNorm over the E*C channels at once. BN statistics are per channel, so this equals
  E separate BNs; running statistics are written back to each edge's own BN. Both pools'
  BNs run as one, and each cell bumps all its BN batch counters with one add;
- parameter-free ops (pools without BN, skip) once, broadcast to every edge;
- the op-weighted sum as one stacked multiply and sum over all ops and all E edges, the
  ops stacked along the leading axis so that backward hands each op its gradient as a
  view instead of a copy.

Nodes whose values are known at the same time run as one group too: a DARTS cell's two
input nodes (S = 2 sources, 4 edges each) are one group of E = 8 edges, the convs grouped
per source. The op weights are put in group order with one gather per cell.

The parameters, buffers and `state_dict` are the eager modules' own: a checkpoint works
with either engine. Same algorithm, same numbers up to float rounding (grouped and
separate convs may sum in another order); `tests/test_fused.py` checks losses and the
gradients of α and of every weight against the eager path (float64), and whole bilevel
steps of every method (float32). Measured: `benchmarks/search_speed.py` (ATen ops per
step, time, activation memory, α-gradient difference next to the method's own float
sensitivity) and the book's speed appendix.

One difference: the Fair DARTS noise ablation (`NoisyIdentity`) draws its noise for the
E edges of a group in one call, so with noise on, the random numbers differ from eager
ones (same distribution).
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
    # plain dict operations: a compiled pass traces this, and Dynamo in torch 2.4 failed
    # on dict(a defaultdict) and broke the graph at dict.setdefault
    groups: dict[int, list[int]] = {}
    for e, (src, _) in enumerate(edges):
        if src in groups:
            groups[src].append(e)
        else:
            groups[src] = [e]
    return groups


def source_groups(edges: tuple[tuple[int, int], ...], n_inputs: int
                  ) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """How a cell's edges run: ((sources, edge indices source-major), ...) in run order.

    The input nodes are known at once: when each has the same number of outgoing edges
    they form one group; every other node is a group of its own.
    """
    by_src = edges_by_source(edges)
    inputs = [s for s in range(n_inputs) if s in by_src]
    groups = []
    if len(inputs) > 1 and len({len(by_src[s]) for s in inputs}) == 1:
        groups.append((tuple(inputs), tuple(e for s in inputs for e in by_src[s])))
        done = set(inputs)
    else:
        done = set()
    for s in sorted(by_src):
        if s not in done:
            groups.append(((s,), tuple(by_src[s])))
    return tuple(groups)


# Cached for eager steps; a compiled pass calls `source_groups` itself, because Dynamo
# before torch 2.5 cannot trace into an lru_cache (nor reach its `__wrapped__`).
_cached_source_groups = functools.lru_cache(maxsize=None)(source_groups)


# --- BatchNorm over E edges -------------------------------------------------------------
class SharedBN:
    """E BatchNorm2d(C) of one op type, run as one BatchNorm over E*C channels.

    Their running statistics (and batch counters) are made views of one tensor each, so
    one `F.batch_norm` call updates all E in place. The link is made on first use and again
    when `.to()` or an assignment replaced a BN's buffer (found by identity: a check that
    `torch.compile` can trace and guard on); `load_state_dict` copies into the buffers in
    place and keeps it.
    """

    def __init__(self, bns: Sequence[nn.BatchNorm2d]):
        self.bns = tuple(bns)
        self._stats: tuple | None = None     # (mean, var, the BNs' mean views, var views)
        self._counter: tuple | None = None   # (counter, the BNs' counter views)

    def __len__(self) -> int:
        return len(self.bns)

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Running mean and var of all E BNs, (E*C,) each, the BNs' own buffers views of them."""
        s = self._stats
        if s is None or any(b.running_mean is not m or b.running_var is not v
                            for b, m, v in zip(self.bns, s[2], s[3])):
            mean, var = _shared_buffers(self.bns)
            s = self._stats = (mean, var, tuple(b.running_mean for b in self.bns),
                               tuple(b.running_var for b in self.bns))
        return s[0], s[1]

    def counter(self) -> torch.Tensor:
        """The BNs' batch counters as views of one (E,) tensor."""
        c = self._counter
        if c is None or any(b.num_batches_tracked is not t for b, t in zip(self.bns, c[1])):
            count = _shared_counter(self.bns)
            c = self._counter = (count, tuple(b.num_batches_tracked for b in self.bns))
        return c[0]


def batched_batch_norm(x: torch.Tensor, bns: SharedBN | Sequence[nn.BatchNorm2d], *,
                       count: bool = True) -> torch.Tensor:
    """x (N, E*C, H, W), edge-major channels, through E BatchNorm2d(C) -> (N, E*C, H, W).

    Equals ``cat([bn_e(x_e)])``: statistics are per channel. In training mode the running
    statistics of each edge's BN are updated as eager BN would, and with ``count`` their
    batch counters (the fused cell counts all its BNs at once instead: `count_batches`).
    """
    shared = bns if isinstance(bns, SharedBN) else SharedBN(bns)
    b0 = shared.bns[0]
    track = b0.track_running_stats and b0.running_mean is not None
    update = b0.training and track
    if update and b0.momentum is None:
        raise ValueError("fused edges need BatchNorm momentum set (got None, cumulative "
                         "averaging); use engine='eager' for such a network")
    weight = torch.cat([b.weight for b in shared.bns]) if b0.affine else None
    bias = torch.cat([b.bias for b in shared.bns]) if b0.affine else None
    mean = var = None
    if track:
        mean, var = shared.stats()
    out = F.batch_norm(x, mean, var, weight, bias, b0.training or not track,
                       b0.momentum or 0.0, b0.eps)
    if update and count:
        count_batches(shared)
    return out


def _shares_base(tensors: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """The one tensor all `tensors` are consecutive views of, in this order, or None."""
    base = tensors[0]._base
    if base is None or base.numel() != sum(t.numel() for t in tensors):
        return None
    offset = base.storage_offset()
    for t in tensors:
        if t._base is not base or t.storage_offset() != offset:
            return None
        offset += t.numel()
    return base


def _shared_buffers(bns: Sequence[nn.BatchNorm2d]):
    """One contiguous running mean and var for E BNs, the BNs' own buffers being made
    views into them (kept when they already are)."""
    mean = _shares_base([b.running_mean for b in bns])
    var = _shares_base([b.running_var for b in bns])
    if mean is not None and var is not None:
        return mean, var
    mean = torch.cat([b.running_mean for b in bns])
    var = torch.cat([b.running_var for b in bns])
    start = 0
    for b in bns:
        c = b.running_mean.numel()
        b.running_mean = mean[start:start + c]
        b.running_var = var[start:start + c]
        start += c
    return mean, var


def _shared_counter(bns: Sequence[nn.BatchNorm2d]) -> torch.Tensor:
    """The BNs' batch counters as views of one tensor (made when they are not)."""
    count = _shares_base([b.num_batches_tracked for b in bns])
    if count is None:
        count = torch.stack([b.num_batches_tracked for b in bns])
        for i, b in enumerate(bns):
            b.num_batches_tracked = count[i]
    return count


def count_batches(bns: SharedBN | Sequence[nn.BatchNorm2d]) -> None:
    """Add one batch to the counter of every BN in `bns` (BNs that track running
    statistics) if they are in training mode — what each BN's own forward would have done."""
    shared = bns if isinstance(bns, SharedBN) else SharedBN(bns)
    if shared.bns and shared.bns[0].training:
        with torch.no_grad():
            shared.counter().add_(1)


# --- one op type over E edges -------------------------------------------------------------
def _cat_weights(convs: Sequence[nn.Conv2d]) -> torch.Tensor:
    return torch.cat([c.weight for c in convs])


class _DilParts:
    """The E DilConv blocks of one op, unpacked: depthwise convs, 1x1 convs, BNs."""

    def __init__(self, blocks: Sequence[DilConv]):
        self.dw = [b.op[1] for b in blocks]
        self.pw = [b.op[2] for b in blocks]
        self.bns = SharedBN([b.op[3] for b in blocks])
        dw0, pw0 = self.dw[0], self.pw[0]
        self.dw_args = (dw0.stride, dw0.padding, dw0.dilation)
        self.pw_args = (pw0.stride, pw0.padding, pw0.dilation)


def _dil_conv(x_rep_relu: torch.Tensor, parts: _DilParts) -> torch.Tensor:
    """E DilConv blocks (ReLU already applied) on x (N, E*C, H, W) -> (N, E*C_out, H', W')."""
    y = F.conv2d(x_rep_relu, _cat_weights(parts.dw), None, *parts.dw_args,
                 groups=x_rep_relu.shape[1])
    y = F.conv2d(y, _cat_weights(parts.pw), None, *parts.pw_args, groups=len(parts.pw))
    return batched_batch_norm(y, parts.bns, count=False)


def _relu_conv_bn(x_relu: torch.Tensor, convs: Sequence[nn.Conv2d], bns, sources: int) -> torch.Tensor:
    """E ReLU-Conv-BN on S shared inputs (N, S*C): one conv with E*C_out output channels,
    grouped by source."""
    conv0 = convs[0]
    bias = torch.cat([c.bias for c in convs]) if conv0.bias is not None else None
    y = F.conv2d(x_relu, _cat_weights(convs), bias, conv0.stride, conv0.padding,
                 conv0.dilation, groups=sources)
    return batched_batch_norm(y, bns, count=False)


def _factorized_reduce(x_relu: torch.Tensor, conv_1, conv_2, bns, sources: int) -> torch.Tensor:
    """E FactorizedReduce on S shared inputs -> (N, E*C, H/2, W/2), edge-major."""
    e = len(bns)
    a = F.conv2d(x_relu, _cat_weights(conv_1), None, 2, groups=sources)
    shifted = x_relu[:, :, 1:, 1:]
    if x_relu.shape[-1] % 2:
        shifted = F.pad(shifted, (0, 1, 0, 1))
    b = F.conv2d(shifted, _cat_weights(conv_2), None, 2, groups=sources)
    n, half, h, w = a.shape
    y = torch.cat([a.reshape(n, e, half // e, h, w), b.reshape(n, e, half // e, h, w)], dim=2)
    return batched_batch_norm(y.reshape(n, 2 * half, h, w), bns, count=False)


def per_edge(t: torch.Tensor, sources: int, m: int) -> torch.Tensor:
    """(N, S*C, H, W), one map per source -> (N, S*m*C, H, W), each source's map repeated
    for its m edges (source-major), in the memory layout of `t` (channels-last stays so)."""
    n, sc, h, w = t.shape
    c = sc // sources
    if t.is_contiguous() or not t.is_contiguous(memory_format=torch.channels_last):
        return t.reshape(n, sources, 1, c, h, w).expand(n, sources, m, c, h, w).reshape(
            n, sources * m * c, h, w)
    nhwc = t.permute(0, 2, 3, 1).reshape(n, h, w, sources, 1, c)
    return nhwc.expand(n, h, w, sources, m, c).reshape(n, h, w, sources * m * c).permute(0, 3, 1, 2)


class _SharedInput:
    """The S source maps side by side (N, S*C, H, W); ReLU of it and its per-edge repeat,
    computed once on first use."""

    def __init__(self, h: torch.Tensor, sources: int, m: int):
        self.h, self.sources, self.m = h, sources, m
        self._relu = self._rep = None

    @property
    def relu(self) -> torch.Tensor:
        if self._relu is None:
            self._relu = F.relu(self.h)
        return self._relu

    @property
    def relu_repeated(self) -> torch.Tensor:
        if self._rep is None:
            self._rep = self.relu if self.m == 1 else per_edge(self.relu, self.sources, self.m)
        return self._rep


def computed_ops(mixed: MixedOp) -> tuple[int, ...]:
    """Indices of the ops whose term is computed: all but `none` (exactly zero)."""
    return tuple(o for o, op in enumerate(mixed.ops) if not isinstance(op, Zero))


def _op_modules(mixed: MixedOp) -> list[nn.Module]:
    # the ModuleList's modules without its __getitem__ (index bookkeeping on every call)
    return list(mixed.ops._modules.values())


class GroupPlan:
    """What a group of E edges runs, resolved once from their modules: per computed op its
    kind and the E edges' convs and BNs, so that a forward does no module lookups (a sizeable
    share of a fused forward's host time when the step is launch-bound). A fused cell keeps its
    plans and rebuilds them when one of its ops has been replaced (`_cell_plans`).
    """

    def __init__(self, mixed: Sequence[MixedOp]):
        mo0, e = mixed[0], len(mixed)
        rows = [_op_modules(mo) for mo in mixed]
        self.edges = e
        self.k, self.stride, self.bypass_pool = mo0.k, mo0.stride, mo0.bypass_pool
        self.cols = computed_ops(mo0)
        pool_bn = [o for o in self.cols if isinstance(rows[0][o], PoolBN)]
        self.pools = [rows[0][o].pool for o in pool_bn]
        self.pool_bns = SharedBN([rows[i][o].bn for o in pool_bn for i in range(e)])
        self.steps: list[tuple] = []
        for o in self.cols:
            ops = [row[o] for row in rows]
            op0 = ops[0]
            if o in pool_bn:
                step = ("pool-bn", pool_bn.index(o))
            elif isinstance(op0, NoisyIdentity):
                step = ("noisy-skip", op0)
            elif isinstance(op0, Identity):
                step = ("skip",)
            elif isinstance(op0, SepConv):
                step = ("sep", _DilParts([op.op[0] for op in ops]), _DilParts([op.op[1] for op in ops]))
            elif isinstance(op0, DilConv):
                step = ("dil", _DilParts(ops))
            elif isinstance(op0, ReLUConvBN):
                step = ("relu-conv-bn", [op.op[1] for op in ops], SharedBN([op.op[2] for op in ops]))
            elif isinstance(op0, FactorizedReduce):
                step = ("factorized-reduce", [op.conv_1 for op in ops], [op.conv_2 for op in ops],
                        SharedBN([op.bn for op in ops]))
            elif isinstance(op0, (nn.MaxPool2d, nn.AvgPool2d)):
                step = ("pool", op0)
            else:
                raise TypeError(f"fused edges do not know the op {type(op0).__name__}; "
                                f"build the supernet with engine='eager'")
            self.steps.append(step)


def _pools_bn(plan: GroupPlan, inp: _SharedInput) -> list[torch.Tensor]:
    """Every PoolBN op of the group through one BatchNorm -> per pool (N, E*C, H', W')."""
    pooled = [pool(inp.h) for pool in plan.pools]
    if len(pooled) == 1:
        stacked = per_edge(pooled[0], inp.sources, inp.m)
    else:
        both = torch.cat(pooled, dim=1)  # (N, P*S*C), pool-major
        stacked = per_edge(both, len(pooled) * inp.sources, inp.m)  # (N, P*E*C)
    return batched_batch_norm(stacked, plan.pool_bns, count=False).chunk(len(pooled), dim=1)


def _op_output(step: tuple, inp: _SharedInput, pooled: Sequence[torch.Tensor], e: int):
    """One op of every edge in the group: (N, E*C', H', W') per edge (True) or
    (N, S*C', H', W') one per source (False)."""
    kind = step[0]
    if kind == "pool-bn":
        return pooled[step[1]], True
    if kind == "sep":
        return _dil_conv(F.relu(_dil_conv(inp.relu_repeated, step[1])), step[2]), True
    if kind == "dil":
        return _dil_conv(inp.relu_repeated, step[1]), True
    if kind == "skip":
        return inp.h, False
    if kind == "relu-conv-bn":
        return _relu_conv_bn(inp.relu, step[1], step[2], inp.sources), True
    if kind == "factorized-reduce":
        return _factorized_reduce(inp.relu, step[1], step[2], step[3], inp.sources), True
    if kind == "pool":
        return step[1](inp.h), False
    op0 = step[1]  # noisy-skip
    if op0.training and op0.scale > 0:
        n, sc, h, w = inp.h.shape
        noise = torch.randn(n, e * sc // inp.sources, h, w, device=inp.h.device,
                            dtype=inp.h.dtype)
        return per_edge(inp.h, inp.sources, inp.m) + op0.scale_tensor * noise, True
    return inp.h, False


def fused_edges(plan: GroupPlan, inputs: Sequence[torch.Tensor], wt: torch.Tensor | None,
                edge_weights: torch.Tensor | None = None) -> torch.Tensor:
    """All E edges of a group leaving S nodes, m = E/S edges per node, on their nodes' values.

    plan: the group's `GroupPlan` (its E MixedOps, source-major); inputs: the S node values
    (N, C, H, W); wt (K, E): op-major weights of the plan's computed ops (None if K = 0);
    edge_weights (E,) or None -> (N, E, C, H/s, W/s), edge e's output at [:, e], equal to
    ``edge_weights[e] * mixed[e](inputs[e // m], weights[e])``.

    BatchNorm batch counters are not bumped here: the cell does it once (`count_batches`).
    """
    e, s = plan.edges, len(inputs)
    if e % s:
        raise ValueError(f"{e} edges do not split evenly over {s} source nodes")
    m, k, n = e // s, plan.k, inputs[0].shape[0]
    actives = [h if k == 1 else h[:, : h.shape[1] // k] for h in inputs]
    inp = _SharedInput(actives[0] if s == 1 else torch.cat(actives, dim=1), s, m)
    pooled = _pools_bn(plan, inp) if plan.pools else ()
    outputs = []
    for step in plan.steps:
        y, edge_wise = _op_output(step, inp, pooled, e)
        hh, ww = y.shape[-2:]
        outputs.append(y.reshape(n, s, m, -1, hh, ww) if edge_wise else
                       y.reshape(n, s, 1, -1, hh, ww))
    if not outputs:  # only `none` ops: zeros of the output shape
        st = plan.stride
        zero = inp.h[:, :, ::st, ::st].mul(0.0)  # (N, S*C, H', W')
        hh, ww = zero.shape[-2:]
        total = zero.reshape(n, s, 1, -1, hh, ww).expand(n, s, m, -1, hh, ww)
    else:
        # One weighted sum for all ops and edges: (K, N, S, m, C', H', W') x (K, S, m). The op
        # axis leads so that in backward each op's gradient is a contiguous block (a view
        # back to the op's output shape, not a copy).
        shape = (n, s, m, *outputs[0].shape[3:])
        stacked = torch.stack([y.expand(shape) for y in outputs])
        total = (stacked * wt.view(len(outputs), 1, s, m, 1, 1, 1)).sum(0)
    total = total.reshape(n, e, *total.shape[3:])
    if k > 1:
        total = _with_bypass(total, inputs, plan)
    if edge_weights is not None:
        total = edge_weights.view(1, e, 1, 1, 1) * total
    return total


def _with_bypass(mixed_out: torch.Tensor, inputs: Sequence[torch.Tensor],
                 plan: GroupPlan) -> torch.Tensor:
    """PC-DARTS: append each source's bypassed channels to its edges' outputs, then shuffle."""
    n, e, c_op, hh, ww = mixed_out.shape
    s = len(inputs)
    bypass = inputs[0][:, c_op:] if s == 1 else torch.cat([h[:, c_op:] for h in inputs], dim=1)
    if plan.bypass_pool is not None:
        bypass = plan.bypass_pool(bypass)
        if bypass.shape[-1] != ww:
            bypass = F.pad(bypass, (0, ww - bypass.shape[-1], 0, hh - bypass.shape[-2]))
    cb = bypass.shape[1] // s
    bypass = bypass.reshape(n, s, 1, cb, hh, ww).expand(n, s, e // s, cb, hh, ww)
    full = torch.cat([mixed_out, bypass.reshape(n, e, cb, hh, ww)], dim=2)
    c, k = full.shape[2], plan.k
    return full.reshape(n, e, k, c // k, hh, ww).transpose(2, 3).reshape(n, e, c, hh, ww)


def _rows(wt: torch.Tensor, ops: tuple[int, ...]) -> torch.Tensor:
    """wt[ops] of op-major weights (n_ops, E): a view when the ops are a range (the usual
    case: only `none`, the first op, is left out), a gather otherwise."""
    if ops == tuple(range(ops[0], ops[-1] + 1)):
        return wt[ops[0]:ops[-1] + 1]
    return wt.index_select(0, _index(ops, wt.device))


def _index(idx: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """torch.tensor(idx) on `device`, cached so that a step makes no host-to-device copies
    (and stays capturable by CUDA graphs). Under `torch.compile` it is a constant of the
    traced graph: no cache there (Dynamo would warn that it bypasses it)."""
    if _compiling():
        return torch.tensor(idx, device=device)
    return _cached_index(idx, device)


@functools.lru_cache(maxsize=None)
def _cached_index(idx: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor(idx, device=device)


def _compiling() -> bool:
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling and is_compiling())


def _sum_in_order(terms: Sequence[torch.Tensor]) -> torch.Tensor:
    """((t0 + t1) + t2) + ...: the order of Python's sum() without its extra 0 + t0."""
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _cell_plans(edges: nn.ModuleList, groups) -> tuple[list[GroupPlan], SharedBN]:
    """The cell's `GroupPlan`s and the BNs whose batches it counts, kept on `edges` and
    rebuilt when any op was replaced."""
    mixed = list(edges._modules.values())
    signature = tuple(id(op) for mo in mixed for op in mo.ops._modules.values())
    cached = edges.__dict__.get("_fused_plans")
    if cached is None or cached[0] != (signature, groups):
        plans = [GroupPlan([mixed[e] for e in idx]) for _, idx in groups]
        bns = SharedBN([b for b in edges.modules() if isinstance(b, nn.BatchNorm2d)
                        and b.track_running_stats and b.num_batches_tracked is not None])
        if len(bns):   # linked now, where the plan is built, not later inside a compiled pass
            bns.counter()
        cached = ((signature, groups), plans, bns)
        edges.__dict__["_fused_plans"] = cached  # a plain attribute: no parameters, no state
    return cached[1], cached[2]


def fused_cell_nodes(edges: nn.ModuleList, edge_list: Sequence[tuple[int, int]],
                     states: list[torch.Tensor], n_nodes: int, weights: torch.Tensor,
                     edge_weights: torch.Tensor | None) -> list[torch.Tensor]:
    """Run a cell's DAG group by group (`source_groups`); `states` holds the input nodes.

    Node j is the sum of its incoming edges in source order, as in the eager cells, so
    the additions happen in the same order. Returns the list of all `n_nodes` nodes.
    """
    edge_key = tuple(map(tuple, edge_list))
    groups = (source_groups if _compiling() else _cached_source_groups)(edge_key, len(states))
    plans, bns = _cell_plans(edges, groups)
    sizes = [len(idx) for _, idx in groups]
    order = _index(tuple(e for _, idx in groups for e in idx), weights.device)
    # Op-major (the layout the weighted sum wants), group order, computed ops only, in one
    # gather per cell; each group takes its columns.
    cols = plans[0].cols
    group_w = (_rows(weights.t().index_select(1, order), cols).split(sizes, dim=1) if cols
               else [None] * len(groups))
    group_ew = ([None] * len(groups) if edge_weights is None
                else edge_weights.index_select(0, order).split(sizes))
    count_batches(bns)
    incoming: dict[int, list[torch.Tensor]] = defaultdict(list)
    states = list(states)
    for (sources, idx), plan, w, ew in zip(groups, plans, group_w, group_ew):
        while len(states) <= max(sources):
            states.append(_sum_in_order(incoming.pop(len(states))))
        out = fused_edges(plan, [states[src] for src in sources], w, ew)
        # unbind, not out[:, e]: its backward is one stack instead of E zero-filled copies
        for e, out_e in zip(idx, out.unbind(1)):
            incoming[edge_list[e][1]].append(out_e)
    while len(states) < n_nodes:
        states.append(_sum_in_order(incoming.pop(len(states))))
    return states
