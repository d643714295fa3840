# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nas-kit/nas-kit-book/blob/main/book/ch04_random_features.ipynb)
#
# # Random features: RF-DARTS and RF-PCDARTS

# %% tags=["remove-cell"]
# Set-up (hidden in the book): make `nas_kit` importable.
# - In Colab, install it from GitHub (Colab's own torch is kept).
# - In a clone of the repository, run from book/, use the checkout.
import importlib
import importlib.util
import pathlib
import subprocess
import sys

if importlib.util.find_spec("nas_kit") is None:
    _root = pathlib.Path.cwd().resolve().parent
    if "google.colab" in sys.modules:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q",
             "git+https://github.com/nas-kit/nas-kit-book"],
            check=True,
        )
        importlib.invalidate_caches()
    elif (_root / "nas_kit" / "__init__.py").is_file():
        sys.path.insert(0, str(_root))

# %% [markdown]
# ## What you will see
#
# RF-DARTS (Zhang, Li, Zhang, Wang and Sun, CVPR 2023) makes a surprising change to
# DARTS: in the supernet **only BatchNorm is trained** (abstract), while α is searched as
# usual; we read this, as a secondary summary of the paper does, as every convolution
# frozen at its random initialisation and only the BatchNorm affine parameters (γ, β)
# trained. The paper's argument (abstract): random features "dilute the
# auxiliary-connection role of skip-connection" in supernet optimisation, so the search
# selects operations more fairly and no longer collapses. Our reading of it: skip's weight
# grows in DARTS partly because skip helps the *supernet* train, and with frozen random
# features there is little left for it to help. Applied to PC-DARTS the same idea gives
# RF-PCDARTS.
#
# This chapter compares, at your profile, on NAS-Bench-201 and with several seeds:
#
# 1. training **all** weights (DARTS), **BatchNorm only** (RF-DARTS) and **convolutions
#    only**: supernet accuracy, the weight of `skip_connect`, and the benchmark accuracy
#    of the derived cells;
# 2. what partial channels change in time (and GPU memory when there is a GPU);
# 3. a measurement that tests the "auxiliary role" argument: the α-gradient of skip versus
#    the convolutions under each regime.
#
# `nas_kit`'s reading of the method (the paper's method section was not available to us):
# every convolution is frozen, including the stem and the 1×1 preprocessing convolutions;
# the BatchNorms inside the cells become affine so that there is something to train; the
# final linear classifier is frozen too (`train_classifier=False`); the optimiser recipes
# are those of DARTS and PC-DARTS.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
import torch
from matplotlib.ticker import MaxNLocator

import nas_kit
from nas_kit import analysis, nb201, stored, viz

profile = nas_kit.get_profile()
print(nas_kit.describe_environment())
dataset = nas_kit.default_dataset(profile.name)
print(f"dataset: {dataset}")

# %% [markdown]
# ## What the paper reports
#
# * NAS-Bench-201, CIFAR-10 test accuracy **94.36 %** ("nearest optimal", abstract of
#   arXiv 2208.08835). A secondary listing, the PapersWithCode leaderboard, gives
#   94.27 % (CIFAR-10) and 72.94 % (CIFAR-100) test; we could not read the paper's own
#   table, so we could not check which of the two is a mean.
# * ImageNet: RF-DARTS 24.0 % top-1 error (transferred from CIFAR-10); RF-PCDARTS 23.9 %
#   top-1 / 7.1 % top-5 searched on ImageNet (abstract).

# %% [markdown]
# ## 1. All weights, BatchNorm only, convolutions only
#
# Three regimes, two seeds each, in the NAS-Bench-201 space (one line per run below):
#
# * `darts`: everything trains (the cells' BatchNorms have no affine parameters, as in
#   DARTS);
# * `rf-darts`: only BatchNorm γ, β train;
# * `darts` with `trainable="conv_only", affine=True`: the convolutions and the final
#   linear classifier train, every BatchNorm keeps γ = 1, β = 0 (RF-DARTS, by contrast,
#   freezes the classifier: `train_classifier=False`).

# %%
SEEDS = (0, 1)
REGIMES = {
    "all weights (DARTS)": dict(method="darts"),
    "BatchNorm only (RF-DARTS)": dict(method="rf-darts"),
    "convolutions only": dict(method="darts", trainable="conv_only", affine=True),
}
runs = {name: [nas_kit.search(space="nb201", dataset=dataset, profile=profile.name, seed=s,
                              out=f"runs/ch04_{i}_seed{s}", **kw) for s in SEEDS]
        for i, (name, kw) in enumerate(REGIMES.items())}
first = runs["all weights (DARTS)"][0]
print("data:", first["dataset_provenance"], "| device:", first["env"]["device_name"])

