"""benchmarks/time_chapters.py: chapters run cell by cell, outside Jupyter, and timed."""
import ast
import json
import sys

import pytest

from support import load_script

FAKE_CHAPTER = '''# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # A chapter
# x = "markdown is not run"

# %% tags=["remove-cell"]
import os
import pathlib
assert os.environ["NAS_KIT_PROFILE"] == "smoke", os.environ["NAS_KIT_PROFILE"]
pathlib.Path("runs").mkdir(exist_ok=True)
pathlib.Path("runs/made_here").write_text(os.getcwd())

# %%
total = sum(range(4))
total + 1

# %%
import matplotlib.pyplot as plt
plt.plot([1, 2])
'''

FAILING_CHAPTER = '''# %%
ok = 1

# %%
raise ValueError("boom")

# %%
import pathlib
pathlib.Path("after_the_error").write_text("ran")
'''


def test_code_cells_are_the_code_between_markers(tmp_path):
    bench = load_script("time_chapters")
    script = tmp_path / "ch01_fake.py"
    script.write_text(FAKE_CHAPTER)
    cells = bench.code_cells(script)
    assert [c["cell"] for c in cells] == [1, 2, 3]           # cell 0 is markdown
    assert [c["line"] for c in cells] == [11, 18, 22]
    assert cells[1]["source"] == "total = sum(range(4))\ntotal + 1"


def test_every_chapter_of_the_book_reads_as_python_cells():
    bench = load_script("time_chapters")
    scripts = bench.find_chapters(None)
    assert len(scripts) >= 8
    for script in scripts:
        cells = bench.code_cells(script)
        assert cells, script
        for cell in cells:
            ast.parse(cell["source"], f"{script.name}:{cell['line']}")


def test_a_cell_ends_like_a_notebook_cell(capsys):
    bench = load_script("time_chapters")
    namespace = {}
    bench.run_cell("a = 2\na * 21", namespace, "cell")
    bench.run_cell("b = a", namespace, "cell")            # a statement shows nothing
    assert namespace["b"] == 2 and capsys.readouterr().out.strip() == "42"


def test_a_failing_cell_stops_the_chapter_and_is_named(tmp_path, monkeypatch):
    bench = load_script("time_chapters")
    script = tmp_path / "ch09_failing.py"
    script.write_text(FAILING_CHAPTER)
    monkeypatch.chdir(tmp_path)
    res = bench.time_chapter(script)
    assert res["error"]["line"] == 4 and "ValueError: boom" in res["error"]["error"]
    assert [c["line"] for c in res["cells"]] == [1, 4]      # timed up to the failing cell
    assert not (tmp_path / "after_the_error").exists()


def test_missing_display_modules_get_stand_ins(monkeypatch):
    bench = load_script("time_chapters")
    for name in ("nas_kit_absent_display", "nas_kit_absent_display.sub"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    stubbed = bench.stub_missing(("json", "nas_kit_absent_display", "nas_kit_absent_display.sub"))
    try:
        assert stubbed == ["nas_kit_absent_display", "nas_kit_absent_display.sub"]
        from nas_kit_absent_display.sub import anything   # noqa: F401  (accepts every name)
        anything(1, key=2).render()
    finally:
        for name in stubbed:
            sys.modules.pop(name, None)


def test_chapters_run_in_a_scratch_copy_and_report_each(tmp_path):
    bench = load_script("time_chapters")
    book = tmp_path / "book"
    book.mkdir()
    (book / "ch01_fake.py").write_text(FAKE_CHAPTER)
    (book / "ch02_failing.py").write_text(FAILING_CHAPTER)
    out = tmp_path / "times.json"
    bench.main(["--profile", "smoke", "--book", str(book), "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["profile"] == "smoke" and report["env"]["device"] in ("cpu", "cuda")
    first, second = report["chapters"]
    assert first["chapter"] == "ch01_fake" and "error" not in first
    assert [c["line"] for c in first["cells"]] == [11, 18, 22] and first["wall_s"] >= 0
    assert second["error"]["line"] == 4
    assert not (book / "runs").exists()                      # the chapter wrote in the copy


def test_an_unknown_chapter_names_the_valid_ones():
    bench = load_script("time_chapters")
    with pytest.raises(ValueError, match="ch99.*valid: .*ch01_darts_from_scratch"):
        bench.find_chapters(["ch99"])
    assert [s.stem for s in bench.find_chapters(["ch03"])] == ["ch03_fair_darts"]


def test_the_plain_bar_yields_every_item_and_counts(monkeypatch):
    bench = load_script("time_chapters")
    bar = bench._PlainBar(iterable=[3, 1, 2], desc="x")
    assert list(bar) == [3, 1, 2] and bar.n == 3
    with bench._PlainBar(total=5, initial=1, unit="step") as bar:
        bar.update(2)
        bar.set_postfix(epoch=1)
    assert bar.n == 3
    # installed only where tqdm is missing
    assert bench.stub_tqdm() is False


def test_the_stand_ins_draw_with_matplotlib_and_have_no_shell():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.colors
    import matplotlib.pyplot as plt
    bench = load_script("time_chapters")
    sns = bench._seaborn()
    colours = sns.color_palette("colorblind", 12)
    assert len(colours) == 12 and all(matplotlib.colors.is_color_like(c) for c in colours)
    fig, ax = plt.subplots()
    assert sns.heatmap([[0.1, 0.9], [0.5, 0.5]], ax=ax, annot=True) is ax and ax.images
    plt.close(fig)
    ipython = bench._ipython()
    assert ipython.get_ipython() is None and ipython.version_info < (8, 24)


def test_a_chapter_past_the_total_time_is_stopped_and_reported(tmp_path):
    bench = load_script("time_chapters")
    book = tmp_path / "book"
    book.mkdir()
    (book / "ch01_slow.py").write_text("# %%\nimport time\ntime.sleep(60)\n")
    (book / "ch02_never.py").write_text("# %%\nx = 1\n")
    out = tmp_path / "times.json"
    bench.main(["--profile", "smoke", "--book", str(book), "--total-s", "3", "--out", str(out)])
    chapters = json.loads(out.read_text())["chapters"]
    assert len(chapters) == 1 and chapters[0]["error"]["error"].startswith("timeout after")
    assert chapters[0]["process_s"] < 30
