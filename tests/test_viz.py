"""Tests of nas_kit.viz on small, fake but consistent search records (CPU, fast)."""
from __future__ import annotations

import copy
import json
import re
import shutil

import matplotlib

matplotlib.use("Agg")

import graphviz  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nas_kit import viz  # noqa: E402
from nas_kit.genotypes import (  # noqa: E402
    DARTS_EDGES,
    DARTS_PRIMITIVES,
    NB201_EDGES,
    NB201_PRIMITIVES,
    DartsGenotype,
    NB201Genotype,
)

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="graphviz 'dot' not installed")

EPOCHS = 3
REAL_OPS = DARTS_PRIMITIVES[1:]


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _darts_cell(rng, n_skip: int):
    """8 edges, 2 per node (sources random, distinct), the first n_skip ops skip_connect."""
    edges = []
    for dst in range(2, 6):
        for src in sorted(rng.choice(dst, size=2, replace=False)):
            edges.append((int(src), dst))
    ops = ["skip_connect"] * n_skip + [str(rng.choice([o for o in REAL_OPS if o != "skip_connect"]))
                                       for _ in range(8 - n_skip)]
    rng.shuffle(ops)
    return tuple((op, s, d) for op, (s, d) in zip(ops, edges))


def _base(space, primitives, edges, cell_types, relaxation="softmax", method="darts"):
    return {
        "format": "nas_kit/record-v1", "kind": "search", "method": method, "space": space,
        "dataset": "cifar10-jpeg", "dataset_provenance": "CIFAR-10 (JPEG re-encoded copy)",
        "seed": 0, "profile": "smoke", "config": {}, "env": {},
        "primitives": list(primitives), "edges": [list(e) for e in edges],
        "cell_types": list(cell_types), "relaxation": relaxation, "history": [],
    }


def _entry(epoch, weights, genotype, rng):
    return {"epoch": epoch, "weights": weights, "edge_weights": None, "genotype": genotype,
            "train_loss": float(2.3 - 0.3 * epoch + 0.05 * rng.random()),
            "train_acc": float(10 + 8 * epoch), "val_loss": float(2.4 - 0.25 * epoch),
            "val_acc": float(9 + 7 * epoch), "lr": 0.025, "seconds": 1.0,
            "extra": {}}


def make_darts_record(seed: int = 0, epochs: int = EPOCHS, method: str = "darts"):
    rng = np.random.default_rng(seed)
    rec = _base("darts", DARTS_PRIMITIVES, DARTS_EDGES, ["normal", "reduce"], method=method)
    rec["seed"] = seed
    genos = []
    for e in range(1, epochs + 1):
        weights = {t: _softmax(rng.normal(0, 0.3 * e, (14, 8))).tolist() for t in ("normal", "reduce")}
        geno = DartsGenotype(_darts_cell(rng, n_skip=min(e, 8)), (2, 3, 4, 5),
                             _darts_cell(rng, n_skip=1), (2, 3, 4, 5))
        genos.append(geno)
        rec["history"].append(_entry(e, weights, str(geno), rng))
    rec["genotype"] = str(genos[-1])
    rec["total_seconds"] = float(epochs)
    return rec, genos


def make_nb201_record(seed: int = 0, epochs: int = EPOCHS):
    rng = np.random.default_rng(seed)
    rec = _base("nb201", NB201_PRIMITIVES, NB201_EDGES, ["cell"])
    genos = []
    for e in range(1, epochs + 1):
        weights = {"cell": _softmax(rng.normal(0, 0.5 * e, (6, 5))).tolist()}
        ops = list(rng.choice([o for o in NB201_PRIMITIVES if o != "skip_connect"], size=6))
        ops[0] = "none"  # a 'none' edge (0 -> 1) in every genotype
        ops[1:1 + e] = ["skip_connect"] * e
        geno = NB201Genotype(tuple(str(o) for o in ops))
        genos.append(geno)
        rec["history"].append(_entry(e, weights, str(geno), rng))
    rec["genotype"] = str(genos[-1])
    rec["total_seconds"] = float(epochs)
    return rec, genos