# %%
skip = first["primitives"].index("skip_connect")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharex=True)
for color, (name, recs) in zip(("tab:blue", "tab:orange", "tab:green"), runs.items()):
    for k, rec in enumerate(recs):
        ep = [e["epoch"] for e in rec["history"]]
        label = name if k == 0 else None
        axes[0].plot(ep, [e["train_acc"] for e in rec["history"]], color=color, marker="o", label=label)
        axes[1].plot(ep, [np.mean(np.array(e["weights"]["cell"])[:, skip]) for e in rec["history"]],
                     color=color, marker="o", label=label)
        axes[2].plot(*nb201.accuracy_per_epoch(rec), color=color, marker="o", label=label)
axes[0].set_ylabel("supernet training accuracy (%)")
axes[1].set_ylabel("mean softmax weight of skip_connect")
axes[2].set_ylabel("CIFAR-10 test accuracy of the\nderived cell (benchmark, %)")
for ax in axes:
    ax.set_xlabel("search epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
axes[2].legend(loc="center left", bbox_to_anchor=(1, 0.5))
fig.suptitle(f"NAS-Bench-201, {first['dataset_provenance']}, {profile.name} profile, seeds {SEEDS} (your runs)",
             fontsize=10)
fig.tight_layout()

# %%
for name, recs in runs.items():
    for seed, rec in zip(SEEDS, recs):
        cell = nas_kit.parse_genotype(rec["genotype"])
        e = nb201.lookup(cell)
        print(f"{name:26s} seed {seed}: skips {cell.skip_count()}  CIFAR-10 {e.cifar10_test:.2f} %  "
              f"CIFAR-100 {e.cifar100_test:.2f} %  ImageNet16-120 {e.imagenet16_test:.2f} %")
print("Source:", nb201.ATTRIBUTION)

# %% [markdown]
# **Reading the outputs stored with this book** (one execution at the `colab` profile on a
# CPU, two seeds; the chapter's first output line names it). Your own run may read
# differently: check each point against your printout.
#
# - α hardly moved in ten epochs: every regime's mean skip weight stays within a few
#   thousandths of the uniform 1/5, so each derived cell is decided by small margins.
# - DARTS itself did not collapse at this budget: its cells kept a few skips and score far
#   above the all-skip cell. These runs therefore cannot test whether training only
#   BatchNorm *avoids* a collapse; the paper-budget records of section 4 are there for that.
# - The convolutions-only control kept skip out of its cells just as RF-DARTS did, so a
#   cell without skips is not, at this budget, a sign of random features.
# - The BatchNorm-only supernet trained slowest, and its cells scored lowest on the
#   benchmark of the three regimes.

# %% [markdown]
# ## 2. Partial channels: what they buy
#
# PC-DARTS sends only 1/K of the channels (K = 4) through the candidate operations, which
# cuts the cost of the mixed ops; RF-PCDARTS adds random features. One search step of
# each, timed on your device in the DARTS space at your profile's network size, with the
# same batch size for all three:

# %%
def time_step(method, steps=3):
    run = nas_kit.prepare_search(method, "darts", dataset, profile=profile.name, seed=0,
                                 progress=False, batch_size=16, alpha_warmup_epochs=0)
    batches = (*run.train_loader.next(), *run.val_loader.next())
    if run.device.type == "cuda":   # peak from here: CUDA graphs allocate when captured
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    # warm-up: on a GPU the first steps run eagerly, then are captured as CUDA graphs
    for _ in range(1 if run.graphed is None else run.graphed.warmup + 2):
        run.step(*batches, lr=run.cfg.w_lr, update_alpha=True)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        run.step(*batches, lr=run.cfg.w_lr, update_alpha=True)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    ms = 1000 * (time.perf_counter() - t0) / steps
    peak = torch.cuda.max_memory_allocated() / 2**20 if run.device.type == "cuda" else None
    return ms, peak, run.model.num_weights()


for method in ("darts", "pc-darts", "rf-pcdarts"):
    ms, peak, n = time_step(method)
    mem = f", peak GPU memory {peak:.0f} MiB" if peak is not None else ""
    print(f"{method:11s} {ms:8.1f} ms per search step (batch 16){mem}; supernet weights {n:,}")

# %% [markdown]
# The weight count is every weight of the supernet, frozen ones included: RF-PCDARTS
# trains only its BatchNorm γ and β, and it counts more weights than PC-DARTS because its
# cells' BatchNorms have those affine parameters while PC-DARTS' have none.
#
# ## 3. Does training only BatchNorm change the α-gradient of skip?
#
# Chapter 2 measured which operations the validation loss pushes up. Here the same
# measurement, after 3 epochs of weight training (at your profile's data size) with α
# frozen, for all weights versus BatchNorm only. If random features take away an
# advantage skip has in a trained supernet, skip should be pushed up less (or pushed down
# more) with BatchNorm only than with all weights trained.

# %%
def promoted(method, **kw):
    probe = nas_kit.prepare_search(method, "nb201", dataset, profile=profile.name, seed=0,
                                   progress=False, epochs=3, alpha_warmup_epochs=3, **kw)
    for _ in range(probe.cfg.epochs):
        probe.run_epoch()
    return {op: -g for op, g in analysis.alpha_gradients(probe, batches=4)["cell"].items()}


push = {"all weights": promoted("darts"), "BatchNorm only": promoted("rf-darts")}
ops = list(push["all weights"])
fig, ax = plt.subplots(figsize=(8, 3.4))
width = 0.38
for k, (name, values) in enumerate(push.items()):
    ax.bar(np.arange(len(ops)) + (k - 0.5) * width, [values[o] for o in ops], width, label=name)
ax.set_xticks(np.arange(len(ops)), ops)
ax.axhline(0, color="black", lw=0.8)
ax.set_ylabel("−mean ∂L_val/∂α (push up > 0)")
ax.set_title(f"NAS-Bench-201 supernet after 3 epochs of weight training, {profile.name} profile", fontsize=9)
ax.legend()
fig.tight_layout()

# %% [markdown]
# In the outputs stored with this book, the validation loss pushes skip *down* in both
# regimes after 3 epochs, less strongly with BatchNorm only, and most operations' pushes
# are weaker with BatchNorm only.
#
# Each bar is a mean over only 4 validation batches, and that is too few for the
# BatchNorm-only bars. `python benchmarks/alpha_gradient_noise.py` repeats this probe
# (the same settings, `colab` profile, seed 0, the CIFAR-10 JPEG copy, on a 2-core CPU,
# nas_kit 4904af3, outside this execution) and reads 32 batches: all five
# all-weights bars keep their sign and stay at least two standard errors from zero, skip
# pushed down among them; with BatchNorm only, four of the five bars reverse their sign,
# skip's included, and only one is then two standard errors from zero. So with all weights
# trained skip is pushed down here, and with BatchNorm only this probe cannot tell skip's
# sign. With no advantage for skip to lose when all weights train, this probe cannot show,
# at this budget and this early in the search, the dilution the paper describes; whether that appears later in a search, or at the paper's
# budget, is not measured in this chapter. (The next execution of this chapter reads more
# batches, with `analysis.alpha_gradient_stats`.)
#
# ## 4. Stored records: the paper's budget, run on a GPU
#
# The sections above ran at your profile's budget. The stored records are paper-budget
# searches made with `nas_kit` on a GPU by `benchmarks/make_records.py`:
# RF-DARTS in both spaces (NAS-Bench-201: seeds 0–2), RF-PCDARTS in the DARTS space, and
# the convolutions-only control (`darts-convonly`), each planned for 50 epochs on the
# CIFAR-10 copy (JPEG re-encoded).
# Chapter 2's first-order DARTS records are shown with them as the baseline.
# `nas_kit.stored` loads them from `book/records/` and checks each file's checksum; the
# output says which records this copy of the book holds and which are not made yet, and
# the line under the table names their data, device, torch version and commit. A search
# that GPU time stopped before its last epoch is shown as a partial record, its epoch
# count (`12 of 50 epochs`) in the table and in the legends.

# %%
found = stored.load(stored.plan("ch04", "ch02"))   # ch02: the DARTS baseline
print(found.report())
if found.records:
    display(stored.summary_table(found.records), *viz.plot_stored(found.records))

# %% [markdown]
# ## The paper's claims and our measurements
#
# | claim (RF-DARTS paper) | your runs above | stored records (section 4) |
# |---|---|---|
# | training only BatchNorm avoids the collapse | section 1: skip weight and skip counts per regime | skip counts of `rf-darts-*` against `darts-convonly-nb201-s0` and ch02's DARTS records |
# | RF-DARTS reaches 94.36 % on NAS-Bench-201 (CIFAR-10) | section 1: benchmark accuracy of your cells | `rf-darts-nb201-s0..2`: C10 column |
# | random features dilute skip's auxiliary role | section 3: α-gradient of skip under each regime | – |
#
# The "your runs" column comes from the runs you just made, at the profile printed at the
# top (in the `smoke` profile it means nothing). Only complete stored records in section 4
# are paper-budget measurements; its output says which are partial and which this copy of
# the book lacks.
#
# ## Exercises
#
# 1. Let the classifier train as well (`train_classifier=True`). Does RF-DARTS still keep
#    skip away?
# 2. With BatchNorm only, the supernet learns far more slowly. Try a 10× larger weight
#    learning rate (`w_lr=0.25`). What happens to the supernet accuracy and to the cell?
# 3. Time `darts` and `rf-pcdarts` in NAS-Bench-201 (a copy of `time_step` with `"nb201"`
#    in place of `"darts"`). Do partial channels save as much there as in section 2's
#    DARTS-space timing, and why (hint: how many channels has a NAS-Bench-201 cell at
#    C=16)?
#
# ## References
#
# - X. Zhang, Y. Li, X. Zhang, Y. Wang, J. Sun. *Differentiable Architecture Search with
#   Random Features.* CVPR 2023. [arXiv:2208.08835](https://arxiv.org/abs/2208.08835)
# - Y. Xu et al. *PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture
#   Search.* ICLR 2020. [arXiv:1907.05737](https://arxiv.org/abs/1907.05737)
