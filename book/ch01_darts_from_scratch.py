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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nas-kit/nas-kit-book/blob/main/book/ch01_darts_from_scratch.ipynb)
#
# # DARTS from scratch

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
# This chapter takes DARTS (Liu, Simonyan and Yang, ICLR 2019) apart, piece by piece,
# with code you can run and change:
#
# 1. the **continuous relaxation**: one edge holding every candidate operation, mixed by
#    $\mathrm{softmax}(\alpha)$, small enough to print;
# 2. the two **search spaces** used in this book, the DARTS CNN space and NAS-Bench-201,
#    counted and drawn;
# 3. the **bilevel problem** and its **first- and second-order** α-gradients, with a
#    numeric check of the finite-difference Hessian-vector product DARTS uses;
# 4. **deriving a genotype** from α, on hand-made numbers;
# 5. a **search** at your profile in both spaces, your cells drawn beside the published
#    DARTS cells, and your NAS-Bench-201 cell looked up in the benchmark.

# %%
import torch

import nas_kit
from nas_kit import genotypes, nb201, viz

profile = nas_kit.get_profile()
print(nas_kit.describe_environment())
dataset = nas_kit.default_dataset(profile.name)
print(f"dataset: {dataset}")

# %% [markdown]
# ## 1. The continuous relaxation
#
# A cell is a small directed acyclic graph whose nodes are feature maps. Choosing an
# architecture means choosing one operation for every edge. DARTS makes that choice
# continuous: every edge $(i, j)$ computes **all** candidate operations $o \in
# \mathcal{O}$ and returns their mixture
#
# $$
# \bar o^{(i,j)}(x) = \sum_{o \in \mathcal{O}}
# \frac{\exp \alpha^{(i,j)}_o}{\sum_{o'} \exp \alpha^{(i,j)}_{o'}}\; o(x),
# $$
#
# so that the architecture becomes a vector of real numbers $\alpha^{(i,j)}$ per edge.
# Here is one such *mixed op* of the DARTS space, on a batch of two 4-channel 6×6 maps:

# %%
from nas_kit.spaces.mixed import MixedOp

torch.manual_seed(0)
ops = genotypes.DARTS_PRIMITIVES
edge = MixedOp(ops, "darts", channels=4, stride=1, affine=False)
x = torch.randn(2, 4, 6, 6)
alpha = torch.tensor([0.0, 0.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0])   # favour skip, then sep_conv_3x3
weights = torch.softmax(alpha, dim=0)
for name, w in zip(ops, weights):
    print(f"{name:13s} {w:.3f}")

# %% [markdown]
# The mixed op's output is exactly the weighted sum of the eight candidate outputs:

# %%
mixed = edge(x, weights)
by_hand = sum(w * op(x) for w, op in zip(weights, edge.ops))
print("output shape:", tuple(mixed.shape), "| equals the weighted sum:", torch.allclose(mixed, by_hand))

# %% [markdown]
# Because the output is differentiable in `weights`, and the weights in `alpha`, the
# gradient of any loss reaches α:

# %%
alpha.requires_grad_(True)
loss = edge(x, torch.softmax(alpha, 0)).square().mean()
loss.backward()
for name, g in zip(ops, alpha.grad):
    print(f"d loss / d alpha[{name}] = {g:+.4f}")

# %% [markdown]
# ## 2. The two search spaces
#
# **DARTS CNN space.** A cell has two input nodes (the outputs of the previous two
# cells), four intermediate nodes and 8 candidate operations per edge; every
# intermediate node sums a mixed op from each earlier node, so a cell has
# 2+3+4+5 = 14 edges. *Normal* cells keep the resolution, *reduction* cells (at 1/3 and
# 2/3 of the depth) halve it. All normal cells share one α matrix (14 × 8), all
# reduction cells another. Before the search, every edge is a mixed op of all 8
# candidates (each swatch on an edge is one candidate, in the colours every figure of this
# book uses); the four plain grey edges into $c_k$ are not searched: the output
# concatenates the four intermediate nodes:

# %%
viz.draw_search_space("darts")

