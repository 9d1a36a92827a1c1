"""`LoweringState`: what a rasp -> craft pattern lowers one op with.

While `lower-rasp-to-craft` runs, craft ops sit in the `rasp.program` before the rasp ops
they replace, and each lowered rasp value is the result of a
`builtin.unrealized_conversion_cast` of its craft value:
```
%tokens_c = builtin.unrealized_conversion_cast %tokens : !rasp.sop<...> to !craft.space<...>
%m_c = craft.categorical_mlp "m_1" %tokens_c {1 -> 2, 2 -> 4} : !craft.space<[m_1:2, m_1:4]>
%m = builtin.unrealized_conversion_cast %m_c : !craft.space<[...]> to !rasp.sop<...>
```
A pattern asks for an operand in the form it reads (`categorical`, `numerical`, `exact`);
conversions between forms (`<label>_cat`, `<label>_num`, `<label>_snap`) are built once,
before their first reader. Every block is added with the error bound of its output (l1 for
categorical); `finish` refuses a value whose bound misses what its readers need (the
`needs` annotation of `rasp-annotate-precision`).
"""

from __future__ import annotations

import re
from typing import Any

from xdsl.dialects.builtin import UnrealizedConversionCastOp
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint

from tracr_ir.analysis.selectors import terms
from tracr_ir.craft import numerics
from tracr_ir.craft.bases import Space
from tracr_ir.craft.tolerances import Bound, fits
from tracr_ir.dialects import craft, rasp
from tracr_ir.dialects.program import describe, fresh_label
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.lowering.precision import (
    CAT,
    EXACT,
    EXACT_FORM,
    NUM,
    change_gap,
    compress,
    encoding,
    label_of,
    needs_of,
    required_from,
)
from tracr_ir.passes.rasp_prove_facts import check_numbers


def _hint(label: str) -> str:
    hint = re.sub(r"[^A-Za-z0-9_.$-]", "_", label)
    return hint if re.match(r"[A-Za-z_$.-]", hint) else f"v{hint}"


