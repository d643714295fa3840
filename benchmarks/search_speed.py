"""Search-step speed of every method: ms/step, images/s, kernels/step, peak memory -> JSON.

Runs the real bilevel step (`SearchRun.step`: α-step + w-step) of each registered method
on random data of the requested shapes, after warm-up steps, and projects the time of a
50-epoch search on the 25k/25k CIFAR-10 split. CPU (small shapes) and GPU (paper shapes)::

    python benchmarks/search_speed.py --shapes smoke --device cpu --out bench_cpu.json
    python benchmarks/search_speed.py --shapes paper --device cuda --out bench_h100.json

Only the eager path exists so far; a faster path will be added beside it as a column.
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
from nas_kit.records import environment  # noqa: E402
from nas_kit.search import cosine_lr  # noqa: E402

SEARCH_IMAGES = 25_000   # one half of the CIFAR-10 training set
EPOCHS = 50


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_kernels(run, batches, lr) -> int | None:
    """CUDA kernels launched by one step (torch.profiler), None on CPU."""
    if run.device.type != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run.step(*batches, lr, True)
        _sync(run.device)
    return sum(1 for e in prof.events() if e.device_type.name == "CUDA")


def bench_one(method, space, shapes, device, steps, warmup, batch_size=None):
    overrides = {} if batch_size is None else {"batch_size": batch_size}
    cfg_probe = nas_kit.resolve_config(method, space, "synthetic", profile=shapes, **overrides)
    bs = cfg_probe.batch_size
    n = 2 * bs * 4
    ds = data.synthetic(n=n, image_size=32, seed=0)
    run = nas_kit.prepare_search(method, space, ds, profile=shapes, device=device, progress=False,
                                 limit=None, **overrides)
    lr = cosine_lr(run.cfg, 0)
    batches = (*run.train_loader.next(), *run.val_loader.next())
    for _ in range(warmup):
        run.step(*batches, lr, True)
    _sync(run.device)
    if run.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(run.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        run.step(*batches, lr, True)
    _sync(run.device)
    ms = 1000 * (time.perf_counter() - t0) / steps
    peak = torch.cuda.max_memory_allocated(run.device) / 2**30 if run.device.type == "cuda" else None
    kernels = count_kernels(run, batches, lr)
    steps_per_epoch = SEARCH_IMAGES // bs
    return {
        "method": method, "space": space, "path": "eager", "batch_size": bs,
        "init_channels": run.cfg.init_channels,
        "cells": run.cfg.layers if space == "darts" else 3 * run.cfg.cells_per_stage,
        "ms_per_step": round(ms, 2), "images_per_s": round(2 * bs * 1000 / ms, 1),
        "kernels_per_step": kernels, "peak_gib": None if peak is None else round(peak, 3),
        "projected_50_epoch_min": round(ms * steps_per_epoch * EPOCHS / 60_000, 1),
        "steps_timed": steps,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", choices=nas_kit.PROFILES, default="smoke",
                   help="network/batch shapes of this profile (paper = C=16, 8 cells / NB201 N=5)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--methods", nargs="+", default=list(nas_kit.METHODS), choices=list(nas_kit.METHODS))
    p.add_argument("--spaces", nargs="+", default=["darts", "nb201"], choices=["darts", "nb201"])
    p.add_argument("--batch-size", type=int, default=None,
                   help="one batch size for all methods (default: each method's own)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: stdout only)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    for space in args.spaces:
        for method in args.methods:
            try:
                row = bench_one(method, space, args.shapes, device, args.steps, args.warmup,
                                args.batch_size)
            except torch.cuda.OutOfMemoryError as e:
                row = {"method": method, "space": space, "path": "eager", "error": f"OOM: {e}"[:300]}
                torch.cuda.empty_cache()
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"benchmark": "search_speed", "shapes": args.shapes, "env": environment(device),
              "host": platform.node(), "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
