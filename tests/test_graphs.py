"""The CUDA-graph step's logic, checked on a CPU with a stand-in for the CUDA graph calls.

A real graph records kernels at capture and re-runs them at replay, writing into the
tensors made at capture. The stand-in re-runs the captured Python body at each replay and
copies its results into those same tensors, so everything around the graph (static inputs,
gradients re-pointed for the optimisers, meters, step order, α frozen epochs, shape
fall-back) runs exactly as on a GPU. The replay itself is checked on a GPU by
`benchmarks/search_speed.py --engines fused graphs`.
"""
import dataclasses
import importlib

import pytest
import torch

import nas_kit
from nas_kit import graphs

search_module = importlib.import_module("nas_kit.search")  # nas_kit.search is the function

from support import strip_timing, tiny_data


class _FakeGraph:
    body = None
    out = None


def _fake_capture(graph, body, pool):
    graph.body = body
    rng = torch.get_rng_state()   # a real capture records its random draws without making them
    graph.out = body()
    torch.set_rng_state(rng)
    return graph.out


def _fake_replay(graph):
    loss, logits, parts, grads = graph.body()
    old_loss, old_logits, old_parts, old_grads = graph.out
    with torch.no_grad():
        old_loss.copy_(loss)
        old_logits.copy_(logits)
        for k in parts:
            old_parts[k].copy_(parts[k])
        for old, new in zip(old_grads, grads):
            old.copy_(new)


@pytest.fixture
def fake_cuda_graphs(monkeypatch):
    monkeypatch.setattr(graphs, "_new_graph", _FakeGraph)
    monkeypatch.setattr(graphs, "_capture", _fake_capture)
    monkeypatch.setattr(graphs, "_replay", _fake_replay)
    monkeypatch.setattr(graphs, "_pool", lambda graph: None)
    monkeypatch.setattr(graphs, "_on_side_stream", lambda device, fn: fn())
    monkeypatch.setattr(graphs, "check_graphable", lambda cfg, device: None)
    monkeypatch.setattr(search_module, "check_graphable", lambda cfg, device: None)


def _record(method, space, **overrides):
    run = nas_kit.prepare_search(method, space, tiny_data(), profile="smoke", device="cpu",
                                 progress=False, **overrides)
    if run.graphed is not None:  # tiny epochs: warm each pass once so every pass is replayed
        run.graphed.warmup = 1
    for _ in range(run.cfg.epochs):
        run.run_epoch()
    return run


