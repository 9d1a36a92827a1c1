"""Random well-formed RASP programs, for property tests and benchmarks.

- `programs(...)`: a hypothesis strategy drawing RASP programs over every construct.
- `inputs_for(program, vocab, max_seq_len)`: a strategy drawing input sequences for them.
- `program_cases(...)`: both at once, with the vocabulary and length drawn too.
- `random_program(rng, n_nodes, vocab, max_seq_len)`: a seeded plain-Python generator of a
  program of about `n_nodes` nodes (for compile-time benchmarks).
- `describe(program)`: the program as text, one node a line, with its functions.

Every drawn program evaluates without raising on every input over `vocab` of length 1 to
`max_seq_len`, and is meant to be compilable exactly:

- each Map / SequenceMap function is deterministic and total (a lookup table with a fallback,
  arithmetic mod k, or a comparison with a constant) and gives at most a few hashable values;
  every value set stays at most `MAX_VALUES` large;
- Select keys and queries are categorical s-ops that are never None, and the ordering
  comparisons (LT, LEQ, GT, GEQ) are only used on values that Python can order;
- a categorical Aggregate selects at most one position (`Select(indices, q, k == g(q))`,
  optionally and-ed with any selector) or averages equal ints/bools
  (`Select(x, x, EQ)` over a function of `x`); its default is None;
- a numerical Aggregate averages a numerical s-op holding ints/bools 0 and 1, default 0;
- non-linear SequenceMaps and selector operands are categorical, LinearSequenceMaps numerical,
  numerical s-ops are never None (as tracr's compiler requires).

The program's nodes are drawn one after another from a pool that starts with `tokens` and
`indices`; at the end, every node that nothing uses yet is folded into the output by a
balanced tree of categorical SequenceMaps, so every drawn node is part of the program.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from tracr_ir import rasp

__all__ = [
    "MAX_VALUES",
    "Case",
    "describe",
    "inputs_for",
    "program_cases",
    "programs",
    "random_program",
]

MAX_VALUES = 30
"""The largest value set a drawn s-op may have."""

_INT_OUTS = (0, 1, 2, 3, 4, 5)
_STR_OUTS = ("a", "b", "c", "d", "e")
_BOOL_OUTS = (False, True)
_TUPLE_OUTS = ((0, "a"), (1, "b"), (0, "b"), (2, "a"))
_FACTORS = (1, -1, 2, 0.5)

_KINDS = (
    "map",
    "sequence_map",
    "aggregate",
    "numerical_aggregate",
    "selector_width",
    "full",
    "linear_sequence_map",
)


def _key(value: Any) -> tuple:
    """A total, process-independent order on values (sets of strings iterate randomly)."""
    return (type(value).__name__, repr(value))


def _sorted(values: Iterable[Any]) -> list[Any]:
    return sorted(values, key=_key)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, bool)


def _is_int(value: Any) -> bool:
    return type(value) in (int, bool)


def _orderable(keys: Collection[Any], queries: Collection[Any]) -> bool:
    try:
        for k in keys:
            for q in queries:
                k < q, k <= q, k > q, k >= q  # noqa: B018
    except TypeError:
        return False
    return True


def _described(f: Callable, text: str) -> Callable:
    f.__doc__ = text
    return f


# ----------------------------------------------------------------------------- choices


class _Chooser:
    """The source of every random decision: hypothesis draws or a `random.Random`."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.integer(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        # Shrinks (towards 0) to False: the simpler program leaves the option out.
        return self.integer(0, 99) >= 100 - percent

    def rng(self) -> random.Random:
        """A generator for bulk content (table entries), seeded by one decision."""
        return random.Random(self.integer(0, 2**20))


class _DrawChooser(_Chooser):
    def __init__(self, draw: Callable) -> None:
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi))


class _RandomChooser(_Chooser):
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)


# ----------------------------------------------------------------------------- builder


@dataclasses.dataclass
class _Info:
    values: frozenset  # the values other than None the s-op can take
    nullable: bool = False  # can be None
    numerical: bool = False
    depth: int = 0
    binary: bool = False  # exactly the ints/bools 0 and 1 (a numerical Aggregate may average it)
    index_safe: bool = False  # always a position at or before the current one


