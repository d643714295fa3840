"""Counting the work of a step without a GPU: ATen ops that compute, saved activations,
and what one search step costs (`search_step_cost`).

Every computing ATen op becomes at least one kernel launch on a GPU, so the count per step
is a device-free proxy for what makes classic DARTS code launch-bound. Views (reshape,
slice, ...) are free and not counted.
"""
from __future__ import annotations

import collections

from torch.utils._python_dispatch import TorchDispatchMode

VIEW_OPS = frozenset({
    "detach", "view", "slice", "select", "split", "unbind", "expand", "transpose", "unsqueeze",
    "squeeze", "_reshape_alias", "reshape", "t", "alias", "as_strided", "permute", "empty",
    "chunk", "narrow", "_unsafe_view", "split_with_sizes", "lift_fresh", "empty_like"})


class CountOps(TorchDispatchMode):
    """``with CountOps() as c: step()`` then ``c.total`` and ``c.counts`` {op name: calls}."""

    def __init__(self):
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name not in VIEW_OPS:
            self.counts[name] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class SavedTensorBytes:
    """``with SavedTensorBytes() as s: loss = f(x)`` then ``s.mib``: MiB of distinct storages
    autograd saved for backward — the activation memory of a step, on any device."""

    def __enter__(self):
        import torch
        self._storages: dict[int, int] = {}

        def pack(t):
            storage = t.untyped_storage()
            self._storages[storage.data_ptr()] = storage.nbytes()
            return t

        self._hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)

    @property
    def mib(self) -> float:
        return sum(self._storages.values()) / 2**20


def saved_activation_mib(run, batches) -> float:
    """MiB autograd keeps for the backward of one w-level forward of a prepared search `run`
    on ``batches[:2]`` (images (B, C, H, W), labels (B,)): its activation memory. Leaves no
    gradients behind."""
    with SavedTensorBytes() as saved:
        loss = run.objective(run.model, batches[0], batches[1], alpha_level=False)[0]
    loss.backward()
    run.model.zero_grad(set_to_none=True)
    return round(saved.mib, 1)


