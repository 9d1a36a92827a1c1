"""How a random program is built: one node at a time from a pool, then folded into one output.

`ProgramBuilder(chooser, vocab, max_seq_len, ...)` starts its pool with `tokens` and
`indices`; each `step()` draws one construct (a Map, SequenceMap, categorical or numerical
Aggregate, SelectorWidth, Full or LinearSequenceMap) over s-ops of the pool, with the selectors
and helper Maps it needs, keeping what it knows of each s-op (`Info`: its values, whether it
can be None, its encoding, its depth) so that every node is well formed by construction (the
rules are listed in `tracr_ir.testing.strategies`). `finish()` folds every node that nothing
uses yet into the output by a balanced tree of categorical SequenceMaps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from typing import Any

from tracr_ir import rasp
from tracr_ir.testing.random_functions import (BOOL_OUTS, INT_OUTS, STR_OUTS, Chooser,
                                               RandomFunctions, described, is_int)

FACTORS = (1, -1, 2, 0.5)  # of a LinearSequenceMap

KINDS = (
    "map",
    "sequence_map",
    "aggregate",
    "numerical_aggregate",
    "selector_width",
    "full",
    "linear_sequence_map",
)


@dataclasses.dataclass
class Info:
    values: frozenset  # the values other than None the s-op can take
    nullable: bool = False  # can be None
    numerical: bool = False
    depth: int = 0
    binary: bool = False  # exactly the ints/bools 0 and 1 (a numerical Aggregate may average it)
    index_safe: bool = False  # always a position at or before the current one


class ProgramBuilder:
    """Draws a program node by node (`step`), then folds it into one output (`finish`)."""

    def __init__(
        self,
        chooser: Chooser,
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
        self.fns = RandomFunctions(chooser)
        self.max_seq_len = max_seq_len
        self.max_depth = max_depth
        self.numerical = numerical
        self.composite = composite_selectors
        self.full = full
        self.info: dict[int, Info] = {}
        self.pool: list[rasp.SOp] = []
        self.used: set[int] = set()
        self.seen: set[int] = set()
        self._add(rasp.tokens, Info(frozenset(vocab)))
        self._add(rasp.indices, Info(frozenset(range(max_seq_len)), index_safe=True))
        self.used.update((id(rasp.tokens), id(rasp.indices)))

    # -- bookkeeping

    def _add(self, expr: rasp.SOp, info: Info) -> rasp.SOp:
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

    def _pick(self, ok: Callable[[Info], bool], max_depth: int) -> rasp.SOp | None:
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

    # -- selectors

    def select(self, max_depth: int) -> rasp.Selector:
        keys = self._categorical(max_depth)
        queries = self._categorical(max_depth)
        assert keys is not None and queries is not None  # tokens always qualifies
        pred = self.fns.predicate(self.info[id(keys)].values, self.info[id(queries)].values)
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
        kinds = [k for k in KINDS
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
        f, image, binary = self.fns.unary(xi.values, numeric_out=numeric_out)
        m = _map(f, x, simplify=not self.ch.chance(20))
        if numeric_out:
            m = rasp.numerical(m)
        self._add(m, Info(image, xi.nullable, numeric_out, binary=binary and numeric_out))
        return True

    def _make_sequence_map(self) -> bool:
        x = self._categorical(self.max_depth - 1, nullable=True)
        y = self._categorical(self.max_depth - 1, nullable=True)
        if x is None or y is None:
            return False
        xi, yi = self.info[id(x)], self.info[id(y)]
        f, image = self.fns.pairwise(xi.values, yi.values)
        self._add(rasp.SequenceMap(f, x, y), Info(image, xi.nullable or yi.nullable))
        return True

    def _make_linear_sequence_map(self) -> bool:
        ok = lambda i: i.numerical  # noqa: E731
        x, y = self._pick(ok, self.max_depth - 1), self._pick(ok, self.max_depth - 1)
        if x is None or y is None:
            return False
        fx, fy = self.ch.choice(FACTORS), self.ch.choice(FACTORS)
        image = self.fns.image(lambda a, b: fx * a + fy * b,
                            [(a, b) for a in self.info[id(x)].values
                             for b in self.info[id(y)].values])
        if image is None:
            return False
        lsm = rasp.numerical(rasp.LinearSequenceMap(x, y, fx, fy))
        self._add(lsm, Info(image, numerical=True))
        return True

    def _make_full(self) -> bool:
        if self.numerical and self.ch.chance(30):
            fill = self.ch.choice((1, 0))
            self._add(rasp.numerical(rasp.Full(fill)), Info(frozenset([fill]), numerical=True,
                                                             binary=True))
        else:
            fill = self.ch.choice(INT_OUTS[:3] + STR_OUTS[:2] + BOOL_OUTS)
            self._add(rasp.Full(fill), Info(frozenset([fill])))
        return True

    def _make_selector_width(self) -> bool:
        sw = rasp.SelectorWidth(self.selector(self.max_depth - 1))
        numeric = self.numerical and self.ch.chance(30)
        if numeric:
            sw = rasp.numerical(sw)
        self._add(sw, Info(frozenset(range(self.max_seq_len + 1)), numerical=numeric))
        return True

    def _make_numerical_aggregate(self) -> bool:
        top = self.max_depth - 1
        source = self._pick(lambda i: i.binary, top)
        if source is None or self.ch.chance(40):
            if top < 1:
                return False
            x = self._pick(lambda i: not i.nullable, top - 1)
            f, image, _ = self.fns.binary_fn(self.info[id(x)].values)
            source = self._add(rasp.numerical(_map(f, x)),
                               Info(image, numerical=True, binary=True))
        sel = self.selector(top)
        agg = rasp.numerical(rasp.Aggregate(sel, source, default=0))
        n = self.max_seq_len
        means = {k / d for d in range(1, n + 1) for k in range(d + 1)}
        self._add(agg, Info(frozenset(means | {0}), numerical=True))
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
            f = described(lambda i, t=table: t.get(i, 0), f"table {table}")
            q = self._add(_map(f, rasp.indices),
                          Info(frozenset(table.values()), index_safe=True))
        else:
            q = self._categorical(top)
            assert q is not None
        qi = self.info[id(q)]
        form = self.ch.choice(("eq", "lambda_eq", "lookup"))
        if form == "eq":
            pred: Any = rasp.Comparison.EQ
        elif form == "lambda_eq":
            pred = described(lambda k, q: k == q, "k == q")
        else:
            r = self.ch.rng()
            targets = self.fns.table(qi.values, list(range(-1, self.max_seq_len)), r)
            pred = described(lambda k, q, t=targets: k == t.get(q, -1), f"k == {targets}[q]")
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
        self._add(rasp.Aggregate(sel, source), Info(_as_means(si.values), nullable))
        return True

    def _aggregate_equal_values(self, top: int) -> bool:
        """Aggregate(Select(x, x, EQ), g(x)): every selected value equals the query's own."""
        x = self._categorical(top - 1)
        assert x is not None
        r = self.ch.rng()
        outs = r.choice([INT_OUTS, BOOL_OUTS])
        table = self.fns.table(self.info[id(x)].values, outs, r)
        g = described(lambda v, t=table, d=outs[0]: t.get(v, d), f"table {table}")
        source = self._add(_map(g, x), Info(frozenset(table.values())))
        pred = rasp.Comparison.EQ if self.ch.chance(70) else described(
            lambda k, q: k == q, "k == q")
        sel: rasp.Selector = rasp.Select(x, x, pred)
        nullable = False
        if self.composite and self.ch.chance(30):
            sel = rasp.SelectorAnd(sel, self.selector(top, level=1))
            nullable = True
        values = _as_means(self.info[id(source)].values)
        self._add(rasp.Aggregate(sel, source), Info(values, nullable))
        return True

    # -- the output

    def finish(self) -> rasp.SOp:
        """Fold every unused node into one output with a balanced tree of SequenceMaps."""
        level = []
        for sop in self.dangling():
            info = self.info[id(sop)]
            if info.numerical:
                f, image, _ = self.fns.unary(info.values)
                sop = self._add(_map(f, sop, simplify=False), Info(image))
            level.append(sop)
        if not level:
            return self.pool[-1]
        while len(level) > 1:
            nxt = []
            for a, b in zip(level[::2], level[1::2]):
                ai, bi = self.info[id(a)], self.info[id(b)]
                f, image = self.fns.pairwise(ai.values, bi.values)
                nxt.append(self._add(rasp.SequenceMap(f, a, b),
                                     Info(image, ai.nullable or bi.nullable)))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return level[0]


def _map(f: Callable, x: rasp.SOp, simplify: bool = True) -> rasp.Map:
    m = rasp.Map(f, x, simplify=simplify)
    if m.inner is not x:  # composed with the Map `x`: keep `describe` readable
        described(m.f, f"({f.__doc__}) after ({x.f.__doc__ or '?'})")
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
        described(result.predicate, text)
    return result


def _as_means(values: frozenset) -> frozenset:
    """What a categorical Aggregate returns for these values: ints and bools become floats."""
    return frozenset(float(v) if is_int(v) else v for v in values)
