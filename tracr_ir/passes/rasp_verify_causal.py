"""`rasp-verify-causal`: refuse a `causal` program whose causal model would not equal a causal
evaluation; a no-op on non-causal programs.

A causal model's output at position i must be `evaluate(program, xs[:i+1])[i]`, while each of
its attention heads reads keys 0..i computed from their own prefixes. So an s-op read as a key
or value must be *stable*: its value at position j must not depend on tokens after j. Inputs
are stable; element-wise ops of stable s-ops are stable; an Aggregate or SelectorWidth is
stable when its keys, values and queries are, and its selector selects only keys at or before
the query (`Select(indices, indices, LEQ | LT | EQ)`, a table with that property, an And with
such a term, or an Or of two such selectors). Queries and the output need only be right at the
last position of each prefix, which element-wise ops and attention over stable keys and
values keep; the program is refused when its output is not, naming the op that reads an
unstable s-op.

```
%s = rasp.select "all_1" %tokens, %tokens TRUE : !rasp.selector
%n = rasp.selector_width "length_2" %s : ...      // right at the end of each prefix only
%k = rasp.select "k_3" %indices, %n EQ : ...      // %n as queries: fine
%r = rasp.aggregate "r_4" %k, %n default none     // %n as values: refused
```
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from tracr_ir.dialects import rasp
from tracr_ir.dialects.program import describe
from tracr_ir.errors import UnsupportedProgramError

#: Ops whose position i reads only position i of their operands.
_ELEMENTWISE = (rasp.MapOp, rasp.SequenceMapOp, rasp.LinearSequenceMapOp, rasp.FullOp)
_BACKWARD = {rasp.Comparison.LEQ, rasp.Comparison.LT, rasp.Comparison.EQ}


def _is_indices(value: SSAValue, program: rasp.ProgramOp) -> bool:
    return value is program.indices


def selects_backward(selector: SSAValue, program: rasp.ProgramOp) -> bool:
    """Whether the selector only ever selects keys at or before the query position."""
    op = selector.owner
    if isinstance(op, rasp.SelectorAndOp):
        return selects_backward(op.fst, program) or selects_backward(op.snd, program)
    if isinstance(op, rasp.SelectorOrOp):
        return selects_backward(op.fst, program) and selects_backward(op.snd, program)
    if not isinstance(op, rasp.SelectOp):
        return False
    if not (_is_indices(op.keys, program) and _is_indices(op.queries, program)):
        return False
    if op.comparison is not None:
        return op.comparison.data in _BACKWARD or op.comparison.data == rasp.Comparison.FALSE
    if op.table is not None:
        return all(not selected or not _positions(key, query) or key <= query
                   for (key, query), selected in op.table.data)
    return False


def _positions(*values: object) -> bool:
    """Whether the values can be positions: a table entry of other values (text can hold
    any) never applies to `indices`, and `"a" <= 0` would raise."""
    return all(type(v) in (bool, int, float) for v in values)


def _selects(selector: SSAValue) -> list[rasp.SelectOp]:
    """The Selects a selector combines (through And, Or and Not)."""
    op = selector.owner
    if isinstance(op, rasp.SelectOp):
        return [op]
    return [s for operand in op.operands for s in _selects(operand)]


def check_causal(program: rasp.ProgramOp) -> None:
    """Raise `UnsupportedProgramError` unless the output is right at the end of each prefix."""
    stable: dict[SSAValue, bool] = {program.tokens: True, program.indices: True}
    at_end: dict[SSAValue, str | None] = {program.tokens: None, program.indices: None}
    for op in program.block.ops:
        if isinstance(op, (rasp.AggregateOp, rasp.SelectorWidthOp)):
            selects = _selects(op.selector)
            keys = [s.keys for s in selects]
            if isinstance(op, rasp.AggregateOp):
                keys.append(op.sop)
            queries = [s.queries for s in selects]
            unstable = [v for v in keys if not stable[v]]
            if unstable:
                culprit = unstable[0].owner
                assert isinstance(culprit, Operation)
                at_end[op.output] = (
                    f"'{op.label.data}' reads '{culprit.label.data}' at earlier positions, "
                    "where a causal model computes it from a shorter prefix than the "
                    "evaluation does"
                )
            else:
                at_end[op.output] = next((at_end[q] for q in queries if at_end[q]), None)
            stable[op.output] = (
                not unstable
                and all(stable[q] for q in queries)
                and selects_backward(op.selector, program)
            )
        elif isinstance(op, _ELEMENTWISE) or getattr(op, "ELEMENTWISE", False):
            stable[op.results[0]] = all(stable.get(v, True) for v in op.operands)
            at_end[op.results[0]] = next(
                (at_end[v] for v in op.operands if at_end.get(v)), None
            )
        elif op.results and isinstance(op.results[0].type, rasp.SOpType):
            # An op of another dialect: nothing is known of how it mixes positions.
            stable[op.results[0]] = False
            at_end[op.results[0]] = (
                f"{describe(op)} has no causal rule "
                "(an op whose position i depends only on position i of its operands can "
                "say so with the class attribute ELEMENTWISE = True)")
    reason = at_end[program.output.value]
    if reason is not None:
        owner = program.output.value.owner
        label = owner.properties.get("label") if isinstance(owner, Operation) else None
        raise UnsupportedProgramError(f"cannot be compiled causally: {reason}",
                                      label.data if label is not None else None)


@dataclass(frozen=True)
class RaspVerifyCausal(ModulePass):
    """Refuse causal programs that cannot be exact causally (see the module docstring)."""

    name = "rasp-verify-causal"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp) and program.is_causal:
                check_causal(program)
