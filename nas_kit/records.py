"""Run records: one JSON file per search (or training run), saved atomically, loaded with checks.

A search record holds everything needed to redraw every figure of the book without
re-running: the full config, the environment, per-epoch op weights of every edge, the
derived genotype per epoch, losses, accuracies and wall time.

Keys of a search record (``format`` = ``nas_kit/record-v1``, ``kind`` = ``search``):
``method, space, dataset, dataset_provenance, seed, profile, config, env, primitives,
edges, cell_types, relaxation, history, genotype, total_seconds, complete``. Each history
entry: ``epoch, weights {cell type: (E, n_ops) list}, edge_weights, genotype, train_loss,
train_acc, val_loss, val_acc, lr, seconds, extra``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write

SEARCH_FORMAT = "nas_kit/record-v1"
TRAIN_FORMAT = "nas_kit/train-record-v1"
SEARCH_KEYS = ("format", "kind", "method", "space", "dataset", "dataset_provenance", "seed",
               "profile", "config", "env", "primitives", "edges", "cell_types", "relaxation",
               "history", "genotype")
EPOCH_KEYS = ("epoch", "weights", "genotype", "train_loss", "train_acc", "val_loss", "val_acc",
              "seconds")


def round_sig(x: float) -> float:
    """7 significant digits: what records store (float32 noise beyond that says nothing)."""
    return float(f"{x:.7g}")


class RecordError(ValueError):
    """A record file that is missing, truncated, or not a nas_kit record."""


def read_git_state(package_dir: str | Path) -> tuple[str | None, bool | None]:
    """(commit, modified) of the git checkout that `package_dir` is tracked in: its HEAD, and
    whether tracked files under `package_dir` differ from it. (None, None) where the folder
    is not tracked by git (an installed package, a copied tree), or git is missing."""
    here = Path(package_dir)

    def git(*args: str) -> subprocess.CompletedProcess | None:
        try:
            return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,
                                  timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None

    # a package installed inside some other checkout (a venv in a repository) is not tracked
    tracked = git("ls-files", "--error-unmatch", "--", "__init__.py")
    head = git("rev-parse", "HEAD")
    if not (tracked and tracked.returncode == 0 and head and head.returncode == 0):
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    modified = bool(status.stdout.strip()) if status and status.returncode == 0 else None
    return head.stdout.strip() or None, modified


# Read once, when nas_kit is imported: the code a run executes is the code that was loaded,
# even if the checkout moves on while a long run goes.
_GIT_AT_IMPORT = read_git_state(Path(__file__).parent)


def git_commit() -> str | None:
    """The commit of the checkout nas_kit was imported from, if it is a git checkout.

    A copy of the tree without `.git` (e.g. a remote GPU machine) can pass it in
    ``NAS_KIT_GIT_COMMIT``.
    """
    return os.environ.get("NAS_KIT_GIT_COMMIT") or _GIT_AT_IMPORT[0]


def git_modified() -> bool | None:
    """Whether nas_kit's tracked files differed from `git_commit()` when it was imported
    (None where that is unknown, e.g. a commit passed in ``NAS_KIT_GIT_COMMIT``)."""
    return None if os.environ.get("NAS_KIT_GIT_COMMIT") else _GIT_AT_IMPORT[1]


def device_name(device: torch.device | str) -> str:
    """The GPU's name, or for a CPU its architecture and the threads torch uses, e.g.
    ``"CPU (x86_64, 2 threads)"``: "x86_64" alone reads like a device name but says
    neither that it is a CPU nor how much of one the run had."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    arch = platform.machine() or platform.processor() or "unknown architecture"
    threads = torch.get_num_threads()
    return f"CPU ({arch}, {threads} thread{'s' if threads != 1 else ''})"


