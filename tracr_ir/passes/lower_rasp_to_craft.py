"""`lower-rasp-to-craft`: every RASP construct as blocks on named residual subspaces, exact.

```
%same = rasp.select "same_tok_1" %tokens, %tokens EQ : !rasp.selector
%hist = rasp.selector_width "hist_2" %same : !rasp.sop<categorical, {1, 2, 3}>
```
becomes
```
%hist = craft.selector_width "hist_2" select [(%tokens, %tokens EQ)]
    : !craft.space<[hist_2:1, hist_2:2, hist_2:3]>
```
Needs `rasp-infer-values` first (value sets in every type, tables for every function).
Every s-op lives in the space named after its label: one direction per value if categorical,
one direction if numerical, over its values refined from the value set (a SequenceMap or
LinearSequenceMap of an s-op with itself sees only equal pairs, and so on downstream). Helper
s-ops get fresh labels derived from their user's (`<label>_cat`, `<label>_num`,
`<label>_snap`, `<label>_raw`, `<label>_sum`, `product`, ...). Unread rasp ops (a Full only
used as a Select key) are not lowered.

Lowering (one rasp op, its encodings -> craft ops):
- Map: categorical input -> `craft.categorical_mlp` (lookup; categorical or numerical
  output); numerical input -> `craft.linear_mlp` when the table is affine, else the
  discretising `craft.numerical_mlp` (categorical output, or numerical if its float32 error
  estimate is within what the readers accept; otherwise numerical -> categorical ->
  numerical, one more MLP, exact). A constant table on a never-None input is a
  `craft.constant_mlp`. A discretising MLP's table keeps only the keys next to a change of
  output (thresholds sit at midpoints between neighbouring keys, so this is the same block).
- SequenceMap: `craft.sequence_map_mlp` of the categorical forms (a numerical operand is
  first discretised into a categorical one); the same s-op twice is a Map.
- LinearSequenceMap: `craft.linear_mlp` of the numerical forms (numerical output), a
  `craft.sequence_map_mlp` table if both operands are categorical, or the linear map then a
  discretising MLP (categorical output, other operands).
- Full: `craft.constant_mlp`.
- Select / SelectorAnd / SelectorOr / SelectorNot: not ops of their own, but the terms of the
  attention ops that read them. The selector is put in negation normal form; its top-level
  conjuncts each become one term. A Select (or a negated one) is a term over its keys and
  queries; any other conjunct (an Or, ...) is one term whose table is the whole formula over
  the product of the s-ops it reads (a `craft.sequence_map_mlp` builds the tuple s-op of
  several keys or queries, one MLP before the head). A Full key or query becomes a table over
  `indices`. (tracr refuses SelectorAnd/Or/Not: its issue #4.)
- Aggregate: `craft.categorical_attention` / `craft.numerical_attention` (the mean). An empty
  selection yields the zero vector: None, or 0 for a numerical mean (tracr #25 decodes it as
  a token). A non-None categorical default is a `craft.categorical_mlp` with a `none` entry
  after the head.
- SelectorWidth: `craft.selector_width` (categorical, or numerical when the decoding MLP's
  float32 estimate is within tolerance, else categorical then a lookup to the number).

Tolerances come from the readers (backward over the program), errors from the writers
(forward), per EXACTNESS.md:
- A categorical s-op read by an MLP (or decoded as the output) must be within l1 1/16 of its
  one-hot (MLP readers are exact up to 1/4; a SequenceMap sums two operands' errors).
  MLP outputs are exact one-hots; a categorical head's tolerance is its readers' minus its
  value's error. An attention output read as a selector key or query is first snapped by an
  identity `craft.categorical_mlp` (`<label>_snap`), so every head reads exact queries and
  keys; it sits in the MLP sublayer between two heads, so it costs no layer.
- A numerical s-op read by a discretising MLP must be within a quarter of the smallest gap
  between neighbouring input values whose outputs differ (the slopes are then
  4/(gap - 2 delta) with delta the writer's actual error bound, margin 3/2 ramp units). Read
  by a linear map with factor a: 0.45 x the reader's tolerance / |a| per input (a tenth is
  left for its own float32 rounding); by a mean: half the mean's tolerance (the softmax
  leakage gets the rest, s = 2 ln(M (L+2) / tolerance)). A numerical output must be within
  max(5e-5, 1e-6 x max |value|).
- A writer that cannot meet its readers' tolerance is refused (see below), never built
  inexact.

Refused with `UnsupportedProgramError` naming the node (the program rules are checked before
anything is lowered, the precision rules while choosing the constants):
- a numerical s-op that may be None, or holds a non-finite or non-numeric value;
- a Select whose keys or queries are numerical;
- a numerical Aggregate that may select nothing with a default other than 0 (or None: see
  the first rule); a categorical Aggregate whose value may be None with a non-None default
  that an empty selection would need;
- a categorical Aggregate whose selector can select keys holding different values. It is
  accepted when proven to pick one value per query: the value s-op has one value, or is
  the same at every position (Full, length); or the selector is a Select whose predicate
  lets each query value select at most one key value, over keys that determine the value
  (equal keys imply equal values: the value is the key or a Map of it, the keys are unique
  per position as indices or an injective map of them, or SelectorWidth(Select(x, x, <))
  of such an x, which is strictly monotone in x); or an And with such a side. Otherwise the
  pass searches a witness (all short inputs, then random ones up to max_seq_len, on the
  rasp semantics) and refuses with it. Left unchecked: a selector neither proven nor
  refuted (e.g. an Or), which compiles and is exact wherever the evaluator selects one
  value per query (sorting with duplicate keys averages equal values and is fine);
- a tolerance float32 cannot meet: a table that tells apart input values closer than 2^-16
  of their scale (e.g. 1 + 2/3 and 2 x 5/6, which differ by one rounding, mapped to
  different outputs), a mean whose readers need it closer than the softmax's rounding; a
  product s-op or table above `max_table` entries.
- A Select on a None key or query is an error in the evaluator; the compiled model selects
  nothing there (not refused, since value sets over-approximate).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tracr_ir import rasp as rasp_front
from tracr_ir.craft import mlp as craft_mlp
from tracr_ir.craft import numerics
from tracr_ir.craft.bases import Space
from tracr_ir.dialects import craft, rasp
from tracr_ir.errors import EvaluationError, PipelineError, UnsupportedProgramError
from tracr_ir.passes.rasp_infer_values import Limits, always_selects, mean_values
from tracr_ir.values import format_value

#: l1 error a categorical s-op read by an MLP (or decoded as the output) may carry.
MLP_READ_TOLERANCE = 1 / 16
#: A discretising reader accepts this fraction of the gap around its thresholds.
GAP_FRACTION = 1 / 4
#: A numerical output is within max(OUTPUT_TOLERANCE, OUTPUT_RELATIVE x max |value|) of the
#: evaluator's (DESIGN.md asks for 1e-4; large values get a few float32 ulps).
OUTPUT_TOLERANCE = 5e-5
OUTPUT_RELATIVE = 1e-6
#: A linear map gives each of its (two) inputs this share of its tolerance over the input's
#: factor, keeping a tenth for its own float32 rounding.
LINEAR_SHARE = 0.45
#: A discretising MLP refuses input values closer than this (times max(1, max |value|)):
#: float32 attention means carry ~1e-6 of rounding, and the slopes grow like 1/gap.
FLOAT32_GAP = 2.0 ** -16
#: Errors below this count as exact (float32 rounding of an MLP's one-hot output).
EXACT = 1e-6

CAT, NUM = "categorical", "numerical"
_ORDERS = {rasp.Comparison.LT, rasp.Comparison.LEQ, rasp.Comparison.GT, rasp.Comparison.GEQ}


def _values(v: SSAValue) -> tuple:
    return v.type.value_set  # type: ignore[attr-defined]


def _encoding(v: SSAValue) -> str:
    return NUM if v.type.is_numerical else CAT  # type: ignore[attr-defined]


def _label(v: SSAValue) -> str:
    op = v.owner
    return op.label.data if isinstance(op, rasp.RaspOp) else getattr(v, "name_hint", "?")


def _numbers(values: Iterable[Any]) -> list[Any]:
    return [v for v in values if v is not None]


def _change_gap(table: dict) -> float:
    """The smallest distance between neighbouring keys whose outputs differ (inf if none)."""
    keys = sorted(table, key=float)
    gaps = [float(b) - float(a) for a, b in zip(keys, keys[1:]) if table[a] != table[b]]
    return min(gaps, default=math.inf)


def _compress(table: dict) -> dict:
    """The keys at the ends of each run of equal outputs: the same discretising block."""
    keys = sorted(table, key=float)
    keep = [k for i, k in enumerate(keys)
            if i in (0, len(keys) - 1) or table[k] != table[keys[i - 1]]
            or table[k] != table[keys[i + 1]]]
    return {k: table[k] for k in keep}


def _affine(table: dict) -> tuple[float, float] | None:
    if not table or not all(type(v) in (bool, int, float) for v in table.values()):
        return None
    return craft_mlp.as_affine(table)


def _predicate(op: rasp.SelectOp) -> Callable[[Any, Any], bool]:
    """(key, query) -> selected, False where the evaluator would raise."""
    if op.comparison is not None:
        cmp = rasp_front.Comparison[op.comparison.data.value]

        def compare(k: Any, q: Any) -> bool:
            try:
                return bool(cmp(k, q))
            except Exception:  # noqa: BLE001 - None or unordered values: the evaluator raises
                return False

        return compare
    table = op.table.as_dict() if op.table is not None else {}
    return lambda k, q: bool(table.get((k, q), False))


### Selectors: negation normal form, conjuncts, terms.

# ("lit", SelectOp, negated) | ("and", [formula, ...]) | ("or", [formula, ...])
Formula = tuple


def normal_form(selector: SSAValue, negated: bool = False) -> Formula:
    op = selector.owner
    if isinstance(op, rasp.SelectOp):
        return ("lit", op, negated)
    if isinstance(op, rasp.SelectorNotOp):
        return normal_form(op.inner, not negated)
    if isinstance(op, (rasp.SelectorAndOp, rasp.SelectorOrOp)):
        kind = "and" if isinstance(op, rasp.SelectorAndOp) != negated else "or"
        parts: list[Formula] = []
        for side in (op.fst, op.snd):
            f = normal_form(side, negated)
            parts.extend(f[1] if f[0] == kind else [f])
        return (kind, parts)
    raise UnsupportedProgramError(f"{type(op).__name__} is not a selector", None)


def _literals(f: Formula) -> list[tuple[rasp.SelectOp, bool]]:
    return [(f[1], f[2])] if f[0] == "lit" else [x for g in f[1] for x in _literals(g)]


@dataclass
class TermPlan:
    """One term: keys and queries (rasp s-ops; several make a tuple s-op, none means
    `indices` as a placeholder) and the predicate (a comparison such as "not LT", or a table
    over (key value, query value), tuples for several s-ops)."""

    keys: tuple[SSAValue, ...]
    queries: tuple[SSAValue, ...]
    predicate: str | dict


### Which categorical Aggregates pick one value per query.


@dataclass
class _Facts:
    program: rasp.ProgramOp
    memo: dict = field(default_factory=dict)

    @property
    def causal(self) -> bool:
        return self.program.is_causal

    def constant(self, v: SSAValue) -> bool:
        """The same value at every position of any one input."""
        op = v.owner
        if isinstance(op, rasp.FullOp):
            return True
        if isinstance(op, rasp.SelectorWidthOp) and not self.causal:
            sel = op.selector.owner
            return (isinstance(sel, rasp.SelectOp) and sel.comparison is not None
                    and sel.comparison.data in (rasp.Comparison.TRUE, rasp.Comparison.FALSE))
        if isinstance(op, rasp.MapOp):
            return self.constant(op.input)
        if isinstance(op, (rasp.SequenceMapOp, rasp.LinearSequenceMapOp)):
            return self.constant(op.fst) and self.constant(op.snd)
        return False

    def determines(self, k: SSAValue, v: SSAValue) -> bool:
        """Two positions with equal values of `k` have equal values of `v` (any input)."""
        key = (k, v)
        if key not in self.memo:
            self.memo[key] = False  # cycles (none expected) count as unknown
            self.memo[key] = self._determines(k, v)
        return self.memo[key]

    def _determines(self, k: SSAValue, v: SSAValue) -> bool:
        indices = self.program.indices
        if k is v or k is indices or self.constant(v):
            return True
        ov, ok = v.owner, k.owner
        if isinstance(ov, rasp.MapOp) and self.determines(k, ov.input):
            return True
        if isinstance(ov, (rasp.SequenceMapOp, rasp.LinearSequenceMapOp)) and (
                self.determines(k, ov.fst) and self.determines(k, ov.snd)):
            return True
        if isinstance(ok, rasp.MapOp) and _injective(ok.table.as_dict() if ok.table else None,
                                                     _values(ok.input)):
            if self.determines(ok.input, v):
                return True
        if isinstance(ok, rasp.SequenceMapOp) and None not in _values(ok.fst) + _values(
                ok.snd) and _injective(ok.table.as_dict() if ok.table else None, None):
            if self.determines(ok.fst, v) or self.determines(ok.snd, v):
                return True
        if isinstance(ok, rasp.SelectorWidthOp) and not self.causal:
            sel = ok.selector.owner
            if (isinstance(sel, rasp.SelectOp) and sel.comparison is not None
                    and sel.comparison.data in _ORDERS and sel.keys is sel.queries
                    and None not in _values(sel.keys) and self.determines(sel.keys, v)):
                return True
        return v is not indices and self.determines(k, indices)

    def nullable(self, v: SSAValue) -> bool:
        """Whether `v` can be None on some input: its value set, refined (value sets add
        None wherever `rasp-infer-values` cannot prove an Aggregate selects something)."""
        if None not in _values(v):
            return False
        key = ("nullable", v)
        if key not in self.memo:
            self.memo[key] = True
            self.memo[key] = self._nullable(v)
        return self.memo[key]

    def _nullable(self, v: SSAValue) -> bool:
        op = v.owner
        if isinstance(op, rasp.MapOp):
            table = op.table.as_dict() if op.table is not None else {}
            return self.nullable(op.input) or None in table.values()
        if isinstance(op, rasp.SequenceMapOp):
            table = op.table.as_dict() if op.table is not None else {}
            return self.nullable(op.fst) or self.nullable(op.snd) or None in table.values()
        if isinstance(op, rasp.LinearSequenceMapOp):
            return self.nullable(op.fst) or self.nullable(op.snd)
        if isinstance(op, rasp.AggregateOp):
            return self.nullable(op.sop) or (op.default.data is None
                                             and not self.always_selects(op.selector))
        if isinstance(op, rasp.FullOp):
            return op.fill.data is None
        return isinstance(op, rasp.RaspOp) and not isinstance(op, rasp.SelectorWidthOp)

    def below_position(self, q: SSAValue) -> bool:
        """`q` at position i is always an int in 0..i."""
        if q is self.program.indices:
            return True
        op = q.owner
        if isinstance(op, rasp.MapOp) and op.table is not None and self.below_position(
                op.input):
            table = op.table.as_dict()
            return all(x in table and type(table[x]) is int and 0 <= table[x] <= x
                       for x in _numbers(_values(op.input)))
        return False

    def always_selects(self, selector: SSAValue) -> bool:
        """Every query selects at least one key on every input (refining `rasp-infer-values`'
        rule with nullability and Select(indices, q, EQ-like) where q is at most the
        position)."""
        if always_selects(selector):
            return True
        op = selector.owner
        if isinstance(op, rasp.SelectorOrOp):
            return self.always_selects(op.fst) or self.always_selects(op.snd)
        if not isinstance(op, rasp.SelectOp):
            return False
        pred = _predicate(op)
        if op.keys is op.queries or (op.keys is self.program.indices
                                     and self.below_position(op.queries)):
            return not self.nullable(op.queries) and all(
                pred(x, x) for x in _numbers(_values(op.queries)))
        return False

    def functional(self, op: rasp.SelectOp, negated: bool) -> bool:
        """Each query value selects keys of at most one key value."""
        pred = _predicate(op)
        keys = _numbers(_values(op.keys))
        for q in _numbers(_values(op.queries)):
            if sum(pred(k, q) != negated for k in keys) > 1:
                return False
        return True

    def one_value(self, selector: SSAValue, value: SSAValue) -> bool:
        """Proven: every query's selected keys hold equal values of `value`."""
        if len(_values(value)) <= 1 or self.constant(value):
            return True
        op = selector.owner
        if isinstance(op, rasp.SelectorNotOp) and isinstance(op.inner.owner, rasp.SelectOp):
            inner = op.inner.owner
            return self.functional(inner, True) and self.determines(inner.keys, value)
        if isinstance(op, rasp.SelectOp):
            return self.functional(op, False) and self.determines(op.keys, value)
        if isinstance(op, rasp.SelectorAndOp):
            return self.one_value(op.fst, value) or self.one_value(op.snd, value)
        return False