class _Builder:
    def __init__(
        self,
        chooser: _Chooser,
        vocab: Collection[Any],
        max_seq_len: int,
        *,
        max_depth: int,
        numerical: bool,
        composite_selectors: bool,
        full: bool,
    ) -> None:
        if max_seq_len < 1 or max_depth < 1 or not vocab:
            raise ValueError("need max_seq_len >= 1, max_depth >= 1 and a non-empty vocab")
        self.ch = chooser
        self.max_seq_len = max_seq_len
        self.max_depth = max_depth
        self.numerical = numerical
        self.composite = composite_selectors
        self.full = full
        self.info: dict[int, _Info] = {}
        self.pool: list[rasp.SOp] = []
        self.used: set[int] = set()
        self.seen: set[int] = set()
        self._add(rasp.tokens, _Info(frozenset(vocab)))
        self._add(rasp.indices, _Info(frozenset(range(max_seq_len)), index_safe=True))
        self.used.update((id(rasp.tokens), id(rasp.indices)))

    # -- bookkeeping

    def _add(self, expr: rasp.SOp, info: _Info) -> rasp.SOp:
        info.depth = self._depth_of(expr)
        self.info[id(expr)] = info
        self.pool.append(expr)
        self.used.update(id(op) for op in self._operands(expr))
        stack = [expr]
        while stack:
            node = stack.pop()
            if id(node) not in self.seen:
                self.seen.add(id(node))
                stack.extend(node.children)
        return expr

    def _operands(self, expr: rasp.RASPExpr) -> list[rasp.SOp]:
        """The s-ops `expr` reads, looking through selectors."""
        out = []
        for child in expr.children:
            out.extend([child] if isinstance(child, rasp.SOp) else self._operands(child))
        return out

    def _depth_of(self, expr: rasp.RASPExpr) -> int:
        if isinstance(expr, (rasp.Full, rasp.TokensType, rasp.IndicesType)):
            return 0
        return 1 + max((self.info[id(op)].depth for op in self._operands(expr)), default=-1)

    def _pick(self, ok: Callable[[_Info], bool], max_depth: int) -> rasp.SOp | None:
        candidates = [s for s in self.pool if self.info[id(s)].depth <= max_depth
                      and ok(self.info[id(s)])]
        if not candidates:
            return None
        unused = [s for s in candidates if id(s) not in self.used]
        if unused and self.ch.chance(60):
            candidates = unused
        return self.ch.choice(candidates)

    def _categorical(self, max_depth: int, nullable: bool = False) -> rasp.SOp | None:
        return self._pick(lambda i: not i.numerical and (nullable or not i.nullable), max_depth)

    def dangling(self) -> list[rasp.SOp]:
        return [s for s in self.pool if id(s) not in self.used]

    # -- functions

    def _outputs(self, r: random.Random, numeric: bool) -> list[Any]:
        pools = [_INT_OUTS, _BOOL_OUTS] if numeric else [_INT_OUTS, _STR_OUTS, _BOOL_OUTS,
                                                         _TUPLE_OUTS]
        pool = r.choice(pools)
        return r.sample(pool, r.randint(1, min(4, len(pool))))

    def _table(self, keys: Iterable[Any], outs: Sequence[Any], r: random.Random) -> dict:
        return {k: r.choice(outs) for k in _sorted(keys)}

    def unary(self, values: frozenset, numeric_out: bool = False,
              binary: bool = False) -> tuple[Callable, frozenset, bool]:
        """A function on `values`: (f, its image, whether the image is exactly 0/1 ints)."""
        r = self.ch.rng()
        family = self.ch.choice(("table", "compare", "mod", "round", "identity"))
        vals = _sorted(values)
        f = None
        if family == "compare" and vals:
            c = r.choice(vals)
            op = r.choice(("==", "<", ">=") if _orderable(vals, [c]) else ("==", "!="))
            f = {"==": lambda x, c=c: x == c, "!=": lambda x, c=c: x != c,
                 "<": lambda x, c=c: x < c, ">=": lambda x, c=c: x >= c}[op]
            f = _described(f, f"x {op} {c!r}")
        elif family == "mod" and not binary and all(_is_int(v) for v in vals):
            a, b, k = r.randint(1, 3), r.randint(0, 3), r.randint(2, 5)
            f = _described(lambda x, a=a, b=b, k=k: (a * x + b) % k, f"({a}x + {b}) mod {k}")
        elif family == "round" and not binary and all(_is_number(v) for v in vals):
            m, k = r.randint(1, 4), r.randint(2, 5)
            f = _described(lambda x, m=m, k=k: int(x * m) % k, f"int(x * {m}) mod {k}")
        elif family == "identity" and not binary and (not numeric_out or all(
                _is_number(v) for v in vals)):
            f = _described(lambda x: x, "x")
        if f is not None:
            image = self._image(f, [(v,) for v in vals])
            if image is not None and (not numeric_out or all(_is_number(v) for v in image)):
                return f, image, family == "compare"
        outs = [0, 1] if binary else self._outputs(r, numeric_out)
        table = self._table(vals, outs, r)
        default = outs[0]
        f = _described(lambda x, t=table, d=default: t.get(x, d), f"table {table}")
        return f, frozenset(table.values()) or frozenset([default]), binary

    def binary_fn(self, values: frozenset) -> tuple[Callable, frozenset, bool]:
        return self.unary(values, numeric_out=True, binary=True)

    def pairwise(self, fst: frozenset, snd: frozenset) -> tuple[Callable, frozenset]:
        r = self.ch.rng()
        family = self.ch.choice(("table", "arith", "pair", "compare", "first"))
        a, b = _sorted(fst), _sorted(snd)
        pairs = [(x, y) for x in a for y in b]
        f = None
        if family == "arith" and all(_is_int(v) for v in a + b):
            k = r.randint(2, 6)
            if r.random() < 0.5:
                f = _described(lambda x, y, k=k: (x + y) % k, f"(x + y) mod {k}")
            else:
                f = _described(lambda x, y, k=k: (x * y) % k, f"(x * y) mod {k}")
        elif family == "pair":
            f = _described(lambda x, y: (x, y), "(x, y)")
        elif family == "compare":
            if _orderable(a, b) and r.random() < 0.5:
                f = _described(lambda x, y: x < y, "x < y")
            else:
                f = _described(lambda x, y: x == y, "x == y")
        elif family == "first":
            f = _described(lambda x, y: x, "x")
        if f is not None:
            image = self._image(f, pairs)
            if image is not None:
                return f, image
        outs = self._outputs(r, numeric=False)
        table = self._table(pairs, outs, r)
        f = _described(lambda x, y, t=table, d=outs[0]: t.get((x, y), d), f"table {table}")
        return f, frozenset(table.values()) or frozenset([outs[0]])

    @staticmethod
    def _image(f: Callable, args: Iterable[tuple]) -> frozenset | None:
        try:
            image = frozenset(f(*a) for a in args)
        except Exception:  # noqa: BLE001 - any failure means "use a table instead"
            return None
        return image if len(image) <= MAX_VALUES else None

    # -- selectors

    def predicate(self, keys: frozenset, queries: frozenset) -> Any:
        comparisons = [c for c in rasp.Comparison
                       if c in (rasp.Comparison.EQ, rasp.Comparison.NEQ, rasp.Comparison.TRUE,
                                rasp.Comparison.FALSE) or _orderable(keys, queries)]
        if not self.ch.chance(30):
            return self.ch.choice(comparisons)
        r = self.ch.rng()
        family = self.ch.choice(("subset", "shift", "equal"))
        pairs = [(k, q) for k in _sorted(keys) for q in _sorted(queries)]
        if family == "shift" and all(_is_int(v) for v in keys | queries):
            c = r.randint(-2, 2)
            return _described(lambda k, q, c=c: q == k + c, f"q == k + {c}")
        if family == "equal":
            return _described(lambda k, q: k == q, "k == q")
        chosen = frozenset(p for p in pairs if r.random() < 0.5)
        return _described(lambda k, q, s=chosen: (k, q) in s, f"(k, q) in {set(chosen)}")

    def select(self, max_depth: int) -> rasp.Selector:
        keys = self._categorical(max_depth)
        queries = self._categorical(max_depth)
        assert keys is not None and queries is not None  # tokens always qualifies
        pred = self.predicate(self.info[id(keys)].values, self.info[id(queries)].values)
        return rasp.Select(keys, queries, pred)

    def selector(self, max_depth: int, level: int = 0) -> rasp.Selector:
        kind = "select"
        if self.composite and level < 2:
            kind = self.ch.choice(("select", "select", "and", "or", "not"))
        if kind == "select":
            return self.select(max_depth)
        sugar = self.ch.chance(50)  # the operators simplify Select pairs into one Select
        fst = self.selector(max_depth, level + 1)
        if kind == "not":
            return _merged("not", ~fst, fst) if sugar else rasp.SelectorNot(fst)
        snd = self.selector(max_depth, level + 1)
        if kind == "and":
            return _merged("and", fst & snd, fst, snd) if sugar else rasp.SelectorAnd(fst, snd)
        return _merged("or", fst | snd, fst, snd) if sugar else rasp.SelectorOr(fst, snd)

    # -- s-ops

    def step(self) -> None:
        kinds = [k for k in _KINDS
                 if (self.numerical or k not in ("numerical_aggregate", "linear_sequence_map"))
                 and (self.full or k != "full")]
        if not getattr(self, f"_make_{self.ch.choice(kinds)}")():
            self._make_map()

    def _make_map(self) -> bool:
        numeric_out = self.numerical and self.ch.chance(25)
        ok = (lambda i: not i.nullable) if numeric_out else (lambda i: True)
        x = self._pick(ok, self.max_depth - 1)
        if x is None:
            return False
        xi = self.info[id(x)]
        f, image, binary = self.unary(xi.values, numeric_out=numeric_out)
        m = _map(f, x, simplify=not self.ch.chance(20))
        if numeric_out:
            rasp.numerical(m)
        self._add(m, _Info(image, xi.nullable, numeric_out, binary=binary and numeric_out))
        return True

    def _make_sequence_map(self) -> bool:
        x = self._categorical(self.max_depth - 1, nullable=True)
        y = self._categorical(self.max_depth - 1, nullable=True)
        if x is None or y is None:
            return False
        xi, yi = self.info[id(x)], self.info[id(y)]
        f, image = self.pairwise(xi.values, yi.values)
        self._add(rasp.SequenceMap(f, x, y), _Info(image, xi.nullable or yi.nullable))
        return True

    def _make_linear_sequence_map(self) -> bool:
        ok = lambda i: i.numerical  # noqa: E731
        x, y = self._pick(ok, self.max_depth - 1), self._pick(ok, self.max_depth - 1)
        if x is None or y is None:
            return False
        fx, fy = self.ch.choice(_FACTORS), self.ch.choice(_FACTORS)
        image = self._image(lambda a, b: fx * a + fy * b,
                            [(a, b) for a in self.info[id(x)].values
                             for b in self.info[id(y)].values])
        if image is None:
            return False
        lsm = rasp.numerical(rasp.LinearSequenceMap(x, y, fx, fy))
        self._add(lsm, _Info(image, numerical=True))
        return True

    def _make_full(self) -> bool:
        if self.numerical and self.ch.chance(30):
            fill = self.ch.choice((1, 0))
            self._add(rasp.numerical(rasp.Full(fill)), _Info(frozenset([fill]), numerical=True,
                                                             binary=True))
        else:
            fill = self.ch.choice(_INT_OUTS[:3] + _STR_OUTS[:2] + _BOOL_OUTS)
            self._add(rasp.Full(fill), _Info(frozenset([fill])))
        return True

    def _make_selector_width(self) -> bool:
        sw = rasp.SelectorWidth(self.selector(self.max_depth - 1))
        numeric = self.numerical and self.ch.chance(30)
        if numeric:
            rasp.numerical(sw)
        self._add(sw, _Info(frozenset(range(self.max_seq_len + 1)), numerical=numeric))
        return True

    def _make_numerical_aggregate(self) -> bool:
        top = self.max_depth - 1
        source = self._pick(lambda i: i.binary, top)
        if source is None or self.ch.chance(40):
            if top < 1:
                return False
            x = self._pick(lambda i: not i.nullable, top - 1)
            f, image, _ = self.binary_fn(self.info[id(x)].values)
            source = self._add(rasp.numerical(_map(f, x)),
                               _Info(image, numerical=True, binary=True))
        sel = self.selector(top)
        agg = rasp.numerical(rasp.Aggregate(sel, source, default=0))
        n = self.max_seq_len
        means = {k / d for d in range(1, n + 1) for k in range(d + 1)}
        self._add(agg, _Info(frozenset(means | {0}), numerical=True))
        return True

    def _make_aggregate(self) -> bool:
        top = self.max_depth - 1
        if top >= 1 and self.ch.chance(35):
            return self._aggregate_equal_values(top)
        # At most one key per query: keys are the (distinct) indices, the predicate is k == g(q).
        safe = True
        if top >= 1 and self.ch.chance(40):
            r = self.ch.rng()
            table = {i: r.randint(0, i) for i in range(self.max_seq_len)}
            f = _described(lambda i, t=table: t.get(i, 0), f"table {table}")
            q = self._add(_map(f, rasp.indices),
                          _Info(frozenset(table.values()), index_safe=True))
        else:
            q = self._categorical(top)
            assert q is not None
        qi = self.info[id(q)]
        form = self.ch.choice(("eq", "lambda_eq", "lookup"))
        if form == "eq":
            pred: Any = rasp.Comparison.EQ
        elif form == "lambda_eq":
            pred = _described(lambda k, q: k == q, "k == q")
        else:
            r = self.ch.rng()
            targets = self._table(qi.values, list(range(-1, self.max_seq_len)), r)
            pred = _described(lambda k, q, t=targets: k == t.get(q, -1), f"k == {targets}[q]")
            safe = False
        sel = rasp.Select(rasp.indices, q, pred)
        if self.composite and self.ch.chance(30):
            other = self.selector(top, level=1)
            if self.ch.chance(50):
                sel = _merged("and", sel & other, sel, other)
            else:
                sel = rasp.SelectorAnd(sel, other)
            safe = False
        source = self._categorical(top, nullable=True)
        assert source is not None
        si = self.info[id(source)]
        nullable = si.nullable or not (safe and qi.index_safe)
        self._add(rasp.Aggregate(sel, source), _Info(_as_means(si.values), nullable))
        return True

    def _aggregate_equal_values(self, top: int) -> bool:
        """Aggregate(Select(x, x, EQ), g(x)): every selected value equals the query's own."""
        x = self._categorical(top - 1)
        assert x is not None
        r = self.ch.rng()
        outs = r.choice([_INT_OUTS, _BOOL_OUTS])
        table = self._table(self.info[id(x)].values, outs, r)
        g = _described(lambda v, t=table, d=outs[0]: t.get(v, d), f"table {table}")
        source = self._add(_map(g, x), _Info(frozenset(table.values())))
        pred = rasp.Comparison.EQ if self.ch.chance(70) else _described(
            lambda k, q: k == q, "k == q")
        sel: rasp.Selector = rasp.Select(x, x, pred)
        nullable = False
        if self.composite and self.ch.chance(30):
            sel = rasp.SelectorAnd(sel, self.selector(top, level=1))
            nullable = True
        values = _as_means(self.info[id(source)].values)
        self._add(rasp.Aggregate(sel, source), _Info(values, nullable))
        return True

    # -- the output

    def finish(self) -> rasp.SOp:
        """Fold every unused node into one output with a balanced tree of SequenceMaps."""
        level = []
        for sop in self.dangling():
            info = self.info[id(sop)]
            if info.numerical:
                f, image, _ = self.unary(info.values)
                sop = self._add(_map(f, sop, simplify=False), _Info(image))
            level.append(sop)
        if not level:
            return self.pool[-1]
        while len(level) > 1:
            nxt = []
            for a, b in zip(level[::2], level[1::2]):
                ai, bi = self.info[id(a)], self.info[id(b)]
                f, image = self.pairwise(ai.values, bi.values)
                nxt.append(self._add(rasp.SequenceMap(f, a, b),
                                     _Info(image, ai.nullable or bi.nullable)))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return level[0]


