"""What every supernet shares: architecture parameters kept apart from the weights.

The architecture parameters live in ``self.arch`` (an ``nn.ParameterDict``) so that they
are saved in ``state_dict`` with the weights, but ``weight_parameters()`` never returns
them: the w-optimiser, gradient clipping and weight counts see only the network weights.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch import nn

from .fused import ENGINES
from .mixed import relax


class Supernet(nn.Module):
    """Base class: subclasses build cells and set ``cell_types``, ``edges`` and ``primitives``.

    Architecture parameters, per cell type ``t``:
      ``alpha_t`` (E, n_ops)  op logits of each edge;
      ``beta_t``  (E,)        edge logits (PC-DARTS edge normalisation), only if ``edge_norm``.
    """

    space: str = ""
    cell_types: tuple[str, ...] = ()

    def __init__(self, primitives: Sequence[str], edges: Sequence[tuple[int, int]], *,
                 relaxation: str = "softmax", edge_norm: bool = False,
                 alpha_init_std: float = 1e-3):
        super().__init__()
        self.primitives = tuple(primitives)
        self.edges = tuple(edges)
        self.relaxation = relaxation
        self.edge_norm = edge_norm
        relax(torch.zeros(1, 1), relaxation)  # validates the name early
        self.arch = nn.ParameterDict()
        for t in self.cell_types:
            self.arch[f"alpha_{t}"] = nn.Parameter(
                alpha_init_std * torch.randn(len(self.edges), len(self.primitives)))
            if edge_norm:
                self.arch[f"beta_{t}"] = nn.Parameter(alpha_init_std * torch.randn(len(self.edges)))

    # --- parameter groups -------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.arch.values())

    def named_weight_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        for name, p in self.named_parameters():
            if not name.startswith("arch."):
                yield name, p

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for _, p in self.named_weight_parameters()]

    def num_weights(self) -> int:
        """Number of network weights, excluding architecture parameters."""
        return sum(p.numel() for p in self.weight_parameters())

    # --- the relaxation -----------------------------------------------------------------
    def op_weights(self) -> dict[str, torch.Tensor]:
        """Op weights as the method sees them: {cell type: (E, n_ops)} softmax or sigmoid of α."""
        return {t: relax(self.arch[f"alpha_{t}"], self.relaxation) for t in self.cell_types}

    def edge_weights(self) -> dict[str, torch.Tensor] | None:
        """PC-DARTS edge weights {cell type: (E,)}: softmax of β over each node's incoming edges."""
        if not self.edge_norm:
            return None
        # Edges are listed node by node, so each node's inputs are one slice of β: slicing,
        # unlike indexing with a list, copies nothing from the host (and can be graph-captured).
        return {t: torch.cat([torch.softmax(self.arch[f"beta_{t}"][a:b], dim=0)
                              for a, b in self.incoming_slices()]) for t in self.cell_types}

    def incoming_slices(self) -> list[tuple[int, int]]:
        """[(start, stop)] of the edges into each node, in edge order (edges grouped by node)."""
        slices, start = [], 0
        for e in range(1, len(self.edges) + 1):
            if e == len(self.edges) or self.edges[e][1] != self.edges[start][1]:
                slices.append((start, e))
                start = e
        if len({self.edges[a][1] for a, _ in slices}) != len(slices):
            raise ValueError(f"edges must be grouped by destination node, got {self.edges}")
        return slices

    def selection_weights(self) -> dict[str, torch.Tensor]:
        """Weights the derivation rule ranks: op weights, times edge weights under edge norm."""
        ops = self.op_weights()
        edges = self.edge_weights()
        if edges is None:
            return ops
        return {t: ops[t] * edges[t].unsqueeze(-1) for t in ops}

    # --- engine ---------------------------------------------------------------------------
    def set_engine(self, engine: str) -> "Supernet":
        """'eager': the readable edge-by-edge reference; 'fused': the edges leaving a node run
        as one batch (same parameters, same numbers up to float rounding; see fused.py)."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
        self.engine = engine
        for m in self.modules():
            if hasattr(m, "fused"):
                m.fused = engine == "fused"
        return self

    # --- forward --------------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """(N, C_last, h, w) -> logits (N, num_classes)."""
        return self.classifier(self.global_pooling(features).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C_in, H, W), normalised -> logits (N, num_classes)."""
        return self.classify(self.features(x))

    def genotype(self, rule: str = "top2", threshold: float | None = None):
        raise NotImplementedError
