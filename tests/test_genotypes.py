"""Tests for nas_kit.genotypes: published data, text/JSON round trips, derivation, validation."""
import json
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nas_kit.genotypes import (
    DARTS_EDGES, DARTS_PRIMITIVES, FAIR_DARTS_PRIMITIVES, NB201_EDGES, NB201_PRIMITIVES, PUBLISHED,
    DartsGenotype, NB201Genotype, derive_darts, derive_nb201, genotype_from_json,
    parse_darts_genotype, parse_genotype, parse_nb201_genotype, published)

V2_TEXT = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
           "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
           "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
           "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
           "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
NB_TEXT = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


# ----------------------------------------------------------------- constants and published data

def test_edge_orders():
    assert len(DARTS_EDGES) == 14
    assert DARTS_EDGES[:5] == ((0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert DARTS_EDGES[-1] == (4, 5)
    assert FAIR_DARTS_PRIMITIVES == DARTS_PRIMITIVES[1:] and 'none' not in FAIR_DARTS_PRIMITIVES
    assert NB201_EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def test_published_names():
    expected = {'DARTS_V1', 'DARTS_V2', 'PC_DARTS_cifar', 'PC_DARTS_image'} | {
        f'FairDARTS_{c}' for c in 'abcdefg'}
    assert set(PUBLISHED) == expected
    assert published('DARTS_V2') is PUBLISHED['DARTS_V2']
    with pytest.raises(ValueError, match=r"'DARTS_V3'.*DARTS_V1.*FairDARTS_g"):
        published('DARTS_V3')


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_round_trip(name):
    g = PUBLISHED[name]
    assert parse_darts_genotype(str(g)) == g
    assert parse_genotype(str(g)) == g
    assert DartsGenotype.from_json(json.loads(json.dumps(g.to_json()))) == g
    assert genotype_from_json(g.to_json()) == g
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    assert hash(g) == hash(parse_genotype(str(g)))


def test_published_text_matches_official_repr():
    assert str(published('DARTS_V2')) == V2_TEXT
    assert parse_darts_genotype(V2_TEXT) == published('DARTS_V2')
    fa = str(published('FairDARTS_a'))
    assert fa.startswith("Genotype(normal=[('sep_conv_3x3', 2, 0), ('sep_conv_5x5', 2, 1), "
                         "('max_pool_3x3', 4, 0), ('sep_conv_3x3', 5, 0)], normal_concat=[2, 3, 4, 5]")
    # Fair DARTS' sparse normal cell forces the 3-tuple form on the whole genotype.
    assert "reduce=[('max_pool_3x3', 2, 0)," in fa


def test_skip_counts_and_cells():
    assert published('DARTS_V1').skip_count() == 3
    assert published('DARTS_V2').skip_count('normal') == 2
    assert published('DARTS_V2').skip_count('reduce') == 3
    v2 = published('DARTS_V2')
    assert v2.op_count('sep_conv_3x3') == 5 and v2.op_count('max_pool_3x3', 'reduce') == 5
    assert sum(v2.op_count(op) for op in DARTS_PRIMITIVES) == 8
    with pytest.raises(ValueError, match=r"unknown op 'nor_conv_3x3'.*sep_conv_3x3"):
        v2.op_count('nor_conv_3x3')
    assert [published(f'FairDARTS_{c}').skip_count() for c in 'abcdefg'] == [0, 0, 1, 0, 0, 0, 1]
    g = published('FairDARTS_a')
    assert g.cell('normal')[2] == ('max_pool_3x3', 0, 4)
    assert {dst for _, _, dst in g.normal} == {2, 4, 5}  # node 3 has no input
    with pytest.raises(ValueError, match="'both'.*normal, reduce"):
        g.cell('both')


def test_parser_accepts_official_source_variants():
    v2 = published('DARTS_V2')
    src = "DARTS_V2 = " + V2_TEXT.replace("[2, 3, 4, 5]", "range(2, 6)")
    assert parse_darts_genotype(src) == v2
    squashed = re.sub(r"\s+", "", V2_TEXT).replace("'", '"')
    assert parse_darts_genotype(squashed) == v2
    spaced = V2_TEXT.replace("(", "( ").replace(",", " ,\n   ")
    assert parse_darts_genotype(spaced) == v2
    positional = "genotypes.Genotype(%s, [2,3,4,5], %s, list(range(2,6)))" % (
        str([(op, s) for op, s, _ in v2.normal]), str([(op, s) for op, s, _ in v2.reduce]))
    assert parse_darts_genotype(positional) == v2


def test_constructor_normalises_lists():
    g = DartsGenotype(normal=[['sep_conv_3x3', np.int64(0), 2]], normal_concat=[2],
                      reduce=[('skip_connect', 1, 5)], reduce_concat=range(5, 6))
    assert g.normal == (('sep_conv_3x3', 0, 2),) and g.reduce_concat == (5,)
    assert type(g.normal[0][1]) is int
    assert parse_darts_genotype(str(g)) == g
    assert "('sep_conv_3x3', 2, 0)" in str(g)


# ----------------------------------------------------------------- NB201

def test_nb201_round_trip_and_edges():
    g = parse_nb201_genotype(NB_TEXT)
    assert g.ops == ('nor_conv_3x3', 'nor_conv_3x3', 'avg_pool_3x3', 'skip_connect',
                     'nor_conv_3x3', 'skip_connect')
    assert str(g) == NB_TEXT
    assert parse_genotype(NB_TEXT) == g and parse_genotype(NB_TEXT, space='nb201') == g
    assert genotype_from_json(g.to_json()) == g == NB201Genotype.from_json(g.to_json())
    assert g.skip_count() == 2
    assert [g.op_count(op) for op in NB201_PRIMITIVES] == [0, 2, 0, 3, 1]
    assert NB201Genotype(('none', 'none', 'skip_connect', 'none', 'nor_conv_1x1', 'none')).op_count('none') == 4
    with pytest.raises(ValueError, match=r"unknown op 'sep_conv_3x3'.*nor_conv_1x1"):
        g.op_count('sep_conv_3x3')
    assert g.edges()[2] == ('avg_pool_3x3', 1, 2)
    assert [(s, d) for _, s, d in g.edges()] == list(NB201_EDGES)
    all_skip = NB201Genotype(('skip_connect',) * 6)
    assert str(all_skip) == ("|skip_connect~0|+|skip_connect~0|skip_connect~1|"
                             "+|skip_connect~0|skip_connect~1|skip_connect~2|")


# ----------------------------------------------------------------- derivation

def _darts_w(fill=0.01, n_ops=8):
    return np.full((14, n_ops), fill)


def _row(src, dst):
    return DARTS_EDGES.index((src, dst))


def test_derive_top2_ignores_none_and_breaks_ties_by_source():
    P = DARTS_PRIMITIVES
    w = _darts_w()
    # node 2: edge 0->2 is dominated by 'none' -> its non-none score is tiny; 1->2 sep_conv_5x5.
    w[_row(0, 2), P.index('none')] = 0.99
    w[_row(0, 2), P.index('max_pool_3x3')] = 0.02
    w[_row(1, 2), P.index('sep_conv_5x5')] = 0.5
    # node 3: three equal scores -> sources 0 and 1 win (lower source first).
    for s in range(3):
        w[_row(s, 3), P.index('dil_conv_3x3')] = 0.3
    # node 4: 'none' best on 3->4 must not make it win; 2->4 and 0->4 win by non-none score.
    w[_row(3, 4), P.index('none')] = 0.9
    w[_row(2, 4), P.index('skip_connect')] = 0.6
    w[_row(0, 4), P.index('avg_pool_3x3')] = 0.4
    # node 5: within-edge op tie -> first column among non-none ops.
    w[_row(4, 5), P.index('sep_conv_3x3')] = 0.7
    w[_row(4, 5), P.index('sep_conv_5x5')] = 0.7
    w[_row(1, 5), P.index('dil_conv_5x5')] = 0.2
    g = derive_darts(w, torch.tensor(w), rule="top2")
    expected = (('sep_conv_5x5', 1, 2), ('max_pool_3x3', 0, 2),
                ('dil_conv_3x3', 0, 3), ('dil_conv_3x3', 1, 3),
                ('skip_connect', 2, 4), ('avg_pool_3x3', 0, 4),
                ('sep_conv_3x3', 4, 5), ('dil_conv_5x5', 1, 5))
    assert g.normal == expected and g.reduce == expected
    assert g.normal_concat == (2, 3, 4, 5)
    assert all(op != 'none' for op, _, _ in g.normal)
    assert str(g).startswith("Genotype(normal=[('sep_conv_5x5', 1), ('max_pool_3x3', 0)")


def test_derive_accepts_softmax_of_torch_alphas_and_lists():
    torch.manual_seed(0)
    a = torch.randn(14, 8, requires_grad=True)
    w = torch.softmax(a, dim=-1)
    g = derive_darts(w, w.tolist())
    assert g.normal == g.reduce and len(g.normal) == 8
    assert {dst for _, _, dst in g.normal} == {2, 3, 4, 5}


def test_derive_threshold_drops_edges_and_sets_concat():
    P = FAIR_DARTS_PRIMITIVES
    w = np.full((14, 7), 0.5)
    w[_row(0, 2), P.index('sep_conv_3x3')] = 0.95
    w[_row(1, 2), P.index('sep_conv_5x5')] = 0.90
    w[_row(0, 4), P.index('max_pool_3x3')] = 0.85     # exactly at threshold -> kept
    w[_row(1, 4), P.index('skip_connect')] = 0.84      # top-2 but below 0.85 -> dropped
    w[_row(3, 5), P.index('dil_conv_3x3')] = 0.97
    w[_row(0, 5), P.index('sep_conv_3x3')] = 0.90
    w[_row(2, 5), P.index('dil_conv_5x5')] = 0.88      # above threshold but third on node 5
    g = derive_darts(w, w, primitives=P, rule="threshold")
    assert g.normal == (('sep_conv_3x3', 0, 2), ('sep_conv_5x5', 1, 2), ('max_pool_3x3', 0, 4),
                        ('dil_conv_3x3', 3, 5), ('sep_conv_3x3', 0, 5))
    assert g.normal_concat == (2, 4, 5)  # node 3 kept no input
    assert parse_genotype(str(g)) == g
    # lower threshold keeps the 0.84 edge; top2 rule ignores weights' magnitude entirely.
    assert ('skip_connect', 1, 4) in derive_darts(w, w, P, rule="threshold", threshold=0.8).normal
    assert len(derive_darts(w, w, P).normal) == 8


def test_derive_threshold_everything_dropped_gives_empty_cells():
    # Early in a Fair DARTS search every σ is near 0.5 < 0.85: the derived cells are empty,
    # and that state must be recordable (text round-trip), not an error.
    w = np.full((14, 7), 0.5)
    g = derive_darts(w, w, FAIR_DARTS_PRIMITIVES, rule="threshold")
    assert g.normal == () and g.normal_concat == () and g.reduce == ()
    assert parse_darts_genotype(str(g)) == g


@pytest.mark.parametrize("kwargs, match", [
    (dict(w_normal=np.zeros((14, 7))), r"w_normal has shape \(14, 7\); expected \(14, 8\)"),
    (dict(w_reduce=np.zeros((8, 14))), r"w_reduce has shape \(8, 14\); expected \(14, 8\)"),
    (dict(w_normal=[[0.1] * 8] * 13 + [[0.1]]), r"w_normal"),
    (dict(w_normal=np.full((14, 8), np.nan)), r"NaN"),
    (dict(rule="top3"), r"unknown rule 'top3'; valid: top2, threshold"),
    (dict(threshold=0.5), r"threshold applies only to rule='threshold'"),
    (dict(rule="threshold", threshold="high"), r"threshold 'high'"),
    (dict(primitives=DARTS_PRIMITIVES[:-1] + ('conv_9x9',)), r"unknown primitive 'conv_9x9'"),
])
def test_derive_darts_rejects(kwargs, match):
    args = dict(w_normal=_darts_w(), w_reduce=_darts_w())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        derive_darts(**args)


def test_derive_nb201():
    P = NB201_PRIMITIVES
    w = np.full((6, 5), 0.1)
    w[0, P.index('none')] = 0.6            # NB201 DARTS keeps 'none' if it wins
    w[1, P.index('nor_conv_3x3')] = 0.6
    w[2, P.index('skip_connect')] = 0.3
    w[2, P.index('avg_pool_3x3')] = 0.3    # tie -> first column
    w[3:, P.index('nor_conv_1x1')] = 0.7
    g = derive_nb201(torch.tensor(w))
    assert g.ops == ('none', 'nor_conv_3x3', 'skip_connect', 'nor_conv_1x1', 'nor_conv_1x1',
                     'nor_conv_1x1')
    # sigmoid-style weights without 'none': below threshold -> 'none'
    sig = np.full((6, 4), 0.5)
    sig[:, 2] = [0.9, 0.2, 0.8, 0.84, 0.86, 0.95]
    g2 = derive_nb201(sig, primitives=P[1:], threshold=0.85)
    assert g2.ops == ('nor_conv_3x3', 'none', 'none', 'none', 'nor_conv_3x3', 'nor_conv_3x3')
    with pytest.raises(ValueError, match=r"shape \(14, 5\); expected \(6, 5\)"):
        derive_nb201(np.zeros((14, 5)))
    with pytest.raises(ValueError, match="unknown primitive 'sep_conv_3x3'"):
        derive_nb201(np.zeros((6, 5)), primitives=P[:4] + ('sep_conv_3x3',))


# ----------------------------------------------------------------- malformed inputs

def _v2(**repl):
    text = V2_TEXT
    for old, new in repl.items():
        text = text.replace(old, new, 1)
    return text


MALFORMED_DARTS = [
    (_v2(sep_conv_3x3="sep_conv_9x9"), r"unknown op 'sep_conv_9x9' in normal cell; valid: max_pool_3x3"),
    (_v2(max_pool_3x3="conv_7x1_1x7"), r"unknown op 'conv_7x1_1x7' in reduce cell"),
    (_v2(sep_conv_3x3="none"), r"unknown op 'none'"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 7)"),
     r"edge source 7 for node 5 out of range 0..4"),
    (V2_TEXT.replace("('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", "('sep_conv_3x3', 2), ('sep_conv_3x3', 0)", 1),
     r"edge source 2 for node 2 out of range 0..1"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', -1)"), r"edge source -1 for node 5"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 1.5)"), r"1\.5 is not an integer"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', True)"), r"True is not an integer"),
    (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 9]"),
     r"concat index 9 in normal_concat out of range 2..5"),
    (V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(0, 6)"),
     r"concat index 0 in reduce_concat out of range 2..5"),
    (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 2]"), r"\[2, 2\] must not repeat"),
    (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=foo"), r"normal_concat foo is not a list"),
    (V2_TEXT.replace(", ('dil_conv_3x3', 2)", ""), r"expected 8 edges .* normal cell, got 7"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5, 2)"), r"mixes \(op, src\) and \(op, dst, src\)"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3',)"), r"edge \('dil_conv_3x3',\) in normal cell is not \(op, src\)"),
    (V2_TEXT.replace("('dil_conv_3x3', 2)", "(dil_conv_3x3, 2)"), r"unknown op dil_conv_3x3"),
    (V2_TEXT.replace("normal=[", "normal=[[", 1), r"cannot parse DARTS genotype text"),
    (V2_TEXT[:-1], r"cannot parse DARTS genotype text"),
    (V2_TEXT.replace("reduce_concat", "reduce_cat"), r"unknown Genotype field 'reduce_cat'; valid: normal"),
    (V2_TEXT.replace(", reduce_concat=[2, 3, 4, 5]", ""), r"lacks field\(s\) reduce_concat"),
    (V2_TEXT.replace("Genotype(", "Genotype(normal=[], "), r"field 'normal' given twice"),
    (V2_TEXT.replace("Genotype", "Phenotype"), r"expected 'Genotype\(normal=..."),
    ("__import__('os').system('true')", r"expected 'Genotype"),
    ("", r"expected 'Genotype"),
    ("\x00", r"cannot parse .*null bytes"),
    ("(" * 1000, r"cannot parse DARTS genotype text"),
    ("-" * 100_000 + "1", r"cannot parse DARTS genotype text"),
    ("Genotype(**fields)", r"unpacking is not supported"),
    (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 10000000000)"),
     r"range\(2, 10000000000\) out of range 2..5"),
    ("Genotype(normal=[('skip_connect', 6, 0)], normal_concat=[2], reduce=[('skip_connect', 2, 0)], "
     "reduce_concat=[2])", r"edge target node 6 in normal cell out of range 2..5"),
    ("Genotype(normal=[('skip_connect', 3, 3)], normal_concat=[2], reduce=[('skip_connect', 2, 0)], "
     "reduce_concat=[2])", r"edge source 3 for node 3 out of range 0..2"),
]


