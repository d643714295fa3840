"""Search-step speed of every method: ms/step, images/s, kernels/step, peak memory -> JSON.

Runs the real bilevel step (`SearchRun.step`: α-step + w-step) of each registered method
on random data of the requested shapes, after warm-up steps, and projects the time of a
50-epoch search on the 25k/25k CIFAR-10 split. CPU (small shapes) and GPU (paper shapes)::

    python benchmarks/search_speed.py --shapes smoke --device cpu --out bench_cpu.json
    python benchmarks/search_speed.py --shapes paper --device cuda --out bench_h100.json

Each method is measured with every engine asked for (default: eager and fused) in the
same process, so the rows compare like with like. Before timing, one step of each engine
on the same weights, α and batch is compared: the fused row carries the relative
difference of the α-gradient (`alpha_grad_rel_diff`) and of the two losses.
`ops_per_step` counts ATen ops that compute (any device; a proxy for kernel launches);
`kernels_per_step` counts CUDA kernels and `gpu_busy_ms` sums their durations (GPU only).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nas_kit  # noqa: E402
from nas_kit import data  # noqa: E402
from nas_kit.profiling import CountOps, saved_activation_mib  # noqa: E402
from nas_kit.records import environment  # noqa: E402
from nas_kit.search import _Meter, cosine_lr, set_skip_noise  # noqa: E402

#: What each benchmark engine name sets (`-cl`: weights and batches channels-last).
ENGINE_SETTINGS = {
    "eager": dict(engine="eager", cuda_graphs=False),
    "fused": dict(engine="fused", cuda_graphs=False),
    "graphs": dict(engine="fused", cuda_graphs=True),
    "fused-cl": dict(engine="fused", cuda_graphs=False, channels_last=True),
    "graphs-cl": dict(engine="fused", cuda_graphs=True, channels_last=True),
    "compiled": dict(engine="fused", cuda_graphs=False, compile=True),
    "graphs-compiled": dict(engine="fused", cuda_graphs=True, compile=True),
}
SEARCH_IMAGES = 25_000   # one half of the CIFAR-10 training set
EPOCHS = 50


def profile_search_steps(method: str, space: str, shapes: str, batch_size: int | None = None) -> int:
    """Search steps of one CIFAR-10 search of `method` at profile `shapes` (its epochs, data
    limit and batch size): what a chapter run at that profile makes, e.g. 390 for DARTS in
    NAS-Bench-201 at `colab` (10 epochs of 2,500 images in batches of 64). Epochs of an
    α warm-up count as full steps, so a projection from it is an upper bound there."""
    overrides = {} if batch_size is None else {"batch_size": batch_size}
    cfg = nas_kit.resolve_config(method, space, "cifar10", profile=shapes, **overrides)
    return cfg.epochs * data.search_steps_per_epoch("cifar10", cfg.limit, cfg.train_portion,
                                                    cfg.batch_size)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def profile_kernels(run, batches, lr, top: int = 8):
    """(CUDA kernels launched by one step, GPU busy ms: the sum of their durations, the
    `top` kernels by total time as [name, launches, ms]) from torch.profiler; Nones on CPU.
    Step time over busy time says how launch-bound the step is; the top kernels say where a
    GPU-bound step's time goes."""
    if run.device.type != "cuda":
        return None, None, None
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run.step(*batches, lr, True)
        _sync(run.device)
    return kernel_summary(prof.events(), top)


def kernel_summary(events, top: int = 8) -> tuple[int, float, list]:
    """(kernels, their summed duration in ms, the `top` kernel names by total duration as
    [name, launches, ms]) of profiler events; events on other devices are not counted."""
    kernels = [e for e in events if e.device_type.name == "CUDA"]
    by_name: dict[str, list] = {}
    for e in kernels:
        entry = by_name.setdefault(e.name, [0, 0.0])
        entry[0] += 1
        entry[1] += e.time_range.elapsed_us() / 1000
    heavy = sorted(by_name.items(), key=lambda kv: -kv[1][1])[:top]
    return (len(kernels), round(sum(v[1] for v in by_name.values()), 2),
            [[name[:120], n, round(ms, 2)] for name, (n, ms) in heavy])


def count_ops(run, batches, lr) -> int:
    with CountOps() as c:
        run.step(*batches, lr, True)
    return c.total


