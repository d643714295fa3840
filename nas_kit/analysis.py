"""Measurements that explain what a search does (used by the chapters).

`alpha_gradients` answers "which operations is the validation loss pushing up right
now?": the gradient of the method's validation objective with respect to α, per op,
averaged over edges and batches. A negative value means a gradient step *raises* that
op's α, i.e. its weight grows. `alpha_gradient_stats` adds the standard error over
batches, so that a sign is only read where the batches agree on it. `alpha_updates` and
`decided_share` read a run record: how many α-steps a search had made by each epoch, and
how many of its weights were decided (near 0 or 1) then.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .search import SearchRun


def alpha_gradient_samples(run: SearchRun, batches: int = 4) -> dict[str, dict[str, np.ndarray]]:
    """∂L_val/∂α per op and batch: {cell type: {op name: array (batches,)}}, each entry the
    gradient averaged over the cell type's edges on one validation batch.

    Draws `batches` batches from the run's validation stream (advancing it, as a search
    step would); weights and α are left unchanged. The spread over batches is what decides
    whether a mean's sign can be read (see `alpha_gradient_stats`).
    """
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches must be an int >= 1, got {batches!r}")
    model = run.model
    alpha_of = {t: model.arch[f"alpha_{t}"] for t in model.cell_types}
    rows = {t: [] for t in alpha_of}
    for _ in range(batches):
        x, y = run.val_loader.next()
        loss, _, _ = run.objective(model, x, y, alpha_level=True)
        grads = torch.autograd.grad(loss, list(alpha_of.values()))
        for t, g in zip(alpha_of, grads):
            rows[t].append(g.mean(dim=0).detach().double().cpu())
    out = {}
    for t, r in rows.items():
        per_batch = torch.stack(r).numpy()          # (batches, n_ops)
        out[t] = {op: per_batch[:, k] for k, op in enumerate(model.primitives)}
    return out


def alpha_gradients(run: SearchRun, batches: int = 4) -> dict[str, dict[str, float]]:
    """Mean ∂L_val/∂α per op: {cell type: {op name: mean over edges and `batches` batches}}.

    Draws `batches` batches from the run's validation stream (advancing it, as a search
    step would); weights and α are left unchanged.
    """
    return {t: {op: float(v.mean()) for op, v in ops.items()}
            for t, ops in alpha_gradient_samples(run, batches).items()}


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """(mean, standard error of the mean) of 1-D ``values``: sample std (ddof=1) / sqrt(n)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def alpha_gradient_stats(run: SearchRun, batches: int = 16) -> dict[str, dict[str, tuple[float, float]]]:
    """(mean, standard error over batches) of ∂L_val/∂α per op: {cell type: {op: (m, se)}}.

    A mean within about two standard errors of zero has no sign the batches can vouch for;
    the standard error needs at least 2 batches.
    """
    if isinstance(batches, int) and not isinstance(batches, bool) and batches < 2:
        raise ValueError(f"a standard error needs batches >= 2, got {batches!r}")
    return {t: {op: mean_se(v) for op, v in ops.items()}
            for t, ops in alpha_gradient_samples(run, batches).items()}


def push_verdict(mean: float, se: float, z: float = 2.0) -> str:
    """How the validation loss moves an operation's α, read from its mean gradient
    ∂L_val/∂α and that mean's standard error: ``"up"`` (mean ≤ −z·se: descent raises α),
    ``"down"`` (mean ≥ z·se) or ``"undecided"`` (within z standard errors of zero)."""
    if not (se >= 0):
        raise ValueError(f"a standard error is >= 0, got {se!r}")
    if mean <= -z * se and mean != 0:
        return "up"
    if mean >= z * se and mean != 0:
        return "down"
    return "undecided"


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


def hard_op_weights(model, genotype) -> dict[str, torch.Tensor]:
    """Op weights {cell type: (E, n_ops)} that make the supernet compute a discrete cell:
    1 for each (edge, op) the genotype keeps, 0 elsewhere (an edge it drops gives zero)."""
    index = {tuple(e): i for i, e in enumerate(model.edges)}
    if model.space == "nb201":
        cells = {"cell": [e for e in genotype.edges()]}
    else:
        cells = {t: genotype.cell(t) for t in model.cell_types}
    device = next(iter(model.arch.values())).device
    out = {}
    for t, edges in cells.items():
        w = torch.zeros(len(model.edges), len(model.primitives), device=device)
        for op, src, dst in edges:
            if op == "none":
                continue
            if op not in model.primitives:
                raise ValueError(f"op {op!r} of the genotype is not in the supernet's "
                                 f"primitives {list(model.primitives)}")
            w[index[(src, dst)], model.primitives.index(op)] = 1.0
        out[t] = w
    return out