def _injective(table: dict | None, inputs: tuple | None) -> bool:
    if table is None:
        return False
    outs = list(table.values())
    if None in outs or (inputs is not None and any(
            x is not None and x not in table for x in inputs)):
        return False
    try:
        return len(set(outs)) == len(outs)
    except TypeError:
        return False


class _Evaluation:
    """The rasp semantics of a program's ops on one input (for witnesses)."""

    def __init__(self, program: rasp.ProgramOp, ops: list[Operation], tables: dict):
        self.program, self.ops, self.tables = program, ops, tables
        self.env: dict[SSAValue, Any] = {}

    def run(self, xs: list[Any]) -> dict[SSAValue, Any]:
        self.env = {self.program.tokens: list(xs),
                    self.program.indices: list(range(len(xs)))}
        for op in self.ops:
            self.env[op.results[0]] = self._run(op, len(xs))
        return self.env

    def _run(self, op: Operation, n: int) -> Any:
        e = self.env
        if isinstance(op, rasp.MapOp):
            t = self.tables[op]
            return [t[x] if x is not None else None for x in e[op.input]]
        if isinstance(op, rasp.SequenceMapOp):
            t = self.tables[op]
            return [t[(x, y)] if x is not None and y is not None else None
                    for x, y in zip(e[op.fst], e[op.snd])]
        if isinstance(op, rasp.LinearSequenceMapOp):
            a, b = op.fst_fac.data, op.snd_fac.data
            return [a * x + b * y if x is not None and y is not None else None
                    for x, y in zip(e[op.fst], e[op.snd])]
        if isinstance(op, rasp.FullOp):
            return [op.fill.data] * n
        if isinstance(op, rasp.SelectOp):
            keys, queries = e[op.keys], e[op.queries]
            if None in keys or None in queries:
                raise EvaluationError("a None key or query")
            pred = self.tables[op]
            return [[pred(k, q) for k in keys] for q in queries]
        if isinstance(op, rasp.SelectorAndOp):
            return [[a and b for a, b in zip(r, s)] for r, s in zip(e[op.fst], e[op.snd])]
        if isinstance(op, rasp.SelectorOrOp):
            return [[a or b for a, b in zip(r, s)] for r, s in zip(e[op.fst], e[op.snd])]
        if isinstance(op, rasp.SelectorNotOp):
            return [[not a for a in r] for r in e[op.inner]]
        if isinstance(op, rasp.AggregateOp):
            return [rasp_front.aggregate_mean([v for s, v in zip(row, e[op.sop]) if s],
                                              op.default.data) for row in e[op.selector]]
        if isinstance(op, rasp.SelectorWidthOp):
            return [sum(row) for row in e[op.selector]]
        raise EvaluationError(f"cannot evaluate {op.name}")


