"""Witness search: an input on which a categorical Aggregate's selector picks keys holding
different values, found by running the program on the rasp interpreter (the one
implementation of RASP semantics)."""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from xdsl.ir import Operation, SSAValue

from tracr_ir.dialects import rasp
from tracr_ir.errors import EvaluationError
from tracr_ir.interpreters.rasp import run_ops
from tracr_ir.values import format_value


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
    return candidate_inputs(vocab, program.length, zlib.crc32(label.encode()))


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
        except (EvaluationError, KeyError, TypeError, ArithmeticError, ValueError):
            continue
        if None in values:
            return (f"on input [{', '.join(format_value(x) for x in xs)}] it is None at "
                    f"position {values.index(None)}")
    return None


def find_witness(program: rasp.ProgramOp, op: rasp.AggregateOp) -> str | None:
    """An input on which some query selects keys holding different values, described."""
    before = ancestors(op)
    ops = [o for o in program.block.ops if o in before]
    for xs in _inputs(program, op.label.data):
        try:
            env = run_ops(program, ops, xs)
        except (EvaluationError, KeyError, TypeError, ArithmeticError, ValueError):
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
