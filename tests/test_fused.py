"""The fused-edge engine computes the same function as the eager reference, with fewer ops."""
import copy

import pytest
import torch
import torch.nn.functional as F

import nas_kit
from nas_kit.profiling import CountOps
from nas_kit.spaces import DartsSupernet, NB201Supernet
from nas_kit.spaces.fused import batched_batch_norm
from nas_kit.search import add_skip_noise, cosine_lr

from support import tiny_data

NO_NONE = {
    "darts": ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
              "dil_conv_3x3", "dil_conv_5x5"),
    "nb201": ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"),
}
VARIANTS = {
    "plain": {},
    "partial-channels": dict(partial_channels=4, edge_norm=True),
    "affine-bn": dict(affine=True),
    "sigmoid": dict(relaxation="sigmoid"),
}


def _make(space, **kw):
    if space == "darts":
        return DartsSupernet(8, 10, 5, **kw)
    return NB201Supernet(8, 10, 2, **kw)


def _pair(space, **kw):
    torch.manual_seed(0)
    eager = _make(space, **kw).double()
    with torch.no_grad():  # α away from uniform, so that op weights differ per edge
        for a in eager.arch_parameters():
            a.normal_(0, 1)
    return eager, copy.deepcopy(eager).set_engine("fused")


def _loss_and_grads(model, x, y):
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss.item(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def _inputs(n=4, size=16):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(n, 3, size, size, generator=g, dtype=torch.float64),
            torch.randint(0, 10, (n,), generator=g))


@pytest.mark.parametrize("space", ["darts", "nb201"])
@pytest.mark.parametrize("variant", sorted(VARIANTS) + ["no-none"])
def test_fused_loss_gradients_and_bn_statistics_equal_eager(space, variant):
    kw = dict(primitives=NO_NONE[space]) if variant == "no-none" else VARIANTS[variant]
    eager, fused = _pair(space, **kw)
    x, y = _inputs()
    for _ in range(2):  # the second step also checks the running statistics written back
        loss_e, grads_e = _loss_and_grads(eager, x, y)
        loss_f, grads_f = _loss_and_grads(fused, x, y)
        assert loss_f == pytest.approx(loss_e, rel=1e-12, abs=1e-12)
        assert grads_e.keys() == grads_f.keys()
        scale = max(g.abs().max().item() for g in grads_e.values())
        for name, g in grads_e.items():
            # Biases in front of a non-affine BN get exactly zero gradient in exact
            # arithmetic: compare to the largest gradient, not to their own ~1e-17.
            assert (g - grads_f[name]).abs().max().item() <= 1e-10 * scale, name
        for a in eager.arch_parameters():
            assert a.grad.abs().sum() > 0  # α really gets a gradient
    for (name, b_e), (_, b_f) in zip(eager.named_buffers(), fused.named_buffers()):
        assert torch.allclose(b_e.double(), b_f.double(), rtol=0, atol=1e-12), name
    eager.eval()
    fused.eval()
    with torch.no_grad():
        assert torch.allclose(eager(x), fused(x), rtol=0, atol=1e-10)


def test_reduction_edges_with_odd_feature_maps_match():
    """7x7 maps (Fashion-MNIST after the first reduction): padded factorized reduce."""
    eager, fused = _pair("darts", partial_channels=2, edge_norm=True)
    x, y = _inputs(n=3, size=14)
    assert _loss_and_grads(eager, x, y)[0] == pytest.approx(_loss_and_grads(fused, x, y)[0],
                                                            rel=1e-12)


def test_batched_bn_equals_separate_bns_and_updates_each():
    torch.manual_seed(0)
    bns = [torch.nn.BatchNorm2d(3) for _ in range(4)]
    ref = copy.deepcopy(bns)
    x = torch.randn(5, 12, 6, 6)
    out = batched_batch_norm(x, bns)
    expected = torch.cat([bn(part) for bn, part in zip(ref, x.chunk(4, dim=1))], dim=1)
    assert torch.allclose(out, expected, atol=1e-6)
    for bn, r in zip(bns, ref):
        assert torch.allclose(bn.running_mean, r.running_mean)
        assert torch.allclose(bn.running_var, r.running_var)
        assert bn.num_batches_tracked.item() == r.num_batches_tracked.item() == 1
    # `.to()` replaces the buffers (no longer views of one tensor): still updated correctly.
    for bn in bns:
        bn.to(torch.float64)
    for bn in ref:
        bn.to(torch.float64)
    x = x.double()
    batched_batch_norm(x, bns)
    for bn, part in zip(ref, x.chunk(4, dim=1)):
        bn(part)
    for bn, r in zip(bns, ref):
        assert torch.allclose(bn.running_mean, r.running_mean)
        assert bn.num_batches_tracked.item() == 2


