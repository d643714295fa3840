"""Pictures of architecture searches for the book: cells (graphviz) and search dynamics (matplotlib).

Every plotting function takes a search run record as a plain dict (as loaded from JSON,
see :mod:`nas_kit.records`) and only reads it.

Figures are returned, never shown. They are standalone ``matplotlib.figure.Figure``
objects, not registered with pyplot (``plt.close`` is not needed): a notebook displays
one exactly once when it is a cell's value, like the graphviz drawings, and
``fig = plot_losses(rec)`` displays nothing until ``fig`` is shown. Functions taking
``ax=`` / ``ax_grid=`` draw on your axes instead. If no matplotlib backend has been chosen
(no ``MPLBACKEND``, ``%matplotlib`` or ``matplotlib.use``) the first plot selects ``Agg``.

Colours: each op has one colour in every figure (cells, trajectories, heatmap tick labels),
given by :data:`OP_COLORS` / :func:`op_color`; ``skip_connect`` is red, ``none`` grey.

Bad input raises ``ValueError`` naming the missing key, the bad shape, or the valid choices.
"""
from __future__ import annotations

import html
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import graphviz
import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator

from .genotypes import (
    DARTS_EDGES,
    DARTS_PRIMITIVES,
    NB201_EDGES,
    NB201_PRIMITIVES,
    DartsGenotype,
    NB201Genotype,
    genotype_from_json,
    parse_genotype,
)

__all__ = [
    "OP_COLORS", "op_color", "draw_cell", "draw_genotype", "draw_search_space",
    "plot_alpha_trajectories",
    "skip_counts", "plot_skip_counts", "plot_weight_heatmap", "plot_losses",
    "plot_nb201_accuracy", "skip_margin", "plot_skip_margin", "plot_stored",
    "save_record_figures",
]

# ------------------------------------------------------------------ colours and names

#: One colour per op, shared by every figure. Families share hues: pools blue/cyan,
#: separable convs green/olive, dilated convs purple/pink, NB201 plain convs orange/brown.
OP_COLORS: dict[str, str] = {
    "none": "#8c8c8c",
    "skip_connect": "#d62728",
    "max_pool_3x3": "#1f77b4",
    "avg_pool_3x3": "#17becf",
    "sep_conv_3x3": "#2ca02c",
    "sep_conv_5x5": "#9a9a1a",
    "dil_conv_3x3": "#9467bd",
    "dil_conv_5x5": "#e377c2",
    "nor_conv_1x1": "#8c564b",
    "nor_conv_3x3": "#ff7f0e",
}
_FALLBACK_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")

_METHOD_NAMES = {
    "darts": "DARTS (1st order)",
    "darts-2nd": "DARTS (2nd order)",
    "fair-darts": "Fair DARTS",
    "pc-darts": "PC-DARTS",
    "rf-darts": "RF-DARTS",
    "rf-pcdarts": "RF-PCDARTS",
    "mim-darts": "α-DARTS (MIM)",
}
_SPACE_NAMES = {"darts": "DARTS space", "nb201": "NAS-Bench-201"}
_CELL_NAMES = {"normal": "normal cell", "reduce": "reduction cell", "cell": "NB201 cell"}

# graphviz styling (close to the DARTS paper figures)
_FONT = "Helvetica"
_FILL_INPUT = "darkseagreen2"
_FILL_NODE = "lightblue"
_FILL_OUTPUT = "palegoldenrod"
# DARTS cell inputs c_{k-2}, c_{k-1} and output c_k; NAS-Bench-201 node fills (0 in, 3 out)
_DARTS_IO_LABELS = {"prev2": "<c<SUB>k-2</SUB>>", "prev1": "<c<SUB>k-1</SUB>>", "out": "<c<SUB>k</SUB>>"}
_NB201_FILLS = {0: _FILL_INPUT, 1: _FILL_NODE, 2: _FILL_NODE, 3: _FILL_OUTPUT}
_ABSENT = dict(style="filled,dashed", fillcolor="#f2f2f2", color="#9e9e9e", fontcolor="#9e9e9e")


def _integer_ticks(**kw) -> MaxNLocator:
    """Integer ticks (epochs, counts) that stay integers on a one-value axis (a record with
    one epoch, a skip count that never changes), where matplotlib would fall back to
    fractional ticks."""
    return MaxNLocator(integer=True, min_n_ticks=1, **kw)


def op_color(op: str) -> str:
    """The colour of ``op`` in every figure (a stable fallback colour for unknown ops)."""
    if op in OP_COLORS:
        return OP_COLORS[op]
    return _FALLBACK_COLORS[sum(map(ord, str(op))) % len(_FALLBACK_COLORS)]


def _method_name(method: Any) -> str:
    return _METHOD_NAMES.get(method, str(method))


def _record_title(record: Mapping) -> str:
    """``DARTS (1st order) · DARTS space · cifar10-jpeg · seed 0 · smoke profile``."""
    parts = []
    if "method" in record:
        parts.append(_method_name(record["method"]))
    if "space" in record:
        parts.append(_SPACE_NAMES.get(record["space"], str(record["space"])))
    if record.get("dataset") is not None:
        parts.append(str(record["dataset"]))
    if record.get("seed") is not None:
        parts.append(f"seed {record['seed']}")
    if record.get("profile") is not None:
        parts.append(f"{record['profile']} profile")
    return " · ".join(parts) if parts else "search record"


