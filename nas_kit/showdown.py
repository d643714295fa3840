"""Every method side by side (chapter 6): run records in, tables and figures out.

A *cell* of the showdown is one search ``(method, space, seed)``. The chapter shows two
sets of cells through the same functions:

* **stored records** of paper-profile GPU runs, read from a folder by ``collect`` (every
  file through ``nas_kit.load_record``, so an edited or truncated record is refused), and
* **the reader's runs**, made by ``run_cell`` at the reader's profile.

From search records it builds

* the NAS-Bench-201 summary (``summarise_nb201``): per method, the benchmark test
  accuracy of each seed's *final* genotype on CIFAR-10, CIFAR-100 and ImageNet16-120,
  the search time (the record's ``total_seconds``: the sum of its epochs' wall times,
  without set-up), mean ± sample standard deviation over seeds;
* the DARTS-space cells (``darts_cells``): skip counts of the normal and reduction cell,
  parameters and multiply-adds of the evaluation network built from the genotype with the
  DARTS CIFAR protocol's shape (C=36, 20 cells, 10 classes, 32 x 32 input, auxiliary
  head not counted; see ``nas_kit.complexity``);

and renders them as tables (``Table``: Markdown and HTML) next to the papers' numbers (``PAPER_NB201``,
``PAPER_DARTS``, with their sources) and the benchmark optimum (``nas_kit.nb201``).

Peak GPU memory: newer search records store, per epoch, ``peak_memory_gib``, the value
of ``torch.cuda.max_memory_allocated`` then (None on CPU); a record's peak is the largest
of them (``record_peak_bytes``). That counter runs since the process started or was last
reset, so ``run_cell`` resets it before each search: its records hold that search's own
peak (everything torch allocated, the data subset kept on the GPU included). Older
records lack the field and the tables say "not in record".

Stored records live anywhere under one folder, in any layout (a flat folder of
``<name>.json`` records, or the ``<root>/<space>/<method>/seed<k>/record.json`` that
``run_cell`` writes): ``collect`` keys them by their content, not their path, and sets
aside the ablations stored next to them (records whose config is not their method's
recipe).
"""
from __future__ import annotations

import json

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import nb201
from .analysis import alpha_updates
from .complexity import Complexity, count
from .genotypes import PUBLISHED, parse_genotype, published
from .methods import IMPLEMENTATION_KEYS
from .records import SEARCH_FORMAT, load_record
from .stored import provenance, shared_gpu
from .tables import Table, make_table as _table

__all__ = ["METHODS", "SPACES", "NB201_COLUMNS", "EVAL_SHAPE", "PaperNB201", "PaperDarts",
           "PAPER_NB201", "PAPER_DARTS", "Collection", "collect", "recipe_differences",
           "EXECUTION_KEYS", "record_dir", "training_label", "stored_training", "missing",
           "describe_missing", "mean_std", "format_mean_std", "Table", "NB201Summary",
           "record_peak_bytes", "summarise_nb201", "nb201_table", "verdicts", "DartsCell",
           "darts_cells", "eval_complexity", "darts_table", "published_table", "CellRun",
           "run_cell", "provenance", "plot_nb201", "plot_darts"]

#: The methods of the showdown, in table order.
METHODS = ("darts", "darts-2nd", "fair-darts", "pc-darts", "rf-darts", "rf-pcdarts", "mim-darts")
SPACES = ("nb201", "darts")
#: NAS-Bench-201 datasets: (nb201 name, NB201Entry field, column title).
NB201_COLUMNS = nb201.TEST_COLUMNS
#: The DARTS CIFAR evaluation network (Liu et al. 2019, `cnn/train.py`).
EVAL_SHAPE = dict(C=36, layers=20, num_classes=10, image_size=32)

Key = tuple[str, str, int]   # (method, space, seed)


# ------------------------------------------------------------------ the papers' numbers

@dataclass(frozen=True)
class PaperNB201:
    """What a method's paper (or a table quoting it) reports on NAS-Bench-201, CIFAR-10 search.

    Accuracies are ``(mean, std)`` test accuracy in %, ``std`` None where it was not
    retrieved; ``None`` for the whole entry where nothing is reported.
    """
    cifar10: tuple[float, float | None] | None
    cifar100: tuple[float, float | None] | None
    imagenet16: tuple[float, float | None] | None
    search_seconds: float | None
    source: str

    def accuracy(self, dataset: str) -> tuple[float, float | None] | None:
        return {"cifar10": self.cifar10, "cifar100": self.cifar100,
                "imagenet16-120": self.imagenet16}[dataset]


