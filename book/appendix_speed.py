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
# # Appendix: how fast is nas_kit
#
# Classic DARTS code is **launch-bound**: one search step (an α-step on a validation batch
# and a w-step on a training batch) runs the 8 candidate ops of 14 edges in 8 cells, each
# as a handful of tiny kernels, forward and backward, twice. Tens of thousands of kernel
# launches per step keep the GPU mostly idle. This page shows what `nas_kit` measures about
# that, and what each change bought. Every number below is read from a JSON file written by a
# script in `benchmarks/` (`search_speed.py` for the step times, `host_overhead.py` and
# `conv_choices.py` for the two tables that say so) or computed from those files by
# `make_records.py`; the caption under each table names the file, device, torch version,
# commit and date.
#
# The benchmark times the real step of the search loop (`SearchRun.step`) on data already
# on the device, after warm-up steps, for every method and both spaces, once per
# **engine**:
#
# - `eager`: the readable reference, edge by edge and op by op (`nas_kit/spaces/mixed.py`);
# - `fused`: the default engine; all edges that leave one node run as one batch — one ReLU, one
#   grouped convolution per op type, one BatchNorm over all their channels, one weighted
#   sum (`nas_kit/spaces/fused.py`). Since 2026-11-27 (commits 2c09c04, 3238bf9) a DARTS
#   cell's two input nodes run as one such batch (their convolutions grouped per node),
#   both pools share one BatchNorm, each cell gathers its op weights and counts its
#   BatchNorm batches once, and the weighted sum hands each op its gradient as a view, not
#   a copy: fewer ops per step than the fused engine before (table below). The GPU files
#   of the 2026-11-27 window were measured before that change. Same parameters, same function: before timing, the
#   benchmark runs one step of each engine on the same weights, α and batch and reports the
#   relative difference of the α-gradients (last column);
# - `graphs`: the fused engine with both passes of a step captured once as CUDA graphs and
#   replayed (`nas_kit/graphs.py`), the default on a CUDA device for first-order methods
#   (second order: its whole unrolled α-gradient captured as one pass; the skip-noise
#   ablation: its noise drawn inside the graph; both opt-in until a GPU has checked them);
#   checked against the eager step from the same state (*replayed vs eager*);
# - `-cl` variants: the same with channels-last weights and batches;
# - `compiled` and `graphs-compiled`: the fused engine (without and with CUDA graphs) with
#   each pass of the objective compiled by `torch.compile` (`compile=True`,
#   `nas_kit/compiled.py`): the elementwise work between convolutions runs as generated,
#   fused kernels. Compiling happens in the first steps: the *first step* column shows it.
#
# Columns: *ATen ops / step* counts the PyTorch operations that compute (views excluded),
# on any device — each is at least one kernel launch on a GPU; *CUDA kernels / step* comes
# from the profiler (GPU only); *saved activations* is the memory autograd keeps for one
# backward pass; the 50-epoch projection assumes the 25k/25k CIFAR-10 split.

# %% tags=["remove-cell"]
import importlib.util
import pathlib
import sys

if importlib.util.find_spec("nas_kit") is None:
    _root = pathlib.Path.cwd().resolve().parent
    if (_root / "nas_kit" / "__init__.py").is_file():
        sys.path.insert(0, str(_root))

# %%
import json
import pathlib

from IPython.display import display

from nas_kit.profiling import engine_agreement, speed_provenance, speed_table

RESULTS = pathlib.Path("../benchmarks/results")
results = {p.name: json.loads(p.read_text()) for p in sorted(RESULTS.glob("search_speed_*.json"))}
print(f"{len(results)} benchmark file(s) in {RESULTS}:", ", ".join(results) or "none "
      "(they are in the repository's benchmarks/results/, not in the pip package)")


def show(name, omit=()):
    if name not in results:
        print(f"{name}: not measured yet")
        return
    display(speed_table(results[name], omit))
    print(f"{name} — {speed_provenance(results[name])}")


