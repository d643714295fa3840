"""The shipped NAS-Bench-201 table (`nas_kit.nb201`) against known benchmark facts."""
from __future__ import annotations

import gzip
import importlib.util
from importlib import resources
from pathlib import Path

import pytest

from nas_kit import nb201
from nas_kit.genotypes import NB201Genotype, parse_nb201_genotype

ROOT = Path(__file__).resolve().parents[1]
# The table the installed package reads (not the source tree's copy), so `.ci/compat`, which
# tests an installed nas_kit, also checks that the table ships as package data.
TABLE = resources.files("nas_kit") / "tables" / "nb201_200ep.csv.gz"
SHARED = ROOT.parent / "shared" / "data" / "nb201"
SOURCES = (SHARED / "nb201_test_acc_200ep_natstss.csv", SHARED / "nb201_cifar10_valid_test_200ep_naswot.pd")

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CELL_9930 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def r2(x: float) -> float:
    return round(x, 2)


def test_all_skip_cell():
    e = nb201.lookup(ALL_SKIP)
    assert e.index == 1835
    assert r2(e.cifar10_test) == 54.30
    assert r2(nb201.accuracy(ALL_SKIP, "cifar10", "valid")) == 39.77
    assert r2(nb201.accuracy(1835)) == 54.30


def test_cell_9930_all_datasets():
    assert nb201.index_of(CELL_9930) == 9930
    assert r2(nb201.accuracy(9930, "cifar10")) == 94.36
    assert r2(nb201.accuracy(9930, "cifar100")) == 73.51
    assert r2(nb201.accuracy(9930, "imagenet16-120")) == 46.34
    assert nb201.rank(9930, "cifar10") == 3      # 6111 and 13714 tie at 94.3733
    assert nb201.rank(9930, "cifar100") == 1


def test_optima():
    best = nb201.optimum("cifar10")
    assert (best.index, r2(best.cifar10_test)) == (6111, 94.37)
    assert nb201.rank(6111) == nb201.rank(13714) == 1
    assert [e.index for e in nb201.optima("cifar10")] == [6111, 13714]   # a real tie
    assert [e.index for e in nb201.optima("cifar100")] == [9930]
    assert r2(nb201.optimum("cifar10", "valid").cifar10_valid) == 91.61
    assert r2(nb201.optimum("cifar100").cifar100_test) == 73.51
    assert r2(nb201.optimum("imagenet16-120").imagenet16_test) == 47.31
    none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert nb201.index_of(none) == 1651 and r2(nb201.accuracy(none)) == 10.00
    assert nb201.rank(none) > 15_000


def test_every_index_round_trips():
    entries = nb201.table()
    assert len(entries) == 15_625
    seen = set()
    for i, e in enumerate(entries):
        arch = nb201.arch_of(i)
        assert e.index == i and e.arch == arch
        assert nb201.index_of(arch) == i
        assert str(parse_nb201_genotype(arch)) == arch
        seen.add(arch)
    assert len(seen) == 15_625


def test_lookup_by_genotype_object():
    g = NB201Genotype(("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3",
                       "skip_connect", "nor_conv_3x3", "nor_conv_3x3"))
    assert nb201.index_of(g) == 9930
    assert nb201.lookup(g) == nb201.lookup(9930) == nb201.lookup(CELL_9930)
    assert nb201.lookup(9930).genotype == g
    # A string with stray whitespace is parsed and canonicalised.
    assert nb201.index_of(f"  {CELL_9930}\n") == 9930


def test_entry_fields():
    e = nb201.lookup(9930)
    assert isinstance(e, nb201.NB201Entry)
    assert e.params_m == pytest.approx(1.288506)
    with pytest.raises(AttributeError):
        e.index = 0  # frozen


def test_test_text_for_tables_and_prose():
    e = nb201.lookup(9930)
    assert e.test_text() == "94.36 / 73.51 / 46.34"
    assert e.test_text(labelled=True) == "CIFAR-10 94.36 %, CIFAR-100 73.51 %, ImageNet16-120 46.34 %"
    assert nb201.lookup(nb201.ALL_SKIP).test_text().startswith("54.30 / ")


def test_errors():
    with pytest.raises(ValueError, match="conv_3x3"):
        nb201.lookup(CELL_9930.replace("nor_conv_3x3~0|+", "conv_3x3~0|+", 1))
    with pytest.raises(ValueError, match="0..15624"):
        nb201.lookup(15_625)
    with pytest.raises(ValueError, match="0..15624"):
        nb201.arch_of(-1)
    with pytest.raises(ValueError, match="imagenet16-120"):
        nb201.accuracy(0, dataset="imagenet")
    with pytest.raises(ValueError, match="test, valid"):
        nb201.optimum("cifar10", split="train")
    with pytest.raises(ValueError, match="cifar10"):
        nb201.accuracy(0, "cifar100", "valid")   # valid only for CIFAR-10
    with pytest.raises(TypeError):
        nb201.lookup(1.5)
    with pytest.raises(TypeError):
        nb201.lookup(True)


def test_file_header_and_size():
    raw = TABLE.read_bytes()
    assert len(raw) < 400_000
    head = gzip.decompress(raw).decode()[:4000]
    assert "NAS-Bench-201" in head and "NATS-Bench" in head and "MIT" in head
    assert all(line.startswith("#") for line in head.splitlines()[:5])
    assert "Dong" in nb201.ATTRIBUTION and "MIT" in nb201.ATTRIBUTION


@pytest.mark.skipif(not all(p.exists() for p in SOURCES), reason="shared NB201 source files not present")
@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas needed to read the source pickle")
def test_table_regenerates_byte_identical():
    spec = importlib.util.spec_from_file_location("make_nb201_table", ROOT / "benchmarks" / "make_nb201_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.build(*SOURCES) == TABLE.read_bytes()