def _ancestors(op: Operation) -> set[Operation]:
    seen: set[Operation] = set()
    stack = [op]
    while stack:
        o = stack.pop()
        for v in o.operands:
            if v.owner not in seen and isinstance(v.owner, Operation):
                seen.add(v.owner)
                stack.append(v.owner)
    return seen


def _candidate_inputs(vocab: Sequence[Any], max_seq_len: int, seed: int,
                      budget: int = 400, n_random: int = 100) -> Iterable[list[Any]]:
    """Every input up to the length whose count stays in `budget`, constant inputs, then
    `n_random` random ones (a third of full length)."""
    total = 0
    for n in range(1, max_seq_len + 1):
        total += len(vocab) ** n
        if total > budget:
            break
        yield from (list(xs) for xs in itertools.product(vocab, repeat=n))
    for t in vocab:
        yield [t] * max_seq_len
    rng = random.Random(seed)
    for i in range(n_random):
        n = max_seq_len if i % 3 == 0 else rng.randint(1, max_seq_len)
        yield [rng.choice(vocab) for _ in range(n)]


def find_witness(program: rasp.ProgramOp, op: rasp.AggregateOp) -> str | None:
    """An input on which some query selects keys holding different values, described."""
    ancestors = _ancestors(op)
    ops = [o for o in program.block.ops if o in ancestors]
    tables: dict[Operation, Any] = {}
    for o in ops:
        if isinstance(o, (rasp.MapOp, rasp.SequenceMapOp)):
            tables[o] = o.table.as_dict() if o.table is not None else {}
        elif isinstance(o, rasp.SelectOp):
            tables[o] = _predicate(o)
    evaluation = _Evaluation(program, ops, tables)
    vocab = list(program.vocab_values)
    for xs in _candidate_inputs(vocab, program.length, zlib.crc32(op.label.data.encode())):
        try:
            env = evaluation.run(xs)
        except (EvaluationError, KeyError, TypeError, ArithmeticError, ValueError):
            continue  # the program is not defined on this input
        values = env[op.sop]
        for q, row in enumerate(env[op.selector]):
            picked = [j for j, s in enumerate(row) if s]
            seen = [values[j] for j in picked]
            if any(a != b or (a is None) != (b is None) for a in seen for b in seen):
                shown = ", ".join(format_value(v) for v in seen)
                return (f"on input [{', '.join(format_value(x) for x in xs)}] query {q} "
                        f"selects positions {picked} holding {shown}")
    return None