def _node_label(space: str, n: int) -> str:
    """Mathtext name of node ``n``: DARTS inputs c_{k-2}, c_{k-1}, intermediate nodes 0..3."""
    if space == "darts":
        if n == 0:
            return r"$c_{k-2}$"
        if n == 1:
            return r"$c_{k-1}$"
        return str(n - 2)
    return str(n)


def _edge_label(space: str, src: int, dst: int) -> str:
    return f"{_node_label(space, src)} → {_node_label(space, dst)}"


# ------------------------------------------------------------------ figures

def _activate_backend() -> None:
    """Select ``Agg`` if nobody chose a backend; otherwise load the chosen one.

    Loading it matters in Jupyter: the inline backend registers, when loaded, the display
    formatter that shows a Figure returned as a cell's value.
    """
    try:
        chosen = matplotlib.rcParams._get_backend_or_none()
    except AttributeError:  # private helper gone: never override, just load below
        chosen = "unknown"
    if chosen is None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    load = getattr(plt, "_get_backend_mod", None)
    if load is not None:
        load()
    else:
        plt.switch_backend(matplotlib.get_backend())


def _subplots(*args, figsize, **kwargs):
    """``plt.subplots`` without pyplot's registry: a standalone Figure, constrained layout.

    Not registering it with pyplot makes a notebook show it exactly once - when it is the
    cell's value - instead of once more when the inline backend flushes pyplot's figures.
    """
    from matplotlib.figure import Figure
    _activate_backend()
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(*args, **kwargs)


# ------------------------------------------------------------------ genotypes and cells

def _as_genotype(genotype: Any, space: str | None = None) -> DartsGenotype | NB201Genotype:
    if isinstance(genotype, (DartsGenotype, NB201Genotype)):
        return genotype
    if isinstance(genotype, str):
        return parse_genotype(genotype, space)
    if isinstance(genotype, Mapping):
        return genotype_from_json(dict(genotype))
    raise TypeError("expected a DartsGenotype, NB201Genotype, genotype text or genotype JSON "
                    f"dict, got {type(genotype).__name__}")


def _darts_dead_nodes(edges: Sequence[tuple[str, int, int]]) -> set[int]:
    """Intermediate nodes (2..5) without a live input: no in-edge, or only edges from dead nodes."""
    dead: set[int] = set()
    for n in range(2, 6):
        if not any(dst == n and src not in dead for _, src, dst in edges):
            dead.add(n)
    return dead


def _new_digraph(name: str, title: str | None) -> graphviz.Digraph:
    g = graphviz.Digraph(name=name, format="png")
    g.attr(rankdir="LR", fontname=_FONT, nodesep="0.35", ranksep="0.6")
    if title:
        g.attr(label=title, labelloc="t", fontsize="18")
    g.attr("node", shape="box", style="rounded,filled", fontname=_FONT, fontsize="14",
           height="0.45", width="0.5", penwidth="1.5", margin="0.12,0.06")
    g.attr("edge", fontname=_FONT, fontsize="11", penwidth="1.6", arrowsize="0.7")
    return g


def _pin_inputs(g: graphviz.Digraph, prefix: str, flip: bool = False) -> None:
    """Same rank for c_{k-2}, c_{k-1}, c_{k-2} above: an invisible flat edge fixes the order.

    In draw_genotype's two-cluster graph (newrank, remincross=false) dot orders the flat
    edge the other way round, hence ``flip`` there; checked on all published genotypes.
    """
    with g.subgraph(name=f"{prefix}inputs") as s:
        s.attr(rank="same")
        s.node(f"{prefix}c0")
        s.node(f"{prefix}c1")
        a, b = (f"{prefix}c1", f"{prefix}c0") if flip else (f"{prefix}c0", f"{prefix}c1")
        s.edge(a, b, style="invis")


def _add_darts_cell(g: graphviz.Digraph, edges, concat, prefix: str,
                    in_cluster: bool = False) -> None:
    dead = _darts_dead_nodes(edges)

    def nid(n: int) -> str:
        return f"{prefix}c{n}"

    out = f"{prefix}out"
    g.node(nid(0), label=_DARTS_IO_LABELS["prev2"], fillcolor=_FILL_INPUT)
    g.node(nid(1), label=_DARTS_IO_LABELS["prev1"], fillcolor=_FILL_INPUT)
    if not in_cluster:
        _pin_inputs(g, prefix)
    for n in range(2, 6):
        if n in dead:
            g.node(nid(n), label=str(n - 2), **_ABSENT)
            if not any(dst == n for _, _, dst in edges):  # keep it in the middle, not at the inputs
                g.edge(nid(1), nid(n), style="invis")
        else:
            g.node(nid(n), label=str(n - 2), fillcolor=_FILL_NODE)
    g.node(out, label=_DARTS_IO_LABELS["out"], fillcolor=_FILL_OUTPUT)
    for op, src, dst in sorted(edges, key=lambda e: (e[2], e[1])):
        attrs = dict(label=op, color=op_color(op), fontcolor=op_color(op))
        if src in dead:  # Fair DARTS skips edges out of a node without inputs
            attrs["style"] = "dashed"
        g.edge(nid(src), nid(dst), **attrs)
    for n in concat:
        if n in dead:
            g.edge(nid(n), out, color="#b0b0b0", style="dashed")
        else:
            g.edge(nid(n), out, color="#606060")


