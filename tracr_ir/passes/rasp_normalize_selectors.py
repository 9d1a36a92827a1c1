"""`rasp-normalize-selectors`: every selector an Aggregate or SelectorWidth reads becomes a
conjunction of terms that one attention head computes.

A term is `rasp.select` with a comparison (or `rasp.selector_not` of one), or a
`rasp.select` with a table, over keys and queries that are not `rasp.full`. The selector is
put in negation normal form; each top-level conjunct that is not already a term becomes one
table Select over the product of the s-ops its literals read (a `rasp.sequence_map` named
`product` builds the tuple s-op of several keys or queries; `indices` stands in when all of
one side are Fulls). An Or of Selects on tokens:
```
%a = rasp.select "a_1" %tokens, %tokens LT : !rasp.selector
%b = rasp.select "b_2" %tokens, %indices EQ : !rasp.selector
%o = rasp.selector_or "o_3" %a, %b : !rasp.selector
%w = rasp.selector_width "w_4" %o : ...
```
becomes
```
%product = rasp.sequence_map "product" %tokens, %indices {(1, 0) -> (1, 0), ...} : ...
%o_term = rasp.select "o_3_term" %tokens, %product {(1, (1, 0)) -> false, ...} : ...
%w = rasp.selector_width "w_4" %o_term : ...
```
Selectors already in normal form are left as they are (the pass is idempotent); selector ops
nothing reads any more are erased. The program gets the unit attribute `normalized`.
(tracr refuses SelectorAnd/Or/Not: its issue #4.)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tracr_ir.analysis.facts import predicate, value_set, values_of
from tracr_ir.analysis.selectors import Formula, is_full, literals, normal_form, terms
from tracr_ir.dialects import rasp
from tracr_ir.dialects.program import fresh_label
from tracr_ir.dialects.rasp_attrs import TableAttr
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.passes.rasp_prove_facts import FACTS, prove_facts

NORMALIZED = "normalized"

def _make(cls: type[rasp.RaspOp], label: str, operands: list[SSAValue],
          result: Any = None, **props: Any) -> rasp.RaspOp:
    return cls.create(operands=operands, result_types=[result or rasp.SelectorType()],
                      properties={"label": StringAttr(label), **props})


def _flat(row: tuple) -> Any:
    return row[0] if len(row) == 1 else row


class _Normalizer:
    """Builds the normal forms of one program's selectors, inserted before their readers."""

    def __init__(self, program: rasp.ProgramOp, max_table: int):
        self.program, self.max_table = program, max_table
        self.labels = {op.label.data for op in program.block.ops if isinstance(op, rasp.RaspOp)}
        self.products: dict[tuple, SSAValue] = {}
        self.point: InsertPoint | None = None

    def fresh(self, base: str) -> str:
        """An unused label derived from `base`."""
        return fresh_label(self.labels, base)

    def add(self, op: rasp.RaspOp) -> SSAValue:
        assert self.point is not None
        Rewriter.insert_op(op, self.point)
        result = op.results[0]
        result.name_hint = op.label.data
        return result

    def normalize(self, reader: Operation, selector: SSAValue) -> SSAValue:
        if terms(selector) is not None:
            return selector
        self.point = InsertPoint.before(reader)
        f = normal_form(selector)
        conjuncts = f[1] if f[0] == "and" else [f]
        label = selector.owner.label.data  # type: ignore[union-attr]
        parts = [self.term(c, label) for c in conjuncts]
        result = parts[0]
        for part in parts[1:]:
            result = self.add(_make(rasp.SelectorAndOp, self.fresh(f"{label}_and"),
                                       [result, part]))
        return result

    def term(self, f: Formula, label: str) -> SSAValue:
        if f[0] == "lit" and not is_full(f[1].keys) and not is_full(f[1].queries):
            select = f[1]
            if not f[2]:
                return select.results[0]
            if select.comparison is not None:
                return self.add(_make(rasp.SelectorNotOp, self.fresh(f"{select.label.data}_not"),
                                      [select.results[0]]))
        lits = literals(f)
        keys = tuple(dict.fromkeys(op.keys for op, _ in lits if not is_full(op.keys)))
        queries = tuple(dict.fromkeys(op.queries for op, _ in lits
                                      if not is_full(op.queries)))
        key_rows, query_rows = self.rows(keys), self.rows(queries)
        if len(key_rows) * len(query_rows) > self.max_table:
            raise UnsupportedProgramError(
                f"the selector term needs a table of {len(key_rows) * len(query_rows)} "
                f"entries, above max_table={self.max_table}", lits[0][0].label.data)
        preds = {op: predicate(op) for op, _ in lits}

        def slot(v: SSAValue, group: tuple, row: tuple) -> Any:
            return v.owner.fill.data if is_full(v) else row[group.index(v)]  # type: ignore

        def holds(g: Formula, k: tuple, q: tuple) -> bool:
            if g[0] == "lit":
                op = g[1]
                return preds[op](slot(op.keys, keys, k), slot(op.queries, queries, q)) != g[2]
            parts = (holds(h, k, q) for h in g[1])
            return all(parts) if g[0] == "and" else any(parts)

        table = {(_flat(k), _flat(q)): holds(f, k, q) for k in key_rows for q in query_rows}
        return self.add(_make(rasp.SelectOp, self.fresh(f"{label}_term"),
                              [self.side(keys), self.side(queries)],
                              table=TableAttr.from_dict(table)))

    def rows(self, group: tuple) -> list[tuple]:
        if not group:
            return [(i,) for i in range(self.program.length)]  # indices as a placeholder
        return list(itertools.product(*(values_of(v) for v in group)))

    def side(self, group: tuple) -> SSAValue:
        """The s-op a term reads: one s-op, `indices`, or the product s-op of several."""
        if not group:
            return self.program.indices
        if len(group) == 1:
            return group[0]
        if group not in self.products:
            current = group[0]
            values: list[Any] = [(v,) for v in values_of(group[0])]
            for v in group[1:]:
                new_values = [p + (w,) for p in values for w in values_of(v)]
                if len(new_values) > self.max_table:
                    raise UnsupportedProgramError(
                        f"the product s-op of a selector term would have {len(new_values)} "
                        f"values, above max_table={self.max_table}",
                        v.owner.label.data if isinstance(v.owner, rasp.RaspOp) else None)
                table = {(_flat(p), w): p + (w,) for p in values for w in values_of(v)}
                maybe_none = [None] if None in value_set(current) + value_set(v) else []
                current = self.add(_make(
                    rasp.SequenceMapOp, self.fresh("product"), [current, v],
                    rasp.SOpType(rasp.CATEGORICAL, maybe_none + new_values),
                    table=TableAttr.from_dict(table)))
                values = new_values
            self.products[group] = current
        return self.products[group]


def normalize_selectors(program: rasp.ProgramOp, max_table: int = 1 << 20) -> None:
    """Put every selector `program` reads in normal form, in place."""
    if FACTS not in program.attributes:
        prove_facts(program)
    normalizer = _Normalizer(program, max_table)
    for op in list(program.block.ops):
        if isinstance(op, (rasp.AggregateOp, rasp.SelectorWidthOp)):
            new = normalizer.normalize(op, op.selector)
            if new is not op.selector:
                op.operands = [new, *op.operands[1:]]
    for op in reversed(list(program.block.ops)):
        if (isinstance(op, (rasp.SelectOp, rasp.SelectorAndOp, rasp.SelectorOrOp,
                            rasp.SelectorNotOp)) and not op.results[0].uses):
            Rewriter.erase_op(op)
    program.attributes[NORMALIZED] = UnitAttr()


@dataclass(frozen=True)
class RaspNormalizeSelectors(ModulePass):
    """Selectors as conjunctions of attention terms (see the module docstring)."""

    name = "rasp-normalize-selectors"

    max_table: int = 1 << 20

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp):
                normalize_selectors(program, self.max_table)