def _runs(method, space, shapes, device, engines, batch_size, skip_noise=0.0):
    """One prepared search per engine, all from the same seed: same weights and α. With
    `skip_noise` d > 0, the skip-noise ablation at its first epoch's scale d."""
    overrides = {} if batch_size is None else {"batch_size": batch_size}
    if skip_noise:
        overrides["skip_noise"] = skip_noise
    bs = nas_kit.resolve_config(method, space, "synthetic", profile=shapes, **overrides).batch_size
    ds = data.synthetic(n=2 * bs * 4, image_size=32, seed=0)
    runs, refused = {}, {}
    for engine in engines:
        torch.manual_seed(0)
        how = ENGINE_SETTINGS[engine]
        try:
            runs[engine] = nas_kit.prepare_search(method, space, ds, profile=shapes, device=device,
                                                  progress=False, limit=None, **how, **overrides)
            if skip_noise:
                set_skip_noise(runs[engine].model, skip_noise)   # what the loop sets at epoch 0
        except ValueError as e:  # CUDA graphs for a method they do not support; no torch.compile
            if engine in ("eager", "fused"):
                raise
            refused[engine] = str(e)
    return runs, refused


def eager_self_noise(method, space, shapes, device, batch_size, batches, lr, skip_noise=0.0) -> float:
    """The method's own float sensitivity: eager α-gradient with every weight scaled by
    (1 + 1e-7 N(0,1)) vs without. An engine difference below this is rounding, not a bug
    (second order's finite-difference Hessian at R = 0.01/||v|| is very sensitive)."""
    grads = []
    for noise in (0.0, 1e-7):
        run = _runs(method, space, shapes, device, ["eager"], batch_size, skip_noise)[0]["eager"]
        if noise:
            g = torch.Generator().manual_seed(5)
            with torch.no_grad():
                for p in run.weights:
                    p.mul_(1 + noise * torch.randn(p.shape, generator=g).to(p.device))
        run.step(*batches, lr, True)
        grads.append(torch.cat([a.grad.flatten() for a in run.model.arch_parameters()]).double())
    return float((grads[1] - grads[0]).norm() / grads[0].norm())


def check_graph_replay(run, batches, lr) -> dict[str, float]:
    """A replayed (CUDA graph) step vs the eager step from the same saved state, and the eager
    step vs itself run again from that state (nonzero where kernels are nondeterministic, e.g.
    atomics in a backward: the floor under which a replay difference is the GPU's, not ours)."""
    import copy
    # The run's whole state (weights, both optimisers, mask generator, RNGs), restored from
    # a fresh copy each time: optimisers adopt the loaded tensors and update them in place,
    # so reloading one saved copy twice would replay a mutated momentum (the w-first NB201
    # recipes) and an advanced mask generator (α-DARTS).
    saved = copy.deepcopy(run.state_dict())
    out = {}
    for how in ("graph", "eager", "eager again"):
        run.load_state_dict(copy.deepcopy(saved), source="the benchmark's saved state")
        meter = _Meter()
        if how == "graph":
            run.step(*batches, lr, True, None, meter)
        else:
            run.eager_step(*batches, lr, True, _Meter(), meter)
        out[how] = (torch.cat([a.grad.flatten() for a in run.model.arch_parameters()]).double(),
                    meter.result()["loss"])

    def rel(a, b):
        return {"alpha_grad_rel_diff": float((a[0] - b[0]).norm() / b[0].norm()),
                "val_loss_rel_diff": abs(a[1] - b[1]) / abs(b[1])}
    # replay_state_restored: rows written before this check restored the whole state (their
    # eager_repeat columns measured that fault, not the GPU) lack it; see REPLAY_TOLERANCE
    return {**{f"replay_{k}": v for k, v in rel(out["graph"], out["eager"]).items()},
            **{f"eager_repeat_{k}": v for k, v in rel(out["eager again"], out["eager"]).items()},
            "replay_state_restored": True}


def compare_first_step(runs, batches, lr) -> dict[str, dict[str, float]]:
    """Per engine: seconds of its first step (compiling included, where it compiles), and
    the relative α-gradient and loss differences of that step vs eager's."""
    grads, losses, first_s = {}, {}, {}
    for engine, run in runs.items():
        t0 = time.perf_counter()
        run.step(*batches, lr, True)
        _sync(run.device)
        first_s[engine] = round(time.perf_counter() - t0, 2)
        grads[engine] = torch.cat([a.grad.flatten() for a in run.model.arch_parameters()]).double()
        # the loss after the step, by the plain objective for every engine (the compiled
        # one's forward is checked by the α-gradient; a no-gradient pass would compile again)
        plain = getattr(run.objective, "objective", run.objective)
        with torch.no_grad():
            losses[engine] = plain(run.model, batches[0], batches[1], alpha_level=False)[0].item()
    out = {e: {"first_step_s": s} for e, s in first_s.items()}
    if "eager" not in runs:
        return out
    ref = grads["eager"]
    for e, g in grads.items():
        if e != "eager":
            out[e]["alpha_grad_rel_diff"] = float((g - ref).norm() / ref.norm())
            out[e]["train_loss_rel_diff"] = abs(losses[e] - losses["eager"]) / abs(losses["eager"])
    return out