FAIR_SPARSE = DartsGenotype(
    # node 3 has no input; the edge 3 -> 5 leaves an isolated node
    normal=(("max_pool_3x3", 0, 2), ("sep_conv_5x5", 1, 2), ("dil_conv_3x3", 0, 4),
            ("dil_conv_5x5", 2, 4), ("skip_connect", 3, 5), ("sep_conv_3x3", 0, 5)),
    normal_concat=(2, 3, 4, 5),
    reduce=(("dil_conv_3x3", 1, 2), ("dil_conv_5x5", 0, 2), ("sep_conv_5x5", 0, 4)),
    reduce_concat=(2, 4),
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def darts_record():
    return make_darts_record()


@pytest.fixture
def nb201_record():
    return make_nb201_record()


def _n_edges(g: graphviz.Digraph, visible_only: bool = True) -> int:
    lines = [ln for ln in g.source.splitlines() if "->" in ln]
    if visible_only:
        lines = [ln for ln in lines if "invis" not in ln]
    return len(lines)


# ------------------------------------------------------------------ cells

def test_op_colors_cover_all_primitives_and_are_distinct():
    ops = set(DARTS_PRIMITIVES) | set(NB201_PRIMITIVES)
    assert ops <= set(viz.OP_COLORS)
    assert len({viz.OP_COLORS[o] for o in ops}) == len(ops)
    assert viz.op_color("unknown_op") == viz.op_color("unknown_op")


@pytest.mark.parametrize("cell", ["normal", "reduce"])
def test_draw_cell_darts(darts_record, cell):
    _, genos = darts_record
    geno = genos[-1]
    g = viz.draw_cell(geno, cell)
    assert isinstance(g, graphviz.Digraph)
    edges = geno.cell(cell)
    concat = getattr(geno, f"{cell}_concat")
    assert _n_edges(g) == len(edges) + len(concat)
    for op, _, _ in edges:
        assert op in g.source
        assert viz.op_color(op) in g.source
    assert "reduction cell" in g.source if cell == "reduce" else "normal cell" in g.source
    # text and genotype give the same drawing
    assert viz.draw_cell(str(geno), cell).source == g.source


def test_draw_cell_marks_isolated_nodes_dashed():
    g = viz.draw_cell(FAIR_SPARSE, "normal", title="Fair DARTS")
    assert _n_edges(g) == len(FAIR_SPARSE.normal) + 4
    node3 = [ln for ln in g.source.splitlines() if re.match(r"\s*c3 \[", ln)]
    assert node3 and "dashed" in node3[0]          # node 3 (drawn "1") has no input
    dead_edge = [ln for ln in g.source.splitlines() if "c3 -> c5" in ln]
    assert dead_edge and "dashed" in dead_edge[0]
    live = [ln for ln in g.source.splitlines() if re.match(r"\s*c2 \[", ln)]
    assert "dashed" not in live[0]
    assert "Fair DARTS" in g.source


def test_draw_cell_nb201(nb201_record):
    _, genos = nb201_record
    geno = genos[-1]
    g = viz.draw_cell(geno)
    assert _n_edges(g) == 6
    for op in geno.ops:
        assert op in g.source
    none_lines = [ln for ln in g.source.splitlines() if "->" in ln and "label=none" in ln]
    assert len(none_lines) == geno.ops.count("none") and all("dotted" in ln for ln in none_lines)
    assert viz.draw_cell(geno, "cell").source == g.source


def test_draw_genotype_clusters(darts_record, nb201_record):
    geno = darts_record[1][-1]
    g = viz.draw_genotype(geno, title="final genotype")
    src = g.source
    assert "cluster_normal" in src and "cluster_reduce" in src
    assert "normal cell" in src and "reduction cell" in src
    assert _n_edges(g) == 8 + 4 + 8 + 4
    g201 = viz.draw_genotype(nb201_record[1][-1])
    assert _n_edges(g201) == 6


@needs_dot
def test_cells_render_png(darts_record, nb201_record, tmp_path):
    for g in (viz.draw_cell(darts_record[1][-1], "reduce"), viz.draw_genotype(darts_record[1][-1]),
              viz.draw_cell(nb201_record[1][-1]), viz.draw_cell(FAIR_SPARSE)):
        png = g.pipe(format="png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    out = viz.draw_cell(FAIR_SPARSE).render(tmp_path / "fair", format="png", cleanup=True)
    assert (tmp_path / "fair.png").stat().st_size > 1000 and out.endswith(".png")


@pytest.mark.parametrize("space, n_edges, ops", [
    ("darts", 14, DARTS_PRIMITIVES), ("nb201", 6, NB201_PRIMITIVES)])
def test_draw_search_space_gives_every_edge_every_candidate(space, n_edges, ops):
    g = viz.draw_search_space(space)
    edge_lines = [ln for ln in g.source.splitlines() if "->" in ln and "style=invis" not in ln]
    mixed = [ln for ln in edge_lines if "<TABLE" in ln]
    pairs = [tuple(int(n) for n in re.findall(r"[cn](\d+)", ln.split("[")[0])) for ln in mixed]
    assert pairs == list(DARTS_EDGES if space == "darts" else NB201_EDGES)   # each edge once
    assert all("<TABLE" not in ln for ln in edge_lines if "-> out" in ln)   # c_k: not searched
    # a strip of one swatch per candidate, in the order and colours of every other figure
    swatches = re.findall(r'BGCOLOR="(#[0-9a-f]{6})"', mixed[0])
    assert swatches == [viz.op_color(op) for op in ops]
    assert all(op in g.source for op in ops)
    assert len(edge_lines) - n_edges == (4 if space == "darts" else 0)  # nodes 0..3 -> c_k
    assert f"{n_edges} edges x {len(ops)} candidate operations" in g.source
    assert "a&lt;b" in viz.draw_search_space(space, title="a<b").source   # HTML-escaped


@needs_dot
def test_search_spaces_render_png():
    for space in ("darts", "nb201"):
        png = viz.draw_search_space(space).pipe(format="png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_draw_search_space_names_a_bad_space():
    with pytest.raises(ValueError, match="unknown search space 'nasbench101'; valid: darts, nb201"):
        viz.draw_search_space("nasbench101")


def test_draw_cell_bad_input(darts_record, nb201_record):
    with pytest.raises(ValueError, match="normal, reduce"):
        viz.draw_cell(darts_record[1][-1], "reduction")
    with pytest.raises(ValueError, match="valid: cell"):
        viz.draw_cell(nb201_record[1][-1], "foo")
    with pytest.raises(ValueError):
        viz.draw_cell("Genotype(normal=[('conv_9x9', 0)])")
    with pytest.raises(TypeError):
        viz.draw_cell(42)


# ------------------------------------------------------------------ plots

def test_alpha_trajectories_darts(darts_record):
    rec, _ = darts_record
    before = copy.deepcopy(rec)
    fig = viz.plot_alpha_trajectories(rec)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(fig.axes) == len(panels) == 14
    assert all(len(ax.get_lines()) == 8 for ax in panels)
    assert {ax.get_ylabel() for ax in panels} == {"softmax weight", ""}
    assert "DARTS" in fig._suptitle.get_text() and "seed 0" in fig._suptitle.get_text()
    assert "normal cell" in fig._suptitle.get_text()
    # the lines are the recorded weights of the normal cell, edge by edge
    w = np.array([h["weights"]["normal"] for h in rec["history"]])
    first = panels[0]
    assert first.get_title() == r"$c_{k-2}$ → 0"
    np.testing.assert_allclose(first.get_lines()[3].get_ydata(), w[:, 0, 3])
    np.testing.assert_allclose(first.get_lines()[3].get_xdata(), [1, 2, 3])
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == 1 and [t.get_text() for t in legends[0].get_texts()] == list(DARTS_PRIMITIVES)
    assert rec == before

    fig_r = viz.plot_alpha_trajectories(rec, "reduce")
    assert "reduction cell" in fig_r._suptitle.get_text()


def test_alpha_trajectories_nb201_sigmoid(nb201_record):
    rec, _ = nb201_record
    rec["relaxation"] = "sigmoid"
    rec["method"] = "fair-darts"
    fig = viz.plot_alpha_trajectories(rec)
    assert len(fig.axes) == 6
    assert all(len(ax.get_lines()) == 5 for ax in fig.axes)
    assert "sigmoid weight" in {ax.get_ylabel() for ax in fig.axes}
    assert "Fair DARTS" in fig._suptitle.get_text()


def test_alpha_trajectories_on_given_axes(nb201_record):
    rec, _ = nb201_record
    fig, axes = plt.subplots(2, 3)
    out = viz.plot_alpha_trajectories(rec, "cell", ax_grid=axes)
    assert out is fig
    assert all(len(ax.get_lines()) == 5 for ax in axes.ravel())
    with pytest.raises(ValueError, match="one per edge"):
        viz.plot_alpha_trajectories(rec, ax_grid=axes[0])


def test_skip_counts_match_genotypes(darts_record, nb201_record):
    for rec, genos in (darts_record, nb201_record):
        epochs, counts = viz.skip_counts(rec)
        assert epochs == [1, 2, 3]
        assert counts == [g.skip_count() for g in genos]
        assert counts == [1, 2, 3]
    rec, genos = darts_record
    assert viz.skip_counts(rec, "reduce")[1] == [g.skip_count("reduce") for g in genos]


def test_plot_skip_counts_one_and_many(darts_record):
    rec, genos = darts_record
    fig = viz.plot_skip_counts(rec)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [g.skip_count() for g in genos]
    assert "seed 0" in ax.get_title()

    recs = [make_darts_record(s)[0] for s in range(3)] + [make_darts_record(7, method="pc-darts")[0]]
    fig2 = viz.plot_skip_counts(recs, labels=["a", "b", "c", "d"])
    lines = fig2.axes[0].get_lines()
    assert len(lines) == 4
    assert [t.get_text() for t in fig2.axes[0].get_legend().get_texts()] == ["a", "b", "c", "d"]
    assert lines[0].get_color() == lines[1].get_color() != lines[3].get_color()

    fig3, ax3 = plt.subplots()
    assert viz.plot_skip_counts(recs[:2], ax=ax3) is fig3
    with pytest.raises(ValueError, match="one label per record"):
        viz.plot_skip_counts(recs, labels=["a"])


def test_weight_heatmap(darts_record, nb201_record):
    rec, _ = darts_record
    before = copy.deepcopy(rec)
    fig = viz.plot_weight_heatmap(rec)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # heatmap + colourbar
    ax = fig.axes[0]
    assert len(ax.texts) == 14 * 8
    assert [t.get_text() for t in ax.get_xticklabels()] == list(DARTS_PRIMITIVES)
    assert len(ax.get_yticklabels()) == 14
    assert "epoch 3" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "softmax weight"
    last = np.array(rec["history"][-1]["weights"]["normal"])
    assert ax.texts[0].get_text() == f"{last[0, 0]:.2f}"
    assert rec == before

    assert "epoch 2" in viz.plot_weight_heatmap(rec, epoch=2, cell_type="reduce").axes[0].get_title()
    assert "epoch 1" in viz.plot_weight_heatmap(rec, epoch=-3).axes[0].get_title()
    with pytest.raises(ValueError, match="available epochs: 1, 2, 3"):
        viz.plot_weight_heatmap(rec, epoch=9)
    with pytest.raises(ValueError, match="out of range"):
        viz.plot_weight_heatmap(rec, epoch=-4)

    fig201 = viz.plot_weight_heatmap(nb201_record[0])
    assert len(fig201.axes[0].texts) == 6 * 5


def test_plot_losses(darts_record):
    rec, _ = darts_record
    fig = viz.plot_losses(rec)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)
    np.testing.assert_allclose(fig.axes[1].get_lines()[1].get_ydata(),
                               [h["val_acc"] for h in rec["history"]])
    assert "DARTS" in fig._suptitle.get_text()
    # missing values (null in JSON) are gaps, not errors
    rec2 = copy.deepcopy(rec)
    rec2["history"][1]["val_loss"] = None
    viz.plot_losses(rec2)


def test_record_from_json_roundtrip(darts_record):
    rec = json.loads(json.dumps(darts_record[0]))
    assert len(viz.plot_alpha_trajectories(rec).axes) == 14


# ------------------------------------------------------------------ export

@needs_dot
@pytest.mark.parametrize("make", [make_darts_record, make_nb201_record])
def test_save_record_figures(make, tmp_path):
    rec, _ = make()
    before = copy.deepcopy(rec)
    out_dir = tmp_path / "figs" / "run"
    paths = viz.save_record_figures(rec, out_dir)
    names = {p.name for p in paths}
    types = rec["cell_types"]
    expected = ({f"cell_{t}.{ext}" for t in types for ext in ("png", "svg")}
                | {f"alpha_{t}.png" for t in types} | {f"weights_{t}.png" for t in types}
                | {"skip_counts.png", "losses.png"})
    assert names == expected
    for p in paths:
        assert p.parent == out_dir and p.stat().st_size > 500
    assert (out_dir / f"cell_{types[0]}.svg").read_text().lstrip().startswith("<?xml")
    assert rec == before
    assert plt.get_fignums() == []  # nothing left open in pyplot


# ------------------------------------------------------------------ bad input

def test_bad_records(darts_record, nb201_record):
    rec, _ = darts_record
    with pytest.raises(ValueError, match="'history'"):
        viz.plot_alpha_trajectories({k: v for k, v in rec.items() if k != "history"})
    with pytest.raises(ValueError, match="'primitives'"):
        viz.plot_weight_heatmap({k: v for k, v in rec.items() if k != "primitives"})
    with pytest.raises(ValueError, match="'genotype'"):
        viz.save_record_figures({k: v for k, v in rec.items() if k != "genotype"}, "/nonexistent")
    with pytest.raises(ValueError, match="dict"):
        viz.plot_losses([1, 2])

    bad = copy.deepcopy(rec)
    bad["history"][1]["weights"]["normal"] = [row[:7] for row in bad["history"][1]["weights"]["normal"]]
    with pytest.raises(ValueError, match=r"history'\]\[1\].*shape \(14, 7\); expected \(14, 8\)"):
        viz.plot_alpha_trajectories(bad)
    bad2 = copy.deepcopy(rec)
    bad2["history"][0]["weights"]["normal"][3] = [0.1] * 5  # ragged
    with pytest.raises(ValueError, match="rectangular"):
        viz.plot_weight_heatmap(bad2, epoch=1)
    bad3 = copy.deepcopy(rec)
    bad3["edges"] = bad3["edges"][:13]
    with pytest.raises(ValueError, match=r"expected \(13, 8\)"):
        viz.plot_weight_heatmap(bad3)
    bad4 = copy.deepcopy(rec)
    del bad4["history"][2]["genotype"]
    with pytest.raises(ValueError, match=r"history'\]\[2\] lacks required key 'genotype'"):
        viz.plot_skip_counts(bad4)
    bad5 = copy.deepcopy(rec)
    del bad5["history"][0]["val_acc"]
    with pytest.raises(ValueError, match="'val_acc'"):
        viz.plot_losses(bad5)
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_losses(dict(rec, history=[]))
    with pytest.raises(ValueError, match="'search'"):
        viz.plot_losses(dict(rec, kind="train"))


def test_unknown_cell_type_lists_valid(darts_record, nb201_record):
    with pytest.raises(ValueError, match="valid: normal, reduce"):
        viz.plot_alpha_trajectories(darts_record[0], "cell")
    with pytest.raises(ValueError, match="valid: cell"):
        viz.plot_weight_heatmap(nb201_record[0], cell_type="normal")


def test_plot_nb201_accuracy_draws_the_looked_up_accuracy_per_epoch(nb201_record, darts_record):
    from nas_kit import nb201
    (nb201_record, _), (darts_record, _) = nb201_record, darts_record
    other = make_nb201_record(seed=1)[0]
    fig = viz.plot_nb201_accuracy([nb201_record, other], labels=["a", "b"], title="t")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["CIFAR-10", "CIFAR-100", "ImageNet16-120"]
    for ax, ds in zip(axes, ("cifar10", "cifar100", "imagenet16-120")):
        lines = {line.get_label(): line for line in ax.get_lines()}
        for label, rec in (("a", nb201_record), ("b", other)):
            epochs, accs = nb201.accuracy_per_epoch(rec, ds)
            assert list(lines[label].get_xdata()) == epochs
            assert list(lines[label].get_ydata()) == accs
        assert lines["best cell"].get_ydata()[0] == nb201.optimum(ds).__dict__[
            {"cifar10": "cifar10_test", "cifar100": "cifar100_test",
             "imagenet16-120": "imagenet16_test"}[ds]]
    with pytest.raises(ValueError, match=r"needs NAS-Bench-201 records; got space\(s\) \['darts'\]"):
        viz.plot_nb201_accuracy([nb201_record, darts_record])
    with pytest.raises(ValueError, match="one label per record"):
        viz.plot_nb201_accuracy([nb201_record], labels=["a", "b"])


def test_skip_margin_is_skip_minus_the_best_convolution(darts_record):
    darts_record = darts_record[0]
    epochs, margin = viz.skip_margin(darts_record)
    prims = darts_record["primitives"]
    w = np.array(darts_record["history"][-1]["weights"]["normal"])
    conv = [i for i, p in enumerate(prims) if "conv" in p]
    expected = w[:, prims.index("skip_connect")] - w[:, conv].max(axis=1)
    assert margin.shape == (len(darts_record["history"]), len(darts_record["edges"]))
    assert np.allclose(margin[-1], expected)
    assert epochs == [e["epoch"] for e in darts_record["history"]]
    fig = viz.plot_skip_margin(darts_record)
    assert len(fig.axes[0].get_lines()) == len(darts_record["edges"]) + 1   # + the zero line
    assert "normal cell, 14 edges" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="unknown cell_type 'cell'"):
        viz.skip_margin(darts_record, "cell")


def test_plot_stored_labels_lines_with_record_files(nb201_record, darts_record):
    nb, _ = nb201_record
    dt, _ = darts_record
    for r in (nb, dt):
        r["env"] = {"device_name": "NVIDIA H100", "torch": "2.11", "date": "2026-11-26T00:00"}
        r["complete"], r["config"] = True, {"epochs": len(r["history"])}
    dt["complete"], dt["config"] = False, {"epochs": 50}     # a partial search
    figs = viz.plot_stored({"darts-nb201-s0": nb, "darts-darts-s0": dt})
    assert len(figs) == 3     # NB201 accuracy, NB201 skip counts, DARTS skip counts
    labels = [line.get_label() for line in figs[0].axes[0].get_lines()]
    assert "darts-nb201-s0.json" in labels
    assert [line.get_label() for line in figs[2].axes[0].get_lines()] == [
        f"darts-darts-s0.json ({len(dt['history'])} of 50 epochs)"]
    assert "device NVIDIA H100" in figs[2].axes[0].get_title()
    assert len(viz.plot_stored({"x": dt})) == 1


def test_epoch_and_count_ticks_stay_integers_for_a_one_epoch_record():
    # A partial stored record may hold one epoch and a constant skip count: matplotlib's
    # integer locator alone falls back to ticks like 0.945 ... 1.05 there.
    rec, _ = make_darts_record(epochs=1)
    fig = viz.plot_skip_counts(rec)
    fig.canvas.draw()
    ax = fig.axes[0]
    for ticks, (lo, hi) in ((ax.get_xticks(), ax.get_xlim()), (ax.get_yticks(), ax.get_ylim())):
        shown = [t for t in ticks if lo <= t <= hi]
        assert shown and all(float(t).is_integer() for t in shown), (ticks, lo, hi)