# Values and sources: shared/research/nb201.md section 2 and 4 (quoted tables; the original
# PDFs were not reachable, so every entry names the table it was copied from).
PAPER_NB201: dict[str, PaperNB201] = {
    "darts": PaperNB201(
        (54.30, 0.00), (15.61, 0.00), (16.32, 0.00), 10_889.87,
        "NAS-Bench-201 paper (Dong & Yang, ICLR 2020), DARTS-V1, 3 runs, as quoted in later "
        "papers' tables; search time via TE-NAS Table 1 (GPU not stated there)"),
    "darts-2nd": PaperNB201(
        (54.30, 0.00), (15.61, 0.00), (16.32, 0.00), 29_901.67,
        "NAS-Bench-201 paper, DARTS-V2, 3 runs, as quoted in later papers' tables; search "
        "time via TE-NAS Table 1 (GPU not stated there)"),
    "fair-darts": PaperNB201(
        None, None, None, None,
        "not reported: the Fair DARTS paper (ECCV 2020) uses the DARTS space and a "
        "ProxylessNAS space only"),
    "pc-darts": PaperNB201(
        (93.41, 0.30), (67.48, 0.89), (41.31, 0.22), None,
        "not in the PC-DARTS paper; the DrNAS paper's re-run (Chen et al., ICLR 2021), as "
        "reproduced in GENIUS Table 1"),
    "rf-darts": PaperNB201(
        (94.27, None), (72.94, None), None, None,
        "RF-DARTS (CVPR 2023) as listed by PapersWithCode; its abstract gives 94.36 % "
        "(which of the two is a mean we could not check); std and ImageNet16-120 not "
        "retrieved"),
    "rf-pcdarts": PaperNB201(
        None, None, None, None,
        "no NAS-Bench-201 number in the sources we could read (RF-DARTS abstract and "
        "listings)"),
    "mim-darts": PaperNB201(
        (94.30, None), (73.16, None), (46.34, None), None,
        "α-DARTS (arXiv 2211.10105) as listed by PapersWithCode / HyperAI; std not retrieved"),
}


@dataclass(frozen=True)
class PaperDarts:
    """A method's DARTS-space CIFAR-10 result under the full evaluation protocol (600 epochs,
    C=36, 20 cells, auxiliary head, cutout, drop-path), as its authors report it."""
    genotype: str | None     # name in nas_kit.PUBLISHED, None if no cell was released
    error: str               # test error in %, as reported (text: some are not plain numbers)
    params_m: str | None     # parameters in millions, as reported
    flops_m: str | None      # multiply-adds in millions, as reported
    search_cost: str
    source: str


# Values and sources: shared/research/darts_fair_pc.md and rf_mim_nar.md.
PAPER_DARTS: dict[str, PaperDarts] = {
    "darts": PaperDarts(
        "DARTS_V1", "3.00", None, None, "0.4 GPU-days (GTX 1080Ti)",
        "DARTS first order, as listed in the PC-DARTS README table"),
    "darts-2nd": PaperDarts(
        "DARTS_V2", "2.76 ± 0.09 (10 trainings)", "3.3", None,
        "1.0 GPU-day per search (GTX 1080Ti)",
        "DARTS README (quark0/darts); search cost per run from the PC-DARTS README (the "
        "DARTS paper's 4 GPU-days cover 4 searches)"),
    "fair-darts": PaperDarts(
        "FairDARTS_a", "2.54 (97.46 % accuracy; 97.46 ± 0.05 over 7 searches)",
        "2.83 (auxiliary head included)", "373", "0.25 GPU-days",
        "Fair DARTS README (xiaomi-automl/FairDARTS); trained 1,600 epochs according to the "
        "authors (issue #5); search cost from the PapersWithCode listing"),
    "pc-darts": PaperDarts(
        "PC_DARTS_cifar", "2.57 ± 0.07", "3.6", None, "0.1 GPU-days (GTX 1080Ti)",
        "PC-DARTS README (yuhuixu1993/PC-DARTS) for 2.57 %, 3.6 M and the cost; the ± 0.07 "
        "is over 4 trainings of the best cell (PC-DARTS issue #47)"),
    "rf-darts": PaperDarts(
        None, "not retrieved (ImageNet: 24.0 % top-1 error for a CIFAR-10-searched cell)",
        None, None, "not retrieved", "RF-DARTS abstract (CVPR 2023, arXiv 2208.08835)"),
    "rf-pcdarts": PaperDarts(
        None, "not retrieved (ImageNet search: 23.9 % top-1 error)", None, None,
        "not retrieved", "RF-DARTS abstract (CVPR 2023, arXiv 2208.08835)"),
    "mim-darts": PaperDarts(
        None, "not retrieved (the abstract claims state of the art on CIFAR-10)", None, None,
        "not retrieved", "α-DARTS abstract (arXiv 2211.10105)"),
}


# ------------------------------------------------------------------ stored records

