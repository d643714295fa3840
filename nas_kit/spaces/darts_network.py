"""The DARTS evaluation network built from a genotype (`cnn/model.py` NetworkCIFAR).

A cell takes the outputs of the two previous cells (nodes 0 and 1, after a 1x1
preprocessing) and computes each intermediate node 2..5 as the sum of its selected ops
over its inputs; the cell output concatenates the genotype's ``*_concat`` nodes. The cell
is built generically from the edge list ``(op, src, dst)``, so the canonical DARTS cell
(2 inputs per node) and Fair DARTS' sparse cells (0..n inputs per node) share one class.

Sparse cells (Fair DARTS ``DCOCell`` semantics)
    A node is *present* if at least one of its edges comes from a present node (nodes 0
    and 1 always are). Edges leaving an absent node are skipped, and absent nodes are
    dropped from the concat, so the cell's output width is ``len(live concat) * C`` and
    varies per cell type. Going one step further than DCOCell, ops whose result can never
    reach the cell output (a present node outside the concat that feeds no live node) are
    not built either, so they add no dead weights. A cell in which no concat node is
    present has no output at all: building it raises ``ValueError``.

Evaluation ops are built with ``affine=True, search=False`` (no BN after pools).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .darts_supernet import STEM_MULTIPLIER, reduction_layers
from .ops import FactorizedReduce, Identity, ReLUConvBN, make_op

__all__ = ["DartsNetwork", "DartsEvalCell", "AuxiliaryHead", "drop_path", "num_weights",
           "live_nodes"]



def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of ``x`` (N, C, H, W) with probability ``drop_prob``; scale the kept
    ones by 1/keep so the expectation is unchanged. Returns a new tensor (N, C, H, W)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


def live_nodes(edges: Sequence[tuple[str, int, int]], concat: Sequence[int]
               ) -> tuple[set[int], tuple[int, ...]]:
    """Which nodes of a cell carry signal to its output.

    Returns ``(live, out)``: ``out`` = the concat nodes that are present (in genotype
    order); ``live`` = present nodes from which some node of ``out`` can be reached,
    including ``out`` itself. Nodes 0 and 1 are always present.
    """
    present = {0, 1}
    for dst in sorted({d for _, _, d in edges}):
        if any(d == dst and s in present for _, s, d in edges):
            present.add(dst)
    out = tuple(n for n in concat if n in present)
    live = set(out)
    # Walk back from the outputs, largest node first, since edges only point forward.
    for dst in sorted(live | present, reverse=True):
        if dst in live:
            live.update(s for _, s, d in edges if d == dst and s in present)
    return live, out


class DartsEvalCell(nn.Module):
    """One evaluation cell.

    forward(s0 (N, c_pp, H0, W0), s1 (N, c_p, H, W), drop_prob) -> (N, multiplier * C, H/r, W/r),
    r = 2 in a reduction cell (then H0 = H, or H0 = 2H after a previous reduction).
    ``multiplier`` = number of present concat nodes (4 for every canonical DARTS cell).
    """

    def __init__(self, edges: Sequence[tuple[str, int, int]], concat: Sequence[int],
                 c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        # After a reduction s0 is twice the spatial size of s1; FactorizedReduce aligns it.
        self.preprocess0 = (FactorizedReduce(c_pp, c, affine=True) if reduction_prev
                            else ReLUConvBN(c_pp, c, 1, 1, 0, affine=True))
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=True)
        live, out = live_nodes(edges, concat)
        if not out:
            kind = "reduce" if reduction else "normal"
            raise ValueError(
                f"{kind} cell has no output: none of its concat nodes {list(concat)} receives an "
                f"input (edges {list(edges)}); the genotype is degenerate")
        self.concat = out
        self.multiplier = len(out)
        kept = [(op, s, d) for op, s, d in edges if d in live and s in live]
        self.nodes = tuple(sorted({d for _, _, d in kept}))
        # (src, dst) per op, aligned with self.ops; sorted by dst so nodes are ready in order.
        kept.sort(key=lambda e: e[2])
        self.links = tuple((s, d) for _, s, d in kept)
        self.ops = nn.ModuleList(
            make_op(op, "darts", c, 2 if reduction and s < 2 else 1, affine=True, search=False)
            for op, s, _ in kept)
        # Identity ops have nothing to regularise: drop-path skips them (as DARTS does).
        self.droppable = tuple(not isinstance(op, Identity) for op in self.ops)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = {0: self.preprocess0(s0), 1: self.preprocess1(s1)}
        use_drop = self.training and drop_prob > 0.0
        for (src, dst), op, droppable in zip(self.links, self.ops, self.droppable):
            h = op(states[src])
            if use_drop and droppable:
                h = drop_path(h, drop_prob)
            states[dst] = h if dst not in states else states[dst] + h
        return torch.cat([states[n] for n in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS' auxiliary classifier for 8x8 maps: (N, C, H, W) -> logits (N, num_classes).

    On 8..10 px maps it is the original head: AvgPool(5, stride 3) -> 2x2, 1x1 conv -> 128,
    2x2 conv -> 768 (1x1), Linear. Other sizes (e.g. 7x7 maps from 28 px Fashion-MNIST,
    where the pool would leave 1x1 and the 2x2 conv could not run) pool adaptively to 2x2
    instead, so the head keeps the same weights and output for any input size.
    """

    def __init__(self, c: int, num_classes: int):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False)
        self.features = nn.Sequential(
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(x)
        if 8 <= x.shape[-2] <= 10 and 8 <= x.shape[-1] <= 10:
            x = self.pool(x)
        else:
            x = nn.functional.adaptive_avg_pool2d(x, 2)
        x = self.features(x)
        return self.classifier(x.flatten(1))


class DartsNetwork(nn.Module):
    """DARTS evaluation network (CIFAR layout).

    Stem Conv3x3(in -> 3C) + BN, ``layers`` cells with reductions (stride 2, channels x2)
    at ``layers//3`` and ``2*layers//3``, global average pooling, Linear. The auxiliary
    head reads the output of cell ``2*layers//3`` (8x8 maps for 32 px input).

    forward(x (N, in_channels, H, W)) -> (logits (N, num_classes),
    aux logits (N, num_classes) in training mode with ``auxiliary=True``, else None).

    ``drop_path_prob`` is a plain attribute: the training loop sets it each epoch.
    """

    def __init__(self, genotype, C: int = 36, num_classes: int = 10, layers: int = 20,
                 auxiliary: bool = True, drop_path_prob: float = 0.0, in_channels: int = 3):
        super().__init__()
        if getattr(genotype, "space", None) != "darts":
            raise ValueError(f"DartsNetwork needs a DARTS-space genotype, got {type(genotype).__name__}")
        if layers < 3:
            raise ValueError(f"layers must be >= 3 to place two reduction cells, got {layers}")
        self.genotype = genotype
        self.C, self.layers, self.num_classes = C, layers, num_classes
        self.drop_path_prob = drop_path_prob
        self.aux_index = 2 * layers // 3
        reductions = reduction_layers(layers)

        c_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        c_aux = None
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
            kind = "reduce" if reduction else "normal"
            cell = DartsEvalCell(genotype.cell(kind), getattr(genotype, f"{kind}_concat"),
                                 c_pp, c_p, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if i == self.aux_index:
                c_aux = c_p
        self.auxiliary_head = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits_aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1)), logits_aux


def num_weights(model: nn.Module, exclude_aux: bool = True) -> int:
    """Number of parameters of ``model``; by default without the auxiliary head, as the
    DARTS papers count them."""
    return sum(p.numel() for name, p in model.named_parameters()
               if not (exclude_aux and name.startswith("auxiliary_head.")))
