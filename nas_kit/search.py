"""The bilevel search loop shared by every method.

Each step draws a batch from the training half and one from the validation half, then
(in the method's order, α first by default):

* α-step: minimise the validation objective over the architecture parameters
  (first order: ∇α L_val(w, α); second order: through one unrolled w step),
* w-step: one SGD step of the network weights on the training objective.

Methods differ only in configuration (see `methods.py`): the relaxation, the extra
objectives (zero-one loss, masked-patch recovery), what is trained, partial channels.
After every epoch the op weights and the derived genotype go into the run record and a
checkpoint is written, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import data as data_lib
from .atomic import remove_stale_temporaries
from .checkpoints import config_differences, load_checkpoint, save_checkpoint, CheckpointError
from .hypergradient import second_order_step_grads
from .losses import (MIMDecoder, apply_patch_mask, masked_patch_mse, patch_grid, random_patch_mask,
                     self_balanced, zero_one_loss)
from .compiled import CompiledObjective
from .graphs import GraphedStep, check_graphable, graphs_available
from .methods import IMPLEMENTATION_KEYS, SearchConfig, resolve_config
from .records import SEARCH_FORMAT, environment, round_sig, save_record
from .spaces import Supernet, build_supernet
from .spaces.mixed import MixedOp
from .spaces.ops import Identity, NoisyIdentity


def _concurrent_runs() -> int | None:
    """``$NAS_KIT_CONCURRENT_RUNS``: how many searches (this one included) share the GPU, as
    set by whoever launched them in parallel (benchmarks/gpu_session.sh); None if unset."""
    value = os.environ.get("NAS_KIT_CONCURRENT_RUNS")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"NAS_KIT_CONCURRENT_RUNS={value!r}: expected a whole number >= 1")
    return int(value)


class NonFiniteError(RuntimeError):
    """The loss or α became NaN/inf; the last good checkpoint and record are kept."""


# --------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------
def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def apply_trainable(model: Supernet, cfg: SearchConfig) -> None:
    """Freeze what the method does not train (random features: everything but BN affine)."""
    if cfg.trainable == "all":
        return
    for module in model.modules():
        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
        is_conv = isinstance(module, (nn.Conv2d, nn.ConvTranspose2d))
        if cfg.trainable == "bn_only" and is_conv:
            module.requires_grad_(False)
        if cfg.trainable == "conv_only" and is_bn:
            module.requires_grad_(False)
        if isinstance(module, nn.Linear) and cfg.trainable == "bn_only" and not cfg.train_classifier:
            module.requires_grad_(False)


def normalised_range(ds: data_lib.ImageDataset) -> tuple[float, float]:
    """Min and max a normalised pixel can take: the clamp of the MIM decoder output."""
    lo = min((0.0 - m) / s for m, s in zip(ds.mean, ds.std))
    hi = max((1.0 - m) / s for m, s in zip(ds.mean, ds.std))
    return lo, hi


def build_model(cfg: SearchConfig, ds: data_lib.ImageDataset, device) -> Supernet:
    model = build_supernet(cfg, in_channels=ds.channels, num_classes=ds.num_classes)
    if cfg.mim_loss:
        with torch.no_grad():
            probe = torch.zeros(1, ds.channels, *ds.images.shape[-2:])
            feat = model.features(probe)
        ups = round(math.log2(ds.images.shape[-2] / feat.shape[-2]))
        model.decoder = MIMDecoder(model.feature_channels, ds.channels, ups, normalised_range(ds))
    if cfg.skip_noise > 0:
        add_skip_noise(model)
    apply_trainable(model, cfg)
    return model.to(device)


def add_skip_noise(model: Supernet) -> list[NoisyIdentity]:
    """Replace every stride-1 `skip_connect` of the supernet by a NoisyIdentity."""
    noisy = []
    k = model.primitives.index("skip_connect")
    for m in model.modules():
        if isinstance(m, MixedOp) and isinstance(m.ops[k], Identity):
            m.ops[k] = NoisyIdentity()
            noisy.append(m.ops[k])
    return noisy


def set_skip_noise(model: nn.Module, d: float) -> None:
    """Set the noise scale d of every `NoisyIdentity` of `model` (the search loop does so at
    the start of every epoch, from `skip_noise_scale`)."""
    for m in model.modules():
        if isinstance(m, NoisyIdentity):
            m.scale = d


def skip_noise_scale(cfg: SearchConfig, epoch: int) -> float:
    """d of epoch `epoch` (from 0): cosine decay from skip_noise to 0 over skip_noise_epochs."""
    if epoch >= cfg.skip_noise_epochs:
        return 0.0
    return cfg.skip_noise * 0.5 * (1 + math.cos(math.pi * epoch / cfg.skip_noise_epochs))


@dataclass
class Objective:
    """The training/validation objective of a method on one batch (masking + extra losses)."""

    cfg: SearchConfig
    mask_generator: torch.Generator | None

    def draw_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """The next random patch mask (N, H/p, W/p) for batch x, or None without masking."""
        if self.cfg.mask_ratio <= 0:
            return None
        return random_patch_mask(x.shape[0], x.shape[-2:], self.cfg.patch_size,
                                 self.cfg.mask_ratio, self.mask_generator, x.device)

    def __call__(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, *, alpha_level: bool,
                 mask: torch.Tensor | None = None):
        """x (N, C, H, W) normalised, y (N,) -> (loss, logits (N, K), parts {name: scalar tensor}).

        mask: the patch mask to use (N, H/p, W/p); None draws the next one (`draw_mask`).
        CUDA graphs pass it in, drawn outside the captured pass from the same generator.
        """
        cfg = self.cfg
        parts: dict[str, torch.Tensor] = {}
        inputs = x
        if mask is None:
            mask = self.draw_mask(x)
        if mask is not None:
            inputs = apply_patch_mask(x, mask, cfg.patch_size, cfg.mask_value)
        features = model.features(inputs)
        logits = model.classify(features)
        ce = F.cross_entropy(logits, y)
        parts["ce"] = ce.detach()
        loss = ce
        if cfg.mim_loss:
            recon = model.decoder(features)
            if recon.shape[-2:] != x.shape[-2:]:
                recon = F.interpolate(recon, size=x.shape[-2:], mode="bilinear", align_corners=False)
            rec = masked_patch_mse(recon, x, mask, cfg.patch_size)
            loss = self_balanced(ce, rec)
            parts["rec"] = rec.detach()
            parts["rec_weight"] = (ce / rec).detach()
        if alpha_level and cfg.zero_one_weight:
            z = zero_one_loss(list(model.op_weights().values()), cfg.zero_one_kind)
            loss = loss + cfg.zero_one_weight * z
            parts["zero_one"] = z.detach()
        return loss, logits, parts


class _Meter:
    """Sums kept on the device so that no step waits for the GPU; read once per epoch."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0        # steps
        self.count = 0    # images
        self.first_bad: torch.Tensor | None = None   # first step with a non-finite loss, or -1

    def add(self, loss, logits, y, parts):
        loss = loss.detach()
        values = {"loss": loss, "correct": (logits.argmax(1) == y).sum(), **parts}
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0) + v.float()
        if self.first_bad is None:
            self.first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
        # Remember the step without a device sync: -1 until the first non-finite loss.
        self.first_bad = torch.where((self.first_bad < 0) & ~torch.isfinite(loss),
                                     torch.full_like(self.first_bad, self.n), self.first_bad)
        self.n += 1
        self.count += y.shape[0]

    def bad_step(self) -> int | None:
        """0-based step of the first non-finite loss this epoch, None if all were finite."""
        if self.first_bad is None or int(self.first_bad) < 0:
            return None
        return int(self.first_bad)

    def result(self) -> dict[str, float]:
        if not self.n:
            return {}
        out = {k: float(v) / self.n for k, v in self.sums.items() if k != "correct"}
        out["acc"] = 100.0 * float(self.sums["correct"]) / self.count
        return out