@dataclass
class Collection:
    """Search records found under ``root``, keyed by ``(method, space, seed)``."""
    root: Path
    search: dict[Key, dict[str, Any]] = field(default_factory=dict)
    paths: dict[Key, Path] = field(default_factory=dict)
    incomplete: dict[Key, Path] = field(default_factory=dict)   # stopped before the last epoch
    variants: dict[Path, list[str]] = field(default_factory=dict)  # ablations: differing keys
    train: list[dict[str, Any]] = field(default_factory=list)   # train-from-scratch records
    studies: list[Path] = field(default_factory=list)   # NAR studies (chapter 7), not runs

    def records(self, space: str | None = None) -> list[dict[str, Any]]:
        """The complete search records, of one space if given, in showdown order."""
        keys = sorted(self.search, key=_order)
        return [self.search[k] for k in keys if space is None or k[1] == space]


def _order(key: Key) -> tuple:
    method, space, seed = key
    rank = METHODS.index(method) if method in METHODS else len(METHODS)
    return (SPACES.index(space) if space in SPACES else len(SPACES), rank, method, seed)


def record_dir(root: str | Path, method: str, space: str, seed: int) -> Path:
    """Where ``run_cell`` writes the record of one cell: ``root/space/method/seed<k>``
    (``collect`` finds records by content, so any layout works)."""
    return Path(root) / space / method / f"seed{seed}"


#: Config keys that choose how a search is computed, not what it computes (the engines
#: and CUDA-graph replay are tested equal to eager), so a record may differ in them from
#: the recipe.
EXECUTION_KEYS = IMPLEMENTATION_KEYS


def recipe_differences(record: Mapping[str, Any]) -> list[str]:
    """Config keys in which a search record departs from its method's recipe at its profile.

    The recipe is ``nas_kit.resolve_config(method, space, dataset, profile=, seed=)``:
    the method's paper values and the profile's budget. Only keys both configs have are
    compared (a record made before a key existed ran with that key's default behaviour),
    and ``EXECUTION_KEYS`` are ignored. An empty list means the record *is* the method.
    """
    from .methods import resolve_config
    recipe = resolve_config(record["method"], record["space"], record["dataset"],
                            profile=record["profile"], seed=record["seed"]).to_dict()
    config = record["config"]
    return sorted(k for k in recipe.keys() & config.keys()
                  if k not in EXECUTION_KEYS and recipe[k] != config[k])


def _is_nar_study(path: Path) -> bool:
    from . import nar_sampler_study, nar_study
    try:
        return json.loads(path.read_text()).get("format") in (nar_study.STUDY_FORMAT,
                                                             nar_sampler_study.STUDY_FORMAT)
    except (json.JSONDecodeError, AttributeError):
        return False     # load_record then names what is wrong with the file


def collect(root: str | Path, *, recipes_only: bool = True) -> Collection:
    """Load every ``*.json`` record under ``root`` (recursively), checksums checked.

    A missing folder gives an empty collection (everything is then reported missing). A
    file that fails ``load_record`` raises its ``RecordError``: a stored number is never
    shown from a damaged file. Search records that depart from their method's recipe
    (the ablations other chapters store next to them, see ``recipe_differences``) are set
    aside in ``variants`` unless ``recipes_only=False``. Two complete records of one
    (method, space, seed) are an error naming both files.
    """
    root = Path(root)
    found = Collection(root)
    if not root.exists():
        return found
    if not root.is_dir():
        raise ValueError(f"records root {root} is a file; pass the folder that holds the records")
    for path in sorted(root.rglob("*.json")):
        if _is_nar_study(path):
            found.studies.append(path)
            continue
        record = load_record(path)
        if record["format"] != SEARCH_FORMAT:
            found.train.append(record)
            continue
        if recipes_only:
            differences = recipe_differences(record)
            if differences:
                found.variants[path] = differences
                continue
        key = (record["method"], record["space"], int(record["seed"]))
        if not record.get("complete", False):
            found.incomplete[key] = path
            continue
        if key in found.search:
            raise ValueError(f"two records for method {key[0]!r}, space {key[1]!r}, seed {key[2]}: "
                             f"{found.paths[key]} and {path}; keep one")
        found.search[key] = record
        found.paths[key] = path
    return found


def training_label(config: Mapping[str, Any]) -> str:
    """Column title naming a DARTS training budget: epochs, network size, data."""
    images = "all" if config.get("limit") is None else f"{config['limit']:,}"
    return (f"test acc % after {config['epochs']} epoch(s), C={config['init_channels']}, "
            f"{config['layers']} cells, {images} images")


def stored_training(collection: Collection) -> tuple[dict[Key, float], str | None]:
    """Test accuracies of stored DARTS-space train records, keyed by the search whose final
    genotype they trained, and a column label naming their budget.

    A train record belongs to every search ``(method, 'darts', seed)`` whose final genotype
    it holds; several trainings of one genotype are averaged. Trainings with different
    budgets cannot share a column: that is a ValueError naming the differing keys.
    """
    trains = [t for t in collection.train if t["space"] == "darts" and t.get("complete")]
    if not trains:
        return {}, None
    budget_keys = ("epochs", "init_channels", "layers", "limit", "batch_size", "profile")
    first = {k: trains[0]["config"].get(k) for k in budget_keys}
    for t in trains[1:]:
        diff = [k for k in budget_keys if t["config"].get(k) != first[k]]
        if diff:
            raise ValueError(f"stored train records differ in {diff}; keep one training budget "
                             f"under {collection.root}")
    by_genotype: dict[str, list[float]] = {}
    for t in trains:
        by_genotype.setdefault(str(parse_genotype(t["genotype"], "darts")), []).append(float(t["test_acc"]))
    accs = {}
    for key, record in collection.search.items():
        if key[1] != "darts":
            continue
        found = by_genotype.get(str(parse_genotype(record["genotype"], "darts")))
        if found:
            accs[key] = statistics.fmean(found)
    return accs, training_label(trains[0]["config"])