# %% [markdown]
# The search network has 16 initial channels and 8 cells:

# %%
from nas_kit.spaces import DartsSupernet, NB201Supernet

darts_net = DartsSupernet(C=16, num_classes=10, layers=8)
print(f"DARTS search network: {darts_net.num_weights():,} weights (α excluded)")
print({name: tuple(a.shape) for name, a in darts_net.arch.items()})

# %% [markdown]
# The count matches the `param size = 1.930618MB` that the official DARTS code logs for
# its search network (quoted in the DARTS repository's issue #16): `nas_kit` builds the
# same network.
#
# **NAS-Bench-201.** A cell has 4 nodes, 6 edges and 5 candidate operations; its output
# is node 3. Three stages of 5 cells are joined by fixed ResNet blocks. One α (6 × 5) is
# shared by all 15 cells. Because the benchmark trained every one of the 5⁶ = 15,625
# possible cells, any cell a search finds can be *looked up* instead of trained.

# %%
viz.draw_search_space("nb201")

# %%
nb201_net = NB201Supernet(C=16, num_classes=10, cells_per_stage=5)
print(f"NAS-Bench-201 search network: {nb201_net.num_weights():,} weights (α excluded)")
print({name: tuple(a.shape) for name, a in nb201_net.arch.items()})

# %% [markdown]
# The best CIFAR-10 cell of NAS-Bench-201 (two cells tie for the best accuracy;
# `nb201.optimum` returns the one with the lower index, `nb201.optima` lists both), drawn:

# %%
best = nb201.optimum("cifar10")
print(best.arch, f"-> CIFAR-10 test {best.cifar10_test:.2f} %")
viz.draw_cell(nas_kit.parse_genotype(best.arch))

# %% [markdown]
# **How `nas_kit` runs a supernet fast.** Written as above, a DARTS cell runs its 14 edges
# one by one and, on each edge, its 8 operations one by one: many small operations, which
# on a GPU add up to tens of thousands of kernel launches per search step (the speed
# appendix has the measurement). But all the edges that leave one node
# apply the same operations to the *same input*, so `nas_kit` runs them together (one
# ReLU, one grouped convolution per operation type, one BatchNorm, one weighted sum). That
# is the default `engine="fused"`; `engine="eager"` is the edge-by-edge code, kept as the
# reference. Same weights, same function: on a small supernet, the two give the same loss
# and α-gradient, with far fewer operations (counted here, not timed; the book's speed
# appendix has the timings):

# %%
import copy

import torch.nn.functional as F

from nas_kit.profiling import CountOps

torch.manual_seed(0)
eager_net = DartsSupernet(C=8, num_classes=10, layers=5).set_engine("eager").double()
fused_net = copy.deepcopy(eager_net).set_engine("fused")
x, y = torch.randn(4, 3, 16, 16, dtype=torch.float64), torch.randint(0, 10, (4,))
results = {}
for name, net in (("eager", eager_net), ("fused", fused_net)):
    loss = F.cross_entropy(net(x), y)  # first call: the fused engine links its BN buffers
    net.zero_grad()
    with CountOps() as counter:
        loss = F.cross_entropy(net(x), y)
        loss.backward()
    results[name] = (loss.item(), net.arch["alpha_normal"].grad.clone(), counter.total)
(l_e, g_e, n_e), (l_f, g_f, n_f) = results["eager"], results["fused"]
print(f"loss: eager {l_e:.12f}, fused {l_f:.12f}")
print(f"largest α-gradient difference: {(g_e - g_f).abs().max().item():.1e} "
      f"(largest α-gradient {g_e.abs().max().item():.1e})")
print(f"operations for one forward + backward: eager {n_e:,}, fused {n_f:,}")

