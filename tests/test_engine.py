"""The supernets, the relaxation and the method-specific pieces of the loop."""
import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

import nas_kit
from nas_kit import data
from nas_kit.genotypes import DARTS_PRIMITIVES, NB201_PRIMITIVES
from nas_kit.hypergradient import unrolled_alpha_grads
from nas_kit.losses import (apply_patch_mask, masked_patch_mse, random_patch_mask, self_balanced,
                            zero_one_loss)
from nas_kit.methods import resolve_config
from nas_kit.spaces import DartsSupernet, NB201Supernet
from nas_kit.spaces.mixed import MixedOp, channel_shuffle


def test_darts_search_supernet_has_the_published_weight_count():
    # 1,930,618 = the "param size = 1.930618MB" of the official DARTS search log.
    model = DartsSupernet(C=16, num_classes=10, layers=8)
    assert model.num_weights() == 1_930_618
    assert {n for n, _ in model.named_parameters() if n.startswith("arch.")} == {
        "arch.alpha_normal", "arch.alpha_reduce"}
    assert model.arch["alpha_normal"].shape == (14, 8)


def test_supernets_forward_and_alpha_shapes():
    x = torch.randn(2, 3, 32, 32)
    darts = DartsSupernet(C=4, layers=5)
    nb201 = NB201Supernet(C=4, cells_per_stage=1)
    assert darts(x).shape == (2, 10) and nb201(x).shape == (2, 10)
    assert darts.features(x).shape == (2, 4 * 4 * 4, 8, 8)
    assert nb201.arch["alpha_cell"].shape == (6, 5)
    assert nb201.primitives == NB201_PRIMITIVES
    # reduction cells at layers//3 and 2*layers//3
    assert [c.reduction for c in darts.cells] == [False, True, False, True, False]


def test_alphas_are_not_weights():
    model = NB201Supernet(C=4, cells_per_stage=1, edge_norm=True)
    weight_ids = {id(p) for p in model.weight_parameters()}
    assert all(id(a) not in weight_ids for a in model.arch_parameters())
    assert len(model.arch_parameters()) == 2  # alpha_cell, beta_cell


def test_relaxations():
    model = NB201Supernet(C=4, cells_per_stage=1)
    w = model.op_weights()["cell"]
    assert torch.allclose(w.sum(-1), torch.ones(6))
    fair = NB201Supernet(C=4, cells_per_stage=1, relaxation="sigmoid", alpha_init_std=0.0,
                         primitives=NB201_PRIMITIVES[1:])
    assert torch.equal(fair.op_weights()["cell"], torch.full((6, 4), 0.5))
    with pytest.raises(ValueError, match="relaxation 'tanh'.*softmax, sigmoid"):
        NB201Supernet(C=4, cells_per_stage=1, relaxation="tanh")