def missing(collection: Collection, methods: Sequence[str] = METHODS,
            spaces: Sequence[str] = SPACES, seeds: Sequence[int] = (0, 1, 2)) -> list[Key]:
    """The cells of the grid methods x spaces x seeds without a complete record."""
    return [(m, sp, s) for sp in spaces for m in methods for s in seeds
            if (m, sp, s) not in collection.search]


def describe_missing(keys: Sequence[Key], incomplete: Mapping[Key, Path] | None = None) -> str:
    """One line per space and method: which seeds have no complete record (and which stopped early)."""
    if not keys:
        return "none missing"
    incomplete = incomplete or {}
    lines = []
    for space in dict.fromkeys(k[1] for k in keys):
        for method in dict.fromkeys(k[0] for k in keys if k[1] == space):
            seeds = [k[2] for k in keys if k[:2] == (method, space)]
            stopped = [s for s in seeds if (method, space, s) in incomplete]
            note = f" (seed {', '.join(map(str, stopped))} stopped early)" if stopped else ""
            lines.append(f"{space}: {method}, seed {', '.join(map(str, seeds))}{note}")
    return "\n".join(lines)


# ------------------------------------------------------------------ statistics and formats

def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1); the std is None for a single value."""
    if not values:
        raise ValueError("mean_std of no values")
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def format_mean_std(values: Sequence[float] | None, digits: int = 2) -> str:
    """``'93.41 ± 0.30'``; a single value without ±; ``'–'`` for none."""
    if not values:
        return "–"
    mean, std = mean_std(values)
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _format_paper(value: tuple[float, float | None] | None) -> str:
    if value is None:
        return "n/r"
    mean, std = value
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def _format_seconds(values: Sequence[float] | None) -> str:
    if not values:
        return "–"
    mean, std = mean_std(values)
    digits = 0 if mean >= 100 else 1
    text = f"{mean:,.{digits}f}"
    return text if std is None else f"{text} ± {std:,.{digits}f}"


def _format_bytes(values: Sequence[int | None] | None) -> str:
    """Peak memory: GiB (or MiB below 1 GiB); explains why a value is absent."""
    if values is None:
        return "not in record"
    measured = [v for v in values if v is not None]
    if not measured:
        return "n/a (CPU)"
    gib = max(measured) / 2**30
    return f"{gib:.2f} GiB" if gib >= 1 else f"{max(measured) / 2**20:.0f} MiB"


def _check_group(method: str, space: str, records: Sequence[Mapping[str, Any]]) -> None:
    """Seeds of one method must differ only in the seed, or their mean means nothing."""
    first = records[0]
    for r in records[1:]:
        for key in ("profile", "dataset_provenance"):
            if r[key] != first[key]:
                raise ValueError(f"{method}/{space}: seeds {first['seed']} and {r['seed']} differ "
                                 f"in {key} ({first[key]!r} vs {r[key]!r}); summarise them apart")
        ignored = ("seed", *EXECUTION_KEYS)
        a = {k: v for k, v in first["config"].items() if k not in ignored}
        b = {k: v for k, v in r["config"].items() if k not in ignored}
        diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if diff:
            raise ValueError(f"{method}/{space}: seeds {first['seed']} and {r['seed']} differ in "
                             f"config {diff}; summarise them apart")


def _group(records: Sequence[Mapping[str, Any]], space: str) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("format") != SEARCH_FORMAT:
            raise ValueError(f"not a search record (format {r.get('format')!r}); valid: {SEARCH_FORMAT}")
        if r["space"] != space:
            raise ValueError(f"record of {r['method']} seed {r['seed']} is from space "
                             f"{r['space']!r}; this summary needs {space!r}")
        groups.setdefault(r["method"], []).append(r)
    order = sorted(groups, key=lambda m: (METHODS.index(m) if m in METHODS else len(METHODS), m))
    out = {}
    for m in order:
        rs = sorted(groups[m], key=lambda r: r["seed"])
        seeds = [r["seed"] for r in rs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{m}/{space}: seed listed twice in {seeds}")
        _check_group(m, space, rs)
        out[m] = rs
    return out


# ------------------------------------------------------------------ NAS-Bench-201

@dataclass(frozen=True)
class NB201Summary:
    """One method's NAS-Bench-201 searches: per-seed values, in seed order."""
    method: str
    seeds: tuple[int, ...]
    genotypes: tuple[str, ...]
    accuracy: Mapping[str, tuple[float, ...]]   # nb201 dataset name -> per seed (%)
    skips: tuple[int, ...]                       # skip connections in the final cell (of 6)
    seconds: tuple[float, ...]
    peak_bytes: tuple[int | None, ...] | None    # per seed, None on CPU; None: not recorded
    profile: str
    dataset_provenance: str
    shared_gpu: int = 1    # most searches that shared the GPU in any epoch of these records
    alpha_steps: tuple[int, ...] = ()   # α-steps each seed's search made (analysis.alpha_updates)