def test_batched_bn_relinks_buffers_shared_in_another_order():
    """BNs whose buffers are views of one tensor in another order (or another grouping)
    must not be normalised with each other's statistics."""
    torch.manual_seed(0)
    bns = [torch.nn.BatchNorm2d(3) for _ in range(3)]
    ref = copy.deepcopy(bns)
    x = torch.randn(5, 9, 4, 4)
    batched_batch_norm(x, bns)                 # links the buffers in this order
    for bn, part in zip(ref, x.chunk(3, dim=1)):
        bn(part)
    x2 = torch.randn(5, 9, 4, 4) + 3
    batched_batch_norm(x2, bns[::-1])          # the same BNs, reversed: channel blocks swap
    for bn, part in zip(ref[::-1], x2.chunk(3, dim=1)):
        bn(part)
    for bn, r in zip(bns, ref):
        assert torch.allclose(bn.running_mean, r.running_mean, atol=1e-6)
        assert torch.allclose(bn.running_var, r.running_var, atol=1e-6)
        assert bn.num_batches_tracked.item() == 2


def test_state_dict_moves_between_engines():
    eager, fused = _pair("darts")
    x, y = _inputs()
    _loss_and_grads(fused, x, y)  # the fused BN buffers are now views of shared tensors
    other = _make("darts").double()
    other.load_state_dict(fused.state_dict())
    fused.eval()
    other.eval()
    with torch.no_grad():
        assert torch.allclose(other(x), fused(x), atol=1e-12)


def test_skip_noise_is_applied_per_edge_and_off_when_scale_is_zero():
    eager, fused = _pair("darts")
    for m in (eager, fused):
        add_skip_noise(m)
    x, y = _inputs()
    assert _loss_and_grads(eager, x, y)[0] == pytest.approx(_loss_and_grads(fused, x, y)[0],
                                                            rel=1e-12)
    for m in fused.modules():
        if hasattr(m, "scale"):
            m.scale = 1.0
    torch.manual_seed(3)
    noisy_a = _loss_and_grads(fused, x, y)[0]
    torch.manual_seed(4)
    noisy_b = _loss_and_grads(fused, x, y)[0]
    assert noisy_a != noisy_b  # the noise is really drawn


def test_an_op_replaced_after_a_forward_is_used_by_the_next_one():
    """The fused cell keeps a plan of its modules; replacing an op (here: skip noise added
    after the first forward) must rebuild it, not run the old op."""
    _, fused = _pair("darts")
    x, y = _inputs()
    fused.train()
    first = fused(x)
    noisy = add_skip_noise(fused)
    for op in noisy:
        op.scale = 1.0
    torch.manual_seed(0)
    with_noise = fused(x)
    assert not torch.allclose(first, with_noise)
    for op in noisy:
        op.scale = 0.0
    assert torch.allclose(fused(x), first, rtol=0, atol=1e-12)


def test_bad_engine_name_is_refused():
    with pytest.raises(ValueError, match="engine 'fast'; valid: eager, fused"):
        nas_kit.resolve_config("darts", "darts", "synthetic", engine="fast")
    with pytest.raises(ValueError, match="unknown engine 'fast'; valid: eager, fused"):
        DartsSupernet(8, 10, 5).set_engine("fast")


@pytest.mark.parametrize("space,most", [("darts", 0.25), ("nb201", 0.40)])
def test_fused_step_runs_a_fraction_of_the_ops(space, most):
    """Forward + backward ATen ops (a proxy for kernel launches), fused vs eager. Measured
    at these shapes: 0.339 (DARTS) and 0.465 (NB201) with one group per source node; 0.211
    and 0.321 once the input nodes run as one group, both pools share one BN, each cell
    counts its BN batches at once and gathers its op weights once, and backward no longer
    copies the ops' gradients."""
    eager, fused = _pair(space)
    x, y = _inputs(n=2)
    totals = []
    for m in (eager, fused):
        _loss_and_grads(m, x, y)  # first call links the shared BN buffers
        with CountOps() as c:
            _loss_and_grads(m, x, y)
        totals.append(c.total)
    assert totals[1] < most * totals[0], totals


