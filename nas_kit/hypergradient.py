"""The second-order (unrolled) α-gradient of DARTS.

With one virtual SGD step w' = w − η(μ·buf + ∇w L_train(w, α) + λw) the α-gradient of
L_val(w'(α), α) is

    ∇α L_val(w', α) − η ∇²_{α,w} L_train(w, α) · v,      v = ∇w' L_val(w', α),

and the mixed second derivative times v is taken by central differences,
[∇α L_train(w + R v, α) − ∇α L_train(w − R v, α)] / 2R with R = 0.01 / ‖v‖, exactly as
the DARTS reference code does. The weights are moved in place and restored, so no copy
of the supernet is needed.

Nothing here waits for the host: no `.item()`, no branch on a tensor's value (the reference
code returns early when v = 0; here R is then 0 and the second-order term is masked to 0,
the same result), and the learning rate may be a tensor. So CUDA graphs can capture the
whole unrolled α-gradient as one pass (`nas_kit.graphs`), and the eager step does not stall
the GPU either.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

Loss = Callable[[], torch.Tensor]


def _grads(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, list(params), allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


@torch.no_grad()
def _set(params: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    for p, v in zip(params, values):
        p.copy_(v)


def unrolled_alpha_grads(weights: Sequence[torch.nn.Parameter], alphas: Sequence[torch.nn.Parameter],
                         train_loss: Loss, val_loss: Callable[[], tuple[torch.Tensor, object]], *,
                         lr: float | torch.Tensor, momentum: float, weight_decay: float,
                         momentum_buffers: Sequence[torch.Tensor | None], r: float = 0.01):
    """Second-order α-gradients; returns (grads aligned with `alphas`, val loss at w', aux).

    train_loss(): L_train(w, α) on the fixed training batch, with the current parameters.
    val_loss(): (L_val(w, α) on the fixed validation batch, anything else to hand back).
    lr: the w learning rate, a float or a 0-dim tensor (what a CUDA graph reads each replay).
    momentum_buffers: the w-optimiser's SGD buffers per weight (None where absent).
    The weights are returned to their original values before this function returns.
    """
    weights, alphas = list(weights), list(alphas)
    original = [p.detach().clone() for p in weights]
    g_train = _grads(train_loss(), weights)
    with torch.no_grad():
        unrolled = []
        for p, g, buf in zip(original, g_train, momentum_buffers):
            step = g + weight_decay * p
            if buf is not None:
                step = step + momentum * buf
            unrolled.append(p - lr * step)
    try:
        _set(weights, unrolled)
        loss_val, aux = val_loss()
        grads = _grads(loss_val, alphas + weights)
        d_alpha, v = grads[: len(alphas)], grads[len(alphas):]
        norm = torch.sqrt(sum((vi.double() ** 2).sum() for vi in v))
        # v = 0 (no second-order term): R = 0, both perturbed passes see w, the term is masked
        nonzero = norm > 0
        radius = torch.where(nonzero, r / norm, torch.zeros_like(norm)).to(original[0].dtype)
        _set(weights, [p + radius * vi for p, vi in zip(original, v)])
        g_plus = _grads(train_loss(), alphas)
        _set(weights, [p - radius * vi for p, vi in zip(original, v)])
        g_minus = _grads(train_loss(), alphas)
    finally:
        _set(weights, original)
    hessian_v = [torch.where(nonzero, (gp - gm) / (2 * radius), torch.zeros_like(gp))
                 for gp, gm in zip(g_plus, g_minus)]
    return [da - lr * h for da, h in zip(d_alpha, hessian_v)], loss_val.detach(), aux


def second_order_step_grads(objective, model, weights, alphas, cfg, lr, momentum_buffers,
                            x_t, y_t, x_v, y_v):
    """The search step's second-order α-gradient with `cfg`'s recipe (w momentum, weight
    decay, radius): (grads aligned with `alphas`, val loss at w', (logits, parts)).

    objective(model, x, y, alpha_level=...) -> (loss, logits, parts): the method's objective.
    Shared by the eager step (`nas_kit.search`) and its CUDA-graph capture (`nas_kit.graphs`).
    """
    def train_loss():
        return objective(model, x_t, y_t, alpha_level=False)[0]

    def val_loss():
        loss, logits, parts = objective(model, x_v, y_v, alpha_level=True)
        return loss, (logits.detach(), parts)

    return unrolled_alpha_grads(weights, alphas, train_loss, val_loss, lr=lr,
                                momentum=cfg.w_momentum, weight_decay=cfg.w_weight_decay,
                                momentum_buffers=momentum_buffers, r=cfg.unroll_r)