# %% [markdown]
# ## 3. The bilevel problem, first and second order
#
# DARTS searches α on one half of the training images while training the weights $w$ on
# the other half:
#
# $$
# \min_{\alpha}\; \mathcal{L}_{\text{val}}\bigl(w^{*}(\alpha), \alpha\bigr)
# \quad\text{s.t.}\quad
# w^{*}(\alpha) = \arg\min_{w}\; \mathcal{L}_{\text{train}}(w, \alpha).
# $$
#
# Training $w$ to convergence for every α step is out of the question, so DARTS
# approximates $w^*(\alpha)$ by **one** SGD step, $w' = w - \xi \nabla_w
# \mathcal{L}_{\text{train}}(w, \alpha)$, and differentiates through it:
#
# $$
# \nabla_\alpha \mathcal{L}_{\text{val}}(w', \alpha)
# - \xi\, \nabla^2_{\alpha, w} \mathcal{L}_{\text{train}}(w, \alpha)\,
#   \nabla_{w'} \mathcal{L}_{\text{val}}(w', \alpha).
# $$
#
# * **First order** (`darts`) drops the second term ($\xi = 0$): α follows $\nabla_\alpha
#   \mathcal{L}_{\text{val}}(w, \alpha)$. Cheap, and what most follow-up work uses.
# * **Second order** (`darts-2nd`) keeps it. The matrix-vector product is never formed:
#   with $v = \nabla_{w'} \mathcal{L}_{\text{val}}$ and a small $R$, DARTS uses the
#   central difference
#   $\bigl[\nabla_\alpha \mathcal{L}_{\text{train}}(w + Rv) - \nabla_\alpha
#   \mathcal{L}_{\text{train}}(w - Rv)\bigr] / 2R$ with $R = 0.01 / \lVert v \rVert$,
#   i.e. a step of length 0.01 in weight space.
#
# How good is that finite difference? We can compare it with the exact product from
# double back-propagation on a small supernet (in float64, so that rounding is not the
# issue):

# %%
from torch.nn import functional as F

torch.manual_seed(0)
net = NB201Supernet(C=8, num_classes=10, cells_per_stage=1).double()
x_t = torch.randn(32, 3, 16, 16, dtype=torch.float64)
y_t = torch.randint(0, 10, (32,))
params = net.weight_parameters()
alphas = net.arch_parameters()
v = [torch.randn_like(p) for p in params]
v_norm = torch.sqrt(sum((vi ** 2).sum() for vi in v))

# exact: gradient of <grad_w L_train, v> with respect to alpha
g = torch.autograd.grad(F.cross_entropy(net(x_t), y_t), params, create_graph=True)
exact = torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), alphas)[0]


def finite_difference(step_length):
    """Central difference with R = step_length / ||v||, weights restored afterwards."""
    radius = step_length / v_norm
    original = [p.detach().clone() for p in params]
    grads = []
    for sign in (+1, -1):
        with torch.no_grad():
            for p, o, vi in zip(params, original, v):
                p.copy_(o + sign * radius * vi)
        grads.append(torch.autograd.grad(F.cross_entropy(net(x_t), y_t), alphas)[0])
    with torch.no_grad():
        for p, o in zip(params, original):
            p.copy_(o)
    return (grads[0] - grads[1]) / (2 * radius)


for step_length in (0.01, 1e-3, 1e-5):
    err = (finite_difference(step_length) - exact).norm() / exact.norm()
    print(f"step length {step_length:g} (DARTS: 0.01): relative error {err:.2e}")