def record_peak_bytes(record: Mapping[str, Any]) -> int | None:
    """GPU memory high-water mark of a search record in bytes: the largest ``peak_memory_gib``
    of its epochs; None when the search ran on CPU. KeyError when no epoch holds the field
    (a record made before nas_kit stored it)."""
    if not any("peak_memory_gib" in entry for entry in record["history"]):
        raise KeyError("peak_memory_gib")
    values = [e["peak_memory_gib"] for e in record["history"] if e.get("peak_memory_gib") is not None]
    return round(max(values) * 2**30) if values else None


def _peaks(records: Sequence[Mapping[str, Any]], space: str,
           peak_memory: Mapping[Key, int | None] | None) -> tuple[int | None, ...] | None:
    """Per record: ``peak_memory``'s value if given, else the record's; None if not recorded."""
    if peak_memory is not None:
        return tuple(peak_memory.get((r["method"], space, r["seed"])) for r in records)
    try:
        return tuple(record_peak_bytes(r) for r in records)
    except KeyError:
        return None


def summarise_nb201(records: Sequence[Mapping[str, Any]],
                    peak_memory: Mapping[Key, int | None] | None = None) -> list[NB201Summary]:
    """Per method: benchmark accuracies of the final genotypes, search times, peak memory.

    Peak memory comes from the records (``record_peak_bytes``) unless ``peak_memory`` maps
    ``(method, 'nb201', seed)`` to bytes (None for a CPU run) measured some other way.
    """
    out = []
    for method, rs in _group(records, "nb201").items():
        entries = [nb201.lookup(r["genotype"]) for r in rs]
        out.append(NB201Summary(
            method=method, seeds=tuple(r["seed"] for r in rs),
            genotypes=tuple(e.arch for e in entries),
            accuracy={ds: tuple(getattr(e, f) for e in entries) for ds, f, _ in NB201_COLUMNS},
            skips=tuple(e.genotype.skip_count() for e in entries),
            seconds=tuple(float(r["total_seconds"]) for r in rs),
            peak_bytes=_peaks(rs, "nb201", peak_memory),
            profile=rs[0]["profile"], dataset_provenance=rs[0]["dataset_provenance"],
            shared_gpu=max(shared_gpu(r) for r in rs),
            alpha_steps=tuple(alpha_updates(r)[-1] if r["history"] else 0 for r in rs)))
    return out


def nb201_table(summaries: Sequence[NB201Summary],
                paper: Mapping[str, PaperNB201] = PAPER_NB201) -> Table:
    """Ours (mean ± std over seeds) next to the paper's number, per dataset; search
    time; peak GPU memory; the benchmark optimum as the last row; sources as footnotes."""
    header = ["method", "seeds", "α-steps per seed", "skips (of 6)"]
    for _, _, title in NB201_COLUMNS:
        header += [f"{title} ours", f"{title} paper"]
    header += ["search s, ours", "search s, paper", "peak GPU memory", "paper source"]
    rows, notes = [], []
    for s in summaries:
        p = paper.get(s.method)
        note = ""
        if p is not None:
            notes.append(p.source)
            note = f"[{len(notes)}]"
        row = [s.method, ", ".join(map(str, s.seeds)),
               ", ".join(map(str, s.alpha_steps)) if s.alpha_steps else "–",
               format_mean_std(s.skips, 1)]
        for ds, _, _ in NB201_COLUMNS:
            row += [format_mean_std(s.accuracy[ds]), _format_paper(p.accuracy(ds)) if p else "n/r"]
        row += [_format_seconds(s.seconds) + (" †" if s.shared_gpu > 1 else ""),
                f"{p.search_seconds:,.0f}" if p and p.search_seconds else "n/r",
                _format_bytes(s.peak_bytes), note or "–"]
        rows.append(row)
    best = ["benchmark optimum", "–", "–", "–"]
    for ds, field_, _ in NB201_COLUMNS:
        value = f"{getattr(nb201.optimum(ds), field_):.2f}"
        best += [value, value]
    rows.append(best + ["–", "–", "–", "NAS-Bench-201 table in nas_kit"])
    shared = max((s.shared_gpu for s in summaries), default=1)
    return _table(header, rows, ["α-steps: architecture updates each seed's search made "
                                 "(a method's α stays frozen during its warm-up epochs)"]
                  + [f"[{i}] {n}" for i, n in enumerate(notes, 1)]
                  + ([f"† searched while up to {shared} searches shared the GPU: the time is "
                      "not the search's alone"] if shared > 1 else []))


