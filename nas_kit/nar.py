"""NAR: a Neural Architecture Ranker over NAS-Bench-201 (Guo et al., ACM MM 2022).

NAR does not regress accuracy. It sorts every architecture into one of 5 global quality
*tiers* (tier 0 = best 20 % of the training set) by matching its Transformer features
against per-tier *embeddings*, and a second head gives a relative score trained with a
pairwise ranking loss. Re-implemented here from the project's research notes
(``shared/research/rf_mim_nar.md`` part C), CPU-friendly, on the shipped NB201 table
(:mod:`nas_kit.nb201`)::

    >>> from nas_kit import nar
    >>> train = nar.sample_cells(1000, seed=0)
    >>> y, split = nar.training_targets(train, "cifar10")          # split == 'valid'
    >>> ranker = nar.train_nar(train, y, epochs=55, seed=0)         # doctest: +SKIP
    >>> curve = nar.search_with_ranker(ranker, 50, dataset="cifar10", seed=0,
    ...                                exclude=train)                # doctest: +SKIP

Pieces (shapes: N architectures, d = ``d_model``):

* ``encode(cell) -> (31, 4, 4)``, ``encode_many(cells) -> (N, 31, 4, 4)``: the ReNAS/NAR
  feature tensor. A *cell* is an NB201 arch string, an ``NB201Genotype`` or a benchmark
  index 0..15624.
* ``NAR``: the model (patch embedding + sinusoidal positions -> Transformer encoder ->
  score head; Transformer decoder over the tier embeddings -> tier logits).
* ``train_nar``, ``train_mse_regressor``, ``train_pairwise_ranker``: each returns a ranker
  with ``predict_scores(cells) -> (N,)`` (higher = better); NAR adds ``predict_tiers``.
* ``kendall_tau``, ``pairwise_ranking_loss``, ``noam_lr``.
* ``search_with_ranker``, ``random_search``: best-so-far test accuracy per query.
  NAR's own search phase (the tier-guided sampler) is ``nas_kit.nar_sampler``.

Encoding
    Channel 0 is the 4x4 adjacency of the cell's DAG (node 0 = input, node 3 = output)
    with the op code of edge src -> dst at entry ``[src, dst]``: ``OP_CODES`` numbers
    ``NB201_PRIMITIVES`` 1..5 (none=1, skip_connect=2, nor_conv_1x1=3, nor_conv_3x3=4,
    avg_pool_3x3=5), 0 = no edge (diagonal and lower triangle). ``none`` gets a code of
    its own because NB201 builds the edge (it outputs zeros). Channels 1..15 hold, for
    each of the benchmark network's 15 cells in order, the FLOPs of the op on each edge at
    ``[src, dst]``; channels 16..30 the op's parameters, laid out the same way.
    Costs are counted on the actual op modules (``nas_kit.spaces.ops``, affine BN as in
    the benchmark network) at the benchmark's shapes: CIFAR-10, C = 16 / 32 / 64 channels
    at 32 / 16 / 8 px, 5 cells per stage. FLOPs are multiply-adds of convolutions plus
    k*k adds per output element of a k x k pooling (BN, ReLU and the node sums are not
    counted); parameters are conv weights + BN affine.
    Scaling follows the paper: FLOPs / 1e7, params / 1e5. That gives 0.026 (conv 1x1,
    every stage: C^2 * H * W is constant across stages), 0.236 (conv 3x3), 0.0147 / 0.0074
    / 0.0037 (pool, per stage), and params 0.0029 / 0.011 / 0.042 (conv 1x1) and
    0.023 / 0.093 / 0.37 (conv 3x3) per stage; none and skip are 0. These are small next
    to the op codes (1..5) but the first linear layer rescales freely; note that they are a
    fixed function of the op code per cell, i.e. they add no information on NB201, only
    magnitude priors (NB101, where cells differ in width, is where they matter).

Data-leakage policy (read this before quoting a result)
    A ranker is TRAINED on a validation accuracy and its search is REPORTED on test
    accuracy, so that the number printed was not used to choose the architecture. The
    shipped table has a CIFAR-10 validation column (``cifar10_valid``: NB201
    ``cifar10-valid``, trained on 25k images and scored on the other 25k) but only TEST
    columns for CIFAR-100 and ImageNet16-120. For those two datasets the training target
    is therefore the TEST accuracy: the ranker is fit to the very split the results are
    reported on (for its training cells), which flatters them relative to the paper,
    where each dataset's own validation split was used. ``target_split(dataset)`` returns
    ``'valid'`` (CIFAR-10) or ``'test'`` (CIFAR-100, ImageNet16-120); rankers and search
    curves carry the field ``target_split`` so that the book can print it next to every
    result. Search curves always report test accuracy (``eval_split == 'test'``).
    Held-out Kendall tau should likewise be measured on cells the ranker never saw.

Query accounting
    ``search_with_ranker`` counts only the architectures it queries after training; the
    ``len(train_cells)`` accuracies used to train the ranker are benchmark queries too. Pass
    ``exclude=train_cells`` so the search proposes new architectures, and state the
    training-set size next to the curve.
"""
from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import nb201
from .genotypes import NB201_EDGES, NB201_PRIMITIVES, NB201Genotype
from .spaces.ops import make_op

