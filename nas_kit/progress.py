"""Progress bars: a notebook widget where ipywidgets exists (Colab), plain text otherwise;
and `tidy_streams`, which stores a text bar's refreshes in a notebook as a terminal shows them."""
from __future__ import annotations

from pathlib import Path


def progress_bar(**kwargs):
    """A tqdm bar. tqdm.auto without ipywidgets would print a warning into every notebook."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    return tqdm(**kwargs)


def _as_terminal(text: str) -> str:
    """What a terminal leaves on screen: on each line, only the part after its last carriage
    return (a text progress bar redraws its line with "\\r" at every refresh)."""
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


def tidy_streams(outputs: list[dict]) -> list[dict]:
    """A code cell's outputs with each run of consecutive stream outputs of one stream
    (stdout, stderr) merged into one and carriage returns applied (`_as_terminal`).

    An executed notebook stores every refresh of a text progress bar as its own output
    (hundreds per search), which the built book would print line after line. Nothing but
    the redrawn parts (and stream outputs left empty) goes: each bar keeps its final state
    (steps, rate, last epoch's accuracies), and every other output is kept as it is, in order.
    """
    tidy: list[dict] = []
    for out in outputs:
        prev = tidy[-1] if tidy else None
        if (out.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
            prev["text"] = _join(prev["text"]) + _join(out["text"])
        else:
            tidy.append(dict(out))
    for out in tidy:
        if out.get("output_type") == "stream":
            out["text"] = _as_terminal(_join(out["text"]))
    # a bar's closing newline, printed after the cell's own output, would show as an empty box
    return [o for o in tidy if o.get("output_type") != "stream" or o["text"].strip()]


def _join(text) -> str:
    return "".join(text) if isinstance(text, list) else text


def tidy_notebook(path: str | Path) -> int:
    """Apply `tidy_streams` to every code cell of the notebook at `path`, in place; returns
    the number of outputs removed. For executed chapters before they are committed
    (needs `nbformat`, part of the development environment)."""
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    removed = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.outputs:
            before = len(cell.outputs)
            cell.outputs = [nbformat.from_dict(o) for o in tidy_streams(cell.outputs)]
            removed += before - len(cell.outputs)
    nbformat.write(nb, str(path))
    return removed