def _map(f: Callable, x: rasp.SOp, simplify: bool = True) -> rasp.Map:
    m = rasp.Map(f, x, simplify=simplify)
    if m.inner is not x:  # composed with the Map `x`: keep `describe` readable
        _described(m.f, f"({f.__doc__}) after ({x.f.__doc__ or '?'})")
    return m


def _predicate_text(selector: rasp.Selector) -> str:
    if not isinstance(selector, rasp.Select):
        return selector.label
    p = selector.predicate
    text = p.name if isinstance(p, rasp.Comparison) else p.__doc__ or "?"
    full = [o.label for o in (selector.keys, selector.queries) if isinstance(o, rasp.Full)]
    return text + (f" [with {', '.join(full)}]" if full else "")


def _merged(how: str, result: rasp.Selector, *operands: rasp.Selector) -> rasp.Selector:
    """Documents the predicate of a Select that `&`, `|` or `~` (`how`) made from Selects."""
    if isinstance(result, rasp.Select) and all(result is not o for o in operands):
        texts = [f"({_predicate_text(o)})" for o in operands]
        text = f"not {texts[0]}" if how == "not" else f" {how} ".join(texts)
        _described(result.predicate, text)
    return result


def _as_means(values: frozenset) -> frozenset:
    """What a categorical Aggregate returns for these values: ints and bools become floats."""
    return frozenset(float(v) if _is_int(v) else v for v in values)