def search_step_cost(run, steps: int = 3) -> dict:
    """What one search step (α-step then w-step) of a prepared search `run` costs on its
    device, on one fixed pair of training and validation batches.

    Returns ``ms_per_step`` (mean of `steps` timed steps after warm-up; on CUDA, CUDA-graph
    capture is excluded), ``peak_mib`` (peak CUDA memory from before warm-up; None on a CPU),
    ``saved_activation_mib`` (`saved_activation_mib`), ``weights`` (every supernet weight,
    frozen ones included) and ``trained_weights`` (those the w-step updates). The steps
    change the run's weights and α: use a run made for measuring.
    """
    import time

    import torch

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    batches = (*run.train_loader.next(), *run.val_loader.next())
    cuda = run.device.type == "cuda"
    if cuda:  # the peak from here: CUDA graphs allocate when captured
        torch.cuda.synchronize(run.device)
        torch.cuda.reset_peak_memory_stats(run.device)
    # on a GPU with CUDA graphs the first steps run eagerly, then the step is captured
    for _ in range(1 if run.graphed is None else run.graphed.warmup + 2):
        run.step(*batches, lr=run.cfg.w_lr, update_alpha=True)
    if cuda:
        torch.cuda.synchronize(run.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        run.step(*batches, lr=run.cfg.w_lr, update_alpha=True)
    if cuda:
        torch.cuda.synchronize(run.device)
    ms = 1000 * (time.perf_counter() - t0) / steps
    peak = torch.cuda.max_memory_allocated(run.device) / 2**20 if cuda else None
    return {"ms_per_step": ms, "peak_mib": peak,
            "saved_activation_mib": saved_activation_mib(run, batches),
            "weights": run.model.num_weights(),
            "trained_weights": sum(p.numel() for p in run.weights)}


# --- reading benchmark results (benchmarks/search_speed.py JSON) ---------------------------
SPEED_COLUMNS = (
    ("space", "space"), ("method", "method"), ("path", "engine"), ("batch_size", "batch"),
    ("ms_per_step", "ms / step"), ("speedup_vs_eager", "× vs eager"),
    ("ops_per_step", "ATen ops / step"), ("kernels_per_step", "CUDA kernels / step"),
    ("gpu_busy_ms", "GPU busy ms / step"), ("peak_gib", "peak GPU GiB"),
    ("peak_reserved_gib", "peak reserved GiB"), ("saved_activation_mib", "saved activations MiB"),
    ("projected_50_epoch_min", "50-epoch search, min (projected)"),
    ("profile_search_steps", "steps of a search at this profile"),
    ("projected_profile_search_min", "that search, min (projected)"),
    ("first_step_s", "first step s (compiling included)"),
    ("alpha_grad_rel_diff", "α-grad rel. diff vs eager"),
    ("eager_alpha_grad_rel_change_at_1e-7_weight_noise", "eager α-grad change at 1e-7 weight noise"),
    ("replay_alpha_grad_rel_diff", "replayed vs eager step, α-grad rel. diff"),
    ("eager_repeat_alpha_grad_rel_diff", "eager step repeated, α-grad rel. diff"),
)


def _cell(key: str, value) -> str:
    if value is None:
        return "–"
    if "rel_diff" in key or "rel_change" in key:
        return f"{value:.1e}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def speed_table(result: dict, omit: tuple[str, ...] = ()):
    """A `Table` of one benchmark JSON: the columns that file has values for, in a fixed
    order, less the keys in `omit`."""
    from .tables import make_table
    rows = [r for r in result["rows"] if "error" not in r]
    cols = [(k, label) for k, label in SPEED_COLUMNS
            if k not in omit and any(r.get(k) is not None for r in rows)]
    failed = [f"{r['method']} ({r['space']}, {r.get('path', 'every engine')}): {r['error']}"
              for r in result["rows"] if "error" in r]
    failed += [f"{r['method']} ({r['space']}, {r['path']}): not measured: "
               + "; ".join(f"{k} ({why})" for k, why in r["count_errors"].items())
               for r in rows if r.get("count_errors")]
    return make_table([label for _, label in cols],
                      [[_cell(k, r.get(k)) for k, _ in cols] for r in rows], failed)


def ops_before_after(before: dict, after: dict, path: str = "fused"):
    """A `Table`: ATen ops per step and saved activations of one engine (`path`) in two
    benchmark JSONs of the same shapes and device (e.g. two commits), per method and space,
    with the eager engine of `after` for scale."""
    from .tables import make_table
    if (before.get("shapes"), before["env"].get("device")) != (after.get("shapes"), after["env"].get("device")):
        raise ValueError("compare files of the same shapes and device: "
                         f"{before.get('shapes')}/{before['env'].get('device')} vs "
                         f"{after.get('shapes')}/{after['env'].get('device')}")
    rows = {(r["method"], r["space"], r.get("path")): r for r in after["rows"] if "error" not in r}
    old = {(r["method"], r["space"]): r for r in before["rows"]
           if "error" not in r and r.get("path") == path}
    out = []
    for (method, space, p), row in rows.items():
        if p != path or (method, space) not in old:
            continue
        eager = rows.get((method, space, "eager"), {})
        b = old[(method, space)]
        out.append([method, space, eager.get("ops_per_step", "–"), b["ops_per_step"],
                    row["ops_per_step"], f"{row['ops_per_step'] / b['ops_per_step']:.3f}",
                    _cell("saved_activation_mib", b.get("saved_activation_mib")),
                    _cell("saved_activation_mib", row.get("saved_activation_mib"))])
    return make_table(["method", "space", "eager ops/step", f"{path} ops/step before",
                       f"{path} ops/step after", "after / before", "saved activations MiB before",
                       "saved activations MiB after"], out)


def conv_choices_table(result: dict):
    """A `Table` of a `benchmarks/conv_choices.py` JSON: per space and kind of convolution,
    calls and ms per search step for each way of computing it, and the fastest of those
    that compute the same thing (relative difference to NCHW ≤ 1e-3; TF32 rounding is
    ~5e-4)."""
    from .tables import make_table
    variants = ("nchw", "nhwc", "bmm")
    agree: dict = {}
    for r in result["rows"]:
        for v in variants:
            d = r.get("max_rel_diff", {}).get(v)
            if d is not None and r["ms"].get(v) is not None:
                key = (r["space"], r["kind"], v)
                agree[key] = agree.get(key, True) and d <= 1e-3
    rows = []
    for s in result["summary"]:
        ms = s["ms_per_step"]
        ran = [v for v in variants if v in ms and (s["space"], s["kind"], v) in agree]
        same = [v for v in ran if agree[(s["space"], s["kind"], v)]]
        best = min(same, key=ms.get) if same else "–"
        rows.append([s["space"], s["kind"], s["calls_per_step"],
                     *(f"{ms[v]:.2f}" if v in ran else "–" for v in variants), best])
    return make_table(["space", "conv", "calls / step", "NCHW ms / step", "NHWC ms / step",
                       "matmul ms / step", "fastest (same result)"], rows)


def host_overhead_table(files: dict[str, dict]):
    """A `Table` of `benchmarks/host_overhead.py` JSONs ({file name: result}): host ms per
    forward and per forward + backward at tiny tensors, per file (commit), space and engine."""
    from .tables import make_table
    rows = []
    for name, result in files.items():
        commit = (result["env"].get("git_commit") or "unknown")[:7]
        for r in result["rows"]:
            rows.append([name, commit, r["space"], r["engine"], f"{r['forward_ms']:.1f}",
                         f"{r['forward_backward_ms']:.1f}"])
    return make_table(["file", "commit", "space", "engine", "forward ms", "forward + backward ms"],
                      rows)


def chapter_times_table(result: dict):
    """A `Table` of one `benchmarks/time_chapters.py` JSON: per chapter its wall time, the
    process's (imports included), and its slowest cell (first code line, seconds); a chapter
    that stopped on an error says so instead of a time."""
    from .tables import make_table
    rows = []
    for ch in result["chapters"]:
        slow = max(ch["cells"], key=lambda c: c["seconds"]) if ch.get("cells") else None
        wall = f"stopped: {ch['error']['error']}" if ch.get("error") else f"{ch['wall_s']:.1f}"
        rows.append([ch["chapter"], wall, f"{ch['process_s']:.1f}" if "process_s" in ch else "–",
                     f"{slow['seconds']:.1f} s: `{slow['first_line']}`" if slow else "–"])
    return make_table(["chapter", "wall s", "process s", "slowest cell"], rows, notes=[
        f"{result['profile']} profile, data: {result['dataset']}; one process per chapter, "
        f"cells run outside Jupyter (benchmarks/time_chapters.py)"])


def engine_agreement(result: dict) -> list[dict]:
    """Per method and space: the fused-vs-eager α-gradient difference beside the eager
    engine's own change under 1e-7 relative weight noise (both from the benchmark JSON)."""
    out = []
    by_key = {(r["method"], r["space"], r.get("path")): r for r in result["rows"] if "error" not in r}
    for (method, space, path), row in by_key.items():
        eager = by_key.get((method, space, "eager"), {})
        noise = eager.get("eager_alpha_grad_rel_change_at_1e-7_weight_noise")
        if path == "eager" or "alpha_grad_rel_diff" not in row or noise is None:
            continue
        out.append({"method": method, "space": space, "engine": path,
                    "difference": row["alpha_grad_rel_diff"], "eager_self_noise": noise,
                    "within_self_noise": row["alpha_grad_rel_diff"] <= noise})
    return out


def speed_provenance(result: dict) -> str:
    """One caption line: device, torch, date, commit and shapes of a benchmark JSON."""
    env = result["env"]
    return (f"{env.get('device_name')} · torch {env.get('torch')} · {result['shapes']} shapes · "
            f"commit {(env.get('git_commit') or 'unknown')[:7]} · {env.get('date', '')[:10]}")


# Issue 3's goals for one GPU at paper shapes (batch 64 in the DARTS space): what must hold.
SPEED_TARGETS = (
    # (goal, method, space, row key, upper bound, unit)
    ("DARTS space, first order: one search step", "darts", "darts", "ms_per_step", 50.0, "ms"),
    ("DARTS space, first order: 50-epoch search (projected from the step)", "darts", "darts",
     "projected_50_epoch_min", 20.0, "min"),
    ("DARTS space, second order: one search step", "darts-2nd", "darts", "ms_per_step", 150.0, "ms"),
    ("NAS-Bench-201, first order: 50-epoch search (projected from the step)", "darts", "nb201",
     "projected_50_epoch_min", 5.0, "min"),
    ("DARTS space, first order: peak GPU memory at batch 64", "darts", "darts", "peak_gib",
     8e9 / 2**30, "GiB"),
)
#: A CUDA-graph row counts only where its replay matched the eager step within these, or,
#: where larger, within twice the eager step's difference from itself re-run from the same
#: state (`eager_repeat_*`: nondeterministic kernels, e.g. atomics in a convolution's
#: backward; second order's finite differences magnify them). Only rows whose check restored
#: the whole state before each run (`replay_state_restored`) have such a yardstick: the first
#: GPU files' eager_repeat columns measured a fault of the check (tests/test_graphs.py).
REPLAY_TOLERANCE = {"replay_alpha_grad_rel_diff": 1e-3, "replay_val_loss_rel_diff": 1e-4}


def replay_limits(row: dict) -> dict[str, float]:
    """{replay key: the largest difference `replay_verified` accepts for this row}."""
    if not row.get("replay_state_restored"):
        return dict(REPLAY_TOLERANCE)
    return {k: max(tol, 2 * (row.get(k.replace("replay_", "eager_repeat_")) or 0.0))
            for k, tol in REPLAY_TOLERANCE.items()}


def replay_verified(row: dict) -> bool:
    """A graphs row whose replayed step matched the eager step (see REPLAY_TOLERANCE)."""
    return "replay_error" not in row and all(
        row.get(k) is not None and row[k] <= tol for k, tol in replay_limits(row).items())


#: A compiled row (`torch.compile`) counts only where its first step matched the eager
#: step's (same batch and state): relative α-gradient and loss differences within these,
#: or, where larger, within twice what the same benchmark measured as rounding: the eager
#: α-gradient's own change under a relative 1e-7 weight perturbation, and the fused
#: engine's differences (an engine shown equal to eager in float64 by the tests). A
#: compiler that reorders sums moves a float32 step by about as much; on the H100 the
#: NAS-Bench-201 α-gradient moved by 0.4 under that perturbation, and the fused step's loss
#: differed by 1e-3 (search_speed_paper_gpu*.json).
COMPILE_TOLERANCE = {"alpha_grad_rel_diff": 1e-3, "train_loss_rel_diff": 1e-4}
NOISE_KEY = "eager_alpha_grad_rel_change_at_1e-7_weight_noise"


def compile_verified(row: dict, rows: list[dict] = ()) -> bool:
    """A compiled row whose first step matched the eager one (COMPILE_TOLERANCE); `rows`:
    rows of the same benchmark file, whose eager and fused rows of the same method and space
    say how large rounding differences are there."""
    def same(path):
        return [r for r in rows if r.get("path") == path and "error" not in r
                and (r.get("method"), r.get("space")) == (row.get("method"), row.get("space"))]

    def largest(path, key):
        return max((r.get(key) or 0.0 for r in same(path)), default=0.0)
    limits = {k: max(tol, 2 * largest("fused", k)) for k, tol in COMPILE_TOLERANCE.items()}
    limits["alpha_grad_rel_diff"] = max(limits["alpha_grad_rel_diff"], 2 * largest("eager", NOISE_KEY))
    return all(row.get(k) is not None and row[k] <= tol for k, tol in limits.items())


def speed_targets(results: dict[str, dict]):
    """A `Table`: each of SPEED_TARGETS against the best GPU measurement at paper shapes in
    ``results`` ({file name: benchmark JSON}). Graphs rows whose replay was not verified, and compiled
    rows whose step was not checked against eager, are not counted (they are named in the
    notes); memory is read from eager and fused rows only
    where a file measured graphs memory after capture (no ``peak_reserved_gib``)."""
    from .tables import make_table
    rows, notes = [], []
    for goal, method, space, key, bound, unit in SPEED_TARGETS:
        found = []
        for name, result in results.items():
            # the goals are at paper shapes: a smaller profile's rows would flatter them
            if result.get("env", {}).get("device") != "cuda" or result.get("shapes") != "paper":
                continue
            if result.get("skip_noise"):   # an ablation's step, not the method's
                continue
            for r in result["rows"]:
                if (r.get("method"), r.get("space")) != (method, space) or "error" in r \
                        or r.get(key) is None:
                    continue
                graphs = str(r.get("path", "")).startswith("graphs")
                if graphs and not replay_verified(r):
                    notes.append(f"{goal}: graphs row in {name} not counted ({r[key]:g} {unit}): "
                                 "its replay check did not pass")
                    continue
                if "compiled" in str(r.get("path", "")) and not compile_verified(r, result["rows"]):
                    notes.append(f"{goal}: {r.get('path')} row in {name} not counted "
                                 f"({r[key]:g} {unit}): its step was not checked against eager, "
                                 "or differed")
                    continue
                if key == "peak_gib" and graphs and "peak_reserved_gib" not in r:
                    notes.append(f"{goal}: graphs row in {name} not counted: its peak was taken "
                                 "after the capture, which allocates the graph's memory")
                    continue
                found.append((r[key], r.get("path"), name))
        if not found:
            rows.append([goal, f"≤ {bound:.3g} {unit}", "not measured", "–", "–", "–"])
            continue
        value, path, name = min(found)
        rows.append([goal, f"≤ {bound:.3g} {unit}", f"{value:g} {unit}", path, name,
                     "yes" if value <= bound else "no"])
    return make_table(["goal", "target", "best measured", "engine", "file", "met"], rows,
                      list(dict.fromkeys(notes)))