@torch.no_grad()
def discretization_gap(run: SearchRun, batches: int = 8) -> dict[str, float | str]:
    """Accuracy of the supernet with its relaxed weights vs with the derived cell's 0/1 weights.

    Same network, weights and validation batches (drawn from the run's validation stream,
    as an α-step sees them; BN uses batch statistics as during the search); only the op
    weights change. The gap is what deriving the cell throws away before any retraining.
    Works on a copy: the run's model, α and BN statistics are left unchanged.
    Returns {"supernet_acc", "derived_acc", "gap" (points), "genotype"}.
    """
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    import copy

    from .search import derive

    model = copy.deepcopy(run.model).train()
    genotype = derive(run.model, run.cfg)
    relaxed = (model.op_weights, model.edge_weights)
    hard = hard_op_weights(model, genotype)
    correct = {"supernet": 0, "derived": 0}
    seen = 0
    for _ in range(batches):
        x, y = run.val_loader.next()
        for name in correct:
            if name == "derived":
                model.op_weights, model.edge_weights = (lambda: hard), (lambda: None)
            else:
                model.op_weights, model.edge_weights = relaxed
            correct[name] += int((model(x).argmax(1) == y).sum())
        seen += y.shape[0]
    acc = {k: 100.0 * v / seen for k, v in correct.items()}
    return {"supernet_acc": acc["supernet"], "derived_acc": acc["derived"],
            "gap": acc["supernet"] - acc["derived"], "genotype": str(genotype)}


def steps_per_epoch(record: dict[str, Any]) -> int:
    """Search steps per epoch of a run record: its history's ``steps`` where recorded, else
    from its config (data limit or the dataset's training-set size, split, batch size,
    incomplete batches dropped)."""
    from .data import search_steps_per_epoch

    recorded = {e["steps"] for e in record["history"] if "steps" in e}
    if recorded:
        return recorded.pop()
    cfg = record["config"]
    try:
        return search_steps_per_epoch(record["dataset"], cfg.get("limit"), cfg["train_portion"],
                                      cfg["batch_size"])
    except ValueError as e:
        raise ValueError(f"the record stores no steps per epoch, and {e}") from None


def alpha_updates(record: dict[str, Any]) -> list[int]:
    """α-steps made by the end of each epoch of a run record (cumulative; epochs of an α
    warm-up add none). Adam typically moves each α by about its learning rate per step,
    so ``alpha_lr * alpha_updates`` is the scale of how far α can have moved; it is not a
    bound (steps exceed the learning rate when gradients grow faster than Adam's
    second-moment average follows)."""
    per_epoch = steps_per_epoch(record)
    done, out = 0, []
    for entry in record["history"]:
        done += entry.get("steps", per_epoch) if entry["alpha_updated"] else 0
        out.append(done)
    return out


def decided_share(record: dict[str, Any], low: float = 0.15, high: float = 0.85) -> list[float]:
    """Per epoch, the share (0 to 1) of a sigmoid search's op weights σ(α), all cells and
    edges, that are below `low` or above `high`: decided, in Fair DARTS' sense (its
    threshold is 0.85). Softmax weights of one edge sum to 1, so the question is asked of
    sigmoid records only."""
    if record.get("relaxation") != "sigmoid":
        raise ValueError(f"decided_share reads sigmoid weights; this record's relaxation is "
                         f"{record.get('relaxation')!r} (method {record.get('method')!r})")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    out = []
    for entry in record["history"]:
        w = np.concatenate([np.ravel(v) for v in entry["weights"].values()])
        out.append(float(np.mean((w < low) | (w > high))))
    return out


def shared_edges(record: dict[str, Any], level: float = 0.85) -> tuple[int, int]:
    """``(shared, edges)`` in a sigmoid search record's last epoch: how many edges (all cell
    types) have two or more operations with σ(α) >= `level`, of how many edges. Independent
    sigmoids allow this and softmax does not (two weights of one edge cannot both exceed ½),
    which is Fair DARTS' "collaboration"; the derived cell keeps one op per edge."""
    if record.get("relaxation") != "sigmoid":
        raise ValueError(f"shared_edges reads sigmoid weights; this record's relaxation is "
                         f"{record.get('relaxation')!r} (method {record.get('method')!r})")
    if not 0.5 <= level <= 1.0:
        raise ValueError(f"level must be in [0.5, 1], got {level}")
    if not record.get("history"):
        raise ValueError("shared_edges reads the last epoch's weights; this record has no epochs")
    rows = [np.asarray(row) for w in record["history"][-1]["weights"].values() for row in w]
    return sum(int((row >= level).sum() >= 2) for row in rows), len(rows)


def op_weight_drift(record: dict[str, Any], op: str = "skip_connect", cell_type: str | None = None) -> float:
    """How far α moved an operation, read from a softmax search record: the largest
    distance, over its epochs, of `op`'s softmax weight averaged over one cell type's edges
    from the uniform 1/n_ops that every edge starts at. `cell_type` defaults to the record's
    first (``"cell"`` in NAS-Bench-201, ``"normal"`` in the DARTS space)."""
    if (record.get("relaxation") or "softmax") != "softmax":
        raise ValueError(f"op_weight_drift measures from the uniform softmax start; this record's "
                         f"relaxation is {record.get('relaxation')!r} (method {record.get('method')!r})")
    prims = list(record["primitives"])
    if op not in prims:
        raise ValueError(f"unknown op {op!r}; this record's ops are {prims}")
    types = list(record["history"][0]["weights"]) if record["history"] else []
    cell_type = types[0] if cell_type is None and types else cell_type
    if cell_type not in types:
        raise ValueError(f"unknown cell type {cell_type!r}; this record has {types}")
    k = prims.index(op)
    return max(abs(float(np.mean(np.asarray(e["weights"][cell_type])[:, k])) - 1 / len(prims))
               for e in record["history"])