@pytest.mark.parametrize("text, match", MALFORMED_DARTS)
def test_malformed_darts_text(text, match):
    with pytest.raises(ValueError, match=match):
        parse_genotype(text)


MALFORMED_NB201 = [
    (NB_TEXT.replace("avg_pool_3x3", "max_pool_3x3"), r"unknown op 'max_pool_3x3' into node 2; valid: none"),
    (NB_TEXT.replace("skip_connect~2", "skip_connect~7"), r"edge source 7 for node 3 out of range 0..2"),
    (NB_TEXT.replace("skip_connect~2", "skip_connect~x"), r"edge source 'x' for node 3"),
    (NB_TEXT.replace("nor_conv_3x3~1", "nor_conv_3x3~0"), r"edge source 0 for node 3 out of order"),
    (NB_TEXT.replace("|skip_connect~2", ""), r"expected 3 edges into node 3, got 2"),
    (NB_TEXT.rsplit("+", 1)[0], r"expected 3 node groups"),
    (NB_TEXT + "+|none~0|", r"expected 3 node groups"),
    (NB_TEXT.replace("avg_pool_3x3~1", "avg_pool_3x3"), r"edge 'avg_pool_3x3' into node 2"),
    (NB_TEXT[:-1], r"node 3 group .* must look like"),
]