__all__ = [
    "N_CHANNELS", "N_NODES", "OP_CODES", "FLOPS_SCALE", "PARAMS_SCALE", "BENCHMARK_STAGES",
    "CELLS_PER_STAGE", "FLOPS_CHANNELS", "PARAMS_CHANNELS", "op_cost", "cell_costs",
    "cell_op_indices", "encode", "encode_many", "target_split", "accuracies",
    "training_targets", "sample_cells", "tiers_from_accuracy", "kendall_tau",
    "pairwise_ranking_loss", "noam_lr", "NAR", "TierBank", "NARRanker", "MLPRanker",
    "train_nar", "train_mse_regressor", "train_pairwise_ranker", "SearchCurve",
    "search_with_ranker", "random_search",
]

N_NODES = 4
N_CELLS_NET = 15                     # cells in the benchmark network (3 stages x 5)
N_CHANNELS = 1 + 2 * N_CELLS_NET     # 31
OP_CODES = {op: i + 1 for i, op in enumerate(NB201_PRIMITIVES)}
FLOPS_SCALE = 1e7
PARAMS_SCALE = 1e5
BENCHMARK_STAGES = ((16, 32), (32, 16), (64, 8))    # (channels, spatial size) per stage
CELLS_PER_STAGE = 5
FLOPS_CHANNELS = range(1, 1 + N_CELLS_NET)
PARAMS_CHANNELS = range(1 + N_CELLS_NET, N_CHANNELS)

_OP_INDEX = {op: i for i, op in enumerate(NB201_PRIMITIVES)}


# --------------------------------------------------------------------------- encoding


@lru_cache(maxsize=None)
def op_cost(op: str, channels: int, size: int) -> tuple[int, int]:
    """(FLOPs, params) of one stride-1 NB201 op on a (1, channels, size, size) input.

    Counted on the module ``make_op`` builds for the benchmark network (affine BN): a
    forward hook on every Conv2d adds out_elements * (C_in / groups) * k*k multiply-adds
    (+ out_elements for a bias), on every pooling layer out_elements * k*k; parameters are
    all the module's weights. Cached: 5 ops x 3 shapes are ever needed.
    """
    module = make_op(op, "nb201", channels, 1, affine=True, search=False).eval()
    flops = 0

    def conv_hook(m, inputs, out):
        nonlocal flops
        k = m.kernel_size[0] * m.kernel_size[1]
        flops += out.numel() * (m.in_channels // m.groups) * k + (out.numel() if m.bias is not None else 0)

    def pool_hook(m, inputs, out):
        nonlocal flops
        ks = m.kernel_size
        flops += out.numel() * (ks * ks if isinstance(ks, int) else ks[0] * ks[1])

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
            handles.append(m.register_forward_hook(pool_hook))
    with torch.no_grad():
        module(torch.zeros(1, channels, size, size))
    for h in handles:
        h.remove()
    params = sum(p.numel() for p in module.parameters())
    return int(flops), int(params)


@lru_cache(maxsize=1)
def cell_costs() -> np.ndarray:
    """Raw (unscaled) costs, shape (5 ops in NB201_PRIMITIVES order, 15 cells, 2 = FLOPs, params)."""
    out = np.zeros((len(NB201_PRIMITIVES), N_CELLS_NET, 2), dtype=np.float64)
    for o, op in enumerate(NB201_PRIMITIVES):
        k = 0
        for channels, size in BENCHMARK_STAGES:
            cost = op_cost(op, channels, size)
            for _ in range(CELLS_PER_STAGE):
                out[o, k] = cost
                k += 1
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def _channel_table() -> np.ndarray:
    """(5 ops, 31 channels): the value an edge carrying op o puts into each channel."""
    costs = cell_costs()
    lut = np.zeros((len(NB201_PRIMITIVES), N_CHANNELS), dtype=np.float32)
    for o, op in enumerate(NB201_PRIMITIVES):
        lut[o, 0] = OP_CODES[op]
        lut[o, FLOPS_CHANNELS.start:FLOPS_CHANNELS.stop] = costs[o, :, 0] / FLOPS_SCALE
        lut[o, PARAMS_CHANNELS.start:PARAMS_CHANNELS.stop] = costs[o, :, 1] / PARAMS_SCALE
    lut.setflags(write=False)
    return lut


def _ops_of_arch(arch: str) -> list[int]:
    # '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' lists the edges in NB201_EDGES order.
    return [_OP_INDEX[tok.split("~")[0]] for tok in arch.split("|") if "~" in tok]


@lru_cache(maxsize=1)
def _index_ops() -> np.ndarray:
    """(15625, 6) op indices of every benchmark cell, in index order (parsed once)."""
    ops = np.array([_ops_of_arch(e.arch) for e in nb201.table()], dtype=np.int64)
    ops.setflags(write=False)
    return ops


def cell_op_indices(cells) -> np.ndarray:
    """(N, 6) op indices (into NB201_PRIMITIVES, NB201_EDGES order) of a sequence of cells.

    Cells are benchmark indices, arch strings or ``NB201Genotype``; an integer array is
    taken as indices without a Python loop.
    """
    idx = _int_indices(cells)
    if idx is not None:
        return _index_ops()[idx]
    if isinstance(cells, (str, NB201Genotype)) or isinstance(cells, numbers.Integral):
        raise TypeError("cell_op_indices takes a sequence of cells; use encode() for one cell")
    rows = []
    table = _index_ops()
    for c in cells:
        if isinstance(c, NB201Genotype):
            rows.append([_OP_INDEX[op] for op in c.ops])
        else:
            rows.append(table[nb201.index_of(c)])    # validates strings and indices
    return np.asarray(rows, dtype=np.int64).reshape(-1, len(NB201_EDGES))


def encode_many(cells) -> torch.Tensor:
    """(N, 31, 4, 4) float32 feature tensors of ``cells`` (see the module docstring).

    Vectorised: one table gather per edge, so all 15,625 cells take tens of milliseconds
    once the benchmark table is loaded.
    """
    ops = cell_op_indices(cells)
    lut = _channel_table()
    enc = np.zeros((ops.shape[0], N_CHANNELS, N_NODES, N_NODES), dtype=np.float32)
    for e, (src, dst) in enumerate(NB201_EDGES):
        enc[:, :, src, dst] = lut[ops[:, e]]
    return torch.from_numpy(enc)


def encode(cell) -> torch.Tensor:
    """(31, 4, 4) feature tensor of one cell (arch string, ``NB201Genotype`` or index)."""
    return encode_many([cell])[0]


# --------------------------------------------------------------------------- targets


def target_split(dataset: str) -> str:
    """Which accuracy a ranker for ``dataset`` is trained on: 'valid' (CIFAR-10) or 'test'.

    Only CIFAR-10 has a validation column in the shipped table; see the module docstring
    ("Data-leakage policy").
    """
    if dataset not in nb201.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(nb201.DATASETS)}")
    return "valid" if dataset == "cifar10" else "test"


