"""Helpers shared by the test modules (not tests themselves)."""
import importlib.util
from pathlib import Path

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


def die_before_record(monkeypatch, module, n: int) -> None:
    """Make ``module.save_record`` raise KeyboardInterrupt instead of writing its n-th
    record: the process "dies" with that epoch's checkpoint on disk but not its record.
    ``monkeypatch.undo()`` restores it."""
    real, calls = module.save_record, []

    def save(record, path):
        calls.append(path)
        if len(calls) == n:
            raise KeyboardInterrupt
        real(record, path)
    monkeypatch.setattr(module, "save_record", save)


def load_script(name: str):
    """A script of ``benchmarks/`` (e.g. ``"search_speed"``) imported as a module."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_stored_study_is_paper(module, unit_key) -> None:
    """The study ``module`` (nar_study or nar_sampler_study) stores in book/records was made
    with its 'paper' configuration (training seeds may be fewer or more), its checksum
    holds, and its units ``unit_key(unit)`` are a prefix of the planned run order."""
    path = Path(__file__).resolve().parents[1] / "book" / "records" / f"{module.STORED_NAME}.json"
    record = module.load_study(path)            # checksum checked: never edited by hand
    paper = module.study_config("paper")
    assert {k: v for k, v in record["config"].items() if k != "train_seeds"} == \
        {k: v for k, v in paper.items() if k != "train_seeds"}
    done = [unit_key(u) for u in record["units"]]
    planned = module.units_of(record["config"])
    assert done and done == planned[:len(done)]          # in run order, none skipped
    assert record["complete"] == (len(done) == len(planned))