### The lowering.


class _Lowering:
    """Lowers one inferred `rasp.program` into a `craft.program` (see the module doc)."""

    def __init__(self, program: rasp.ProgramOp, max_table: int):
        self.src = program
        self.L = program.length
        self.max_table = max_table
        self.facts = _Facts(program)
        self.labels: set[str] = {op.label.data for op in program.block.ops
                                 if isinstance(op, rasp.RaspOp)}
        # backward: requirements on each rasp s-op's categorical / numerical form
        self.req_cat: dict[SSAValue, float] = {}
        self.req_num: dict[SSAValue, float] = {}
        self.plans: dict[SSAValue, list[TermPlan]] = {}
        # forward: craft forms and their error bounds
        self.cat: dict[SSAValue, SSAValue] = {}
        self.num: dict[SSAValue, SSAValue] = {}
        self.exact: dict[SSAValue, SSAValue] = {}
        self.products: dict[tuple, SSAValue] = {}
        self.err: dict[SSAValue, float] = {}

    ## Reachable values.

    def values(self, v: SSAValue) -> list[Any]:
        """The values other than None `v` can hold: its value set, refined where
        `rasp-infer-values` over-approximates (a SequenceMap or LinearSequenceMap of an s-op
        with itself only sees equal pairs, and so on downstream)."""
        return list(self.reach.get(v, _numbers(_values(v))))

    def refine(self) -> None:
        self.reach: dict[SSAValue, tuple] = {}
        for op in self.src.block.ops:
            if isinstance(op, rasp.RaspOp) and isinstance(op.results[0].type, rasp.SOpType):
                if all(_values(v) is not None for v in op.operands if
                       isinstance(v.type, rasp.SOpType)) and _values(op.results[0]) is not None:
                    self.reach[op.results[0]] = self._reachable(op)

    def _reachable(self, op: rasp.RaspOp) -> tuple:
        y = op.results[0]
        everything = _numbers(_values(y))
        if isinstance(op, (rasp.MapOp, rasp.SequenceMapOp)) and op.table is None:
            return tuple(everything)
        if isinstance(op, rasp.MapOp):
            table = op.table.as_dict()  # type: ignore[union-attr]
            out = [table[x] for x in self.values(op.input) if x in table]
        elif isinstance(op, (rasp.SequenceMapOp, rasp.LinearSequenceMapOp)):
            if isinstance(op, rasp.SequenceMapOp):
                table = op.table.as_dict()  # type: ignore[union-attr]
                f = lambda x, z: table.get((x, z))  # noqa: E731
            else:
                a, b = op.fst_fac.data, op.snd_fac.data
                f = lambda x, z: a * x + b * z  # noqa: E731
            if op.fst is op.snd:
                out = [f(x, x) for x in self.values(op.fst)]
            else:
                out = [f(x, z) for x in self.values(op.fst) for z in self.values(op.snd)]
        elif isinstance(op, rasp.AggregateOp) and _encoding(y) == CAT:
            out = self.values(op.sop)
            if not self.facts.always_selects(op.selector):
                out.append(op.default.data)
        elif isinstance(op, rasp.AggregateOp):
            inner = self.values(op.sop)
            if len(inner) == len(_numbers(_values(op.sop))):
                return tuple(everything)
            out = list(mean_values(tuple(inner), self.L, Limits(1 << 17, 1 << 20), op))
            if not self.facts.always_selects(op.selector):
                out.append(op.default.data)
        else:
            return tuple(everything)
        try:
            kept = set(out)
        except TypeError:
            return tuple(everything)
        declared = set(everything)
        if missing := [x for x in out if x is not None and x not in declared]:
            # A value set must over-approximate (IR text can claim anything).
            raise UnsupportedProgramError(
                f"its value set lacks {format_value(missing[0])}, which it can hold",
                op.label.data)
        return tuple(x for x in everything if x in kept)

    ## Checks (refusals before anything is built).

    def check_inferred(self) -> None:
        for arg in (self.src.tokens, self.src.indices):
            if _values(arg) is None:
                self._needs_inference("the program's inputs")
        for op in self.src.block.ops:
            if not isinstance(op, rasp.RaspOp):
                continue
            result = op.results[0]
            if getattr(op, "fn", None) is not None or (
                    isinstance(result.type, rasp.SOpType) and _values(result) is None):
                self._needs_inference(op.label.data)

    def check(self) -> None:
        for op in self.src.block.ops:
            if not isinstance(op, rasp.RaspOp):
                continue
            label = op.label.data
            result = op.results[0]
            if isinstance(op, rasp.SelectOp):
                for role, v in (("keys", op.keys), ("queries", op.queries)):
                    if _encoding(v) == NUM:
                        raise UnsupportedProgramError(
                            f"a Select needs categorical {role}, but {_label(v)} is "
                            "numerical", label)
            if isinstance(op, rasp.AggregateOp):
                self._check_aggregate(op)
            if isinstance(result.type, rasp.SOpType) and _encoding(result) == NUM:
                self._check_numbers(result, label, "a numerical s-op")

    @staticmethod
    def _needs_inference(where: str) -> None:
        raise PipelineError(f"{where}: lower-rasp-to-craft needs value sets and tables: run "
                            "rasp-infer-values first")

    def _check_numbers(self, v: SSAValue, label: str, what: str) -> None:
        values = self.values(v)
        if self.facts.nullable(v):
            raise UnsupportedProgramError(
                f"{what} cannot be None (the zero vector of a number is 0), but its values "
                "include none: give Aggregates that may select nothing a default, or map "
                "None away before the numerical encoding", label)
        for v in values:
            if type(v) not in (bool, int, float) or not math.isfinite(float(v)):
                raise UnsupportedProgramError(
                    f"{what} holds finite numbers only, not {format_value(v)}", label)

    def _check_aggregate(self, op: rasp.AggregateOp) -> None:
        label, default = op.label.data, op.default.data
        may_be_empty = not self.facts.always_selects(op.selector)
        if _encoding(op.output) == NUM:
            if may_be_empty and default not in (0, None):
                raise UnsupportedProgramError(
                    f"a numerical Aggregate that may select nothing needs default 0 (its "
                    f"empty mean is 0), got {format_value(default)}", label)
            if may_be_empty and default is None:
                raise UnsupportedProgramError(
                    "a numerical Aggregate that may select nothing needs default 0 (its "
                    "empty mean is 0), got none", label)
            self._check_numbers(op.sop, label, "the values of a numerical Aggregate")
            return
        if may_be_empty and default is not None and self.facts.nullable(op.sop):
            raise UnsupportedProgramError(
                f"the default {format_value(default)} needs the value s-op "
                f"{_label(op.sop)} never to be None (a selected None would read as empty)",
                label)
        if self.facts.one_value(op.selector, op.sop):
            return
        witness = find_witness(self.src, op)
        if witness is not None:
            raise UnsupportedProgramError(
                "a categorical Aggregate must find one value per query, but its selector "
                f"can select keys holding different values: {witness}. Make it numerical "
                "to average, or narrow the selector", label)

    ## Requirements (backward).

    def need(self, v: SSAValue, form: str, tol: float) -> None:
        """`v` is read in `form` (CAT, NUM or "exact" categorical) within `tol`."""
        if form == "exact":
            form, tol = CAT, MLP_READ_TOLERANCE  # read by a snapping MLP if noisy
        if form == CAT and _encoding(v) == NUM:
            values = self.values(v)
            form = NUM
            tol = self._resolvable({x: x for x in values}, _label(v)) * GAP_FRACTION
        elif form == NUM and _encoding(v) == CAT:
            form, tol = CAT, MLP_READ_TOLERANCE
        reqs = self.req_cat if form == CAT else self.req_num
        reqs[v] = min(reqs.get(v, math.inf), tol)

    def required(self, v: SSAValue) -> float:
        if _encoding(v) == CAT:
            return min(self.req_cat.get(v, MLP_READ_TOLERANCE), MLP_READ_TOLERANCE)
        return self.req_num.get(v, math.inf)  # not read: a dead value, erased at the end

    def output_tolerance(self, v: SSAValue) -> float:
        magnitude = max((abs(float(x)) for x in self.values(v)), default=0.0)
        return max(OUTPUT_TOLERANCE, OUTPUT_RELATIVE * magnitude)

    def requirements(self) -> None:
        out = self.src.output.value
        if _encoding(out) == NUM:
            self.need(out, NUM, self.output_tolerance(out))
        else:
            self.need(out, CAT, MLP_READ_TOLERANCE)
        for op in reversed(list(self.src.block.ops)):
            if isinstance(op, (rasp.MapOp, rasp.SequenceMapOp, rasp.LinearSequenceMapOp,
                               rasp.AggregateOp, rasp.SelectorWidthOp)):
                for v, form, tol in self.reads(op):
                    self.need(v, form, tol)

    def reads(self, op: Operation) -> list[tuple[SSAValue, str, float]]:
        """What `op` reads, in which form, within which tolerance (given its readers')."""
        y = op.results[0]
        if isinstance(op, rasp.MapOp):
            return self._map_reads(op.input, self._map_table(op), y)
        if isinstance(op, rasp.SequenceMapOp):
            if op.fst is op.snd:
                return self._map_reads(op.fst, self._diagonal(op), y)
            return [(op.fst, CAT, MLP_READ_TOLERANCE), (op.snd, CAT, MLP_READ_TOLERANCE)]
        if isinstance(op, rasp.LinearSequenceMapOp):
            a, b = float(op.fst_fac.data), float(op.snd_fac.data)
            if op.fst is op.snd:
                return self._map_reads(op.fst, self._diagonal(op), y)
            if _encoding(op.fst) == CAT and _encoding(op.snd) == CAT:
                return [(op.fst, CAT, MLP_READ_TOLERANCE), (op.snd, CAT, MLP_READ_TOLERANCE)]
            tol = self.required(y) if _encoding(y) == NUM else self._resolvable(
                {v: v for v in self.values(y)}, _label(y)) * GAP_FRACTION
            return [(x, NUM, LINEAR_SHARE * tol / abs(f)) for x, f in ((op.fst, a), (op.snd, b))
                    if f]
        reads = [r for plan in self.selector_plan(op.selector) for r in self._term_reads(plan)]
        if isinstance(op, rasp.AggregateOp):
            if _encoding(y) == CAT:
                reads.append((op.sop, CAT, self.required(y) / 2))
            else:
                reads.append((op.sop, NUM, self.required(y) / 2))
        return reads

    def _map_reads(self, x: SSAValue, table: dict, y: SSAValue
                   ) -> list[tuple[SSAValue, str, float]]:
        if _encoding(x) == CAT:
            return [(x, CAT, MLP_READ_TOLERANCE)]
        if self._constant(x, table):
            return []
        affine = _affine(table) if _encoding(y) == NUM else None
        if affine is not None:
            return [(x, NUM, 2 * LINEAR_SHARE * self.required(y) / abs(affine[0]))]
        return [(x, NUM, self._resolvable(table, _label(y)) * GAP_FRACTION)]

    @staticmethod
    def _resolvable(table: dict, label: str) -> float:
        """The change gap of a discretising table, refused below float32's resolution."""
        keys = sorted(table, key=float)
        scale = max((abs(float(k)) for k in keys), default=0.0)
        for a, b in zip(keys, keys[1:]):
            if table[a] != table[b] and float(b) - float(a) < FLOAT32_GAP * max(1.0, scale):
                raise UnsupportedProgramError(
                    f"its input values {format_value(a)} and {format_value(b)} map to "
                    f"different outputs but are only {float(b) - float(a):.3g} apart: float32 "
                    "cannot tell them apart", label)
        return _change_gap(table)

    def _constant(self, x: SSAValue, table: dict) -> bool:
        """A map whose output does not depend on its input (never None)."""
        return len(set(map(_key, table.values()))) <= 1 and not self.facts.nullable(x)

    def _term_reads(self, plan: TermPlan) -> list[tuple[SSAValue, str, float]]:
        reads = []
        for group in (plan.keys, plan.queries):
            if len(group) == 1:
                reads.append((group[0], "exact", 0.0))
            else:
                reads.extend((v, CAT, MLP_READ_TOLERANCE) for v in group)
        return reads

    ## Tables.

    @staticmethod
    def _total(table: dict, y: SSAValue) -> dict:
        """Where the function raised (no entry: the evaluator raises there) the block writes
        None, or 0 for a numerical output."""
        if _encoding(y) == NUM:
            return {k: (0 if v is None else v) for k, v in table.items()}
        return table

    def _map_table(self, op: rasp.MapOp) -> dict:
        table = op.table.as_dict() if op.table is not None else {}
        return self._total({x: table.get(x) for x in self.values(op.input)}, op.output)

    def _diagonal(self, op: rasp.SequenceMapOp | rasp.LinearSequenceMapOp) -> dict:
        if isinstance(op, rasp.LinearSequenceMapOp):
            c = op.fst_fac.data + op.snd_fac.data
            return {x: c * x for x in self.values(op.fst)}
        table = op.table.as_dict() if op.table is not None else {}
        return self._total({x: table.get((x, x)) for x in self.values(op.fst)},
                           op.output)

    ## Selectors.

    def selector_plan(self, selector: SSAValue) -> list[TermPlan]:
        if selector not in self.plans:
            f = normal_form(selector)
            conjuncts = f[1] if f[0] == "and" else [f]
            self.plans[selector] = [self._term_plan(c) for c in conjuncts]
        return self.plans[selector]

    def _term_plan(self, f: Formula) -> TermPlan:
        lits = _literals(f)
        if f[0] == "lit" and f[1].comparison is not None and not any(
                isinstance(v.owner, rasp.FullOp) for v in (f[1].keys, f[1].queries)):
            name = f[1].comparison.data.value
            return TermPlan((f[1].keys,), (f[1].queries,), f"not {name}" if f[2] else name)
        keys = tuple(dict.fromkeys(op.keys for op, _ in lits
                                   if not isinstance(op.keys.owner, rasp.FullOp)))
        queries = tuple(dict.fromkeys(op.queries for op, _ in lits
                                      if not isinstance(op.queries.owner, rasp.FullOp)))
        key_rows = self._rows(keys)
        query_rows = self._rows(queries)
        label = lits[0][0].label.data
        if len(key_rows) * len(query_rows) > self.max_table:
            raise UnsupportedProgramError(
                f"the selector term needs a table of {len(key_rows) * len(query_rows)} "
                f"entries, above max_table={self.max_table}", label)
        preds = {op: _predicate(op) for op, _ in lits}

        def slot(v: SSAValue, group: tuple, row: tuple) -> Any:
            if isinstance(v.owner, rasp.FullOp):
                return v.owner.fill.data
            return row[group.index(v)]

        def holds(g: Formula, k: tuple, q: tuple) -> bool:
            if g[0] == "lit":
                op = g[1]
                return preds[op](slot(op.keys, keys, k), slot(op.queries, queries, q)) != g[2]
            parts = (holds(h, k, q) for h in g[1])
            return all(parts) if g[0] == "and" else any(parts)

        table = {}
        for k in key_rows:
            for q in query_rows:
                if holds(f, k, q):
                    table[(_flat(k), _flat(q))] = True
        return TermPlan(keys, queries, table)

    def _rows(self, group: tuple) -> list[tuple]:
        if not group:
            return [(i,) for i in range(self.L)]  # indices as a placeholder
        return list(itertools.product(*(self.values(v) for v in group)))

    ## Building (forward).

    def fresh(self, base: str) -> str:
        label, i = base, 1
        while label in self.labels:
            i += 1
            label = f"{base}_{i}"
        self.labels.add(label)
        return label

    def add(self, op: craft.CraftOp, error: float) -> SSAValue:
        """Append `op`, whose output is within `error` of its value (l1 for categorical)."""
        self.program.block.add_op(op)
        result = op.output
        result.name_hint = _hint(op.label_text)
        self.err[result] = error
        return result

    def build(self) -> craft.ProgramOp:
        src = self.src
        self.program = craft.ProgramOp(src.vocab_values, self.L, src.bos.data, src.pad.data,
                                       src.is_causal)
        block = self.program.block
        self.cat[src.tokens], self.cat[src.indices] = block.args
        for arg in block.args:
            self.err[arg] = 0.0
        for op in src.block.ops:
            if isinstance(op, rasp.RaspOp) and isinstance(op.results[0].type, rasp.SOpType):
                self.lower(op)
        result = src.output.value
        final = self.cat[result] if _encoding(result) == CAT else self.num[result]
        self.keep = final
        self._erase_dead()
        block.add_op(craft.OutputOp(final))
        return self.program

    def _erase_dead(self) -> None:
        """Blocks nothing reads (e.g. a Full only used as a Select key); the output is
        added afterwards, so keep `keep`."""
        for op in reversed(list(self.program.block.ops)):
            if isinstance(op, craft.CraftOp) and not op.output.uses and op.output is not self.keep:
                op.detach()
                op.erase()

    def natural(self, v: SSAValue, form: SSAValue) -> None:
        form.name_hint = v.name_hint
        (self.cat if _encoding(v) == CAT else self.num)[v] = form
        req = self.required(v)
        if self.err[form] > req:
            raise UnsupportedProgramError(
                f"its readers need it within {req:.3g}, but its construction only "
                f"guarantees {self.err[form]:.3g}", _label(v))

    def lower(self, op: rasp.RaspOp) -> None:
        y = op.results[0]
        label = op.label.data
        if y not in self.req_cat and y not in self.req_num:
            return  # nothing reads it (e.g. a Full only used as a Select key)
        if isinstance(op, rasp.MapOp):
            self.natural(y, self.lower_map(label, op.input, self._map_table(op), y))
        elif isinstance(op, rasp.SequenceMapOp):
            if op.fst is op.snd:
                self.natural(y, self.lower_map(label, op.fst, self._diagonal(op), y))
            else:
                table = op.table.as_dict() if op.table is not None else {}
                self.natural(y, self.lower_pairs(label, op.fst, op.snd, table.get, y))
        elif isinstance(op, rasp.LinearSequenceMapOp):
            self.natural(y, self.lower_linear(op, y))
        elif isinstance(op, rasp.FullOp):
            self.natural(y, self.add(craft.ConstantMLPOp(label, op.fill.data,
                                                         self.space(label, y)), 0.0))
        elif isinstance(op, rasp.AggregateOp):
            self.natural(y, self.lower_aggregate(op, y))
        elif isinstance(op, rasp.SelectorWidthOp):
            self.natural(y, self.lower_width(op, y))

    def space(self, label: str, v: SSAValue, encoding: str | None = None) -> Space:
        if (encoding or _encoding(v)) == NUM:
            return Space.numerical(label)
        return Space.categorical(label, self.values(v))

    # -- forms of an s-op

    def get_cat(self, v: SSAValue) -> SSAValue:
        if v not in self.cat:
            values = self.values(v)
            label = self.fresh(f"{_label(v)}_cat")
            self.cat[v] = self.discretise(label, self.num[v], {x: x for x in values},
                                          Space.categorical(label, values))
        return self.cat[v]

    def get_num(self, v: SSAValue) -> SSAValue:
        if v not in self.num:
            values = self.values(v)
            label = self.fresh(f"{_label(v)}_num")
            self._check_numbers(v, label, f"the numerical form of {_label(v)}")
            self.num[v] = self.lookup(label, self.get_cat(v), {x: x for x in values},
                                      Space.numerical(label))
        return self.num[v]

    def get_exact(self, v: SSAValue) -> SSAValue:
        """`v` as an exact one-hot (for a selector's keys or queries)."""
        c = self.get_cat(v)
        if self.err[c] <= EXACT:
            return c
        if v not in self.exact:
            label = self.fresh(f"{_label(v)}_snap")
            values = self.values(v)
            self.exact[v] = self.lookup(label, c, {x: x for x in values},
                                        Space.categorical(label, values))
        return self.exact[v]

    # -- MLPs

    def lookup(self, label: str, x: SSAValue, table: dict, out: Space) -> SSAValue:
        """A categorical_mlp (exact output; float32 estimate for numerical outputs)."""
        numerical = len(out) == 1 and out[0].value is None
        if numerical:
            table = {k: (0 if v is None else v) for k, v in table.items()}
        op = craft.CategoricalMLPOp(label, x, table, out)
        error = op.block(self.L).float32_error if numerical else 0.0
        return self.add(op, error)

    def discretise(self, label: str, x: SSAValue, table: dict, out: Space) -> SSAValue:
        """A numerical_mlp on `x`'s error bound; refused if `x` is too noisy for it."""
        table = _compress(table)
        gap = _change_gap(table)
        if not self.err[x] < gap / 2:
            raise UnsupportedProgramError(
                f"its input values are {gap:.3g} apart where its output changes, but the "
                f"input is only known within {self.err[x]:.3g}", label)
        op = craft.NumericalMLPOp(label, x, table, self.err[x], out)
        numerical = len(out) == 1 and out[0].value is None
        error = op.block(self.L).float32_error if numerical else 0.0
        return self.add(op, error)

    def lower_map(self, label: str, x: SSAValue, table: dict, y: SSAValue) -> SSAValue:
        out = self.space(label, y)
        if self._constant(x, table):
            fill = next(iter(table.values()), None)
            return self.add(craft.ConstantMLPOp(label, fill, out), 0.0)
        if _encoding(x) == CAT:
            return self.lookup(label, self.get_cat(x), table, out)
        xn = self.num[x]
        if _encoding(y) == CAT:
            return self.discretise(label, xn, table, out)
        affine = _affine(table)
        if affine is not None:
            alpha, beta = affine
            magnitude = max(abs(float(v)) for v in table)
            error = abs(alpha) * self.err[xn] + numerics.float32_error_estimate(
                abs(alpha) * magnitude + abs(beta))
            return self.add(craft.LinearMLPOp(label, [xn], [alpha], beta, out), error)
        direct = self.discretise(label, xn, table, out)
        if self.err[direct] <= self.required(y):
            return direct
        # Too much float32 cancellation: discretise to the output values, then look up.
        direct.owner.detach()
        direct.owner.erase()  # type: ignore[union-attr]
        values = self.values(y)
        mid = self.fresh(f"{label}_cat")
        cat = self.discretise(mid, xn, table, Space.categorical(mid, values))
        return self.lookup(label, cat, {v: v for v in values}, out)

    def lower_pairs(self, label: str, a: SSAValue, b: SSAValue,
                    f: Callable[[tuple], Any], y: SSAValue) -> SSAValue:
        ca, cb = self.get_cat(a), self.get_cat(b)
        va, vb = self.values(a), self.values(b)
        if len(va) * len(vb) > self.max_table:
            raise UnsupportedProgramError(
                f"a sequence map over {len(va)} x {len(vb)} values is above "
                f"max_table={self.max_table}", label)
        table = {(x, z): f((x, z)) for x in va for z in vb}
        out = self.space(label, y)
        numerical = _encoding(y) == NUM
        if numerical:
            table = {k: (0 if v is None else v) for k, v in table.items()}
        op = craft.SequenceMapMLPOp(label, ca, cb, table, out)
        return self.add(op, op.block(self.L).float32_error if numerical else 0.0)

    def lower_linear(self, op: rasp.LinearSequenceMapOp, y: SSAValue) -> SSAValue:
        label = op.label.data
        a, b = op.fst_fac.data, op.snd_fac.data
        if op.fst is op.snd:
            return self.lower_map(label, op.fst, self._diagonal(op), y)
        if _encoding(op.fst) == CAT and _encoding(op.snd) == CAT:
            return self.lower_pairs(label, op.fst, op.snd, lambda p: a * p[0] + b * p[1], y)
        # An operand with factor 0 is not read (`reads`), so it has no lowered form.
        terms = [(s, f) for s, f in ((op.fst, a), (op.snd, b)) if f]
        xs = [self.get_num(s) for s, _ in terms]
        factors = [f for _, f in terms]
        mass = sum(abs(float(f)) * max((abs(float(v)) for v in self.values(s)),
                                       default=0.0)
                   for s, f in terms)
        error = (sum(abs(f) * self.err[x] for f, x in zip(factors, xs))
                 + numerics.float32_error_estimate(mass))
        if _encoding(y) == NUM:
            return self.add(craft.LinearMLPOp(label, xs, factors, 0, self.space(label, y)),
                            error)
        mid = self.fresh(f"{label}_sum")
        total = self.add(craft.LinearMLPOp(mid, xs, factors, 0, Space.numerical(mid)), error)
        values = self.values(y)
        return self.discretise(label, total, {v: v for v in values}, self.space(label, y))

    # -- attention

    def terms(self, selector: SSAValue) -> list[craft.Term]:
        out = []
        for plan in self.selector_plan(selector):
            out.append((self.term_side(plan.keys), self.term_side(plan.queries),
                        plan.predicate))
        return out

    def term_side(self, group: tuple) -> SSAValue:
        if not group:
            return self.cat[self.src.indices]
        if len(group) == 1:
            return self.get_exact(group[0])
        if group not in self.products:
            current = self.get_cat(group[0])
            values: list[Any] = [(v,) for v in self.values(group[0])]
            for v in group[1:]:
                label = self.fresh("product")
                new_values = [p + (w,) for p in values for w in self.values(v)]
                if len(new_values) > self.max_table:
                    raise UnsupportedProgramError(
                        f"the product s-op of a selector term would have {len(new_values)} "
                        f"values, above max_table={self.max_table}", _label(v))
                table = {(_flat(p), w): p + (w,) for p in values
                         for w in self.values(v)}
                op = craft.SequenceMapMLPOp(label, current, self.get_cat(v), table,
                                            Space.categorical(label, new_values))
                current, values = self.add(op, 0.0), new_values
            self.products[group] = current
        return self.products[group]

    def lower_aggregate(self, op: rasp.AggregateOp, y: SSAValue) -> SSAValue:
        label = op.label.data
        terms = self.terms(op.selector)
        req = self.required(y)
        if _encoding(y) == NUM:
            value = self.get_num(op.sop)
            magnitude = _round_up(max((abs(float(v)) for v in self.values(op.sop)),
                                      default=0.0) + self.err[value])
            tolerance = min(req - self.err[value], max(magnitude, 1.0) / 4)
            self._check_scale(tolerance, magnitude, label)
            head = craft.NumericalAttentionOp(label, value, terms, tolerance, magnitude,
                                              self.space(label, y))
            return self.add(head, tolerance)
        value = self.get_cat(op.sop)
        tolerance = req - self.err[value]
        self._check_scale(tolerance, 1.0, label)
        default = op.default.data
        values = [d.value for d in value.type.space]  # type: ignore[attr-defined]
        if default is None or self.facts.always_selects(op.selector):
            return self.add(craft.CategoricalAttentionOp(
                label, value, terms, tolerance, self.space(label, y)), tolerance)
        raw_label = self.fresh(f"{label}_raw")
        raw = self.add(craft.CategoricalAttentionOp(
            raw_label, value, terms, tolerance, Space.categorical(raw_label, values)),
            tolerance)
        table: dict[Any, Any] = {v: v for v in values}
        table[None] = default
        return self.lookup(label, raw, table, self.space(label, y))

    def _check_scale(self, tolerance: float, magnitude: float, label: str) -> None:
        try:
            numerics.attention_scale(self.L, tolerance, max(magnitude, 1e-300), label=label)
        except UnsupportedProgramError as e:
            raise UnsupportedProgramError(
                f"its readers need it within {tolerance:.3g}, which a float32 softmax over "
                f"{self.L + 1} positions cannot guarantee ({e})", label) from None

    def lower_width(self, op: rasp.SelectorWidthOp, y: SSAValue) -> SSAValue:
        label = op.label.data
        terms = self.terms(op.selector)
        if _encoding(y) == CAT:
            return self.add(craft.SelectorWidthOp(label, terms, self.space(label, y)), 0.0)
        width = craft.SelectorWidthOp(label, terms, self.space(label, y))
        error = width.block(self.L).mlp.float32_error
        if error <= self.required(y):
            return self.add(width, error)
        width.erase()
        values = self.values(y)
        mid = self.fresh(f"{label}_cat")
        cat = self.add(craft.SelectorWidthOp(mid, terms, Space.categorical(mid, values)), 0.0)
        return self.lookup(label, cat, {v: v for v in values}, self.space(label, y))


