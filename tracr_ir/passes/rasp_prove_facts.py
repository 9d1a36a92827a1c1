"""`rasp-prove-facts`: the facts the lowering relies on, proven into the IR, or a refusal.

Runs after `rasp-refine-values` (whose types already say which s-ops can be None). For each
categorical Aggregate it records how one value per query is known:
```
%sort = rasp.aggregate "sort_4" %select, %tokens default none {one_value = "proven"} : ...
```
`"proven"`: the value s-op has one value or is the same at every position, or the selector
is a Select whose predicate lets each query value select keys of at most one key value over
keys that determine the value (or an And with such a side; `tracr_ir.analysis.facts`);
`"proven"` also when the program has few enough inputs that the witness search tried every
one (`witness.EXHAUSTIVE_BUDGET`), or when deciding it per length, position and token
(`tracr_ir.analysis.decide`, within `decide_budget`) finds no query that can select two
positions holding different values; `"tested"`: not proven, and no input the decision or the
witness search tried (all short inputs, then random ones up to max_seq_len, on the rasp
interpreter) selects keys holding different values. With a witness the program is refused. The program gets the
unit attribute `facts`.

A numerical s-op whose type holds `none` is refused with an input on which it is None: one
on which an Aggregate it depends on selects nothing (`tracr_ir.analysis.decide` finds those
for any length and vocabulary, confirmed on the rasp interpreter), or one the witness search
finds. When the search tries every input and finds none, never None is proven and `none`
leaves its type. A refusal without a witness says why each such Aggregate is undecided (the
decision ran out of its budget: `decide_budget`) and what the search showed.

Refused with `UnsupportedProgramError` naming the op:
- a numerical s-op that may be None, or holds a non-finite or non-numeric value;
- a Select whose keys or queries are numerical;
- a numerical Aggregate that may select nothing, with a default other than 0;
- a categorical Aggregate that may select nothing, with a non-None default, over a value
  s-op that may be None (a selected None would read as an empty selection);
- a categorical Aggregate with a witness, as above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tracr_ir.analysis.decide import DECIDE_BUDGET
from tracr_ir.analysis.facts import ProgramFacts, label_of, value_set, values_of
from tracr_ir.analysis.witness import (UNDEFINED, ancestors, exhaustive, find_none,
                                       find_witness, searched)
from tracr_ir.dialects import rasp
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.interpreters.rasp import run_ops
from tracr_ir.passes.rasp_refine_values import ALWAYS_SELECTS, REFINED, refine
from tracr_ir.values import format_value

#: Unit attribute on `rasp.program`; string attribute on categorical Aggregates.
FACTS = "facts"
ONE_VALUE = "one_value"


def nullable(v: SSAValue) -> bool:
    """After `rasp-refine-values`, an s-op may be None iff its type says so."""
    return None in (value_set(v) or ())


def _empty_aggregates(v: SSAValue) -> list[rasp.AggregateOp]:
    """The Aggregates `v` depends on that may select nothing (default None)."""
    owner = v.owner
    ops = ancestors(owner) | {owner} if isinstance(owner, Operation) else set()
    return sorted((op for op in ops if isinstance(op, rasp.AggregateOp)
                   and ALWAYS_SELECTS not in op.attributes and op.default.data is None),
                  key=lambda op: op.label.data)


def _shown(xs: list) -> str:
    return f"[{', '.join(format_value(x) for x in xs)}]"


def _decided_none(program: rasp.ProgramOp, facts: ProgramFacts, v: SSAValue
                  ) -> tuple[str | None, list[str]]:
    """An input on which `v` is None because an Aggregate it depends on selects nothing
    there (`tracr_ir.analysis.decide`), described; else why each of them is undecided."""
    owner = v.owner
    ops = [o for o in program.block.ops if o in ancestors(owner) | {owner}]
    undecided = []
    for agg in _empty_aggregates(v):
        decision = facts.decision(agg.selector, want=8)
        if decision.selects is None:
            undecided.append(f"{agg.label.data}: {decision.reason}")
        for xs, q in decision.witnesses:
            try:
                values = run_ops(program, ops, xs)[v]
            except UNDEFINED:
                continue
            if None in values:
                return (f"on input {_shown(xs)} it is None at position {values.index(None)} "
                        f"({agg.label.data} selects nothing for query {q})"), []
    return None, undecided


def check_numbers(v: SSAValue, label: str, what: str, program: rasp.ProgramOp | None = None,
                  facts: ProgramFacts | None = None) -> None:
    """`v` never None and finite numbers only, or refused naming `label` (with an input of
    `program` on which it is None, when given and the decision or the witness search finds
    one)."""
    if nullable(v):
        witness, undecided = None, []
        if program is not None:
            facts = facts or ProgramFacts(program)
            witness, undecided = _decided_none(program, facts, v)
            witness = witness or find_none(program, v)
        if witness is None and program is not None and exhaustive(program):
            # Every input was tried: never None is proven. The type says so from now on.
            Rewriter.replace_value_with_new_type(v, rasp.SOpType(
                v.type.encoding.data,  # type: ignore[attr-defined]
                tuple(x for x in value_set(v) if x is not None)))
            return check_numbers(v, label, what)
        labels = " or ".join(op.label.data for op in _empty_aggregates(v))
        evidence = witness or ("it is not proven never None" if program is None else
                               "not proven never None (no rule proves that "
                               f"{labels or 'an Aggregate it depends on'} selects a key for "
                               f"every query{'; ' if undecided else ''}{'; '.join(undecided)})"
                               f", and {searched(program)}")
        raise UnsupportedProgramError(
            f"{what} cannot be None (the zero vector of a number is 0), but its values "
            f"include none: {evidence}. Give the Aggregates it depends on a default, or "
            "make their selectors select a key for every query", label)
    for x in values_of(v):
        if type(x) not in (bool, int, float) or not math.isfinite(float(x)):
            raise UnsupportedProgramError(
                f"{what} holds finite numbers only, not {format_value(x)}", label)


def _check_aggregate(program: rasp.ProgramOp, facts: ProgramFacts,
                     op: rasp.AggregateOp) -> None:
    label, default = op.label.data, op.default.data
    may_be_empty = ALWAYS_SELECTS not in op.attributes
    if op.output.type.is_numerical:  # type: ignore[attr-defined]
        if may_be_empty and default != 0:
            raise UnsupportedProgramError(
                "a numerical Aggregate that may select nothing needs default 0 (its empty "
                f"mean is 0), got {format_value(default)}", label)
        check_numbers(op.sop, label, "the values of a numerical Aggregate", program, facts)
        return
    if may_be_empty and default is not None and nullable(op.sop):
        raise UnsupportedProgramError(
            f"the default {format_value(default)} needs the value s-op {label_of(op.sop)} "
            "never to be None (a selected None would read as empty)", label)
    if facts.one_value(op.selector, op.sop):
        op.attributes[ONE_VALUE] = StringAttr("proven")
        return
    decided = None if exhaustive(program) else facts.decide_one_value(op.selector, op.sop)
    if decided is not None and decided.selects is True:
        op.attributes[ONE_VALUE] = StringAttr("proven")
        return
    witness = find_witness(program, op, [xs for xs, _ in decided.witnesses]) if (
        decided is not None and decided.witnesses) else None
    witness = witness or find_witness(program, op)
    if witness is not None:
        raise UnsupportedProgramError(
            "a categorical Aggregate must find one value per query, but its selector can "
            f"select keys holding different values: {witness}. Make it numerical to "
            "average, or narrow the selector", label)
    op.attributes[ONE_VALUE] = StringAttr("proven" if exhaustive(program) else "tested")


def prove_facts(program: rasp.ProgramOp, pass_name: str = "rasp-prove-facts",
                decide_budget: int = DECIDE_BUDGET) -> None:
    """Check `program` (refined first if it is not) and record its facts in place."""
    if REFINED not in program.attributes:
        refine(program, pass_name, decide_budget)
    facts = ProgramFacts(program, decide_budget=decide_budget)
    for op in program.block.ops:
        if not isinstance(op, rasp.RaspOp):
            continue
        label = op.label.data
        if isinstance(op, rasp.SelectOp):
            for role, v in (("keys", op.keys), ("queries", op.queries)):
                if v.type.is_numerical:  # type: ignore[attr-defined]
                    raise UnsupportedProgramError(
                        f"a Select needs categorical {role}, but {label_of(v)} is numerical",
                        label)
        if isinstance(op, rasp.AggregateOp):
            _check_aggregate(program, facts, op)
        result = op.results[0] if op.results else None
        if (result is not None and isinstance(result.type, rasp.SOpType)
                and result.type.is_numerical):
            check_numbers(result, label, "a numerical s-op", program, facts)
    program.attributes[FACTS] = UnitAttr()


@dataclass(frozen=True)
class RaspProveFacts(ModulePass):
    """Prove or test what the lowering relies on; refuse otherwise (see module doc).
    `decide_budget` bounds the work of deciding whether a selector can select nothing
    (`tracr_ir.analysis.decide`), here and in the refinement it runs if needed."""

    name = "rasp-prove-facts"

    decide_budget: int = DECIDE_BUDGET

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp):
                prove_facts(program, decide_budget=self.decide_budget)
