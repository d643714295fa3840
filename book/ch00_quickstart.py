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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nas-kit/nas-kit-book/blob/main/book/ch00_quickstart.ipynb)
#
# # Quick start: one DARTS search, end to end

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
# This chapter runs the whole `nas_kit` workflow once, in a few cells:
#
# 1. a **DARTS search** in the small NAS-Bench-201 search space,
# 2. the **genotype** (the discrete cell) derived from it, drawn as a graph,
# 3. how the **architecture weights** moved during the search, and how many skip
#    connections the derived cell had after each epoch,
# 4. the same search in the larger **DARTS search space**, with its normal and
#    reduction cells,
# 5. the **run record**: the JSON file every search writes, and how to load it again.
#
# Later chapters use exactly these functions, so this is also a tour of the public API.
# The method is DARTS (Liu, Simonyan and Yang, *DARTS: Differentiable Architecture
# Search*, ICLR 2019); the small search space is the cell of NAS-Bench-201 (Dong and
# Yang, ICLR 2020).

# %% [markdown]
# ## The profile
#
# Every chapter runs at one of three budgets, chosen with the environment variable
# `NAS_KIT_PROFILE`:
#
# - `smoke`: a few seconds on a CPU, on a tiny **synthetic** dataset. It only checks that
#   the code runs; **its results mean nothing**, by design. Our tests run every chapter
#   this way.
# - `colab`: one T4-class GPU, a chapter within a class period, on real CIFAR-10.
# - `paper`: the published budget.
#
# Without the variable, `nas_kit` picks `colab` when a GPU is available and `smoke`
# otherwise. In Colab choose *Runtime → Change runtime type → T4 GPU* before you run.

# %%
import nas_kit
from nas_kit import viz

profile = nas_kit.get_profile()
print(nas_kit.describe_environment())

# %% [markdown]
# The `smoke` profile works offline, so it searches on synthetic images. The other
# profiles use CIFAR-10, which torchvision downloads the first time. (The environment
# variable `NAS_KIT_DATASET` picks another dataset, e.g. `cifar10-jpeg` for a local copy.)
# Every record states where its data came from (`record["dataset_provenance"]`, printed
# after the first search); the figure titles name the dataset (`cifar10-jpeg` is the JPEG
# re-encoded copy).

# %%
dataset = nas_kit.default_dataset(profile.name)
print(f"profile: {profile.name}, dataset: {dataset}")

# %% [markdown]
# ## The idea in four sentences
#
# A *cell* is a small directed graph: its nodes are feature maps, and each edge applies
# one operation (a 3×3 convolution, a skip connection, average pooling, ...). Instead of
# picking one operation per edge, DARTS puts **all** candidates on every edge and mixes
# their outputs with weights $\mathrm{softmax}(\alpha)$, where the **architecture
# parameters** $\alpha$ are one vector of numbers per edge. The resulting *supernet* is
# differentiable in both its ordinary weights $w$ and in $\alpha$, so DARTS trains both
# by gradient descent, alternating between them. At the end it keeps, on every edge, the
# operation with the largest weight: that discrete cell is the **genotype**.
#
# The alternation is a **bilevel** problem: the weights $w$ are trained on one half of
# the training images, and $\alpha$ is chosen to make the trained network good on the
# *other* half,
#
# $$
# \min_{\alpha}\; \mathcal{L}_{\text{val}}\bigl(w^{*}(\alpha), \alpha\bigr)
# \quad\text{where}\quad
# w^{*}(\alpha) = \arg\min_{w}\; \mathcal{L}_{\text{train}}(w, \alpha).
# $$
#
# DARTS does not solve the inner problem to the end: each step it takes one gradient step
# on $\alpha$ with a batch from the validation half and one step on $w$ with a batch from
# the training half (the *first-order* approximation used here). The DARTS code steps
# $\alpha$ first; the NAS-Bench-201 authors' code, which `nas_kit` follows in that space,
# steps $w$ first.

