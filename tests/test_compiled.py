"""The compiled objective (`torch.compile`) computes the same search as the eager one.

What these tests check is the tracing: that Dynamo captures each pass whole (no graph
break), that AOTAutograd's graphs compute the eager search, and what stays outside the
graph (masks, flags). They compile with the "aot_eager" backend, which runs the traced
graphs with PyTorch's own kernels: TorchInductor's code generation costs minutes per
search on a 2-core CPU. Inductor's kernels are compared with eager on the GPU by the speed
benchmark (`alpha_grad_rel_diff` of the `compiled` engines).
"""
import sys

import pytest
import torch

import nas_kit
from nas_kit import compiled
from nas_kit.compiled import CompiledObjective, compile_supported, gradients_off

from support import strip_timing, tiny_data

pytestmark = pytest.mark.skipif(compile_supported() is not None,
                                reason=str(compile_supported()))


@pytest.fixture(autouse=True)
def aot_eager(monkeypatch):
    monkeypatch.setattr(compiled, "BACKEND", "aot_eager")
    torch._dynamo.utils.counters.clear()


def _run(method, space, **overrides):
    overrides = {"epochs": 1, **overrides}
    run = nas_kit.prepare_search(method, space, tiny_data(), profile="smoke", device="cpu",
                                 progress=False, **overrides)
    for _ in range(run.cfg.epochs):
        run.run_epoch()
    return run


@pytest.mark.parametrize("method,space,overrides", [
    ("darts", "nb201", {}),        # w-step first
    ("darts", "darts", {}),        # α-step first, two input nodes per cell
    ("fair-darts", "nb201", {}),   # zero-one loss in the α pass
    # partial channels; α frozen in the first epoch (a pass without gradients), then updated
    ("pc-darts", "nb201", {"epochs": 2, "alpha_warmup_epochs": 1}),
    ("mim-darts", "nb201", {}),    # random patch masks drawn outside the graph, decoder
    ("rf-darts", "nb201", {}),     # frozen convolutions: their flags must stay off
    ("darts-2nd", "nb201", {}),    # second order: both levels' gradients in every pass
])
def test_compiled_search_equals_eager_search(method, space, overrides):
    eager = _run(method, space, **overrides)
    fast = _run(method, space, compile=True, **overrides)
    assert isinstance(fast.objective, CompiledObjective)
    h_e, h_f = strip_timing(eager.record["history"]), strip_timing(fast.record["history"])
    assert len(h_e) == len(h_f) == eager.cfg.epochs
    for a, b in zip(h_e, h_f):
        assert a["genotype"] == b["genotype"] and a["alpha_updated"] == b["alpha_updated"]
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-4), key
    e, f = eager.model.state_dict(), fast.model.state_dict()
    assert e.keys() == f.keys()
    for k in e:   # BN statistics, counters, weights and α after a whole epoch of steps
        assert torch.allclose(e[k].double(), f[k].double(), rtol=1e-4, atol=1e-5), k
    # each pass compiled whole: no graph break, no silent eager fall-back
    counters = torch._dynamo.utils.counters
    assert not counters["graph_break"], dict(counters["graph_break"])
    # one graph per pass kind (α-level, w-level; a no-gradient α pass while α is frozen),
    # compiled at the first step and never again (a recompile would show up here)
    kinds = 3 if overrides.get("alpha_warmup_epochs") else 2
    assert counters["stats"]["unique_graphs"] == kinds
    # every requires_grad flag as it was (frozen convolutions of rf-darts stay frozen)
    assert all(p.requires_grad for p in fast.weights + fast.alphas)
    assert [p.requires_grad for p in fast.model.parameters()] == \
        [p.requires_grad for p in eager.model.parameters()]


def test_first_order_passes_differentiate_only_their_level():
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                 progress=False, compile=True)
    x, y = run.train_loader.next()
    seen = {}

    def spy(objective, model, x, y, alpha_level, mask):
        seen[alpha_level] = ([p.requires_grad for p in run.weights],
                             [a.requires_grad for a in run.alphas])
        return objective(model, x, y, alpha_level=alpha_level, mask=mask)

    run.objective._pass = spy
    run.objective(run.model, x, y, alpha_level=True)[0].backward(inputs=run.alphas)
    run.objective(run.model, x, y, alpha_level=False)[0].backward(inputs=run.weights)
    assert seen[True] == ([False] * len(run.weights), [True] * len(run.alphas))
    assert seen[False] == ([True] * len(run.weights), [False] * len(run.alphas))
    assert all(a.grad is not None for a in run.alphas)
    assert all(p.requires_grad for p in run.weights + run.alphas)
    # second order needs both levels' gradients in every pass: nothing is switched off
    second = CompiledObjective(run.objective.objective, run.model, run.weights, run.alphas,
                               only_needed_grads=False)
    second._pass = spy
    second(run.model, x, y, alpha_level=True)
    assert seen[True] == ([True] * len(run.weights), [True] * len(run.alphas))


def test_gradients_off_restores_each_flag_even_on_error():
    a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    b.requires_grad_(False)
    with pytest.raises(RuntimeError):
        with gradients_off([a, b]):
            assert not a.requires_grad
            raise RuntimeError
    assert a.requires_grad and not b.requires_grad


def test_compile_refused_where_torch_cannot(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.5.1+cu121")
    monkeypatch.setattr(sys, "version_info", (3, 13, 0))
    reason = compiled.compile_supported()
    assert "torch >= 2.6" in reason and "2.5.1" in reason and "compile=False" in reason
    with pytest.raises(ValueError, match="compile=False"):
        nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                               progress=False, compile=True)


def test_compiled_objective_refuses_another_model():
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                 progress=False, compile=True)
    other = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                   progress=False)
    x, y = run.train_loader.next()
    with pytest.raises(ValueError, match="plain Objective"):
        run.objective(other.model, x, y, alpha_level=False)
