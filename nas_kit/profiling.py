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
