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
pass's static mask input.

Second order (DARTS' unrolled α-gradient, `nas_kit.hypergradient`) is one captured pass:
the virtual w step, the validation pass at w', the two perturbed training passes and the
weights' restoration all run inside the graph, reading the training and validation
batches, the w learning rate (a static 0-dim tensor, as the schedule changes per epoch)
and the w optimiser's momentum buffers (copied into static tensors at each replay, so an
optimiser state loaded from a checkpoint is read too). The unrolled computation never
waits for the host, so it captures as it is. It is not a default yet: until a GPU
benchmark has compared its replay with the eager step, ``cuda_graphs=True`` asks for it.

The skip-noise ablation (Fair DARTS' noise on the skip path) is captured too: the noise is
drawn inside the pass from the device's default generator, which a replay advances as an
eager step would, and multiplied by the noise scale read from a tensor (`NoisyIdentity`),
so the per-epoch decay needs no re-capture. Once the decay reaches 0 the pass without noise
is captured separately (a pass is keyed by whether noise is on). Like second order it is
not a default yet: ``cuda_graphs=True`` asks for it until a GPU benchmark
(``search_speed.py --skip-noise``) has compared its replay with the eager step. Steps whose
batch has another shape than the captured one run eagerly.

Status: the GPU benchmark (`benchmarks/search_speed.py --engines fused graphs`) checks a
replayed step against an eager one on the same state; see the book's speed appendix for
what has been measured.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from .hypergradient import second_order_step_grads


def graphs_available(cfg, device: torch.device) -> bool:
    """Whether CUDA graphs serve `cfg` on `device` by default: what ``cuda_graphs=None``
    resolves to. The replayed step is the eager step (see the module docstring). Second order
    and the skip-noise ablation can be captured (`check_graphable` allows them) but are
    opt-in until a GPU benchmark has checked them."""
    return torch.device(device).type == "cuda" and cfg.order == 1 and cfg.skip_noise == 0


def check_graphable(cfg, device: torch.device) -> None:
    """Raise ValueError when `cfg` asks for CUDA graphs that cannot be used."""
    if not getattr(cfg, "cuda_graphs", False):
        return
    if device.type != "cuda":
        raise ValueError(f"cuda_graphs=True needs a CUDA device, got {device.type!r}; "
                         "set cuda_graphs=False on this machine")


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


def _copy_all(static: list[torch.Tensor], new: list[torch.Tensor]) -> None:
    """static[i].copy_(new[i]) for all i, in a few launches where torch has `_foreach_copy_`
    (second order copies one momentum buffer per weight tensor at each replay)."""
    foreach = getattr(torch, "_foreach_copy_", None)
    if foreach is not None and len(static) > 8:
        foreach(static, new)
        return
    for s, n in zip(static, new):
        s.copy_(n)


class _Pass:
    """One captured pass: static inputs in, static loss/logits/parts/grads out.

    grads: "backward" (fn returns (loss, logits, parts); the pass runs loss.backward into
    `params`), "none" (the same under no_grad), or "returned" (fn returns (loss, logits,
    parts, grads aligned with `params`): the second-order α-gradient).
    """

    def __init__(self, fn: Callable, inputs: list[torch.Tensor], params: list[torch.Tensor],
                 pool: Any | None, grads: str):
        if grads not in ("backward", "none", "returned"):
            raise ValueError(f"grads={grads!r}; valid: 'backward', 'none', 'returned'")
        self.inputs = [t.clone() for t in inputs]
        self.params = params
        self.graph = _new_graph()

        def body():
            for p in params:  # None, so the captured backward assigns (not accumulates)
                p.grad = None
            if grads == "backward":
                loss, logits, parts = fn(*self.inputs)
                loss.backward(inputs=params)
            elif grads == "none":
                with torch.no_grad():
                    loss, logits, parts = fn(*self.inputs)
            else:
                loss, logits, parts, returned = fn(*self.inputs)
                for p, g in zip(params, returned):
                    p.grad = g
            return loss.detach(), logits.detach(), parts, [p.grad for p in params]

        self.loss, self.logits, self.parts, self.grads = _capture(self.graph, body, pool)

    def matches(self, inputs) -> bool:
        return all(a.shape == b.shape and a.dtype == b.dtype for a, b in zip(self.inputs, inputs))

    def replay(self, inputs):
        _copy_all(self.inputs, list(inputs))
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
        from .spaces.ops import NoisyIdentity
        self.run, self.warmup = run, warmup
        self.noisy = [m for m in run.model.modules() if isinstance(m, NoisyIdentity)]
        self.passes: dict[str, _Pass] = {}
        self.pool = None
        self.eager_steps = 0
        self.warm_runs: dict[str, int] = {}   # pass key -> eager side-stream runs so far

    def _capture(self, key: str, batch, params, with_grad: bool, alpha_level: bool) -> _Pass:
        run = self.run

        def fn(x, y, *mask):
            return run.objective(run.model, x, y, alpha_level=alpha_level,
                                 mask=mask[0] if mask else None)

        return self._keep(key, _Pass(fn, list(batch), params, self.pool,
                                     "backward" if with_grad else "none"))

    def _keep(self, key: str, p: _Pass) -> _Pass:
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

    def _unrolled_inputs(self, x_t, y_t, x_v, y_v, lr: float) -> list[torch.Tensor]:
        """The second-order pass's inputs: both batches, the w learning rate and the w
        optimiser's momentum buffers (zeros where SGD has none yet, which adds the same
        nothing). No patch masks: methods refuse second order with masking
        (`nas_kit.methods`), so the objective draws none inside the pass."""
        run = self.run
        lr_t = torch.full((), lr, dtype=run.weights[0].dtype, device=run.device)
        buffers = []
        if run.cfg.w_momentum:
            state = run.w_opt.state
            found = [state.get(p, {}).get("momentum_buffer") for p in run.weights]
            buffers = [torch.zeros_like(p) if b is None else b for p, b in zip(run.weights, found)]
        return [x_t, y_t, x_v, y_v, lr_t, *buffers]

    def _unrolled_pass(self, key: str, inputs: list[torch.Tensor]):
        """Replay the second-order α pass `key` (captured on first use): (loss, logits, parts);
        the α-gradient lands in the α parameters' .grad."""
        p = self.passes.get(key)
        if p is None:
            p = self._keep(key, _Pass(self._unrolled_fn, inputs, self.run.alphas,
                                      self.pool, "returned"))
        return p.replay(inputs)

    def _unrolled_fn(self, x_t, y_t, x_v, y_v, lr, *buffers):
        """(loss, logits, parts, α-gradients) of the eager step's second-order branch."""
        run = self.run
        grads, loss, (logits, parts) = second_order_step_grads(
            run.objective, run.model, run.weights, run.alphas, run.cfg, lr,
            list(buffers) if buffers else [None] * len(run.weights), x_t, y_t, x_v, y_v)
        return loss, logits, parts, grads

    def __call__(self, x_t, y_t, x_v, y_v, lr: float, update_alpha: bool, train_meter,
                 val_meter) -> None:
        run, cfg = self.run, self.run.cfg
        # a pass captured with skip noise on draws noise; once the scale has decayed to 0 the
        # pass without it is captured anew (the eager step draws none then either)
        noise = "+noise" if any(m.scale > 0 for m in self.noisy) else ""
        keys = ("w" + noise, ("alpha" if update_alpha else "alpha_eval") + noise)
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
            if update_alpha and cfg.order == 2:
                out = self._unrolled_pass(keys[1], self._unrolled_inputs(x_t, y_t, x_v, y_v, lr))
            else:
                out = self._pass(keys[1], with_mask(x_v, y_v), run.alphas if update_alpha else [],
                                 update_alpha, True)
            if update_alpha:
                run.alpha_opt.step()
            val_meter.add(out[0], out[1], y_v, out[2])

        def w_part():
            out = self._pass(keys[0], with_mask(x_t, y_t), run.weights, True, False)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(run.weights, cfg.grad_clip)
            run.w_opt.step()
            train_meter.add(out[0], out[1], y_t, out[2])

        second_order = update_alpha and cfg.order == 2
        shapes_ok = all(p.matches(b) for p, b in (
            (self.passes.get(keys[0]), (x_t, y_t)),
            (self.passes.get(keys[1]), (x_t, y_t, x_v, y_v) if second_order else (x_v, y_v)))
            if p is not None)
        if not shapes_ok:  # e.g. a last, smaller batch: not worth another capture
            run.eager_step(x_t, y_t, x_v, y_v, lr, update_alpha, train_meter, val_meter)
            self.eager_steps += 1
            return
        for part in ((w_part, alpha_part) if cfg.step_order == "w_first" else (alpha_part, w_part)):
            part()