# %% [markdown]
# ## On one NVIDIA H100, paper shapes
#
# DARTS space: C=16, 8 cells, each method at its paper's batch size; NAS-Bench-201: C=16,
# N=5. One file per GPU call (each caption names its machine, commit and date); these
# were the first:
#
# - `search_speed_eager_paper_h100.json`: the first measurement, eager engine only (the
#   fused engine did not exist yet);
# - `search_speed_paper_gpu.json` and `search_speed_paper_gpu_more.json`: eager, fused and
#   CUDA graphs side by side in one process per method, from the two calls of the GPU
#   window of 2026-11-27 (the first: DARTS in both spaces, then PC-DARTS and Fair DARTS in
#   the DARTS space before its time ran out; the second: the NAS-Bench-201 rows of five
#   methods, then RF-DARTS and α-DARTS in the DARTS space). Each call ran on a freshly
#   started machine: compare engines within a file, not the same engine across files
#   (the eager and fused NAS-Bench-201 steps, bound by how fast the host launches kernels,
#   differ by up to 1.6× between the two machines). The second file's `env` names commit
#   54bb399, a stale git state on the device machine's copy of the tree (that call was not
#   given the commit): the code that ran was commit fea3683 plus the *eager step repeated*
#   columns, without the state fix below (both committed in b6ec10b).
#
# Two faults of the benchmark itself showed up in that window and are fixed since; the two
# files keep what was measured:
#
# - the *replay check* (a replayed CUDA-graph step against the eager step, from the same
#   saved state) reloaded one saved optimiser state that the first step had already updated
#   in place, and never restored α-DARTS' mask generator. Where the α-gradient depends on
#   that state (NAS-Bench-201 recipes that take the w-step first, DARTS and RF-DARTS; every
#   α-DARTS step) even the eager step "repeated" differently: see the *eager step
#   repeated* column. Those graphs rows are not counted below until a GPU re-checks them.
#   Where the α-step comes first (every DARTS-space row except α-DARTS, and Fair DARTS and
#   PC-DARTS on NAS-Bench-201), replayed and eager steps were identical to the last bit;
# - the peak memory of a graphs row was read after the capture, which is when a CUDA graph
#   allocates its memory, so those rows understate it (fused rows run the same passes).

# %%
show("search_speed_eager_paper_h100.json")
for name in sorted(n for n in results if n.startswith("search_speed_paper_gpu")):
    show(name, omit=("ops_per_step", "saved_activation_mib", "alpha_grad_rel_diff",
                     "eager_alpha_grad_rel_change_at_1e-7_weight_noise"))

# %% [markdown]
# **Against the goals.** The speed issue sets five goals for one GPU; the best verified
# measurement of each, from the files above:

# %%
from nas_kit.profiling import speed_targets

display(speed_targets(results))

# %% [markdown]
# **Where the time goes now.** With CUDA graphs the host no longer sets the pace: the step
# time equals the GPU's busy time (the sum of its kernels' durations, from the profiler),
# so the next lever is fewer and fuller kernels, not fewer launches. In most eager and fused
# rows the GPU is busy for well under half of the step (the printout below gives the share
# per row): the rest is the host launching kernels while the GPU waits.

# %%
for name in sorted(n for n in results if n.startswith("search_speed_paper_gpu")):
    print(name)
    for r in results[name]["rows"]:
        if "error" not in r and r.get("gpu_busy_ms"):
            print(f"  {r['space']:6s} {r['method']:10s} {r['path']:9s} {r['ms_per_step']:7.1f} ms/step,"
                  f" GPU busy {r['gpu_busy_ms']:6.1f} ms ({100 * r['gpu_busy_ms'] / r['ms_per_step']:3.0f} %),"
                  f" {r['kernels_per_step']:,} kernels")
            for kernel, launches, ms in r.get("top_kernels") or []:   # newer files: heaviest kernels
                print(f"      {ms:6.2f} ms in {launches:5d} launches of {kernel[:70]}")