def verdicts(summaries: Sequence[NB201Summary], paper: Mapping[str, PaperNB201] = PAPER_NB201,
             *, tolerance_pp: float = 0.5) -> list[str]:
    """One line per method and dataset: do our seeds reproduce the paper's number?

    Rule (stated so that it can be argued with): reproduced when
    ``|ours - paper| <= max(tolerance_pp, 2 * sqrt(std_ours² + std_paper²))``, a missing
    std counting as 0. Only ``paper``-profile searches are judged: a smaller budget is no
    test of a claim made at the published one, and the line says so.
    """
    lines = []
    for s in summaries:
        p = paper.get(s.method)
        if s.profile != "paper":
            line = (f"{s.method}: {s.profile} profile, a budget below the paper's - "
                    f"not a test of the paper's claim")
            empty = [i for i, g in enumerate(s.genotypes)
                     if all(op == "none" for op in parse_genotype(g, "nb201").ops)]
            if empty and s.alpha_steps:
                seeds = ", ".join(str(s.seeds[i]) for i in empty)
                steps = " / ".join(dict.fromkeys(str(s.alpha_steps[i]) for i in empty))
                line += (f"; seed{'s' if len(empty) > 1 else ''} {seeds}: an all-none cell after "
                         f"{steps} α-steps, no op weight reached the derivation threshold (Fair "
                         f"DARTS' σ ≥ 0.85 takes a few hundred: chapter 3), so its accuracy "
                         f"shows the budget, not the method")
            lines.append(line)
            continue
        for ds, _, title in NB201_COLUMNS:
            reported = p.accuracy(ds) if p is not None else None
            if reported is None:
                lines.append(f"{s.method}, {title}: no paper number to compare with")
                continue
            mean, std = mean_std(s.accuracy[ds])
            diff = mean - reported[0]
            allowed = max(tolerance_pp, 2 * ((std or 0.0) ** 2 + (reported[1] or 0.0) ** 2) ** 0.5)
            verdict = "reproduced" if abs(diff) <= allowed else "not reproduced"
            lines.append(f"{s.method}, {title}: ours {format_mean_std(s.accuracy[ds])} "
                         f"({len(s.seeds)} seeds) vs paper {_format_paper(reported)}: {verdict} "
                         f"(difference {diff:+.2f} pp, allowed ±{allowed:.2f})")
    return lines


# ------------------------------------------------------------------ DARTS space

def eval_complexity(genotype, *, C: int = EVAL_SHAPE["C"], layers: int = EVAL_SHAPE["layers"],
                    num_classes: int = EVAL_SHAPE["num_classes"],
                    image_size: int = EVAL_SHAPE["image_size"]) -> Complexity:
    """Parameters and multiply-adds of the DARTS evaluation network of ``genotype`` (auxiliary
    head built, not counted). Raises ValueError for a cell without output (e.g. a Fair
    DARTS cell in which no σ reached the threshold)."""
    from .spaces.darts_network import DartsNetwork
    if isinstance(genotype, str):   # a published name ('DARTS_V2') or genotype text
        genotype = published(genotype) if genotype in PUBLISHED else parse_genotype(genotype, "darts")
    net = DartsNetwork(genotype, C, num_classes, layers, auxiliary=True)
    return count(net, (1, 3, image_size, image_size), exclude=("auxiliary_head",))


@dataclass(frozen=True)
class DartsCell:
    """One DARTS-space search: its final genotype, skips and evaluation-network cost."""
    method: str
    seed: int
    genotype: str
    normal_skips: int
    reduce_skips: int
    complexity: Complexity | None   # None when the genotype builds no network
    note: str                       # why complexity is None
    seconds: float
    profile: str
    dataset_provenance: str
    peak_bytes: int | None = None     # GPU high-water mark, None on CPU
    peak_recorded: bool = False       # False: the record predates the field
    alpha_steps: int | None = None    # α-steps the search made (analysis.alpha_updates)


def darts_cells(records: Sequence[Mapping[str, Any]]) -> list[DartsCell]:
    """One ``DartsCell`` per DARTS-space record (grouped by method, seed order)."""
    out = []
    for method, rs in _group(records, "darts").items():
        for r in rs:
            g = parse_genotype(r["genotype"], "darts")
            try:
                c, note = eval_complexity(g), ""
            except ValueError as e:
                c, note = None, f"no network: {e}"
            try:
                peak, recorded = record_peak_bytes(r), True
            except KeyError:
                peak, recorded = None, False
            out.append(DartsCell(method, r["seed"], str(g), g.skip_count("normal"),
                                 g.skip_count("reduce"), c, note, float(r["total_seconds"]),
                                 r["profile"], r["dataset_provenance"], peak, recorded,
                                 alpha_updates(r)[-1] if r["history"] else 0))
    return out


