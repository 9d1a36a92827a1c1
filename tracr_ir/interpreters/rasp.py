"""Interpreter of the `rasp` dialect on xDSL's `Interpreter`: the semantics of `rasp.evaluate`.

Values are Python lists (s-ops) and lists of lists of bools (selectors, query-major). Before
`rasp-infer-values` the Python functions are called; afterwards the tables are looked up, and
a missing entry (the function raised there) is an `EvaluationError`, as evaluating it would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Operation, SSAValue

from xdsl.interpreter import (
    InterpretationError,
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    ReturnedValues,
    TerminatorValue,
    impl,
    impl_terminator,
    register_impls,
)

from tracr_ir import rasp as rasp_front
from tracr_ir.dialects import rasp
from tracr_ir.dialects.program import describe
from tracr_ir.errors import EvaluationError, PipelineError
from tracr_ir.values import format_value



def _lookup(op: rasp.RaspOp, table: dict, key: Any) -> Any:
    try:
        return table[key]
    except KeyError:
        shown = format_value(key)
        raise EvaluationError(
            f"{op.label.data}: no table entry for {shown} (the function raised there, or the "
            "value is outside the inferred value set)"
        ) from None


def _function(op: rasp.MapOp | rasp.SequenceMapOp | rasp.SelectOp, pair: bool):
    if op.table is not None:
        table = op.table.as_dict()
        if pair:
            return lambda x, y: _lookup(op, table, (x, y))
        return lambda x: _lookup(op, table, x)
    assert op.fn is not None
    return op.fn.data


@register_impls
class RaspFunctions(InterpreterFunctions):
    """One implementation per rasp op; `length` (the input length) is interpreter data."""

    @staticmethod
    def length(interpreter: Interpreter) -> int:
        return interpreter.get_data(RaspFunctions, "length", lambda: 0)

    @impl(rasp.MapOp)
    def run_map(self, interpreter: Interpreter, op: rasp.MapOp, args: PythonValues):
        f = _function(op, pair=False)
        return ([f(x) if x is not None else None for x in args[0]],)

    @impl(rasp.SequenceMapOp)
    def run_sequence_map(self, interpreter: Interpreter, op: rasp.SequenceMapOp,
                         args: PythonValues):
        f = _function(op, pair=True)
        return ([f(x, y) if x is not None and y is not None else None
                 for x, y in zip(*args)],)

    @impl(rasp.LinearSequenceMapOp)
    def run_linear_sequence_map(self, interpreter: Interpreter, op: rasp.LinearSequenceMapOp,
                                args: PythonValues):
        a, b = op.fst_fac.data, op.snd_fac.data
        return ([a * x + b * y if x is not None and y is not None else None
                 for x, y in zip(*args)],)

    @impl(rasp.FullOp)
    def run_full(self, interpreter: Interpreter, op: rasp.FullOp, args: PythonValues):
        return ([op.fill.data] * self.length(interpreter),)

    @impl(rasp.SelectOp)
    def run_select(self, interpreter: Interpreter, op: rasp.SelectOp, args: PythonValues):
        keys, queries = args
        if op.comparison is not None:
            predicate = rasp_front.Comparison[op.comparison.data.value]
        else:
            predicate = _function(op, pair=True)
        return ([[bool(predicate(k, q)) for k in keys] for q in queries],)

    @impl(rasp.SelectorAndOp)
    def run_and(self, interpreter: Interpreter, op: rasp.SelectorAndOp, args: PythonValues):
        return ([[a and b for a, b in zip(r, s)] for r, s in zip(*args)],)

    @impl(rasp.SelectorOrOp)
    def run_or(self, interpreter: Interpreter, op: rasp.SelectorOrOp, args: PythonValues):
        return ([[a or b for a, b in zip(r, s)] for r, s in zip(*args)],)

    @impl(rasp.SelectorNotOp)
    def run_not(self, interpreter: Interpreter, op: rasp.SelectorNotOp, args: PythonValues):
        return ([[not a for a in r] for r in args[0]],)

    @impl(rasp.AggregateOp)
    def run_aggregate(self, interpreter: Interpreter, op: rasp.AggregateOp,
                      args: PythonValues):
        selector, values = args
        default = op.default.data
        return ([rasp_front.aggregate_mean([v for s, v in zip(row, values) if s], default)
                 for row in selector],)

    @impl(rasp.SelectorWidthOp)
    def run_selector_width(self, interpreter: Interpreter, op: rasp.SelectorWidthOp,
                           args: PythonValues):
        return ([sum(row) for row in args[0]],)

    @impl_terminator(rasp.OutputOp)
    def run_output(self, interpreter: Interpreter, op: rasp.OutputOp,
                   args: PythonValues) -> tuple[TerminatorValue, PythonValues]:
        return ReturnedValues(args), ()


#: Implementations of ops of users' dialects (`register_interpreter`).
_REGISTERED: list[InterpreterFunctions] = []


def register_interpreter(functions: InterpreterFunctions) -> InterpreterFunctions:
    """Add the `@impl`s of `functions` (an `InterpreterFunctions` instance) for ops of a
    user's dialect; they run wherever the rasp stage is interpreted (`interpret`,
    `assert_equivalent`, witness search)."""
    unregister_interpreter(type(functions))
    _REGISTERED.append(functions)
    return functions


def unregister_interpreter(kind: type[InterpreterFunctions]) -> None:
    """Drop the registered implementations of class `kind`."""
    _REGISTERED[:] = [f for f in _REGISTERED if type(f) is not kind]


class _Current(Interpreter.Listener):
    """Remembers the op being interpreted, to name it when xDSL finds no implementation."""

    op: Operation | None = None

    def will_interpret_op(self, op: Operation, args: PythonValues) -> None:
        self.op = op


def _interpreter(program: rasp.ProgramOp, length: int) -> tuple[Interpreter, _Current]:
    interpreter = Interpreter(program)
    interpreter.register_implementations(RaspFunctions())
    for functions in _REGISTERED:
        interpreter.register_implementations(functions, override=True)
    interpreter.set_data(RaspFunctions, "length", length)
    current = _Current()
    interpreter.listeners = (*interpreter.listeners, current)
    return interpreter, current


def _no_impl(current: _Current, error: InterpretationError) -> PipelineError:
    """Not an evaluation error (the program is not undefined on the input): the pipeline
    lacks an implementation, which no caller may take for an input the program rejects."""
    op = current.op
    where = describe(op) if op is not None else "an op"
    return PipelineError(f"no interpreter implementation for {where} "
                         f"(tracr_ir.interpreters.rasp.register_interpreter): {error}")


def run_program(program: rasp.ProgramOp, xs: list[Any]) -> list[Any]:
    """The program's output on `xs` (tokens without BOS); for a causal program, what a
    causal model computes: position i of the output on the prefix `xs[:i + 1]`
    (`rasp.evaluate_causal`)."""
    if program.is_causal:
        return [_run(program, list(xs[:i + 1]))[i] for i in range(len(xs))]
    return _run(program, list(xs))


def _run(program: rasp.ProgramOp, xs: list[Any]) -> list[Any]:
    interpreter, current = _interpreter(program, len(xs))
    try:
        (result,) = interpreter.run_ssacfg_region(program.body,
                                                  (list(xs), list(range(len(xs)))))
    except InterpretationError as e:
        raise _no_impl(current, e) from None
    return result


def run_ops(program: rasp.ProgramOp, ops: Sequence[Operation], xs: list[Any]
            ) -> dict[SSAValue, Any]:
    """The values of `ops` (in program order, closed under operands) on `xs`."""
    interpreter, current = _interpreter(program, len(xs))
    env: dict[SSAValue, Any] = {program.tokens: list(xs),
                                program.indices: list(range(len(xs)))}
    try:
        for op in ops:
            (env[op.results[0]],) = interpreter.run_op(op, tuple(env[v] for v in op.operands))
    except InterpretationError as e:
        raise _no_impl(current, e) from None
    return env