_FIELD = {("cifar10", "test"): "cifar10_test", ("cifar10", "valid"): "cifar10_valid",
          ("cifar100", "test"): "cifar100_test", ("imagenet16-120", "test"): "imagenet16_test"}


def _column(dataset: str, split: str) -> np.ndarray:
    key = (dataset, split)
    if key not in _FIELD:
        target_split(dataset)       # raises for an unknown dataset
        raise ValueError(f"no {split!r} accuracy for {dataset!r} in the table "
                         f"(validation exists for CIFAR-10 only)")
    return _columns()[_FIELD[key]]


@lru_cache(maxsize=1)
def _columns() -> dict[str, np.ndarray]:
    entries = nb201.table()
    cols = {f: np.array([getattr(e, f) for e in entries], dtype=np.float64) for f in set(_FIELD.values())}
    for v in cols.values():
        v.setflags(write=False)
    return cols


def _int_indices(cells) -> np.ndarray | None:
    """Validated benchmark indices (N,) if ``cells`` is an integer tensor/array, else None."""
    if isinstance(cells, torch.Tensor):
        cells = cells.detach().cpu().numpy()
    if not (isinstance(cells, np.ndarray) and cells.dtype.kind in "iu"):
        return None
    idx = cells.reshape(-1).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= nb201.N_CELLS):
        raise ValueError(f"NB201 index out of range 0..{nb201.N_CELLS - 1}")
    return idx


def _as_indices(cells) -> np.ndarray:
    idx = _int_indices(cells)
    if idx is not None:
        return idx
    return np.array([nb201.index_of(c) for c in cells], dtype=np.int64)


def accuracies(cells, dataset: str = "cifar10", split: str = "test") -> np.ndarray:
    """(N,) table accuracies (%) of ``cells`` for ``dataset`` / ``split``."""
    return _column(dataset, split)[_as_indices(cells)].copy()


def training_targets(cells, dataset: str = "cifar10") -> tuple[np.ndarray, str]:
    """(accuracies (N,), split) a ranker for ``dataset`` is trained on; split = target_split(dataset)."""
    split = target_split(dataset)
    return accuracies(cells, dataset, split), split