@pytest.mark.parametrize("text, match", MALFORMED_NB201)
def test_malformed_nb201_text(text, match):
    with pytest.raises(ValueError, match=match):
        parse_genotype(text)


@pytest.mark.parametrize("make, match", [
    (lambda: NB201Genotype(('none',) * 5), r"expected 6 edges \(ops\), got 5"),
    (lambda: NB201Genotype(('none',) * 5 + ('conv',)), r"unknown op 'conv' in NB201 cell"),
    (lambda: DartsGenotype((('skip_connect', 0, 2),), (2,), (('skip', 0, 2),), (2,)),
     r"unknown op 'skip' in reduce cell"),
    (lambda: DartsGenotype((('skip_connect', 0),), (2,), (('skip_connect', 0, 2),), (2,)),
     r"not an \(op, src, dst\) triple"),
    (lambda: genotype_from_json({"space": "nasnet"}), r"unknown genotype space 'nasnet'; valid: darts, nb201"),
    (lambda: genotype_from_json({"normal": []}), r"unknown genotype space None"),
    (lambda: genotype_from_json({"space": "darts", "normal": []}), r"lacks normal_concat, reduce"),
    (lambda: genotype_from_json({"space": "nb201"}), r"lacks 'ops'"),
    (lambda: DartsGenotype.from_json({"space": "nb201"}), r"space 'nb201' is not 'darts'"),
    (lambda: parse_genotype(NB_TEXT, space="nb301"), r"unknown space 'nb301'; valid: darts, nb201"),
    (lambda: published(['x']), r"unknown published genotype"),
])
def test_malformed_objects(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_string_text_is_type_error():
    with pytest.raises(TypeError):
        parse_genotype(None)


# ----------------------------------------------------------------- property tests

OPS = st.sampled_from(FAIR_DARTS_PRIMITIVES)


@st.composite
def darts_cells(draw, canonical):
    if canonical:
        return tuple((draw(OPS), draw(st.integers(0, dst - 1)), dst) for dst in range(2, 6) for _ in range(2))
    n = draw(st.integers(1, 14))
    edges = []
    for _ in range(n):
        dst = draw(st.integers(2, 5))
        edges.append((draw(OPS), draw(st.integers(0, dst - 1)), dst))
    return tuple(edges)


@st.composite
def darts_genotypes(draw):
    concat = st.lists(st.integers(2, 5), min_size=1, max_size=4, unique=True).map(tuple)
    return DartsGenotype(draw(darts_cells(draw(st.booleans()))), draw(concat),
                         draw(darts_cells(draw(st.booleans()))), draw(concat))


nb201_genotypes = st.tuples(*[st.sampled_from(NB201_PRIMITIVES)] * 6).map(NB201Genotype)
bad_words = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda w: w not in DARTS_PRIMITIVES and w not in NB201_PRIMITIVES)