# %% [markdown]
# ## Search 1: NAS-Bench-201
#
# The NAS-Bench-201 cell has 4 nodes and 6 edges, and 5 candidate operations per edge
# (`none`, `skip_connect`, `nor_conv_1x1`, `nor_conv_3x3`, `avg_pool_3x3`). The genotype
# is simply the strongest operation on each edge.
#
# `nas_kit.search` runs the search, shows a progress bar, writes everything it measured
# to `runs/ch00_nb201/record.json`, and returns the same record as a dictionary.

# %%
record = nas_kit.search(
    method="darts", space="nb201", dataset=dataset,
    profile=profile.name, seed=0, out="runs/ch00_nb201",
)

# %% [markdown]
# The record stores the final genotype as a string; `nas_kit.parse_genotype` turns it
# back into a genotype object, which prints in the NAS-Bench-201 notation
# `|op~input|+|...|+|...|` and can be drawn.

# %%
print("data:", record["dataset_provenance"], "| device:", record["env"]["device_name"])
genotype = nas_kit.parse_genotype(record["genotype"])
print(genotype)
viz.draw_genotype(genotype)

# %% [markdown]
# In the drawing, the circles are the cell's nodes and each arrow is labelled with the
# operation chosen for that edge; `none` edges (no connection) are drawn dotted and grey.
#
# ### What is this cell worth?
#
# NAS-Bench-201 trained every one of its 15,625 cells for 200 epochs, so the true test
# accuracy of the cell we just found can be looked up instead of trained. `nas_kit` ships
# a compact copy of the benchmark's table (attribution below). In the `smoke` profile the
# cell is essentially random; in `colab` and `paper` it is the result of a real search.

# %%
from nas_kit import nb201

entry = nb201.lookup(genotype)
best = nb201.optimum("cifar10")
print(f"benchmark index {entry.index}: CIFAR-10 test {entry.cifar10_test:.2f} %, "
      f"CIFAR-100 {entry.cifar100_test:.2f} %, ImageNet16-120 {entry.imagenet16_test:.2f} % "
      f"(rank {nb201.rank(entry.index)} of {nb201.N_CELLS} on CIFAR-10)")
print(f"best cell on CIFAR-10: {best.cifar10_test:.2f} %  {best.arch}")
print("Source:", nb201.ATTRIBUTION)

# %% [markdown]
# ### How the architecture weights moved
#
# Each panel below is one edge of the cell. Its lines are the weights
# $\mathrm{softmax}(\alpha)$ of the candidate operations on that edge, after each search
# epoch. The genotype takes the highest line in each panel at the last epoch.
#
# Like every plotting function in `nas_kit.viz`, `plot_alpha_trajectories` only reads the
# record and returns a matplotlib figure: the notebook shows it because it is the last
# line of the cell, and `fig.savefig("alphas.png")` would save it.

# %%
viz.plot_alpha_trajectories(record)

# %% [markdown]
# ### Counting skip connections
#
# `nas_kit` derives a genotype after every epoch and stores it in the record. The next
# plot counts the skip connections in each of those genotypes. In long DARTS searches
# this count tends to grow until the cell is mostly skip connections, a failure known as
# *skip-connection collapse*; later chapters study it and the methods that prevent it.

# %%
viz.plot_skip_counts(record)

# %% [markdown]
# ## Search 2: the DARTS search space
#
# The DARTS space is larger. A cell has two input nodes (the outputs of the two previous
# cells), four intermediate nodes, and 8 candidate operations per edge, including
# separable and dilated convolutions. The network stacks two kinds of cells: *normal*
# cells keep the resolution, *reduction* cells halve it. To derive the genotype, every
# intermediate node keeps its two strongest incoming edges (ignoring `none`), each with
# its strongest operation.
#
# The call is the same; only `space` changes.