# %% [markdown]
# **What the stored records cost at these speeds.** The chapters show stored paper-budget
# searches (`nas_kit.stored.PLANS`: 52 runs). From the step times above (the fastest engine a
# record may use per method and space: CUDA graphs only where their replay was verified),
# `benchmarks/make_records.py --estimate` projects the GPU time of the search steps of each
# planned run; evaluation and set-up come on top. This is why most records are still
# missing: they wait for GPU time and for a faster step.

# %%
import importlib.util as _util


def planned_minutes(script):
    """GPU-minutes of search steps per (method, space) for the planned records, from the
    paper-shape GPU rows of the benchmark files above (`make_records.estimate_minutes`)."""
    spec = _util.spec_from_file_location("make_records", script)
    make_records = _util.module_from_spec(spec)
    spec.loader.exec_module(make_records)
    gpu_rows = {"rows": [row for r in results.values()
                         if r["env"].get("device") == "cuda" and r.get("shapes") == "paper"
                         for row in r["rows"]]}
    minutes = {}
    for plan in make_records.PLANS["all"]:
        est = make_records.estimate_minutes(plan, gpu_rows)
        if est is not None:
            minutes.setdefault((plan["method"], plan["space"]), []).append(est[0])
    return minutes, len(make_records.PLANS["all"])


MAKE_RECORDS = pathlib.Path("../benchmarks/make_records.py")
if not MAKE_RECORDS.is_file():
    print(f"{MAKE_RECORDS} not found: this estimate needs the repository's benchmarks/ "
          "folder (it is not in the pip package)")
