"""The paper-budget run records the book shows: which runs, where they live, how to load them.

A chapter shows two kinds of results: the run the reader just made (at the reader's
profile) and **stored records**, paper-budget searches made with `nas_kit` on a GPU by
``benchmarks/make_records.py``, which copies each complete record, unchanged, to
``book/records/<name>.json``. ``PLANS`` names the records each chapter needs, so the
record maker and the chapters agree on the names.

    found = stored.load(stored.plan("ch02"))     # in book/: reads records/<name>.json
    print(found.report())                        # what is there, what is missing
    display(stored.summary_table(found.records))

A stored record is shown only after `load_record` has checked its checksum (an edited or
damaged file raises, it is never shown). In Colab the chapter's folder has no
``records/``; there ``load`` fetches the files from the book's repository (``fetch``).
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .records import RecordError, load_record
from .tables import Table, make_table

__all__ = ["SEEDS", "PLANS", "RECORDS_URL", "run_spec", "plan", "Stored", "load", "epochs_done",
           "provenance", "label", "summary_table", "final_skip_count", "shared_gpu"]

SEEDS = (0, 1, 2)
#: Where Colab fetches stored records from (the book's repository, branch main).
RECORDS_URL = "https://raw.githubusercontent.com/nas-kit/nas-kit-book/main/book/records"


def run_spec(method: str, space: str, seed: int, tag: str = "", **overrides: Any) -> dict[str, Any]:
    """One planned run: ``{"name", "method", "space", "seed", "overrides"}``; the name is
    ``<method>[-<tag>]-<space>-s<seed>``, the file ``book/records/<name>.json``."""
    name = f"{method}{'-' + tag if tag else ''}-{space}-s{seed}"
    return {"name": name, "method": method, "space": space, "seed": seed, "overrides": overrides}


_r = run_spec
# Records each chapter needs (issues 4, 5, 6), in the order GPU time is best spent.
PLANS: dict[str, list[dict[str, Any]]] = {
    "ch02": [_r("darts", "nb201", s) for s in SEEDS] + [_r("darts", "darts", 0)],
    "ch03": [_r("fair-darts", "nb201", s) for s in SEEDS]
    + [_r("fair-darts", "darts", 0),
       _r("fair-darts", "darts", 0, tag="no01", zero_one_weight=0.0),
       _r("darts", "darts", 0, tag="skipnoise", skip_noise=1.0)],
    "ch04": [_r("rf-darts", "nb201", s) for s in SEEDS]
    + [_r("darts", "nb201", 0, tag="convonly", trainable="conv_only"),
       _r("rf-darts", "darts", 0), _r("rf-pcdarts", "darts", 0)],
    "ch05": [_r("mim-darts", "nb201", s) for s in SEEDS]
    # the sweep around the recipe (r = 0.8, p = 4: the run above)
    + [_r("mim-darts", "nb201", 0, tag=f"mask{int(r * 100)}p{p}", mask_ratio=r, patch_size=p)
       for r in (0.5, 0.8, 0.9) for p in (4, 8) if (r, p) != (0.8, 4)]
    + [_r("mim-darts", "nb201", 0, tag="maskedce", mim_loss=False),
       _r("mim-darts", "darts", 0)],
    "ch06": [_r(m, "nb201", s) for m in ("darts-2nd", "pc-darts", "rf-pcdarts") for s in SEEDS]
    + [_r(m, "darts", s) for s in SEEDS for m in
       ("darts", "darts-2nd", "fair-darts", "pc-darts", "rf-darts", "rf-pcdarts", "mim-darts")],
}
# ch02's longer search (collapse grows with training), last: it is the most expensive run.
PLANS["long"] = [_r("darts", "darts", 0, tag="e100", epochs=100)]
PLANS["all"] = list({r["name"]: r for key in ("ch02", "ch03", "ch04", "ch05", "ch06", "long")
                     for r in PLANS[key]}.values())
del _r


def plan(*names: str) -> list[dict[str, Any]]:
    """The planned runs of one or more plans (``"ch02"``, ``"long"``, ...), without repeats."""
    unknown = [n for n in names if n not in PLANS]
    if unknown or not names:
        raise ValueError(f"unknown plan(s) {unknown or '(none given)'}; valid: {', '.join(PLANS)}")
    return list({r["name"]: r for n in names for r in PLANS[n]}.values())


@dataclass
class Stored:
    """What `load` found: ``complete`` {name: record}, ``partial`` {name: record of a search
    stopped before its last epoch (GPU time ran out; it may go on later)}, ``missing``
    [names], ``fetch_errors`` {name: why a download failed}. ``records`` is both the
    complete and the partial records, which the chapters show (partial ones as such)."""
    root: Path
    complete: dict[str, dict[str, Any]] = field(default_factory=dict)
    partial: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    fetch_errors: dict[str, str] = field(default_factory=dict)

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        return {**self.complete, **self.partial}

    def report(self) -> str:
        """A few lines for the reader: found, partial, missing, and how to make them."""
        total = len(self.complete) + len(self.partial) + len(self.missing)
        lines = [f"{len(self.complete)} of {total} stored records found complete under "
                 f"{self.root}/" + (f": {', '.join(self.complete)}" if self.complete else "")]
        if self.partial:
            lines.append("partial, shown with their epoch count: " + ", ".join(
                f"{n} ({epochs_done(r)})" for n, r in self.partial.items()))
        if self.missing:
            lines.append("not made yet: " + ", ".join(self.missing))
            lines.append("(made on a GPU by benchmarks/make_records.py; until then only your "
                         "own runs are shown)")
        for name, why in self.fetch_errors.items():
            lines.append(f"could not fetch {name}: {why}")
        return "\n".join(lines)


def _default_fetch() -> bool:
    return "google.colab" in sys.modules and os.environ.get("NAS_KIT_OFFLINE") != "1"


def _fetch(name: str, path: Path, base_url: str, timeout: float, check=load_record) -> str | None:
    """Download ``base_url/name.json`` to ``path``; None on success, else why not.

    ``check(path)`` must accept the downloaded file (raising RecordError otherwise) before
    it takes its name."""
    url = f"{base_url.rstrip('/')}/{name}.json"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except urllib.error.HTTPError as e:
        return None if e.code == 404 else f"{url}: HTTP {e.code}"
    except urllib.error.URLError as e:
        if isinstance(e.reason, FileNotFoundError):
            return None   # a file:// base without this record: simply not made yet
        return f"{url}: {e.reason}"
    except OSError as e:   # e.g. a timeout while reading
        return f"{url}: {e}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    try:
        check(tmp)                   # checksum checked before the file takes its name
    except RecordError as e:
        tmp.unlink()
        return f"{url}: {e}"
    tmp.replace(path)
    return None


def load(specs: Sequence[Mapping[str, Any] | str], root: str | os.PathLike = "records", *,
         fetch: bool | None = None, base_url: str = RECORDS_URL, timeout: float = 20.0) -> Stored:
    """Load the stored records named by ``specs`` (run specs from `plan`, or names).

    root: the folder of ``<name>.json`` files (``records`` next to the chapters).
    fetch: download records missing under ``root`` from ``base_url`` first (default: only
        in Colab, where the chapter's folder has no records; ``NAS_KIT_OFFLINE=1`` turns it
        off). A download that fails is reported in ``fetch_errors``, never fatal.
    A file that exists but fails its checksum raises `RecordError`: a stored number is
    never shown from a damaged file.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ValueError(f"records root {root} is a file; pass the folder that holds the records")
    fetch = _default_fetch() if fetch is None else fetch
    found = Stored(root)
    for spec in specs:
        name = spec if isinstance(spec, str) else spec["name"]
        path = root / f"{name}.json"
        if not path.exists() and fetch:
            why = _fetch(name, path, base_url, timeout)
            if why is not None:
                found.fetch_errors[name] = why
        if not path.exists():
            found.missing.append(name)
            continue
        record = load_record(path)
        if record.get("complete"):
            found.complete[name] = record
        elif record["history"]:
            found.partial[name] = record
        else:
            found.missing.append(name)
    return found