def time_steps(run, batches, lr, steps, warmup):
    """(ms per step, peak allocated GiB, peak reserved GiB, seconds of the warm-up steps).
    Peaks count from before the warm-up: a CUDA graph's memory is allocated at capture, into
    a private pool that its replays then reuse without the allocator seeing it. The warm-up
    includes capturing graphs and compiling (the part of it `compare_first_step` has not
    already compiled)."""
    if run.device.type == "cuda":
        _sync(run.device)
        torch.cuda.empty_cache()   # what earlier engines' runs left cached is not this one's
        torch.cuda.reset_peak_memory_stats(run.device)
    t_warm = time.perf_counter()
    for _ in range(warmup):
        run.step(*batches, lr, True)
    _sync(run.device)
    t0 = time.perf_counter()
    warm_s = t0 - t_warm
    for _ in range(steps):
        run.step(*batches, lr, True)
    _sync(run.device)
    ms = 1000 * (time.perf_counter() - t0) / steps
    if run.device.type != "cuda":
        return ms, None, None, warm_s
    return (ms, torch.cuda.max_memory_allocated(run.device) / 2**30,
            torch.cuda.max_memory_reserved(run.device) / 2**30, warm_s)


def bench_method(method, space, shapes, device, steps, warmup, engines, batch_size=None,
                 skip_noise=0.0):
    """Rows (one per engine) for one method in one space (with the skip-noise ablation at
    scale `skip_noise` if > 0)."""
    runs, refused = _runs(method, space, shapes, device, engines, batch_size, skip_noise)
    first = next(iter(runs.values()))
    lr = cosine_lr(first.cfg, 0)
    batches = (*first.train_loader.next(), *first.val_loader.next())
    diffs = compare_first_step(runs, batches, lr)
    if "eager" in runs:
        diffs["eager"]["eager_alpha_grad_rel_change_at_1e-7_weight_noise"] = eager_self_noise(
            method, space, shapes, device, batch_size, batches, lr, skip_noise)
    rows = []
    for engine, run in runs.items():
        try:
            rows.append(_engine_row(method, space, engine, run, batches, lr, steps, warmup, diffs))
        except Exception as e:  # e.g. a capture that fails must not lose the other engines' rows
            if isinstance(e, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()
            rows.append({"method": method, "space": space, "path": engine,
                         "error": f"{type(e).__name__}: {e}"[:500]})
    rows += [{"method": method, "space": space, "path": e, "error": msg} for e, msg in refused.items()]
    if skip_noise:
        for r in rows:
            r["skip_noise"] = skip_noise
            if "alpha_grad_rel_diff" in r:   # replay_* compare the same engine's draws
                r["note"] = ("skip noise: the fused engine draws one noise tensor per edge group, "
                             "eager one per edge, so alpha_grad_rel_diff compares different draws")
    base = next((r for r in rows if r["path"] == "eager" and "error" not in r), None)
    for r in rows:
        if base is not None and r is not base and "error" not in r:
            r["speedup_vs_eager"] = round(base["ms_per_step"] / r["ms_per_step"], 2)
    return rows


def _engine_row(method, space, engine, run, batches, lr, steps, warmup, diffs) -> dict:
    """Timing, counts and memory of one engine's prepared run."""
    if run.graphed is not None:  # warm-up and capture must not be timed
        warmup = max(warmup, run.graphed.warmup + 2)
    ms, peak, peak_reserved, warm_s = time_steps(run, batches, lr, steps, warmup)
    if run.graphed is not None:  # its first step above was an eager warm-up step
        try:
            diffs.setdefault(engine, {}).update(check_graph_replay(run, batches, lr))
        except Exception as e:   # keep the timing; without the check, records will not use graphs
            diffs.setdefault(engine, {})["replay_error"] = f"{type(e).__name__}: {e}"[:300]
    bs = run.cfg.batch_size
    steps_per_epoch = SEARCH_IMAGES // bs
    # Counts are secondary: one that fails (e.g. the profiler) must not lose the timing.
    failures = {}

    def secondary(key, fn, *args):
        try:
            return fn(*args)
        except Exception as e:
            failures[key] = f"{type(e).__name__}: {e}"[:300]
            return None
    kernels, busy_ms, top_kernels = secondary("kernels_per_step", profile_kernels, run, batches,
                                              lr) or (None, None, None)
    row = {
        "method": method, "space": space, "path": engine, "batch_size": bs,
        "init_channels": run.cfg.init_channels,
        "cells": run.cfg.layers if space == "darts" else 3 * run.cfg.cells_per_stage,
        "ms_per_step": round(ms, 2), "images_per_s": round(2 * bs * 1000 / ms, 1),
        # a compiled pass runs generated kernels, not ATen ops: counting them means nothing
        "ops_per_step": (None if run.cfg.compile
                         else secondary("ops_per_step", count_ops, run, batches, lr)),
        "kernels_per_step": kernels, "gpu_busy_ms": busy_ms, "top_kernels": top_kernels,
        "saved_activation_mib": secondary("saved_activation_mib", saved_activation_mib, run, batches),
        "peak_gib": None if peak is None else round(peak, 3),
        "peak_reserved_gib": None if peak_reserved is None else round(peak_reserved, 3),
        "projected_50_epoch_min": round(ms * steps_per_epoch * EPOCHS / 60_000, 1),
        # the search a chapter makes at this profile (steps only: no evaluation, no capture)
        "profile_search_steps": (steps_at_profile := profile_search_steps(
            method, space, run.cfg.profile, bs)),
        "projected_profile_search_min": round(ms * steps_at_profile / 60_000, 2),
        "steps_timed": steps, "warmup_steps": warmup, "warmup_s": round(warm_s, 2),
        **diffs.get(engine, {}),
    }
    if failures:
        row["count_errors"] = failures
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", choices=nas_kit.PROFILES, default="smoke",
                   help="network/batch shapes of this profile (paper = C=16, 8 cells / NB201 N=5)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--methods", nargs="+", default=list(nas_kit.METHODS), choices=list(nas_kit.METHODS))
    p.add_argument("--spaces", nargs="+", default=["darts", "nb201"], choices=["darts", "nb201"])
    p.add_argument("--batch-size", type=int, default=None,
                   help="one batch size for all methods (default: each method's own)")
    p.add_argument("--engines", nargs="+", default=["eager", "fused"],
                   choices=list(ENGINE_SETTINGS),
                   help="graphs = fused + CUDA graphs (GPU only; second order as one captured "
                        "unrolled pass); -cl = channels-last weights and batches; compiled = "
                        "fused + torch.compile")
    p.add_argument("--skip-noise", type=float, default=0.0, metavar="D",
                   help="the skip-noise ablation at noise scale D (its first epoch's), rows "
                        "marked skip_noise; write them to their own --out file (the appendix "
                        "and make_records key rows by method, space and engine)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: stdout only)")
    p.add_argument("--append", action="store_true",
                   help="keep the rows already in --out (same shapes and device) and add these")
    args = p.parse_args(argv)
    if args.skip_noise < 0:
        p.error(f"--skip-noise {args.skip_noise}: the noise scale must be >= 0")
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    if args.append and args.out is not None and args.out.exists():
        before = json.loads(args.out.read_text())
        if before.get("shapes") != args.shapes or before["env"].get("device") != device.type \
                or before.get("skip_noise", 0.0) != args.skip_noise:
            p.error(f"--append: {args.out} holds {before.get('shapes')} shapes on "
                    f"{before['env'].get('device')} with skip noise {before.get('skip_noise', 0.0)}, "
                    f"not {args.shapes} on {device.type} with skip noise {args.skip_noise}")
        rows = list(before["rows"])
    for space in args.spaces:
        for method in args.methods:
            try:
                new = bench_method(method, space, args.shapes, device, args.steps, args.warmup,
                                   args.engines, args.batch_size, args.skip_noise)
            except torch.cuda.OutOfMemoryError as e:
                new = [{"method": method, "space": space, "error": f"OOM: {e}"[:300]}]
                torch.cuda.empty_cache()
            except Exception as e:  # one failing method must not lose the others' rows
                new = [{"method": method, "space": space, "error": f"{type(e).__name__}: {e}"[:500]}]
            for row in new:
                print(json.dumps(row), flush=True)
            rows.extend(new)
            result = {"benchmark": "search_speed", "shapes": args.shapes,
                      **({"skip_noise": args.skip_noise} if args.skip_noise else {}),
                      "env": environment(device), "host": platform.node(), "rows": rows}
            if args.out:  # after every method, so a run cut short still leaves its rows
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
