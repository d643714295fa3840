"""NAR's tier-guided sampler (nas_kit.nar_sampler): costs, the released binning and KL
test, guided draws, and the search loop with an oracle ranker and a tiny trained NAR."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nas_kit import nar, nb201
from nas_kit import nar_sampler as ns
from nas_kit.genotypes import NB201_PRIMITIVES

TINY = dict(d_model=32, n_heads=2, d_ff=64, n_layers=1, tier_hidden=64, score_hidden=128)


def _uniform_cell(op: str) -> int:
    return nb201.index_of("|{0}~0|+|{0}~0|{0}~1|+|{0}~0|{0}~1|{0}~2|".format(op))


def test_cell_budget_units_of_uniform_cells():
    units = ns.cell_budget_units()
    assert units.shape == (nb201.N_CELLS, 2)
    assert tuple(units[_uniform_cell("none")]) == (0, 0)
    assert tuple(units[_uniform_cell("skip_connect")]) == (0, 0)
    conv = sum(nar.op_cost("nor_conv_3x3", c, s)[0] * nar.CELLS_PER_STAGE for c, s in nar.BENCHMARK_STAGES)
    params = sum(nar.op_cost("nor_conv_3x3", c, s)[1] * nar.CELLS_PER_STAGE for c, s in nar.BENCHMARK_STAGES)
    assert tuple(units[_uniform_cell("nor_conv_3x3")]) == (math.ceil(6 * conv / 1e6), math.ceil(6 * params / 1e3))
    assert units.max(0).tolist() == units[_uniform_cell("nor_conv_3x3")].tolist()


def test_cells_from_ops_inverts_cell_op_indices():
    every = np.arange(nb201.N_CELLS)
    assert np.array_equal(ns.cells_from_ops(nar.cell_op_indices(every)), every)
    with pytest.raises(ValueError, match="shape"):
        ns.cells_from_ops(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="0..4"):
        ns.cells_from_ops(np.full((1, 6), 5))


def test_binning_follows_the_released_rule():
    tops, counts = ns._binned(np.arange(11), np.zeros(11, dtype=np.int64), 1, 5)
    assert tops.tolist() == [2, 4, 6, 8, 10]
    assert counts.tolist() == [[3, 2, 2, 2, 2]]       # the minimum goes to the first bin
    tops, counts = ns._binned(np.full(4, 7), np.zeros(4, dtype=np.int64), 1, 5)   # no range
    assert tops.tolist() == [8, 9, 10, 11, 12] and counts.tolist() == [[4, 0, 0, 0, 0]]


def test_tier_statistics_counts_every_cell_once_per_histogram():
    cells = nar.sample_cells(100, seed=3)
    tiers = np.arange(100) % 5
    stats = ns.tier_statistics(cells, tiers)
    assert stats.flops.sum(1).tolist() == [20] * 5 and stats.params.sum(1).tolist() == [20] * 5
    assert stats.ops.sum(1).tolist() == [120] * 5
    assert stats.flops_tops[-1] >= ns.cell_budget_units()[cells, 0].max()
    with pytest.raises(ValueError, match="0..4"):
        ns.tier_statistics(cells, np.full(100, 5))
    with pytest.raises(ValueError, match="one tier per cell"):
        ns.tier_statistics(cells, tiers[:10])


def test_released_kl_on_raw_counts():
    assert ns.released_kl([5, 3, 1], [5, 3, 1]) == pytest.approx(0.0, abs=1e-12)
    # one-hot softmaxes in different bins: KL = 100 (the count gap), / 5 bins
    assert ns.released_kl([100, 0, 0, 0, 0], [0, 100, 0, 0, 0]) == pytest.approx(20.0, rel=1e-6)
    # the direction: KL(top || low) = 0.14435, the reverse would be 0.15809
    assert ns.released_kl([2, 0, 0], [0, 0, 0]) == pytest.approx(0.14435, abs=1e-5)


def test_top_tier_distribution_needs_a_different_mode_and_enough_counts():
    counts = np.array([[10, 0, 0], [3, 3, 4], [3, 3, 4], [0, 0, 10], [0, 10, 0]])
    assert np.allclose(ns.top_tier_distribution(counts, 0.5), [1, 0, 0])
    same_mode = counts.copy()
    same_mode[4] = [10, 0, 0]
    assert ns.top_tier_distribution(same_mode, 0.5) is None
    assert ns.top_tier_distribution(counts, 0.5, batch_factor=0.3) is None    # 10 of 50 counts
    middle_same = counts.copy()
    middle_same[1] = middle_same[2] = [10, 0, 0]     # only tiers 4 and 5 are compared
    assert np.allclose(ns.top_tier_distribution(middle_same, 0.5), [1, 0, 0])


def _contrast_stats():
    """Tier 0 = cells without convolutions, tiers 3-4 = cells with at least five 3x3 convs."""
    ops = nar.cell_op_indices(np.arange(nb201.N_CELLS))
    conv3 = NB201_PRIMITIVES.index("nor_conv_3x3")
    light = np.flatnonzero((ops == conv3).sum(1) + (ops == NB201_PRIMITIVES.index("nor_conv_1x1")).sum(1) == 0)
    heavy = np.flatnonzero((ops == conv3).sum(1) >= 5)
    rng = np.random.default_rng(0)
    cells = np.concatenate([rng.choice(light, 40), rng.choice(heavy, 80)])
    tiers = np.concatenate([np.zeros(40, int), np.full(40, 3), np.full(40, 4)])
    return ns.tier_statistics(cells, tiers), light


def test_draw_guided_uses_the_top_tier_and_its_budgets():
    stats, light = _contrast_stats()
    cells, used = ns.draw_guided(60, stats, ns.SamplerConfig(), np.random.default_rng(1))
    assert used == {"flops": True, "params": True, "ops": True}
    assert np.isin(cells, light).all()              # ops drawn from tier 0: no convolutions
    units = ns.cell_budget_units()[cells]
    assert units[:, 0].max() <= stats.flops_tops[np.flatnonzero(stats.flops[0])].max()
    uniform, used = ns.draw_guided(60, stats, ns.SamplerConfig(force_uniform=True), np.random.default_rng(1))
    assert used == {"flops": False, "params": False, "ops": False}
    assert not np.isin(uniform, light).all()


class _Oracle(nar.NARRanker):
    """Predicts tier 0 exactly for cells at >= 93 % CIFAR-10 test accuracy; score = accuracy."""

    def predict(self, cells, tier_embeddings=None):
        acc = nar.accuracies(np.asarray(cells), "cifar10", "test")
        probs = np.zeros((acc.size, 5))
        probs[np.arange(acc.size), np.where(acc >= 93, 0, 4)] = 1
        return probs, acc, torch.zeros(acc.size, self.model.n_tokens, self.model.d_model)


class _Spy(_Oracle):
    """The oracle's tiers and scores, features = cell index mod 7; records every call."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.calls = []

    def predict(self, cells, tier_embeddings=None):
        probs, acc, _ = super().predict(cells, tier_embeddings)
        feats = torch.from_numpy(np.asarray(cells) % 7).float()[:, None, None].expand(
            -1, self.model.n_tokens, self.model.d_model).clone()
        self.calls.append((np.asarray(cells).copy(), None if tier_embeddings is None else tier_embeddings.clone()))
        return probs, acc, feats