def epochs_done(record: Mapping[str, Any]) -> str:
    """``"50 epochs"`` for a complete search, ``"12 of 50 epochs"`` for a partial one."""
    done, planned = len(record["history"]), record["config"]["epochs"]
    return f"{done} epochs" if done == planned else f"{done} of {planned} epochs"


def label(name: str, record: Mapping[str, Any]) -> str:
    """Legend entry of a stored record: its file, and its epoch count when partial."""
    return f"{name}.json" if record.get("complete") else f"{name}.json ({epochs_done(record)})"


def provenance(records: Sequence[Mapping[str, Any]]) -> str:
    """Caption line: profile(s), data, device(s), nas_kit commit(s) and dates of the records."""
    if not records:
        return "no records"

    def uniq(values):
        return ", ".join(dict.fromkeys(str(v) for v in values if v is not None)) or "unknown"
    dates = sorted(r["env"].get("date", "")[:10] for r in records if r["env"].get("date"))
    # a record made from a checkout with uncommitted nas_kit changes says so
    commits = uniq((r["env"].get("git_commit") or "")[:7] + ("+modified" if r["env"].get("git_modified") else "")
                   or None for r in records)
    if not dates:
        when = "date unknown"
    else:
        when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    return (f"{len(records)} record(s) · profile {uniq(r['profile'] for r in records)} · "
            f"data {uniq(r['dataset_provenance'] for r in records)} · "
            f"device {uniq(r['env'].get('device_name') for r in records)} · "
            f"torch {uniq(r['env'].get('torch') for r in records)} · commit {commits} · {when}")