def _without_bn_statistics(state):
    # The stand-in runs a pass twice at capture (a real capture runs nothing), so BN
    # running statistics differ; in training mode they do not enter losses or gradients.
    return {k: v for k, v in state.items()
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


NOISE = {"skip_noise": 1.0, "skip_noise_epochs": 1}   # noise in the first epoch, none in the second


@pytest.mark.parametrize("method,space,overrides", [
    ("darts", "darts", {}),          # α-step first
    ("darts", "nb201", {}),          # w-step first (the benchmark authors' order)
    ("pc-darts", "darts", {}),       # α frozen in the first epoch: the no-grad α pass
    ("fair-darts", "nb201", {}),     # zero-one loss in the α pass
    ("mim-darts", "nb201", {}),      # random patch masks, drawn outside the captured pass
    ("mim-darts", "darts", {}),
    ("darts-2nd", "nb201", {}),      # second order: the whole unrolled α-gradient is one pass
    ("darts-2nd", "darts", {}),
    ("fair-darts", "nb201", {"order": 2}),  # second order with the zero-one loss in the α pass
    ("darts", "darts", NOISE),       # noise drawn inside the passes; off in the second epoch
    ("darts-2nd", "nb201", NOISE),   # ... and in each pass of the unrolled α-gradient
])
def test_graphed_search_equals_eager_search(fake_cuda_graphs, method, space, overrides):
    eager = _record(method, space, **overrides)
    graphed = _record(method, space, cuda_graphs=True, **overrides)
    assert graphed.graphed is not None
    steps = len(graphed.train_loader) * graphed.cfg.epochs
    # Each α pass (frozen, then with a gradient; with noise, then without) is warmed eagerly
    # before its capture; the rest replayed.
    alpha_passes = {k for k in graphed.graphed.passes if not k.startswith("w")}
    assert alpha_passes and {k.removesuffix("+noise") for k in alpha_passes} <= {"alpha", "alpha_eval"}
    if "skip_noise" in overrides:
        assert set(graphed.graphed.passes) == {"w+noise", "alpha+noise", "w", "alpha"}
    assert graphed.graphed.eager_steps == graphed.graphed.warmup * len(alpha_passes) < steps
    assert all(n >= graphed.graphed.warmup for n in graphed.graphed.warm_runs.values())
    assert strip_timing(eager.record["history"]) == strip_timing(graphed.record["history"])
    e, g = (_without_bn_statistics(r.model.state_dict()) for r in (eager, graphed))
    assert e.keys() == g.keys()
    for k in e:
        assert torch.equal(e[k], g[k]), k


def test_no_captured_pass_waits_for_the_host():
    # A CUDA graph cannot capture an op that synchronises with the CPU (.item(), nonzero,
    # boolean masks, ...): list every op of both passes of every graphable method.
    from nas_kit.graphs import check_graphable
    from nas_kit.profiling import CountOps
    host_sync = {"_local_scalar_dense", "item", "nonzero", "masked_select", "unique",
                 "_unique2", "repeat_interleave", "equal", "is_nonzero", "_assert_async"}
    graphable = second_order = 0
    for method in nas_kit.METHODS:
        for space in ("darts", "nb201"):
            run = nas_kit.prepare_search(method, space, tiny_data(), profile="smoke",
                                         device="cpu", progress=False)
            try:
                check_graphable(dataclasses.replace(run.cfg, cuda_graphs=True), torch.device("cuda"))
            except ValueError:
                continue
            graphable += 1
            x, y = run.train_loader.next()
            with CountOps() as ops:
                for alpha_level, params in ((True, run.alphas), (False, run.weights)):
                    loss = run.objective(run.model, x, y, alpha_level=alpha_level)[0]
                    loss.backward(inputs=params)
                if run.cfg.order == 2:   # the whole unrolled α-gradient is one captured pass
                    run.w_opt.step()     # momentum buffers, as after the warm-up steps
                    step = graphs.GraphedStep(run)
                    step._unrolled_fn(*step._unrolled_inputs(x, y, *run.val_loader.next(), 0.025))
                    second_order += 1
            assert ops.total > 100
            assert not host_sync & set(ops.counts), (method, space, host_sync & set(ops.counts))
    assert graphable >= 12 and second_order == 2
    run = nas_kit.prepare_search("darts", "darts", tiny_data(), profile="smoke", device="cpu",
                                 progress=False, skip_noise=1.0)
    search_module.set_skip_noise(run.model, 1.0)
    with CountOps() as ops:
        run.objective(run.model, *run.train_loader.next(), alpha_level=False)[0].backward()
    assert ops.counts["randn"] + ops.counts["randn_like"] > 0   # the noise is drawn
    assert not host_sync & set(ops.counts), host_sync & set(ops.counts)


def test_a_batch_of_another_shape_runs_eagerly(fake_cuda_graphs):
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                 progress=False, cuda_graphs=True)
    batches = (*run.train_loader.next(), *run.val_loader.next())
    for _ in range(run.graphed.warmup + 1):
        run.step(*batches, 0.025, True)
    before = run.graphed.eager_steps
    run.step(*(t[:-1] for t in batches), 0.025, True)
    assert run.graphed.eager_steps == before + 1


