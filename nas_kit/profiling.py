"""Counting the work of a step without a GPU: ATen ops that compute.

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


# --- reading benchmark results (benchmarks/search_speed.py JSON) ---------------------------
SPEED_COLUMNS = (
    ("space", "space"), ("method", "method"), ("path", "engine"), ("batch_size", "batch"),
    ("ms_per_step", "ms / step"), ("speedup_vs_eager", "× vs eager"),
    ("ops_per_step", "ATen ops / step"), ("kernels_per_step", "CUDA kernels / step"),
    ("peak_gib", "peak GPU GiB"), ("saved_activation_mib", "saved activations MiB"),
    ("projected_50_epoch_min", "50-epoch search, min (projected)"),
    ("alpha_grad_rel_diff", "α-grad rel. diff vs eager"),
    ("eager_alpha_grad_rel_change_at_1e-7_weight_noise", "eager α-grad change at 1e-7 weight noise"),
    ("replay_alpha_grad_rel_diff", "replayed vs eager step, α-grad rel. diff"),
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
