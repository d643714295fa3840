"""The book's notebooks: .py/.ipynb pairs in sync, TOC complete, hidden set-up cell first.

The py:percent file is the source of truth. After editing it, run
``jupytext --to ipynb --update book/<chapter>.py`` (keeps the stored outputs).
"""
import json
import pathlib

import jupytext
import pytest
import yaml
from jupytext.compare import compare_notebooks

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NBS = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _toc_files(entries):
    for entry in entries or ():
        if "file" in entry:
            yield entry["file"]
        for key in ("chapters", "sections"):
            yield from _toc_files(entry.get(key))
        for part in entry.get("parts", ()):
            yield from _toc_files(part.get("chapters"))


def toc_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = list(_toc_files(toc.get("chapters")))
    for part in toc.get("parts", ()):
        files += list(_toc_files(part.get("chapters")))
    return files


def test_book_toc_is_the_root_toc():
    link = BOOK / "_toc.yml"
    assert link.is_symlink(), "book/_toc.yml must be a symlink to ../_toc.yml"
    assert link.resolve() == (ROOT / "_toc.yml").resolve()


def test_toc_root_exists():
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    assert any((BOOK / f"{root}{ext}").is_file() for ext in (".md", ".ipynb")), root


def test_toc_lists_chapters():
    assert toc_chapters(), "_toc.yml lists no chapters"


@pytest.mark.parametrize("chapter", toc_chapters())
def test_toc_chapter_is_a_pair_or_a_page(chapter):
    # Executable chapters are .py/.ipynb pairs; prose pages (e.g. troubleshooting) are .md.
    if (BOOK / f"{chapter}.md").is_file():
        assert not (BOOK / f"{chapter}.ipynb").exists(), f"{chapter}: both .md and .ipynb"
        return
    for ext in (".py", ".ipynb"):
        path = BOOK / f"{chapter}{ext}"
        assert path.is_file(), f"{chapter}: missing {path.relative_to(ROOT)}"


@pytest.mark.parametrize("ipynb", NBS, ids=lambda p: p.name)
def test_pair_in_sync(ipynb):
    py = ipynb.with_suffix(".py")
    assert py.exists(), f"run: jupytext --to ipynb --update {py}"
    # raises jupytext.compare.NotebookDifference with a diff when they disagree
    compare_notebooks(jupytext.read(py), jupytext.read(ipynb), fmt="py:percent")


@pytest.mark.parametrize("ipynb", NBS, ids=lambda p: p.name)
def test_first_code_cell_is_hidden_setup(ipynb):
    nb = json.loads(ipynb.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{ipynb.name} has no code cell"
    assert "remove-cell" in code[0].get("metadata", {}).get("tags", []), (
        f"{ipynb.name}: the first code cell must be the set-up cell tagged remove-cell"
    )


@pytest.mark.parametrize("ipynb", NBS, ids=lambda p: p.name)
def test_notebook_has_python3_kernelspec(ipynb):
    nb = json.loads(ipynb.read_text())
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", ipynb.name