def _nb201_dead_nodes(edges) -> set[int]:
    dead: set[int] = set()
    for n in (1, 2, 3):
        if not any(dst == n and op != "none" and src not in dead for op, src, dst in edges):
            dead.add(n)
    return dead


def _add_nb201_cell(g: graphviz.Digraph, genotype: NB201Genotype, prefix: str) -> None:
    edges = genotype.edges()
    dead = _nb201_dead_nodes(edges)
    for n in range(4):
        if n in dead:
            g.node(f"{prefix}n{n}", label=str(n), **_ABSENT)
        else:
            g.node(f"{prefix}n{n}", label=str(n), fillcolor=_NB201_FILLS[n])
    for op, src, dst in edges:
        if op == "none":
            attrs = dict(label="none", color="#b0b0b0", fontcolor="#9e9e9e", style="dotted")
        else:
            attrs = dict(label=op, color=op_color(op), fontcolor=op_color(op))
            if src in dead:
                attrs["style"] = "dashed"
        g.edge(f"{prefix}n{src}", f"{prefix}n{dst}", **attrs)


def draw_cell(genotype, cell: str = "normal", *, title: str | None = None) -> graphviz.Digraph:
    """One cell as a left-to-right graphviz graph; edges are labelled and coloured by op.

    ``genotype``: a :class:`DartsGenotype` / :class:`NB201Genotype`, its text, or its JSON dict.

    DARTS space (``cell`` = ``'normal'`` or ``'reduce'``): inputs c_{k-2}, c_{k-1} (green),
    intermediate nodes 0..3 (blue, numbered as in the DARTS paper: node ``n`` of the
    genotype is drawn as ``n - 2``), output c_{k} (yellow) with one grey edge from every
    node in the concat list. Intermediate nodes without a live input - Fair DARTS'
    isolated nodes - are grey and dashed, as are edges leaving them. Edge count:
    ``len(cell edges) + len(concat)``.

    NAS-Bench-201 (``cell`` ignored; ``'normal'``, ``'reduce'`` or ``'cell'`` accepted):
    nodes 0 (input) .. 3 (output) and all 6 edges; ``none`` edges are drawn dotted and
    grey (not omitted), and nodes cut off by them grey and dashed.

    Display it in a notebook as is, or ``.render()`` / ``.pipe(format='png')`` (needs the
    graphviz ``dot`` program).
    """
    geno = _as_genotype(genotype)
    if isinstance(geno, NB201Genotype):
        if cell not in ("normal", "reduce", "cell"):
            raise ValueError(f"unknown cell {cell!r} for a NAS-Bench-201 genotype; valid: cell "
                             "(normal and reduce are accepted and ignored)")
        g = _new_digraph("nb201_cell", "NAS-Bench-201 cell" if title is None else title)
        _add_nb201_cell(g, geno, prefix="")
        return g
    if cell not in ("normal", "reduce"):
        raise ValueError(f"unknown cell {cell!r}; valid: normal, reduce")
    g = _new_digraph(f"{cell}_cell", _CELL_NAMES[cell] if title is None else title)
    _add_darts_cell(g, geno.cell(cell), getattr(geno, f"{cell}_concat"), prefix="")
    return g


def draw_genotype(genotype, *, title: str | None = None) -> graphviz.Digraph:
    """Both DARTS cells side by side (clusters "normal cell" and "reduction cell"); for
    NAS-Bench-201 the one cell (as :func:`draw_cell`)."""
    geno = _as_genotype(genotype)
    if isinstance(geno, NB201Genotype):
        return draw_cell(geno, "cell", title=title)
    g = _new_digraph("genotype", title)
    # newrank: rank=same across cluster borders; remincross=false: the second crossing
    # minimisation would reorder the inputs at random.
    g.attr(compound="true", newrank="true", remincross="false")
    for cell in ("normal", "reduce"):
        with g.subgraph(name=f"cluster_{cell}") as c:
            c.attr(label=_CELL_NAMES[cell], fontsize="16", style="rounded", color="#c8c8c8",
                   labelloc="t")
            _add_darts_cell(c, geno.cell(cell), getattr(geno, f"{cell}_concat"), prefix=f"{cell}_",
                            in_cluster=True)
    for cell in ("normal", "reduce"):
        _pin_inputs(g, f"{cell}_", flip=True)
    # An invisible edge ranks the reduction cell after the normal one: side by side.
    g.edge("normal_out", "reduce_c0", style="invis", ltail="cluster_normal",
           lhead="cluster_reduce")
    return g


_SPACE_CELLS = {"darts": (DARTS_PRIMITIVES, DARTS_EDGES), "nb201": (NB201_PRIMITIVES, NB201_EDGES)}


