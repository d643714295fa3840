"""Progress bars in stored notebooks: a text bar's refreshes kept as a terminal shows them."""
import io

import nbformat
from tqdm import tqdm

from nas_kit.progress import tidy_notebook, tidy_streams


def _stream(name, text):
    return {"output_type": "stream", "name": name, "text": text}


def _bar_refreshes(n=5):
    """The stderr outputs a plain tqdm bar leaves in an executed notebook, one per refresh."""
    buf = io.StringIO()
    chunks = []
    with tqdm(total=n, file=buf, mininterval=0, miniters=1, desc="search") as bar:
        for i in range(n):
            bar.update(1)
            bar.set_postfix(epoch=i)
            chunks.append(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    chunks.append(buf.getvalue())
    return [_stream("stderr", c) for c in chunks if c]


def test_bar_refreshes_become_the_bars_final_line():
    refreshes = _bar_refreshes()
    assert len(refreshes) > 5
    tidy = tidy_streams([_stream("stdout", "before\n"), *refreshes,
                         {"output_type": "display_data", "data": {"text/plain": "fig"}},
                         _stream("stdout", "a\n"), _stream("stdout", "b\n")])
    assert [o["output_type"] for o in tidy] == ["stream", "stream", "display_data", "stream"]
    assert tidy[0]["text"] == "before\n"
    bar = tidy[1]["text"]
    assert "\r" not in bar and bar.count("\n") == 1
    assert bar.startswith("search: 100%") and "5/5" in bar and "epoch=4" in bar
    assert tidy[3]["text"] == "a\nb\n"        # consecutive prints merged, nothing lost


def test_plain_text_and_trailing_carriage_returns_are_kept():
    assert tidy_streams([_stream("stdout", ["x\r", "\n", "y\n"])])[0]["text"] == "x\ny\n"
    assert tidy_streams([_stream("stdout", "1\r2\r3\nkept\n")])[0]["text"] == "3\nkept\n"
    # a bar's closing newline after the cell's print: nothing left to show
    assert tidy_streams([_stream("stderr", "\rbar 100%"), _stream("stdout", "done\n"),
                         _stream("stderr", "\n")]) == [_stream("stderr", "bar 100%"),
                                                       _stream("stdout", "done\n")]


def test_tidy_notebook_rewrites_only_stream_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("run()")
    cell.outputs = [nbformat.from_dict(o) for o in _bar_refreshes()] + [
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1)]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell]
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, str(path))
    removed = tidy_notebook(path)
    back = nbformat.read(str(path), as_version=4)
    assert removed == len(cell.outputs) - 2
    assert [o.output_type for o in back.cells[1].outputs] == ["stream", "execute_result"]
    assert back.cells[0].source == "# t"
    assert tidy_notebook(path) == 0           # idempotent
