"""`rasp-annotate-precision`: the precision each s-op's readers need, as an attribute.

A backward sparse dataflow analysis (`xdsl.analysis`, meet = min per form) from the
program's output: each op's registered lowering states what
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

from xdsl.analysis.dataflow import DataFlowSolver, ProgramPoint
from xdsl.analysis.dead_code_analysis import Executable
from xdsl.analysis.sparse_analysis import Lattice, SparseBackwardDataFlowAnalysis
from xdsl.context import Context
from xdsl.dialects.builtin import FloatAttr, ModuleOp, UnitAttr, f64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from tracr_ir.dialects import rasp
from tracr_ir.errors import PipelineError
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
#: The `share` the annotation was made with, when below 1 (a re-annotation keeps it).
SHARE = "precision_share"


def share_of(program: rasp.ProgramOp) -> float:
    """The `share` of the program's last annotation (1 if none was recorded)."""
    attr = program.attributes.get(SHARE)
    return attr.value.data if isinstance(attr, FloatAttr) else 1.0


@dataclass(frozen=True)
class Needs:
    """The lattice value: the tightest tolerance any reader needs, per form (inf: unread);
    `meet` is the minimum."""

    categorical: float = math.inf
    numerical: float = math.inf

    @classmethod
    def initial_value(cls) -> Needs:
        return cls()

    def meet(self, other: Needs) -> Needs:
        return Needs(min(self.categorical, other.categorical),
                     min(self.numerical, other.numerical))

    def join(self, other: Needs) -> Needs:
        return Needs(max(self.categorical, other.categorical),
                     max(self.numerical, other.numerical))

    def pair(self) -> tuple[float | None, float | None] | None:
        """(categorical, numerical) with None for an unread form; None if unread."""
        cat = None if math.isinf(self.categorical) else self.categorical
        num = None if math.isinf(self.numerical) else self.numerical
        return None if cat is None and num is None else (cat, num)


class NeedsLattice(Lattice[Needs]):
    value_cls = Needs


def need(v: SSAValue, form: str, tol: float, values: list[Any]) -> Needs:
    """What reading `v` in `form` (CAT, NUM or EXACT_FORM) within `tol` needs of its natural
    form and of its other one."""
    if form == EXACT_FORM:
        form, tol = CAT, MLP_READ_TOLERANCE  # read by a snapping MLP if noisy
    if form == CAT and encoding(v) == NUM:
        form = NUM
        tol = resolvable({x: x for x in values}, label_of(v)) * GAP_FRACTION
    elif form == NUM and encoding(v) == CAT:
        form, tol = CAT, MLP_READ_TOLERANCE
    return Needs(categorical=tol) if form == CAT else Needs(numerical=tol)


class _View:
    """What a precision rule sees while the analysis runs (`lowering.precision.Analysis`)."""

    def __init__(self, analysis: PrecisionAnalysis):
        self.analysis = analysis
        self.program = analysis.program

    def values(self, v: SSAValue) -> list[Any]:
        return [x for x in v.type.value_set or () if x is not None]  # type: ignore

    def required(self, v: SSAValue) -> float:
        return required_from(self.analysis.get_lattice_element(v).value.pair(), v)


class PrecisionAnalysis(SparseBackwardDataFlowAnalysis[NeedsLattice]):
    """Backward over the program: each read op meets what its lowering's `reads` rule
    needs into the lattices of the s-ops it reads (operands, or a selector's keys and
    queries)."""

    def __init__(self, solver: DataFlowSolver, program: rasp.ProgramOp):
        super().__init__(solver, NeedsLattice)
        self.program = program
        self.view = _View(self)

    def visit_operation_impl(self, op: Operation, operand_lattices: list[NeedsLattice],
                             result_lattices: list[NeedsLattice]) -> None:
        if isinstance(op, rasp.OutputOp):
            out = op.value
            self._meet(out, Needs(numerical=output_tolerance_of(self.view.values(out)))
                       if encoding(out) == NUM else Needs(categorical=MLP_READ_TOLERANCE))
            return
        if not result_lattices or not isinstance(op.results[0].type, rasp.SOpType):
            return  # selectors: the heads reading them read their terms
        if result_lattices[0].value.pair() is None:
            return  # nothing reads it (yet)
        lowering = lowering_for(op)
        if lowering is None:
            return  # reported by lower-rasp-to-craft if something reads it
        for v, form, tol in lowering.reads(op, self.view):
            self._meet(v, need(v, form, tol, self.view.values(v)))

    def _meet(self, v: SSAValue, needs: Needs) -> None:
        self.meet(self.get_lattice_element(v), NeedsLattice(v, needs))

    def set_to_exit_state(self, lattice: NeedsLattice) -> None:
        pass


def annotate(program: rasp.ProgramOp, share: float = 1.0) -> None:
    """Write `needs` on every op whose result is read (see the module docstring);
    `share` < 1 writes that share of every tolerance, keeping the rest for later
    constructions (`craft-layer-norm` needs a little)."""
    if NORMALIZED not in program.attributes:
        normalize_selectors(program)
    solver = DataFlowSolver(Context())
    analysis = solver.load(PrecisionAnalysis, program)
    entry = solver.get_or_create_state(ProgramPoint.at_start_of_block(program.block),
                                       Executable)
    entry.set_to_live()
    solver.initialize_and_run(program)
    for op in program.block.ops:
        if op.results and isinstance(op.results[0].type, rasp.SOpType):
            needs = analysis.get_lattice_element(op.results[0]).value.pair()
            if needs is not None and share < 1:
                cat, num = needs  # a categorical value's readers need at least the default
                if encoding(op.results[0]) == CAT:
                    cat = min(MLP_READ_TOLERANCE if cat is None else cat, MLP_READ_TOLERANCE)
                needs = tuple(None if x is None else share * x for x in (cat, num))
            set_needs(op, *(needs or (None, None)))
    program.attributes[ANNOTATED] = UnitAttr()
    if share < 1:
        program.attributes[SHARE] = FloatAttr(share, f64)
    else:
        program.attributes.pop(SHARE, None)


@dataclass(frozen=True)
class RaspAnnotatePrecision(ModulePass):
    """Annotate the precision each s-op's readers need (see the module docstring)."""

    name = "rasp-annotate-precision"
    share: float = 1.0  # of every tolerance given to the constructions (the rest is kept)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not 0 < self.share <= 1:
            raise PipelineError(f"rasp-annotate-precision: share must be in (0, 1], "
                                f"got {self.share!r}")
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp):
                annotate(program, self.share)
