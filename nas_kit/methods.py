"""The method registry: every method is a configuration of the one bilevel loop.

A method is a name plus the paper's recipe as config values (optimisers, relaxation,
extra losses, what is trained, input masking), optionally different per search space
(e.g. DARTS on NAS-Bench-201 uses the benchmark authors' nesterov SGD and wd 5e-4).
``resolve_config`` layers: `SearchConfig` defaults <- method <- method-per-space <-
profile budget <- user overrides, and validates the result.

Sources for every value: ``shared/research/darts_fair_pc.md`` (DARTS, Fair DARTS,
PC-DARTS, NB201 DARTS) and ``rf_mim_nar.md`` (RF-DARTS, α-DARTS).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .genotypes import DARTS_PRIMITIVES, NB201_PRIMITIVES
from .profiles import get_profile
from .spaces.fused import ENGINES

SPACES = ("darts", "nb201")
# Config keys that choose how a search is computed, not what: a checkpoint made under one
# value resumes under another.
IMPLEMENTATION_KEYS = ("engine", "cuda_graphs", "channels_last", "compile")
STEP_ORDERS = ("alpha_first", "w_first")
TRAINABLE = ("all", "bn_only", "conv_only")
DERIVE_RULES = {"darts": ("top2", "threshold"), "nb201": ("argmax",)}
ZERO_ONE_KINDS = ("l2", "l1")


@dataclass
class SearchConfig:
    """Every hyper-parameter of a search. Defaults = first-order DARTS in the DARTS space."""

    method: str = "darts"
    space: str = "darts"
    dataset: str = "cifar10"
    seed: int = 0
    profile: str = "smoke"
    # budget
    epochs: int = 50
    batch_size: int = 64
    train_portion: float = 0.5          # train half [0, p*N) -> w; the rest -> α
    limit: int | None = None            # use only the first `limit` training images
    init_channels: int = 16
    layers: int = 8                     # DARTS space: cells in the supernet
    cells_per_stage: int = 5            # NB201 space: N
    augment: bool = True                # random crop (pad 4) + flip on both halves
    # weights w: SGD with cosine annealing (per epoch)
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    w_nesterov: bool = False
    grad_clip: float = 5.0
    # architecture α (and β): Adam
    alpha_lr: float = 3e-4
    alpha_betas: tuple[float, float] = (0.5, 0.999)
    alpha_weight_decay: float = 1e-3
    alpha_init_std: float = 1e-3        # α = std * randn; 0 gives zeros (Fair DARTS)
    alpha_warmup_epochs: int = 0        # α frozen for the first epochs (PC-DARTS: 15 of 50)
    # relaxation and derivation
    relaxation: str = "softmax"
    include_none: bool = True
    derive_rule: str = "top2"
    derive_threshold: float | None = None
    # bilevel loop
    order: int = 1                      # 1: first order, 2: unrolled (DARTS 2nd order)
    unroll_r: float = 0.01              # finite-difference step R = unroll_r / ||v||
    step_order: str = "alpha_first"
    # Fair DARTS zero-one loss on σ(α)
    zero_one_weight: float = 0.0
    zero_one_kind: str = "l2"
    # PC-DARTS
    partial_channels: int = 1           # K: 1/K of the channels go through the ops
    edge_norm: bool = False
    # random features (RF-DARTS)
    trainable: str = "all"              # all | bn_only | conv_only
    affine: bool = False                # affine BN inside cells
    train_classifier: bool = True       # under bn_only: also train the final linear layer
    # Fair DARTS' "unfair advantage" ablation: noise d·N(0,1) on stride-1 skips, d cosine-
    # decayed from skip_noise to 0 over skip_noise_epochs (their --noise_darts: 1.0 over 30)
    skip_noise: float = 0.0
    skip_noise_epochs: int = 30
    # masked image modelling (α-DARTS)
    mask_ratio: float = 0.0
    patch_size: int = 4
    mask_value: float = 1.0             # masked patches set to this value (normalised units)
    mim_loss: bool = False              # decoder + reconstruction loss (False: masked input, CE only)
    # implementation, not algorithm: 'fused' runs the edges leaving a node as one batch
    # (spaces/fused.py), 'eager' edge by edge; both compute the same function
    engine: str = "fused"
    # replay the step's forward/backward passes from CUDA graphs (nas_kit/graphs.py; CUDA only,
    # first order, no skip noise). None: wherever they can run (`graphs.graphs_available`)
    cuda_graphs: bool | None = None
    # weights and batches in channels-last memory layout (NHWC): cuDNN's native layout on
    # recent GPUs, so convolutions need no layout transposes; same function
    channels_last: bool = False
    # run each pass of the objective (forward and backward) compiled by torch.compile
    # (nas_kit/compiled.py): fused elementwise kernels; the first steps include compiling
    compile: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["alpha_betas"] = list(self.alpha_betas)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SearchConfig":
        unknown = sorted(set(d) - set(config_keys()))
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; valid: {', '.join(config_keys())}")
        d = {k: _check_type(k, v) for k, v in d.items()}
        return cls(**d)

    @property
    def primitives(self) -> tuple[str, ...]:
        ops = DARTS_PRIMITIVES if self.space == "darts" else NB201_PRIMITIVES
        return ops if self.include_none else tuple(o for o in ops if o != "none")


_FIELD_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def _check_type(key: str, value: Any) -> Any:
    """The value of a config key in its declared type, or a ValueError naming key and value."""
    declared = {f.name: f.type for f in dataclasses.fields(SearchConfig)}[key]
    optional = "None" in declared
    base = declared.replace(" | None", "")
    if value is None:
        if optional:
            return None
        raise ValueError(f"{key} must be {base}, got None")
    if base == "tuple[float, float]":
        ok = (isinstance(value, (list, tuple)) and len(value) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
        if not ok:
            raise ValueError(f"{key} must be a pair of numbers like [0.5, 0.999], got {value!r}")
        return (float(value[0]), float(value[1]))
    want = _FIELD_TYPES[base]
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and want is not bool:
        raise ValueError(f"{key} must be {base}, got {value!r}")
    if not isinstance(value, want):
        raise ValueError(f"{key} must be {base}{' or None' if optional else ''}, got {value!r}")
    return value


def config_keys() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(SearchConfig))


@dataclass(frozen=True)
class Method:
    """A registered method: its paper recipe as config values."""

    name: str
    summary: str
    paper: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    space_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    bad = sorted(set(method.defaults) - set(config_keys()))
    for space_d in method.space_defaults.values():
        bad += sorted(set(space_d) - set(config_keys()))
    if bad:
        raise ValueError(f"method {method.name!r} sets unknown config keys {bad}")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    return METHODS[name]


# NB201 authors' DARTS recipe (AutoDL-Projects configs/nas-benchmark/algos/DARTS.config).
_NB201_SGD = dict(w_nesterov=True, w_weight_decay=5e-4, derive_rule="argmax")

register_method(Method(
    "darts", "DARTS, first order: softmax relaxation, α-gradient = ∇α L_val(w, α).",
    "Liu, Simonyan, Yang. DARTS: Differentiable Architecture Search. ICLR 2019.",
    defaults=dict(order=1),
    # NB201's DARTS-V1 takes the w step first, then the α step.
    space_defaults={"nb201": dict(_NB201_SGD, step_order="w_first")},
))
register_method(Method(
    "darts-2nd", "DARTS, second order: α-gradient through one unrolled SGD step of w.",
    "Liu, Simonyan, Yang. DARTS: Differentiable Architecture Search. ICLR 2019.",
    defaults=dict(order=2),
    space_defaults={"nb201": dict(_NB201_SGD)},
))
register_method(Method(
    "fair-darts", "Fair DARTS: independent sigmoid op weights, no `none`, zero-one loss.",
    "Chu, Zhou, Zhang, Li. Fair DARTS: Eliminating Unfair Advantages in Differentiable "
    "Architecture Search. ECCV 2020.",
    defaults=dict(relaxation="sigmoid", include_none=False, zero_one_weight=10.0,
                  zero_one_kind="l2", derive_rule="threshold", derive_threshold=0.85,
                  alpha_init_std=0.0, w_lr=0.005, batch_size=128, alpha_lr=3e-3,
                  alpha_betas=(0.9, 0.999)),
    # NB201 has no threshold rule of its own: an edge whose best σ < 0.85 becomes `none`.
    space_defaults={"nb201": dict(_NB201_SGD)},
))
register_method(Method(
    "pc-darts", "PC-DARTS: partial channels (K=4) + channel shuffle, edge normalisation β.",
    "Xu, Xie, Zhang, Chen, Qi, Tian, Xiong. PC-DARTS: Partial Channel Connections for "
    "Memory-Efficient Architecture Search. ICLR 2020.",
    defaults=dict(partial_channels=4, edge_norm=True, batch_size=256, w_lr=0.1, w_lr_min=0.0,
                  alpha_lr=6e-4, alpha_warmup_epochs=15),
    space_defaults={"nb201": dict(_NB201_SGD)},
))
_RF = dict(trainable="bn_only", affine=True, train_classifier=False)
register_method(Method(
    "rf-darts", "RF-DARTS: DARTS with convolutions frozen at random init; only BN affine trains.",
    "Zhang, Li, Zhang, Wang, Sun. Differentiable Architecture Search with Random Features. "
    "CVPR 2023.",
    defaults=dict(_RF, order=1),
    space_defaults={"nb201": dict(_NB201_SGD, step_order="w_first")},
))
register_method(Method(
    "rf-pcdarts", "RF-PCDARTS: PC-DARTS with random features (only BN affine trains).",
    "Zhang, Li, Zhang, Wang, Sun. Differentiable Architecture Search with Random Features. "
    "CVPR 2023.",
    defaults=dict(_RF, partial_channels=4, edge_norm=True, batch_size=256, w_lr=0.1,
                  w_lr_min=0.0, alpha_lr=6e-4, alpha_warmup_epochs=15),
    space_defaults={"nb201": dict(_NB201_SGD)},
))
register_method(Method(
    "mim-darts", "α-DARTS: masked patches on the input, a decoder recovers them; self-balanced "
    "loss CE + L_rec / stopgrad(L_rec / CE) on both levels.",
    "Guo, Guo, Shi, Chen, He, Chen, Yu. α DARTS Once More: Enhancing Differentiable "
    "Architecture Search by Masked Image Modeling. arXiv 2211.10105, 2022.",
    defaults=dict(mask_ratio=0.8, patch_size=4, mask_value=1.0, mim_loss=True, order=1),
    space_defaults={"nb201": dict(_NB201_SGD)},
))

PAPER_EPOCHS = 50   # every registered recipe searches for 50 epochs


def resolve_config(method: str, space: str, dataset: str, *, profile: str | None = None,
                   seed: int = 0, **overrides: Any) -> SearchConfig:
    """The full config of one search: defaults <- method <- space <- profile <- overrides."""
    m = get_method(method)
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; valid: {', '.join(SPACES)}")
    unknown = sorted(set(overrides) - set(config_keys()))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; valid: {', '.join(config_keys())}")
    prof = get_profile(profile)
    values: dict[str, Any] = {}
    values.update(m.defaults)
    values.update(m.space_defaults.get(space, {}))
    if space == "nb201" and "derive_rule" not in values:
        values["derive_rule"] = "argmax"
    budget = {k: v for k, v in prof.search_budget(space, method).items() if v is not None}
    values.update(budget)
    # The α warm-up is a fraction of the published 50 epochs; keep the fraction under a budget.
    epochs = overrides.get("epochs", values.get("epochs", PAPER_EPOCHS))
    if "alpha_warmup_epochs" not in overrides and values.get("alpha_warmup_epochs"):
        values["alpha_warmup_epochs"] = round(values["alpha_warmup_epochs"] * epochs / PAPER_EPOCHS)
    values.update(overrides)
    values.update(method=method, space=space, dataset=dataset, seed=seed, profile=prof.name)
    cfg = SearchConfig.from_dict(values)
    validate_config(cfg)
    return cfg


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def validate_config(cfg: SearchConfig) -> None:
    """Raise ValueError naming the bad value and what would be valid."""
    _check(cfg.space in SPACES, f"space {cfg.space!r}; valid: {', '.join(SPACES)}")
    _check(cfg.epochs >= 1, f"epochs must be >= 1, got {cfg.epochs}")
    _check(cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}")
    _check(0.0 < cfg.train_portion < 1.0, f"train_portion must be in (0, 1), got {cfg.train_portion}")
    _check(cfg.limit is None or cfg.limit >= 2, f"limit must be None or >= 2, got {cfg.limit}")
    _check(cfg.init_channels >= 1, f"init_channels must be >= 1, got {cfg.init_channels}")
    _check(cfg.relaxation in ("softmax", "sigmoid"),
           f"relaxation {cfg.relaxation!r}; valid: softmax, sigmoid")
    _check(cfg.order in (1, 2), f"order must be 1 or 2, got {cfg.order}")
    _check(cfg.step_order in STEP_ORDERS,
           f"step_order {cfg.step_order!r}; valid: {', '.join(STEP_ORDERS)}")
    _check(cfg.engine in ENGINES, f"engine {cfg.engine!r}; valid: {', '.join(ENGINES)}")
    _check(cfg.trainable in TRAINABLE, f"trainable {cfg.trainable!r}; valid: {', '.join(TRAINABLE)}")
    rules = DERIVE_RULES[cfg.space]
    _check(cfg.derive_rule in rules,
           f"derive_rule {cfg.derive_rule!r} for space {cfg.space!r}; valid: {', '.join(rules)}")
    _check(cfg.zero_one_kind in ZERO_ONE_KINDS,
           f"zero_one_kind {cfg.zero_one_kind!r}; valid: {', '.join(ZERO_ONE_KINDS)}")
    _check(cfg.zero_one_weight == 0 or cfg.relaxation == "sigmoid",
           "the zero-one loss pushes σ(α) to 0/1 and needs relaxation='sigmoid'")
    _check(0.0 <= cfg.mask_ratio < 1.0, f"mask_ratio must be in [0, 1), got {cfg.mask_ratio}")
    _check(cfg.patch_size >= 1, f"patch_size must be >= 1, got {cfg.patch_size}")
    _check(cfg.skip_noise >= 0, f"skip_noise must be >= 0, got {cfg.skip_noise}")
    _check(cfg.skip_noise_epochs >= 1, f"skip_noise_epochs must be >= 1, got {cfg.skip_noise_epochs}")
    _check(not cfg.mim_loss or cfg.mask_ratio > 0,
           "mim_loss=True needs mask_ratio > 0 (the loss is on masked patches only)")
    _check(not (cfg.order == 2 and (cfg.mask_ratio > 0 or cfg.partial_channels > 1)),
           "second order (order=2) is implemented for plain DARTS/Fair DARTS/RF-DARTS only; "
           "use order=1 with masking or partial channels (as the papers do)")
    _check(cfg.partial_channels >= 1, f"partial_channels must be >= 1, got {cfg.partial_channels}")
    _check(cfg.init_channels % cfg.partial_channels == 0,
           f"partial_channels K={cfg.partial_channels} must divide init_channels "
           f"{cfg.init_channels}")
    _check(cfg.alpha_warmup_epochs >= 0, f"alpha_warmup_epochs must be >= 0, got {cfg.alpha_warmup_epochs}")
    if cfg.space == "darts":
        _check(cfg.layers >= 3, f"layers must be >= 3 in the DARTS space, got {cfg.layers}")
    else:
        _check(cfg.cells_per_stage >= 1, f"cells_per_stage must be >= 1, got {cfg.cells_per_stage}")
    _check(cfg.derive_rule != "threshold" or cfg.derive_threshold is not None,
           "derive_rule='threshold' needs derive_threshold (Fair DARTS: 0.85)")
