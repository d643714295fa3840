"""CUDA graphs for the search step: capture the forward + backward passes once, replay them.

Even with fused edges a search step launches thousands of small kernels, and on a fast
GPU their launch cost, not their arithmetic, sets the step time. A CUDA graph records
those launches once and replays them with one call. Only the two forward + backward
passes are captured (the α-level objective and its gradient w.r.t. α, the w-level
objective and its gradient w.r.t. the weights); the optimiser steps, gradient clipping and
meters stay ordinary eager code, so the algorithm is literally the eager one:

    replay(α pass) -> Adam step on α -> replay(w pass) -> clip -> SGD step on w

A captured pass reads its batch from static input tensors (each step copies its batch in)
and writes its loss, logits and gradients to static tensors. Learning rates live in the
optimisers, outside the graphs, so the per-epoch cosine schedule needs no re-capture.

Input masking (α-DARTS) is captured too: each step draws its random patch mask eagerly,
from the same generator and in the same order as the eager step, and copies it into the
pass's static mask input. Not captured (refused with a clear error by
`check_graphable`): second order (the unrolled step perturbs the weights between
passes) and the skip-noise ablation (a noise scale that changes per epoch). Steps whose
batch has another shape than the captured one run eagerly.

Status: the GPU benchmark (`benchmarks/search_speed.py --engines fused graphs`) checks a
replayed step against an eager one on the same state; see the book's speed appendix for
what has been measured.
"""
from __future__ import annotations

from typing import Any, Callable

import torch


def graphs_available(cfg, device: torch.device) -> bool:
    """Whether CUDA graphs can run `cfg` on `device`: what ``cuda_graphs=None`` (the default)
    resolves to. The replayed step is the eager step (see the module docstring)."""
    return torch.device(device).type == "cuda" and cfg.order == 1 and cfg.skip_noise == 0


def check_graphable(cfg, device: torch.device) -> None:
    """Raise ValueError when `cfg` asks for CUDA graphs that cannot be used."""
    if not getattr(cfg, "cuda_graphs", False):
        return
    if device.type != "cuda":
        raise ValueError(f"cuda_graphs=True needs a CUDA device, got {device.type!r}; "
                         "set cuda_graphs=False on this machine")
    reasons = []
    if cfg.order != 1:
        reasons.append("second order (order=2)")
    if cfg.skip_noise > 0:
        reasons.append(f"the skip-noise ablation (skip_noise={cfg.skip_noise})")
    if reasons:
        raise ValueError("cuda_graphs=True is not available with " + ", ".join(reasons)
                         + "; set cuda_graphs=False for this search")


# The CUDA calls, kept in one place (tests replace them to check the logic on a CPU).
def _new_graph():
    return torch.cuda.CUDAGraph()


def _capture(graph, body: Callable, pool):
    with torch.cuda.graph(graph, pool=pool):
        return body()


def _replay(graph) -> None:
    graph.replay()


def _pool(graph):
    return graph.pool()


def _on_side_stream(device: torch.device, fn: Callable) -> None:
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream(device).wait_stream(side)
    torch.cuda.synchronize(device)


class _Pass:
    """One captured forward + backward: static inputs in, static loss/logits/parts/grads out."""

    def __init__(self, fn: Callable, inputs: list[torch.Tensor], params: list[torch.Tensor],
                 pool: Any | None, with_grad: bool):
        self.inputs = [t.clone() for t in inputs]
        self.params = params
        self.graph = _new_graph()

        def body():
            for p in params:  # None, so the captured backward assigns (not accumulates)
                p.grad = None
            if with_grad:
                loss, logits, parts = fn(*self.inputs)
                loss.backward(inputs=params)
            else:
                with torch.no_grad():
                    loss, logits, parts = fn(*self.inputs)
            return loss.detach(), logits.detach(), parts, [p.grad for p in params]

        self.loss, self.logits, self.parts, self.grads = _capture(self.graph, body, pool)

    def matches(self, inputs) -> bool:
        return all(a.shape == b.shape and a.dtype == b.dtype for a, b in zip(self.inputs, inputs))

    def replay(self, inputs):
        for static, new in zip(self.inputs, inputs):
            static.copy_(new)
        # Something else (an eager step, zero_grad) may have re-pointed .grad: point the
        # parameters back at the tensors the graph writes.
        for p, g in zip(self.params, self.grads):
            p.grad = g
        _replay(self.graph)
        return self.loss, self.logits, self.parts


