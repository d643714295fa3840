"""The DARTS CNN search space as a supernet (Liu et al., 2019; `cnn/model_search.py`).

2 input nodes (outputs of the previous two cells) + 4 intermediate nodes; every
intermediate node sums a mixed op from every earlier node: 2+3+4+5 = 14 edges. The cell
output concatenates the 4 intermediate nodes. Reduction cells (stride 2 on the edges
leaving the input nodes, channels doubled) sit at ``layers//3`` and ``2*layers//3``.
One α matrix per cell type is shared by all cells of that type.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..genotypes import DARTS_EDGES, DARTS_PRIMITIVES, derive_darts
from .fused import fused_cell_nodes
from .mixed import MixedOp
from .ops import FactorizedReduce, ReLUConvBN
from .supernet import Supernet

STEPS = 4          # intermediate nodes per cell
MULTIPLIER = 4     # how many of them are concatenated into the cell output
STEM_MULTIPLIER = 3


def reduction_layers(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells in a network of `layers` cells."""
    return layers // 3, 2 * layers // 3


class DartsSearchCell(nn.Module):
    """forward(s0 (N, C_pp, H', W'), s1 (N, C_p, H, W), op weights (14, n_ops),
    edge weights (14,) or None) -> (N, 4*C, H/r, W/r), r = 2 for a reduction cell."""

    def __init__(self, primitives, c_pp, c_p, c, reduction, reduction_prev, *, affine,
                 partial_channels):
        super().__init__()
        self.reduction = reduction
        self.fused = False  # set by the supernet's engine (see fused.py)
        self.preprocess0 = (FactorizedReduce(c_pp, c, affine=affine) if reduction_prev
                            else ReLUConvBN(c_pp, c, 1, 1, 0, affine=affine))
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=affine)
        self.edges = nn.ModuleList()
        for src, dst in DARTS_EDGES:
            stride = 2 if reduction and src < 2 else 1
            self.edges.append(MixedOp(primitives, "darts", c, stride, affine=affine,
                                      partial_channels=partial_channels))

    def forward(self, s0, s1, weights, edge_weights=None):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        if self.fused:
            states = fused_cell_nodes(self.edges, DARTS_EDGES, states, 2 + STEPS, weights,
                                      edge_weights)
            return torch.cat(states[-MULTIPLIER:], dim=1)
        offset = 0
        for _ in range(STEPS):
            terms = []
            for j, h in enumerate(states):
                out = self.edges[offset + j](h, weights[offset + j])
                if edge_weights is not None:
                    out = edge_weights[offset + j] * out
                terms.append(out)
            offset += len(states)
            states.append(sum(terms))
        return torch.cat(states[-MULTIPLIER:], dim=1)


class DartsSupernet(Supernet):
    """DARTS search network: stem, `layers` cells, global pooling, linear classifier.

    Input (N, in_channels, H, W) -> logits (N, num_classes). Search defaults C=16, 8 cells.
    """

    space = "darts"
    cell_types = ("normal", "reduce")

    def __init__(self, C: int = 16, num_classes: int = 10, layers: int = 8, *,
                 in_channels: int = 3, primitives: Sequence[str] = DARTS_PRIMITIVES,
                 relaxation: str = "softmax", affine: bool = False, partial_channels: int = 1,
                 edge_norm: bool = False, alpha_init_std: float = 1e-3, engine: str = "eager"):
        if layers < 3:
            raise ValueError(f"layers must be >= 3 to place two reduction cells, got {layers}")
        unknown = [p for p in primitives if p not in DARTS_PRIMITIVES]
        if unknown:
            raise ValueError(f"unknown DARTS ops {unknown}; valid: {', '.join(DARTS_PRIMITIVES)}")
        super().__init__(primitives, DARTS_EDGES, relaxation=relaxation, edge_norm=edge_norm,
                         alpha_init_std=alpha_init_std)
        self.C, self.layers, self.num_classes = C, layers, num_classes
        c_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in reduction_layers(layers)
            if reduction:
                c_curr *= 2
            self.cells.append(DartsSearchCell(self.primitives, c_pp, c_p, c_curr, reduction,
                                              reduction_prev, affine=affine,
                                              partial_channels=partial_channels))
            reduction_prev = reduction
            c_pp, c_p = c_p, MULTIPLIER * c_curr
        self.feature_channels = c_p
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        self.set_engine(engine)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) -> last cell output (N, 4 * 4C, H/4, W/4)."""
        weights = self.op_weights()
        edge_w = self.edge_weights()
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            t = "reduce" if cell.reduction else "normal"
            s0, s1 = s1, cell(s0, s1, weights[t], None if edge_w is None else edge_w[t])
        return s1

    def genotype(self, rule: str = "top2", threshold: float | None = None):
        """Derive the discrete cell pair from the current α (β) with the given rule."""
        with torch.no_grad():
            w = {t: v.detach().cpu() for t, v in self.selection_weights().items()}
        return derive_darts(w["normal"], w["reduce"], self.primitives, rule=rule, threshold=threshold)
