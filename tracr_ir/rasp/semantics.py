"""The reference semantics of RASP: evaluation, which every compiler stage is tested against.

```python
rasp.evaluate(program, [3, 1, 2])          # the value at each position (a matrix for selectors)
program([3, 1, 2])                         # the same
rasp.evaluate_causal(program, [3, 1, 2])   # position i sees only xs[:i + 1] (a causal model)
```
Evaluation follows tracr-pypi 1.0.0's: a Map or SequenceMap gives None where an input is None
(without calling its function), an Aggregate gives one selected value as it is and averages
several numbers (`aggregate_mean`); shared nodes are evaluated once, and an error names the node
it happened in. `tracr_ir.causal_eval` holds tracr's causal evaluator, which masks selectors
over the whole input instead of evaluating prefixes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracr_ir.errors import EvaluationError, ProgramError
from tracr_ir.rasp.expr import (Aggregate, ConstantSelector, ConstantSOp, Full, IndicesType,
                                LengthType, Map, Predicate, RASPExpr, Select, SelectorAnd,
                                SelectorNot, SelectorOr, SelectorWidth, SequenceMap, SOp,
                                TokensType, Value)


def aggregate_mean(selected: Sequence[Value], default: Value) -> Value:
    """What an Aggregate gives at one query, as tracr-pypi 1.0.0 computes it: `default` if
    nothing is selected, the one selected value unchanged (an int stays an int, a string a
    string), the mean (a float) of several selected ints, bools or floats; several selected
    values of any other kind have no mean (`EvaluationError`, a ValueError)."""
    if not selected:
        return default
    if len(selected) == 1:
        return selected[0]
    if all(isinstance(v, (int, bool, float)) for v in selected):
        return sum(selected) / len(selected)
    raise EvaluationError(f"cannot average several values that are not all numbers: "
                          f"{list(selected)}")


def apply_predicate(predicate: Predicate, key: Value, query: Value) -> bool:
    return bool(predicate(key, query))


class Evaluator:
    """Evaluates expressions on one input; shared subexpressions are evaluated once."""

    def __init__(self, xs: Sequence[Value]):
        self.xs = list(xs)
        self._memo: dict[int, Any] = {}

    def evaluate(self, expr: RASPExpr) -> Any:
        if id(expr) not in self._memo:
            # `walk` is iterative, so deep programs stay off Python's recursion limit.
            for node in walk(expr):
                if id(node) not in self._memo:
                    self._memo[id(node)] = self._eval_node(node)
        return self._memo[id(expr)]

    def _eval_node(self, expr: RASPExpr) -> Any:
        args = [self._memo[id(c)] for c in expr.children]
        try:
            return self._dispatch(expr, args)
        except EvaluationError as e:
            if getattr(e, "_labelled", False):
                raise
            err = EvaluationError(f"{expr.label}: {e}")
            err._labelled = True  # type: ignore[attr-defined]
            raise err from e

    def _dispatch(self, expr: RASPExpr, args: list[Any]) -> Any:
        xs = self.xs
        if isinstance(expr, TokensType):
            return list(xs)
        if isinstance(expr, IndicesType):
            return list(range(len(xs)))
        if isinstance(expr, LengthType):
            return [len(xs)] * len(xs)
        if isinstance(expr, Map):
            return [expr.f(x) if x is not None else None for x in args[0]]
        if isinstance(expr, SequenceMap):
            return [
                expr.f(x, y) if x is not None and y is not None else None
                for x, y in zip(args[0], args[1])
            ]
        if isinstance(expr, Full):
            return [expr.fill] * len(xs)
        if isinstance(expr, (ConstantSOp, ConstantSelector)):
            if expr.check_length and len(xs) != len(expr.value):
                # The wording of tracr's message, which tests match.
                raise EvaluationError(
                    f"Constant len {len(expr.value)} doesn't match input len {len(xs)}."
                )
            return expr.value
        if isinstance(expr, SelectorWidth):
            return [sum(row) for row in args[0]]
        if isinstance(expr, Aggregate):
            selector, values = args
            return [
                aggregate_mean([v for s, v in zip(row, values) if s], expr.default)
                for row in selector
            ]
        if isinstance(expr, Select):
            keys, queries = args
            return [[apply_predicate(expr.predicate, k, q) for k in keys] for q in queries]
        if isinstance(expr, SelectorAnd):
            return [[a and b for a, b in zip(r, s)] for r, s in zip(*args)]
        if isinstance(expr, SelectorOr):
            return [[a or b for a, b in zip(r, s)] for r, s in zip(*args)]
        if isinstance(expr, SelectorNot):
            return [[not a for a in r] for r in args[0]]
        raise EvaluationError(f"evaluation of {type(expr).__name__} is not defined")


def evaluate(expr: RASPExpr, xs: Sequence[Value]) -> Any:
    """The value of `expr` on the input sequence `xs` (a list, or a matrix for selectors)."""
    if not isinstance(expr, RASPExpr):
        raise ProgramError(f"evaluate: expected a RASP expression, got {expr!r}")
    return Evaluator(xs).evaluate(expr)


def walk(expr: RASPExpr) -> list[RASPExpr]:
    """All expressions `expr` depends on (itself included), each once, operands first."""
    order: list[RASPExpr] = []
    seen: set[int] = set()
    stack: list[tuple[RASPExpr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.children) if id(c) not in seen)
    return order


def evaluate_causal(expr: SOp, xs: Sequence[Value]) -> list[Value]:
    """What a causal model computes: position i is `evaluate(expr, xs[:i + 1])[i]`."""
    return [evaluate(expr, xs[: i + 1])[i] for i in range(len(xs))]


RASPExpr._evaluate = evaluate  # `expr(xs)`