def draw_search_space(space: str, *, title: str | None = None) -> graphviz.Digraph:
    """The cell of a search space *before* the search: every edge is a mixed operation of
    all candidates, drawn as one edge labelled with a strip of colour swatches, one per
    candidate operation, in the colours of :func:`draw_cell` (legend under the title). The
    search weighs these operations with α; deriving a genotype keeps one per kept edge.

    ``space``: ``'darts'`` (14 edges x 8 operations; the normal and the reduction cell have
    this same shape, only the reduction cell's edges from c_{k-2} and c_{k-1} have stride 2)
    or ``'nb201'`` (6 edges x 5 operations). Edge count: the cell's edges, plus, in the
    DARTS space, one grey edge from each intermediate node to the output c_{k}.
    """
    if space not in _SPACE_CELLS:
        raise ValueError(f"unknown search space {space!r}; valid: {', '.join(_SPACE_CELLS)}")
    ops, edges = _SPACE_CELLS[space]
    heading = (f"{_SPACE_NAMES[space]}: {len(edges)} edges x {len(ops)} candidate operations"
               if title is None else title)
    swatches = "".join(f'<TD BGCOLOR="{op_color(op)}" WIDTH="7" HEIGHT="7"></TD>' for op in ops)
    strip = f'<<TABLE BORDER="0" CELLSPACING="1" CELLPADDING="0"><TR>{swatches}</TR></TABLE>>'
    legend = "".join(f'<TD><FONT COLOR="{op_color(op)}">■ {op}</FONT></TD>' for op in ops)
    g = _new_digraph(f"{space}_space", None)
    g.attr(label=f'<<TABLE BORDER="0"><TR><TD COLSPAN="{len(ops)}"><FONT POINT-SIZE="18">'
                 f'{html.escape(heading)}</FONT></TD></TR><TR>{legend}</TR></TABLE>>',
           labelloc="t")
    if space == "darts":
        g.node("c0", label=_DARTS_IO_LABELS["prev2"], fillcolor=_FILL_INPUT)
        g.node("c1", label=_DARTS_IO_LABELS["prev1"], fillcolor=_FILL_INPUT)
        _pin_inputs(g, "")
        for n in range(2, 6):
            g.node(f"c{n}", label=str(n - 2), fillcolor=_FILL_NODE)
        g.node("out", label=_DARTS_IO_LABELS["out"], fillcolor=_FILL_OUTPUT)
        for n in range(2, 6):
            g.edge(f"c{n}", "out", color="#606060")
        name = "c{}".format
    else:
        for n in range(4):
            g.node(f"n{n}", label=str(n), fillcolor=_NB201_FILLS[n])
        name = "n{}".format
    for src, dst in edges:
        g.edge(name(src), name(dst), label=strip, color="#404040")
    return g


# ------------------------------------------------------------------ record checks

def _check_record(record: Any, keys: Sequence[str]) -> None:
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a search run record (dict), got {type(record).__name__}")
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"record lacks required key(s) {', '.join(map(repr, missing))}")
    if record.get("kind", "search") != "search":
        raise ValueError(f"record['kind'] is {record['kind']!r}; these figures need a 'search' record")
    hist = record.get("history")
    if "history" in keys:
        if not isinstance(hist, Sequence) or isinstance(hist, (str, bytes)) or not hist:
            raise ValueError("record['history'] must be a non-empty list of epoch entries")
        for i, entry in enumerate(hist):
            if not isinstance(entry, Mapping):
                raise ValueError(f"record['history'][{i}] is not a dict")


def _entry_value(record: Mapping, i: int, key: str) -> Any:
    entry = record["history"][i]
    if key not in entry:
        raise ValueError(f"record['history'][{i}] lacks required key {key!r}")
    return entry[key]


def _epochs(record: Mapping) -> np.ndarray:
    return np.array([_entry_value(record, i, "epoch") for i in range(len(record["history"]))],
                    dtype=float)


def _cell_types(record: Mapping) -> list[str]:
    types = record["cell_types"]
    if isinstance(types, str) or not isinstance(types, Sequence) or not types:
        raise ValueError(f"record['cell_types'] must be a non-empty list, got {types!r}")
    return [str(t) for t in types]


def _resolve_cell_type(record: Mapping, cell_type: str | None) -> str:
    types = _cell_types(record)
    if cell_type is None:
        return "normal" if "normal" in types else types[0]
    if cell_type not in types:
        raise ValueError(f"unknown cell_type {cell_type!r}; valid: {', '.join(types)}")
    return cell_type


def _edges_and_prims(record: Mapping) -> tuple[list[tuple[int, int]], list[str]]:
    prims = record["primitives"]
    if isinstance(prims, str) or not isinstance(prims, Sequence) or not prims:
        raise ValueError(f"record['primitives'] must be a non-empty list of op names, got {prims!r}")
    edges = []
    for e in record["edges"]:
        try:
            src, dst = (int(v) for v in e)
        except (TypeError, ValueError):
            raise ValueError(f"record['edges'] entry {e!r} is not a (src, dst) pair") from None
        edges.append((src, dst))
    if not edges:
        raise ValueError("record['edges'] is empty")
    return edges, [str(p) for p in prims]


