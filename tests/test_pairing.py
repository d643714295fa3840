"""The book's notebooks: .py/.ipynb pairs in sync, TOC complete, hidden set-up cell first.

The py:percent file is the source of truth. After editing it, run
``jupytext --to ipynb --update book/<chapter>.py`` (keeps the stored outputs).
"""
import json
import re
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


def _intro_output_table():
    """{chapter: (profile, device)} from the table in book/intro.md."""
    text = (BOOK / "intro.md").read_text()
    section = text.split("### What produced the outputs in this copy", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"ch\d\d_\w+", cells[0]):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def _stored_environment(nb_path):
    """(profile, device) from the first 'nas_kit … | profile: … | device: …' output line."""
    nb = json.loads(nb_path.read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", ()):
            text = "".join(out.get("text", ()))
            m = re.search(r"\| profile: (\w+) \| device: (.+?) \| torch", text)
            if m:
                return m.group(1), m.group(2)
    return None


def test_intro_says_which_profile_and_device_made_each_chapters_outputs():
    table = _intro_output_table()
    chapters = [f for f in toc_chapters() if f.startswith("ch")]
    assert sorted(table) == sorted(chapters)
    for name in chapters:
        assert _stored_environment(BOOK / f"{name}.ipynb") == table[name], name