def _oracle(kind=_Oracle, fill: float = 0.0):
    """An untrained tiny NAR wrapped in ``kind``, tier embeddings all ``fill``."""
    model = nar.NAR(**TINY)
    return kind(model, torch.full((5, model.n_tokens, model.d_model), fill),
                device="cpu", history=[], dataset="cifar10", target_split="valid", seed=0)


def _spy():
    return _oracle(_Spy, fill=3.0)


@pytest.fixture(scope="module")
def train():
    cells = nar.sample_cells(200, seed=0)
    return cells, nar.training_targets(cells, "cifar10")[0]


def test_search_queries_new_predicted_tier0_cells_by_score(train):
    cells, y = train
    oracle = _oracle()
    curve = ns.sampler_search(oracle, cells, y, seed=0, iterations=8, top_k=3)
    q = curve.queried
    assert 0 < len(q) <= 8 * 3 and len(set(q.tolist())) == len(q)
    assert not np.isin(q, cells).any()
    assert (curve.accuracy >= 93).all()
    assert np.array_equal(curve, np.maximum.accumulate(nar.accuracies(q, "cifar10", "test")))
    steps = np.diff([0] + [entry["queries"] for entry in curve.log])
    assert len(curve.log) == 8 and steps.min() >= 0 and steps.max() <= 3
    again = ns.sampler_search(oracle, cells, y, seed=0, iterations=8, top_k=3)
    assert np.array_equal(again.queried, q)
    barred = ns.sampler_search(oracle, cells, y, seed=0, iterations=8, top_k=3, exclude=q[:5])
    assert not np.isin(barred.queried, q[:5]).any() and len(barred) > 0
    assert curve.method == "nar-sampler" and curve.target_split == "valid"