def _raises_value_error_only(text):
    try:
        parse_genotype(text)
    except ValueError:
        return True
    return False


@settings(max_examples=200, deadline=None)
@given(g=st.one_of(darts_genotypes(), nb201_genotypes))
def test_property_round_trip(g):
    assert parse_genotype(str(g)) == g
    assert parse_genotype(str(g), space=g.space) == g
    assert genotype_from_json(json.loads(json.dumps(g.to_json()))) == g


@settings(max_examples=200, deadline=None)
@given(g=st.one_of(darts_genotypes(), nb201_genotypes), word=bad_words, data=st.data())
def test_property_unknown_op_rejected(g, word, data):
    text = str(g)
    ops = re.findall(r"'([a-z0-9_]+)'" if g.space == "darts" else r"([a-z0-9_]+)~", text)
    i = data.draw(st.integers(0, len(ops) - 1))
    spans = list(re.finditer(re.escape(ops[i]), text))
    m = data.draw(st.sampled_from(spans))
    bad = text[:m.start()] + word + text[m.end():]
    with pytest.raises(ValueError, match=re.escape(repr(word))):
        parse_genotype(bad)


@settings(max_examples=200, deadline=None)
@given(g=st.one_of(darts_genotypes(), nb201_genotypes), src=st.integers(6, 10**6) | st.integers(-50, -1),
       data=st.data())
