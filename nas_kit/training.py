"""Train a genotype from scratch: the DARTS evaluation protocol or NAS-Bench-201's.

``darts`` (DARTS `cnn/train.py`): DartsNetwork, SGD lr 0.025 momentum 0.9 wd 3e-4, cosine
to 0 over the epochs, gradient clipping 5, batch 96, auxiliary head weight 0.4, cutout
16, drop-path 0.2 ramped linearly (``p * epoch / epochs``). Paper budget: C=36, 20 cells,
600 epochs.

``nb201`` (NB201 ``200E.config``): the benchmark TinyNetwork, SGD lr 0.1 nesterov momentum
0.9 wd 5e-4, cosine to 0, batch 256, crop + flip only, no gradient clipping. Paper budget:
C=16, N=5, 200 epochs.

Both train on the whole training split (its first ``limit`` images if set) and report
top-1 accuracy on the test split (its first ``test_limit``); there is no held-out
validation set, as in both papers. The budget (epochs, data, batch size, network size)
comes from the profile; every key of the config can be overridden by keyword.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import data as data_lib
from .genotypes import (PUBLISHED, DartsGenotype, NB201Genotype, genotype_from_json,
                        parse_genotype)
from .profiles import get_profile
from .atomic import remove_stale_temporaries
from .checkpoints import CheckpointError, config_differences, load_checkpoint, save_checkpoint
from .records import TRAIN_FORMAT, environment, load_record, round_sig, save_record
from .search import NonFiniteError, cosine_anneal, pick_device
from .spaces.darts_network import DartsNetwork, num_weights
from .spaces.nb201_network import NB201Network

__all__ = ["train_genotype", "train_config", "build_network", "resolve_genotype", "SPACES",
           "PROTOCOLS"]

SPACES = ("darts", "nb201")

# The published optimiser recipes. Budget keys (epochs, limit, test_limit, batch_size,
# init_channels, layers / cells_per_stage) are filled in from the profile.
PROTOCOLS: dict[str, dict[str, Any]] = {
    "darts": dict(lr=0.025, lr_min=0.0, momentum=0.9, nesterov=False, weight_decay=3e-4,
                  grad_clip=5.0, batch_size=96, auxiliary=True, auxiliary_weight=0.4,
                  drop_path_prob=0.2, augment=True, crop_padding=4, cutout=16),
    "nb201": dict(lr=0.1, lr_min=0.0, momentum=0.9, nesterov=True, weight_decay=5e-4,
                  grad_clip=None, batch_size=256, augment=True, crop_padding=4, cutout=0),
}
# Not hyper-parameters of either paper, only of how often / how fast we measure.
_COMMON = dict(eval_every=1, eval_batch_size=500)
_BUDGET_KEYS = {"darts": ("epochs", "limit", "test_limit", "batch_size", "init_channels", "layers"),
                "nb201": ("epochs", "limit", "test_limit", "batch_size", "init_channels",
                          "cells_per_stage")}


def _check_space(space: str) -> str:
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; valid: {', '.join(SPACES)}")
    return space


def train_config(space: str, profile: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The full training config: protocol, then the profile's budget, then ``overrides``.

    A budget value of ``None`` for ``batch_size`` keeps the protocol's. Raises ValueError
    for an unknown key (listing the valid ones) or a value out of range.
    """
    _check_space(space)
    prof = get_profile(profile)
    budget = prof.train_budget(space)
    cfg: dict[str, Any] = {"profile": prof.name, **PROTOCOLS[space], **_COMMON}
    for key in _BUDGET_KEYS[space]:
        value = budget.get(key)
        if key == "batch_size" and value is None:
            continue
        cfg[key] = value
    unknown = sorted(set(overrides) - set(cfg) - {"profile"})
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(unknown)} for space {space!r}; "
                         f"valid: {', '.join(sorted(k for k in cfg if k != 'profile'))}")
    if "profile" in overrides:
        raise ValueError("pass the profile as profile=..., not as an override")
    cfg.update(overrides)
    _validate(cfg, space)
    return cfg


