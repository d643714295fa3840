"""Offline NAS-Bench-201 lookup: the true 200-epoch accuracy of any NB201 cell.

The table ``nas_kit/tables/nb201_200ep.csv.gz`` (made by ``benchmarks/make_nb201_table.py``)
holds all 15,625 cells of the NB201 / NATS-Bench topology space in benchmark index order:
CIFAR-10, CIFAR-100 and ImageNet16-120 test accuracy (NATS-Bench, mean over the available
seeds of the 200-epoch schedule), CIFAR-10 validation accuracy and parameter count (older
NB201 v1_0 file). See ``ATTRIBUTION`` and the table's header for sources and licences.

    >>> from nas_kit import nb201
    >>> nb201.accuracy("|skip_connect~0|+|skip_connect~0|skip_connect~1|"
    ...                "+|skip_connect~0|skip_connect~1|skip_connect~2|")
    54.2967
    >>> nb201.optimum("cifar10").index
    6111

A *cell* is an NB201 arch string, an ``NB201Genotype`` or an int index 0..15624. Every
well-formed string is in the table (5^6 cells), so lookups fail only for malformed input:
a bad string raises the genotype parser's ``ValueError`` naming the bad token, an index
out of range a ``ValueError`` naming the range. Accuracies are in percent, rounded to 4
decimals; ``rank`` and ``optimum`` compare these stored values (ties share a rank; the
optimum is the lowest index among tied cells). The table is read on first use and cached.
"""
from __future__ import annotations

import csv
import gzip
import io
import numbers
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .genotypes import NB201Genotype, parse_nb201_genotype

__all__ = ["DATASETS", "SPLITS", "TEST_COLUMNS", "ALL_SKIP", "ATTRIBUTION", "NB201Entry", "lookup",
           "index_of", "arch_of", "accuracy", "optimum", "optima", "table", "rank", "N_CELLS"]

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
SPLITS = ("test", "valid")
N_CELLS = 15_625
#: The cell DARTS collapses to on NAS-Bench-201: every edge a skip connection.
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
_TABLE_FILE = "nb201_200ep.csv.gz"

# (dataset, split) -> NB201Entry attribute. Validation accuracy exists for CIFAR-10 only.
_FIELDS = {
    ("cifar10", "test"): "cifar10_test",
    ("cifar100", "test"): "cifar100_test",
    ("imagenet16-120", "test"): "imagenet16_test",
    ("cifar10", "valid"): "cifar10_valid",
}
#: The three test accuracies of every cell: (dataset, NB201Entry field, display title).
TEST_COLUMNS = (("cifar10", "cifar10_test", "CIFAR-10"),
                ("cifar100", "cifar100_test", "CIFAR-100"),
                ("imagenet16-120", "imagenet16_test", "ImageNet16-120"))
_COLUMNS = ("index", "arch", "c10_test", "c100_test", "in16_test", "c10_valid", "params_m")

ATTRIBUTION = (
    "NAS-Bench-201 accuracies are from the NAS-Bench-201 benchmark (X. Dong and Y. Yang, "
    "ICLR 2020) and its successor NATS-Bench (X. Dong, L. Liu, K. Musial and B. Gabrys, "
    "IEEE TPAMI 2021), whose code and data are MIT licensed. Test accuracies (CIFAR-10, "
    "CIFAR-100, ImageNet16-120) are NATS-Bench means over the available seeds of the "
    "200-epoch training schedule; CIFAR-10 validation accuracies and parameter counts come "
    "from the older NAS-Bench-201 v1_0 file, via the MIT-licensed results of "
    "'Neural Architecture Search without Training' (Mellor et al., ICML 2021). "
    "Tabulated offline by nas_kit."
)


@dataclass(frozen=True)
class NB201Entry:
    """One NB201 cell: index, arch string, accuracies in percent, parameters in millions."""
    index: int
    arch: str
    cifar10_test: float
    cifar100_test: float
    imagenet16_test: float
    cifar10_valid: float | None
    params_m: float | None

    @property
    def genotype(self) -> NB201Genotype:
        return parse_nb201_genotype(self.arch)

    def test_text(self, labelled: bool = False) -> str:
        """The three test accuracies (`TEST_COLUMNS`), two decimals. Cell 9930:
        ``"94.36 / 73.51 / 46.34"`` for a table cell, or with ``labelled=True``
        ``"CIFAR-10 94.36 %, CIFAR-100 73.51 %, ImageNet16-120 46.34 %"`` for prose."""
        if labelled:
            return ", ".join(f"{title} {getattr(self, field):.2f} %" for _, field, title in TEST_COLUMNS)
        return " / ".join(f"{getattr(self, field):.2f}" for _, field, _ in TEST_COLUMNS)


class _Table:
    def __init__(self, entries: list[NB201Entry]) -> None:
        self.entries = entries
        self.by_arch = {e.arch: e.index for e in entries}
        self._sorted: dict[str, list[float]] = {}

    def ascending(self, field: str) -> list[float]:
        if field not in self._sorted:
            self._sorted[field] = sorted(v for e in self.entries
                                         if (v := getattr(e, field)) is not None)
        return self._sorted[field]