def sample_cells(n: int, *, seed: int, exclude=None) -> np.ndarray:
    """(n,) distinct benchmark indices drawn uniformly at random, none of them in ``exclude``."""
    allowed = np.ones(nb201.N_CELLS, dtype=bool)
    if exclude is not None:
        allowed[_as_indices(exclude)] = False
    pool = np.flatnonzero(allowed)
    if not 0 <= n <= pool.size:
        raise ValueError(f"cannot draw {n} distinct cells from {pool.size} available")
    return np.random.default_rng(seed).choice(pool, size=n, replace=False)


def tiers_from_accuracy(acc, n_tiers: int = 5) -> np.ndarray:
    """(N,) tier labels: sort by accuracy (best first) and cut into ``n_tiers`` equal parts.

    Tier 0 = best 20 % (for 5 tiers). Sizes differ by at most one (``np.array_split``);
    ties at a boundary are split by a stable sort, i.e. by position in the input.
    """
    acc = np.asarray(acc, dtype=np.float64).reshape(-1)
    order = np.argsort(-acc, kind="stable")
    tiers = np.empty(acc.size, dtype=np.int64)
    for t, part in enumerate(np.array_split(order, n_tiers)):
        tiers[part] = t
    return tiers


# --------------------------------------------------------------------------- metrics


def _count_inversions(r: np.ndarray) -> int:
    """Number of pairs i < j with r[i] > r[j] (strict), r non-negative ints.

    Bottom-up merge sort in numpy: at width w every run is sorted, so keys
    block * m + value are globally sorted and one searchsorted counts, for each element of
    every right run, the larger elements of its left run. O(n log^2 n).
    """
    n = r.size
    if n < 2:
        return 0
    m = int(r.max()) + 1
    cur = r.astype(np.int64)
    pos = np.arange(n, dtype=np.int64)
    total = 0
    w = 1
    while w < n:
        block = pos // w
        keys = block * m + cur
        right = (block % 2) == 1
        b, v = block[right], cur[right]
        left_end = b * w                       # first position of the right run
        first_greater = np.searchsorted(keys, (b - 1) * m + v, side="right")
        total += int((left_end - first_greater).sum())
        pair = pos // (2 * w)
        cur = np.sort(pair * m + cur) - pair * m   # merge runs pairwise
        w *= 2
    return total