# ----------------------------------------------------------------------------- public API


@st.composite
def programs(
    draw: Callable,
    max_depth: int = 4,
    vocab: Collection[Any] = frozenset({1, 2, 3}),
    max_seq_len: int = 5,
    numerical: bool = True,
    max_steps: int = 6,
    composite_selectors: bool = True,
    full: bool = True,
) -> rasp.SOp:
    """A random well-formed RASP program (an SOp) over `vocab` and inputs up to `max_seq_len`.

    Args:
      max_depth: how many s-ops may be stacked on each other before the final fold (a Map of
        a Map of tokens has depth 2; `tokens`, `indices` and `Full` have depth 0). The fold of
        unused nodes adds at most ceil(log2(k)) + 1 more levels of SequenceMaps.
      vocab: the token values (hashable; any mix of int, str, bool, float, tuple).
      max_seq_len: the longest input; sets the value sets of indices and counts.
      numerical: also draw numerical s-ops (numerical Maps and Fulls, numerical Aggregates,
        LinearSequenceMaps, numerical SelectorWidths). False gives categorical programs only.
      max_steps: draws between 1 and this many construct steps (each adds one s-op and the
        selectors and helper Maps it needs).
      composite_selectors: also draw SelectorAnd / SelectorOr / SelectorNot (and the `&`, `|`,
        `~` operators). tracr itself compiles none of them; False gives Selects only.
      full: also draw `Full` s-ops (tracr does not compile them either).
    """
    builder = _Builder(_DrawChooser(draw), vocab, max_seq_len, max_depth=max_depth,
                       numerical=numerical, composite_selectors=composite_selectors, full=full)
    for _ in range(draw(st.integers(1, max_steps))):
        builder.step()
    return builder.finish()