def _cpu_model() -> str:
    """The CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) ...") where the system says it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_description() -> str:
    """The host CPU and the vector instruction set torch's CPU kernels use, e.g.
    ``"AMD EPYC (ATen AVX512)"``.

    Kept with every record because float sums on the CPU depend on it: on one machine,
    forcing ``ATEN_CPU_CAPABILITY=avx2`` instead of AVX-512 changed a 10-epoch NAR's
    predicted scores well beyond rounding, while repeated runs with the same kernels were
    bit-identical. A CPU result reproduces exactly only where this string matches."""
    get = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    capability = get() if get is not None else "unknown"
    return f"{_cpu_model()} (ATen {capability})"


def environment(device: torch.device | str) -> dict[str, Any]:
    """Where a run happened: versions, device name, the host CPU and its kernels'
    instruction set, git commit (and whether nas_kit's files differed from it), date."""
    device = torch.device(device)
    name = device_name(device)
    from . import __version__
    return {
        "nas_kit": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device.type,
        "device_name": name,
        "cpu": cpu_description(),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "git_commit": git_commit(),
        "git_modified": git_modified(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def content_checksum(record: dict[str, Any]) -> str:
    """sha256 of the record's content without its own checksum (key order independent)."""
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=True).encode()).hexdigest()


def save_record(record: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a record atomically, with a checksum so that later edits are detected."""
    stamped = {**record, "checksum": content_checksum(record)}
    text = json.dumps(stamped, indent=1, allow_nan=True) + "\n"
    return atomic_write(path, lambda f: f.write(text))


def read_checked(path: str | os.PathLike, validate, *, what: str = "record",
                 require_checksum: bool = False) -> dict[str, Any]:
    """Read a JSON file nas_kit wrote: parse, ``validate(record, source)``, checksum.

    Raises RecordError naming the file and what is wrong (missing, truncated, not this
    kind of file, edited after it was written).
    """
    path = Path(path)
    if not path.exists():
        raise RecordError(f"no {what} at {path}")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RecordError(f"{path} is not valid JSON (truncated or hand-edited?): {e}") from None
    validate(record, str(path))
    if (require_checksum or "checksum" in record) and record.get("checksum") != content_checksum(record):
        raise RecordError(f"{path} was changed after nas_kit wrote it (checksum mismatch); "
                          f"records are never edited by hand - re-run to regenerate it")
    return record


def load_record(path: str | os.PathLike) -> dict[str, Any]:
    """Read a run record (search or train) back, checking it is complete and well-formed.

    Accepts the record file or the run folder holding ``record.json``. Raises RecordError
    naming the file and what is wrong.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "record.json"
    return read_checked(path, validate_record)


def validate_record(record: Any, source: str = "record") -> None:
    if not isinstance(record, dict):
        raise RecordError(f"{source}: a record is a JSON object, got {type(record).__name__}")
    fmt = record.get("format")
    if fmt == TRAIN_FORMAT:
        missing = [k for k in ("space", "genotype", "config", "history", "test_acc") if k not in record]
        if missing:
            raise RecordError(f"{source}: train record lacks keys {missing}")
        return
    if fmt != SEARCH_FORMAT:
        raise RecordError(f"{source}: unknown format {fmt!r}; valid: {SEARCH_FORMAT}, {TRAIN_FORMAT}")
    missing = [k for k in SEARCH_KEYS if k not in record]
    if missing:
        raise RecordError(f"{source}: search record lacks keys {missing}")
    n_edges, n_ops = len(record["edges"]), len(record["primitives"])
    for i, entry in enumerate(record["history"]):
        lacking = [k for k in EPOCH_KEYS if k not in entry]
        if lacking:
            raise RecordError(f"{source}: history[{i}] lacks keys {lacking}")
        for t in record["cell_types"]:
            w = entry["weights"].get(t)
            if w is None or len(w) != n_edges or any(len(row) != n_ops for row in w):
                raise RecordError(f"{source}: history[{i}].weights[{t!r}] is not "
                                  f"{n_edges} x {n_ops} (edges x ops)")
