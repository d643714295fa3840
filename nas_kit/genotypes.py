"""Cell genotypes for the DARTS CNN space and NAS-Bench-201: data, text I/O, derivation.

DARTS-space genotype
    Each cell is a tuple of edges ``(op, src, dst)``: nodes 0 and 1 are the cell inputs,
    nodes 2..5 the intermediate nodes, ``0 <= src < dst``. ``*_concat`` lists the
    intermediate nodes whose outputs are channel-concatenated.
    Text form is the ``Genotype(...)`` namedtuple repr of the official repos:
    2-tuples ``(op, src)`` when the cell is the canonical DARTS shape (2 inputs per node,
    listed node by node, 8 edges), otherwise Fair DARTS' 3-tuples ``(op, dst, src)``.

NAS-Bench-201 genotype
    6 op names in ``NB201_EDGES`` order; text ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

Every malformed input raises ``ValueError`` naming the offending token and the valid
choices; text is parsed with :mod:`ast` and never evaluated.
"""
from __future__ import annotations

import ast
import numbers
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

DARTS_PRIMITIVES = ('none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect',
                    'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5')
FAIR_DARTS_PRIMITIVES = DARTS_PRIMITIVES[1:]
NB201_PRIMITIVES = ('none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3')

# A genotype edge carrying 'none' would be a dead edge; no published DARTS-family cell has
# one and DARTS derivation excludes it, so the DARTS-space genotype accepts the 7 real ops.
DARTS_GENOTYPE_OPS = FAIR_DARTS_PRIMITIVES

# Alpha-row order of the DARTS supernet: node by node, sources ascending.
DARTS_EDGES = tuple((src, dst) for dst in range(2, 6) for src in range(dst))
NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))

_NODES = range(2, 6)
_CELLS = ('normal', 'reduce')
_SPACES = ('darts', 'nb201')


def _valid(choices: Sequence[Any]) -> str:
    return ', '.join(str(c) for c in choices)


def _as_int(x: Any, what: str) -> int:
    # bool is an Integral subclass, but True as a node index is certainly a mistake.
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise ValueError(f"{what} {x!r} is not an integer")
    return int(x)


def _check_edge(op: Any, src: Any, dst: Any, cell: str) -> tuple[str, int, int]:
    if not isinstance(op, str) or op not in DARTS_GENOTYPE_OPS:
        raise ValueError(f"unknown op {op!r} in {cell} cell; valid: {_valid(DARTS_GENOTYPE_OPS)}")
    dst = _as_int(dst, f"edge target node in {cell} cell:")
    src = _as_int(src, f"edge source in {cell} cell:")
    if dst not in _NODES:
        raise ValueError(f"edge target node {dst} in {cell} cell out of range 2..5")
    if not 0 <= src < dst:
        raise ValueError(f"edge source {src} for node {dst} out of range 0..{dst - 1}")
    return (op, src, dst)


def _check_concat(concat: Any, cell: str) -> tuple[int, ...]:
    if isinstance(concat, (str, bytes)) or not isinstance(concat, (Sequence, range)):
        raise ValueError(f"{cell}_concat must be a list of node indices in 2..5, got {concat!r}")
    out = tuple(_as_int(c, f"concat index in {cell}_concat:") for c in concat)
    for c in out:
        if c not in _NODES:
            raise ValueError(f"concat index {c} in {cell}_concat out of range 2..5")
    if len(set(out)) != len(out):
        raise ValueError(f"{cell}_concat {list(out)} must not repeat a node (nodes 2..5)")
    return out