# %% [markdown]
# Read the three lines above before this paragraph: they were computed when this page
# was executed. With ReLUs, $\nabla_\alpha \mathcal{L}_{\text{train}}$ is only
# *piecewise* smooth in $w$: it jumps where a unit switches on or off. When the two
# evaluation points $w \pm Rv$ lie on different sides of such a switch, the difference
# picks up that jump divided by $2R$, so the error need not shrink with $R$ at all; it
# can even grow, until the step is small enough that no unit switches (the smallest
# step above). DARTS' step of length 0.01 is the published choice and `nas_kit` keeps it
# (`unroll_r=0.01`, a config key you can change), but this check shows that "second
# order" in DARTS is an approximation whose quality depends on the network. The test
# suite checks `nas_kit`'s second-order gradient against the exact unrolled
# hypergradient at a small step.
#
# **How different are the two orders?** On the same supernet, weights and batches, the
# first-order α-gradient $\nabla_\alpha \mathcal{L}_{\text{val}}(w, \alpha)$ against the
# second-order one that `darts-2nd` computes (`nas_kit.hypergradient`), here with the DARTS
# space's recipe for the weights: $\xi$ = their learning rate 0.025, momentum 0.9, weight
# decay 3·10⁻⁴, $R$ = 0.01 / ‖v‖. The two differ in three parts, each printed below as a
# fraction of the first-order gradient's length:
#
# * **at w′**: $\nabla_\alpha \mathcal{L}_{\text{val}}$ is taken after the virtual step,
#   at $w'$ instead of $w$;
# * **mixed term**: $-\xi \nabla^2_{\alpha, w} \mathcal{L}_{\text{train}}\, v$, computed
#   exactly by double back-propagation;
# * **finite-difference error**: what DARTS' central difference adds to the exact mixed
#   term (the error measured in the cell above).
#
# Also printed: how far apart the two gradients point (cosine), and on how many of the 6
# edges both push up the same operation most (the most negative gradient), for a fresh
# supernet and after 20 SGD steps on the training batch. Random images and labels on a
# tiny network: this shows orders of magnitude, not what a real search does.

# %%
from nas_kit.hypergradient import unrolled_alpha_grads
from nas_kit.methods import SearchConfig

recipe = SearchConfig()   # the DARTS space's defaults: w lr (ξ) 0.025, momentum 0.9, wd 3e-4
xi = recipe.w_lr
x_v, y_v = torch.randn(32, 3, 16, 16, dtype=torch.float64), torch.randint(0, 10, (32,))
w_opt = torch.optim.SGD(params, lr=xi, momentum=recipe.w_momentum, weight_decay=recipe.w_weight_decay)


def exact_parts(buffers):
    """(∇α L_val at w', exact mixed term -ξ ∇²_{α,w} L_train v), by double backprop."""
    original = [p.detach().clone() for p in params]
    g = torch.autograd.grad(F.cross_entropy(net(x_t), y_t), params)
    with torch.no_grad():                  # DARTS' virtual step, as nas_kit.hypergradient takes it
        for p, o, gi, buf in zip(params, original, g, buffers):
            step = gi + recipe.w_weight_decay * o + (recipe.w_momentum * buf if buf is not None else 0)
            p.copy_(o - xi * step)
    grads = torch.autograd.grad(F.cross_entropy(net(x_v), y_v), alphas + params)
    at_w_prime, v = grads[0], grads[1:]
    with torch.no_grad():
        for p, o in zip(params, original):
            p.copy_(o)
    g = torch.autograd.grad(F.cross_entropy(net(x_t), y_t), params, create_graph=True)
    mixed = -xi * torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), alphas)[0]
    return at_w_prime, mixed


trained = 0
for steps in (0, 20):
    for _ in range(steps - trained):      # train the weights on the training batch
        w_opt.zero_grad()
        F.cross_entropy(net(x_t), y_t).backward()
        w_opt.step()
    trained = steps
    buffers = [w_opt.state[p].get("momentum_buffer") for p in params]
    first = torch.autograd.grad(F.cross_entropy(net(x_v), y_v), alphas)[0]
    second = unrolled_alpha_grads(
        params, alphas, lambda: F.cross_entropy(net(x_t), y_t),
        lambda: (F.cross_entropy(net(x_v), y_v), None), lr=xi, momentum=recipe.w_momentum,
        weight_decay=recipe.w_weight_decay, momentum_buffers=buffers, r=recipe.unroll_r)[0][0]
    at_w_prime, mixed = exact_parts(buffers)
    share = {name: ((part).norm() / first.norm()).item() for name, part in (
        ("second - first", second - first), ("at w'", at_w_prime - first), ("mixed term", mixed),
        ("finite-difference error", second - (at_w_prime + mixed)))}
    cosine = F.cosine_similarity(first.flatten(), second.flatten(), dim=0).item()
    same = (first.argmin(dim=1) == second.argmin(dim=1)).sum().item()
    print(f"after {steps:2d} SGD steps: cosine {cosine:.3f}; same operation pushed up most on "
          f"{same} of {first.shape[0]} edges; |part| / |first|: "
          + ", ".join(f"{k} {v:.2f}" for k, v in share.items()))

