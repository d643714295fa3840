"""nas_kit: differentiable architecture search (DARTS family), reproduced step by step.

Public API::

    import nas_kit
    record = nas_kit.search(method="darts", space="nb201", dataset="cifar10", seed=0, out="runs/a")
    genotype = nas_kit.parse_genotype(record["genotype"])
    nas_kit.train(genotype, space="nb201", dataset="cifar10", out="runs/a_train")
    nas_kit.load_record("runs/a/record.json")

Methods: ``nas_kit.METHODS``; spaces: ``darts``, ``nb201``; profiles: smoke | colab | paper
(``NAS_KIT_PROFILE``). Plots live in ``nas_kit.viz``.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .genotypes import (DartsGenotype, NB201Genotype, PUBLISHED, parse_genotype, published)
from .methods import METHODS, SearchConfig, get_method, resolve_config
from .profiles import PROFILES, Profile, default_dataset, get_profile
from .records import load_record
from .search import SearchRun, prepare_search, search


def train(genotype, space, dataset="cifar10", **kwargs):
    """Train a genotype from scratch (DARTS or NB201 protocol); see `nas_kit.training.train_genotype`."""
    from .training import train_genotype
    return train_genotype(genotype, space, dataset, **kwargs)


def describe_environment(profile: str | None = None) -> str:
    """One line saying which nas_kit (version, commit), profile, device and torch version
    produced the outputs below it."""
    import torch
    prof = get_profile(profile)
    from .records import device_name, git_commit, git_modified
    device = f"cuda ({device_name('cuda:0')})" if torch.cuda.is_available() else device_name("cpu")
    commit = git_commit()
    version = __version__ + (f" ({commit[:7]}{', modified' if git_modified() else ''})"
                             if commit else "")
    return f"nas_kit {version} | profile: {prof.name} | device: {device} | torch {torch.__version__}"


__all__ = [
    "__version__", "search", "prepare_search", "SearchRun", "train", "load_record", "parse_genotype", "published", "PUBLISHED",
    "DartsGenotype", "NB201Genotype", "METHODS", "get_method", "SearchConfig", "resolve_config",
    "PROFILES", "Profile", "get_profile", "default_dataset", "describe_environment",
]