def _is_canonical(edges: tuple[tuple[str, int, int], ...]) -> bool:
    """True for the DARTS shape: 8 edges, edges 2k and 2k+1 enter node k+2."""
    return len(edges) == 8 and all(e[2] == 2 + i // 2 for i, e in enumerate(edges))


@dataclass(frozen=True)
class DartsGenotype:
    """DARTS-space genotype. ``normal``/``reduce``: tuples of ``(op, src, dst)`` edges
    (``dst`` in 2..5, ``0 <= src < dst``); ``*_concat``: repeat-free tuples of
    intermediate nodes. A cell may be empty: Fair DARTS' threshold rule keeps no edge while
    every σ(α) is still below the threshold (early in a search); such a genotype is
    recorded as it is, and only building a network from it fails. Lists are accepted and stored as tuples.

    Edges from a node without inputs are legal (Fair DARTS' DCOCell skips them; e.g.
    FairDARTS_c has ``skip_connect`` from the absent node 3).
    """
    normal: tuple[tuple[str, int, int], ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[tuple[str, int, int], ...]
    reduce_concat: tuple[int, ...]
    space: ClassVar[str] = "darts"

    def __post_init__(self) -> None:
        for cell in _CELLS:
            edges = getattr(self, cell)
            if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence):
                raise ValueError(f"{cell} must be a list of (op, src, dst) edges, got {edges!r}")
            checked = []
            for e in edges:
                if isinstance(e, (str, bytes)) or not isinstance(e, Sequence) or len(e) != 3:
                    raise ValueError(f"edge {e!r} in {cell} cell is not an (op, src, dst) triple")
                checked.append(_check_edge(e[0], e[1], e[2], cell))
            # frozen dataclass: normalise through object.__setattr__ so instances stay hashable.
            object.__setattr__(self, cell, tuple(checked))
            object.__setattr__(self, f"{cell}_concat",
                               _check_concat(getattr(self, f"{cell}_concat"), cell))

    def cell(self, which: str) -> tuple[tuple[str, int, int], ...]:
        """Edges of the ``'normal'`` or ``'reduce'`` cell."""
        if which not in _CELLS:
            raise ValueError(f"unknown cell {which!r}; valid: {_valid(_CELLS)}")
        return getattr(self, which)

    def skip_count(self, cell: str = "normal") -> int:
        """Number of ``skip_connect`` edges in ``cell`` (the DARTS-collapse symptom)."""
        return self.op_count('skip_connect', cell)

    def op_count(self, op: str, cell: str = "normal") -> int:
        """Number of ``op`` edges in ``cell``; ``op`` must be one of ``DARTS_PRIMITIVES``."""
        if op not in DARTS_PRIMITIVES:
            raise ValueError(f"unknown op {op!r}; valid: {_valid(DARTS_PRIMITIVES)}")
        return sum(o == op for o, _, _ in self.cell(cell))

    def __str__(self) -> str:
        parts = []
        # One tuple form per genotype, so the text loads in the repo whose format it follows.
        pairs = all(_is_canonical(getattr(self, cell)) for cell in _CELLS)
        for cell in _CELLS:
            edges = getattr(self, cell)
            if pairs:
                items = [f"({op!r}, {src})" for op, src, _ in edges]
            else:
                items = [f"({op!r}, {dst}, {src})" for op, src, dst in edges]
            parts.append(f"{cell}=[{', '.join(items)}]")
            parts.append(f"{cell}_concat={list(getattr(self, cell + '_concat'))}")
        return f"Genotype({', '.join(parts)})"

    def to_json(self) -> dict:
        d: dict[str, Any] = {"space": self.space}
        for cell in _CELLS:
            d[cell] = [list(e) for e in getattr(self, cell)]
            d[f"{cell}_concat"] = list(getattr(self, f"{cell}_concat"))
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DartsGenotype":
        if not isinstance(d, dict):
            raise ValueError(f"expected a dict for a DARTS genotype, got {type(d).__name__}")
        keys = ('normal', 'normal_concat', 'reduce', 'reduce_concat')
        if d.get("space", "darts") != "darts":
            raise ValueError(f"space {d['space']!r} is not 'darts'")
        missing = [k for k in keys if k not in d]
        if missing:
            raise ValueError(f"DARTS genotype JSON lacks {', '.join(missing)}; needs {_valid(keys)}")
        return cls(**{k: d[k] for k in keys})


@dataclass(frozen=True)
class NB201Genotype:
    """NAS-Bench-201 cell: ``ops`` = 6 names from ``NB201_PRIMITIVES`` in ``NB201_EDGES`` order."""
    ops: tuple[str, ...]
    space: ClassVar[str] = "nb201"

    def __post_init__(self) -> None:
        ops = self.ops
        if isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence):
            raise ValueError(f"ops must be a list of 6 op names, got {ops!r}")
        if len(ops) != len(NB201_EDGES):
            raise ValueError(f"expected 6 edges (ops), got {len(ops)}")
        for op in ops:
            if not isinstance(op, str) or op not in NB201_PRIMITIVES:
                raise ValueError(f"unknown op {op!r} in NB201 cell; valid: {_valid(NB201_PRIMITIVES)}")
        object.__setattr__(self, "ops", tuple(ops))

    def edges(self) -> list[tuple[str, int, int]]:
        """``[(op, src, dst), ...]`` in ``NB201_EDGES`` order."""
        return [(op, s, d) for op, (s, d) in zip(self.ops, NB201_EDGES)]

    def skip_count(self) -> int:
        """Number of ``skip_connect`` edges (of 6)."""
        return self.op_count('skip_connect')

    def op_count(self, op: str) -> int:
        """Number of edges (of 6) holding ``op``, one of ``NB201_PRIMITIVES``: e.g. ``'none'``,
        edges that connect nothing, which can take a skip's place when skips are suppressed."""
        if op not in NB201_PRIMITIVES:
            raise ValueError(f"unknown op {op!r} in NB201 cell; valid: {_valid(NB201_PRIMITIVES)}")
        return sum(o == op for o in self.ops)

    def __str__(self) -> str:
        groups: dict[int, list[str]] = {1: [], 2: [], 3: []}
        for op, src, dst in self.edges():
            groups[dst].append(f"{op}~{src}")
        return '+'.join('|' + '|'.join(groups[n]) + '|' for n in (1, 2, 3))

    def to_json(self) -> dict:
        return {"space": self.space, "ops": list(self.ops)}

    @classmethod
    def from_json(cls, d: dict) -> "NB201Genotype":
        if not isinstance(d, dict):
            raise ValueError(f"expected a dict for an NB201 genotype, got {type(d).__name__}")
        if d.get("space", "nb201") != "nb201":
            raise ValueError(f"space {d['space']!r} is not 'nb201'")
        if "ops" not in d:
            raise ValueError("NB201 genotype JSON lacks 'ops'")
        return cls(d["ops"])


