"""Joint values: the pairs two s-ops can hold together at one position.

Value sets describe each s-op alone; a SequenceMap or LinearSequenceMap of two s-ops computed
from the same source sees far fewer pairs than the product of their sets. `JointValues.pairs`
finds those pairs, as an over-approximation of what the evaluator can produce, for:
- an s-op with itself: the equal pairs;
- Maps of correlated s-ops: the pairs through the Map's table (Maps of one s-op, e.g.
  `tokens == "("` and `tokens == ")"`, give `(F(t), G(t))` for each token `t`);
- two numerical Aggregates over the same selector (structurally equal, e.g. two
  `Select(indices, indices, LEQ)`) whose value s-ops have joint pairs of ints or bools: the
  pairs of means of the same selected positions, `(sum a / m, sum b / m)` over multisets of
  `m` pairs for `m` up to max_seq_len, as `aggregate_mean` computes them (and the defaults,
  when the selector may select nothing).

In `make_pair_balance`, `opens - closes` at max_seq_len 64 thus has the differences of
`(a / m, b / m)` with `a + b <= m` (in floats, as the evaluator subtracts them): 6,173 values
instead of the ~1.6 million of the product of the two 1,261-value sets.
Anything else is None ("not correlated as far as this knows": callers take the product).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdsl.ir import SSAValue

from tracr_ir.dialects import rasp

Pairs = list[tuple[Any, Any]]


def selector_key(selector: SSAValue) -> tuple | None:
    """A hashable key equal for structurally equal selectors (same operands, same
    comparison or equal table), else None for selectors this does not know."""
    op = selector.owner
    if isinstance(op, rasp.SelectOp):
        if op.comparison is not None:
            how: Any = op.comparison.data.value
        elif op.table is not None:
            how = op.table.data
        else:
            return None
        return ("select", op.keys, op.queries, how)
    if isinstance(op, rasp.SelectorNotOp):
        inner = selector_key(op.inner)
        return None if inner is None else ("not", inner)
    if isinstance(op, (rasp.SelectorAndOp, rasp.SelectorOrOp)):
        fst, snd = selector_key(op.fst), selector_key(op.snd)
        if fst is None or snd is None:
            return None
        return ("and" if isinstance(op, rasp.SelectorAndOp) else "or", fst, snd)
    return None


def _is_int(x: Any) -> bool:
    return type(x) in (bool, int)


def joint_means(vectors: Pairs, max_seq_len: int, limit: int) -> Pairs | None:
    """Every `(sum a / m, sum b / m)` over `m` (1..max_seq_len) pairs drawn with repetition
    from `vectors` (ints or bools), the one pair itself for `m == 1` (as `aggregate_mean`);
    None when the pairs of sums at some `m` exceed `limit`."""
    base = {(int(a), int(b)) for a, b in vectors}
    out: set[tuple[Any, Any]] = set(vectors)
    sums = set(base)
    for m in range(2, max_seq_len + 1):
        sums = {(s + a, t + b) for s, t in sums for a, b in base}
        if len(sums) > limit:
            return None
        out.update((s / m, t / m) for s, t in sums)
    return list(out)


class JointValues:
    """`pairs(fst, snd)` for one program (see the module docstring); memoised.

    `values(v)` gives the values (None aside) of `v`; `always_selects(sel)` whether a
    selector selects a key for every query on every input; `limit` bounds the pairs of one
    intermediate result (above it: None)."""

    def __init__(self, max_seq_len: int, values: Callable[[SSAValue], list[Any]],
                 always_selects: Callable[[SSAValue], bool], limit: int = 1 << 17):
        self.max_seq_len, self.values, self.always_selects = max_seq_len, values, always_selects
        self.limit = limit
        self.memo: dict[tuple[SSAValue, SSAValue], Pairs | None] = {}

    def pairs(self, fst: SSAValue, snd: SSAValue) -> Pairs | None:
        key = (fst, snd)
        if key not in self.memo:
            self.memo[key] = None  # cycles (none expected) count as unknown
            self.memo[key] = self._pairs(fst, snd)
        return self.memo[key]

    def _pairs(self, fst: SSAValue, snd: SSAValue) -> Pairs | None:
        if fst is snd:
            return [(x, x) for x in self.values(fst)]
        f, s = fst.owner, snd.owner
        for first, op, other in ((True, f, snd), (False, s, fst)):
            if isinstance(op, rasp.MapOp) and op.table is not None:
                inner = self.pairs(op.input, other) if first else self.pairs(other, op.input)
                if inner is None:
                    continue
                table = op.table.as_dict()
                if first:
                    return _unique([(table[x], y) for x, y in inner if x in table])
                return _unique([(x, table[y]) for x, y in inner if y in table])
        if (isinstance(f, rasp.AggregateOp) and isinstance(s, rasp.AggregateOp)
                and fst.type.is_numerical and snd.type.is_numerical  # type: ignore
                and (key := selector_key(f.selector)) is not None
                and key == selector_key(s.selector)):
            return self._means(f, s)
        return None

    def _means(self, f: rasp.AggregateOp, s: rasp.AggregateOp) -> Pairs | None:
        inner = self.pairs(f.sop, s.sop)
        if inner is None or not all(_is_int(a) and _is_int(b) for a, b in inner):
            return None
        if None in f.sop.type.value_set or None in s.sop.type.value_set:  # type: ignore
            return None
        out = joint_means(inner, self.max_seq_len, self.limit)
        if out is None:
            return None
        if not (self.always_selects(f.selector) and self.always_selects(s.selector)):
            out.append((f.default.data, s.default.data))
        return _unique(out)


def _unique(pairs: Pairs) -> Pairs | None:
    try:
        return list(dict.fromkeys(pairs))
    except TypeError:  # unhashable values: not worth tracking
        return None