else:
    minutes, n_planned = planned_minutes(MAKE_RECORDS)
    total = sum(sum(v) for v in minutes.values())
    print(f"{sum(len(v) for v in minutes.values())} of {n_planned} planned runs "
          f"benchmarked: {total:,.0f} GPU-minutes ({total / 60:.1f} h) of search steps on the H100")
    for (method, space), values in sorted(minutes.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {space:6s} {method:11s} {len(values)} run(s), {sum(values):7.1f} min")

# %% [markdown]
# ## On a GPU, the `colab` profile's shapes
#
# What a chapter's own searches cost: the network sizes and batch sizes of the `colab`
# profile (DARTS space C=8, 5 cells; NAS-Bench-201 C=16, N=2), with the number of steps
# one search makes at that profile (its epochs on its data limit) and that search's
# projected time (steps only: the per-epoch evaluation and the capture of CUDA graphs
# come on top). A T4, the GPU a student gets on Colab, is slower than the machine named
# in the caption; this is the measurement the `colab` budgets are to be sized from.

# %%
colab_files = sorted(n for n in results if n.startswith("search_speed_colab_gpu"))
for name in colab_files:
    show(name, omit=("ops_per_step", "saved_activation_mib", "projected_50_epoch_min",
                     "alpha_grad_rel_diff", "eager_alpha_grad_rel_change_at_1e-7_weight_noise"))
if not colab_files:
    print("search_speed_colab_gpu*.json: not measured yet (benchmarks/gpu_session.sh measures "
          "it in its next GPU window)")

# %% [markdown]
# ## On a GPU, the skip-noise ablation
#
# Chapter 3's "unfair advantage" ablation adds Gaussian noise to every skip connection. Its
# noise is drawn inside the captured passes (the CUDA generator advances at every replay)
# and its per-epoch scale is read from a tensor, so CUDA graphs can serve it; they stay
# opt-in for it until these rows (`search_speed.py --skip-noise 1.0`, DARTS at paper shapes)
# show the replayed step matching the eager one from the same state. The eager and fused
# engines draw their noise differently (one tensor per edge vs per group of edges), so
# their α-gradient difference compares different draws; the replay check does not.

# %%
noise_files = sorted(n for n in results if n.startswith("search_speed_skip_noise"))
for name in noise_files:
    show(name, omit=("ops_per_step", "saved_activation_mib", "profile_search_steps",
                     "projected_profile_search_min", "alpha_grad_rel_diff",
                     "eager_alpha_grad_rel_change_at_1e-7_weight_noise"))
if not noise_files:
    print("search_speed_skip_noise*.json: not measured yet (benchmarks/gpu_session.sh measures "
          "it in its next GPU window); until then the skip-noise search runs on the fused "
          "engine without CUDA graphs by default")

# %% [markdown]
# ## On a CPU (2 cores), smoke shapes
#
# The shapes of the `smoke` profile (DARTS space C=4, 5 cells; NAS-Bench-201 C=4, N=1;
# batch 16). Useful to compare engines, not as a forecast of GPU time: on a CPU the
# arithmetic, not the launches, dominates as soon as the network grows.

# %%
show("search_speed_smoke_cpu.json", omit=("projected_50_epoch_min", "profile_search_steps",
                                      "projected_profile_search_min"))

# %% [markdown]
# **Which kernels for the convolutions?** Most of a GPU-bound step is convolutions of
# unusual shapes: depthwise k x k over E*C channels and 1x1 convolutions grouped per edge.
# `benchmarks/conv_choices.py` records every convolution of one fused forward and times
# each, forward and backward, three ways: NCHW (what the engine runs; PyTorch's own
# depthwise kernels in float32), NHWC (channels-last, cuDNN), and for 1x1 convolutions a
# batched matmul. Each variant's output and gradients are compared with NCHW; the last
# column names the fastest variant that computes the same thing. Per search step means two
# forwards and their backwards per convolution (the α-step needs no weight gradient, timed
# anyway). The GPU window runs it first; a CPU file at smoke shapes shows the method only.

# %%
from nas_kit.profiling import conv_choices_table

conv_files = {p.name: json.loads(p.read_text()) for p in sorted(RESULTS.glob("conv_choices_*.json"))}
for name, result in conv_files.items():
    display(conv_choices_table(result))
    print(f"{name} — {speed_provenance(result)}")
if not any(r["env"].get("device") == "cuda" for r in conv_files.values()):
    print("Not measured on a GPU yet: benchmarks/gpu_session.sh runs it at the start of the next window.")

# %% [markdown]
# ## Fewer ops in the fused step (commits 2c09c04, 3238bf9), paper shapes, counted on a CPU
#
# The change of 2026-11-27 to the fused engine (see the engine list at the top) is not yet
# timed on a GPU. What a CPU can measure is the number of ATen ops a step runs, each at least
# one kernel on a GPU: the same benchmark at paper shapes (DARTS space C=16, 8 cells, batch
# 64; NAS-Bench-201 C=16, N=5), one step, run on the commit before the change and on the
# change itself. Counts on a CPU are not the GPU's (there, the optimiser updates all
# weights in a few multi-tensor ops; here it loops over them): compare the two files with
# each other, not with the H100 tables.

# %%
from nas_kit.profiling import ops_before_after

before_name, after_name = "search_speed_paper_cpu_fused_before.json", "search_speed_paper_cpu.json"
if before_name in results and after_name in results:
    display(ops_before_after(results[before_name], results[after_name]))
    for name in (before_name, after_name):
        print(f"{name} — {speed_provenance(results[name])}")
else:
    print("not measured yet")

# %% [markdown]
# ## `torch.compile`, on a CPU (2 cores), smoke shapes
#
# `compile=True` hands each pass of the objective (forward, losses, and through AOTAutograd
# their backward) to TorchInductor, which generates kernels that do several elementwise
# steps at once, and plans which activations to keep and which to recompute. A GPU is where
# it is meant to pay off (fewer kernels per step once CUDA graphs have removed the launch
# cost); it has not been timed on one yet (`benchmarks/gpu_session.sh` runs the
# `graphs-compiled` engine next time). On this CPU, the same benchmark at smoke shapes,
# eager vs fused vs compiled in one process, the compiler's cache empty: *first step* is the
# first step's wall time, compiling included; ATen ops are not counted for a compiled engine
# (its generated kernels are not ATen ops).

# %%
show("search_speed_smoke_cpu_compiled.json", omit=("projected_50_epoch_min",))

# %% [markdown]
# Compiled code sums in another order than eager code, so its α-gradient is not equal to the
# last bit: *Same function, how close?* below prints its difference next to the eager step's
# own float sensitivity, as for the fused engine. Records use a compiled engine only where a
# GPU benchmark measured it faster and its first step within twice what that benchmark
# measured as rounding (`nas_kit.profiling.compile_verified`).

# %% [markdown]
# **Host time.** Without CUDA graphs a step is launch-bound: its time is what the host
# spends per op. `benchmarks/host_overhead.py` measures that on the CPU with tensors so
# small that the arithmetic is negligible (batch 1, C=4, 8x8 inputs, the paper's cell
# counts), eager vs fused, on the commit before the fused cell kept a plan of its modules
# (no module lookups in a forward, commit 4e868ef; the benchmark script copied into the
# older tree to measure it) and after, two runs each: on this
# shared 2-core machine the forward + backward times vary between runs more than the
# forward-only ones (no autograd), which are the steadier measure.

# %%
from nas_kit.profiling import host_overhead_table

host_files = {p.name: json.loads(p.read_text()) for p in sorted(RESULTS.glob("host_overhead_*.json"))}
if host_files:
    display(host_overhead_table(host_files))
    for name, result in host_files.items():
        print(f"{name} — {speed_provenance(dict(result, shapes='tiny (batch 1, C=4, 8x8)'))}")
else:
    print("not measured yet")

# %% [markdown]
# **Same function, how close?** The fused α-gradient is compared with the eager one on the
# same weights, α and batch. As a yardstick, the benchmark also perturbs every weight of the
# eager run by a relative 1e-7 (float32 rounding is about 6e-8) and measures how much the
# eager α-gradient itself moves. A difference between engines below that yardstick is
# rounding, not a different algorithm. Second order stands out: its finite-difference
# Hessian-vector product (step R = 0.01/‖v‖, as in DARTS) crosses ReLU kinks, so even the
# eager engine's α-gradient is unstable at the float32 level (chapter 1 shows the same
# effect on a toy network). On the H100 both numbers are orders of magnitude larger than on
# the CPU, and the engines' difference is of the same size as the yardstick, sometimes a
# little above it (the ratio is printed per file). A likely cause, not yet measured: cuDNN
# convolutions run in TF32 by default on this GPU, rounding their inputs to a 10-bit
# mantissa (relative steps of about 5e-4).

# %%
for name, result in results.items():
    agreement = engine_agreement(result)
    if agreement:
        worst = max(a["difference"] / a["eager_self_noise"] for a in agreement)
        print(f"{name} ({result['env'].get('device_name')}): largest difference / yardstick"
              f" = {worst:.2f}")
    for a in agreement:
        print(f"{a['space']:6s} {a['method']:11s} {a['engine']}: α-grad differs by {a['difference']:.1e}"
              f" from eager; eager's own change at 1e-7 weight noise {a['eager_self_noise']:.1e}"
              f" -> {'within' if a['within_self_noise'] else 'ABOVE'} it")

# %% [markdown]
# ## What a chapter costs, cell by cell
#
# `benchmarks/time_chapters.py` runs each chapter's code cells in order, outside Jupyter, one
# process per chapter, and times every cell. The issues' budget for the `smoke` profile is
# 60 s per chapter on a CPU (what `nbval` runs in CI); for the `colab` profile, 15 minutes on
# a T4, which no file below measures yet.

# %%
from nas_kit.profiling import chapter_times_table

chapter_files = {p.name: json.loads(p.read_text()) for p in sorted(RESULTS.glob("chapter_times_*.json"))}
for name, result in chapter_files.items():
    display(chapter_times_table(result))
    print(f"{name} — {speed_provenance(dict(result, shapes=result['profile']))}")
if not chapter_files:
    print("not measured yet")

# %% [markdown]
# ## What each lever bought so far
#
# | lever | status | measured effect (tables above) |
# |---|---|---|
# | dataset resident on the device as uint8, random crop and flip on the device, one persistent iterator per half | built (`nas_kit/data.py`, `DeviceLoader`) | part of every row: no DataLoader workers, no host-to-device copy per step |
# | fused edges: shared ReLU, grouped convs, one BN and one weighted sum per node | built, default | compare the `eager` and `fused` rows: ATen ops per step, ms per step, saved activations |
# | a plan of each fused cell's modules: no module lookups in a forward (commit 4e868ef) | built, default; rebuilt when an op is replaced (tested) | host time per forward at tiny tensors, before and after (table above; CPU) |
# | fewer ops in the fused step: a DARTS cell's input nodes as one group, one BN for both pools, one weight gather and one BN-counter add per cell, op gradients as views (commits 2c09c04, 3238bf9) | built, default; exact against eager in float64 (`tests/test_fused.py`) | ATen ops per step, before and after, in the table above (CPU count; the GPU kernel count and time are not measured yet) |
# | CUDA graphs: both forward + backward passes of a step captured once and replayed; optimiser steps stay eager; α-DARTS' random patch masks drawn outside the graph; second order as one captured pass (virtual step, four passes, weights restored: the unrolled α-gradient never waits for the host); the skip-noise ablation's noise drawn inside the graph, its per-epoch scale read from a tensor (`nas_kit/graphs.py`) | built; the default on a CUDA device for first order since 2026-11-27 (`cuda_graphs=False` turns it off), second order and skip noise opt-in (`cuda_graphs=True`) until a GPU checks them (`search_speed.py --skip-noise 1.0` for the latter); its logic is tested on a CPU with a stand-in for the CUDA calls (second order: bit-identical searches) | H100: compare the `graphs` and `fused` rows; the step becomes GPU-bound (busy time ≈ step time) |
# | several searches sharing one GPU (one process each: a launch-bound step leaves the GPU idle for the others' kernels) | built for record making (`benchmarks/gpu_session.sh`, as many processes as step time / GPU busy time allows, at most 4) | records of 2026-11-27 carry `concurrent_runs` per epoch; their epoch times are those of a shared GPU |
# | `torch.compile` of each pass of the objective (`compile=True`; `nas_kit/compiled.py`): generated kernels for the elementwise work; a first-order pass differentiates only its own level's parameters | built, opt-in; every method's passes traced whole and a compiled search equal to the eager one, tested on a CPU; records use it where a GPU benchmark measured it faster and matching eager | CPU, smoke shapes: table above (with the compile time); not yet measured on a GPU |
# | channels-last weights and batches (`channels_last=True`: cuDNN's native NHWC layout, no transposes around each convolution) | built, opt-in; tested on a CPU against a float64 reference; benchmark engines `fused-cl`, `graphs-cl` | not yet measured on a GPU |
# | TF32 / bf16 | not tried (cuDNN convolutions already run in TF32 by PyTorch's default on the H100) | — |
#
# Only measured effects are listed; the empty rows are the next steps, and this page will
# show their numbers when they exist.
#
# Reproduce:
#
# ```bash
# python benchmarks/search_speed.py --shapes smoke --device cpu --steps 3 --warmup 1 --out cpu.json
# python benchmarks/search_speed.py --shapes paper --device cuda --steps 5 --warmup 2 \
#     --engines eager fused graphs --out gpu.json
# TORCHINDUCTOR_CACHE_DIR=/tmp/empty python benchmarks/search_speed.py --shapes smoke \
#     --device cpu --steps 5 --warmup 2 --engines eager fused compiled --methods darts \
#     --spaces nb201 darts --out cpu_compiled.json
# ```