# ---------------------------------------------------------------- text parsing

def _src(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + '...'


def _ast_int(node: ast.AST, what: str) -> int:
    # Negative literals arrive as UnaryOp(USub, Constant); let them through so the
    # range check, not a syntax complaint, reports them.
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)):
        return -_as_int(node.operand.value, what)
    if isinstance(node, ast.Constant):
        return _as_int(node.value, what)
    raise ValueError(f"{what} {_src(node)} is not an integer")


def _ast_concat(node: ast.AST, cell: str) -> list[int]:
    what = f"concat index in {cell}_concat:"
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_ast_int(e, what) for e in node.elts]
    # range(2, 6), as the official genotypes.py files write it (optionally list(range(...)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id == 'list' and len(node.args) == 1:
            return _ast_concat(node.args[0], cell)
        if node.func.id == 'range' and 1 <= len(node.args) <= 2:
            bounds = [_ast_int(a, f"range bound in {cell}_concat:") for a in node.args]
            lo, hi = (0, bounds[0]) if len(bounds) == 1 else bounds
            if hi - lo > 16:  # refuse to materialise absurd ranges
                raise ValueError(f"{cell}_concat range({lo}, {hi}) out of range 2..5")
            return list(range(lo, hi))
    raise ValueError(f"{cell}_concat {_src(node)} is not a list of ints or range(a, b)")


