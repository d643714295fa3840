"""Search spaces: supernets for search, networks built from genotypes for training."""
from __future__ import annotations

from .darts_supernet import DartsSupernet
from .nb201_supernet import NB201Supernet
from .supernet import Supernet

SPACES = ("darts", "nb201")

__all__ = ["SPACES", "Supernet", "DartsSupernet", "NB201Supernet", "build_supernet"]


def build_supernet(cfg, *, in_channels: int, num_classes: int) -> Supernet:
    """The supernet a `SearchConfig` asks for (decoder and freezing are added by the loop)."""
    common = dict(in_channels=in_channels, primitives=cfg.primitives, relaxation=cfg.relaxation,
                  affine=cfg.affine, partial_channels=cfg.partial_channels,
                  edge_norm=cfg.edge_norm, alpha_init_std=cfg.alpha_init_std,
                  engine=getattr(cfg, "engine", "eager"))
    if cfg.space == "darts":
        return DartsSupernet(cfg.init_channels, num_classes, cfg.layers, **common)
    if cfg.space == "nb201":
        return NB201Supernet(cfg.init_channels, num_classes, cfg.cells_per_stage, **common)
    raise ValueError(f"unknown search space {cfg.space!r}; valid: {', '.join(SPACES)}")
