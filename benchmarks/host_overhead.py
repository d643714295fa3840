"""Host time of a supernet forward and backward at tiny tensors -> JSON.

When a GPU step is launch-bound (the eager and fused engines without CUDA graphs), its
time is what the host spends per op: Python, module lookups, dispatch. This measures that
cost on the CPU with tensors so small (batch 1, C=4, 8x8 inputs) that the arithmetic is
negligible, for the paper's cell counts (DARTS 8 cells, NAS-Bench-201 N=5), eager vs fused
in one process. Medians of `--reps` timings after warm-up.

    python benchmarks/host_overhead.py --out host_overhead.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas_kit.records import environment  # noqa: E402
from nas_kit.spaces import DartsSupernet, NB201Supernet  # noqa: E402

NETWORKS = {
    "darts": lambda: DartsSupernet(4, 10, 8),
    "nb201": lambda: NB201Supernet(4, 10, 5),
}


def measure(space: str, engine: str, reps: int, warmup: int) -> dict:
    torch.manual_seed(0)
    model = NETWORKS[space]().set_engine(engine)
    x, y = torch.randn(1, 3, 8, 8), torch.randint(0, 10, (1,))

    def step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    for _ in range(warmup):
        step()
    fwd, both = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        both.append(time.perf_counter() - t0)
    with torch.no_grad():
        for _ in range(reps):
            t0 = time.perf_counter()
            model(x)
            fwd.append(time.perf_counter() - t0)
    return dict(space=space, engine=engine, forward_ms=round(statistics.median(fwd) * 1e3, 2),
                forward_backward_ms=round(statistics.median(both) * 1e3, 2), reps=reps)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for space in NETWORKS:
        for engine in ("eager", "fused"):
            rows.append(measure(space, engine, args.reps, args.warmup))
            print(json.dumps(rows[-1]), flush=True)
    result = dict(benchmark="host_overhead", env=environment("cpu"), rows=rows)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