def _tie_pairs(x: np.ndarray) -> int:
    _, counts = np.unique(x, return_counts=True, axis=0)
    return int((counts * (counts - 1) // 2).sum())


def kendall_tau(a, b) -> float:
    """Kendall's tau-b of two equally long 1-D sequences (ties allowed), in [-1, 1].

    tau_b = (n_c - n_d) / sqrt((n0 - n1) (n0 - n2)), n0 = n(n-1)/2, n1 / n2 = pairs tied
    in a / b. Discordant pairs are counted as inversions (Knight's method): sort by
    (a, b), then count strict inversions of b, O(n log^2 n). Returns nan when one input
    is constant or n < 2 (as scipy does).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"kendall_tau needs equally long inputs, got {a.size} and {b.size}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("kendall_tau: inputs contain NaN")
    n = a.size
    if n < 2:
        return float("nan")
    n0 = n * (n - 1) // 2
    n1, n2 = _tie_pairs(a), _tie_pairs(b)
    n3 = _tie_pairs(np.stack([a, b], axis=1))
    _, rank_b = np.unique(b, return_inverse=True)
    order = np.lexsort((b, a))
    n_d = _count_inversions(rank_b.reshape(-1)[order])
    n_c = n0 - n1 - n2 + n3 - n_d
    denom = math.sqrt(float(n0 - n1) * float(n0 - n2))
    if denom == 0:
        return float("nan")
    return (n_c - n_d) / denom


def pairwise_ranking_loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """ReNAS pairwise logistic loss: mean over pairs with y_i != y_j of
    log(1 + exp(-(s_i - s_j) * sign(y_i - y_j))).

    scores, targets: (N,). Ordered and unordered pairs give the same mean (the term is
    symmetric). Returns 0 (with a graph) when no pair differs.
    """
    ds = scores[:, None] - scores[None, :]
    sign = torch.sign(targets[:, None] - targets[None, :]).to(scores.dtype)
    mask = sign != 0
    if not bool(mask.any()):
        return scores.sum() * 0.0
    return F.softplus(-ds * sign)[mask].mean()


def noam_lr(step: int, d_model: int, lr_mul: float = 0.07, warmup: int = 30) -> float:
    """Noam schedule: lr_mul * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5), step >= 1."""
    step = max(int(step), 1)
    return lr_mul * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


# --------------------------------------------------------------------------- model


def _sinusoid(n_pos: int, d: int) -> torch.Tensor:
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]
    div = torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float32) / d)
    table = torch.zeros(n_pos, d)
    table[:, 0::2] = torch.sin(pos / div)
    table[:, 1::2] = torch.cos(pos / div[: d // 2])
    return table


class NAR(nn.Module):
    """The ranker network. Input: feature tensors (N, 31, 4, 4) (any (N, T, P, P)).

    * tokens: each of the T channels flattened (P*P) -> Linear to d_model, + sinusoidal
      position, LayerNorm, dropout -> ``n_layers`` Transformer encoder layers -> x (N, T, d).
    * score: MLP (T*d -> score_hidden -> 1) on flattened x -> (N,).
    * tier logits: the tier embeddings (n_tiers, T, d) go through a Linear + positions +
      LayerNorm as the decoder's query sequence; a ``n_layers`` Transformer decoder
      attends to x as memory, once per tier (batched); the n_tiers outputs (N, T, d) are
      summed, flattened, MLP (T*d -> tier_hidden -> n_tiers), scaled by d_model^-1/2.

    Note the sum over tiers is symmetric in the tier embeddings: they shape the features
    as a data-dependent set of queries, while which output is which tier is fixed by the
    final MLP (as in the paper's description). Paper size for NB201: the defaults.
    """

    def __init__(self, d_model: int = 128, n_heads: int = 4, d_ff: int = 512, n_layers: int = 6,
                 n_tiers: int = 5, dropout: float = 0.1, tier_hidden: int = 256,
                 score_hidden: int = 1024, n_tokens: int = N_CHANNELS, patch: int = N_NODES * N_NODES):
        super().__init__()
        self.d_model, self.n_tiers, self.n_tokens, self.patch = d_model, n_tiers, n_tokens, patch
        self.embed = nn.Linear(patch, d_model)
        self.query_proj = nn.Linear(d_model, d_model)
        self.register_buffer("positions", _sinusoid(n_tokens, d_model), persistent=False)
        self.enc_norm = nn.LayerNorm(d_model, eps=1e-6)
        self.dec_norm = nn.LayerNorm(d_model, eps=1e-6)
        self.drop = nn.Dropout(dropout)
        enc_layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True)
        dec_layer = nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True)
        # enable_nested_tensor only matters for padded batches; off avoids a warning.
        self.encoder = nn.TransformerEncoder(enc_layer, n_layers, enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(dec_layer, n_layers)
        self.score_head = nn.Sequential(nn.Linear(n_tokens * d_model, score_hidden), nn.ReLU(),
                                        nn.Linear(score_hidden, 1))
        self.tier_head = nn.Sequential(nn.Linear(n_tokens * d_model, tier_hidden, bias=False),
                                       nn.ReLU(), nn.Linear(tier_hidden, n_tiers))
        # Xavier on every matrix, as the reference Transformer implementations do.
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def tokens(self, x_enc: torch.Tensor) -> torch.Tensor:
        """(N, T, P, P) -> encoder features x (N, T, d)."""
        x = self.embed(x_enc.reshape(x_enc.shape[0], self.n_tokens, self.patch))
        x = self.drop(self.enc_norm(x + self.positions))
        return self.encoder(x)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder features (N, T, d) -> scores (N,)."""
        return self.score_head(x.flatten(1)).squeeze(1)

    def tier_logits(self, x: torch.Tensor, tier_embeddings: torch.Tensor) -> torch.Tensor:
        """Encoder features (N, T, d), tier embeddings (n_tiers, T, d) -> logits (N, n_tiers)."""
        n, k = x.shape[0], tier_embeddings.shape[0]
        q = self.drop(self.dec_norm(self.query_proj(tier_embeddings) + self.positions))  # (k, T, d)
        # One decoder pass per tier, batched: query k for every architecture.
        tgt = q.unsqueeze(1).expand(k, n, -1, -1).reshape(k * n, self.n_tokens, self.d_model)
        mem = x.unsqueeze(0).expand(k, -1, -1, -1).reshape(k * n, self.n_tokens, self.d_model)
        out = self.decoder(tgt, mem).reshape(k, n, self.n_tokens, self.d_model).sum(0)
        return self.tier_head(out.flatten(1)) * self.d_model ** -0.5

    def forward(self, x_enc: torch.Tensor, tier_embeddings: torch.Tensor, return_tokens: bool = False):
        """(N, T, P, P), (n_tiers, T, d) -> (tier_logits (N, n_tiers), score (N,)) [, x (N, T, d)]."""
        x = self.tokens(x_enc)
        out = (self.tier_logits(x, tier_embeddings), self.score(x))
        return out + (x,) if return_tokens else out


class TierBank:
    """Running mean of detached encoder features per tier: shape (n_tiers, T, d).

    Empty tiers read as zeros (the state at the start of every epoch).
    """

    def __init__(self, n_tiers: int, n_tokens: int, d_model: int, device="cpu"):
        self.sums = torch.zeros(n_tiers, n_tokens, d_model, device=device)
        self.counts = torch.zeros(n_tiers, device=device)

    def reset(self) -> None:
        self.sums.zero_()
        self.counts.zero_()

    @torch.no_grad()
    def update(self, x: torch.Tensor, tiers: torch.Tensor) -> None:
        """Add features x (N, T, d) of architectures in ``tiers`` (N,)."""
        x = x.detach()
        self.sums.index_add_(0, tiers, x)
        self.counts.index_add_(0, tiers, torch.ones_like(tiers, dtype=self.counts.dtype))

    def means(self) -> torch.Tensor:
        return self.sums / self.counts.clamp(min=1)[:, None, None]


# --------------------------------------------------------------------------- rankers


class _Ranker:
    """Common parts: predict in chunks, no grad, eval mode, metadata."""
    chunk = 1024

    def __init__(self, model: nn.Module, *, device, history, dataset, target_split, seed):
        self.model = model
        self.device = torch.device(device)
        self.history: list[dict] = history
        self.dataset = dataset
        self.target_split = target_split
        self.seed = seed

    def _scores_of(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def predict_scores(self, cells) -> np.ndarray:
        """(N,) float scores of ``cells``; higher = predicted better."""
        x = encode_many(cells)
        self.model.eval()
        out = [self._scores_of(x[i:i + self.chunk].to(self.device)).cpu()
               for i in range(0, x.shape[0], self.chunk)]
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


class NARRanker(_Ranker):
    """A trained NAR: ``model`` (NAR) and ``tier_embeddings`` (n_tiers, 31, d) of the last epoch."""
    chunk = 256     # the decoder runs n_tiers times per architecture

    def __init__(self, model: NAR, tier_embeddings: torch.Tensor, **kw):
        super().__init__(model, **kw)
        self.tier_embeddings = tier_embeddings

    def _scores_of(self, x):
        return self.model.score(self.model.tokens(x))

    def _token_chunks(self, cells):
        """Encoder features (chunk, 31, d) of ``cells``, ``chunk`` at a time, in eval mode."""
        x = encode_many(cells)
        self.model.eval()
        for i in range(0, x.shape[0], self.chunk):
            yield self.model.tokens(x[i:i + self.chunk].to(self.device))

    def _tier_probs(self, tokens: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model.tier_logits(tokens, emb), 1).cpu()

    @torch.no_grad()
    def predict(self, cells, tier_embeddings: torch.Tensor | None = None):
        """(tier probabilities (N, n_tiers), scores (N,), encoder features (N, 31, d) on the
        CPU) of ``cells`` in one pass, with ``tier_embeddings`` (default: the trained ones)."""
        emb = (self.tier_embeddings if tier_embeddings is None else tier_embeddings).to(self.device)
        probs, scores, feats = [], [], []
        for tokens in self._token_chunks(cells):
            probs.append(self._tier_probs(tokens, emb))
            scores.append(self.model.score(tokens).cpu())
            feats.append(tokens.cpu())
        if not probs:
            return (np.zeros((0, self.model.n_tiers)), np.zeros(0),
                    torch.zeros(0, self.model.n_tokens, self.model.d_model))
        return (torch.cat(probs).numpy().astype(np.float64), torch.cat(scores).numpy().astype(np.float64),
                torch.cat(feats))

    @torch.no_grad()
    def predict_tier_probs(self, cells) -> np.ndarray:
        """(N, n_tiers) softmax tier probabilities (tier 0 = best)."""
        emb = self.tier_embeddings.to(self.device)
        out = [self._tier_probs(tokens, emb) for tokens in self._token_chunks(cells)]
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, self.model.n_tiers))

    def predict_tiers(self, cells) -> np.ndarray:
        """(N,) predicted tier (argmax of the tier probabilities), 0 = best."""
        return self.predict_tier_probs(cells).argmax(1)


class MLPRanker(_Ranker):
    """A baseline MLP on the flattened encoding; ``kind`` 'mse' (scores = predicted
    accuracy, %) or 'pairwise' (scores on an arbitrary scale)."""

    def __init__(self, model: nn.Module, kind: str, y_mean: float = 0.0, y_std: float = 1.0, **kw):
        super().__init__(model, **kw)
        self.kind, self.y_mean, self.y_std = kind, y_mean, y_std

    def _scores_of(self, x):
        return self.model(x.flatten(1)).squeeze(1) * self.y_std + self.y_mean


def _mlp(d_in: int, hidden: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.ReLU()]
        d_in = h
    layers.append(nn.Linear(d_in, 1))
    return nn.Sequential(*layers)


def _prepare(train_cells, train_acc):
    x = encode_many(train_cells)
    y = torch.as_tensor(np.asarray(train_acc, dtype=np.float64), dtype=torch.float32).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} cells but {y.shape[0]} accuracies")
    if x.shape[0] < 2:
        raise ValueError("need at least 2 training cells")
    if not torch.isfinite(y).all():
        raise ValueError("training accuracies contain NaN or inf")
    return x, y