def _opt_float(text: str) -> float | None:
    return float(text) if text.strip() else None


@lru_cache(maxsize=1)
def _load() -> _Table:
    raw = (resources.files("nas_kit") / "tables" / _TABLE_FILE).read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    reader = csv.reader(lines)
    header = tuple(next(reader))
    if header != _COLUMNS:
        raise RuntimeError(f"{_TABLE_FILE}: unexpected columns {header}; expected {_COLUMNS}")
    entries = []
    for row in reader:
        i = int(row[0])
        if i != len(entries):
            raise RuntimeError(f"{_TABLE_FILE}: row {len(entries)} has index {i}; table is corrupt")
        entries.append(NB201Entry(i, row[1], float(row[2]), float(row[3]), float(row[4]),
                                  _opt_float(row[5]), _opt_float(row[6])))
    if len(entries) != N_CELLS:
        raise RuntimeError(f"{_TABLE_FILE}: {len(entries)} cells, expected {N_CELLS}")
    return _Table(entries)


def _check_index(index) -> int:
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"an NB201 index must be an int, got {type(index).__name__}")
    if not 0 <= int(index) < N_CELLS:
        raise ValueError(f"NB201 index {index} out of range 0..{N_CELLS - 1}")
    return int(index)


def _field(dataset: str, split: str) -> str:
    try:
        return _FIELDS[(dataset, split)]
    except (KeyError, TypeError):
        pass
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    valid = ", ".join(f"({d!r}, {s!r})" for d, s in _FIELDS)
    raise ValueError(f"no {split!r} accuracy for {dataset!r} in the table; valid (dataset, split): {valid}")


def index_of(cell) -> int:
    """Benchmark index of ``cell`` (arch string, ``NB201Genotype`` or index)."""
    if isinstance(cell, NB201Genotype):
        return _load().by_arch[str(cell)]
    if isinstance(cell, str):
        found = _load().by_arch.get(cell)
        if found is not None:
            return found
        # Not verbatim: parse (raises ValueError naming the bad token), then canonicalise.
        return _load().by_arch[str(parse_nb201_genotype(cell))]
    if isinstance(cell, numbers.Integral) and not isinstance(cell, bool):
        return _check_index(cell)
    raise TypeError(f"an NB201 cell is an arch string, NB201Genotype or int index; "
                    f"got {type(cell).__name__}")


def lookup(cell) -> NB201Entry:
    """The table entry of ``cell`` (arch string, ``NB201Genotype`` or index)."""
    return _load().entries[index_of(cell)]


def arch_of(index: int) -> str:
    """NB201 arch string of benchmark index ``index``."""
    return _load().entries[_check_index(index)].arch


def accuracy(cell, dataset: str = "cifar10", split: str = "test") -> float:
    """Accuracy (%) of ``cell``; ``split='valid'`` exists for CIFAR-10 only."""
    field = _field(dataset, split)
    value = getattr(lookup(cell), field)
    if value is None:
        raise ValueError(f"no {split} accuracy for {dataset} recorded for cell {index_of(cell)}")
    return value


def optima(dataset: str = "cifar10", split: str = "test") -> list[NB201Entry]:
    """Every cell with the best ``dataset``/``split`` accuracy, in index order. Ties are real:
    on CIFAR-10 test, cells 6111 and 13714 (different cells, not isomorphs) share 94.3733 %,
    so "found the optimum" must mean "found one of these"."""
    field = _field(dataset, split)
    best = getattr(optimum(dataset, split), field)
    return [e for e in _load().entries if getattr(e, field) == best]


def optimum(dataset: str = "cifar10", split: str = "test") -> NB201Entry:
    """The best cell for ``dataset``/``split`` (ties: the lowest index; `optima` lists
    them all)."""
    field = _field(dataset, split)
    best = None
    for e in _load().entries:
        v = getattr(e, field)
        if v is not None and (best is None or v > getattr(best, field)):
            best = e
    return best


def table() -> list[NB201Entry]:
    """All 15,625 entries in benchmark index order (a new list; entries are immutable)."""
    return list(_load().entries)


def rank(cell, dataset: str = "cifar10", split: str = "test") -> int:
    """1 + number of cells strictly more accurate than ``cell`` (1 = best; ties share a rank)."""
    field = _field(dataset, split)
    value = getattr(lookup(cell), field)
    if value is None:
        raise ValueError(f"no {split} accuracy for {dataset} recorded for cell {index_of(cell)}")
    ascending = _load().ascending(field)
    return 1 + len(ascending) - bisect_right(ascending, value)


def accuracy_per_epoch(record: dict, dataset: str = "cifar10", split: str = "test"
                       ) -> tuple[list[int], list[float]]:
    """Benchmark accuracy of the cell derived after every epoch of an NB201 search record.

    Returns ``(epochs, accuracies)``; each genotype in ``record["history"]`` is looked up.
    """
    if record.get("space") != "nb201":
        raise ValueError(f"record is from space {record.get('space')!r}; need an 'nb201' search")
    epochs = [entry["epoch"] for entry in record["history"]]
    accs = [accuracy(entry["genotype"], dataset, split) for entry in record["history"]]
    return epochs, accs
