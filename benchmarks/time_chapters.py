"""Wall time of each chapter, cell by cell, at a profile -> JSON.

A chapter is a paired jupytext script (``book/chNN_*.py``, percent format). This runs its
code cells in order in one namespace, as a notebook kernel does (a cell's last expression
is evaluated and displayed, figures are closed after each cell), in a scratch copy of
``book/`` so that its ``runs/`` stay out of the tree, one fresh process per chapter, and
times every cell. The question it answers: how long does a student's chapter take at the
``colab`` profile on a given GPU, and which cells (which searches) take that time.

No Jupyter is needed, so it runs where only torch and matplotlib are installed (the GPU
machine): display-only modules that are missing there are replaced by stand-ins (IPython:
`display` prints a repr; graphviz: accepts every call, draws nothing; seaborn: the palette
and heatmap `nas_kit.viz` uses, drawn with matplotlib; tqdm: a bar that prints nothing),
and the JSON names them. Rendering is then not timed; training and search, the
time that matters, are.

    python benchmarks/time_chapters.py --profile colab --dataset cifar10-jpeg \\
        --chapters ch01 ch03 --out chapter_times_colab_gpu.json

The JSON is rewritten after each chapter, so a run cut short keeps the chapters it finished.
"""
from __future__ import annotations

import argparse
import ast
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
#: Modules a chapter only uses to show things; replaced by stand-ins where not installed.
DISPLAY_ONLY = ("IPython", "IPython.display", "graphviz", "seaborn")
_MARKER = re.compile(r"^# %%(.*)$")


def code_cells(path: Path) -> list[dict]:
    """The code cells of a percent-format script, in order: [{"cell": index among all
    cells, "line": 1-based line of its marker, "source": text}]; markdown cells and the
    header before the first marker are left out."""
    cells, current = [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        marker = _MARKER.match(line)
        if marker:
            current = {"cell": len(cells), "line": number, "markdown": "[markdown]" in marker.group(1),
                       "lines": []}
            cells.append(current)
        elif current is not None:
            current["lines"].append(line)
    return [{"cell": c["cell"], "line": c["line"], "source": "\n".join(c["lines"]).strip("\n")}
            for c in cells if not c["markdown"]]


def _ipython() -> types.ModuleType:
    """A stand-in IPython: no shell (matplotlib asks `get_ipython()`), and
    `IPython.display.display` printing each object's repr, as IPython does outside a kernel."""
    ipython, display = types.ModuleType("IPython"), types.ModuleType("IPython.display")
    ipython.get_ipython = lambda: None
    ipython.version_info = (0, 0)

    def show(*objs, **_):
        for o in objs:
            print(repr(o))
    display.display = show
    ipython.display = display
    return ipython


def _seaborn() -> types.ModuleType:
    """A stand-in seaborn for what `nas_kit.viz` calls: a palette of real colours (a mock
    colour fails in matplotlib) and a heatmap drawn with `imshow`."""
    sns = types.ModuleType("seaborn")

    def color_palette(name=None, n_colors=10):
        from matplotlib import colormaps
        return [colormaps["tab10"](i % 10) for i in range(n_colors)]

    def heatmap(data, ax=None, **_):
        import matplotlib.pyplot as plt
        import numpy as np
        ax = ax if ax is not None else plt.gca()
        ax.imshow(np.asarray(data, dtype=float))
        return ax
    sns.color_palette, sns.heatmap = color_palette, heatmap
    return sns


def stub_missing(names=DISPLAY_ONLY) -> list[str]:
    """Install a stand-in for each module in `names` that cannot be imported (`_ipython`,
    `_seaborn`, otherwise a mock that accepts every attribute and call); returns the names
    stubbed. tqdm has its own (`stub_tqdm`): a mock would iterate over nothing."""
    stubbed = []
    for name in names:
        if name in sys.modules:
            continue
        parent, _, child = name.rpartition(".")
        if parent in stubbed:   # a submodule of a stand-in is part of it
            sys.modules[name] = getattr(sys.modules[parent], child)
            sys.modules[name].__spec__ = importlib.machinery.ModuleSpec(name, None)
            stubbed.append(name)
            continue
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            stand_in = (_ipython() if name == "IPython" else _seaborn() if name == "seaborn"
                        else mock.MagicMock(name=name))
            stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None)   # torch._dynamo reads it
            sys.modules[name] = stand_in
            stubbed.append(name)
    return stubbed


class _PlainBar:
    """Stand-in for a tqdm bar where tqdm is not installed: iterates, counts, prints nothing
    (unlike a mock, it yields every item of the iterable it wraps)."""

    def __init__(self, iterable=None, total=None, initial=0, **_):
        self.iterable, self.total, self.n = iterable, total, initial

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.n += 1

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def stub_tqdm() -> bool:
    """Install `_PlainBar` as ``tqdm.tqdm`` and ``tqdm.auto.tqdm`` if tqdm is missing."""
    if "tqdm" in sys.modules:
        return False
    try:
        if importlib.util.find_spec("tqdm") is not None:
            return False
    except ImportError:
        pass
    for name in ("tqdm", "tqdm.auto"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        module.tqdm = _PlainBar
        sys.modules[name] = module
    sys.modules["tqdm"].auto = sys.modules["tqdm.auto"]
    return True


def _show(value) -> None:
    """What a notebook does with a cell's last expression: display it unless None."""
    if value is None:
        return
    display = getattr(sys.modules.get("IPython.display"), "display", None)
    if display is not None:
        display(value)
    else:
        print(repr(value))


def run_cell(source: str, namespace: dict, filename: str) -> None:
    """Execute one cell; its last expression, if it ends with one, is displayed."""
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, filename, "exec"), namespace)
    if last is not None:
        _show(eval(compile(ast.Expression(last.value), filename, "eval"), namespace))