def _weight_stack(record: Mapping, cell_type: str) -> np.ndarray:
    """(epochs, edges, ops) array of the recorded op weights of ``cell_type``."""
    edges, prims = _edges_and_prims(record)
    expected = (len(edges), len(prims))
    out = []
    for i in range(len(record["history"])):
        weights = _entry_value(record, i, "weights")
        if not isinstance(weights, Mapping) or cell_type not in weights:
            raise ValueError(f"record['history'][{i}]['weights'] lacks cell type {cell_type!r}")
        where = f"record['history'][{i}]['weights'][{cell_type!r}]"
        try:
            arr = np.array(weights[cell_type], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{where} is not a rectangular numeric array; expected shape "
                             f"{expected} = (len(edges), len(primitives))") from None
        if arr.shape != expected:
            raise ValueError(f"{where} has shape {arr.shape}; expected {expected} "
                             "= (len(edges), len(primitives))")
        out.append(arr)
    return np.stack(out)


def _relaxation(record: Mapping) -> str:
    return str(record.get("relaxation") or "softmax")


def _group_by_dst(edges: Sequence[tuple[int, int]]) -> tuple[list[int], dict[int, list[int]]]:
    """Destination nodes in order and, per destination, the indices of its edges."""
    groups: dict[int, list[int]] = {}
    for k, (_, dst) in enumerate(edges):
        groups.setdefault(dst, []).append(k)
    return sorted(groups), groups


# ------------------------------------------------------------------ plots

def plot_alpha_trajectories(record: Mapping, cell_type: str | None = None, *, ax_grid=None):
    """Each op's weight vs epoch, one small panel per edge, one shared legend.

    Panels form a grid by destination node: one row per node, its in-edges left to right
    (DARTS space: 4 rows holding 2, 3, 4, 5 panels = 14; NAS-Bench-201: 3 rows of 1, 2, 3
    = 6). The y axis (shared) is the recorded weight, labelled from ``record['relaxation']``
    ("softmax weight" / "sigmoid weight"). ``cell_type`` defaults to ``'normal'`` (or the
    record's only cell type). ``ax_grid``: optional axes to draw on, flattened and used in
    edge order (at least one per edge); the legend is then attached to the last one.
    Returns the figure; every panel holds exactly ``len(primitives)`` lines.
    """
    _check_record(record, ("space", "primitives", "edges", "cell_types", "history"))
    cell_type = _resolve_cell_type(record, cell_type)
    edges, prims = _edges_and_prims(record)
    W = _weight_stack(record, cell_type)
    epochs = _epochs(record)
    space = str(record["space"])
    relax = _relaxation(record)

    dsts, groups = _group_by_dst(edges)
    own_figure = ax_grid is None
    if own_figure:
        n_rows, n_cols = len(dsts), max(len(g) for g in groups.values())
        # The first row (fewest in-edges) leaves empty slots on its right: the legend goes
        # there when they are at least two panels wide, otherwise outside on the right.
        free = n_cols - len(groups[dsts[0]])
        fig, grid = _subplots(n_rows, n_cols,
                              figsize=(2.15 * n_cols + (0.6 if free >= 2 else 2.4),
                                       1.75 * n_rows + 1.0),
                              sharex=True, sharey=True, squeeze=False)
        axes: list = [None] * len(edges)
        for r, dst in enumerate(dsts):
            for c, k in enumerate(groups[dst]):
                axes[k] = grid[r, c]
            for c in range(len(groups[dst]), n_cols):
                fig.delaxes(grid[r, c])
                # the panel above loses its bottom neighbour: give it x tick labels back
                if r > 0 and grid[r - 1, c] in fig.axes:
                    grid[r - 1, c].xaxis.set_tick_params(labelbottom=True)
    else:
        flat = [a for a in np.asarray(ax_grid, dtype=object).ravel() if a is not None]
        if len(flat) < len(edges):
            raise ValueError(f"ax_grid has {len(flat)} axes; need one per edge ({len(edges)})")
        axes = flat[:len(edges)]
        fig = axes[0].figure

    marker = "o" if len(epochs) <= 12 else None
    handles = []
    for k, ax in enumerate(axes):
        src, dst = edges[k]
        for j, op in enumerate(prims):
            (line,) = ax.plot(epochs, W[:, k, j], color=op_color(op), lw=1.6,
                              ls="--" if op == "none" else "-", marker=marker, ms=3, label=op)
            if k == 0:
                handles.append(line)
        ax.set_title(_edge_label(space, src, dst), fontsize=10)
        ax.grid(True, alpha=0.3, lw=0.6)
        ax.tick_params(labelsize=8)
        if own_figure:
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel(f"{relax} weight", fontsize=9)
        else:
            ax.set_ylabel(f"{relax} weight", fontsize=9)
            ax.set_xlabel("epoch", fontsize=9)
    if own_figure:
        lo = min(0.0, float(np.nanmin(W)))
        axes[0].set_ylim(lo, max(float(np.nanmax(W)) * 1.05, lo + 1e-3))
        axes[0].xaxis.set_major_locator(_integer_ticks(nbins=5))
        fig.supxlabel("epoch", fontsize=10)
        if free >= 2:
            anchor = axes[groups[dsts[0]][-1]]  # last panel of the first row
            leg = anchor.legend(handles=handles, labels=prims, loc="upper left",
                                bbox_to_anchor=(1.15, 1.0), ncol=2 if len(prims) > 4 else 1,
                                title="op", frameon=False, fontsize=9)
            leg.set_in_layout(False)  # it sits in the empty slots, not beside the panel
        else:
            fig.legend(handles=handles, labels=prims, loc="outside right center", title="op",
                       frameon=False, fontsize=9)
        cell_name = _CELL_NAMES.get(cell_type, f"{cell_type} cell")
        fig.suptitle(f"{_record_title(record)}\n{relax} op weights per edge, {cell_name}",
                     fontsize=11)
    else:
        axes[-1].legend(handles=handles, labels=prims, loc="upper left",
                        bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8, title="op")
    return fig


