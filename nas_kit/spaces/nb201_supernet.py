"""The NAS-Bench-201 search space as a supernet (Dong & Yang, 2020; `TinyNetworkDarts`).

A cell has 4 nodes; node 0 is the cell input and every node j < i feeds node i through a
mixed op: 6 edges. The cell output is node 3 (no concatenation, channels unchanged).
The macro skeleton: stem, N cells at C, a ResNet reduction block, N cells at 2C, a
block, N cells at 4C, BN + ReLU, global pooling, linear. One α (6, 5) for all cells.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..genotypes import NB201_EDGES, NB201_PRIMITIVES, derive_nb201
from .fused import fused_cell_nodes
from .mixed import MixedOp
from .ops import ResNetBasicBlock
from .supernet import Supernet

NODES = 4


class NB201SearchCell(nn.Module):
    """forward(x (N, C, H, W), op weights (6, n_ops), edge weights (6,) or None) -> (N, C, H, W)."""

    def __init__(self, primitives, c, *, affine, partial_channels):
        super().__init__()
        self.fused = False  # set by the supernet's engine (see fused.py)
        self.edges = nn.ModuleList(
            MixedOp(primitives, "nb201", c, 1, affine=affine, partial_channels=partial_channels)
            for _ in NB201_EDGES)

    def forward(self, x, weights, edge_weights=None):
        if self.fused:
            return fused_cell_nodes(self.edges, NB201_EDGES, [x], NODES, weights, edge_weights)[-1]
        nodes = [x]
        for dst in range(1, NODES):
            terms = []
            for e, (src, d) in enumerate(NB201_EDGES):
                if d != dst:
                    continue
                out = self.edges[e](nodes[src], weights[e])
                if edge_weights is not None:
                    out = edge_weights[e] * out
                terms.append(out)
            nodes.append(sum(terms))
        return nodes[-1]


class NB201Supernet(Supernet):
    """Input (N, in_channels, H, W) -> logits (N, num_classes). Benchmark default C=16, N=5."""

    space = "nb201"
    cell_types = ("cell",)

    def __init__(self, C: int = 16, num_classes: int = 10, cells_per_stage: int = 5, *,
                 in_channels: int = 3, primitives: Sequence[str] = NB201_PRIMITIVES,
                 relaxation: str = "softmax", affine: bool = False, partial_channels: int = 1,
                 edge_norm: bool = False, alpha_init_std: float = 1e-3, engine: str = "eager"):
        if cells_per_stage < 1:
            raise ValueError(f"cells_per_stage must be >= 1, got {cells_per_stage}")
        unknown = [p for p in primitives if p not in NB201_PRIMITIVES]
        if unknown:
            raise ValueError(f"unknown NB201 ops {unknown}; valid: {', '.join(NB201_PRIMITIVES)}")
        super().__init__(primitives, NB201_EDGES, relaxation=relaxation, edge_norm=edge_norm,
                         alpha_init_std=alpha_init_std)
        self.C, self.cells_per_stage, self.num_classes = C, cells_per_stage, num_classes
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(C))
        self.cells = nn.ModuleList()
        c = C
        for stage in range(3):
            if stage > 0:
                # The reduction blocks are fixed ResNet blocks, trained with affine BN.
                self.cells.append(ResNetBasicBlock(c, 2 * c, 2, affine=True))
                c *= 2
            for _ in range(cells_per_stage):
                self.cells.append(NB201SearchCell(self.primitives, c, affine=affine,
                                                  partial_channels=partial_channels))
        self.feature_channels = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        self.set_engine(engine)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) -> (N, 4C, H/4, W/4) after the final BN + ReLU."""
        weights = self.op_weights()["cell"]
        edge_w = self.edge_weights()
        edge_w = None if edge_w is None else edge_w["cell"]
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h, weights, edge_w) if isinstance(cell, NB201SearchCell) else cell(h)
        return self.lastact(h)

    def genotype(self, rule: str = "argmax", threshold: float | None = None):
        """NB201 derivation: per edge the strongest op (see `derive_nb201`)."""
        with torch.no_grad():
            w = self.selection_weights()["cell"].detach().cpu()
        return derive_nb201(w, self.primitives, threshold=threshold)
