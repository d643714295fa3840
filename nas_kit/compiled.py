"""The search objective run by `torch.compile`: fewer, fused kernels per pass.

With fused edges and CUDA graphs a search step is no longer bound by launching kernels
but by running them: thousands of tiny elementwise kernels (ReLU, BatchNorm, the
op-weighted sums, the node additions) between the convolutions, forward and backward.
`torch.compile` (TorchInductor) traces one pass of the objective — the supernet's
forward, the losses, and through AOTAutograd their backward — and generates kernels that
do several such elementwise steps at once; the convolutions stay cuDNN's.

Same algorithm: the compiled pass computes the function the eager objective computes, in
another summation order where kernels are fused. `tests/test_compiled.py` checks on a CPU
that every method's passes are traced whole (no graph break, no recompilation) and that a
compiled search (traced graphs run by the "aot_eager" backend) equals the eager search;
the benchmark (`benchmarks/search_speed.py`, engines `compiled` and `graphs-compiled`)
compares Inductor's generated kernels with the eager step on the device it times. What stays outside the compiled graph:
the random patch masks of α-DARTS (drawn eagerly from the search's generator, in the
eager order, then passed in), the optimiser steps, and everything between steps.

One thing the compiler needs to be told: AOTAutograd differentiates with respect to every
input that requires a gradient, whatever `backward(inputs=...)` later asks for, while
eager autograd only computes what is asked. A first-order α-step needs ∇α only and a
w-step ∇w only, so for first order the parameters of the other level are marked as not
requiring gradients while a pass is traced or run (`only_needed_grads`); second order,
whose finite-difference hypergradient needs both at both levels, keeps all of them.

`Dynamo` compiles a graph per pass kind it meets (α-level and w-level, with or without
gradients, each batch shape): the first steps of a search include compilation (tens of
seconds to minutes), which the benchmark reports separately from the step time.
"""
from __future__ import annotations

import contextlib
import sys
import types
from typing import Iterator, Sequence

import torch
from torch import nn


def compile_supported() -> str | None:
    """None if `torch.compile` can run here, else why not (a sentence naming the fix)."""
    if sys.version_info >= (3, 13) and _torch_version() < (2, 6):
        return (f"torch.compile needs torch >= 2.6 on Python {sys.version_info[0]}."
                f"{sys.version_info[1]} (this is torch {torch.__version__}); set "
                "compile=False or upgrade torch")
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile; set compile=False"
    return None


@contextlib.contextmanager
def gradients_off(params: Sequence[nn.Parameter]) -> Iterator[None]:
    """Mark `params` as not requiring gradients inside the block; restore their flags after."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def link_fused_state(model: nn.Module, x: torch.Tensor) -> None:
    """Run one eager forward of `model.features` on x[:1], in eval mode and without
    gradients, so that the fused cells build their plans and link their BatchNorm buffers
    outside any compiled graph (linking re-points module buffers, which a traced graph
    cannot do). Eval mode: no running statistic or batch counter changes."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            model.features(x[:1])
    finally:
        for m, training in modes.items():
            m.training = training


#: What `torch.compile` compiles with: TorchInductor (generated kernels). The tests trace
#: with "aot_eager" (the same graphs run by PyTorch's own kernels) to stay fast on a CPU.
BACKEND = "inductor"


def _objective_pass(objective, model, x, y, alpha_level: bool, mask):
    return objective(model, x, y, alpha_level=alpha_level, mask=mask)


class CompiledObjective:
    """An `Objective` whose passes run compiled; called like it:
    (model, x (N, C, H, W), y (N,), *, alpha_level, mask=None) -> (loss, logits (N, K), parts).

    weights, alphas: the search's trainable weights and architecture parameters;
    only_needed_grads: first order, where a pass needs the gradient of one level only
    (see the module docstring).
    """

    def __init__(self, objective, model: nn.Module, weights: Sequence[nn.Parameter],
                 alphas: Sequence[nn.Parameter], *, only_needed_grads: bool):
        reason = compile_supported()
        if reason is not None:
            raise ValueError(reason)
        self.objective, self.model = objective, model
        self.weights, self.alphas = list(weights), list(alphas)
        self.only_needed_grads = only_needed_grads
        self.linked = False
        # Dynamo keeps its compiled graphs on the function's code object, at most
        # `cache_size_limit` (8) per code object, and silently runs eagerly beyond. Several
        # searches in one process (a benchmark, a notebook) would share that budget; a copy
        # of the code object per objective gives each its own. dynamic=False: one static
        # graph per batch shape (a search has one or two), not a slower shape-generic one.
        fn = types.FunctionType(_objective_pass.__code__.replace(), _objective_pass.__globals__,
                                "_objective_pass")
        self._pass = torch.compile(fn, dynamic=False, backend=BACKEND)

    @property
    def cfg(self):
        return self.objective.cfg

    def draw_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.objective.draw_mask(x)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, alpha_level: bool,
                 mask: torch.Tensor | None = None):
        if model is not self.model:
            raise ValueError("this compiled objective serves the model it was built with; "
                             "call the plain Objective for another one")
        if mask is None:   # drawn eagerly: the generator's state stays outside the graph
            mask = self.objective.draw_mask(x)
        if not self.linked:
            link_fused_state(model, x)
            self.linked = True
        frozen: Sequence[nn.Parameter] = ()
        if self.only_needed_grads and torch.is_grad_enabled():
            frozen = self.weights if alpha_level else self.alphas
        with gradients_off(frozen), _guard_parameter_flags():
            return self._pass(self.objective, model, x, y, alpha_level, mask)


def _guard_parameter_flags() -> contextlib.AbstractContextManager:
    """Where Dynamo does not by default trace modules' parameters as graph inputs (torch
    < 2.5, `inline_inbuilt_nn_modules` off), it guards a module by identity only, so a
    pass traced with the weights frozen would be replayed for the α-pass with the α frozen
    (a loss without gradient). Inlining makes it guard each parameter's requires_grad."""
    if _torch_version() >= (2, 5):   # on by default there (pytorch#131059), later deprecated
        return contextlib.nullcontext()
    return torch._dynamo.config.patch(inline_inbuilt_nn_modules=True)


def _torch_version() -> tuple[int, int]:
    return tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
