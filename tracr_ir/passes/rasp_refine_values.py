"""`rasp-refine-values`: value sets narrowed to what each s-op can hold, facts into the IR.

`rasp-infer-values` over-approximates: a SequenceMap of an s-op with itself gets every pair's
value, and `none` flows wherever an Aggregate might select nothing. This pass narrows each
type to the values reachable from the program's inputs (a SequenceMap or LinearSequenceMap of
an s-op with itself sees only equal pairs, and so on downstream), drops `none` where it proves
the s-op is never None (`tracr_ir.analysis.facts`), restricts tables to the narrowed inputs,
and marks every Aggregate whose selector selects a key for every query on every input:
```
%same = rasp.sequence_map "same_2" %tokens, %tokens {(1, 1) -> 2, (1, 2) -> 3, ...}
    : !rasp.sop<categorical, {2, 3, 4}>
%agg = rasp.aggregate "agg_4" %sel, %m default none : !rasp.sop<categorical, {none, 1, 2}>
```
becomes, with vocab {1, 2} and a selector that always selects,
```
%same = rasp.sequence_map "same_2" %tokens, %tokens {(1, 1) -> 2, (2, 2) -> 4}
    : !rasp.sop<categorical, {2, 4}>
%agg = rasp.aggregate "agg_4" %sel, %m default none {always_selects}
    : !rasp.sop<categorical, {1, 2}>
```
The program gets the unit attribute `refined`. A value set that lacks a value the s-op can
hold (hand-written IR) is refused naming the op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tracr_ir.analysis.decide import DECIDE_BUDGET
from tracr_ir.analysis.joint import JointValues
from tracr_ir.analysis.facts import ProgramFacts, numbers, table_of, value_set
from tracr_ir.dialects import rasp
from tracr_ir.dialects.program import describe
from tracr_ir.dialects.rasp_attrs import TableAttr
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.passes.rasp_infer_values import Limits, mean_values
from tracr_ir.values import format_value

#: Unit attributes: on `rasp.program` once refined; on an Aggregate that always selects.
REFINED = "refined"
ALWAYS_SELECTS = "always_selects"


def check_inferred(program: rasp.ProgramOp, pass_name: str) -> None:
    """Every s-op has a value set and every function a table, or a `PipelineError`."""
    where = None
    if any(value_set(a) is None for a in (program.tokens, program.indices)):
        where = "the program's inputs"
    for op in program.block.ops if where is None else ():
        result = op.results[0] if op.results else None
        if getattr(op, "fn", None) is not None or (
                result is not None and isinstance(result.type, rasp.SOpType)
                and value_set(result) is None):
            where = describe(op)
            break
    if where is not None:
        raise PipelineError(f"{where}: {pass_name} needs value sets and tables: run "
                            "rasp-infer-values first (an op of your own dialect needs its "
                            "value inference registered: register_inference)")


class Reachable:
    """The values each s-op can hold (None aside), forward over the program."""

    def __init__(self, program: rasp.ProgramOp, facts: ProgramFacts):
        self.program, self.facts = program, facts
        self.reach: dict[SSAValue, tuple] = {}
        self.joint = JointValues(program.length, self.values, facts.always_selects)
        for op in program.block.ops:
            if (isinstance(op, rasp.RaspOp) and op.results
                    and isinstance(op.results[0].type, rasp.SOpType)):
                self.reach[op.results[0]] = self._reachable(op)

    def values(self, v: SSAValue) -> list[Any]:
        return list(self.reach.get(v, numbers(value_set(v))))

    def _reachable(self, op: rasp.RaspOp) -> tuple:
        y = op.results[0]
        everything = numbers(value_set(y))
        out: list[Any]
        if isinstance(op, rasp.MapOp):
            table = table_of(op)
            out = [table[x] for x in self.values(op.input) if x in table]
        elif isinstance(op, (rasp.SequenceMapOp, rasp.LinearSequenceMapOp)):
            if isinstance(op, rasp.SequenceMapOp):
                table = table_of(op)
                f = lambda x, z: table.get((x, z))  # noqa: E731
            else:
                a, b = op.fst_fac.data, op.snd_fac.data
                f = lambda x, z: a * x + b * z  # noqa: E731
            joint = self.joint.pairs(op.fst, op.snd)
            if joint is not None:
                fst, snd = set(self.values(op.fst)), set(self.values(op.snd))
                out = [f(x, z) for x, z in joint if x in fst and z in snd]
            else:
                out = [f(x, z) for x in self.values(op.fst) for z in self.values(op.snd)]
        elif isinstance(op, rasp.AggregateOp) and not y.type.is_numerical:  # type: ignore
            out = self.values(op.sop)
            if not self.facts.always_selects(op.selector):
                out.append(op.default.data)
        elif isinstance(op, rasp.AggregateOp):
            inner = self.values(op.sop)
            if len(inner) == len(numbers(value_set(op.sop))):
                return tuple(everything)
            out = list(mean_values(tuple(inner), self.program.length,
                                   Limits(1 << 17, 1 << 20), op))
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
            raise UnsupportedProgramError(
                f"its value set lacks {format_value(missing[0])}, which it can hold",
                op.label.data)
        return tuple(x for x in everything if x in kept)


def refine(program: rasp.ProgramOp, pass_name: str = "rasp-refine-values",
           decide_budget: int = DECIDE_BUDGET) -> None:
    """Narrow `program`'s types and tables in place (see the module docstring)."""
    check_inferred(program, pass_name)
    facts = ProgramFacts(program, decide_budget=decide_budget)
    reach = Reachable(program, facts)
    new_values = {y: (*((None,) if facts.nullable(y) else ()), *values)
                  for y, values in reach.reach.items()}
    selects = {op for op in program.block.ops
               if isinstance(op, rasp.AggregateOp) and facts.always_selects(op.selector)}
    allowed = {y: set(numbers(v)) for y, v in new_values.items()}

    def inside(v: SSAValue, x: Any) -> bool:
        return x in allowed[v] if v in allowed else True

    for op in list(program.block.ops):
        if isinstance(op, rasp.MapOp) and op.table is not None:
            op.table = TableAttr.from_dict(
                {x: r for x, r in table_of(op).items() if inside(op.input, x)})
        elif isinstance(op, rasp.SequenceMapOp) and op.table is not None:
            joint = reach.joint.pairs(op.fst, op.snd)
            seen = set(joint) if joint is not None else None
            op.table = TableAttr.from_dict(
                {(x, z): r for (x, z), r in table_of(op).items()
                 if inside(op.fst, x) and inside(op.snd, z)
                 and (seen is None or (x, z) in seen)})
        if op in selects:
            op.attributes[ALWAYS_SELECTS] = UnitAttr()
    for y, values in new_values.items():
        if tuple(values) != tuple(value_set(y)):
            Rewriter.replace_value_with_new_type(
                y, rasp.SOpType(y.type.encoding.data, values))  # type: ignore[attr-defined]
    program.attributes[REFINED] = UnitAttr()


@dataclass(frozen=True)
class RaspRefineValues(ModulePass):
    """Narrow value sets and record `always_selects` (see the module docstring).
    `decide_budget` bounds the work of deciding whether a selector can select nothing
    (`tracr_ir.analysis.decide`) when no rule proves it always selects."""

    name = "rasp-refine-values"

    decide_budget: int = DECIDE_BUDGET

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp):
                refine(program, decide_budget=self.decide_budget)
