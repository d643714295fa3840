"""How else could the convolutions of a fused search step run, and how fast? -> JSON.

With CUDA graphs the fused search step is GPU-bound (busy time = step time), so what is
left to gain is in the kernels themselves. Most of them are convolutions of unusual
shapes: depthwise k x k convs over E*C channels (PyTorch's own kernels in NCHW float32,
cuDNN in channels-last) and 1x1 convs grouped per edge (groups = E). This script records
every convolution one fused forward of the supernet runs (shapes, stride, padding,
dilation, groups), then times forward + backward (input and weight gradients) of each
distinct one at the profile's batch size, once per way of computing it:

- ``nchw``: F.conv2d as the engine calls it;
- ``nhwc``: the same with channels-last input and weight;
- ``bmm`` (1x1, stride 1, no padding only): ``torch.matmul`` of the per-group weights
  (G, C_out, C_in) with the input viewed as (N, G, C_in, H*W).

Every variant's output and gradients are compared with ``nchw`` (``max_rel_diff``), so a
faster variant is only a candidate where it computes the same thing. Per kind of conv the
summary adds up time x calls per search step (a first-order step runs each forward conv
twice, in the α-step and the w-step, each with its backward; the α-step needs no weight
gradient, timed here anyway: an upper bound).

    python benchmarks/conv_choices.py --shapes paper --device cuda --out conv_choices.json
    python benchmarks/conv_choices.py --shapes smoke --device cpu      # a quick check
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nas_kit  # noqa: E402
from nas_kit.records import environment  # noqa: E402
from nas_kit.spaces import build_supernet  # noqa: E402

VARIANTS = ("nchw", "nhwc", "bmm")


class RecordConvs(TorchDispatchMode):
    """Every aten.convolution call: {(input shape, weight shape, stride, padding, dilation,
    groups): calls}."""

    def __init__(self):
        super().__init__()
        self.calls: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution.default:
            x, w, _, stride, padding, dilation, transposed, _, groups = args
            if not transposed:
                self.calls[(tuple(x.shape), tuple(w.shape), tuple(stride), tuple(padding),
                            tuple(dilation), groups)] += 1
        return func(*args, **(kwargs or {}))


def search_config(space: str, shapes: str, batch_size: int | None):
    """DARTS' search config at the profile's shapes (C, cells, batch size) on 32x32 RGB."""
    how = {} if batch_size is None else dict(batch_size=batch_size)
    return nas_kit.resolve_config("darts", space, "synthetic", profile=shapes, **how)


def convs_of_a_forward(space: str, shapes: str, batch_size: int | None) -> list[dict]:
    """The distinct convolutions of one fused forward at the profile's batch size (or
    `batch_size`), with their call counts. Recorded at batch 2 on the CPU (only the batch
    dimension changes with the batch size)."""
    cfg = search_config(space, shapes, batch_size)
    batch = cfg.batch_size
    torch.manual_seed(0)
    model = build_supernet(cfg, in_channels=3, num_classes=10).set_engine("fused")
    with RecordConvs() as rec:
        model(torch.randn(2, 3, 32, 32))
    out = []
    for (x, w, stride, padding, dilation, groups), calls in rec.calls.items():
        kind = ("depthwise" if groups == x[1] and groups > 1 else
                "1x1 grouped" if w[2:] == (1, 1) and groups > 1 else
                "1x1" if w[2:] == (1, 1) else f"{w[2]}x{w[3]}" + (" grouped" if groups > 1 else ""))
        out.append(dict(kind=kind, input=[batch, *x[1:]], weight=list(w), stride=list(stride),
                        padding=list(padding), dilation=list(dilation), groups=groups,
                        calls_per_forward=calls))
    return out


def _bmm_conv(x: torch.Tensor, w: torch.Tensor, groups: int) -> torch.Tensor:
    """A 1x1, stride-1, unpadded grouped conv as a matmul: (N, G*Ci, H, W) -> (N, G*Co, H, W)."""
    n, _, h, wd = x.shape
    co = w.shape[0] // groups
    out = torch.matmul(w.reshape(groups, co, -1), x.reshape(n, groups, -1, h * wd))
    return out.reshape(n, groups * co, h, wd)


def _run(variant: str, conv: dict, x: torch.Tensor, w: torch.Tensor, grad: torch.Tensor):
    """Forward + backward of one variant; returns (output, input grad, weight grad)."""
    if variant == "nhwc":
        x = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
        w = w.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    if variant == "bmm":
        y = _bmm_conv(x, w, conv["groups"])
    else:
        y = F.conv2d(x, w, None, conv["stride"], conv["padding"], conv["dilation"], conv["groups"])
    gx, gw = torch.autograd.grad(y, (x, w), grad)
    return y, gx, gw


def applies(variant: str, conv: dict) -> bool:
    if variant == "bmm":
        return (conv["weight"][2:] == [1, 1] and conv["stride"] == [1, 1]
                and conv["padding"] == [0, 0])
    return True


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_conv(conv: dict, device: torch.device, reps: int, warmup: int) -> dict:
    g = torch.Generator(device="cpu").manual_seed(0)
    x0 = torch.randn(conv["input"], generator=g).to(device)
    w0 = (torch.randn(conv["weight"], generator=g) * 0.1).to(device)
    x = x0.clone().requires_grad_()
    w = w0.clone().requires_grad_()
    with torch.no_grad():
        y_shape = F.conv2d(x0[:1], w0, None, conv["stride"], conv["padding"], conv["dilation"],
                           conv["groups"]).shape[1:]
    grad = torch.randn((conv["input"][0], *y_shape), generator=g).to(device)
    ref = _run("nchw", conv, x, w, grad)
    row = dict(conv, ms={}, max_rel_diff={})
    for variant in VARIANTS:
        if not applies(variant, conv):
            continue
        try:
            got = _run(variant, conv, x, w, grad)
            row["max_rel_diff"][variant] = max(
                ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
                for a, b in zip(got, ref))
            for _ in range(warmup):
                _run(variant, conv, x, w, grad)
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(reps):
                _run(variant, conv, x, w, grad)
            _sync(device)
            row["ms"][variant] = round((time.perf_counter() - t0) / reps * 1e3, 4)
        except Exception as exc:  # a variant that cannot run costs only its own cell
            row["ms"][variant] = None
            row.setdefault("errors", {})[variant] = f"{type(exc).__name__}: {exc}"[:300]
    return row


def summarize(rows: list[dict]) -> list[dict]:
    """Per kind of conv: ms per search step (2 forwards x calls) for each variant, counting
    a variant that does not apply (or failed) at the nchw time."""
    out = {}
    for r in rows:
        s = out.setdefault((r["space"], r["kind"]), {"space": r["space"], "kind": r["kind"],
                                                      "calls_per_step": 0, "ms_per_step": {}})
        s["calls_per_step"] += 2 * r["calls_per_forward"]
        for v in VARIANTS:
            ms = r["ms"].get(v) if r["ms"].get(v) is not None else r["ms"].get("nchw")
            if ms is not None:
                s["ms_per_step"][v] = round(s["ms_per_step"].get(v, 0.0)
                                            + 2 * r["calls_per_forward"] * ms, 3)
    return list(out.values())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", choices=nas_kit.PROFILES, default="paper")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--spaces", nargs="+", choices=("darts", "nb201"), default=["darts", "nb201"])
    ap.add_argument("--batch-size", type=int, default=None,
                    help="default: DARTS' search batch size at these shapes (per space)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: no CUDA device here; use --device cpu")
    rows = []
    for space in args.spaces:
        for conv in convs_of_a_forward(space, args.shapes, args.batch_size):
            row = dict(space=space, **time_conv(conv, device, args.reps, args.warmup))
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = dict(benchmark="conv_choices", shapes=args.shapes,
                  env=dict(environment(device),
                           cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                           matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32),
                  rows=rows, summary=summarize(rows))
    for s in result["summary"]:
        print(json.dumps(s), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
