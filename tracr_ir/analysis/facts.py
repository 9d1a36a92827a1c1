"""Facts about the values of an inferred `rasp.program` that value sets alone do not show.

`ProgramFacts` answers, for SSA values of one program (before `rasp-refine-values` narrows
the types, or after it):
- `nullable(v)`: `v` can be None on some input (value sets add None wherever
  `rasp-infer-values` cannot prove an Aggregate selects something);
- `always_selects(sel)`: every query selects at least one key on every input (decided
  exactly for selectors of the positions only, by running them at every length; else by
  rules, then by `tracr_ir.analysis.decide`, which also gives the inputs where it does not:
  `decision(sel)`);
- `constant(v)`: the same value at every position of any one input;
- `determines(k, v)`: positions with equal values of `k` hold equal values of `v`;
- `one_value(sel, v)`: proven that every query's selected keys hold equal values of `v`.

Every answer is a proof (True) or "not proven" (False): callers that need the fact and get
False either refuse or search a witness (`tracr_ir.analysis.witness`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import Operation, SSAValue

from tracr_ir import rasp as rasp_front
from tracr_ir.dialects import rasp
from tracr_ir.analysis.decide import DECIDE_BUDGET, Decision, EmptyRows
from tracr_ir.analysis.joint import JointValues
from tracr_ir.analysis.witness import UNDEFINED, Exhaustive, ancestors
from tracr_ir.interpreters.rasp import run_ops
from tracr_ir.passes.rasp_infer_values import always_selects

_ORDERS = {rasp.Comparison.LT, rasp.Comparison.LEQ, rasp.Comparison.GT, rasp.Comparison.GEQ}


def value_set(v: SSAValue) -> tuple:
    """`v`'s value set (from its `!rasp.sop` type)."""
    return v.type.value_set  # type: ignore[attr-defined]


def numbers(values: Iterable[Any]) -> list[Any]:
    """The values other than None."""
    return [v for v in values if v is not None]


def label_of(v: SSAValue) -> str:
    """The label of the op defining `v`, or its name in the text."""
    op = v.owner
    if isinstance(op, Operation) and "label" in op.properties:
        return op.properties["label"].data  # type: ignore[attr-defined]
    return v.name_hint or "?"


def values_of(v: SSAValue) -> list[Any]:
    """The values other than None that `v` can hold, by its type."""
    return numbers(value_set(v) or ())


def predicate(op: rasp.SelectOp) -> Callable[[Any, Any], bool]:
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


def injective(table: dict | None, inputs: tuple | None) -> bool:
    """A table that maps distinct inputs (all of `inputs`, if given) to distinct values."""
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


def table_of(op: rasp.MapOp | rasp.SequenceMapOp) -> dict:
    return op.table.as_dict() if op.table is not None else {}