def darts_table(cells: Sequence[DartsCell], trained: Mapping[Key, float] | None = None,
                paper: Mapping[str, PaperDarts] = PAPER_DARTS, *,
                trained_label: str = "short training, test acc %") -> Table:
    """Per method, skip counts per seed, parameters and multiply-adds (M) of the
    C=36, 20-cell network (mean ± std over the seeds that build one), search time, the
    short train-from-scratch accuracy (``trained``: ``(method, 'darts', seed)`` -> %),
    and the paper's full-protocol error, parameters and search cost."""
    methods = list(dict.fromkeys(c.method for c in cells))
    header = ["method", "seeds", "α-steps per seed", "normal-cell skips", "reduce-cell skips",
              "params M (ours)", "M multiply-adds (ours)", "search s", "peak GPU memory",
              trained_label, "paper error %", "paper params M", "paper M FLOPs",
              "paper search cost"]
    rows, notes = [], []

    def skips(c: DartsCell, kind: str) -> str:
        # A cell that builds no network (no operation kept) has no skips to speak of: "0"
        # would read as "this method avoids skip connections".
        return str(getattr(c, f"{kind}_skips")) if c.complexity is not None else "–"

    for m in methods:
        group = [c for c in cells if c.method == m]
        built = [c for c in group if c.complexity is not None]
        params = [c.complexity.params_m for c in built]
        macs = [c.complexity.macs_m for c in built]
        no_net = len(group) - len(built)
        suffix = f" ({no_net} seed(s) without a network)" if no_net else ""
        accs = [trained[(m, "darts", c.seed)] for c in group
                if trained is not None and (m, "darts", c.seed) in trained]
        p = paper.get(m)
        if p is not None:
            notes.append(f"{m}: {p.source}")
        rows.append([m, ", ".join(str(c.seed) for c in group),
                     ", ".join("–" if c.alpha_steps is None else str(c.alpha_steps) for c in group),
                     ", ".join(skips(c, "normal") for c in group),
                     ", ".join(skips(c, "reduce") for c in group),
                     format_mean_std(params, 3) + suffix, format_mean_std(macs, 1) + suffix,
                     _format_seconds([c.seconds for c in group]),
                     _format_bytes([c.peak_bytes for c in group]
                                   if all(c.peak_recorded for c in group) else None),
                     format_mean_std(accs) if trained is not None else "–",
                     p.error if p else "n/r", (p.params_m or "n/r") if p else "n/r",
                     (p.flops_m or "n/r") if p else "n/r", p.search_cost if p else "n/r"])
    no_network = any(c.complexity is None for c in cells)
    return _table(header, rows, (["–: the derived cell builds no network (no operation kept), "
                                  "so it has no skips to count"] if no_network else [])
                  + (["Paper sources: " + "; ".join(notes) + "."] if notes else []))


def published_table(paper: Mapping[str, PaperDarts] = PAPER_DARTS) -> Table:
    """Each method's released cell, its parameters and multiply-adds counted by
    ``nas_kit.complexity`` at the DARTS CIFAR shape, next to what its authors report."""
    header = ["method", "released cell", "normal-cell skips", "params M (our count)",
              "M multiply-adds (our count)", "paper params M", "paper M FLOPs", "paper error %"]
    rows = []
    for m, p in paper.items():
        if p.genotype is None:
            rows.append([m, "none released", "–", "–", "–", p.params_m or "n/r", p.flops_m or "n/r",
                         p.error])
            continue
        c = eval_complexity(p.genotype)
        rows.append([m, p.genotype, str(published(p.genotype).skip_count("normal")),
                     f"{c.params_m:.3f}", f"{c.macs_m:.1f}", p.params_m or "n/r",
                     p.flops_m or "n/r", p.error])
    return _table(header, rows)


# ------------------------------------------------------------------ the reader's runs

@dataclass(frozen=True)
class CellRun:
    """One search made by ``run_cell``: its record and the peak GPU memory (None on CPU)."""
    key: Key
    record: dict[str, Any]
    peak_bytes: int | None


def run_cell(method: str, space: str, seed: int, dataset, *, profile: str | None = None,
             out_root: str | Path | None = None, device: str | torch.device | None = None,
             progress: bool = False, **overrides: Any) -> CellRun:
    """Search one cell of the showdown at ``profile`` and measure its peak GPU memory
    (the CUDA high-water mark is reset first, so the record's ``peak_memory_gib`` is this
    search's own).

    ``dataset`` is a name or an ``ImageDataset`` (load it once for many cells);
    ``overrides`` are ``SearchConfig`` keys (e.g. a smaller budget). With ``out_root`` the
    record (and the search's resume checkpoint) go to ``record_dir(out_root, method, space,
    seed)``.
    """
    from .search import pick_device, search
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; valid: {', '.join(SPACES)}")
    dev = pick_device(device)
    out = record_dir(out_root, method, space, seed) if out_root is not None else None
    on_cuda = dev.type == "cuda"
    if on_cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    record = search(method=method, space=space, dataset=dataset, profile=profile, seed=seed,
                    out=out, device=dev, progress=progress, **overrides)
    peak = torch.cuda.max_memory_allocated(dev) if on_cuda else None
    return CellRun((method, space, int(seed)), record, peak)