def skip_counts(record: Mapping, cell: str = "normal") -> tuple[list[float], list[int]]:
    """``(epochs, counts)``: skip_connect edges in each history entry's derived genotype
    (DARTS space: the ``cell`` cell, default normal; NAS-Bench-201: the cell)."""
    _check_record(record, ("history",))
    space = record.get("space")
    epochs, counts = [], []
    for i in range(len(record["history"])):
        epoch = _entry_value(record, i, "epoch")
        text = _entry_value(record, i, "genotype")
        try:
            geno = _as_genotype(text, space if space in ("darts", "nb201") else None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"record['history'][{i}]['genotype'] is not a genotype: {exc}") from None
        epochs.append(epoch)
        counts.append(geno.skip_count(cell) if isinstance(geno, DartsGenotype) else geno.skip_count())
    return epochs, counts


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _record_list(records, labels) -> list:
    """One record or a non-empty list of them, as a list; labels (if given) one per record."""
    if isinstance(records, Mapping):
        records = [records]
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence) or not records:
        raise ValueError("records must be a run record (dict) or a non-empty list of them")
    if labels is not None and (isinstance(labels, str) or len(labels) != len(records)):
        raise ValueError(f"labels must be a list with one label per record ({len(records)})")
    return list(records)


def plot_skip_counts(records, *, ax=None, labels: Sequence[str] | None = None):
    """Number of ``skip_connect`` edges in the derived cell (normal cell in the DARTS
    space) after each epoch, one line per record. ``records``: one record or a list
    (seeds/methods on one axis; one colour per method, one marker per record).
    ``labels``: legend entries, one per record (default: method and seed)."""
    records = _record_list(records, labels)
    data = [skip_counts(r) for r in records]
    import seaborn as sns

    if ax is None:
        fig, ax = _subplots(figsize=(7.5, 3.6))
    else:
        fig = ax.figure
    methods = list(dict.fromkeys(r.get("method") for r in records))
    palette = sns.color_palette("colorblind", max(len(methods), 1))
    spaces = {r.get("space") for r in records}
    top = 1
    for i, (rec, (epochs, counts)) in enumerate(zip(records, data)):
        if labels is not None:
            label = str(labels[i])
        else:
            label = _method_name(rec.get("method", f"record {i}"))
            if rec.get("seed") is not None:
                label += f" · seed {rec['seed']}"
        ax.plot(epochs, counts, color=palette[methods.index(rec.get("method"))],
                marker=_MARKERS[i % len(_MARKERS)], ms=5, lw=1.6, alpha=0.9, label=label)
        top = max(top, max(counts))
    ax.set_ylim(-0.3, top + 0.7)
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("epoch")
    where = ("normal cell" if spaces == {"darts"} else "cell" if spaces == {"nb201"}
             else "cell (DARTS: normal)")
    ax.set_ylabel(f"# skip_connect\n(derived {where})")
    ax.grid(True, alpha=0.3)
    if len(records) == 1:
        ax.set_title(f"Skip connections in the derived {where}\n{_record_title(records[0])}",
                     fontsize=11)
    else:
        ax.set_title(f"Skip connections in the derived {where}", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    return fig


def plot_nb201_accuracy(records, *, labels: Sequence[str] | None = None, title: str = ""):
    """Benchmark test accuracy of the cell derived after every epoch, one panel per
    NAS-Bench-201 dataset (CIFAR-10, CIFAR-100, ImageNet16-120), one line per record,
    with the all-skip cell and the benchmark's best cell as reference lines."""
    from . import nb201
    records = _record_list(records, labels)
    spaces = sorted({str(r.get("space")) for r in records} - {"nb201"})
    if spaces:
        raise ValueError(f"plot_nb201_accuracy needs NAS-Bench-201 records; got space(s) {spaces}")
    fig, axes = _subplots(1, 3, figsize=(13, 3.6), sharex=True)
    for ax, (ds, _, name) in zip(axes, nb201.TEST_COLUMNS):
        for i, rec in enumerate(records):
            epochs, accs = nb201.accuracy_per_epoch(rec, ds)
            label = labels[i] if labels is not None else f"seed {rec.get('seed')}"
            ax.plot(epochs, accs, marker=_MARKERS[i % len(_MARKERS)], ms=4, label=label)
        ax.axhline(nb201.accuracy(nb201.ALL_SKIP, ds), color=op_color("skip_connect"), ls="--",
                   label="all-skip cell")
        ax.axhline(nb201.accuracy(nb201.optimum(ds).index, ds), color="gray", ls=":",
                   label="best cell")
        ax.set_title(name)
        ax.set_xlabel("search epoch")
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("benchmark test accuracy\nof the derived cell (%)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def skip_margin(record: Mapping, cell_type: str | None = None) -> tuple[list[int], np.ndarray]:
    """``(epochs, margin)``, margin (epochs, edges): softmax weight of ``skip_connect``
    minus the largest weight of a parametric (convolution) op, per edge of ``cell_type``
    (default: the normal cell, or NAS-Bench-201's cell). Above zero, skip beats every
    convolution on that edge."""
    _check_record(record, ("history", "primitives"))
    prims = list(record["primitives"])
    if "skip_connect" not in prims:
        raise ValueError(f"the record's primitives {prims} have no skip_connect")
    conv = [prims.index(p) for p in prims if "conv" in p]
    w = _weight_stack(record, _resolve_cell_type(record, cell_type))   # (epochs, edges, ops)
    return list(_epochs(record)), w[:, :, prims.index("skip_connect")] - w[:, :, conv].max(axis=2)


def plot_skip_margin(record: Mapping, cell_type: str | None = None, *, title: str | None = None):
    """`skip_margin` over epochs, one line per edge (DARTS space: 14 normal-cell edges)."""
    cell_type = _resolve_cell_type(record, cell_type)
    epochs, margin = skip_margin(record, cell_type)
    import matplotlib.pyplot as plt
    fig, ax = _subplots(figsize=(7, 3.6))
    n = margin.shape[1]
    for e in range(n):
        ax.plot(epochs, margin[:, e], color=plt.cm.viridis(e / max(n - 1, 1)), lw=1.2)
    ax.axhline(0, color="black", lw=0.8)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("search epoch")
    ax.set_ylabel("w(skip) − max w(conv)")
    ax.grid(True, alpha=0.3)
    ax.set_title(title if title is not None else
                 f"{_CELL_NAMES.get(cell_type, cell_type)}, {n} edges: {_record_title(record)}",
                 fontsize=9)
    return fig


def plot_stored(records: Mapping[str, Mapping]) -> list:
    """Figures for named records ({name: record}, e.g. ``nas_kit.stored.load(...).records``):
    the derived cells' benchmark accuracy per epoch (NAS-Bench-201 records) and the skip
    count per epoch (all records), each line labelled with its record file (and "k of N
    epochs" for a partial search), each title naming the records' provenance."""
    from .stored import label, provenance
    figures = []
    groups = {space: {n: r for n, r in records.items() if r.get("space") == space}
              for space in ("nb201", "darts")}
    nb = groups["nb201"]
    if nb:
        figures.append(plot_nb201_accuracy(list(nb.values()),
                                           labels=[label(n, r) for n, r in nb.items()],
                                           title="stored records: " + provenance(list(nb.values()))))
    for space, group in groups.items():
        if group:
            fig = plot_skip_counts(list(group.values()), labels=[label(n, r) for n, r in group.items()])
            fig.axes[0].set_title(f"Skip connections in the derived {_SPACE_NAMES[space]} cell"
                                  f"\nstored records: {provenance(list(group.values()))}",
                                  fontsize=9)
            figures.append(fig)
    return figures


def _history_index(record: Mapping, epoch: int) -> int:
    hist = record["history"]
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
        raise ValueError(f"epoch must be an int, got {epoch!r}")
    if epoch < 0:
        if -epoch > len(hist):
            raise ValueError(f"epoch {epoch} out of range: the record has {len(hist)} epochs")
        return len(hist) + int(epoch)
    for i in range(len(hist)):
        if _entry_value(record, i, "epoch") == epoch:
            return i
    available = [entry.get("epoch") for entry in hist]
    raise ValueError(f"no history entry for epoch {epoch}; available epochs: "
                     f"{', '.join(map(str, available))} (or a negative index, -1 = last)")


def plot_weight_heatmap(record: Mapping, epoch: int = -1, cell_type: str | None = None):
    """Edges x ops heatmap of the op weights at one epoch, annotated with the values.

    ``epoch``: a recorded epoch number (``history[i]['epoch']``), or a negative index into
    the history (``-1`` = last, the default). Rows are grouped by destination node (white
    separators); the outlined cell of each row is the op the edge's derivation would pick
    (argmax; in the DARTS space excluding ``none``, as DARTS does). Column labels are
    coloured by op. Returns the figure (heatmap axes + colourbar axes).
    """
    _check_record(record, ("space", "primitives", "edges", "cell_types", "history"))
    cell_type = _resolve_cell_type(record, cell_type)
    edges, prims = _edges_and_prims(record)
    i = _history_index(record, epoch)
    W = _weight_stack(record, cell_type)[i]
    space = str(record["space"])
    relax = _relaxation(record)
    import seaborn as sns
    from matplotlib.patches import Rectangle

    fig, ax = _subplots(figsize=(1.0 + 0.95 * len(prims) + 1.2, 1.3 + 0.36 * len(edges)))
    sns.heatmap(W, ax=ax, annot=True, fmt=".2f", annot_kws={"fontsize": 8}, cmap="rocket_r",
                vmin=0.0, vmax=max(float(np.nanmax(W)), 1e-6), linewidths=0.5, linecolor="white",
                xticklabels=prims, yticklabels=[_edge_label(space, s, d) for s, d in edges],
                cbar_kws={"label": f"{relax} weight", "shrink": 0.8})
    ax.set_xticklabels(ax.get_xticklabels(), rotation=35, ha="right", rotation_mode="anchor")
    for lab in ax.get_xticklabels():
        lab.set_color(op_color(lab.get_text()))
        lab.set_fontweight("bold")
    ax.tick_params(axis="y", rotation=0)
    candidates = [j for j, p in enumerate(prims) if not (space == "darts" and p == "none")]
    if candidates:
        for r in range(len(edges)):
            if np.all(np.isnan(W[r, candidates])):
                continue
            j = candidates[int(np.nanargmax(W[r, candidates]))]
            ax.add_patch(Rectangle((j + 0.04, r + 0.06), 0.92, 0.88, fill=False,
                                   edgecolor="#1a9fff", lw=2.2, zorder=4))
    for r in range(1, len(edges)):
        if edges[r][1] != edges[r - 1][1]:
            ax.axhline(r, color="white", lw=5, zorder=3)
    ax.set_xlabel("op   (outlined: each edge's strongest op"
                  + (", 'none' excluded)" if space == "darts" else ")"))
    ax.set_ylabel("edge (source → node)")
    entry_epoch = record["history"][i].get("epoch", i)
    ax.set_title(f"{_record_title(record)}\n{relax} op weights, "
                 f"{_CELL_NAMES.get(cell_type, cell_type + ' cell')}, epoch {entry_epoch}",
                 fontsize=10)
    return fig


def _series(record: Mapping, key: str) -> np.ndarray:
    vals = []
    for i in range(len(record["history"])):
        v = _entry_value(record, i, key)
        vals.append(np.nan if v is None else v)
    try:
        return np.array(vals, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"record['history'][*][{key!r}] must be numbers (or null)") from None


def plot_losses(record: Mapping):
    """Train and validation loss (left) and accuracy in % (right) vs epoch."""
    _check_record(record, ("history",))
    epochs = _epochs(record)
    series = {k: _series(record, k) for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    fig, (ax_l, ax_a) = _subplots(1, 2, figsize=(10.5, 3.8))
    marker = "o" if len(epochs) <= 20 else None
    styles = {"train": dict(color="#1f77b4", ls="-"), "val": dict(color="#ff7f0e", ls="--")}
    for ax, what in ((ax_l, "loss"), (ax_a, "acc")):
        for split in ("train", "val"):
            ax.plot(epochs, series[f"{split}_{what}"], marker=marker, ms=4, lw=1.8,
                    label="train (w step)" if split == "train" else "validation (α step)",
                    **styles[split])
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(_integer_ticks())
    ax_l.set_ylabel("loss")
    ax_l.set_title("loss", fontsize=10)
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_title("accuracy", fontsize=10)
    handles, labels = ax_l.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=9)
    fig.suptitle(f"{_record_title(record)}\nsupernet training", fontsize=11)
    return fig


# ------------------------------------------------------------------ batch export

def save_record_figures(record: Mapping, out_dir, *, dpi: int = 150) -> list[Path]:
    """Write every figure of one search record into ``out_dir`` (created) and return the paths.

    Files: ``cell_<type>.png`` and ``.svg`` for each cell type of the final genotype
    (``record['genotype']``; needs graphviz ``dot`` - without it the cells are skipped with
    a warning), ``alpha_<type>.png`` (trajectories) and ``weights_<type>.png`` (heatmap of
    the last epoch) for each cell type, ``skip_counts.png`` and ``losses.png``.
    """
    _check_record(record, ("space", "primitives", "edges", "cell_types", "history", "genotype"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    types = _cell_types(record)
    space = record["space"]
    try:
        geno = _as_genotype(record["genotype"], space if space in ("darts", "nb201") else None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"record['genotype'] is not a genotype: {exc}") from None
    # Validate the weights of every cell type before writing anything.
    for t in types:
        _weight_stack(record, t)
    written: list[Path] = []

    def save(fig, name: str) -> None:
        path = out / name
        fig.savefig(path, dpi=dpi, facecolor="white")  # constrained layout: no 'tight' pass
        written.append(path)

    title = _record_title(record)
    try:
        for t in types:
            cell = t if isinstance(geno, DartsGenotype) else "cell"
            if isinstance(geno, DartsGenotype) and t not in ("normal", "reduce"):
                raise ValueError(f"record['cell_types'] entry {t!r}; valid for the DARTS space: "
                                 "normal, reduce")
            g = draw_cell(geno, cell, title=f"{title}\n{_CELL_NAMES.get(t, t)}")
            hi_res = g.copy()
            hi_res.attr(dpi=str(dpi))  # PNG only: dpi would also rescale the SVG
            for fmt, graph in (("png", hi_res), ("svg", g)):
                path = out / f"cell_{t}.{fmt}"
                path.write_bytes(graph.pipe(format=fmt))
                written.append(path)
    except graphviz.ExecutableNotFound:
        warnings.warn("graphviz 'dot' not found: cell drawings skipped (install graphviz, e.g. "
                      "apt-get install graphviz)", RuntimeWarning, stacklevel=2)
    for t in types:
        save(plot_alpha_trajectories(record, t), f"alpha_{t}.png")
        save(plot_weight_heatmap(record, -1, t), f"weights_{t}.png")
    save(plot_skip_counts(record), "skip_counts.png")
    save(plot_losses(record), "losses.png")
    return written