def test_derivation_from_hand_made_alpha():
    model = NB201Supernet(C=4, cells_per_stage=1)
    with torch.no_grad():
        alpha = torch.zeros(6, 5)
        for e, op in enumerate([3, 0, 1, 2, 4, 3]):
            alpha[e, op] = 5.0
        model.arch["alpha_cell"].copy_(alpha)
    assert str(model.genotype()) == (
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|")

    darts = DartsSupernet(C=4, layers=5)
    with torch.no_grad():
        a = torch.zeros(14, 8)
        a[:, DARTS_PRIMITIVES.index("none")] = 10.0       # `none` is never chosen
        a[0, DARTS_PRIMITIVES.index("sep_conv_3x3")] = 3.0
        a[1, DARTS_PRIMITIVES.index("skip_connect")] = 2.0
        darts.arch["alpha_normal"].copy_(a)
    g = darts.genotype()
    assert g.normal[0][:2] == ("sep_conv_3x3", 0) and g.normal[1][:2] == ("skip_connect", 1)
    assert all(op != "none" for op, _, _ in g.normal)


def test_edge_normalisation_changes_selection():
    model = DartsSupernet(C=4, layers=5, edge_norm=True)
    with torch.no_grad():
        model.arch["alpha_normal"].zero_()
        # node 2's inputs: edges 0 (from 0) and 1 (from 1); node 3: edges 2, 3, 4
        model.arch["alpha_normal"][2, 4] = 1.0   # node 3, from 0: sep_conv_3x3 slightly higher
        model.arch["beta_normal"].zero_()
        model.arch["beta_normal"][3] = 5.0       # but the edge from node 1 dominates β
        model.arch["beta_normal"][4] = 4.0
    node3 = [(src, dst) for _, src, dst in model.genotype().normal if dst == 3]
    assert sorted(node3) == [(1, 3), (2, 3)]
    w = model.edge_weights()["normal"]
    assert torch.allclose(w[2:5].sum(), torch.tensor(1.0))


def test_partial_channels_send_exactly_c_over_k_channels_through_the_ops():
    model = DartsSupernet(C=8, layers=5, partial_channels=4, edge_norm=True)
    seen = []
    for m in model.modules():
        if isinstance(m, MixedOp):
            for op in m.ops:
                op.register_forward_hook(
                    lambda mod, inp, out, mixed=m: seen.append((inp[0].shape[1], mixed)))
    x = torch.randn(2, 3, 32, 32)
    model(x)
    assert seen
    # every op sees 1/K of the channels its edge carries (C, 2C, 4C across the stages)
    channels = {c for c, _ in seen}
    assert channels == {2, 4, 8}
    out = MixedOp(DARTS_PRIMITIVES, "darts", 8, 1, affine=False, partial_channels=4)(
        torch.randn(2, 8, 6, 6), torch.softmax(torch.zeros(8), 0))
    assert out.shape == (2, 8, 6, 6)


def test_channel_shuffle_is_a_permutation():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    y = channel_shuffle(x, 4).flatten().tolist()
    assert y == [0, 2, 4, 6, 1, 3, 5, 7]


def test_zero_one_loss_value_and_gradient():
    alpha = torch.tensor([[0.0, 2.0], [-1.0, 0.5]], requires_grad=True)
    s = torch.sigmoid(alpha)
    loss = zero_one_loss([s], "l2")
    expected = -((s - 0.5) ** 2).mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    s = s.detach()
    grad = -2 * (s - 0.5) * s * (1 - s) / s.numel()
    assert torch.allclose(alpha.grad, grad)
    assert alpha.grad[0, 0] == 0  # σ = 0.5 is a stationary point...
    assert alpha.grad[0, 1] < 0   # ...and larger σ is pushed further up, toward 1
    assert torch.allclose(zero_one_loss([torch.tensor([0.0, 1.0])]), torch.tensor(-0.25))


def test_patch_mask_keeps_the_exact_number_of_patches():
    gen = torch.Generator().manual_seed(0)
    mask = random_patch_mask(5, (32, 32), 4, 0.8, gen, "cpu")
    assert mask.shape == (5, 8, 8)
    assert (~mask).flatten(1).sum(1).tolist() == [12] * 5   # int(64 * 0.2) kept
    x = torch.randn(5, 3, 32, 32)
    xm = apply_patch_mask(x, mask, 4, 1.0)
    pix = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1).expand_as(x)
    assert torch.all(xm[pix] == 1.0) and torch.equal(xm[~pix], x[~pix])


def test_reconstruction_loss_ignores_unmasked_target_pixels():
    gen = torch.Generator().manual_seed(1)
    mask = random_patch_mask(2, (16, 16), 4, 0.5, gen, "cpu")
    pred, target = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    pix = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1).expand_as(target)
    changed = target.clone()
    changed[~pix] += 100.0
    assert torch.equal(masked_patch_mse(pred, target, mask, 4), masked_patch_mse(pred, changed, mask, 4))
    changed_masked = target.clone()
    changed_masked[pix] += 1.0
    assert masked_patch_mse(pred, changed_masked, mask, 4) != masked_patch_mse(pred, target, mask, 4)


def test_self_balanced_loss_value_and_gradient():
    a = torch.tensor(1.5, requires_grad=True)
    ce, rec = a * 2.0, a ** 2           # CE = 3, rec = 2.25
    loss = self_balanced(ce, rec)
    assert torch.allclose(loss, 2 * ce)
    loss.backward()
    # d/da [ce + rec * ce/rec (detached)] = 2 + (3 / 2.25) * 2a
    assert torch.allclose(a.grad, torch.tensor(2.0 + (3.0 / 2.25) * 3.0))


def _tiny_supernet_and_batches():
    torch.manual_seed(0)
    model = NB201Supernet(C=4, num_classes=3, cells_per_stage=1).double()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.normal_(0, 0.5)
    x_t, x_v = torch.randn(6, 3, 8, 8, dtype=torch.float64), torch.randn(6, 3, 8, 8, dtype=torch.float64)
    y_t, y_v = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 1, 0, 2, 1, 0])
    return model, x_t, y_t, x_v, y_v


def test_first_order_alpha_gradient_is_grad_of_validation_loss():
    model, x_t, y_t, x_v, y_v = _tiny_supernet_and_batches()
    cfg = resolve_config("darts", "nb201", "synthetic", profile="smoke")
    from nas_kit.search import Objective
    loss, _, _ = Objective(cfg, None)(model, x_v, y_v, alpha_level=True)
    loss.backward(inputs=model.arch_parameters())
    ours = model.arch["alpha_cell"].grad.clone()
    reference = torch.autograd.grad(F.cross_entropy(model(x_v), y_v), model.arch["alpha_cell"])[0]
    assert torch.allclose(ours, reference)


