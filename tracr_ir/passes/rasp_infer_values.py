"""`rasp-infer-values`: value sets into the types, Python functions into tables.

```
%m = rasp.map "m_3" %tokens python<"<lambda> at prog.py:4"> : !rasp.sop<categorical>
```
becomes, with vocab {1, 2, 3},
```
%m = rasp.map "m_3" %tokens {1 -> 2, 2 -> 4, 3 -> 6} : !rasp.sop<categorical, {2, 4, 6}>
```

Value sets over-approximate what an s-op can hold on inputs up to `max_seq_len` (as tracr's
do) and include `none` where the evaluator can produce None: an Aggregate whose selector may
select nothing (with default None), and every Map or SequenceMap of a possibly-None operand.
A function that raises an `ArithmeticError` at some argument gets no table entry there
(tracr ignores such values too); any other exception, an unhashable or non-RASP result, or a
value set above `max_values` is a `ValueSetError` naming the op's label.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
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
from xdsl.rewriter import Rewriter

from tracr_ir import rasp as rasp_front
from tracr_ir.analysis.joint import JointValues
from tracr_ir.dialects import rasp
from tracr_ir.dialects.program import describe
from tracr_ir.errors import ValueSetError
from tracr_ir.values import Value, canonical_values, format_value, incomparable



@dataclass(frozen=True)
class Limits:
    max_values: int
    max_table: int


def value_set(value: SSAValue) -> tuple | None:
    return value.type.value_set  # type: ignore[attr-defined]


def _known(*values: SSAValue) -> bool:
    return all(value_set(v) is not None for v in values)


def tabulate(
    op: rasp.RaspOp, fn: Callable[..., Any], args: Iterable[tuple], limits: Limits, unpack: bool
) -> dict[Value, Value]:
    """`fn` on every argument; entries where it raises an ArithmeticError are left out."""
    label = op.label.data
    args = list(args)
    if len(args) > limits.max_table:
        raise ValueSetError(
            f"tabulating {op.name} needs {len(args)} entries, above the limit of "
            f"{limits.max_table} (rasp-infer-values{{max_table=...}})",
            label,
        )
    table: dict[Value, Value] = {}
    for arg in args:
        try:
            result = fn(*arg) if unpack else fn(arg[0])
        except ArithmeticError:
            continue
        except Exception as e:  # a user function failing on a value it can receive
            shown = ", ".join(format_value(a) for a in arg)
            raise ValueSetError(f"the function raised {type(e).__name__}: {e} at ({shown})",
                                label) from e
        table[arg if unpack else arg[0]] = result
    return table


def checked_values(op: rasp.RaspOp, values: Iterable[Value], limits: Limits) -> tuple:
    result = canonical_values(values, where=op.label.data)
    if len(result) > limits.max_values:
        raise ValueSetError(
            f"value set of {len(result)} values is above the limit of {limits.max_values} "
            "(rasp-infer-values{max_values=...})",
            op.label.data,
        )
    return result


def _with_none(values: list[Value], *operands: tuple) -> list[Value]:
    if any(None in vs for vs in operands):
        values.append(None)
    return values


def always_selects(selector: SSAValue) -> bool:
    """Whether every query selects at least one key, whatever the input."""
    op = selector.owner
    if isinstance(op, rasp.SelectorOrOp):
        return always_selects(op.fst) or always_selects(op.snd)
    if not isinstance(op, rasp.SelectOp):
        return False
    if op.comparison is not None and op.comparison.data == rasp.Comparison.TRUE:
        return True
    if op.keys is not op.queries or value_set(op.keys) is None:
        return False
    # Keys and queries are the same s-op: each query can select itself.
    values = [v for v in value_set(op.keys) or () if v is not None]
    if op.comparison is not None:
        reflexive = op.comparison.data in (
            rasp.Comparison.EQ, rasp.Comparison.LEQ, rasp.Comparison.GEQ
        )
        return reflexive and None not in (value_set(op.keys) or ())
    if op.table is not None:
        table = op.table.as_dict()
        return None not in (value_set(op.keys) or ()) and all(
            table.get((v, v)) is True for v in values
        )
    return False


def mean_values(values: tuple, max_seq_len: int, limits: Limits, op: rasp.RaspOp) -> set:
    """Every mean of 1..max_seq_len values drawn (with repetition) from `values`."""
    numbers = [v for v in values if v is not None]
    if all(v in (0, 1) for v in numbers):  # bools and 0/1: the fractions k/n
        has0, has1 = 0 in numbers, 1 in numbers
        out: set = set()
        for n in range(1, max_seq_len + 1):
            lo, hi = (0 if has0 else n), (n if has1 else 0)
            out.update(k / n for k in range(lo, hi + 1))
        return out
    exact = [Fraction(v) for v in numbers]
    sums: set[Fraction] = {Fraction(0)}
    out = set()
    for n in range(1, max_seq_len + 1):
        sums = {s + v for s in sums for v in exact}
        if len(sums) > limits.max_values:
            raise ValueSetError(
                f"the means of up to {max_seq_len} values from a set of {len(numbers)} "
                f"exceed the limit of {limits.max_values} values",
                op.label.data,
            )
        out.update(float(s / n) for s in sums)
    return out


def set_result_values(op: Operation, values: tuple) -> None:
    result = op.results[0]
    Rewriter.replace_value_with_new_type(result, rasp.SOpType(result.type.encoding.data, values))


def function_table(
    op: rasp.MapOp | rasp.SequenceMapOp, args: Iterable[tuple], limits: Limits, unpack: bool
) -> dict[Value, Value]:
    """The op's table on `args`: the given table's entries, or its Python function tabulated."""
    if op.table is not None:
        given = op.table.as_dict()
        return {a: given[a] for a in ((arg if unpack else arg[0]) for arg in args) if a in given}
    assert op.fn is not None
    return tabulate(op, op.fn.data, args, limits, unpack)


def set_table(op: rasp.RaspOp, table: dict, rewriter: PatternRewriter) -> None:
    op.properties["table"] = rasp.TableAttr.from_dict(table)
    if "fn" in op.properties:
        del op.properties["fn"]
    rewriter.notify_op_modified(op)


@dataclass(frozen=True)
class InferMap(RewritePattern):
    limits: Limits

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.MapOp, rewriter: PatternRewriter) -> None:
        if value_set(op.output) is not None or not _known(op.input):
            return
        inner = value_set(op.input) or ()
        table = function_table(op, ((x,) for x in inner if x is not None), self.limits, False)
        values = _with_none(list(table.values()), inner)
        set_result_values(op, checked_values(op, values, self.limits))
        if op.fn is not None:
            set_table(op, table, rewriter)


def operand_pairs(op: rasp.SequenceMapOp | rasp.LinearSequenceMapOp,
                  joint: JointValues) -> Iterable[tuple]:
    """The (fst, snd) pairs, None aside, that `op` can see: the joint pairs where its
    operands are correlated (`tracr_ir.analysis.joint`), else the product of their sets."""
    pairs = joint.pairs(op.fst, op.snd)
    if pairs is not None:
        return [(x, y) for x, y in pairs if x is not None and y is not None]
    return itertools.product([x for x in value_set(op.fst) or () if x is not None],
                             [y for y in value_set(op.snd) or () if y is not None])


@dataclass(frozen=True)
class InferSequenceMap(RewritePattern):
    limits: Limits
    joint: JointValues

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.SequenceMapOp, rewriter: PatternRewriter) -> None:
        if value_set(op.output) is not None or not _known(op.fst, op.snd):
            return
        fst, snd = value_set(op.fst) or (), value_set(op.snd) or ()
        table = function_table(op, operand_pairs(op, self.joint), self.limits, True)
        values = _with_none(list(table.values()), fst, snd)
        set_result_values(op, checked_values(op, values, self.limits))
        set_table(op, table, rewriter)  # a given table, too, only on the pairs it can see


@dataclass(frozen=True)
class InferLinearSequenceMap(RewritePattern):
    limits: Limits
    joint: JointValues

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.LinearSequenceMapOp, rewriter: PatternRewriter) -> None:
        if value_set(op.output) is not None or not _known(op.fst, op.snd):
            return
        fst, snd = value_set(op.fst) or (), value_set(op.snd) or ()
        a, b = op.fst_fac.data, op.snd_fac.data
        table = tabulate(op, lambda x, y: a * x + b * y, operand_pairs(op, self.joint),
                         self.limits, unpack=True)
        values = _with_none(list(table.values()), fst, snd)
        set_result_values(op, checked_values(op, values, self.limits))


@dataclass(frozen=True)
class InferFull(RewritePattern):
    limits: Limits

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.FullOp, rewriter: PatternRewriter) -> None:
        if value_set(op.output) is None:
            set_result_values(op, checked_values(op, [op.fill.data], self.limits))


@dataclass(frozen=True)
class InferSelect(RewritePattern):
    """Tabulates a Python predicate over (key, query) pairs; a built-in comparison stays
    as it is (checked to apply to the value sets, never tabulated)."""

    limits: Limits

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.SelectOp, rewriter: PatternRewriter) -> None:
        if op.table is not None or not _known(op.keys, op.queries):
            return
        keys = [k for k in value_set(op.keys) or () if k is not None]
        queries = [q for q in value_set(op.queries) or () if q is not None]
        if op.comparison is not None:
            # Decided by the comparison itself, never tabulated: only check that it applies
            # (one representative per type decides whether it raises).
            name = op.comparison.data.value
            if pair := incomparable(rasp_front.Comparison[name], keys, queries):
                raise ValueSetError(f"{name} cannot compare key {format_value(pair[0])} with "
                                    f"query {format_value(pair[1])}", op.label.data)
            return
        pairs = list(itertools.product(keys, queries))
        assert op.fn is not None
        predicate = op.fn.data
        table = tabulate(op, lambda k, q: bool(predicate(k, q)), pairs, self.limits,
                         unpack=True)
        set_table(op, table, rewriter)


@dataclass(frozen=True)
class InferAggregate(RewritePattern):
    limits: Limits
    max_seq_len: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.AggregateOp, rewriter: PatternRewriter) -> None:
        if value_set(op.output) is not None or not _known(op.sop):
            return
        inner = value_set(op.sop) or ()
        if op.output.type.is_numerical:  # type: ignore[attr-defined]
            values = list(mean_values(inner, self.max_seq_len, self.limits, op))
            if None in inner:
                values.append(None)
        else:
            values = list(inner)
        if not always_selects(op.selector):
            values.append(op.default.data)
        set_result_values(op, checked_values(op, values, self.limits))


@dataclass(frozen=True)
class InferSelectorWidth(RewritePattern):
    limits: Limits
    max_seq_len: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.SelectorWidthOp, rewriter: PatternRewriter) -> None:
        if value_set(op.output) is None:
            low = 1 if always_selects(op.selector) else 0
            values = range(low, self.max_seq_len + 1)
            set_result_values(op, checked_values(op, values, self.limits))


def infer_inputs(program: rasp.ProgramOp, limits: Limits) -> None:
    """Give `tokens` the vocab and `indices` the positions as value sets."""
    if program.length > limits.max_values:
        raise ValueSetError(
            f"max_seq_len {program.length} gives more positions than the limit of "
            f"{limits.max_values} values (rasp-infer-values{{max_values=...}})")
    for arg, values in ((program.tokens, program.vocab_values),
                        (program.indices, tuple(range(program.length)))):
        if value_set(arg) is None:
            Rewriter.replace_value_with_new_type(
                arg, rasp.SOpType(arg.type.encoding.data, values)  # type: ignore[attr-defined]
            )


#: Value inference of ops of users' dialects (`register_inference`), tried first.
INFERENCES: list[RewritePattern] = []


def register_inference(pattern: RewritePattern) -> RewritePattern:
    """Add a pattern that gives an op of a user's dialect its result's value set (and
    tabulates its function, if it has one); it runs ahead of the default ones."""
    if pattern not in INFERENCES:
        INFERENCES.insert(0, pattern)
    return pattern


def unregister_inference(pattern: RewritePattern) -> None:
    if pattern in INFERENCES:
        INFERENCES.remove(pattern)


def check_all_inferred(program: rasp.ProgramOp) -> None:
    """Every s-op result has a value set after the sweep, or an error naming its op."""
    for op in program.block.ops:
        for result in op.results:
            if isinstance(result.type, rasp.SOpType) and value_set(result) is None:
                raise ValueSetError(f"no value inference for {describe(op)} (register a pattern "
                                    "with tracr_ir.passes.rasp_infer_values."
                                    "register_inference)", None)


@dataclass(frozen=True)
class RaspInferValues(ModulePass):
    """Infer every s-op's value set and tabulate every Python function (see module doc)."""

    name = "rasp-infer-values"

    max_values: int = 1 << 17
    max_table: int = 1 << 20

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        limits = Limits(self.max_values, self.max_table)
        for program in op.walk():
            if not isinstance(program, rasp.ProgramOp):
                continue
            infer_inputs(program, limits)
            joint = JointValues(program.length,
                                lambda v: [x for x in value_set(v) or () if x is not None],
                                always_selects, limits.max_values)
            patterns = [
                *INFERENCES,
                InferMap(limits),
                InferSequenceMap(limits, joint),
                InferLinearSequenceMap(limits, joint),
                InferFull(limits),
                InferSelect(limits),
                InferAggregate(limits, program.length),
                InferSelectorWidth(limits, program.length),
            ]
            # One forward sweep: every op comes after its operands.
            PatternRewriteWalker(
                GreedyRewritePatternApplier(patterns, dce_enabled=False),
                apply_recursively=False,
            ).rewrite_region(program.body)
            check_all_inferred(program)
