"""Extra objectives of the methods: Fair DARTS' zero-one loss and α-DARTS' masked image modelling.

α-DARTS (spec: ``rf_mim_nar.md`` §A.2): each image is cut into p×p patches, a random
ratio r of them is overwritten with a constant (in normalised units), the supernet sees
the masked image, a decoder on the last cell output recovers the pixels, and the loss is
the per-patch MSE averaged over masked patches only, against the normalised original.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def zero_one_loss(sigmoid_weights: list[torch.Tensor], kind: str = "l2") -> torch.Tensor:
    """Fair DARTS' zero-one loss over all σ(α) entries: −mean((σ−½)²) (l2) or −mean|σ−½| (l1).

    It is lowest when every weight sits at 0 or 1, which narrows the gap between the
    continuous supernet and the discrete cell derived from it.
    """
    w = torch.cat([t.reshape(-1) for t in sigmoid_weights])
    if kind == "l2":
        return -((w - 0.5) ** 2).mean()
    if kind == "l1":
        return -(w - 0.5).abs().mean()
    raise ValueError(f"unknown zero-one loss kind {kind!r}; valid: l2, l1")


def patch_grid(image_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    h, w = image_size
    if h % patch_size or w % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide the image size {h}x{w}; "
                         f"valid: the divisors of {math.gcd(h, w)}")
    return h // patch_size, w // patch_size


def random_patch_mask(batch: int, image_size: tuple[int, int], patch_size: int, ratio: float,
                      generator: torch.Generator, device) -> torch.Tensor:
    """Boolean mask (N, gh, gw), True = masked; exactly int(L·(1−ratio)) patches kept per image.

    Like MAE: a random permutation per image keeps its first L·(1−r) patches.
    """
    gh, gw = patch_grid(image_size, patch_size)
    n_patches = gh * gw
    keep = int(n_patches * (1.0 - ratio))
    noise = torch.rand(batch, n_patches, generator=generator, device=device)
    ranks = noise.argsort(dim=1).argsort(dim=1)
    return (ranks >= keep).view(batch, gh, gw)


def apply_patch_mask(x: torch.Tensor, mask: torch.Tensor, patch_size: int, value: float) -> torch.Tensor:
    """x (N, C, H, W), mask (N, H/p, W/p) -> x with masked patches set to `value`."""
    n, gh, gw = mask.shape
    p = patch_size
    # each patch flag broadcast over its p x p pixels (a view, no copy)
    pixel_mask = mask.view(n, 1, gh, 1, gw, 1).expand(n, 1, gh, p, gw, p).reshape(n, 1, gh * p, gw * p)
    return x.masked_fill(pixel_mask, value)


def masked_patch_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                     patch_size: int) -> torch.Tensor:
    """MSE per patch (mean over p·p·C values), averaged over masked patches only.

    pred, target: (N, C, H, W); mask: (N, H/p, W/p) bool. Unmasked pixels have no influence.
    """
    p = patch_size
    err = (pred - target) ** 2                                      # (N, C, H, W)
    n, c, h, w = err.shape
    per_patch = err.view(n, c, h // p, p, w // p, p).mean(dim=(1, 3, 5))  # (N, H/p, W/p)
    m = mask.to(per_patch.dtype)
    return (per_patch * m).sum() / m.sum().clamp_min(1.0)


def self_balanced(ce: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
    """α-DARTS' L = CE + L_rec / stopgrad(L_rec / CE).

    In value the second term equals CE; its gradient is the reconstruction gradient
    scaled by CE / L_rec, so neither loss needs a hand-tuned weight.
    """
    return ce + rec / (rec / ce).detach()


class MIMDecoder(nn.Module):
    """Recovers the input image from the last feature map (the "recovery head" of α-DARTS).

    (N, C, h, w) -> (N, out_channels, h·2^k, w·2^k), k = number of 2x upsamplings, so that
    the output matches the input size; values clamped to the range of normalised pixels.
    """

    def __init__(self, in_channels: int, out_channels: int, upsamplings: int,
                 clamp: tuple[float, float]):
        super().__init__()
        c = in_channels
        layers: list[nn.Module] = [
            nn.Conv2d(c, 4 * c, 3, padding=1), nn.Conv2d(4 * c, c, 1),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        ]
        for i in range(upsamplings):
            c_out = max(c // 2, 8)
            layers += [nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
            if i < upsamplings - 1:
                layers += [nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                           nn.BatchNorm2d(c_out), nn.ReLU()]
            c = c_out
        layers += [nn.Conv2d(c, out_channels, 3, padding=1), nn.Hardtanh(*clamp)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)