def test_search_with_a_trained_nar_keeps_the_ranker_unchanged(train):
    cells, y = train
    ranker = nar.train_nar(cells, y, epochs=2, seed=0, **TINY)
    before = ranker.tier_embeddings.clone()
    curve = ns.sampler_search(ranker, cells, y, seed=1, iterations=3, batch_size=16, force_uniform=True)
    assert len(curve.log) == 3 and curve.method == "nar-sampler-uniform"
    assert not any(entry["guided_ops"] for entry in curve.log)
    assert torch.equal(ranker.tier_embeddings, before)
    probs, scores, feats = ranker.predict(cells[:10])
    assert np.allclose(scores, ranker.predict_scores(cells[:10]), atol=1e-5)
    assert np.allclose(probs, ranker.predict_tier_probs(cells[:10]), atol=1e-5)
    assert feats.shape == (10, ranker.model.n_tokens, ranker.model.d_model)


def test_bad_settings_are_named(train):
    cells, y = train
    with pytest.raises(ValueError, match="top_k"):
        ns.SamplerConfig(top_k=0)
    with pytest.raises(ValueError, match="noisy"):
        ns.SamplerConfig(noisy=1.5)
    with pytest.raises(ValueError, match="low_tiers"):
        ns.SamplerConfig(low_tiers=(0,))
    mlp = nar.train_mse_regressor(cells, y, epochs=1)
    with pytest.raises(TypeError, match="NARRanker"):
        ns.sampler_search(mlp, cells, y)


def test_compare_samplers_and_its_table(train):
    cells, y = train
    oracle = _oracle()
    runs = ns.compare_samplers(oracle, cells, y, seeds=(0, 1), iterations=4, top_k=2)
    assert list(runs) == list(ns.SEARCHERS) and all(len(v) == 2 for v in runs.values())
    for seed in range(2):
        n = max(len(runs["tier-guided sampler"][seed]), len(runs["uniform sampler"][seed]))
        assert n > 0 and len(runs["random search"][seed]) == n
        assert runs["uniform sampler"][seed].method == "nar-sampler-uniform"
    html = ns.summary_table(runs)._repr_html_()
    assert "tier-guided sampler" in html and "of 4" in html and "/2" in html


def test_compare_samplers_never_queries_excluded_cells(train):
    cells, y = train
    oracle = _oracle()       # predicts tier 0 exactly for cells at >= 93 % (CIFAR-10 test)
    barred = nar.sample_cells(8000, seed=9, exclude=cells)
    runs = ns.compare_samplers(oracle, cells, y, seeds=(0,), exclude=barred, iterations=6, top_k=4)
    for name, (curve,) in runs.items():
        assert len(curve) > 0 and not np.isin(curve.queried, np.concatenate([cells, barred])).any(), name
    # nothing left that the oracle calls tier 0: the samplers query nothing, nor does random search
    good = np.flatnonzero(nar.accuracies(np.arange(nb201.N_CELLS), "cifar10", "test") >= 93)
    runs = ns.compare_samplers(oracle, cells, y, seeds=(0,), exclude=good, iterations=3, top_k=4)
    assert [len(c) for (c,) in runs.values()] == [0, 0, 0]