@dataclass
class ProgramFacts:
    """Facts about one program's values (see the module docstring); memoised."""

    program: rasp.ProgramOp
    memo: dict = field(default_factory=dict)
    decide_budget: int = DECIDE_BUDGET

    @property
    def exhaustive(self) -> Exhaustive:
        """Every op's values on every input, when there are few inputs (computed once)."""
        if "exhaustive" not in self.memo:
            self.memo["exhaustive"] = Exhaustive(self.program)
        return self.memo["exhaustive"]

    @property
    def causal(self) -> bool:
        return self.program.is_causal

    def constant(self, v: SSAValue) -> bool:
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
        if isinstance(ok, rasp.MapOp) and injective(table_of(ok) if ok.table else None,
                                                    value_set(ok.input)):
            if self.determines(ok.input, v):
                return True
        if isinstance(ok, rasp.SequenceMapOp) and None not in value_set(ok.fst) + value_set(
                ok.snd) and injective(table_of(ok) if ok.table else None, None):
            if self.determines(ok.fst, v) or self.determines(ok.snd, v):
                return True
        if isinstance(ok, rasp.SelectorWidthOp) and not self.causal:
            sel = ok.selector.owner
            if (isinstance(sel, rasp.SelectOp) and sel.comparison is not None
                    and sel.comparison.data in _ORDERS and sel.keys is sel.queries
                    and None not in value_set(sel.keys) and self.determines(sel.keys, v)):
                return True
        return v is not indices and self.determines(k, indices)

    def nullable(self, v: SSAValue) -> bool:
        if None not in (value_set(v) or ()):
            return False
        key = ("nullable", v)
        if key not in self.memo:
            self.memo[key] = True
            self.memo[key] = self._nullable(v)
        return self.memo[key]

    def _nullable(self, v: SSAValue) -> bool:
        op = v.owner
        if isinstance(op, rasp.MapOp):
            return self.nullable(op.input) or None in table_of(op).values()
        if isinstance(op, rasp.SequenceMapOp):
            return (self.nullable(op.fst) or self.nullable(op.snd)
                    or None in table_of(op).values())
        if isinstance(op, rasp.LinearSequenceMapOp):
            return self.nullable(op.fst) or self.nullable(op.snd)
        if isinstance(op, rasp.AggregateOp):
            return self.nullable(op.sop) or (op.default.data is None
                                             and not self.always_selects(op.selector))
        if isinstance(op, rasp.FullOp):
            return op.fill.data is None
        # Ops of other dialects: their value set is all we know.
        return not isinstance(op, rasp.SelectorWidthOp)

    def below_position(self, q: SSAValue) -> bool:
        """`q` at position i is always an int in 0..i."""
        if q is self.program.indices:
            return True
        op = q.owner
        if isinstance(op, rasp.MapOp) and op.table is not None and self.below_position(
                op.input):
            table = table_of(op)
            return all(x in table and type(table[x]) is int and 0 <= table[x] <= x
                       for x in values_of(op.input))
        return False

    def position_only(self, v: SSAValue) -> bool:
        """`v` depends on the positions (and the length) only, never on the tokens."""
        key = ("position_only", v)
        if key not in self.memo:
            self.memo[key] = self._position_only(v)
        return self.memo[key]

    def _position_only(self, v: SSAValue) -> bool:
        if v is self.program.indices:
            return True
        op = v.owner
        if isinstance(op, (rasp.MapOp, rasp.SequenceMapOp, rasp.LinearSequenceMapOp,
                           rasp.FullOp)):
            return all(self.position_only(x) for x in op.operands)
        if isinstance(op, rasp.SelectOp):
            return (op.comparison is not None and op.comparison.data in
                    (rasp.Comparison.TRUE, rasp.Comparison.FALSE)) or (
                self.position_only(op.keys) and self.position_only(op.queries))
        if isinstance(op, (rasp.SelectorAndOp, rasp.SelectorOrOp, rasp.SelectorNotOp,
                           rasp.SelectorWidthOp, rasp.AggregateOp)):
            return all(self.position_only(x) for x in op.operands)
        return False

    def decided_selects(self, selector: SSAValue) -> bool | None:
        """Whether every query selects a key on every input, decided by running the
        selector (the rasp interpreter): for a selector of the positions only, on each
        length up to max_seq_len; for a program with few inputs
        (`witness.EXHAUSTIVE_BUDGET`), on every input; None otherwise. An input on which
        the program is undefined (its evaluation raises) does not count."""
        if not self.position_only(selector):
            if not self.exhaustive.complete:
                return None
            return all(all(any(row) for row in env[selector])
                       for env in self.exhaustive.envs() if selector in env)
        key = ("decided", selector)
        if key not in self.memo:
            owner = selector.owner
            before = ancestors(owner) | {owner}
            ops = [o for o in self.program.block.ops if o in before]
            token = self.program.vocab_values[0]
            decided = True
            for n in range(1, self.program.length + 1):
                try:
                    rows = run_ops(self.program, ops, [token] * n)[selector]
                except UNDEFINED:
                    continue
                if not all(any(row) for row in rows):
                    decided = False
                    break
            self.memo[key] = decided
        return self.memo[key]

    def always_selects(self, selector: SSAValue) -> bool:
        """`rasp-infer-values`' rule, refined with nullability; selectors of the positions
        only (decided exactly, `decided_selects`); a selector that selects its own position
        (`selects_itself`); Select(indices, q, EQ-like) where q is at most the position; else,
        for a program with few inputs, decided on every input; else decided per position
        and token (`decision`)."""
        if always_selects(selector):
            return True
        if self.position_only(selector):
            return bool(self.decided_selects(selector))
        key = ("always", selector)
        if key not in self.memo:
            self.memo[key] = False  # cycles (none expected) count as unknown
            self.memo[key] = self._by_rules(selector) or bool(self.decided_selects(selector))
            if not self.memo[key] and not self.exhaustive.complete:
                self.memo[key] = self.decision(selector).selects is True
        return self.memo[key]

    @property
    def empty_rows(self) -> EmptyRows:
        """The per-position decisions for this program's selectors (made once each)."""
        if "empty_rows" not in self.memo:
            self.memo["empty_rows"] = EmptyRows(self.program, self.position_only,
                                                self.always_selects, predicate,
                                                self.decide_budget)
        return self.memo["empty_rows"]

    def decision(self, selector: SSAValue, want: int = 1) -> Decision:
        """`tracr_ir.analysis.decide`'s answer for `selector`: a proof that every query
        selects a key, up to `want` inputs on which a query selects nothing, or why it is
        not decided."""
        return self.empty_rows.decide(selector, want)

    def decide_one_value(self, selector: SSAValue, value: SSAValue) -> Decision:
        """`tracr_ir.analysis.decide`'s answer to whether every query's selected keys hold
        one value of `value`, with an input where they do not."""
        return self.empty_rows.one_value(selector, value)

    def _by_rules(self, selector: SSAValue) -> bool:
        op = selector.owner
        if isinstance(op, rasp.SelectorOrOp):
            if self.always_selects(op.fst) or self.always_selects(op.snd):
                return True
        if self.selects_itself(selector):
            return True
        if not isinstance(op, rasp.SelectOp):
            return False
        if op.keys is self.program.indices and self.below_position(op.queries):
            pred = predicate(op)
            return not self.nullable(op.queries) and all(
                pred(x, x) for x in values_of(op.queries))
        return False

    @property
    def joint(self) -> JointValues:
        """The pairs two s-ops hold together at one position (`tracr_ir.analysis.joint`)."""
        if "joint" not in self.memo:
            self.memo["joint"] = JointValues(self.program.length, values_of,
                                             self.always_selects)
        return self.memo["joint"]

    def selects_itself(self, selector: SSAValue, negated: bool = False) -> bool:
        """Every query selects (at least) its own position: for a Select, the predicate holds
        on every (key, query) pair the two s-ops hold together at one position, neither
        ever None (`Select(tokens, tokens, EQ)`, `Select(f(tokens), g(tokens), pred)` with
        `pred(f(t), g(t))` for every token t, ...); And, Or and Not by their parts."""
        op = selector.owner
        if isinstance(op, rasp.SelectorNotOp):
            return self.selects_itself(op.inner, not negated)
        if isinstance(op, (rasp.SelectorAndOp, rasp.SelectorOrOp)):
            both = isinstance(op, rasp.SelectorAndOp) != negated
            parts = (self.selects_itself(op.fst, negated), self.selects_itself(op.snd, negated))
            return all(parts) if both else any(parts)
        if not isinstance(op, rasp.SelectOp) or self.nullable(op.keys) or self.nullable(
                op.queries):
            return False
        pairs = self.joint.pairs(op.keys, op.queries)
        pred = predicate(op)
        return pairs is not None and all(pred(k, q) != negated for k, q in pairs)

    def functional(self, op: rasp.SelectOp, negated: bool) -> bool:
        """Each query value selects keys of at most one key value."""
        pred = predicate(op)
        keys = values_of(op.keys)
        for q in values_of(op.queries):
            if sum(pred(k, q) != negated for k in keys) > 1:
                return False
        return True

    def one_value(self, selector: SSAValue, value: SSAValue) -> bool:
        if len(value_set(value)) <= 1 or self.constant(value):
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
