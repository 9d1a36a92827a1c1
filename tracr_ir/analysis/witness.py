"""Witness search: an input on which an s-op is None, or a categorical Aggregate's selector
picks keys holding different values, found by running the program on the rasp interpreter
(the one implementation of RASP semantics).

When the program has at most `EXHAUSTIVE_BUDGET` inputs (every length up to max_seq_len),
the search tries all of them, so finding nothing is a proof (`exhaustive`), and
`Exhaustive` gives every op's values on every input for the facts that need them.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from xdsl.interpreter import InterpretationError
from xdsl.ir import Operation, SSAValue

from tracr_ir.dialects import rasp
from tracr_ir.errors import EvaluationError
from tracr_ir.interpreters.rasp import _interpreter, _no_impl, run_ops
from tracr_ir.values import format_value, typed_key


def ancestors(op: Operation) -> set[Operation]:
    """The ops whose results `op` reads, directly or not."""
    seen: set[Operation] = set()
    stack = [op]
    while stack:
        o = stack.pop()
        for v in o.operands:
            if v.owner not in seen and isinstance(v.owner, Operation):
                seen.add(v.owner)
                stack.append(v.owner)
    return seen


#: Programs with at most this many inputs are decided by evaluating every one.
EXHAUSTIVE_BUDGET = 1500


def input_count(vocab_size: int, max_seq_len: int) -> int:
    """How many inputs of length 1..max_seq_len there are."""
    return sum(vocab_size ** n for n in range(1, max_seq_len + 1))


def exhaustive(program: rasp.ProgramOp, budget: int = EXHAUSTIVE_BUDGET) -> bool:
    """Whether the search tries every input of `program` (there are at most `budget`)."""
    return input_count(len(program.vocab_values), program.length) <= budget


def searched(program: rasp.ProgramOp, what: str = "makes it None") -> str:
    """What a search that found nothing has shown, in words."""
    vocab, n = len(program.vocab_values), program.length
    k = 0
    while k < n and input_count(vocab, k + 1) <= 400:
        k += 1
    return (f"no input of length up to {k} (all {input_count(vocab, k)} of them), no constant "
            f"input and none of 100 random inputs up to length {n} {what}; max_seq_len "
            f"{n} has {input_count(vocab, n):,} inputs, too many to try all "
            f"({EXHAUSTIVE_BUDGET:,} at most), so this is not a proof")


def candidate_inputs(vocab: Sequence[Any], max_seq_len: int, seed: int,
                     budget: int = 400, n_random: int = 100) -> Iterable[list[Any]]:
    """Every input up to the length whose count stays in `budget`, constant inputs, then
    `n_random` random ones (a third of full length)."""
    total = 0
    for n in range(1, max_seq_len + 1):
        total += len(vocab) ** n
        if total > budget:
            break
        yield from (list(xs) for xs in itertools.product(vocab, repeat=n))
    for t in vocab:
        yield [t] * max_seq_len
    rng = random.Random(seed)
    for i in range(n_random):
        n = max_seq_len if i % 3 == 0 else rng.randint(1, max_seq_len)
        yield [rng.choice(vocab) for _ in range(n)]


def _inputs(program: rasp.ProgramOp, label: str) -> Iterable[list[Any]]:
    vocab = list(program.vocab_values)
    if exhaustive(program):
        return candidate_inputs(vocab, program.length, 0, EXHAUSTIVE_BUDGET, 0)
    return candidate_inputs(vocab, program.length, zlib.crc32(label.encode()))


#: What running a program on an input may raise where the program is undefined there.
UNDEFINED = (EvaluationError, KeyError, TypeError, ArithmeticError, ValueError)


class Exhaustive:
    """Every op's values on every input of a program with at most `EXHAUSTIVE_BUDGET` inputs
    (`envs`, computed once). An op whose evaluation raises on an input (the program is
    undefined there) has no values on it, nor has any op that reads it."""

    def __init__(self, program: rasp.ProgramOp):
        self.program = program
        self.complete = exhaustive(program)
        self._envs: list[dict[SSAValue, Any]] | None = None
        # (op, input length, its operands' ids) -> its result, or None where it raised:
        # many inputs give an op the same operands (all those of a length, for ops of
        # indices). Every value is interned (`_intern`: one object per distinct value, kept
        # alive there), so ids identify values.
        self._memo: dict[tuple[Operation, int, tuple[int, ...]], Any] = {}
        self._interned: dict[Any, Any] = {}
        self._plan = [(op, op.results[0], tuple(op.operands))
                      for op in program.block.ops if op.results]

    def envs(self) -> list[dict[SSAValue, Any]]:
        if self._envs is None:
            self._envs = [self._run(xs) for xs in candidate_inputs(
                list(self.program.vocab_values), self.program.length, 0, EXHAUSTIVE_BUDGET,
                0)] if self.complete else []
        return self._envs

    def _run(self, xs: list[Any]) -> dict[SSAValue, Any]:
        program, n = self.program, len(xs)
        interpreter, current = _interpreter(program, n)
        env: dict[SSAValue, Any] = {program.tokens: self._intern(list(xs)),
                                    program.indices: self._intern(list(range(n)))}
        memo = self._memo
        for op, result, operands in self._plan:
            try:
                args = tuple(env[v] for v in operands)
            except KeyError:  # an operand is undefined on this input
                continue
            key = (op, n, tuple(map(id, args)))
            if key not in memo:
                try:
                    (value,) = interpreter.run_op(op, args)
                    memo[key] = self._intern(value)
                except UNDEFINED:
                    memo[key] = None
                except InterpretationError as e:
                    raise _no_impl(current, e) from None
            if memo[key] is not None:
                env[result] = memo[key]
        return env

    def _intern(self, value: Any) -> Any:
        """The one object of this value (an s-op's values or a selector's rows); values of
        different types are different (1, 1.0 and True are equal keys to Python), and so are
        0.0 and -0.0); an unhashable one is its own."""
        try:
            return self._interned.setdefault(typed_key(value), value)
        except TypeError:
            return value


def find_none(program: rasp.ProgramOp, value: SSAValue) -> str | None:
    """An input on which `value` is None at some position, described."""
    owner = value.owner
    if not isinstance(owner, Operation):
        return None
    before = ancestors(owner) | {owner}
    ops = [o for o in program.block.ops if o in before]
    label = owner.properties.get("label")
    for xs in _inputs(program, label.data if label is not None else owner.name):
        try:
            values = run_ops(program, ops, xs)[value]
        except UNDEFINED:
            continue
        if None in values:
            return (f"on input [{', '.join(format_value(x) for x in xs)}] it is None at "
                    f"position {values.index(None)}")
    return None


def find_witness(program: rasp.ProgramOp, op: rasp.AggregateOp,
                 inputs: Iterable[list[Any]] | None = None) -> str | None:
    """An input (of `inputs`, else the search's) on which some query selects keys holding
    different values, described."""
    before = ancestors(op)
    ops = [o for o in program.block.ops if o in before]
    for xs in _inputs(program, op.label.data) if inputs is None else inputs:
        try:
            env = run_ops(program, ops, xs)
        except UNDEFINED:
            continue  # the program is not defined on this input
        values = env[op.sop]
        for q, row in enumerate(env[op.selector]):
            picked = [j for j, s in enumerate(row) if s]
            seen = [values[j] for j in picked]
            if any(a != b or (a is None) != (b is None) for a in seen for b in seen):
                shown = ", ".join(format_value(v) for v in seen)
                return (f"on input [{', '.join(format_value(x) for x in xs)}] query {q} "
                        f"selects positions {picked} holding {shown}")
    return None