def _ast_edges(node: ast.AST, cell: str) -> list[tuple[str, int, int]]:
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise ValueError(f"{cell} {_src(node)} is not a list of edge tuples")
    raw = []
    for e in node.elts:
        if not isinstance(e, (ast.Tuple, ast.List)) or len(e.elts) not in (2, 3):
            raise ValueError(f"edge {_src(e)} in {cell} cell is not (op, src) or (op, dst, src)")
        op_node = e.elts[0]
        if not (isinstance(op_node, ast.Constant) and isinstance(op_node.value, str)):
            raise ValueError(f"unknown op {_src(op_node)} in {cell} cell; "
                             f"valid: {_valid(DARTS_GENOTYPE_OPS)}")
        raw.append((op_node.value, [_ast_int(x, f"node index in {cell} cell:") for x in e.elts[1:]]))
    arity = {len(idx) for _, idx in raw}
    if len(arity) > 1:
        raise ValueError(f"{cell} cell mixes (op, src) and (op, dst, src) tuples")
    if arity == {1}:
        # DARTS form: position encodes the target node, so the count is fixed.
        if len(raw) != 8:
            raise ValueError(f"expected 8 edges in the (op, src) form of the {cell} cell, got {len(raw)}")
        return [_check_edge(op, idx[0], 2 + i // 2, cell) for i, (op, idx) in enumerate(raw)]
    return [_check_edge(op, idx[1], idx[0], cell) for op, idx in raw]


def parse_darts_genotype(text: str) -> DartsGenotype:
    """Parse ``Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)``.

    Accepts keyword or positional fields, ``NAME = Genotype(...)``, 2- or 3-tuple edges,
    and list/tuple/``range(a, b)`` concats. Inverse of ``str(DartsGenotype)``.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected genotype text (str), got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode='exec')
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"cannot parse DARTS genotype text {text[:80]!r}: {exc}") from None
    body = tree.body
    node = None
    if len(body) == 1 and isinstance(body[0], ast.Expr):
        node = body[0].value
    elif len(body) == 1 and isinstance(body[0], ast.Assign):
        node = body[0].value
    fields = ('normal', 'normal_concat', 'reduce', 'reduce_concat')
    if not (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
            and (getattr(node.func, 'id', None) or node.func.attr) == 'Genotype'):
        raise ValueError(f"expected 'Genotype({', '.join(f + '=...' for f in fields)})', "
                         f"got {text[:80]!r}")
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise ValueError("Genotype(*...)/(**...) unpacking is not supported; write the fields out")
    if len(node.args) > 4:
        raise ValueError(f"Genotype takes at most 4 positional fields: {_valid(fields)}")
    given: dict[str, ast.AST] = dict(zip(fields, node.args))
    for kw in node.keywords:
        if kw.arg not in fields:
            raise ValueError(f"unknown Genotype field {kw.arg!r}; valid: {_valid(fields)}")
        if kw.arg in given:
            raise ValueError(f"Genotype field {kw.arg!r} given twice")
        given[kw.arg] = kw.value
    missing = [f for f in fields if f not in given]
    if missing:
        raise ValueError(f"Genotype lacks field(s) {_valid(missing)}; needs {_valid(fields)}")
    return DartsGenotype(
        normal=_ast_edges(given['normal'], 'normal'),
        normal_concat=_ast_concat(given['normal_concat'], 'normal'),
        reduce=_ast_edges(given['reduce'], 'reduce'),
        reduce_concat=_ast_concat(given['reduce_concat'], 'reduce'))


def parse_nb201_genotype(text: str) -> NB201Genotype:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (sources must appear in order)."""
    if not isinstance(text, str):
        raise TypeError(f"expected an NB201 arch string (str), got {type(text).__name__}")
    groups = text.strip().split('+')
    if len(groups) != 3:
        raise ValueError(f"expected 3 node groups separated by '+', got {len(groups)} in {text[:80]!r}")
    ops = []
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or group[0] != '|' or group[-1] != '|':
            raise ValueError(f"node {node} group {group!r} must look like '|op~0|...|'")
        entries = group[1:-1].split('|')
        if len(entries) != node:
            raise ValueError(f"expected {node} edges into node {node}, got {len(entries)} in {group!r}")
        for pos, entry in enumerate(entries):
            op, sep, src = entry.partition('~')
            if not sep or '~' in src:
                raise ValueError(f"edge {entry!r} into node {node} is not 'op~src'")
            if op not in NB201_PRIMITIVES:
                raise ValueError(f"unknown op {op!r} into node {node}; valid: {_valid(NB201_PRIMITIVES)}")
            if not re.fullmatch(r"-?[0-9]+", src):
                raise ValueError(f"edge source {src!r} for node {node} is not an integer")
            if not 0 <= int(src) < node:
                raise ValueError(f"edge source {int(src)} for node {node} out of range 0..{node - 1}")
            if int(src) != pos:
                raise ValueError(f"edge source {int(src)} for node {node} out of order; expected {pos}")
            ops.append(op)
    return NB201Genotype(tuple(ops))


def parse_genotype(text: str, space: str | None = None) -> DartsGenotype | NB201Genotype:
    """Parse either text form; with ``space=None`` a leading ``|`` means NB201."""
    if space is None:
        if not isinstance(text, str):
            raise TypeError(f"expected genotype text (str), got {type(text).__name__}")
        space = 'nb201' if text.lstrip().startswith('|') else 'darts'
    if space == 'darts':
        return parse_darts_genotype(text)
    if space == 'nb201':
        return parse_nb201_genotype(text)
    raise ValueError(f"unknown space {space!r}; valid: {_valid(_SPACES)}")


def genotype_from_json(d: dict) -> DartsGenotype | NB201Genotype:
    """Inverse of ``to_json`` for either space, dispatched on ``d['space']``."""
    space = d.get('space') if isinstance(d, dict) else None
    if space == 'darts':
        return DartsGenotype.from_json(d)
    if space == 'nb201':
        return NB201Genotype.from_json(d)
    raise ValueError(f"unknown genotype space {space!r}; valid: {_valid(_SPACES)}")


# ---------------------------------------------------------------- derivation

def _weights(w: Any, rows: int, primitives: Sequence[str], name: str) -> np.ndarray:
    if hasattr(w, 'detach'):  # torch tensor, without importing torch here
        w = w.detach().cpu().double().numpy()
    try:
        arr = np.asarray(w, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a numeric ({rows}, {len(primitives)}) array: {exc}") from None
    if arr.shape != (rows, len(primitives)):
        raise ValueError(f"{name} has shape {arr.shape}; expected ({rows}, {len(primitives)}) "
                         f"= (edges, len(primitives))")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _check_threshold(threshold: Any) -> float | None:
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or threshold != threshold:
        raise ValueError(f"threshold {threshold!r} is not a real number")
    return float(threshold)


def _check_primitives(primitives: Sequence[str], valid: Sequence[str]) -> tuple[str, ...]:
    prims = tuple(primitives)
    for p in prims:
        if p not in valid:
            raise ValueError(f"unknown primitive {p!r}; valid: {_valid(valid)}")
    if len(set(prims)) != len(prims):
        raise ValueError(f"primitives {prims} contain duplicates")
    return prims


def _derive_cell(w: np.ndarray, prims: tuple[str, ...], threshold: float | None):
    real = [i for i, p in enumerate(prims) if p != 'none']
    edges, present = [], []
    row = 0
    for dst in _NODES:
        block = w[row:row + dst, real]
        row += dst
        best = block.max(axis=1)
        # stable sort on -score: equal scores keep the lower source first (as DARTS' sorted()).
        order = sorted(range(dst), key=lambda s: -best[s])[:2]
        kept = [(prims[real[int(block[s].argmax())]], s, dst) for s in order
                if threshold is None or best[s] >= threshold]
        edges += kept
        if kept:
            present.append(dst)
    return edges, present


def derive_darts(w_normal, w_reduce, primitives: Sequence[str] = DARTS_PRIMITIVES,
                 rule: str = "top2", threshold: float | None = None) -> DartsGenotype:
    """Discretise DARTS-space op weights into a genotype.

    ``w_normal``, ``w_reduce``: (14, len(primitives)) torch tensors, numpy arrays or nested
    lists of op weights as the method uses them (softmax for DARTS/PC-DARTS - multiply
    PC-DARTS' edge-normalisation weights in first - sigmoid for Fair DARTS), rows in
    ``DARTS_EDGES`` order, columns in ``primitives`` order.

    ``rule='top2'`` (DARTS): per node keep the 2 edges with the highest best non-'none'
    weight (ties: lower source first), each with its argmax non-'none' op; concat 2..5.
    Edges are listed per node by decreasing score, as DARTS prints them.
    ``rule='threshold'`` (Fair DARTS ``threshold_sparse``): same 2 edges, each kept only if
    its best weight >= ``threshold`` (default 0.85). Concat lists only the nodes that keep
    an input - what Fair DARTS' DCOCell actually concatenates - although Fair DARTS'
    published genotypes write ``range(2, 6)``.
    """
    rules = ("top2", "threshold")
    if rule not in rules:
        raise ValueError(f"unknown rule {rule!r}; valid: {_valid(rules)}")
    if rule == "top2" and threshold is not None:
        raise ValueError("threshold applies only to rule='threshold'")
    threshold = _check_threshold(0.85 if rule == "threshold" and threshold is None else threshold)
    prims = _check_primitives(primitives, DARTS_PRIMITIVES)
    if all(p == 'none' for p in prims):
        raise ValueError("primitives need at least one op other than 'none'")
    cells = {}
    for cell, w in (('normal', w_normal), ('reduce', w_reduce)):
        arr = _weights(w, len(DARTS_EDGES), prims, f"w_{cell}")
        edges, present = _derive_cell(arr, prims, threshold)
        cells[cell] = edges
        cells[f"{cell}_concat"] = tuple(_NODES) if rule == "top2" else tuple(present)
    return DartsGenotype(**cells)


def derive_nb201(w, primitives: Sequence[str] = NB201_PRIMITIVES,
                 threshold: float | None = None) -> NB201Genotype:
    """Discretise NB201 op weights ``w`` (6, len(primitives)), rows in ``NB201_EDGES`` order.

    Each edge takes its argmax over all ops, 'none' included (NB201's DARTS rule; ties:
    first column). With ``threshold`` - meant for sigmoid methods whose primitives lack
    'none' - an edge whose best weight is below it becomes 'none'.
    """
    threshold = _check_threshold(threshold)
    prims = _check_primitives(primitives, NB201_PRIMITIVES)
    arr = _weights(w, len(NB201_EDGES), prims, "w")
    ops = []
    for row in arr:
        k = int(row.argmax())
        ops.append('none' if threshold is not None and row[k] < threshold else prims[k])
    return NB201Genotype(tuple(ops))


# ---------------------------------------------------------------- published cells

def _darts_pairs(pairs) -> tuple:
    return tuple((op, src, 2 + i // 2) for i, (op, src) in enumerate(pairs))


def _fair(triples) -> tuple:
    return tuple((op, src, dst) for op, dst, src in triples)


def _g(normal, reduce, concat=(2, 3, 4, 5)) -> DartsGenotype:
    return DartsGenotype(normal, concat, reduce, concat)


PUBLISHED: dict[str, DartsGenotype] = {
    # quark0/darts cnn/genotypes.py (f276dd3); V1 = first-order, V2 = second-order search.
    'DARTS_V1': _g(
        _darts_pairs([('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1),
                      ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)]),
        _darts_pairs([('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0),
                      ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)])),
    'DARTS_V2': _g(
        _darts_pairs([('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
                      ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)]),
        _darts_pairs([('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
                      ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)])),
    # yuhuixu1993/PC-DARTS genotypes.py (b74702f); PCDARTS = PC_DARTS_cifar.
    'PC_DARTS_cifar': _g(
        _darts_pairs([('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1),
                      ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)]),
        _darts_pairs([('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2),
                      ('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)])),
    'PC_DARTS_image': _g(
        _darts_pairs([('skip_connect', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('skip_connect', 1),
                      ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('dil_conv_5x5', 4)]),
        _darts_pairs([('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_5x5', 2), ('max_pool_3x3', 1),
                      ('sep_conv_3x3', 2), ('sep_conv_3x3', 1), ('sep_conv_5x5', 0), ('sep_conv_3x3', 3)])),
    # xiaomi-automl/FairDARTS fairdarts/genotypes.py (270cfc9), entries (op, dst, src);
    # concat is range(2, 6) there even where a node has no input.
    'FairDARTS_a': _g(
        _fair([('sep_conv_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('max_pool_3x3', 4, 0),
               ('sep_conv_3x3', 5, 0)]),
        _fair([('max_pool_3x3', 2, 0), ('avg_pool_3x3', 2, 1), ('avg_pool_3x3', 3, 0),
               ('dil_conv_5x5', 3, 1), ('avg_pool_3x3', 4, 0), ('sep_conv_5x5', 4, 1),
               ('skip_connect', 5, 0), ('skip_connect', 5, 1)])),
    'FairDARTS_b': _g(
        _fair([('sep_conv_3x3', 2, 0), ('sep_conv_3x3', 2, 1), ('sep_conv_3x3', 3, 1),
               ('dil_conv_3x3', 4, 0), ('sep_conv_5x5', 4, 1), ('dil_conv_5x5', 5, 1)]),
        _fair([('skip_connect', 2, 0), ('dil_conv_3x3', 2, 1), ('skip_connect', 3, 0),
               ('dil_conv_3x3', 3, 1), ('max_pool_3x3', 4, 0), ('sep_conv_3x3', 4, 1),
               ('skip_connect', 5, 2), ('max_pool_3x3', 5, 0)])),
    'FairDARTS_c': _g(
        _fair([('max_pool_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('dil_conv_3x3', 4, 0),
               ('dil_conv_5x5', 4, 2), ('skip_connect', 5, 3), ('sep_conv_3x3', 5, 0)]),
        _fair([('dil_conv_3x3', 2, 1), ('dil_conv_5x5', 2, 0), ('dil_conv_3x3', 3, 0),
               ('sep_conv_3x3', 3, 1), ('sep_conv_5x5', 4, 0), ('sep_conv_5x5', 4, 3),
               ('sep_conv_5x5', 5, 0), ('skip_connect', 5, 1)])),
    'FairDARTS_d': _g(
        _fair([('sep_conv_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('dil_conv_3x3', 3, 1),
               ('max_pool_3x3', 3, 0), ('dil_conv_3x3', 4, 0), ('dil_conv_3x3', 4, 1),
               ('sep_conv_3x3', 5, 0), ('dil_conv_5x5', 5, 1)]),
        _fair([('max_pool_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('avg_pool_3x3', 3, 0),
               ('dil_conv_5x5', 3, 2), ('dil_conv_3x3', 4, 3), ('avg_pool_3x3', 4, 0),
               ('avg_pool_3x3', 5, 0), ('skip_connect', 5, 3)])),
    'FairDARTS_e': _g(
        _fair([('sep_conv_3x3', 2, 0), ('sep_conv_3x3', 2, 1), ('dil_conv_3x3', 4, 1),
               ('dil_conv_3x3', 4, 2), ('dil_conv_3x3', 5, 0), ('dil_conv_5x5', 5, 1)]),
        _fair([('max_pool_3x3', 2, 1), ('max_pool_3x3', 2, 0), ('max_pool_3x3', 3, 1),
               ('max_pool_3x3', 3, 0), ('sep_conv_5x5', 4, 1), ('max_pool_3x3', 4, 0),
               ('avg_pool_3x3', 5, 0), ('dil_conv_5x5', 5, 1)])),
    'FairDARTS_f': _g(
        _fair([('max_pool_3x3', 2, 0), ('sep_conv_3x3', 2, 1), ('dil_conv_3x3', 3, 1),
               ('sep_conv_5x5', 4, 1), ('sep_conv_3x3', 5, 0), ('sep_conv_3x3', 5, 1)]),
        _fair([('max_pool_3x3', 2, 0), ('max_pool_3x3', 2, 1), ('max_pool_3x3', 3, 0),
               ('dil_conv_3x3', 3, 1), ('dil_conv_3x3', 4, 2), ('max_pool_3x3', 4, 0),
               ('max_pool_3x3', 5, 0), ('sep_conv_3x3', 5, 1)])),
    'FairDARTS_g': _g(
        _fair([('sep_conv_3x3', 2, 0), ('sep_conv_3x3', 2, 1), ('skip_connect', 4, 3),
               ('sep_conv_5x5', 4, 1), ('dil_conv_3x3', 5, 0), ('sep_conv_3x3', 5, 1)]),
        _fair([('avg_pool_3x3', 2, 1), ('skip_connect', 2, 0), ('skip_connect', 3, 2),
               ('max_pool_3x3', 3, 1), ('sep_conv_5x5', 4, 3), ('max_pool_3x3', 4, 0),
               ('dil_conv_3x3', 5, 1), ('dil_conv_3x3', 5, 4)])),
}


def published(name: str) -> DartsGenotype:
    """A published genotype by name (see ``PUBLISHED``)."""
    try:
        return PUBLISHED[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown published genotype {name!r}; valid: {_valid(PUBLISHED)}") from None
