"""NAR's search phase on NAS-Bench-201: the tier-guided sampler of the released code.

After training, NAR searches by *sampling*, not by ranking a fixed pool. Each iteration:

1. Take the per-tier histograms (FLOPs, parameters, operation counts) of one *training*
   batch, split by true tier (the training batches are shuffled and each serves
   ceil(iterations / batches) iterations), and decide for each of the three whether the
   top tier's histogram differs enough from the low tiers' (a KL test, below). Where it
   does, draw from the top tier's histogram; where it does not, draw uniformly.
2. Draw half a batch of cells (``noisy`` = 0.5 of it uniformly from the whole benchmark):
   a FLOPs budget and a parameter budget (one bin's upper edge, reused for ``reuse``
   draws), then up to ``max_trials`` + 1 random cells whose six edge ops are drawn from the
   op distribution, keeping the first within both budgets (else the last one drawn).
3. NAR predicts each cell's tier and score; the ``top_k`` best-scored cells predicted tier
   0 are queried in the benchmark.
4. The batch's encoder features update the tier embeddings under the *predicted* tiers:
   the search starts from empty (zero) embeddings and keeps a running mean over all
   sampled batches, as the released code does (``update_tiers=False`` instead keeps the
   embeddings of the last training epoch, frozen).

Specification: ``shared/research/rf_mim_nar.md`` C.2-C.3 and the released code
(AlbertiPot/nar: ``sampler/arch_sampler201.py``, ``sampler/prob_calculate.py``,
``process/sample_201.py``, ``config/config201.yml``); hyper-parameters are those of the
NB201 config (``SamplerConfig``). Note that the released NB201 config sets
``force_uniform: True``, i.e. steps 1-2 draw uniformly there; ``force_uniform=False`` is
the tier-guided sampler the paper describes (active in the released NB101 config).

The KL test is the released one, unusual enough to spell out: KL(softmax(top counts) ||
softmax(low counts)) divided by the number of bins, on *raw counts* (not normalised
histograms), against each of tiers 4 and 5. For the op counts (about 150 per tier and
batch) the softmaxes are nearly one-hot, so there the test in effect asks whether the top
tier's most common op differs from each low tier's; the FLOPs and parameter histograms
hold single-digit counts per bin, where it is a graded test.

Where this differs from the released code, and why:

* Costs are those of the CIFAR network's 15 cells at 32 x 32 (``nar.cell_costs``),
  without the stem, reductions and classifier, which add the same amount to every cell
  (bin edges can move by less than one unit through the rounding); budgets are compared
  in the released units (MFLOPs and thousands of parameters, rounded up). The released
  code takes the costs of its ``network_type`` (its NB201 config names ImageNet16-120,
  16 x 16 inputs).
* The top tier is tier 1 only (the released ``top_tier: 1``; larger values, which would
  let it fall back to tier 2, are not offered). A batch whose values are all equal gets
  bins one unit wide (the released code would divide by zero).
* The ranker is the one ``nar.train_nar`` returns (the last epoch); the released search
  loads the checkpoint with the best validation tier accuracy.
* The training batches are cut from the training cells in a seeded random order (the
  released code keeps those of its best training epoch); a last partial batch is dropped
  (``drop_last``) unless it is the only one.
* Queries: the ``top_k`` best-scored predicted-tier-0 cells that are *new* (not training
  cells, not queried before), fewer if fewer are predicted tier 0; the released code
  reports the best of the top 1 / top 5 of each batch and skips a batch with fewer than 5.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from . import nb201
from .genotypes import NB201_EDGES, NB201_PRIMITIVES
from .nar import (NARRanker, SearchCurve, TierBank, _as_indices, _column, _index_ops, cell_costs,
                  random_search, target_split, tiers_from_accuracy)

__all__ = ["SamplerConfig", "cell_budget_units", "cells_from_ops", "TierStats", "tier_statistics",
           "released_kl", "top_tier_distribution", "draw_guided", "training_batch_statistics", "sampler_search", "SEARCHERS",
           "compare_samplers", "summary_table"]

N_OPS = len(NB201_PRIMITIVES)
N_EDGES = len(NB201_EDGES)


@dataclass(frozen=True)
class SamplerConfig:
    """The released NB201 sampler settings (``config/config201.yml``), ``force_uniform`` aside.

    iterations: sampling iterations (sampler_epochs - ranker_epochs = 105 - 55);
    batch_size: cells per iteration; noisy: share of each batch drawn uniformly;
    reuse: guided draws that share one FLOPs / params budget; max_trials: extra draws to
    meet a budget; top_k: queries per iteration; bins: histogram bins for FLOPs and params;
    kl_flops / kl_params / kl_ops: thresholds of the KL test; batch_factor: the top tier
    must hold at least this share of a histogram's counts to be used; low_tiers: the tiers
    (0 = best) the top tier is compared with (the released ``last_tier: 4`` -> tiers 4, 5
    counted from 1); force_uniform: draw budgets and ops uniformly (the released NB201
    config); update_tiers: tier embeddings from the sampled cells' predicted tiers, starting
    empty (released), else the trained ones, frozen.
    """
    iterations: int = 50
    batch_size: int = 128
    noisy: float = 0.5
    reuse: int = 25
    max_trials: int = 100
    top_k: int = 5
    bins: int = 5
    kl_flops: float = 0.35
    kl_params: float = 0.3
    kl_ops: float = 1.5
    batch_factor: float = 0.1
    low_tiers: tuple[int, ...] = (3, 4)
    force_uniform: bool = False
    update_tiers: bool = True

    def __post_init__(self):
        for name in ("iterations", "batch_size", "reuse", "top_k", "bins"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"SamplerConfig.{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.max_trials, bool) or not isinstance(self.max_trials, int) or self.max_trials < 0:
            raise ValueError(f"SamplerConfig.max_trials must be an integer >= 0, got {self.max_trials!r}")
        if not 0.0 <= self.noisy <= 1.0:
            raise ValueError(f"SamplerConfig.noisy must be in [0, 1], got {self.noisy!r}")
        if not 0.0 <= self.batch_factor <= 1.0:
            raise ValueError(f"SamplerConfig.batch_factor must be in [0, 1], got {self.batch_factor!r}")
        for name in ("kl_flops", "kl_params", "kl_ops"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"SamplerConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not self.low_tiers or any(isinstance(t, bool) or not isinstance(t, int) or t < 1
                                     for t in self.low_tiers):
            raise ValueError(f"SamplerConfig.low_tiers must name tiers >= 1 (0 is the top tier), "
                             f"got {self.low_tiers!r}")


# --------------------------------------------------------------------------- costs


@lru_cache(maxsize=1)
def cell_budget_units() -> np.ndarray:
    """(15625, 2) int64: MFLOPs and thousands of parameters (both rounded up) of each
    benchmark cell's 15 cells in the benchmark network, by benchmark index."""
    per_op = cell_costs().sum(axis=1)                       # (5 ops, 2): over the 15 cells
    raw = per_op[_index_ops()].sum(axis=1)                  # (15625, 6 edges, 2) -> (15625, 2)
    units = np.ceil(raw / np.array([1e6, 1e3])).astype(np.int64)
    units.setflags(write=False)
    return units