# %%
record2 = nas_kit.search(
    method="darts", space="darts", dataset=dataset,
    profile=profile.name, seed=0, out="runs/ch00_darts",
)
genotype2 = nas_kit.parse_genotype(record2["genotype"])
print(genotype2)
viz.draw_genotype(genotype2)

# %% [markdown]
# The architecture weights of the normal cell (pass `cell_type="reduce"` for the
# reduction cell):

# %%
viz.plot_alpha_trajectories(record2, cell_type="normal")

# %% [markdown]
# ## The run record
#
# Every search writes a `record.json` next to its checkpoints. It holds the method, the
# search space, the full configuration and seed, the dataset and where it came from, the
# device and library versions, and the per-epoch history: architecture weights, derived
# genotypes, losses, accuracies and wall time. Figures in this book are made from such
# records, and each caption names the record it used. `nas_kit.load_record` reads one
# back, so you can plot a run without repeating it:

# %%
loaded = nas_kit.load_record("runs/ch00_nb201/record.json")
print(sorted(loaded))
print(loaded["genotype"] == record["genotype"])

# %% [markdown]
# ## The same from the command line
#
# Everything above is also available as a command-line tool, which is handy for longer
# runs outside a notebook:
#
# ```bash
# python -m nas_kit search --method darts --space nb201 --dataset cifar10 \
#     --profile colab --seed 0 --out runs/x
# python -m nas_kit show runs/x/record.json --out runs/x/figs
# ```
#
# `search` writes `runs/x/record.json`; `show` draws the genotype and the plots of this
# chapter from a record into `runs/x/figs`.

# %% [markdown]
# ## Summary
#
# - DARTS relaxes the choice of one operation per edge into a softmax-weighted mixture
#   over all operations, with architecture parameters $\alpha$.
# - It trains the network weights and $\alpha$ by alternating gradient steps on two
#   halves of the training data (a bilevel problem).
# - The genotype is read off the final $\alpha$: the strongest operation per edge (and,
#   in the DARTS space, the two strongest edges per node).
# - `nas_kit.search` returns and saves a run record; `nas_kit.viz` draws the cell, the
#   $\alpha$ trajectories and the skip-connection counts from it.
# - In the `smoke` profile all of this runs in seconds on synthetic data, and the
#   genotypes and curves it produces mean nothing.
#
# ## Exercises
#
# 1. Run the NAS-Bench-201 search again with `seed=1`. Does the genotype change? What
#    does that tell you about reporting a single search?
# 2. If you have a GPU (for example a Colab T4), run this chapter in the `colab` profile
#    and compare the skip-connection plot with the one from `smoke`. Which of the two can
#    you draw conclusions from, and why?
# 3. Open `runs/ch00_nb201/record.json` in a text editor or with `nas_kit.load_record`.
#    Find the dataset name, the device and the seed. Which fields would a reader need to
#    repeat your run exactly?
# 4. In the $\alpha$ trajectory plot of the NAS-Bench-201 run, find the edges whose
#    winning operation changed during the search, and how far apart the top two weights
#    end (`record["history"][-1]["weights"]`). What would the genotype have been had the
#    search stopped one epoch earlier, and how much would you trust a winner that leads by
#    0.01?
# 5. The DARTS-space genotype keeps two incoming edges per intermediate node. Count the
#    parameter-free operations (skip connections and pooling) in its normal cell. Why
#    might an edge with a parameter-free operation be easier to favour early in the
#    search?
#
# ## References
#
# - H. Liu, K. Simonyan, Y. Yang. *DARTS: Differentiable Architecture Search.* ICLR 2019.
#   [arXiv:1806.09055](https://arxiv.org/abs/1806.09055)
# - X. Dong, Y. Yang. *NAS-Bench-201: Extending the Scope of Reproducible Neural
#   Architecture Search.* ICLR 2020. [arXiv:2001.00326](https://arxiv.org/abs/2001.00326)