def inputs_for(program: Any = None, vocab: Collection[Any] | None = None,
               max_seq_len: int | None = None, min_len: int = 1) -> st.SearchStrategy:
    """Input sequences (lists, without BOS) of length `min_len` to `max_seq_len` over `vocab`;
    about half of them have the full length `max_seq_len`.

    `program` is what the inputs are for: a module or its IR text at any stage, or a
    `CompiledModel` (vocab and max_seq_len default to its own), or a RASP program (give both).
    """
    if program is not None and (vocab is None or max_seq_len is None):
        if isinstance(program, rasp.RASPExpr):
            raise TypeError("inputs_for a RASP program needs its vocab and max_seq_len")
        from tracr_ir.testing.equivalence import input_spec

        own_vocab, own_length, _ = input_spec(program)
        vocab = own_vocab if vocab is None else vocab
        max_seq_len = own_length if max_seq_len is None else max_seq_len
    if vocab is None or max_seq_len is None:
        raise TypeError("inputs_for needs a module or model, or vocab and max_seq_len")
    tokens = st.sampled_from(_sorted(vocab))
    return st.one_of(
        st.lists(tokens, min_size=max_seq_len, max_size=max_seq_len),
        st.lists(tokens, min_size=min_len, max_size=max_seq_len),
    )