@lru_cache(maxsize=1)
def _code_to_index() -> np.ndarray:
    ops = _index_ops()
    lut = np.full(N_OPS ** N_EDGES, -1, dtype=np.int64)
    lut[ops @ (N_OPS ** np.arange(N_EDGES))] = np.arange(ops.shape[0])
    lut.setflags(write=False)
    return lut


def cells_from_ops(ops) -> np.ndarray:
    """(N,) benchmark indices of cells given as (N, 6) op indices (NB201_PRIMITIVES order,
    NB201_EDGES order); the inverse of ``nar.cell_op_indices``."""
    ops = np.asarray(ops, dtype=np.int64)
    if ops.ndim != 2 or ops.shape[1] != N_EDGES:
        raise ValueError(f"ops must have shape (N, {N_EDGES}), got {ops.shape}")
    if ops.size and (ops.min() < 0 or ops.max() >= N_OPS):
        raise ValueError(f"op indices must be in 0..{N_OPS - 1}, got {ops.min()}..{ops.max()}")
    return _code_to_index()[ops @ (N_OPS ** np.arange(N_EDGES))]


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class TierStats:
    """Histograms of one batch split by tier (tier 0 = best).

    flops_tops, params_tops: (bins,) upper edges of the bins (the budgets one can draw);
    flops, params: (n_tiers, bins) counts; ops: (n_tiers, 5) counts of each op over all
    edges of the tier's cells.
    """
    flops_tops: np.ndarray
    params_tops: np.ndarray
    flops: np.ndarray
    params: np.ndarray
    ops: np.ndarray