def test_property_bad_source_rejected(g, src, data):
    text = str(g)
    # the source is the last number of each DARTS tuple, the number after '~' in NB201
    pattern = r"(\d+)\)" if g.space == "darts" else r"~(\d+)"
    spans = list(re.finditer(pattern, text))
    m = data.draw(st.sampled_from(spans))
    bad = text[:m.start(1)] + str(src) + text[m.end(1):]
    with pytest.raises(ValueError, match=f"edge source {src} for node"):
        parse_genotype(bad)


@settings(max_examples=300, deadline=None)
@given(g=st.one_of(darts_genotypes(), nb201_genotypes), data=st.data())
def test_property_dropped_bracket_rejected(g, data):
    text = str(g)
    brackets = [i for i, c in enumerate(text) if c in "()[]|"]
    i = data.draw(st.sampled_from(brackets))
    assert _raises_value_error_only(text[:i] + text[i + 1:])


@settings(max_examples=300, deadline=None)
@given(g=st.one_of(darts_genotypes(), nb201_genotypes), data=st.data())
def test_property_random_edits_never_crash(g, data):
    """Arbitrary splices either parse to a valid genotype or raise ValueError - nothing else."""
    text = str(g)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 8)))
    junk = data.draw(st.text(max_size=6))
    try:
        out = parse_genotype(text[:i] + junk + text[j:])
    except ValueError:
        return
    assert parse_genotype(str(out)) == out


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_property_garbage_never_crashes(text):
    try:
        parse_genotype(text)
    except ValueError:
        pass