@pytest.mark.parametrize("method,space,skip_noise", [
    ("darts", "nb201", 0.0),      # w-step first: the α-gradient depends on the restored momentum
    ("mim-darts", "darts", 0.0),  # the loss depends on the restored mask generator
    ("darts-2nd", "nb201", 0.0),  # the captured unrolled pass reads the reloaded momentum buffers
    ("darts", "darts", 1.0),      # the noise is drawn from the restored generator
])
def test_benchmark_replay_check_restores_the_whole_state(fake_cuda_graphs, method, space, skip_noise):
    # On an H100 this check once reported eager-vs-eager differences of 24 % (α-gradient)
    # for these recipes: it reloaded one saved optimiser state that the first step had
    # updated in place, and never restored the mask generator. Same state, same step.
    from support import load_script
    bench = load_script("search_speed")
    run = nas_kit.prepare_search(method, space, tiny_data(), profile="smoke", device="cpu",
                                 progress=False, cuda_graphs=True, skip_noise=skip_noise)
    search_module.set_skip_noise(run.model, skip_noise)
    run.graphed.warmup = 1
    lr = search_module.cosine_lr(run.cfg, 0)
    batches = (*run.train_loader.next(), *run.val_loader.next())
    for _ in range(3):       # momentum and Adam state are nonzero; every pass is captured
        run.step(*batches, lr, True)
    diffs = bench.check_graph_replay(run, batches, lr)
    assert diffs.pop("replay_state_restored") is True
    assert set(diffs) == {f"{w}_{k}" for w in ("replay", "eager_repeat")
                          for k in ("alpha_grad_rel_diff", "val_loss_rel_diff")}
    assert all(v == 0.0 for v in diffs.values()), diffs


def test_cuda_graphs_default_to_wherever_they_can_run():
    cfg = lambda method, **kw: nas_kit.resolve_config(method, "nb201", "synthetic",  # noqa: E731
                                                      profile="smoke", **kw)
    assert cfg("darts").cuda_graphs is None                  # resolved by the device
    cuda = torch.device("cuda")
    assert graphs.graphs_available(cfg("darts"), cuda)
    assert graphs.graphs_available(cfg("mim-darts"), cuda)
    assert not graphs.graphs_available(cfg("darts-2nd"), cuda)
    assert not graphs.graphs_available(cfg("darts", skip_noise=1.0), cuda)
    assert not graphs.graphs_available(cfg("darts"), torch.device("cpu"))
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                 progress=False)
    assert run.cfg.cuda_graphs is False and run.graphed is None
    assert run.record["config"]["cuda_graphs"] is False     # the record says what ran


def test_the_default_on_cuda_is_the_graphed_step(fake_cuda_graphs, monkeypatch):
    # With a CUDA device, cuda_graphs=None resolves to True (the CPU stand-in plays CUDA).
    monkeypatch.setattr(search_module, "graphs_available", lambda cfg, device: True)
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                 progress=False)
    assert run.cfg.cuda_graphs is True and run.graphed is not None
    off = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                                 progress=False, cuda_graphs=False)
    assert off.graphed is None


def test_a_captured_noisy_pass_reads_each_epochs_noise_scale():
    # A capture, like a trace, freezes Python numbers and keeps tensors: trace the supernet's
    # forward with noise scale 1, decay it to 0.5 and 0, and the traced forward must follow
    # the eager one (same random draws) instead of keeping the scale it was traced with.
    from torch.fx.experimental.proxy_tensor import make_fx
    run = nas_kit.prepare_search("darts", "darts", tiny_data(), profile="smoke", device="cpu",
                                 progress=False, skip_noise=1.0)
    model = run.model.double()   # float64: the comparison is about the scale, not rounding
    x = run.train_loader.next()[0].double()
    search_module.set_skip_noise(model, 1.0)
    traced = make_fx(lambda inp: model(inp))(x)
    for d in (1.0, 0.5, 0.0):
        search_module.set_skip_noise(model, d)
        torch.manual_seed(7)
        replayed = traced(x)
        torch.manual_seed(7)
        eager = model(x)
        assert torch.allclose(replayed, eager, rtol=1e-10, atol=1e-12), d
    noiseless = traced(x)
    assert torch.allclose(noiseless, model(x), rtol=1e-10, atol=1e-12)   # d = 0: no noise left
