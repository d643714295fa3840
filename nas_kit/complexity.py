"""Parameters and multiply-adds of a network, measured with forward hooks.

``count(model, input_shape)`` runs one forward pass on a zero tensor and returns a
``Complexity``: the parameter count and the number of **multiply-adds (MACs) per image**.

What is counted
    * Convolutions (``nn.Conv1d/2d/3d``): one multiply-add per kernel weight per output
      position, i.e. ``output elements x (C_in / groups) x prod(kernel_size)``. The
      output size is measured, so stride, padding and dilation are all accounted for
      (dilation spreads a kernel out but does not change its number of taps); ``groups``
      (depthwise convolutions) divides the input channels each output sees.
    * ``nn.Linear``: ``in_features x out_features`` per input row (a (N, T, in) input has
      T rows per image).
    * A module called twice in one forward pass is counted twice (that is compute spent).

What is not counted
    Bias additions, BatchNorm, activations, pooling, element-wise sums and concatenation.
    This is the convention of the DARTS family's "FLOPs" (e.g. Fair DARTS' numbers come
    from ``thop`` with BN removed): what those papers call FLOPs is this multiply-add
    count, not 2x it. Transposed convolutions are refused (``NotImplementedError``) rather
    than miscounted.

Parameters: every parameter of the model (``sum(p.numel())``), except those under the
module prefixes in ``exclude`` (e.g. ``("auxiliary_head",)``: DARTS papers report the
evaluation network without its auxiliary classifier). Parameters shared between modules
are counted once.

The model is run in eval mode under ``torch.no_grad()`` (DARTS' auxiliary head only runs
in training mode, so its compute is not in the count either); its training mode is
restored afterwards.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

__all__ = ["Complexity", "count", "count_params", "module_macs"]


@dataclass(frozen=True)
class Complexity:
    """Parameters and multiply-adds per image of one network at one input shape."""

    params: int
    macs: int
    input_shape: tuple[int, ...]

    @property
    def params_m(self) -> float:
        """Parameters in millions."""
        return self.params / 1e6

    @property
    def macs_m(self) -> float:
        """Multiply-adds per image in millions (what DARTS-family papers call "M FLOPs")."""
        return self.macs / 1e6


def _excluded(name: str, exclude: Sequence[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in exclude)


def count_params(model: nn.Module, exclude: Sequence[str] = ()) -> int:
    """Number of parameters of ``model`` outside the module prefixes ``exclude``.

    ``named_parameters`` yields a shared parameter once, so shared weights count once.
    """
    exclude = _check_exclude(model, exclude)
    return sum(p.numel() for name, p in model.named_parameters() if not _excluded(name, exclude))


def _check_exclude(model: nn.Module, exclude: Sequence[str]) -> tuple[str, ...]:
    """The prefixes as a tuple; a prefix naming no submodule is a typo, so it is an error."""
    if isinstance(exclude, str):
        exclude = (exclude,)
    names = {name for name, _ in model.named_modules()}
    unknown = [p for p in exclude if p not in names]
    if unknown:
        sample = sorted(n for n in names if n and "." not in n)
        raise ValueError(f"exclude names no submodule: {unknown}; top-level modules: {sample}")
    return tuple(exclude)


def module_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    """Multiply-adds of one call of ``module`` (Conv or Linear) for the whole batch."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        raise NotImplementedError(f"transposed convolutions are not counted: {module}")
    if isinstance(module, nn.modules.conv._ConvNd):
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        rows = inputs[0].numel() // module.in_features
        return rows * module.in_features * module.out_features
    raise TypeError(f"no multiply-add rule for {type(module).__name__}; counted: Conv1d/2d/3d, Linear")


def _counted(module: nn.Module) -> bool:
    return isinstance(module, (nn.modules.conv._ConvNd, nn.Linear))


def count(model: nn.Module, input_shape: Sequence[int] = (1, 3, 32, 32), *,
          exclude: Sequence[str] = ()) -> Complexity:
    """Parameters (without ``exclude``d submodules) and multiply-adds per image.

    ``input_shape`` is the full input shape including the batch dimension (N >= 1); the
    multiply-adds are divided by N. Modules under ``exclude`` are left out of both counts.
    The forward pass runs on the device of the model's first parameter.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) < 2 or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be (N, C, ...) with every size >= 1, got {tuple(input_shape)}")
    exclude = _check_exclude(model, exclude)
    params = count_params(model, exclude)
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += module_macs(module, inputs, output)

    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            raise NotImplementedError(f"transposed convolution {name!r} is not counted: {module}")
        if _counted(module) and not _excluded(name, exclude):
            handles.append(module.register_forward_hook(hook))
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    if total % shape[0]:
        raise RuntimeError(f"{total} multiply-adds do not divide by batch size {shape[0]}")
    return Complexity(params=params, macs=total // shape[0], input_shape=shape)
