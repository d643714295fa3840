"""Helpers shared by the test modules (not tests themselves)."""
from nas_kit import data

# Fields that legitimately differ between two runs of the same search.
TIMING_KEYS = {"seconds", "total_seconds", "date", "checksum"}


def strip_timing(obj):
    """A record (or part of it) without timing fields, for run-to-run equality."""
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def tiny_data():
    """16x16 synthetic images: every smoke search takes a second or two on 2 CPU cores."""
    return data.synthetic(n=64, image_size=16, seed=0)