def test_second_order_alpha_gradient_matches_exact_unrolled_hypergradient():
    model, x_t, y_t, x_v, y_v = _tiny_supernet_and_batches()
    weights = dict(model.named_weight_parameters())
    names, params = list(weights), list(weights.values())
    alphas = model.arch_parameters()
    lr, momentum, wd = 0.5, 0.9, 3e-4
    buffers = [0.1 * torch.randn_like(p) for p in params]

    # The algorithm is checked at a small finite-difference radius (float64). DARTS' own
    # radius, ||R v|| = 0.01 (the default below), is a coarse step on a 6-image toy network
    # whose ReLU kinks it crosses; on the real supernet it is the published choice.
    ours, _, _ = unrolled_alpha_grads(
        params, alphas, lambda: F.cross_entropy(model(x_t), y_t),
        lambda: (F.cross_entropy(model(x_v), y_v), None),
        lr=lr, momentum=momentum, weight_decay=wd, momentum_buffers=buffers, r=1e-6)
    assert resolve_config("darts-2nd", "darts", "cifar10").unroll_r == 0.01

    # Exact: differentiate L_val(w'(α), α) through the virtual step by double backprop.
    w = [p.detach().clone().requires_grad_(True) for p in params]
    train = F.cross_entropy(functional_call(model, dict(zip(names, w)), (x_t,)), y_t)
    g = torch.autograd.grad(train, w, create_graph=True)
    w_prime = [wi - lr * (momentum * b + gi + wd * wi) for wi, gi, b in zip(w, g, buffers)]
    val = F.cross_entropy(functional_call(model, dict(zip(names, w_prime)), (x_v,)), y_v)
    exact = torch.autograd.grad(val, alphas)[0]
    first_order = torch.autograd.grad(
        F.cross_entropy(functional_call(model, dict(zip(names, [p.detach() for p in w_prime])), (x_v,)), y_v),
        alphas)[0]

    err = (ours[0] - exact).norm()
    second_order_term = (exact - first_order).norm()
    assert second_order_term > 1e-3                 # the test would notice a missing term
    assert err < 1e-4 * second_order_term + 1e-9, (err, second_order_term)
    # and the weights were restored
    assert all(torch.equal(p, wi.detach()) for p, wi in zip(params, w))


def _run(method, space, **kw):
    ds = data.synthetic(n=64, image_size=16, seed=0)
    return nas_kit.prepare_search(method, space, ds, profile="smoke", progress=False,
                                  device="cpu", **kw)


@pytest.mark.parametrize("method,space", [("rf-darts", "nb201"), ("rf-pcdarts", "darts")])
def test_random_features_train_only_batchnorm(method, space):
    run = _run(method, space)
    convs = {n: p.detach().clone() for n, p in run.model.named_weight_parameters()
             if p.dim() == 4}
    bn_ids = {id(p) for m in run.model.modules()
              if isinstance(m, torch.nn.BatchNorm2d) and m.affine for p in m.parameters()}
    bns = {n: p.detach().clone() for n, p in run.model.named_weight_parameters() if id(p) in bn_ids}
    assert convs and bns
    run.run_epoch()
    now = dict(run.model.named_weight_parameters())
    assert all(torch.equal(now[n], v) for n, v in convs.items())           # bit-identical
    changed = sum(not torch.equal(now[n], v) for n, v in bns.items())
    assert changed >= 0.9 * len(bns), (changed, len(bns))
    # BN inside the ops is affine under random features (plain DARTS: affine=False)
    assert any(isinstance(m, torch.nn.BatchNorm2d) and m.affine for m in run.model.cells[0].modules())
    assert all(p.dim() < 2 or not p.requires_grad for p in run.weights)


def test_mim_search_builds_a_decoder_and_logs_reconstruction():
    run = _run("mim-darts", "darts")
    assert hasattr(run.model, "decoder")
    entry = run.run_epoch()
    assert {"train_rec", "val_rec", "train_rec_weight"} <= set(entry["extra"])
    # self-balanced: the loss is numerically 2 * CE
    assert entry["train_loss"] == pytest.approx(2 * entry["extra"]["train_ce"], rel=1e-4)
    control = _run("mim-darts", "darts", mim_loss=False)
    assert not hasattr(control.model, "decoder")
    assert control.cfg.mask_ratio == 0.8


def test_pc_darts_freezes_alpha_during_warmup():
    run = _run("pc-darts", "nb201")
    assert run.cfg.alpha_warmup_epochs == 1    # 15 of 50 epochs, scaled to 2 smoke epochs
    before = [a.detach().clone() for a in run.alphas]
    first = run.run_epoch()
    assert not first["alpha_updated"]
    assert all(torch.equal(a, b) for a, b in zip(run.alphas, before))
    second = run.run_epoch()
    assert second["alpha_updated"]
    assert not all(torch.equal(a, b) for a, b in zip(run.alphas, before))


