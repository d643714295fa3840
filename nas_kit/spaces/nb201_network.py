"""NAS-Bench-201's benchmark network (`TinyNetwork` with `InferCell`) from a genotype.

This is the network whose trained accuracies the benchmark tables store, so training a
searched cell with it (NB201 protocol) is directly comparable to a table lookup.
"""
from __future__ import annotations

import torch
from torch import nn

from .ops import ResNetBasicBlock, make_op

__all__ = ["NB201Network", "NB201InferCell"]

NODES = 4


class NB201InferCell(nn.Module):
    """forward(x (N, C, H, W)) -> node 3 (N, C, H, W).

    Node 0 is the input; node i = sum over j < i of op_{i<-j}(node j). Every edge is built,
    `none` included (it contributes zeros), as NB201's InferCell does, so the weight count
    matches the benchmark's.
    """

    def __init__(self, genotype, c: int):
        super().__init__()
        self.links = tuple((s, d) for _, s, d in genotype.edges())
        self.ops = nn.ModuleList(make_op(op, "nb201", c, 1, affine=True, search=False)
                                 for op, _, _ in genotype.edges())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, NODES):
            nodes.append(sum(op(nodes[s]) for (s, d), op in zip(self.links, self.ops) if d == dst))
        return nodes[-1]


class NB201Network(nn.Module):
    """NB201 TinyNetwork: (N, in_channels, H, W) -> logits (N, num_classes).

    Stem Conv3x3(in -> C) + BN; N cells at C; ResNet block (C -> 2C, stride 2); N cells at
    2C; block (2C -> 4C, stride 2); N cells at 4C; BN + ReLU; global pooling; Linear.
    Benchmark setting: C=16, N=5.
    """

    def __init__(self, genotype, C: int = 16, num_classes: int = 10, cells_per_stage: int = 5,
                 in_channels: int = 3):
        super().__init__()
        if getattr(genotype, "space", None) != "nb201":
            raise ValueError(f"NB201Network needs an NB201 genotype, got {type(genotype).__name__}")
        if cells_per_stage < 1:
            raise ValueError(f"cells_per_stage must be >= 1, got {cells_per_stage}")
        self.genotype = genotype
        self.C, self.cells_per_stage, self.num_classes = C, cells_per_stage, num_classes
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(C))
        cells = []
        c_prev = C
        for stage in range(3):
            c = C * 2 ** stage
            if stage:
                cells.append(ResNetBasicBlock(c_prev, c, 2, affine=True))
            cells.extend(NB201InferCell(genotype, c) for _ in range(cells_per_stage))
            c_prev = c
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))