@pytest.mark.parametrize("space,most", [("darts", 8), ("nb201", 0)])
def test_backward_copies_no_op_gradients(space, most):
    """The weighted sum stacks the ops op-major, so each op's gradient is a contiguous block
    handed back as a view. With the op axis inside (and the weights edge-major) backward
    copied every op's gradient: 96 (DARTS) and 24 (NB201) clones at these shapes."""
    _, fused = _pair(space)
    x, y = _inputs(n=2)
    _loss_and_grads(fused, x, y)
    fused.zero_grad(set_to_none=True)
    loss = F.cross_entropy(fused(x), y)
    with CountOps() as c:
        loss.backward()
    assert c.counts["clone"] <= most, c.counts["clone"]


def test_source_groups_run_the_input_nodes_together():
    from nas_kit.genotypes import DARTS_EDGES, NB201_EDGES
    from nas_kit.spaces.fused import source_groups
    darts = source_groups(tuple(DARTS_EDGES), 2)
    assert darts[0] == ((0, 1), (0, 2, 5, 9, 1, 3, 6, 10))   # s0's 4 edges, then s1's
    assert [g[0] for g in darts] == [(0, 1), (2,), (3,), (4,)]
    assert sorted(e for _, idx in darts for e in idx) == list(range(14))
    nb201 = source_groups(tuple(NB201_EDGES), 1)
    assert [g[0] for g in nb201] == [(0,), (1,), (2,)]
    # Input nodes with different edge counts cannot share a group.
    assert [g[0] for g in source_groups(((0, 2), (1, 2), (0, 3)), 2)] == [(0,), (1,)]


@pytest.mark.parametrize("space", ["darts", "nb201"])
@pytest.mark.parametrize("method", sorted(nas_kit.METHODS))
def test_search_step_gives_the_same_alpha_gradient_in_both_engines(method, space):
    """A whole bilevel step of every registered method (the loop's own code): the α-gradient
    it applied agrees between engines to float rounding. Float32, except second order: its
    finite-difference Hessian-vector product turns float32 rounding into α-gradient changes
    of ~10 % (the eager step's own change under a 1e-7 weight perturbation), so there the
    engines are compared in float64."""
    ds = tiny_data()
    grads = []
    for engine in ("eager", "fused"):
        if method == "darts-2nd":
            grads.append(_first_step_alpha_grad(method, space, double=True, engine=engine)[1])
            continue
        torch.manual_seed(0)
        run = nas_kit.prepare_search(method, space, ds, profile="smoke", device="cpu",
                                     progress=False, engine=engine)
        run.step(*run.train_loader.next(), *run.val_loader.next(), cosine_lr(run.cfg, 0), True)
        grads.append(torch.cat([a.grad.flatten() for a in run.model.arch_parameters()]))
    eager, fused = grads
    assert eager.norm() > 0
    rel = ((eager - fused).norm() / eager.norm()).item()
    print(f"{method} {space}: relative α-gradient difference {rel:.2e}")
    assert rel <= 1e-5


def test_a_search_resumes_under_the_other_engine(tmp_path):
    ds = tiny_data()
    first = nas_kit.prepare_search("darts", "nb201", ds, profile="smoke", device="cpu",
                                   progress=False, out=tmp_path, engine="eager", epochs=2)
    first.run_epoch()  # writes out/checkpoint.pt
    resumed = nas_kit.prepare_search("darts", "nb201", ds, profile="smoke", device="cpu",
                                     progress=False, out=tmp_path, engine="fused", epochs=2)
    assert resumed.resume()
    assert resumed.epoch == 1


def test_fused_keeps_no_more_activations_than_eager():
    from nas_kit.profiling import SavedTensorBytes
    eager, fused = _pair("darts")
    x, y = _inputs(n=2)
    _loss_and_grads(fused, x, y)
    sizes = []
    for m in (eager, fused):
        with SavedTensorBytes() as s:
            loss = F.cross_entropy(m(x), y)
        loss.backward()
        sizes.append(s.mib)
    assert 0 < sizes[1] <= sizes[0], sizes


