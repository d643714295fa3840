"""One budget knob for the whole book: ``NAS_KIT_PROFILE`` = smoke | colab | paper.

* ``smoke``: CPU and CI (nbval). Tiny data subset, 2 epochs, small networks: checks that
  everything runs, shows nothing about NAS.
* ``colab``: one T4-class GPU, a chapter in a class period. Reduced data and epochs,
  still enough to see the phenomena.
* ``paper``: the published budget (50 search epochs on the 25k/25k split, C=16, 8 cells
  or NB201's 5 cells per stage; full evaluation protocols).

Default: ``colab`` when CUDA is available, else ``smoke``. A profile only sets budget
(epochs, data, network size); every method keeps its paper's optimiser recipe.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import torch

PROFILES = ("smoke", "colab", "paper")
ENV_VAR = "NAS_KIT_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Budgets of one profile. `search[space]` / `train[space]` map config keys to values."""

    name: str
    search: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    train: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # space -> method -> keys that replace `search[space]`'s for that method only
    method_search: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

    def search_budget(self, space: str, method: str | None = None) -> dict[str, Any]:
        """The budget keys of a search in `space`; with `method`, its own budget where the
        profile gives it one (see `_COLAB`)."""
        budget = dict(self.search[space])
        if method is not None:
            budget.update(self.method_search.get(space, {}).get(method, {}))
        return budget

    def train_budget(self, space: str) -> dict[str, Any]:
        return dict(self.train[space])


def _freeze(d):
    return MappingProxyType({k: MappingProxyType(v) for k, v in d.items()})


# `limit`: number of training-set images used before the search split (None = all).
# `epochs=None` keeps the method's own epoch count (50 for every published recipe).
_SMOKE = Profile(
    "smoke",
    search=_freeze({
        "darts": dict(epochs=2, limit=64, batch_size=16, init_channels=4, layers=5),
        "nb201": dict(epochs=2, limit=64, batch_size=16, init_channels=4, cells_per_stage=1),
    }),
    train=_freeze({
        "darts": dict(epochs=1, limit=128, test_limit=128, batch_size=16, init_channels=8,
                      layers=5),
        "nb201": dict(epochs=1, limit=128, test_limit=128, batch_size=16, init_channels=8,
                      cells_per_stage=1),
    }),
)
# Colab search budgets are sized from measurements of the eager path on an H100
# (benchmarks/results/): a search step costs about 100 ms at NB201 N=2 and about 430 ms
# in the DARTS space at C=8 with 5 cells, nearly independent of batch content (the step
# is launch-bound). A T4 is roughly 8x slower, so each colab search stays near 50 s on
# the H100 (about 7 min on a T4).
#
# Fair DARTS is the exception in NAS-Bench-201: its sigmoid weights start at 0.5 and Adam
# (lr 3e-3) moves each α by about its learning rate per step, so σ(α) cannot reach the
# 0.85 threshold before several hundred α-steps, whatever the data. Its recipe's batch of
# 128 makes 19 steps per colab epoch; one search on CIFAR-10 (JPEG copy, seed 0) decided
# none of its weights through epoch 21 (399 steps) and all of them from epoch 25 (475
# steps) on. Ten epochs would show a method that has not started; 25 epochs are the
# smallest budget at which it measurably works.
_COLAB = Profile(
    "colab",
    search=_freeze({
        "darts": dict(epochs=6, limit=2_560, batch_size=None, init_channels=8, layers=5),
        "nb201": dict(epochs=10, limit=5_000, batch_size=None, init_channels=16,
                      cells_per_stage=2),
    }),
    train=_freeze({
        "darts": dict(epochs=10, limit=None, test_limit=None, batch_size=96, init_channels=16,
                      layers=8),
        "nb201": dict(epochs=10, limit=None, test_limit=None, batch_size=256, init_channels=16,
                      cells_per_stage=5),
    }),
    method_search=MappingProxyType({"nb201": _freeze({"fair-darts": dict(epochs=25)})}),
)
_PAPER = Profile(
    "paper",
    search=_freeze({
        "darts": dict(epochs=None, limit=None, batch_size=None, init_channels=16, layers=8),
        "nb201": dict(epochs=None, limit=None, batch_size=None, init_channels=16,
                      cells_per_stage=5),
    }),
    train=_freeze({
        "darts": dict(epochs=600, limit=None, test_limit=None, batch_size=96, init_channels=36,
                      layers=20),
        "nb201": dict(epochs=200, limit=None, test_limit=None, batch_size=256,
                      init_channels=16, cells_per_stage=5),
    }),
)
_BY_NAME = {p.name: p for p in (_SMOKE, _COLAB, _PAPER)}


def default_profile_name() -> str:
    """`NAS_KIT_PROFILE` if set, else colab with CUDA and smoke without."""
    name = os.environ.get(ENV_VAR)
    if name:
        return check_profile_name(name, source=f"environment variable {ENV_VAR}")
    return "colab" if torch.cuda.is_available() else "smoke"


def check_profile_name(name: str, source: str = "profile") -> str:
    if name not in _BY_NAME:
        raise ValueError(f"unknown {source} {name!r}; valid: {', '.join(PROFILES)}")
    return name


def get_profile(name: str | None = None) -> Profile:
    """The named profile, or the default one (see `default_profile_name`)."""
    return _BY_NAME[check_profile_name(name) if name is not None else default_profile_name()]


DATASET_ENV_VAR = "NAS_KIT_DATASET"


def default_dataset(profile: str | None = None) -> str:
    """The dataset a chapter searches on: ``NAS_KIT_DATASET`` if set, else synthetic images
    in the offline ``smoke`` profile and CIFAR-10 (downloaded by torchvision) otherwise."""
    name = os.environ.get(DATASET_ENV_VAR)
    if name:
        from .data import DATASETS
        if name not in DATASETS:
            raise ValueError(f"unknown environment variable {DATASET_ENV_VAR} {name!r}; "
                             f"valid: {', '.join(DATASETS)}")
        return name
    return "synthetic" if get_profile(profile).name == "smoke" else "cifar10"
