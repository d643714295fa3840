"""Epoch checkpoints: written atomically, loaded without executing code.

A checkpoint holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``: opening someone else's file cannot run code.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write

CHECKPOINT_FORMAT = "nas_kit/checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint that is unreadable, not ours, or from another run."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """torch.save atomically: a kill during the save leaves the previous checkpoint intact."""
    return atomic_write(path, lambda f: torch.save({"format": CHECKPOINT_FORMAT, **state}, f),
                        binary=True)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict[str, Any]:
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except Exception as e:  # truncated zip, pickle with code, wrong file type
        raise CheckpointError(f"{path} is not a loadable nas_kit checkpoint "
                              f"(truncated, foreign or unsafe file): {e}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a nas_kit checkpoint (format "
                              f"{state.get('format') if isinstance(state, dict) else None!r}; "
                              f"expected {CHECKPOINT_FORMAT})")
    return state


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human lines 'key: checkpoint=X, now=Y' for every config value that differs."""
    keys = sorted(set(saved) | set(current))
    return [f"{k}: checkpoint={saved.get(k)!r}, now={current.get(k)!r}"
            for k in keys if saved.get(k) != current.get(k)]