# %% [markdown]
# **Reading the outputs stored with this book** (your run prints its own lines above): the
# two gradients point in similar directions (cosine 0.92 on the fresh supernet, 0.85 after
# 20 steps) yet differ by about half the first-order gradient's length or more, and after
# 20 steps the same operation is pushed up most on only 3 of the 6 edges. The exact mixed
# term, the part that makes the method "second order", is the smallest of the three
# parts (0.04 and 0.14): most of the difference comes from evaluating at $w'$ (0.29, then
# 0.74) and from the finite difference's error (0.52, then 0.25), the error the cell
# above measured. Whether any of this changes the cell a search ends with is another
# question: exercise 6 asks it.
#
# ## 4. Deriving a genotype
#
# After the search, DARTS turns α into a discrete cell. In the DARTS space, every
# intermediate node keeps its **two strongest incoming edges**, ranked by their
# strongest operation other than `none`, and each kept edge takes that operation. A
# hand-made example: edge 0 (node 2 from input 0) prefers `sep_conv_3x3`, edge 1 (node 2
# from input 1) prefers `skip_connect`, and every edge gives `none` the largest weight of
# all, which the rule ignores:

# %%
w = torch.full((14, 8), 0.05)
w[:, ops.index("none")] = 0.5
w[0, ops.index("sep_conv_3x3")] = 0.3
w[1, ops.index("skip_connect")] = 0.25
derived = genotypes.derive_darts(w, w, ops)
print(derived.normal[:2])

# %% [markdown]
# In NAS-Bench-201 each edge simply takes its strongest operation, `none` included.
#
# ## 5. A search at your profile
#
# Now the real thing: first-order DARTS in the DARTS space, with the paper's recipe
# (SGD 0.025 with cosine annealing for $w$, Adam 3e-4 for α, α-step on the validation
# half then w-step on the training half) at the budget of your profile.

# %%
record = nas_kit.search(method="darts", space="darts", dataset=dataset,
                        profile=profile.name, seed=0, out="runs/ch01_darts")
print("data:", record["dataset_provenance"], "| device:", record["env"]["device_name"],
      "| profile:", record["profile"], "| epochs:", record["config"]["epochs"])
mine = nas_kit.parse_genotype(record["genotype"])
print(mine)

# %% [markdown]
# Your normal and reduction cells (from the record above; in the `smoke` profile they
# come from 2 epochs on synthetic images and mean nothing):

# %%
viz.draw_genotype(mine, title=f"your search ({record['profile']} profile, {record['dataset']})")

# %% [markdown]
# And the cells DARTS published (`DARTS_V1`: first order, `DARTS_V2`: second order;
# from `cnn/genotypes.py` of the official repository):

# %%
viz.draw_genotype(nas_kit.published("DARTS_V2"), title="DARTS_V2 (published)")

# %%
viz.draw_genotype(nas_kit.published("DARTS_V1"), title="DARTS_V1 (published)")

# %%
for name in ("DARTS_V1", "DARTS_V2"):
    print(f"{name}: {nas_kit.published(name).skip_count('normal')} skip connections in the normal cell")
print(f"your cell: {mine.skip_count('normal')} skip connections in the normal cell")

# %% [markdown]
# How the weights of your normal cell moved during the search:

# %%
viz.plot_alpha_trajectories(record, cell_type="normal")

# %% [markdown]
# ### Your NAS-Bench-201 cell, looked up in the benchmark
#
# The same method in the NAS-Bench-201 space (with the benchmark authors' DARTS recipe:
# nesterov SGD, weight decay 5e-4, w-step before α-step); the cell it derives is then
# looked up in the benchmark's table of 200-epoch accuracies.

# %%
record201 = nas_kit.search(method="darts", space="nb201", dataset=dataset,
                           profile=profile.name, seed=0, out="runs/ch01_nb201")