def cosine_anneal(lr: float, lr_min: float, epoch: int, epochs: int) -> float:
    """Per-epoch cosine annealing from lr to lr_min (epoch counted from 0), as DARTS and NB201."""
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * epoch / epochs))


def cosine_lr(cfg: SearchConfig, epoch: int) -> float:
    """The w learning rate of a search in `epoch`."""
    return cosine_anneal(cfg.w_lr, cfg.w_lr_min, epoch, cfg.epochs)


def _matrix(t: torch.Tensor) -> list:
    return [[round_sig(v) for v in row] for row in t.detach().cpu().tolist()] if t.dim() == 2 \
        else [round_sig(v) for v in t.detach().cpu().tolist()]


def derive(model: Supernet, cfg: SearchConfig):
    return model.genotype(rule=cfg.derive_rule, threshold=cfg.derive_threshold)


# --------------------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------------------
class SearchRun:
    """One search, ready to run: config, data loaders, supernet, optimisers, record.

    `prepare_search(...)` builds it; `run()` trains to the last epoch (resuming from the
    checkpoint if asked) and returns the record. The parts stay inspectable: `model`
    (the supernet, with `model.decoder` under MIM), `train_loader`, `val_loader`,
    `objective`, `record`.
    """

    def __init__(self, cfg: SearchConfig, ds: data_lib.ImageDataset, device: torch.device, *,
                 out: Path | None = None, progress: bool = True):
        if cfg.mask_ratio > 0:
            patch_grid(tuple(ds.images.shape[-2:]), cfg.patch_size)  # fail now, not at the first step
        train_half, val_half = data_lib.search_split(ds, cfg.train_portion, limit=cfg.limit)
        for half, label in ((train_half, "training"), (val_half, "validation")):
            if len(half) < cfg.batch_size:
                raise ValueError(f"the {label} half has {len(half)} images, fewer than batch_size "
                                 f"{cfg.batch_size}; raise limit or lower batch_size")
        if cfg.cuda_graphs is None:   # the default: the fast path wherever it can run
            cfg = dataclasses.replace(cfg, cuda_graphs=graphs_available(cfg, device))
        check_graphable(cfg, device)
        self.cfg, self.device, self.progress = cfg, device, progress
        self.train_data, self.val_data = train_half, val_half
        self.out = Path(out) if out is not None else None
        if self.out is not None:
            # A run killed during a save (Colab disconnect, SIGKILL) leaves its temporary file.
            for name in ("checkpoint.pt", "record.json"):
                remove_stale_temporaries(self.out / name)
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg, ds, device)
        if cfg.channels_last:   # before the optimisers: they hold the converted parameters
            self.model.to(memory_format=torch.channels_last)
        self.weights = [p for p in self.model.weight_parameters() if p.requires_grad]
        self.alphas = self.model.arch_parameters()
        self.w_opt = torch.optim.SGD(self.weights, lr=cfg.w_lr, momentum=cfg.w_momentum,
                                     weight_decay=cfg.w_weight_decay, nesterov=cfg.w_nesterov)
        self.alpha_opt = torch.optim.Adam(self.alphas, lr=cfg.alpha_lr, betas=cfg.alpha_betas,
                                          weight_decay=cfg.alpha_weight_decay)
        self.train_loader = data_lib.DeviceLoader(train_half, cfg.batch_size, device,
                                                  augment=cfg.augment, seed=cfg.seed)
        self.val_loader = data_lib.DeviceLoader(val_half, cfg.batch_size, device,
                                                augment=cfg.augment, seed=cfg.seed + 1)
        self.mask_gen = None
        if cfg.mask_ratio > 0:
            self.mask_gen = torch.Generator(device=device)
            self.mask_gen.manual_seed(cfg.seed + 2)
        self.objective = Objective(cfg, self.mask_gen)
        if cfg.compile:
            self.objective = CompiledObjective(self.objective, self.model, self.weights,
                                               self.alphas, only_needed_grads=cfg.order == 1)
        self.graphed = GraphedStep(self) if cfg.cuda_graphs else None
        self.epoch = 0
        self.record = {
            "format": SEARCH_FORMAT, "kind": "search", "method": cfg.method, "space": cfg.space,
            "dataset": cfg.dataset, "dataset_provenance": ds.provenance, "seed": cfg.seed,
            "profile": cfg.profile, "config": cfg.to_dict(), "env": environment(device),
            "primitives": list(self.model.primitives),
            "edges": [list(e) for e in self.model.edges],
            "cell_types": list(self.model.cell_types), "relaxation": cfg.relaxation,
            "num_weights": self.model.num_weights(), "history": [],
            "genotype": str(derive(self.model, cfg)), "total_seconds": 0.0, "complete": False,
        }

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out / "checkpoint.pt" if self.out is not None else None

    # --- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "epoch": self.epoch, "config": self.cfg.to_dict(), "model": self.model.state_dict(),
            "w_opt": self.w_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict(),
            "train_loader": self.train_loader.state_dict(),
            "val_loader": self.val_loader.state_dict(),
            "mask_gen": self.mask_gen.get_state() if self.mask_gen is not None else None,
            "torch_rng": torch.get_rng_state(), "history": self.record["history"],
            "total_seconds": self.record["total_seconds"],
        }
        if self.device.type == "cuda":  # skip noise is drawn on the GPU
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        # Engine and CUDA graphs are how, not what: a search may resume under the others.
        diffs = [d for d in config_differences(state["config"], self.cfg.to_dict())
                 if d.split(":")[0] not in IMPLEMENTATION_KEYS]
        if diffs:
            raise CheckpointError(f"{source} belongs to another search; differences:\n  "
                                  + "\n  ".join(diffs))
        self.model.load_state_dict(state["model"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.train_loader.load_state_dict(state["train_loader"])
        self.val_loader.load_state_dict(state["val_loader"])
        if self.mask_gen is not None:
            self.mask_gen.set_state(state["mask_gen"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.record["history"] = list(state["history"])
        self.record["total_seconds"] = state["total_seconds"]
        if self.record["history"]:
            self.record["genotype"] = self.record["history"][-1]["genotype"]
        self.epoch = state["epoch"]
        self.record["complete"] = self.epoch == self.cfg.epochs

    def resume(self) -> bool:
        """Load `out/checkpoint.pt` if it exists; True when something was loaded."""
        if self.checkpoint_path is None:
            raise ValueError("resume needs `out`, the folder of the interrupted run")
        if not self.checkpoint_path.exists():
            return False
        self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location="cpu"),
                             source=str(self.checkpoint_path))
        return True

    # --- the loop -----------------------------------------------------------------------
    def step(self, x_t, y_t, x_v, y_v, lr: float, update_alpha: bool, train_meter=None,
             val_meter=None) -> None:
        """One bilevel step on a training batch (x_t, y_t) and a validation batch (x_v, y_v)."""
        train_meter = train_meter if train_meter is not None else _Meter()
        val_meter = val_meter if val_meter is not None else _Meter()
        if self.cfg.channels_last:
            x_t = x_t.contiguous(memory_format=torch.channels_last)
            x_v = x_v.contiguous(memory_format=torch.channels_last)
        if self.graphed is not None:
            self.graphed(x_t, y_t, x_v, y_v, lr, update_alpha, train_meter, val_meter)
        else:
            self.eager_step(x_t, y_t, x_v, y_v, lr, update_alpha, train_meter, val_meter)

    def eager_step(self, x_t, y_t, x_v, y_v, lr: float, update_alpha: bool, train_meter,
                   val_meter) -> None:
        """The step as plain PyTorch code (what CUDA graphs replay, and the reference)."""
        alpha = lambda: _alpha_step(self.model, self.objective, self.weights, self.alphas,  # noqa: E731
                                    self.w_opt, self.alpha_opt, self.cfg, lr, x_t, y_t, x_v, y_v,
                                    val_meter, update_alpha)
        w = lambda: _w_step(self.model, self.objective, self.weights, self.w_opt, self.cfg,  # noqa: E731
                            x_t, y_t, train_meter)
        for part in ((w, alpha) if self.cfg.step_order == "w_first" else (alpha, w)):
            part()

    def run_epoch(self, bar=None) -> dict[str, Any]:
        """Train one epoch, append its history entry, write checkpoint and record."""
        cfg, epoch = self.cfg, self.epoch
        t0 = time.perf_counter()
        lr = cosine_lr(cfg, epoch)
        for group in self.w_opt.param_groups:
            group["lr"] = lr
        update_alpha = epoch >= cfg.alpha_warmup_epochs
        noise = skip_noise_scale(cfg, epoch) if cfg.skip_noise > 0 else 0.0
        set_skip_noise(self.model, noise)
        train_meter, val_meter = _Meter(), _Meter()
        for _ in range(len(self.train_loader)):
            x_t, y_t = self.train_loader.next()
            x_v, y_v = self.val_loader.next()
            self.step(x_t, y_t, x_v, y_v, lr, update_alpha, train_meter, val_meter)
            if bar is not None:
                bar.update(1)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        train, val = train_meter.result(), val_meter.result()
        seconds = time.perf_counter() - t0
        bad = [k for k, v in {**train, **val}.items() if not math.isfinite(v)]
        if bad or not all(torch.isfinite(a).all() for a in self.alphas):
            steps = {name: m.bad_step() for name, m in (("w-step", train_meter), ("α-step", val_meter))}
            where = ", ".join(f"{name} {k + 1}" for name, k in steps.items() if k is not None)
            what = f"values ({', '.join(dict.fromkeys(bad))})" if bad else "architecture parameters α"
            kept = (f"the last good checkpoint and record (epoch {epoch}) are kept in {self.out}; "
                    if self.out else "")
            raise NonFiniteError(
                f"non-finite {what} in epoch {epoch + 1} of {cfg.epochs}"
                + (f", first at {where} of {len(self.train_loader)}" if where else "")
                + f" ({cfg.method}, {cfg.space}, w lr {lr:.4g}, α lr {cfg.alpha_lr:.4g}); "
                + kept + "lower the learning rates or check the data")
        edge_w = self.model.edge_weights()
        entry = {
            "epoch": epoch + 1,
            "weights": {t: _matrix(w) for t, w in self.model.op_weights().items()},
            "edge_weights": None if edge_w is None else {t: _matrix(w) for t, w in edge_w.items()},
            "genotype": str(derive(self.model, cfg)),
            "train_loss": round_sig(train["loss"]), "train_acc": round_sig(train["acc"]),
            "val_loss": round_sig(val["loss"]), "val_acc": round_sig(val["acc"]),
            "lr": round_sig(lr), "alpha_updated": update_alpha, "skip_noise": round_sig(noise),
            "steps": len(self.train_loader),   # w-steps, and α-steps where alpha_updated
            "seconds": round_sig(seconds),
            # GPU memory high-water mark of the run so far (None on CPU)
            "peak_memory_gib": (round_sig(torch.cuda.max_memory_allocated(self.device) / 2**30)
                                if self.device.type == "cuda" else None),
            "extra": {f"{level}_{k}": round_sig(v) for level, m in (("train", train), ("val", val))
                      for k, v in m.items() if k not in ("loss", "acc")},
        }
        shared = _concurrent_runs()
        if shared is not None:   # other searches shared the GPU: this epoch's seconds say so
            entry["concurrent_runs"] = shared
        self.epoch += 1
        rec = self.record
        rec["history"].append(entry)
        rec["genotype"] = entry["genotype"]
        rec["total_seconds"] = round_sig(rec["total_seconds"] + seconds)
        rec["complete"] = self.epoch == cfg.epochs
        if self.out is not None:
            save_checkpoint(self.state_dict(), self.checkpoint_path)
            save_record(rec, self.out / "record.json")
        return entry

    def run(self, on_epoch: Callable[[SearchRun, dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Run the remaining epochs; returns the record.

        ``on_epoch(run, entry)``, if given, is called after each epoch with this run and
        that epoch's history entry: to look at the supernet mid-search (e.g.
        `analysis.reconstruct`). It must leave the run's state alone for the search to stay
        the one its record describes.
        """
        if on_epoch is not None and not callable(on_epoch):
            raise TypeError(f"on_epoch must be callable (run, entry) -> None, got {on_epoch!r}")
        cfg = self.cfg
        steps = len(self.train_loader)
        bar = None
        if self.progress:
            from .progress import progress_bar
            bar = progress_bar(total=cfg.epochs * steps, initial=self.epoch * steps, unit="step",
                       desc=f"{cfg.method}/{cfg.space}", dynamic_ncols=True)
        try:
            while self.epoch < cfg.epochs:
                entry = self.run_epoch(bar)
                if bar is not None:
                    bar.set_postfix(epoch=entry["epoch"], train_acc=f"{entry['train_acc']:.1f}",
                                    val_acc=f"{entry['val_acc']:.1f}")
                if on_epoch is not None:
                    on_epoch(self, entry)
        except torch.cuda.OutOfMemoryError as e:
            raise torch.cuda.OutOfMemoryError(
                f"CUDA ran out of memory in a {cfg.method} search ({cfg.space} space, batch_size "
                f"{cfg.batch_size}, profile {cfg.profile}, C={cfg.init_channels}). Lower "
                f"batch_size (e.g. --set batch_size={max(cfg.batch_size // 2, 1)}), init_channels "
                f"or layers, or use a smaller profile. Original error: {e}") from None
        finally:
            if bar is not None:
                bar.close()
        # Always rewrite the record: a run killed between its last checkpoint and its record
        # resumes with no epoch left to run, and only this write completes the record.
        if self.out is not None:
            save_record(self.record, self.out / "record.json")
        return self.record


def prepare_search(method: str = "darts", space: str = "darts",
                   dataset: str | data_lib.ImageDataset = "cifar10", *, profile: str | None = None,
                   seed: int = 0, out: str | Path | None = None, resume: bool = False,
                   device: str | torch.device | None = None, progress: bool = True,
                   data_root: str | Path | None = None, **overrides: Any) -> SearchRun:
    """Build a `SearchRun` (see `search` for the arguments) without running it."""
    ds = dataset if isinstance(dataset, data_lib.ImageDataset) else None
    dataset_name = ds.name if ds is not None else dataset
    cfg = resolve_config(method, space, dataset_name, profile=profile, seed=seed, **overrides)
    if ds is None:
        ds = data_lib.load_dataset(dataset_name, "train", root=data_root)
    run = SearchRun(cfg, ds, pick_device(device), out=out, progress=progress)
    if resume:
        run.resume()
    return run


def search(method: str = "darts", space: str = "darts",
           dataset: str | data_lib.ImageDataset = "cifar10", *, profile: str | None = None,
           seed: int = 0, out: str | Path | None = None, resume: bool = False,
           device: str | torch.device | None = None, progress: bool = True,
           data_root: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """Run one architecture search and return its run record (a dict, see `records.py`).

    method: a registered name (`nas_kit.METHODS`); space: 'darts' | 'nb201'; dataset: a
    name from `nas_kit.data.DATASETS` or an `ImageDataset` (e.g. from `from_arrays`).
    profile: smoke | colab | paper (default: `NAS_KIT_PROFILE`, else colab on CUDA, smoke
    on CPU). `out`: folder for `record.json` and `checkpoint.pt` (written every epoch);
    `resume=True` continues from `out/checkpoint.pt`. `overrides`: any `SearchConfig` key.
    """
    return prepare_search(method, space, dataset, profile=profile, seed=seed, out=out,
                          resume=resume, device=device, progress=progress, data_root=data_root,
                          **overrides).run()


def _alpha_step(model, objective, weights, alphas, w_opt, alpha_opt, cfg, lr, x_t, y_t, x_v, y_v,
                meter, update):
    if not update:
        # α frozen (PC-DARTS warm-up): still measure the validation objective.
        with torch.no_grad():
            loss, logits, parts = objective(model, x_v, y_v, alpha_level=True)
        meter.add(loss, logits, y_v, parts)
        return
    alpha_opt.zero_grad(set_to_none=True)
    if cfg.order == 1:
        loss, logits, parts = objective(model, x_v, y_v, alpha_level=True)
        loss.backward(inputs=alphas)
    else:
        buffers = [w_opt.state.get(p, {}).get("momentum_buffer") for p in weights]
        grads, loss, (logits, parts) = second_order_step_grads(
            objective, model, weights, alphas, cfg, lr, buffers, x_t, y_t, x_v, y_v)
        for a, g in zip(alphas, grads):
            a.grad = g
    alpha_opt.step()
    meter.add(loss, logits, y_v, parts)


def _w_step(model, objective, weights, w_opt, cfg, x_t, y_t, meter):
    w_opt.zero_grad(set_to_none=True)
    loss, logits, parts = objective(model, x_t, y_t, alpha_level=False)
    loss.backward(inputs=weights)
    if cfg.grad_clip:
        nn.utils.clip_grad_norm_(weights, cfg.grad_clip)
    w_opt.step()
    meter.add(loss, logits, y_t, parts)