def test_fair_darts_recipe():
    cfg = resolve_config("fair-darts", "darts", "cifar10", profile="paper")
    assert (cfg.relaxation, cfg.include_none, cfg.zero_one_weight) == ("sigmoid", False, 10.0)
    assert (cfg.derive_rule, cfg.derive_threshold, cfg.w_lr, cfg.batch_size) == ("threshold", 0.85, 0.005, 128)
    assert cfg.alpha_betas == (0.9, 0.999) and cfg.alpha_lr == 3e-3
    assert "none" not in cfg.primitives


def test_a_profile_can_budget_one_method_on_its_own():
    from nas_kit.methods import SPACES, config_keys
    from nas_kit.profiles import get_profile
    # colab: Fair DARTS' sigmoid weights need ~475 α-steps (19 per NB201 epoch) to decide
    assert resolve_config("fair-darts", "nb201", "cifar10", profile="colab").epochs == 25
    assert resolve_config("fair-darts", "nb201", "cifar10", profile="colab",
                          zero_one_weight=0.0).epochs == 25      # its ablation: same budget
    assert resolve_config("darts", "nb201", "cifar10", profile="colab").epochs == 10
    assert resolve_config("fair-darts", "darts", "cifar10", profile="colab").epochs == 6
    assert resolve_config("fair-darts", "nb201", "cifar10", profile="colab", epochs=3).epochs == 3
    assert resolve_config("fair-darts", "nb201", "cifar10", profile="paper").epochs == 50
    assert get_profile("colab").search_budget("nb201", "fair-darts")["limit"] == 5_000
    # a misspelt method or key in a per-method budget would be silently ignored: none is
    for name in nas_kit.PROFILES:
        for space, budgets in get_profile(name).method_search.items():
            assert space in SPACES
            for method, keys in budgets.items():
                assert method in nas_kit.METHODS
                assert set(keys) <= set(config_keys())


def test_config_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="unknown method 'dartz'.*darts-2nd"):
        resolve_config("dartz", "darts", "cifar10")
    with pytest.raises(ValueError, match="unknown search space 'nb101'.*darts, nb201"):
        resolve_config("darts", "nb101", "cifar10")
    with pytest.raises(ValueError, match=r"unknown config keys \['epoch'\]"):
        resolve_config("darts", "darts", "cifar10", epoch=3)
    with pytest.raises(ValueError, match="mask_ratio must be in"):
        resolve_config("mim-darts", "darts", "cifar10", mask_ratio=1.5)
    with pytest.raises(ValueError, match="unknown profile 'fast'.*smoke, colab, paper"):
        resolve_config("darts", "darts", "cifar10", profile="fast")
    with pytest.raises(ValueError, match="patch_size 5 must divide"):
        _run("mim-darts", "darts", patch_size=5)


def test_skip_noise_ablation_perturbs_only_stride_one_skips_and_decays():
    from nas_kit.search import skip_noise_scale
    from nas_kit.spaces.ops import NoisyIdentity
    run = _run("darts", "darts", skip_noise=1.0, skip_noise_epochs=2)
    noisy = [m for m in run.model.modules() if isinstance(m, NoisyIdentity)]
    # 3 normal cells x 14 edges + 2 reduction cells x 6 edges between intermediate nodes
    # (the 8 edges leaving a reduction cell's inputs are stride 2: FactorizedReduce)
    assert len(noisy) == 3 * 14 + 2 * 6
    assert [skip_noise_scale(run.cfg, e) for e in range(3)] == [1.0, 0.5, 0.0]
    entry = run.run_epoch()
    assert entry["skip_noise"] == 1.0 and noisy[0].scale == 1.0
    x = torch.ones(2, 3, 4, 4)
    noisy[0].train()
    assert not torch.equal(noisy[0](x), x)
    noisy[0].eval()
    assert torch.equal(noisy[0](x), x)
    plain = _run("darts", "darts")
    assert not any(isinstance(m, NoisyIdentity) for m in plain.model.modules())


def test_default_dataset_follows_profile_and_environment(monkeypatch):
    monkeypatch.delenv("NAS_KIT_DATASET", raising=False)
    assert nas_kit.default_dataset("smoke") == "synthetic"
    assert nas_kit.default_dataset("colab") == "cifar10"
    monkeypatch.setenv("NAS_KIT_DATASET", "cifar10-jpeg")
    assert nas_kit.default_dataset("smoke") == "cifar10-jpeg"
    monkeypatch.setenv("NAS_KIT_DATASET", "imagenet")
    with pytest.raises(ValueError, match="NAS_KIT_DATASET 'imagenet'; valid: cifar10"):
        nas_kit.default_dataset()
