"""`rasp-annotate-precision`: the precision each s-op's readers need, as an attribute.

A backward pass over the program from its output: each op's registered lowering states what
it reads in which form within which tolerance, given what its own readers need
(`RaspLowering.reads`, the rules the lowering then builds with), and each s-op keeps the
smallest tolerance per form. With a numerical output:
```
%frac = rasp.aggregate "frac_prevs_3" %prevs, %bools default 0 : !rasp.sop<numerical, ...>
rasp.output %frac : ...
```
becomes
```
%frac = rasp.aggregate "frac_prevs_3" %prevs, %bools default 0
    {needs = #rasp.needs<numerical 5.0e-05>} : !rasp.sop<numerical, ...>
```
and `%bools` gets `numerical 2.5e-05` (half of the mean's budget). Categorical needs are l1
distances to the one-hot; `exact` reads (a selector's keys and queries) count as 1/16 since a
noisy key is snapped by an identity MLP. Reading the categorical form of a numerical s-op
needs its numerical form within a quarter of its values' smallest gap, and the other way
round 1/16. An op nothing reads gets no `needs` and is not lowered. Needs selectors in
normal form (runs `rasp-normalize-selectors` first if the program is not marked
`normalized`). The program gets the unit attribute `annotated`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from tracr_ir.dialects import rasp
from tracr_ir.lowering.patterns import lowering_for
from tracr_ir.lowering.precision import (
    CAT,
    EXACT_FORM,
    GAP_FRACTION,
    MLP_READ_TOLERANCE,
    NUM,
    encoding,
    label_of,
    output_tolerance_of,
    required_from,
    resolvable,
    set_needs,
)
from tracr_ir.passes.rasp_normalize_selectors import NORMALIZED, normalize_selectors

ANNOTATED = "annotated"


class Precision:
    """The needs found so far, per s-op and form (min over readers)."""

    def __init__(self, program: rasp.ProgramOp) -> None:
        self.program = program
        self.needs: dict[SSAValue, dict[str, float]] = {}

    def values(self, v: SSAValue) -> list[Any]:
        return [x for x in v.type.value_set or () if x is not None]  # type: ignore

    def get(self, v: SSAValue) -> tuple[float | None, float | None] | None:
        found = self.needs.get(v)
        return None if found is None else (found.get(CAT), found.get(NUM))

    def required(self, v: SSAValue) -> float:
        return required_from(self.get(v), v)

    def need(self, v: SSAValue, form: str, tol: float) -> None:
        """`v` is read in `form` (CAT, NUM or EXACT_FORM) within `tol`."""
        if form == EXACT_FORM:
            form, tol = CAT, MLP_READ_TOLERANCE  # read by a snapping MLP if noisy
        if form == CAT and encoding(v) == NUM:
            form = NUM
            tol = resolvable({x: x for x in self.values(v)}, label_of(v)) * GAP_FRACTION
        elif form == NUM and encoding(v) == CAT:
            form, tol = CAT, MLP_READ_TOLERANCE
        forms = self.needs.setdefault(v, {})
        forms[form] = min(forms.get(form, math.inf), tol)


def annotate(program: rasp.ProgramOp) -> None:
    """Write `needs` on every op whose result is read (see the module docstring)."""
    if NORMALIZED not in program.attributes:
        normalize_selectors(program)
    precision = Precision(program)
    out = program.output.value
    if encoding(out) == NUM:
        precision.need(out, NUM, output_tolerance_of(precision.values(out)))
    else:
        precision.need(out, CAT, MLP_READ_TOLERANCE)
    ops: list[Operation] = list(program.block.ops)[:-1]
    for op in reversed(ops):
        if not op.results or not isinstance(op.results[0].type, (rasp.SOpType,
                                                                  rasp.SelectorType)):
            continue
        if isinstance(op.results[0].type, rasp.SOpType) and op.results[0] not in \
                precision.needs:
            continue  # nothing reads it
        lowering = lowering_for(op)
        if lowering is None:
            continue  # reported by lower-rasp-to-craft if something reads it
        for v, form, tol in lowering.reads(op, precision):
            precision.need(v, form, tol)
    for op in ops:
        if op.results and isinstance(op.results[0].type, rasp.SOpType):
            needs = precision.get(op.results[0])
            set_needs(op, *(needs or (None, None)))
    program.attributes[ANNOTATED] = UnitAttr()


@dataclass(frozen=True)
class RaspAnnotatePrecision(ModulePass):
    """Annotate the precision each s-op's readers need (see the module docstring)."""

    name = "rasp-annotate-precision"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp):
                annotate(program)
