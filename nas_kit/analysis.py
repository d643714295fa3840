"""Measurements that explain what a search does (used by the chapters).

`alpha_gradients` answers "which operations is the validation loss pushing up right
now?": the gradient of the method's validation objective with respect to α, per op,
averaged over edges and batches. A negative value means a gradient step *raises* that
op's α, i.e. its weight grows.
"""
from __future__ import annotations

import torch

from .search import SearchRun


def alpha_gradients(run: SearchRun, batches: int = 4) -> dict[str, dict[str, float]]:
    """Mean ∂L_val/∂α per op: {cell type: {op name: mean over edges and `batches` batches}}.

    Draws `batches` batches from the run's validation stream (advancing it, as a search
    step would); weights and α are left unchanged.
    """
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    model = run.model
    alpha_of = {t: model.arch[f"alpha_{t}"] for t in model.cell_types}
    sums = {t: torch.zeros(len(model.primitives), device=a.device) for t, a in alpha_of.items()}
    for _ in range(batches):
        x, y = run.val_loader.next()
        loss, _, _ = run.objective(model, x, y, alpha_level=True)
        grads = torch.autograd.grad(loss, list(alpha_of.values()))
        for t, g in zip(alpha_of, grads):
            sums[t] += g.mean(dim=0).detach()
    return {t: {op: float(v) / batches for op, v in zip(model.primitives, s)}
            for t, s in sums.items()}