def _batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def _bar(epochs: int, progress: bool, desc: str):
    from .progress import progress_bar
    return progress_bar(total=epochs, disable=not progress, desc=desc)


def train_nar(train_cells, train_acc, *, epochs: int = 55, batch_size: int = 128, seed: int = 0,
              rank_weight: float = 1.0, lr_mul: float = 0.07, warmup: int = 30,
              betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 1e-2,
              d_model: int = 128, n_heads: int = 4, d_ff: int = 512, n_layers: int = 6,
              n_tiers: int = 5, dropout: float = 0.1, tier_hidden: int = 256,
              score_hidden: int = 1024, device="cpu", progress: bool = False,
              dataset: str | None = None, target_split: str | None = None) -> NARRanker:
    """Train a NAR on (cells, accuracies); returns a ``NARRanker``.

    train_cells: N cells; train_acc: (N,) target accuracies (a *validation* accuracy where
    one exists, see "Data-leakage policy"). Tiers: quintiles of train_acc (tier 0 = best).
    Per batch: the current tier embeddings (means over this epoch's earlier batches, zeros
    at the start of an epoch) are the decoder's queries; loss = CE(tier logits, tier) +
    rank_weight * pairwise_ranking_loss(score, acc); AdamW with a Noam learning rate
    (updated every step); then the batch's detached features are added to the tier bank
    under their ground-truth tiers. ``dataset`` / ``target_split`` are only recorded.

    Deterministic for a seed on CPU: the global torch RNG is forked, seeded and restored,
    so calling this does not disturb the caller's random stream.
    """
    x_all, y_all = _prepare(train_cells, train_acc)
    t_all = torch.from_numpy(tiers_from_accuracy(y_all.numpy(), n_tiers))
    device = torch.device(device)
    history = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = NAR(d_model, n_heads, d_ff, n_layers, n_tiers, dropout, tier_hidden,
                    score_hidden).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=noam_lr(1, d_model, lr_mul, warmup),
                                betas=betas, weight_decay=weight_decay)
        bank = TierBank(n_tiers, model.n_tokens, d_model, device)
        gen = torch.Generator().manual_seed(seed)
        step = 0
        with _bar(epochs, progress, "NAR") as bar:
            for epoch in range(epochs):
                model.train()
                bank.reset()
                sums = {"loss": 0.0, "ce": 0.0, "rank": 0.0, "correct": 0.0}
                for idx in _batches(len(y_all), batch_size, gen):
                    xb, yb, tb = x_all[idx].to(device), y_all[idx].to(device), t_all[idx].to(device)
                    step += 1
                    for g in opt.param_groups:
                        g["lr"] = noam_lr(step, d_model, lr_mul, warmup)
                    logits, score, tokens = model(xb, bank.means(), return_tokens=True)
                    ce = F.cross_entropy(logits, tb)
                    rank = pairwise_ranking_loss(score, yb)
                    loss = ce + rank_weight * rank
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    bank.update(tokens, tb)
                    nb = len(idx)
                    sums["loss"] += loss.item() * nb
                    sums["ce"] += ce.item() * nb
                    sums["rank"] += rank.item() * nb
                    sums["correct"] += float((logits.argmax(1) == tb).sum())
                n = len(y_all)
                history.append({"epoch": epoch + 1, "loss": sums["loss"] / n, "ce": sums["ce"] / n,
                                "rank": sums["rank"] / n, "tier_acc": sums["correct"] / n,
                                "lr": opt.param_groups[0]["lr"]})
                bar.update(1)
    return NARRanker(model.eval(), bank.means().clone(), device=device, history=history,
                     dataset=dataset, target_split=target_split, seed=seed)