class GraphedStep:
    """`SearchRun.step` with both passes replayed from CUDA graphs.

    Before a pass is captured it runs eagerly `warmup` times, inside whole eager steps on a
    side stream, as CUDA graph capture requires (lazy initialisation, cuDNN autotuning of
    exactly that pass's kernels). So the first `warmup` calls are eager, and so are the
    first `warmup` calls after α unfreezes when a method starts with α frozen (the α pass
    with a gradient has not run before then); every other call replays.
    """

    def __init__(self, run, warmup: int = 3):
        # `SearchRun` has already refused configs and devices graphs cannot serve.
        self.run, self.warmup = run, warmup
        self.passes: dict[str, _Pass] = {}
        self.pool = None
        self.eager_steps = 0
        self.warm_runs: dict[str, int] = {}   # pass key -> eager side-stream runs so far

    def _capture(self, key: str, batch, params, with_grad: bool, alpha_level: bool) -> _Pass:
        run = self.run

        def fn(x, y, *mask):
            return run.objective(run.model, x, y, alpha_level=alpha_level,
                                 mask=mask[0] if mask else None)

        p = _Pass(fn, list(batch), params, self.pool, with_grad)
        if self.pool is None:
            self.pool = _pool(p.graph)  # the passes run one after another: share memory
        self.passes[key] = p
        return p

    def _pass(self, key, batch, params, with_grad, alpha_level):
        """Replay pass `key` on `batch` (captured on first use; shapes checked by the caller)."""
        p = self.passes.get(key)
        if p is None:
            p = self._capture(key, batch, params, with_grad, alpha_level)
        return p.replay(batch)

    def __call__(self, x_t, y_t, x_v, y_v, lr: float, update_alpha: bool, train_meter,
                 val_meter) -> None:
        run, cfg = self.run, self.run.cfg
        keys = ("w", "alpha" if update_alpha else "alpha_eval")
        if any(self.warm_runs.get(k, 0) < self.warmup for k in keys):
            _on_side_stream(run.device, lambda: run.eager_step(
                x_t, y_t, x_v, y_v, lr, update_alpha, train_meter, val_meter))
            self.eager_steps += 1
            for k in keys:
                self.warm_runs[k] = self.warm_runs.get(k, 0) + 1
            return

        def with_mask(x, y):   # drawn here, in the eager step's order, outside the graph
            mask = run.objective.draw_mask(x)
            return (x, y) if mask is None else (x, y, mask)

        def alpha_part():
            key = "alpha" if update_alpha else "alpha_eval"
            out = self._pass(key, with_mask(x_v, y_v), run.alphas if update_alpha else [],
                             update_alpha, True)
            if update_alpha:
                run.alpha_opt.step()
            val_meter.add(out[0], out[1], y_v, out[2])

        def w_part():
            out = self._pass("w", with_mask(x_t, y_t), run.weights, True, False)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(run.weights, cfg.grad_clip)
            run.w_opt.step()
            train_meter.add(out[0], out[1], y_t, out[2])

        shapes_ok = all(p.matches(b) for p, b in (
            (self.passes.get("w"), (x_t, y_t)),
            (self.passes.get("alpha" if update_alpha else "alpha_eval"), (x_v, y_v)))
            if p is not None)
        if not shapes_ok:  # e.g. a last, smaller batch: not worth another capture
            run.eager_step(x_t, y_t, x_v, y_v, lr, update_alpha, train_meter, val_meter)
            self.eager_steps += 1
            return
        for part in ((w_part, alpha_part) if cfg.step_order == "w_first" else (alpha_part, w_part)):
            part()