def _sync() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def time_chapter(script: Path) -> dict:
    """Run one chapter script's code cells in this process (cwd: the chapter's folder) and
    time them. Stops at the first failing cell and reports it."""
    stubbed = stub_missing() + (["tqdm"] if stub_tqdm() else [])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace = {"__name__": "__main__", "__file__": str(script)}
    result = {"chapter": script.stem, "stubbed_modules": stubbed, "cells": []}
    start = time.perf_counter()
    for cell in code_cells(script):
        t0 = time.perf_counter()
        try:
            run_cell(cell["source"], namespace, f"{script.name}:{cell['line']}")
            _sync()
        except BaseException as e:   # KeyboardInterrupt too: the timings so far are kept
            result["error"] = {"cell": cell["cell"], "line": cell["line"],
                               "error": f"{type(e).__name__}: {e}"[:500],
                               "traceback": traceback.format_exc()[-2000:]}
            break
        finally:
            first = next((l for l in cell["source"].splitlines() if l.strip()), "")
            result["cells"].append({"cell": cell["cell"], "line": cell["line"],
                                    "first_line": first[:100],
                                    "seconds": round(time.perf_counter() - t0, 3)})
            plt.close("all")
    result["wall_s"] = round(time.perf_counter() - start, 2)
    slow = sorted(result["cells"], key=lambda c: -c["seconds"])[:3]
    result["slowest_cells"] = [c["line"] for c in slow]
    return result


def find_chapters(names: list[str] | None, book: Path = BOOK) -> list[Path]:
    """Chapter scripts by prefix (``ch03`` or ``ch03_fair_darts``); all ``ch*.py`` if none."""
    scripts = sorted(book.glob("ch*.py"))
    if not names:
        return scripts
    chosen = []
    for name in names:
        match = [s for s in scripts if s.stem == name or s.stem.startswith(name + "_")]
        if len(match) != 1:
            raise ValueError(f"chapter {name!r} matches {[s.stem for s in match] or 'nothing'}; "
                             f"valid: {', '.join(s.stem for s in scripts)}")
        chosen += match
    return chosen


def _scratch_book(book: Path, where: Path) -> Path:
    """A copy of the book folder without built output, notebooks or earlier runs."""
    target = where / "book"
    shutil.copytree(book, target, ignore=shutil.ignore_patterns("_build", "runs", "*.ipynb",
                                                                 ".ipynb_checkpoints"))
    return target


def _environment() -> dict:
    sys.path.insert(0, str(ROOT))
    import torch
    from nas_kit.records import environment
    return environment("cuda" if torch.cuda.is_available() else "cpu")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=("smoke", "colab", "paper"), default="colab")
    ap.add_argument("--dataset", default=None,
                    help="NAS_KIT_DATASET for the chapters (e.g. cifar10-jpeg where there is "
                         "no internet); default: the profile's")
    ap.add_argument("--chapters", nargs="*", default=None, help="e.g. ch01 ch03 (default: all)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per chapter")
    ap.add_argument("--total-s", type=float, default=None,
                    help="seconds for all chapters: a chapter gets at most what is left")
    ap.add_argument("--book", type=Path, default=BOOK)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)   # child: time this script
    args = ap.parse_args(argv)
    if args.one is not None:   # the child process: cwd is the scratch book
        sys.path.insert(0, str(ROOT))
        res = time_chapter(args.one)
        args.out.write_text(json.dumps(res, indent=1) + "\n")
        return res

    scripts = find_chapters(args.chapters, args.book)
    deadline = None if args.total_s is None else time.monotonic() + args.total_s
    # `timeout` (gpu_session.sh) sends SIGTERM: as an exception it also stops the chapter's
    # process (subprocess.run kills its child on any exception), which would hold the GPU
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("time_chapters: terminated"))
    env = {**os.environ, "NAS_KIT_PROFILE": args.profile, "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    if args.dataset:
        env["NAS_KIT_DATASET"] = args.dataset
    report = {"benchmark": "chapter_times", "profile": args.profile,
              "dataset": args.dataset or "profile default", "env": _environment(), "chapters": []}
    with tempfile.TemporaryDirectory() as tmp:
        book = _scratch_book(args.book, Path(tmp))
        for script in scripts:
            child_out = Path(tmp) / f"{script.stem}.json"
            t0 = time.perf_counter()
            limit = args.timeout if deadline is None else min(args.timeout, deadline - time.monotonic())
            if limit <= 0:
                break
            try:
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one",
                                       str(book / script.name), "--out", str(child_out)],
                                      cwd=book, env=env, timeout=limit)
                res = (json.loads(child_out.read_text()) if child_out.exists()
                       else {"chapter": script.stem, "error": {"error": f"exit {proc.returncode}"}})
            except subprocess.TimeoutExpired:
                res = {"chapter": script.stem, "error": {"error": f"timeout after {limit:.0f} s"}}
            res["process_s"] = round(time.perf_counter() - t0, 2)   # interpreter start-up included
            report["chapters"].append(res)
            args.out.write_text(json.dumps(report, indent=1) + "\n")
            print(f"{script.stem}: {res.get('wall_s', '–')} s"
                  + (f"  ERROR {res['error']['error']}" if "error" in res else ""), flush=True)
    return report


if __name__ == "__main__":
    main()