def _validate(cfg: dict[str, Any], space: str) -> None:
    positive = ["epochs", "batch_size", "init_channels", "eval_every", "eval_batch_size",
                "layers" if space == "darts" else "cells_per_stage"]
    for key in positive:
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{key} must be a positive int, got {v!r}")
    for key in ("limit", "test_limit"):
        v = cfg[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{key} must be None (all images) or a positive int, got {v!r}")
    if space == "darts":
        if cfg["layers"] < 3:
            raise ValueError(f"layers must be >= 3 to place two reduction cells, got {cfg['layers']}")
        if not 0.0 <= cfg["drop_path_prob"] < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {cfg['drop_path_prob']!r}")
    if cfg["grad_clip"] is not None and not cfg["grad_clip"] > 0:
        raise ValueError(f"grad_clip must be None or > 0, got {cfg['grad_clip']!r}")


# --------------------------------------------------------------------------- genotype


def resolve_genotype(genotype: Any, space: str | None) -> tuple[DartsGenotype | NB201Genotype, str]:
    """Turn a genotype object, its text, a name from ``PUBLISHED`` or a run record (file
    or folder) into ``(genotype, space)``. ``space=None`` takes the genotype's own; a mismatch is a
    ValueError."""
    source = "genotype"
    record_space = None
    if isinstance(genotype, str) and genotype in PUBLISHED:
        genotype = PUBLISHED[genotype]
    # Text forms are recognisable ('|op~0|+...' or 'Genotype(...)'); any other string is a path.
    is_text = isinstance(genotype, str) and (genotype.lstrip().startswith("|")
                                             or "Genotype(" in genotype)
    if isinstance(genotype, (str, os.PathLike)) and not is_text:
        path = Path(genotype)
        if path.is_dir():
            path = path / "record.json"
        if not path.is_file():
            raise ValueError(f"{str(genotype)!r} is neither genotype text ('Genotype(...)' or "
                             f"'|op~0|+...') nor a run record file or folder")
        record = load_record(path)  # checks format, keys and checksum (RecordError)
        source, record_space, genotype = f"record {path}", record.get("space"), record["genotype"]
    if isinstance(genotype, dict):
        genotype = genotype_from_json(genotype)
    elif isinstance(genotype, str):
        genotype = parse_genotype(genotype, record_space)
    if not isinstance(genotype, (DartsGenotype, NB201Genotype)):
        raise TypeError(f"expected a genotype, its text, or a record path; got {type(genotype).__name__}")
    if record_space is not None and record_space != genotype.space:
        raise ValueError(f"{source} says space {record_space!r} but holds a {genotype.space} genotype")
    if space is None:
        return genotype, genotype.space
    _check_space(space)
    if genotype.space != space:
        raise ValueError(f"{source} is a {genotype.space!r}-space genotype but space={space!r} "
                         f"was asked for: {genotype}")
    return genotype, space


def build_network(genotype, space: str, cfg: dict[str, Any], *, in_channels: int,
                  num_classes: int) -> nn.Module:
    """The evaluation network of ``genotype`` at the config's size."""
    if space == "darts":
        return DartsNetwork(genotype, cfg["init_channels"], num_classes, cfg["layers"],
                            auxiliary=cfg["auxiliary"], drop_path_prob=0.0,
                            in_channels=in_channels)
    return NB201Network(genotype, cfg["init_channels"], num_classes,
                        cells_per_stage=cfg["cells_per_stage"], in_channels=in_channels)


# --------------------------------------------------------------------------- training


def _logits(out):
    return out[0] if isinstance(out, tuple) else out


def _evaluate(model: nn.Module, loader) -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy (%) over one pass of ``loader``."""
    model.eval()
    loss_sum = correct = None
    n = 0
    with torch.no_grad():
        for x, y in loader:
            logits = _logits(model(x))
            loss = F.cross_entropy(logits, y, reduction="sum")
            hits = (logits.argmax(1) == y).sum()
            loss_sum = loss if loss_sum is None else loss_sum + loss
            correct = hits if correct is None else correct + hits
            n += y.shape[0]
    return float(loss_sum) / n, 100.0 * float(correct) / n


def _load_splits(dataset, data_root):
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2 and all(
            isinstance(d, data_lib.ImageDataset) for d in dataset):
        return dataset[0], dataset[1], dataset[0].name
    if not isinstance(dataset, str):
        raise ValueError(f"dataset must be a name ({', '.join(data_lib.DATASETS)}) or a "
                         f"(train, test) pair of ImageDataset, got {type(dataset).__name__}")
    if dataset.lower() not in data_lib.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(data_lib.DATASETS)}")
    train = data_lib.load_dataset(dataset, "train", root=data_root)
    test = data_lib.load_dataset(dataset, "test", root=data_root)
    return train, test, dataset.lower()


# What must match for a checkpoint to continue this training (the record's other keys
# are outputs, or the environment, which may change between sessions).
_IDENTITY_KEYS = ("space", "dataset", "seed", "genotype")


def _training_state(epoch, record, model, optimizer, train_loader, device) -> dict[str, Any]:
    # Through JSON: plain types only (e.g. torch's version string is a str subclass), so
    # the checkpoint loads with weights_only=True.
    state = {"epoch": epoch, "record": json.loads(json.dumps(record)), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "train_loader": train_loader.state_dict(),
             "torch_rng": torch.get_rng_state()}
    if device.type == "cuda":  # drop-path masks are drawn on the GPU
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def _resume(path: Path, record, model, optimizer, train_loader, device) -> int:
    """Load a training checkpoint into the fresh objects; returns the epoch to start from."""
    state = load_checkpoint(path)
    saved = state["record"]
    diffs = [f"{k}: checkpoint={saved.get(k)!r}, now={record[k]!r}" for k in _IDENTITY_KEYS
             if saved.get(k) != record[k]]
    diffs += config_differences(saved.get("config", {}), record["config"])
    if diffs:
        raise CheckpointError(f"{path} belongs to another training; differences:\n  "
                              + "\n  ".join(diffs))
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    train_loader.load_state_dict(state["train_loader"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    for k in ("history", "test_acc", "total_seconds", "complete"):
        record[k] = saved[k]
    return int(state["epoch"])


def train_genotype(genotype, space: str | None, dataset="cifar10", *, profile: str | None = None,
                   seed: int = 0, device: str | torch.device | None = None,
                   out: str | os.PathLike | None = None, data_root: str | os.PathLike | None = None,
                   progress: bool = True, resume: bool = False, **overrides: Any) -> dict[str, Any]:
    """Train ``genotype`` from scratch and return its run record.

    genotype: a DartsGenotype / NB201Genotype, its text, a published name ('DARTS_V2'),
        or the path of a run record (``record.json`` or its folder), whose ``genotype``
        and ``space`` are used.
    space: 'darts' | 'nb201', or None to take the genotype's.
    dataset: a name from ``nas_kit.data.DATASETS`` or a ``(train, test)`` pair of ImageDataset.
    profile: smoke | colab | paper budget (default: ``NAS_KIT_PROFILE``, else by device).
    out: folder for ``record.json`` and ``checkpoint.pt``, both rewritten atomically after
        every epoch.
    resume: continue from ``out/checkpoint.pt`` if it exists (refused, with every
        difference listed, if it belongs to another genotype, seed, dataset or config).
    overrides: any config key (see ``train_config``), e.g. ``epochs=5, cutout=0``.

    Record keys: format, kind, space, dataset, dataset_provenance, seed, profile, genotype,
    config, env, num_weights (aux head excluded), history (per epoch: epoch, train_loss,
    train_acc, test_loss, test_acc, lr, drop_path_prob, seconds; test_* are None in epochs
    skipped by ``eval_every``), test_acc (final, %), total_seconds, complete.
    """
    genotype, space = resolve_genotype(genotype, space)
    cfg = train_config(space, profile, **overrides)
    train_ds, test_ds, dataset_name = _load_splits(dataset, data_root)
    if cfg["limit"] is not None:
        train_ds = train_ds.subset(slice(0, cfg["limit"]))
    if cfg["test_limit"] is not None:
        test_ds = test_ds.subset(slice(0, cfg["test_limit"]))
    if len(train_ds) < cfg["batch_size"]:
        raise ValueError(f"{len(train_ds)} training images, fewer than batch_size "
                         f"{cfg['batch_size']}; raise limit or lower batch_size")
    device = pick_device(device)

    torch.manual_seed(seed)
    model = build_network(genotype, space, cfg, in_channels=train_ds.channels,
                          num_classes=train_ds.num_classes).to(device)
    # Weight decay on every parameter, BN included, as both reference implementations do.
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                                weight_decay=cfg["weight_decay"], nesterov=cfg["nesterov"])
    train_loader = data_lib.DeviceLoader(train_ds, cfg["batch_size"], device,
                                         augment=cfg["augment"], cutout=cfg["cutout"],
                                         pad=cfg["crop_padding"], seed=seed)
    test_loader = data_lib.DeviceLoader(test_ds, cfg["eval_batch_size"], device, augment=False,
                                        shuffle=False, drop_last=False)

    record: dict[str, Any] = {
        "format": TRAIN_FORMAT, "kind": "train", "space": space, "dataset": dataset_name,
        "dataset_provenance": train_ds.provenance, "seed": seed, "profile": cfg["profile"],
        "genotype": str(genotype), "config": cfg, "env": environment(device),
        "num_weights": num_weights(model, exclude_aux=True), "history": [], "test_acc": None,
        "total_seconds": 0.0, "complete": False,
    }
    out = Path(out) if out is not None else None
    if resume and out is None:
        raise ValueError("resume needs `out`, the folder of the interrupted training")
    if out is not None:
        for name in ("checkpoint.pt", "record.json"):
            remove_stale_temporaries(out / name)
    start = 0
    if resume and (out / "checkpoint.pt").exists():
        start = _resume(out / "checkpoint.pt", record, model, optimizer, train_loader, device)
    bar = None
    if progress:
        from .progress import progress_bar
        steps = len(train_loader)
        bar = progress_bar(total=cfg["epochs"] * steps, initial=start * steps, unit="step",
                           desc=f"train {space}", dynamic_ncols=True)
    aux_weight = cfg.get("auxiliary_weight", 0.0) if cfg.get("auxiliary") else 0.0
    try:
        for epoch in range(start, cfg["epochs"]):
            t0 = time.perf_counter()
            lr = cosine_anneal(cfg["lr"], cfg["lr_min"], epoch, cfg["epochs"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            drop_prob = cfg.get("drop_path_prob", 0.0) * epoch / cfg["epochs"]
            if space == "darts":
                model.drop_path_prob = drop_prob
            model.train()
            # Sums stay on the device so no step waits for the GPU; read once per epoch.
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            n = 0
            for x, y in train_loader:
                optimizer.zero_grad(set_to_none=True)
                logits, logits_aux = (model(x) if space == "darts" else (model(x), None))
                loss = F.cross_entropy(logits, y)
                total = loss if logits_aux is None else loss + aux_weight * F.cross_entropy(logits_aux, y)
                total.backward()
                if cfg["grad_clip"] is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
                optimizer.step()
                loss_sum += loss.detach() * y.shape[0]
                correct += (logits.detach().argmax(1) == y).sum()
                n += y.shape[0]
                if bar is not None:
                    bar.update(1)
            train_loss, train_acc = float(loss_sum) / n, 100.0 * float(correct) / n
            if not math.isfinite(train_loss):
                raise NonFiniteError(f"training loss became {train_loss} in epoch {epoch + 1} "
                                     f"(lr {lr:.4g}); lower lr or check the data")
            last = epoch + 1 == cfg["epochs"]
            test_loss = test_acc = None
            if last or (epoch + 1) % cfg["eval_every"] == 0:
                test_loss, test_acc = _evaluate(model, test_loader)
            seconds = time.perf_counter() - t0
            record["history"].append({
                "epoch": epoch + 1, "train_loss": round_sig(train_loss), "train_acc": round_sig(train_acc),
                "test_loss": None if test_loss is None else round_sig(test_loss),
                "test_acc": None if test_acc is None else round_sig(test_acc),
                "lr": round_sig(lr), "drop_path_prob": round_sig(drop_prob), "seconds": round_sig(seconds),
            })
            if test_acc is not None:
                record["test_acc"] = round_sig(test_acc)
            record["total_seconds"] = round_sig(record["total_seconds"] + seconds)
            record["complete"] = last
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, train_acc=f"{train_acc:.1f}",
                                test_acc="-" if test_acc is None else f"{test_acc:.1f}")
            if out is not None:
                save_checkpoint(_training_state(epoch + 1, record, model, optimizer, train_loader,
                                                device), out / "checkpoint.pt")
                save_record(record, out / "record.json")
    except torch.cuda.OutOfMemoryError as e:
        raise torch.cuda.OutOfMemoryError(
            f"CUDA ran out of memory training a {space} genotype (batch_size {cfg['batch_size']}, "
            f"C={cfg['init_channels']}, profile {cfg['profile']}). Lower batch_size or "
            f"init_channels, or use a smaller profile. Original error: {e}") from None
    finally:
        if bar is not None:
            bar.close()
    # A training killed between its last checkpoint and its record resumes with no epoch
    # left; this write is what completes its record.
    if out is not None:
        save_record(record, out / "record.json")
    return record