# ------------------------------------------------------------------ figures

def plot_nb201(summaries: Sequence[NB201Summary], paper: Mapping[str, PaperNB201] = PAPER_NB201,
               *, title: str = ""):
    """Three panels (CIFAR-10, CIFAR-100, ImageNet16-120): each seed's benchmark accuracy
    (dots) and mean (bar) per method, the paper's number (diamond, ± std where known), the
    benchmark optimum (dotted) and the all-skip cell (dashed). Returns the Figure."""
    from .viz import _method_name, _subplots
    fig, axes = _subplots(1, 3, figsize=(13, 3.9), sharey=False)
    names = [s.method for s in summaries]
    all_skip = nb201.lookup(nb201.ALL_SKIP)
    for ax, (ds, field_, label) in zip(axes, NB201_COLUMNS):
        for i, s in enumerate(summaries):
            ys = s.accuracy[ds]
            xs = [i + 0.08 * (k - (len(ys) - 1) / 2) for k in range(len(ys))]
            ax.scatter(xs, ys, s=18, color="tab:blue", zorder=3, label="ours (seeds)")
            ax.hlines(statistics.fmean(ys), i - 0.25, i + 0.25, color="tab:blue", lw=2,
                      label="ours (mean)")
            p = paper.get(s.method)
            value = p.accuracy(ds) if p else None
            if value is not None:
                ax.errorbar(i + 0.3, value[0], yerr=value[1] or None, fmt="D", color="tab:red",
                            ms=5, capsize=3, label="paper")
        ax.axhline(getattr(nb201.optimum(ds), field_), color="gray", ls=":", label="optimum")
        ax.axhline(getattr(all_skip, field_), color="tab:red", ls="--", lw=0.8, label="all-skip cell")
        ax.set_xticks(range(len(names)), [_method_name(n) for n in names], rotation=35, ha="right",
                      fontsize=8)
        ax.set_title(label, fontsize=10)
    axes[0].set_ylabel("benchmark test accuracy (%)\nof the final cell")
    # One legend entry per label, whichever panel drew it first.
    legend: dict[str, Any] = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(text, handle)
    axes[-1].legend(legend.values(), legend.keys(), loc="center left", bbox_to_anchor=(1, 0.5),
                    fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_darts(cells: Sequence[DartsCell], *, published_methods: Mapping[str, PaperDarts] = PAPER_DARTS,
               title: str = ""):
    """Left: normal-cell skip count of each seed per method. Right: parameters against
    multiply-adds of every derived cell (C=36, 20 cells) and of the released cells.
    Returns the Figure."""
    from .viz import _method_name, _subplots
    fig, (ax_skip, ax_cost) = _subplots(1, 2, figsize=(12, 3.9))
    methods = list(dict.fromkeys(c.method for c in cells))
    colors = {m: f"C{i}" for i, m in enumerate(METHODS)}
    for i, m in enumerate(methods):
        group = [c for c in cells if c.method == m]
        built = [c for c in group if c.complexity is not None]
        ys = [c.normal_skips for c in built]
        xs = [i + 0.08 * (k - (len(ys) - 1) / 2) for k in range(len(ys))]
        ax_skip.scatter(xs, ys, color=colors.get(m, "k"), zorder=3)
        if len(built) < len(group):   # a cell without a network has no skips to plot
            ax_skip.annotate(f"{len(group) - len(built)} without\na network", (i, 7.6),
                             ha="center", va="top", fontsize=7, color=colors.get(m, "k"))
        ax_cost.scatter([c.complexity.macs_m for c in built], [c.complexity.params_m for c in built],
                        color=colors.get(m, "k"), label=f"{_method_name(m)} (ours)")
    ax_skip.set_xticks(range(len(methods)), [_method_name(m) for m in methods], rotation=35,
                       ha="right", fontsize=8)
    ax_skip.set_ylabel("skip connections in the normal cell (of 8)")
    ax_skip.set_ylim(-0.5, 8.5)
    for m, p in published_methods.items():
        if p.genotype is None:
            continue
        c = eval_complexity(p.genotype)
        ax_cost.scatter([c.macs_m], [c.params_m], marker="*", s=90, color=colors.get(m, "k"),
                        edgecolor="black", zorder=4)
        ax_cost.annotate(p.genotype, (c.macs_m, c.params_m), fontsize=7, xytext=(4, 3),
                         textcoords="offset points")
    ax_cost.set_xlabel("M multiply-adds per 32×32 image (C=36, 20 cells)")
    ax_cost.set_ylabel("parameters (M), auxiliary head excluded")
    ax_cost.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5),
                   title="★ = released cell", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