def test_cuda_graphs_are_refused_where_they_cannot_run():
    from nas_kit.graphs import check_graphable
    with pytest.raises(ValueError, match="cuda_graphs=True needs a CUDA device, got 'cpu'"):
        nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                               progress=False, cuda_graphs=True)
    # skip noise: drawn inside the captured pass, its scale read from a tensor (test_graphs.py)
    check_graphable(nas_kit.resolve_config("darts", "darts", "synthetic", cuda_graphs=True,
                                           skip_noise=1.0), torch.device("cuda"))
    # second order: the whole unrolled α-gradient is one captured pass (tests/test_graphs.py)
    check_graphable(nas_kit.resolve_config("darts-2nd", "darts", "synthetic", cuda_graphs=True),
                    torch.device("cuda"))
    for method in ("pc-darts", "mim-darts"):   # first order; masks are drawn outside the graph
        check_graphable(nas_kit.resolve_config(method, "darts", "synthetic", cuda_graphs=True),
                        torch.device("cuda"))


@pytest.mark.parametrize("space", ["darts", "nb201"])
def test_edge_weights_are_a_softmax_over_each_nodes_incoming_edges(space):
    model = _make(space, partial_channels=2, edge_norm=True)
    with torch.no_grad():
        for a in model.arch_parameters():
            a.normal_(0, 1)
    for t, w in model.edge_weights().items():
        beta = model.arch[f"beta_{t}"]
        for dst in sorted({d for _, d in model.edges}):
            idx = [i for i, (_, d) in enumerate(model.edges) if d == dst]
            assert torch.allclose(w[idx], torch.softmax(beta[idx], dim=0))


def _first_step_alpha_grad(method, space, double=False, **how):
    torch.manual_seed(0)
    # No augmentation: a random crop's zero padding makes flat regions whose tied maxima
    # (max-pooling) get the gradient in a kernel-dependent order, which is no rounding.
    run = nas_kit.prepare_search(method, space, tiny_data(), profile="smoke", device="cpu",
                                 progress=False, augment=False, **how)
    batch = [*run.train_loader.next(), *run.val_loader.next()]
    if double:   # the reference: the same step in float64
        run.model.double()
        batch[0], batch[2] = batch[0].double(), batch[2].double()
    run.step(*batch, cosine_lr(run.cfg, 0), True)
    return run, torch.cat([a.grad.flatten() for a in run.model.arch_parameters()]).double()


# Not compared here: second order (its finite-difference Hessian-vector product is unstable
# at float32, see the speed appendix) and α-DARTS, whose gradient jumps where rounding moves
# a value across a tie (max-pooling over a masked, constant patch) or the edge of the
# decoder's clamp; its losses are compared below.
_LAYOUT_CASES = [(m, s) for m in sorted(nas_kit.METHODS) for s in ("darts", "nb201")
                 if m not in ("darts-2nd", "mim-darts")]


@pytest.mark.parametrize("method,space", _LAYOUT_CASES)
def test_channels_last_is_how_not_what(method, space):
    """Channels-last weights and batches change only the memory layout (and so the order of
    float32 sums): against a float64 reference, the α-gradient's error stays of the size of
    the default layout's own float32 error."""
    _, exact = _first_step_alpha_grad(method, space, double=True)
    _, default = _first_step_alpha_grad(method, space)
    run, cl = _first_step_alpha_grad(method, space, channels_last=True)
    convs = [m.weight for m in run.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert run.cfg.to_dict()["channels_last"] is True
    err_default = ((default - exact).norm() / exact.norm()).item()
    err_cl = ((cl - exact).norm() / exact.norm()).item()
    assert err_cl <= max(30 * err_default, 1e-5), (err_cl, err_default)


@pytest.mark.parametrize("space", ["darts", "nb201"])
def test_channels_last_masked_image_modeling_losses_agree(space):
    losses = []
    for how in ({}, dict(channels_last=True)):
        torch.manual_seed(0)
        run = nas_kit.prepare_search("mim-darts", space, tiny_data(), profile="smoke",
                                     device="cpu", progress=False, **how)
        x, y = run.val_loader.next()
        if how:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            loss, _, parts = run.objective(run.model, x, y, alpha_level=True)
        losses.append(torch.stack([loss, parts["ce"], parts["rec"]]).double())
    assert torch.allclose(losses[0], losses[1], rtol=1e-5, atol=0), losses


def test_a_search_resumes_with_another_memory_layout(tmp_path):
    ds = tiny_data()
    first = nas_kit.prepare_search("pc-darts", "darts", ds, profile="smoke", device="cpu",
                                   progress=False, out=tmp_path, epochs=2)
    first.run_epoch()
    resumed = nas_kit.prepare_search("pc-darts", "darts", ds, profile="smoke", device="cpu",
                                     progress=False, out=tmp_path, epochs=2, channels_last=True)
    assert resumed.resume() and resumed.epoch == 1
    resumed.run_epoch()
    assert resumed.record["complete"]