def _train_mlp(kind, train_cells, train_acc, *, epochs, batch_size, seed, lr, weight_decay,
               betas, hidden, device, progress, dataset, target_split) -> MLPRanker:
    x_all, y_all = _prepare(train_cells, train_acc)
    x_all = x_all.flatten(1)
    # MSE on standardised accuracy: the loss scale does not depend on the dataset's range.
    y_mean = float(y_all.mean()) if kind == "mse" else 0.0
    y_std = float(y_all.std()) if kind == "mse" else 1.0
    y_std = y_std if y_std > 0 else 1.0
    z_all = (y_all - y_mean) / y_std
    device = torch.device(device)
    history = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _mlp(x_all.shape[1], hidden).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed)
        with _bar(epochs, progress, kind) as bar:
            for epoch in range(epochs):
                model.train()
                total = 0.0
                for idx in _batches(len(z_all), batch_size, gen):
                    xb, zb = x_all[idx].to(device), z_all[idx].to(device)
                    pred = model(xb).squeeze(1)
                    loss = F.mse_loss(pred, zb) if kind == "mse" else pairwise_ranking_loss(pred, zb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                history.append({"epoch": epoch + 1, "loss": total / len(z_all)})
                bar.update(1)
    return MLPRanker(model.eval(), kind, y_mean, y_std, device=device, history=history,
                     dataset=dataset, target_split=target_split, seed=seed)


def train_mse_regressor(train_cells, train_acc, *, epochs: int = 55, batch_size: int = 128,
                        seed: int = 0, lr: float = 1e-3, weight_decay: float = 1e-2,
                        betas: tuple[float, float] = (0.9, 0.99), hidden: Sequence[int] = (256, 256),
                        device="cpu", progress: bool = False, dataset: str | None = None,
                        target_split: str | None = None) -> MLPRanker:
    """Baseline: MLP (496 -> hidden -> 1) on the flattened encoding, MSE on standardised
    accuracy; ``predict_scores`` returns predicted accuracy (%). Constant-lr AdamW."""
    return _train_mlp("mse", train_cells, train_acc, epochs=epochs, batch_size=batch_size, seed=seed,
                      lr=lr, weight_decay=weight_decay, betas=betas, hidden=tuple(hidden),
                      device=device, progress=progress, dataset=dataset, target_split=target_split)


def train_pairwise_ranker(train_cells, train_acc, *, epochs: int = 55, batch_size: int = 128,
                          seed: int = 0, lr: float = 1e-3, weight_decay: float = 1e-2,
                          betas: tuple[float, float] = (0.9, 0.99), hidden: Sequence[int] = (256, 256),
                          device="cpu", progress: bool = False, dataset: str | None = None,
                          target_split: str | None = None) -> MLPRanker:
    """Baseline: the same MLP as ``train_mse_regressor``, trained with the pairwise ranking
    loss only (ReNAS-style); scores are on an arbitrary scale."""
    return _train_mlp("pairwise", train_cells, train_acc, epochs=epochs, batch_size=batch_size,
                      seed=seed, lr=lr, weight_decay=weight_decay, betas=betas, hidden=tuple(hidden),
                      device=device, progress=progress, dataset=dataset, target_split=target_split)


# --------------------------------------------------------------------------- search


class SearchCurve(list):
    """Best-so-far test accuracy (%) after each query: a list of length ``n_queries``.

    Attributes: ``queried`` (benchmark indices in query order), ``accuracy`` (their test
    accuracies), ``dataset``, ``eval_split`` ('test'), ``target_split`` (what the ranker
    was trained on: 'valid', 'test', or None for random search), ``method``, ``seed``.
    """

    def __init__(self, values, *, queried, accuracy, dataset, target_split, method, seed):
        super().__init__(float(v) for v in values)
        self.queried = np.asarray(queried, dtype=np.int64)
        self.accuracy = np.asarray(accuracy, dtype=np.float64)
        self.dataset = dataset
        self.eval_split = "test"
        self.target_split = target_split
        self.method = method
        self.seed = seed


def _curve(queried, dataset, **kw) -> SearchCurve:
    acc = _column(dataset, "test")[queried]
    return SearchCurve(np.maximum.accumulate(acc), queried=queried, accuracy=acc, dataset=dataset, **kw)


def search_with_ranker(ranker, n_queries: int, *, dataset: str = "cifar10", seed: int = 0,
                       pool_size: int = 1000, exclude=None, use_tiers: bool = True) -> SearchCurve:
    """Rank a random pool with ``ranker`` and query the benchmark in predicted order.

    Draws ``pool_size`` distinct cells uniformly from the 15,625 (minus ``exclude``, e.g.
    the training cells), orders them by predicted tier (0 first, NAR only, when
    ``use_tiers``) and then by score, descending, and queries the first ``n_queries``.
    Returns their best-so-far test accuracy (``SearchCurve``; ``target_split`` taken from
    the ranker). The ranker should have been trained for ``dataset``.
    """
    if not 1 <= n_queries <= pool_size:
        raise ValueError(f"need 1 <= n_queries <= pool_size, got {n_queries} and {pool_size}")
    target_split(dataset)
    pool = sample_cells(pool_size, seed=seed, exclude=exclude)
    scores = ranker.predict_scores(pool)
    if use_tiers and hasattr(ranker, "predict_tiers"):
        order = np.lexsort((-scores, ranker.predict_tiers(pool)))
        method = "nar"
    else:
        order = np.argsort(-scores, kind="stable")
        method = type(ranker).__name__ if not isinstance(ranker, MLPRanker) else ranker.kind
    return _curve(pool[order[:n_queries]], dataset, target_split=getattr(ranker, "target_split", None),
                  method=method, seed=seed)


def random_search(n_queries: int, *, dataset: str = "cifar10", seed: int = 0, exclude=None) -> SearchCurve:
    """Baseline: query ``n_queries`` distinct uniformly random cells; best-so-far test accuracy."""
    target_split(dataset)
    return _curve(sample_cells(n_queries, seed=seed, exclude=exclude), dataset,
                  target_split=None, method="random", seed=seed)
