"""NAR (nas_kit.nar): encoding, metrics, losses, tiny-model training, search on the NB201 table.

Everything runs on CPU with a tiny ranker (1 layer, d_model 32) on 200 training cells, so
the file takes seconds. Thresholds leave a wide margin: at 10 epochs the tiny NAR measured
held-out Kendall tau 0.44-0.51 over seeds 0-2 (MSE MLP 0.52, pairwise MLP 0.51-0.53).
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from nas_kit import nar, nb201
from nas_kit.genotypes import NB201_EDGES, NB201Genotype, parse_nb201_genotype
from nas_kit.spaces.nb201_network import NB201Network

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CELL_9930 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
UPPER = [(s, d) for s, d in NB201_EDGES]
TINY = dict(d_model=32, n_heads=2, d_ff=64, n_layers=1, tier_hidden=64, score_hidden=128)



@pytest.fixture(scope="module")
def data():
    train = nar.sample_cells(200, seed=0)
    held_out = nar.sample_cells(1000, seed=1, exclude=train)
    y, split = nar.training_targets(train, "cifar10")
    return train, held_out, y, split


@pytest.fixture(scope="module")
def tiny_nar(data):
    train, _, y, split = data
    return nar.train_nar(train, y, epochs=10, seed=0, dataset="cifar10", target_split=split, **TINY)


# ----------------------------------------------------------------------------- encoding


def test_encode_shape_and_op_codes():
    x = nar.encode(ALL_SKIP)
    assert x.shape == (31, 4, 4) and x.dtype == torch.float32
    expected = torch.zeros(4, 4)
    for s, d in UPPER:
        expected[s, d] = 2.0                      # skip_connect = 2nd NB201 primitive
    assert torch.equal(x[0], expected)
    # 9930: conv3x3 (code 4) everywhere but skip on edge 0 -> 3.
    codes = nar.encode(CELL_9930)[0]
    assert [int(codes[s, d]) for s, d in UPPER] == [4, 4, 4, 2, 4, 4]
    assert nar.OP_CODES == {"none": 1, "skip_connect": 2, "nor_conv_1x1": 3,
                            "nor_conv_3x3": 4, "avg_pool_3x3": 5}


def test_encode_accepts_strings_genotypes_and_indices():
    g = parse_nb201_genotype(CELL_9930)
    a = nar.encode(CELL_9930)
    assert torch.equal(a, nar.encode(g))
    assert torch.equal(a, nar.encode(9930))
    assert torch.equal(nar.encode_many([9930, ALL_SKIP, g]),
                       torch.stack([a, nar.encode(1835), a]))


def test_cost_channels_zero_without_op_and_ordered_by_op():
    none_cell = NB201Genotype(["none"] * 6)
    x_none, x_skip = nar.encode(none_cell), nar.encode(ALL_SKIP)
    assert torch.equal(x_none[0], torch.tensor(
        [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.float32))
    assert not x_none[1:].any() and not x_skip[1:].any()       # none / skip cost nothing
    mixed = NB201Genotype(["nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "none",
                           "skip_connect", "nor_conv_3x3"])
    x = nar.encode(mixed)
    (s3, d3), (s1, d1), (sp, dp) = UPPER[0], UPPER[1], UPPER[2]
    flops, params = x[nar.FLOPS_CHANNELS.start:nar.FLOPS_CHANNELS.stop], x[nar.PARAMS_CHANNELS.start:]
    assert flops.shape[0] == params.shape[0] == 15
    assert (flops[:, s3, d3] > flops[:, s1, d1]).all() and (flops[:, s1, d1] > 0).all()
    assert (params[:, s3, d3] > params[:, s1, d1]).all() and (params[:, s1, d1] > 0).all()
    assert (flops[:, sp, dp] > 0).all() and not params[:, sp, dp].any()   # pooling: adds, no weights
    mask = torch.zeros(4, 4, dtype=torch.bool)            # everywhere but the 4 costly edges
    mask[:] = True
    for (s, d), op in zip(UPPER, mixed.ops):
        if op not in ("none", "skip_connect"):
            mask[s, d] = False
    assert not x[1:, mask].any()
    # Analytic values at the first stage (C=16, 32x32), scaled as documented.
    assert flops[0, s3, d3].item() == pytest.approx(16 * 16 * 9 * 32 * 32 / 1e7)
    assert params[14, s3, d3].item() == pytest.approx((64 * 64 * 9 + 2 * 64) / 1e5)


def test_param_channels_match_the_benchmark_network():
    # The params channels, summed, must equal what the cell ops add to the real network.
    def count(g):
        return sum(p.numel() for p in NB201Network(g, C=16, num_classes=10).parameters())

    g = parse_nb201_genotype(CELL_9930)
    base = count(NB201Genotype(["none"] * 6))
    encoded = nar.encode(g)[nar.PARAMS_CHANNELS.start:].sum().item() * nar.PARAMS_SCALE
    assert round(encoded) == count(g) - base


def test_encode_all_cells_fast_and_deterministic():
    nb201.table()                                     # table load is not encoding time
    nar.encode(0)
    start = time.perf_counter()
    a = nar.encode_many(np.arange(nb201.N_CELLS))
    elapsed = time.perf_counter() - start
    assert a.shape == (15_625, 31, 4, 4)
    assert elapsed < 2.0, f"encoding all cells took {elapsed:.2f} s"
    assert torch.equal(a, nar.encode_many(list(range(nb201.N_CELLS))))
    # 5^6 distinct op assignments -> 15,625 distinct op-code channels.
    assert torch.unique(a[:, 0].reshape(-1, 16), dim=0).shape[0] == 15_625


# ----------------------------------------------------------------------------- metrics, losses


def _brute_tau(a, b):
    n, s, ta, tb = len(a), 0.0, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            s += da * db
            ta += da == 0
            tb += db == 0
    n0 = n * (n - 1) / 2
    return s / math.sqrt((n0 - ta) * (n0 - tb))


def test_kendall_tau_exact_small_cases():
    assert nar.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert nar.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert nar.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)     # 5 c, 1 d
    # tie in a: n0=6, n1=1 -> 5 concordant / sqrt(5*6)
    assert nar.kendall_tau([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(nar.kendall_tau([1, 1, 1], [1, 2, 3]))


def test_kendall_tau_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 40))
        a = rng.integers(0, 5, n).astype(float)
        b = a + rng.integers(-2, 3, n) if rng.random() < 0.5 else rng.normal(size=n)
        if len(set(a)) > 1 and len(set(b)) > 1:
            assert nar.kendall_tau(a, b) == pytest.approx(_brute_tau(a, b), abs=1e-12)


def test_kendall_tau_matches_scipy():
    from scipy import stats   # a test requirement (requirements.txt)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 20, 500), rng.integers(0, 20, 500)
    assert nar.kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)


def test_pairwise_ranking_loss_by_hand():
    s = torch.tensor([2.0, 1.0, 0.0])
    y = torch.tensor([3.0, 1.0, 2.0])
    # pairs: (0,1) s-diff 1 agrees, (0,2) 2 agrees, (1,2) 1 but y says 2 > 1: disagrees
    expected = (math.log1p(math.exp(-1)) + math.log1p(math.exp(-2)) + math.log1p(math.exp(1))) / 3
    assert nar.pairwise_ranking_loss(s, y).item() == pytest.approx(expected, rel=1e-6)
    # a tied pair (y0 == y1) is left out: mean over (0,2) and (1,2) only
    y_tie = torch.tensor([1.0, 1.0, 2.0])
    expected_tie = (math.log1p(math.exp(2)) + math.log1p(math.exp(1))) / 2
    assert nar.pairwise_ranking_loss(s, y_tie).item() == pytest.approx(expected_tie, rel=1e-6)
    assert nar.pairwise_ranking_loss(s, torch.ones(3)).item() == 0.0


def test_noam_peaks_at_warmup_and_tiers_are_quintiles():
    lrs = [nar.noam_lr(t, 128, 0.07, 30) for t in range(1, 200)]
    assert int(np.argmax(lrs)) + 1 == 30
    assert max(lrs) == pytest.approx(0.07 * 128 ** -0.5 * 30 ** -0.5)
    acc = np.arange(10, dtype=float)                 # 9 is best
    assert nar.tiers_from_accuracy(acc).tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]


def test_target_split_policy():
    assert nar.target_split("cifar10") == "valid"
    assert nar.target_split("cifar100") == "test"
    assert nar.target_split("imagenet16-120") == "test"
    y, split = nar.training_targets([1835], "cifar100")
    assert split == "test" and y[0] == nb201.lookup(1835).cifar100_test
    y, split = nar.training_targets([1835], "cifar10")
    assert split == "valid" and y[0] == nb201.lookup(1835).cifar10_valid
    with pytest.raises(ValueError):
        nar.target_split("mnist")


# ----------------------------------------------------------------------------- model, training


def test_model_shapes():
    torch.manual_seed(0)
    model = nar.NAR(**TINY).eval()
    x = nar.encode_many([0, 1, 2])
    logits, score, tokens = model(x, torch.zeros(5, 31, 32), return_tokens=True)
    assert logits.shape == (3, 5) and score.shape == (3,) and tokens.shape == (3, 31, 32)


def test_nar_ranks_held_out_cells(data, tiny_nar):
    _, held_out, _, split = data
    truth = nar.accuracies(held_out, "cifar10", "test")          # reported on test
    tau = nar.kendall_tau(tiny_nar.predict_scores(held_out), truth)
    assert tau > 0.3, tau
    tiers = tiny_nar.predict_tiers(held_out[:50])
    assert tiers.shape == (50,) and tiers.min() >= 0 and tiers.max() < 5
    probs = tiny_nar.predict_tier_probs(held_out[:5])
    assert probs.shape == (5, 5) and np.allclose(probs.sum(1), 1.0)
    assert tiny_nar.tier_embeddings.shape == (5, 31, 32)
    assert tiny_nar.target_split == split == "valid"
    assert len(tiny_nar.history) == 10 and np.isfinite(tiny_nar.history[-1]["loss"])


def test_baselines_rank_held_out_cells(data):
    train, held_out, y, _ = data
    truth = nar.accuracies(held_out, "cifar10", "test")
    mse = nar.train_mse_regressor(train, y, epochs=10, seed=0)
    pw = nar.train_pairwise_ranker(train, y, epochs=10, seed=0)
    assert nar.kendall_tau(mse.predict_scores(held_out), truth) > 0.2
    assert nar.kendall_tau(pw.predict_scores(held_out), truth) > 0.2
    # The regressor predicts accuracies on the percent scale.
    assert 0 < np.median(mse.predict_scores(held_out)) < 100


def test_training_is_deterministic_and_leaves_global_rng_alone(data):
    train, held_out, y, _ = data
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = nar.train_nar(train[:64], y[:64], epochs=2, batch_size=32, seed=5, **TINY)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = nar.train_nar(train[:64], y[:64], epochs=2, batch_size=32, seed=5, **TINY)
    c = nar.train_nar(train[:64], y[:64], epochs=2, batch_size=32, seed=6, **TINY)
    cells = held_out[:100]
    np.testing.assert_array_equal(a.predict_scores(cells), b.predict_scores(cells))
    np.testing.assert_array_equal(a.predict_tiers(cells), b.predict_tiers(cells))
    assert not np.array_equal(a.predict_scores(cells), c.predict_scores(cells))
    m1 = nar.train_mse_regressor(train, y, epochs=2, seed=3)
    m2 = nar.train_mse_regressor(train, y, epochs=2, seed=3)
    np.testing.assert_array_equal(m1.predict_scores(cells), m2.predict_scores(cells))


# ----------------------------------------------------------------------------- search


def test_search_with_ranker_curve(data, tiny_nar):
    train = data[0]
    curve = nar.search_with_ranker(tiny_nar, 20, dataset="cifar10", seed=0, pool_size=200,
                                   exclude=train)
    assert isinstance(curve, list) and len(curve) == 20
    assert all(b >= a for a, b in zip(curve, curve[1:]))
    test_acc = [nb201.lookup(int(i)).cifar10_test for i in curve.queried]
    assert curve == list(np.maximum.accumulate(test_acc))
    assert len(set(curve.queried.tolist())) == 20 and not set(curve.queried) & set(train.tolist())
    assert curve.target_split == "valid" and curve.eval_split == "test"
    # Predicted tier 0 is queried first, then tier 1, ...: the tiers never decrease.
    tiers = tiny_nar.predict_tiers(curve.queried)
    assert all(b >= a for a, b in zip(tiers, tiers[1:]))
    # other datasets report their own test column
    c100 = nar.search_with_ranker(tiny_nar, 5, dataset="cifar100", seed=0, pool_size=50)
    assert c100[-1] == max(nb201.lookup(int(i)).cifar100_test for i in c100.queried)


def test_random_search_reproducible():
    a = nar.random_search(30, dataset="imagenet16-120", seed=7)
    b = nar.random_search(30, dataset="imagenet16-120", seed=7)
    c = nar.random_search(30, dataset="imagenet16-120", seed=8)
    assert a == b and np.array_equal(a.queried, b.queried)
    assert not np.array_equal(a.queried, c.queried)
    assert len(a) == 30 and all(y >= x for x, y in zip(a, a[1:]))
    assert a[-1] == max(nb201.lookup(int(i)).imagenet16_test for i in a.queried)
    assert a.target_split is None