def _binned(values: np.ndarray, tiers: np.ndarray, n_tiers: int, bins: int):
    # The released binning: step = ceil(range / bins); a value v falls in the bin whose
    # upper edge is ceil((v - min) / step) * step + min (the minimum in the first bin).
    lo, hi = int(values.min()), int(values.max())
    step = max(math.ceil((hi - lo) / bins), 1)
    tops = lo + step * np.arange(1, bins + 1)
    k = np.clip(np.ceil((values - lo) / step).astype(np.int64), 1, bins) - 1
    counts = np.zeros((n_tiers, bins), dtype=np.int64)
    np.add.at(counts, (tiers, k), 1)
    return tops, counts


def tier_statistics(cells, tiers, *, n_tiers: int = 5, bins: int = 5) -> TierStats:
    """Histograms of ``cells`` (benchmark indices, arch strings...) split by ``tiers`` (N,)."""
    idx = _as_indices(cells)
    tiers = np.asarray(tiers, dtype=np.int64).reshape(-1)
    if idx.size == 0 or tiers.shape[0] != idx.shape[0]:
        raise ValueError(f"need one tier per cell and at least one cell, got {idx.size} cells "
                         f"and {tiers.shape[0]} tiers")
    if tiers.min() < 0 or tiers.max() >= n_tiers:
        raise ValueError(f"tiers must be in 0..{n_tiers - 1}, got {tiers.min()}..{tiers.max()}")
    units = cell_budget_units()[idx]
    flops_tops, flops = _binned(units[:, 0], tiers, n_tiers, bins)
    params_tops, params = _binned(units[:, 1], tiers, n_tiers, bins)
    ops = np.zeros((n_tiers, N_OPS), dtype=np.int64)
    np.add.at(ops, (np.repeat(tiers, N_EDGES), _index_ops()[idx].reshape(-1)), 1)
    return TierStats(flops_tops, params_tops, flops, params, ops)


def released_kl(top_counts, low_counts) -> float:
    """KL(softmax(top) || softmax(low)) / len, on raw counts, as the released code computes it."""
    top = torch.log_softmax(torch.as_tensor(np.asarray(top_counts, dtype=np.float64)), 0)
    low = torch.log_softmax(torch.as_tensor(np.asarray(low_counts, dtype=np.float64)), 0)
    return float((top.exp() * (top - low)).sum() / top.numel())


def top_tier_distribution(counts: np.ndarray, threshold: float, *, low_tiers=(3, 4),
                          batch_factor: float = 0.1) -> np.ndarray | None:
    """The top tier's normalised histogram, or None (draw uniformly) when the top tier
    holds fewer than ``batch_factor`` of all counts or when its KL to any low tier is below
    ``threshold``. counts: (n_tiers, K)."""
    counts = np.asarray(counts, dtype=np.float64)
    top = counts[0]
    if top.sum() == 0 or top.sum() < batch_factor * counts.sum():
        return None
    if any(released_kl(top, counts[t]) < threshold for t in low_tiers):
        return None
    return top / top.sum()


def draw_guided(n: int, stats: TierStats, config: SamplerConfig, rng: np.random.Generator):
    """``n`` benchmark indices drawn by the tier-guided rule (uniform where the KL test
    fails or ``config.force_uniform``); also returns which of FLOPs / params / ops were
    drawn from the top tier: ({'flops': bool, 'params': bool, 'ops': bool})."""
    def dist(counts, threshold):
        if config.force_uniform:
            return None
        return top_tier_distribution(counts, threshold, low_tiers=config.low_tiers,
                                     batch_factor=config.batch_factor)

    p_flops = dist(stats.flops, config.kl_flops)
    p_params = dist(stats.params, config.kl_params)
    p_ops = dist(stats.ops, config.kl_ops)
    units = cell_budget_units()
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        if i % config.reuse == 0:
            max_flops = rng.choice(stats.flops_tops, p=p_flops)
            max_params = rng.choice(stats.params_tops, p=p_params)
        tries = cells_from_ops(rng.choice(N_OPS, size=(config.max_trials + 1, N_EDGES), p=p_ops))
        ok = (units[tries, 0] <= max_flops) & (units[tries, 1] <= max_params)
        out[i] = tries[int(np.argmax(ok))] if ok.any() else tries[-1]
    return out, {"flops": p_flops is not None, "params": p_params is not None, "ops": p_ops is not None}


