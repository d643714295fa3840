"""Measurements that explain what a search does (used by the chapters).

`alpha_gradients` answers "which operations is the validation loss pushing up right
now?": the gradient of the method's validation objective with respect to α, per op,
averaged over edges and batches. A negative value means a gradient step *raises* that
op's α, i.e. its weight grows.
"""
from __future__ import annotations

import torch

from .search import SearchRun


def alpha_gradients(run: SearchRun, batches: int = 4) -> dict[str, dict[str, float]]:
    """Mean ∂L_val/∂α per op: {cell type: {op name: mean over edges and `batches` batches}}.

    Draws `batches` batches from the run's validation stream (advancing it, as a search
    step would); weights and α are left unchanged.
    """
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    model = run.model
    alpha_of = {t: model.arch[f"alpha_{t}"] for t in model.cell_types}
    sums = {t: torch.zeros(len(model.primitives), device=a.device) for t, a in alpha_of.items()}
    for _ in range(batches):
        x, y = run.val_loader.next()
        loss, _, _ = run.objective(model, x, y, alpha_level=True)
        grads = torch.autograd.grad(loss, list(alpha_of.values()))
        for t, g in zip(alpha_of, grads):
            sums[t] += g.mean(dim=0).detach()
    return {t: {op: float(v) / batches for op, v in zip(model.primitives, s)}
            for t, s in sums.items()}


@torch.no_grad()
def reconstruct(run: SearchRun, n: int = 8, seed: int = 0):
    """Original, masked and recovered images of an α-DARTS (mim) search, in pixel units [0, 1].

    Takes the first `n` images of the validation half (no augmentation), masks them with
    the run's patch size and ratio (a mask drawn from `seed`), and passes them through the
    supernet and its decoder in eval mode, so the run's state is not changed.
    Returns three tensors (n, C, H, W).
    """
    from .losses import apply_patch_mask, random_patch_mask

    cfg, model = run.cfg, run.model
    if not cfg.mim_loss or not hasattr(model, "decoder"):
        raise ValueError(f"{cfg.method} has no decoder; reconstruct needs mim_loss=True "
                         "(method 'mim-darts')")
    ds = run.val_data
    n = min(n, len(ds))
    images = ds.images[:n].to(run.device).float() / 255.0
    mean = torch.tensor(ds.mean, device=run.device).view(1, -1, 1, 1)
    std = torch.tensor(ds.std, device=run.device).view(1, -1, 1, 1)
    x = (images - mean) / std
    gen = torch.Generator(device=run.device).manual_seed(seed)
    mask = random_patch_mask(n, tuple(x.shape[-2:]), cfg.patch_size, cfg.mask_ratio, gen, run.device)
    masked = apply_patch_mask(x, mask, cfg.patch_size, cfg.mask_value)
    was_training = model.training
    model.eval()
    try:
        recon = model.decoder(model.features(masked))
    finally:
        model.train(was_training)
    if recon.shape[-2:] != x.shape[-2:]:
        recon = torch.nn.functional.interpolate(recon, size=x.shape[-2:], mode="bilinear",
                                                align_corners=False)
    to_pixels = lambda t: (t * std + mean).clamp(0, 1).cpu()  # noqa: E731
    return to_pixels(x), to_pixels(masked), to_pixels(recon)