class LoweringState:
    """The lowering of one `rasp.program` in progress (see the module docstring)."""

    def __init__(self, program: rasp.ProgramOp, max_table: int, direct: bool = True):
        self.src = program
        self.L = program.length
        self.max_table = max_table
        self.direct = direct  # whether lookups may pass their input's error on (`direct`)
        self.labels: set[str] = {op.properties["label"].data for op in program.block.ops
                                 if "label" in op.properties}  # type: ignore[attr-defined]
        # rasp value (block argument or cast result) -> form -> craft value
        self.forms: dict[SSAValue, dict[str, SSAValue]] = {}
        #: The label of each lowered rasp value's op (its cast carries only a name hint).
        self.sop_labels: dict[SSAValue, str] = {}
        #: The bound of each craft value, as its op states it (`CraftOp.output_bound`).
        self.bounds: dict[SSAValue, Bound] = {}
        self.entry: list[UnrealizedConversionCastOp] = []
        self.rewriter: PatternRewriter | None = None
        self.current: Operation | None = None
        for name, arg in (("tokens", program.tokens), ("indices", program.indices)):
            space = craft.SpaceType(Space.categorical(name, self.values(arg)))
            cast = UnrealizedConversionCastOp.get([arg], [space])
            if self.entry:
                program.block.insert_op_after(cast, self.entry[-1])
            else:
                program.block.insert_op_before(cast, program.block.first_op)  # type: ignore
            cast.results[0].name_hint = f"{name}_c"
            self.entry.append(cast)
            self.forms[arg] = {CAT: cast.results[0]}
            self.bounds[cast.results[0]] = Bound.categorical(0.0)

    ## What patterns read.

    @property
    def program(self) -> rasp.ProgramOp:
        """The `rasp.program` being lowered (its `tokens`, `indices`, `length`, ...)."""
        return self.src

    def values(self, v: SSAValue) -> list[Any]:
        """The values other than None `v` can hold (its refined value set)."""
        return [x for x in v.type.value_set or () if x is not None]  # type: ignore

    def required(self, v: SSAValue) -> float:
        """The precision `v`'s natural form must have (its `needs`)."""
        owner = v.owner
        return required_from(needs_of(owner) if isinstance(owner, Operation) else None, v)

    def is_read(self, op: Operation) -> bool:
        return needs_of(op) is not None

    def space(self, label: str, v: SSAValue, enc: str | None = None) -> Space:
        if (enc or encoding(v)) == NUM:
            return Space.numerical(label)
        return Space.categorical(label, self.values(v))

    def fresh(self, base: str) -> str:
        """An unused label derived from `base`."""
        return fresh_label(self.labels, base)

    ## Forms of operands.

    def label(self, v: SSAValue) -> str:
        """The label of the rasp op computing `v` (lowered or not)."""
        return self.sop_labels.get(v) or label_of(v)

    def _forms(self, v: SSAValue) -> dict[str, SSAValue]:
        if v not in self.forms:
            owner = v.owner
            what = describe(owner) if isinstance(owner, Operation) else "a block argument"
            raise UnsupportedProgramError(
                f"no lowering for {what} (register a pattern with "
                "tracr_ir.lowering.patterns.register_lowering)", None)
        return self.forms[v]

    def natural(self, v: SSAValue) -> SSAValue:
        forms = self._forms(v)
        return forms[encoding(v)]

    def get_cat(self, v: SSAValue) -> SSAValue:
        forms = self._forms(v)
        if CAT not in forms:
            values = self.values(v)
            label = self.fresh(f"{self.label(v)}_cat")
            forms[CAT] = self.discretise(label, forms[NUM], {x: x for x in values},
                                         Space.categorical(label, values))
        return forms[CAT]

    def get_num(self, v: SSAValue) -> SSAValue:
        forms = self._forms(v)
        if NUM not in forms:
            values = self.values(v)
            label = self.fresh(f"{self.label(v)}_num")
            check_numbers(v, label, f"the numerical form of {self.label(v)}")
            forms[NUM] = self.lookup(label, self.get_cat(v), {x: x for x in values},
                                     Space.numerical(label))
        return forms[NUM]

    def get_exact(self, v: SSAValue) -> SSAValue:
        """`v` as an exact one-hot (for a selector's keys or queries)."""
        c = self.get_cat(v)
        if self.error(c) <= EXACT:
            return c
        forms = self._forms(v)
        if EXACT_FORM not in forms:
            label = self.fresh(f"{self.label(v)}_snap")
            values = self.values(v)
            forms[EXACT_FORM] = self.lookup(label, c, {x: x for x in values},
                                            Space.categorical(label, values))
        return forms[EXACT_FORM]

    def form(self, v: SSAValue, form: str) -> SSAValue:
        return {CAT: self.get_cat, NUM: self.get_num, EXACT_FORM: self.get_exact}[form](v)

    ## Building.

    def error(self, value: SSAValue) -> float:
        """How far the craft value `value` may be from its intended value (l1 for
        categorical)."""
        return self.bounds[value].error

    def add(self, op: craft.CraftOp, error: float | None = None) -> SSAValue:
        """Insert `op` before the op being lowered. Its output's bound is the one the op
        states for its operands' bounds (`output_bound`, which the craft exactness verifier
        checks too); an `error` a pattern claims can only make it larger."""
        if self.rewriter is None or self.current is None:
            raise PipelineError("LoweringState.add outside a pattern's rewrite")
        bound = self.bound_of(op)
        if error is not None and error > bound.error:
            bound = Bound(error, low=bound.low, high=bound.high)
        self.rewriter.insert(op, InsertPoint.before(self.current))
        result = op.output
        result.name_hint = _hint(op.label_text)
        self.bounds[result] = bound
        return result

    def bound_of(self, op: craft.CraftOp) -> Bound:
        """The bound `op`'s output would have (its operands already added)."""
        return op.output_bound([self.bounds[v] for v in op.operands], self.L)

    def erase(self, value: SSAValue) -> None:
        """Erase a block just added (e.g. a construction that turned out too inexact)."""
        assert self.rewriter is not None and isinstance(value.owner, Operation)
        self.rewriter.erase(value.owner)
        self.bounds.pop(value, None)

    def lookup(self, label: str, x: SSAValue, table: dict, out: Space,
               need: float | None = None) -> SSAValue:
        """A categorical_mlp: `direct` (one neuron per output value, the input's error passed
        on) where that is within `need` or as exact as snapping, else snapped (exact output;
        float32 estimate for numerical outputs)."""
        numerical = len(out) == 1 and out[0].value is None
        if numerical:
            table = {k: (0 if v is None else v) for k, v in table.items()}
        return self._least([craft.CategoricalMLPOp(label, x, table, out, direct=True),
                            craft.CategoricalMLPOp(label, x, table, out)], need)

    def _least(self, ops: list[craft.CraftOp], need: float | None) -> SSAValue:
        """Add the first of `ops` (narrowest first) whose output is within `need` or as exact
        as the last one's (the fallback); the others are dropped. Without `direct`, the
        fallback (the snapped construction)."""
        fallback = ops[-1]
        limit = 0.0 if need is None else need
        chosen = fallback
        for op in ops[:-1] if self.direct else ():
            error = self.bound_of(op).error
            if fits(error, limit) or fits(error, self.bound_of(fallback).error):
                chosen = op
                break
        for op in ops:
            if op is not chosen:
                op.erase()
        return self.add(chosen)

    def discretise(self, label: str, x: SSAValue, table: dict, out: Space) -> SSAValue:
        """A numerical_mlp on `x`'s error bound; refused if `x` is too noisy for it."""
        table = compress(table)
        gap = change_gap(table)
        if not self.error(x) < gap / 2:
            raise UnsupportedProgramError(
                f"its input values are {gap:.3g} apart where its output changes, but the "
                f"input is only known within {self.error(x):.3g}", label)
        return self.add(craft.NumericalMLPOp(label, x, table, self.error(x), out))

    def pairs(self, label: str, a: SSAValue, b: SSAValue, f: Any, y: SSAValue,
              need: float | None = None) -> SSAValue:
        """A sequence_map_mlp of the categorical forms of `a` and `b` through `f(pair)`:
        `direct` where that is within `need` (default: `y`'s readers' need; else with a
        `margin` of an operand's excess over 1 where that is below the errors: a head's
        output), else snapped."""
        ca, cb = self.get_cat(a), self.get_cat(b)
        va, vb = self.values(a), self.values(b)
        if len(va) * len(vb) > self.max_table:
            raise UnsupportedProgramError(
                f"a sequence map over {len(va)} x {len(vb)} values is above "
                f"max_table={self.max_table}", label)
        table = {(x, z): f((x, z)) for x in va for z in vb}
        numerical = encoding(y) == NUM
        if numerical:
            table = {k: (0 if v is None else v) for k, v in table.items()}
        out = self.space(label, y)
        ops = [craft.SequenceMapMLPOp(label, ca, cb, table, out, direct=True)]
        errors = max(self.error(ca), self.error(cb))
        for margin in sorted({self.bounds[v].coordinate_excess for v in (ca, cb)}):
            if 0 < margin < errors:
                ops.append(craft.SequenceMapMLPOp(label, ca, cb, table, out, direct=True,
                                                  margin=margin))
        return self._least([*ops, craft.SequenceMapMLPOp(label, ca, cb, table, out)],
                           self.required(y) if need is None else need)

    def terms(self, selector: SSAValue, exact: bool = True) -> list[craft.Term]:
        """The attention terms of a selector in normal form (`rasp-normalize-selectors`):
        exact keys and queries (noisy ones snapped), or with `exact=False` their categorical
        forms as they are (`term_error` gives their largest error)."""
        parts = terms(selector)
        if parts is None:
            raise PipelineError(f"{describe(selector.owner)}: lower-rasp-to-craft needs "  # type: ignore
                                "selectors in normal form: run rasp-normalize-selectors")
        out: list[craft.Term] = []
        for term in parts:
            op = term.owner
            negated = isinstance(op, rasp.SelectorNotOp)
            if negated:
                op = op.inner.owner  # type: ignore[union-attr]
            assert isinstance(op, rasp.SelectOp)
            if op.comparison is not None:
                name = op.comparison.data.value
                predicate: Any = f"not {name}" if negated else name
            else:
                predicate = {k: True for k, v in op.table.as_dict().items() if v}  # type: ignore
            form = self.get_exact if exact else self.get_cat
            out.append((form(op.keys), form(op.queries), predicate))
        return out

    def term_error(self, terms: list[craft.Term]) -> float:
        """The largest l1 error of the terms' keys and queries."""
        return max((self.error(v) for k, q, _ in terms for v in (k, q)), default=0.0)

    def check_scale(self, tolerance: float, magnitude: float, label: str) -> None:
        try:
            numerics.attention_scale(self.L, tolerance, max(magnitude, 1e-300), label=label)
        except UnsupportedProgramError as e:
            raise UnsupportedProgramError(
                f"its readers need it within {tolerance:.3g}, which a float32 softmax over "
                f"{self.L + 1} positions cannot guarantee ({e})", label) from None

    ## One op.

    def finish(self, op: Operation, value: SSAValue) -> UnrealizedConversionCastOp:
        """Record `value` as the natural form of `op`'s result, checked against its needs,
        and return the cast that replaces the result."""
        y = op.results[0]
        value.name_hint = y.name_hint
        req = self.required(y)
        if not fits(self.error(value), req):
            raise UnsupportedProgramError(
                f"its readers need it within {req:.3g}, but its construction only "
                f"guarantees {self.error(value):.3g}", label_of(y))
        cast = UnrealizedConversionCastOp.get([value], [y.type])
        cast.results[0].name_hint = y.name_hint
        self.forms[cast.results[0]] = {encoding(y): value}
        self.sop_labels[cast.results[0]] = label_of(y)
        return cast