# --------------------------------------------------------------------------- search


def training_batch_statistics(train_cells, train_tiers, *, batch_size: int, bins: int, n_tiers: int,
                              rng: np.random.Generator) -> list[TierStats]:
    """Per-batch histograms of the training cells by true tier, batches of ``batch_size``
    in a random order (a last partial batch dropped unless it is the only one)."""
    order = rng.permutation(len(train_cells))
    starts = range(0, max(len(order) - batch_size, 0) + 1, batch_size)
    return [tier_statistics(train_cells[order[i:i + batch_size]], train_tiers[order[i:i + batch_size]],
                            n_tiers=n_tiers, bins=bins) for i in starts]


def sampler_search(ranker: NARRanker, train_cells, train_acc, *, dataset: str = "cifar10",
                   seed: int = 0, exclude=None, config: SamplerConfig | None = None,
                   **overrides) -> SearchCurve:
    """Search with NAR's sampler; returns the best-so-far test accuracy per query.

    ranker: a trained ``NARRanker``; train_cells / train_acc: what it was trained on (their
    per-batch histograms guide the sampler; they are never queried again); ``exclude``:
    further cells never to query (e.g. held-out cells whose accuracy was used). ``config``
    (default ``SamplerConfig()``) with fields overridden by keyword, e.g.
    ``force_uniform=True``. The curve's ``queried`` holds the queried benchmark indices in
    order (at most iterations x top_k) and ``log`` one dict per iteration: which of FLOPs /
    params / ops were drawn from the top tier, how many cells were predicted tier 0,
    queries so far.
    """
    if not isinstance(ranker, NARRanker):
        raise TypeError(f"sampler_search needs a NARRanker (it uses tiers), got {type(ranker).__name__}")
    config = dataclasses.replace(config or SamplerConfig(), **overrides)
    target_split(dataset)
    train_idx = _as_indices(train_cells)
    n_tiers = ranker.model.n_tiers
    if max(config.low_tiers) >= n_tiers:
        raise ValueError(f"low_tiers {config.low_tiers} name tiers beyond this ranker's {n_tiers} "
                         f"(valid: 1..{n_tiers - 1})")
    train_tiers = tiers_from_accuracy(train_acc, n_tiers)
    if train_tiers.shape[0] != train_idx.shape[0]:
        raise ValueError(f"{train_idx.shape[0]} training cells but {train_tiers.shape[0]} accuracies")
    rng = np.random.default_rng(seed)
    batches = training_batch_statistics(train_idx, train_tiers, batch_size=config.batch_size,
                                        bins=config.bins, n_tiers=n_tiers, rng=rng)
    reuse_stats = math.ceil(config.iterations / len(batches))
    bank = TierBank(n_tiers, ranker.model.n_tokens, ranker.model.d_model)
    known = set(train_idx.tolist()) | (set() if exclude is None else set(_as_indices(exclude).tolist()))
    queried: list[int] = []
    log = []
    n_guided = int(config.batch_size * (1 - config.noisy))
    for it in range(config.iterations):
        guided, used = draw_guided(n_guided, batches[it // reuse_stats], config, rng)
        batch = np.concatenate([guided, rng.integers(0, nb201.N_CELLS, config.batch_size - n_guided)])
        rng.shuffle(batch)
        probs, scores, feats = ranker.predict(batch, bank.means() if config.update_tiers else None)
        pred = probs.argmax(1)
        top = np.flatnonzero(pred == 0)
        new = 0
        for j in top[np.argsort(-scores[top], kind="stable")]:
            if new == config.top_k:
                break
            cell = int(batch[j])
            if cell not in known:
                known.add(cell)
                queried.append(cell)
                new += 1
        if config.update_tiers:
            bank.update(feats, torch.from_numpy(pred))
        log.append({"iteration": it + 1, **{f"guided_{k}": v for k, v in used.items()},
                    "predicted_tier0": int(top.size), "queries": len(queried)})
    queried_arr = np.asarray(queried, dtype=np.int64)
    acc = _column(dataset, "test")[queried_arr]
    curve = SearchCurve(np.maximum.accumulate(acc) if acc.size else [], queried=queried_arr, accuracy=acc,
                        dataset=dataset, target_split=ranker.target_split,
                        method="nar-sampler-uniform" if config.force_uniform else "nar-sampler", seed=seed)
    curve.log = log
    curve.config = config
    return curve


# --------------------------------------------------------------------------- comparison

SEARCHERS = ("tier-guided sampler", "uniform sampler", "random search")


def compare_samplers(ranker: NARRanker, train_cells, train_acc, seeds, *, dataset: str = "cifar10",
                     exclude=None, config: SamplerConfig | None = None,
                     **overrides) -> dict[str, list[SearchCurve]]:
    """{searcher: one curve per seed} for ``SEARCHERS``: the tier-guided sampler, the same
    sampler with ``force_uniform`` (the released NB201 config), and random search over as
    many untried cells as the larger of the two sampler runs of that seed queried. No
    searcher queries a training cell or one in ``exclude``."""
    config = dataclasses.replace(config or SamplerConfig(), **overrides)
    train_idx = _as_indices(train_cells)
    known = train_idx if exclude is None else np.concatenate([train_idx, _as_indices(exclude)])
    runs: dict[str, list[SearchCurve]] = {name: [] for name in SEARCHERS}
    for seed in seeds:
        guided = sampler_search(ranker, train_idx, train_acc, dataset=dataset, seed=seed,
                                exclude=exclude, config=config, force_uniform=False)
        uniform = sampler_search(ranker, train_idx, train_acc, dataset=dataset, seed=seed,
                                 exclude=exclude, config=config, force_uniform=True)
        n = max(len(guided), len(uniform))
        runs["tier-guided sampler"].append(guided)
        runs["uniform sampler"].append(uniform)
        runs["random search"].append(random_search(n, dataset=dataset, seed=seed, exclude=known))
    return runs


def summary_table(runs: dict[str, list[SearchCurve]]):
    """One row per searcher: queries, best test accuracy found (mean ± std over seeds),
    seeds whose queries include an optimum of the dataset, and for the samplers how many
    iterations drew ops / FLOPs / params from the top tier and the cells predicted tier 0."""
    from .tables import make_table
    dataset = next(iter(runs.values()))[0].dataset
    optima = {e.index for e in nb201.optima(dataset)}
    rows = []
    for name, curves in runs.items():
        best = np.array([c[-1] if len(c) else np.nan for c in curves])
        found = sum(bool(optima & set(c.queried.tolist())) for c in curves)
        spread = f" ± {np.nanstd(best, ddof=1):.2f}" if np.isfinite(best).sum() > 1 else ""
        row = [name, f"{np.mean([len(c) for c in curves]):.0f}",
               f"{np.nanmean(best):.2f}{spread}" if np.isfinite(best).any() else "–",
               f"{found}/{len(curves)}"]
        logs = [getattr(c, "log", None) for c in curves]
        if all(logs):
            its = len(logs[0])
            row.append(" / ".join(f"{np.mean([sum(e[f'guided_{k}'] for e in log) for log in logs]):.1f}"
                                  for k in ("ops", "flops", "params")) + f" of {its}")
            row.append(f"{np.mean([e['predicted_tier0'] for log in logs for e in log]):.1f}")
        else:
            row += ["–", "–"]
        rows.append(row)
    best_acc = nb201.accuracy(nb201.optimum(dataset).index, dataset)
    seeds = len(next(iter(runs.values())))
    return make_table(
        ["searcher", "queries", f"best {dataset} test (%)", "seeds that queried an optimum",
         "iterations drawing ops / FLOPs / params from tier 0", "cells predicted tier 0 per batch"],
        rows, notes=[
            f"{seeds} seeds; mean queries per search; best test accuracy found, mean ± sample std "
            f"over seeds (optimum {best_acc:.2f} %, {len(optima)} cell(s) tied). The samplers "
            f"query the best-scored new cells NAR predicts tier 0 in each batch; random search "
            f"queries as many untried cells. Training cells are excluded from every search."])