_VOCABS = (
    frozenset({1, 2, 3}),
    frozenset({"a", "b", "c"}),
    frozenset({0, 1, 2, 3, 4}),
    frozenset({"a", "b", 1, 2}),
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A drawn program with the vocabulary, length bound and inputs it was drawn for."""

    program: rasp.SOp
    vocab: frozenset
    max_seq_len: int
    inputs: list[list[Any]]

    def __repr__(self) -> str:
        return (f"Case(vocab={set(self.vocab)!r}, max_seq_len={self.max_seq_len}, "
                f"inputs={self.inputs!r}, program=\n{describe(self.program)})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # What hypothesis prints for a falsifying example: the program as text.
        printer.text(repr(self))


@st.composite
def program_cases(
    draw: Callable,
    vocab: Collection[Any] | None = None,
    max_seq_len: int | None = None,
    n_inputs: int = 3,
    **program_options: Any,
) -> Case:
    """A `Case`: a program from `programs(**program_options)`, with `vocab` (drawn from a few
    int, str and mixed vocabularies if None), `max_seq_len` (drawn from 1..6 if None) and
    1 to `n_inputs` inputs from `inputs_for`."""
    vocab = frozenset(vocab) if vocab is not None else draw(st.sampled_from(_VOCABS))
    max_seq_len = max_seq_len if max_seq_len is not None else draw(st.integers(1, 6))
    program = draw(programs(vocab=vocab, max_seq_len=max_seq_len, **program_options))
    inputs = draw(st.lists(inputs_for(program, vocab, max_seq_len), min_size=1,
                           max_size=n_inputs))
    return Case(program, vocab, max_seq_len, inputs)


def random_program(
    rng: random.Random | int,
    n_nodes: int,
    vocab: Collection[Any] = frozenset({1, 2, 3}),
    max_seq_len: int = 5,
    *,
    max_depth: int = 8,
    numerical: bool = True,
    composite_selectors: bool = True,
    full: bool = True,
) -> rasp.SOp:
    """A random program of about `n_nodes` nodes (as counted by `len(rasp.walk(program))`,
    selectors, `tokens` and `indices` included), without hypothesis.

    `rng` is a `random.Random` or a seed; the same seed gives the same program. The other
    options are those of `programs`; `max_depth` bounds the drawn nodes (the final fold adds
    about log2 of the number of unused nodes).
    """
    if isinstance(rng, int):
        rng = random.Random(rng)
    builder = _Builder(_RandomChooser(rng), vocab, max_seq_len, max_depth=max_depth,
                       numerical=numerical, composite_selectors=composite_selectors, full=full)
    while True:
        dangling = builder.dangling()
        extra = max(len(dangling) - 1, 0) + sum(builder.info[id(s)].numerical for s in dangling)
        if len(builder.seen) + extra >= n_nodes:
            break
        builder.step()
    return builder.finish()


def describe(program: rasp.RASPExpr) -> str:
    """The program as text: one node a line, operands first, with encodings and functions."""
    lines = []
    for node in rasp.walk(program):
        if isinstance(node, (rasp.TokensType, rasp.IndicesType, rasp.LengthType)):
            continue
        ops = ", ".join(c.label for c in node.children)
        extra = ""
        if isinstance(node, rasp.LinearSequenceMap):
            extra = f" {node.fst_fac}*x + {node.snd_fac}*y"
        elif isinstance(node, (rasp.Map, rasp.SequenceMap)):
            extra = f" f={node.f.__doc__ or getattr(node.f, '__name__', '?')}"
        elif isinstance(node, rasp.Select):
            p = node.predicate
            extra = f" {p.name}" if isinstance(p, rasp.Comparison) else f" {p.__doc__ or '?'}"
        elif isinstance(node, rasp.Full):
            extra = f" {node.fill!r}"
        elif isinstance(node, rasp.Aggregate):
            extra = f" default={node.default!r}"
        enc = ""
        if isinstance(node, rasp.SOp):
            enc = " numerical" if rasp.is_numerical(node) else " categorical"
        lines.append(f"{node.label} = {type(node).__name__}({ops}){enc}{extra}")
    return "\n".join(lines)