cell = nas_kit.parse_genotype(record201["genotype"])
entry = nb201.lookup(cell)
print(cell)
print(f"benchmark: CIFAR-10 test {entry.cifar10_test:.2f} %, CIFAR-100 {entry.cifar100_test:.2f} %, "
      f"ImageNet16-120 {entry.imagenet16_test:.2f} % (rank {nb201.rank(cell)} of {nb201.N_CELLS})")
print("Source:", nb201.ATTRIBUTION)
viz.draw_cell(cell)

# %% [markdown]
# ## The papers' numbers and ours
#
# | quantity | paper (source) | `nas_kit` |
# |---|---|---|
# | search network weights | 1.930618 M, logged by the official code (DARTS issue #16) | computed above |
# | DARTS_V2 network, 20 cells, C=36 | 3.3 M (official README) | see below |
# | DARTS_V2 CIFAR-10 test error | 2.76 ± 0.09 % (official README, mean of 10 runs, 600 epochs) | not trained here (see the exercise) |
# | DARTS (first order) on NAS-Bench-201, CIFAR-10 test | 54.30 % (NAS-Bench-201 paper, the all-skip cell) | chapter 2 |
#
# The weight counts of the two published cells, built by `nas_kit`:

# %%
from nas_kit.spaces.darts_network import DartsNetwork, num_weights

for name in ("DARTS_V1", "DARTS_V2"):
    net = DartsNetwork(nas_kit.published(name), C=36, num_classes=10, layers=20, auxiliary=True)
    print(f"{name}: {num_weights(net, exclude_aux=True) / 1e6:.3f} M weights (auxiliary head excluded)")

# %% [markdown]
# Stored paper-profile search records (50 epochs on the GPU) are not part of this
# chapter yet; every result shown above comes from the run you just made, at the
# profile printed at the top.
#
# ## Exercises
#
# 1. In section 1, set α to all zeros. What are the mixing weights, and what does the
#    mixed op compute? Why does DARTS initialise α near zero?
# 2. Add step lengths 0.1, 1e-4, 1e-6 and 1e-7 to the loop in section 3. For a smooth
#    function the error would trace a U: truncation error falling with the step, rounding
#    error rising as it shrinks. Does it here? Which points does the ReLU kink argument
#    explain, and where does rounding start to show?
# 3. In section 4, make `none` the strongest operation on *every* edge of node 2. Which
#    edges does the rule keep, and why is `none` excluded from the choice?
# 4. Re-run the searches with `seed=1`. Does the derived cell change? With the `colab`
#    profile on a GPU, count the skip connections in your normal cell and compare them
#    with DARTS_V1 and DARTS_V2.
# 5. Train your DARTS-space cell from scratch:
#    `python -m nas_kit train --genotype runs/ch01_darts/record.json --space darts
#    --dataset cifar10 --profile colab --out runs/ch01_train`. How far is the result from
#    the paper's 2.76 %, and which parts of the protocol (epochs, channels, cells) explain
#    the gap?
# 6. Run the NAS-Bench-201 search of section 5 again with `method="darts-2nd"`. How much
#    longer is a step (three more passes through the supernet), does the derived cell
#    differ from the first-order one, and how do their benchmark accuracies compare? In
#    this space the two also differ in step order (NAS-Bench-201's first-order DARTS takes
#    the weight step first, `step_order="w_first"`); add `step_order="alpha_first"` to the
#    first-order search to compare the gradient order alone. One seed decides little:
#    which run would you add to tell?
#
# ## References
#
# - H. Liu, K. Simonyan, Y. Yang. *DARTS: Differentiable Architecture Search.* ICLR 2019.
#   [arXiv:1806.09055](https://arxiv.org/abs/1806.09055); code: github.com/quark0/darts.
# - X. Dong, Y. Yang. *NAS-Bench-201: Extending the Scope of Reproducible Neural
#   Architecture Search.* ICLR 2020. [arXiv:2001.00326](https://arxiv.org/abs/2001.00326)