def _key(value: Any) -> Any:
    """Hashable stand-in for a value (None included) for set comparisons."""
    return ("none",) if value is None else value


def _round_up(x: float) -> float:
    """`x` rounded up to 3 significant digits (a readable bound)."""
    if x <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(x)) - 2)
    return math.ceil(x / step - 1e-9) * step if x / step % 1 else x


def _flat(row: tuple) -> Any:
    return row[0] if len(row) == 1 else row


def _hint(label: str) -> str:
    hint = re.sub(r"[^A-Za-z0-9_.$-]", "_", label)
    return hint if re.match(r"[A-Za-z_$.-]", hint) else f"v{hint}"


### Pattern and pass.


@dataclass(frozen=True)
class LowerRaspProgram(RewritePattern):
    """Replaces an inferred `rasp.program` by its `craft.program`."""

    max_table: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.ProgramOp, rewriter: PatternRewriter) -> None:
        lowering = _Lowering(op, self.max_table)
        lowering.check_inferred()
        lowering.refine()
        lowering.check()
        lowering.requirements()
        rewriter.replace(op, lowering.build(), [])


@dataclass(frozen=True)
class LowerRaspToCraft(ModulePass):
    """Lower every `rasp.program` to a `craft.program` (see the module docstring)."""

    name = "lower-rasp-to-craft"

    max_table: int = 1 << 20

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([LowerRaspProgram(self.max_table)], dce_enabled=False),
            apply_recursively=False,
        ).rewrite_module(op)