def final_skip_count(record: Mapping[str, Any]) -> int:
    """skip_connect edges in the record's final cell (DARTS space: the normal cell)."""
    from .genotypes import parse_genotype
    return parse_genotype(record["genotype"], space=record["space"]).skip_count()


def per_record(records: Mapping[str, Mapping[str, Any]], value, empty: str = "none stored yet") -> str:
    """One claims-table cell for stored records: ``"name.json: value; ..."`` with
    ``value(record)`` for each (a partial record's label says its epochs), or `empty`."""
    return "; ".join(f"{label(n, r)}: {value(r)}" for n, r in records.items()) or empty


def _peak_gib(record: Mapping[str, Any]) -> str:
    peaks = [e.get("peak_memory_gib") for e in record["history"]]
    peaks = [p for p in peaks if p is not None]
    return f"{max(peaks):.2f}" if peaks else "–"


def summary_table(records: Mapping[str, Mapping[str, Any]], notes: Sequence[str] = ()) -> Table:
    """One row per stored search record: its file, method, space, seed, epochs (``12 of 50``
    for a partial search), final cell's skip count and (NAS-Bench-201) benchmark test
    accuracies, search time and peak memory. The table's last note is the records'
    provenance."""
    from . import nb201
    rows, shared_most = [], 0
    for name, r in records.items():
        accs = ["–"] * 3
        if r["space"] == "nb201":
            accs = [f"{nb201.accuracy(r['genotype'], d):.2f}"
                    for d in ("cifar10", "cifar100", "imagenet16-120")]
        shared = shared_gpu(r)
        shared_most = max(shared_most, shared)
        minutes = f"{r['total_seconds'] / 60:.1f}" + (" †" if shared > 1 else "")
        rows.append([f"{name}.json", r["method"], r["space"], r["seed"], epochs_done(r),
                     final_skip_count(r), *accs, minutes, _peak_gib(r),
                     r["env"].get("device_name") or "?"])
    header = ["record", "method", "space", "seed", "epochs", "skips in last cell",
              "NB201 C10 test %", "C100 %", "IN16-120 %", "search min", "peak GiB", "device"]
    if shared_most > 1:
        notes = [*notes, f"† searched while up to {shared_most} searches shared the GPU "
                 "(record-making processes started together): the time is not this search's "
                 "alone"]
    return make_table(header, rows, [*notes, "Records: " + provenance(list(records.values()))])


def shared_gpu(record: Mapping[str, Any]) -> int:
    """The most searches that shared the GPU in any epoch of `record` (its epochs'
    ``concurrent_runs``; 1 where not recorded)."""
    return max((e.get("concurrent_runs") or 1 for e in record["history"]), default=1)