def test_training_batches_drop_a_partial_batch_unless_it_is_the_only_one():
    cells = nar.sample_cells(1000, seed=0)
    tiers = nar.tiers_from_accuracy(nar.accuracies(cells))
    rng = np.random.default_rng(0)
    stats = ns.training_batch_statistics(cells, tiers, batch_size=128, bins=5, n_tiers=5, rng=rng)
    assert len(stats) == 7 and all(s.flops.sum() == 128 for s in stats)
    few = ns.training_batch_statistics(cells[:100], tiers[:100], batch_size=128, bins=5, n_tiers=5, rng=rng)
    assert len(few) == 1 and few[0].flops.sum() == 100


def _contrast_training_set():
    """120 training cells whose best 40 have no convolutions, the rest >= 4 convs 3x3."""
    _, light = _contrast_stats()
    ops = nar.cell_op_indices(np.arange(nb201.N_CELLS))
    heavy = np.flatnonzero((ops == NB201_PRIMITIVES.index("nor_conv_3x3")).sum(1) >= 4)
    rng = np.random.default_rng(0)
    cells = np.concatenate([rng.choice(light, 40, replace=False), rng.choice(heavy, 80, replace=False)])
    acc = np.concatenate([np.full(40, 90.0), np.full(80, 50.0)]) + rng.uniform(0, 1, 120)
    return cells, acc, light


def test_search_is_guided_by_the_training_cells_tiers():
    """Training cells whose best tier has no convolutions: every iteration draws ops from it."""
    cells, acc, _ = _contrast_training_set()
    oracle = _oracle()
    curve = ns.sampler_search(oracle, cells, acc, seed=0, iterations=4)
    assert all(entry["guided_ops"] for entry in curve.log)
    uniform = ns.sampler_search(oracle, cells, acc, seed=0, iterations=4, force_uniform=True)
    assert not any(entry["guided_ops"] for entry in uniform.log)


def test_tier_embeddings_start_empty_and_follow_predicted_tiers(train):
    cells, y = train
    spy = _spy()
    curve = ns.sampler_search(spy, cells, y, seed=2, iterations=3, top_k=4)
    (first, emb1), (second, emb2), _ = spy.calls
    assert torch.count_nonzero(emb1) == 0
    top = nar.accuracies(first, "cifar10", "test") >= 93
    assert torch.allclose(emb2[0], torch.tensor(float((first[top] % 7).mean())).expand_as(emb2[0]))
    assert torch.allclose(emb2[4], torch.tensor(float((first[~top] % 7).mean())).expand_as(emb2[4]))
    assert torch.count_nonzero(emb2[1:4]) == 0
    # iteration 1 queries the 4 most accurate new cells predicted tier 0, best first
    acc = nar.accuracies(first, "cifar10", "test")
    fresh = [(a, c) for a, c in zip(acc, first) if a >= 93 and c not in set(cells.tolist())]
    expected = []
    for a, c in sorted(fresh, key=lambda t: -t[0]):
        if c not in expected and len(expected) < 4:
            expected.append(c)
    n1 = curve.log[0]["queries"]
    assert curve.queried[:n1].tolist() == expected
    frozen = _spy()
    ns.sampler_search(frozen, cells, y, seed=2, iterations=2, update_tiers=False)
    assert all(emb is None for _, emb in frozen.calls)     # None = the trained embeddings


def test_noisy_share_of_each_batch_is_uniform():
    cells, acc, light = _contrast_training_set()
    spy = _spy()
    ns.sampler_search(spy, cells, acc, seed=0, iterations=2, batch_size=40, noisy=0.25)
    assert [len(c) for c, _ in spy.calls] == [40, 40]
    assert all(np.isin(c, light).sum() >= 30 for c, _ in spy.calls)    # the 30 guided draws
    spy = _spy()
    ns.sampler_search(spy, cells, acc, seed=0, iterations=2, batch_size=40, noisy=1.0)
    assert all(np.isin(c, light).sum() < 15 for c, _ in spy.calls)     # ~5 % of cells are light
    with pytest.raises(ValueError, match="low_tiers"):
        ns.sampler_search(spy, cells, acc, low_tiers=(5,))
