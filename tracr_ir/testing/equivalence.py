"""`assert_equivalent(a, b, inputs)`: two programs compute the same outputs.

`a` and `b` are anything that runs on tokens: a Python RASP program (run by `rasp.evaluate`),
a module or its IR text at any stage (run by the stage's interpreter, `compiler.interpret`) or
a compiled JAX model (`CompiledModel.apply_batch`):

```python
before = to_ir(program, vocab={1, 2, 3}, max_seq_len=5)
after = run_pipeline(before.clone(), "rasp-infer-values,lower-rasp-to-craft")
assert_equivalent(program, after)            # 200 inputs: all of them if there are fewer
assert_equivalent(before, after, [[1, 2], [3, 3, 1]])
```

Categorical outputs must be equal (None included); numerical ones within `abs_tol`. An input
that one side rejects or raises on while the other runs is a difference too.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from tracr_ir import rasp
from tracr_ir.compiler import interpret, parse_module, stage_op
from tracr_ir.values import format_value, value_key

__all__ = ["assert_equivalent", "input_sample", "outputs_equal", "run"]

DEFAULT_INPUTS = 200
"""How many inputs `assert_equivalent` runs when it is given none."""


def run(subject: Any, xs: Sequence[Any], causal: bool = False) -> list[Any]:
    """The outputs of `subject` (a RASP program, a module or IR text at any stage, or a
    `CompiledModel`) on the tokens `xs` (without BOS). A RASP program is evaluated causally
    (`rasp.evaluate_causal`) when `causal` is true."""
    if isinstance(subject, rasp.SOp):
        return (rasp.evaluate_causal if causal else rasp.evaluate)(subject, list(xs))
    if isinstance(subject, (ModuleOp, str, Operation)):
        return interpret(subject, xs)  # type: ignore[arg-type]
    if hasattr(subject, "apply_batch"):
        return list(subject.apply_batch([[subject.weights.bos, *xs]])[0][1:])
    raise TypeError(f"cannot run a {type(subject).__name__}: give a RASP program, a module, "
                    "IR text or a CompiledModel")


def outputs_equal(got: Sequence[Any], want: Sequence[Any], abs_tol: float = 1e-4) -> bool:
    """Same length and, position by position, the same value (floats within `abs_tol`,
    None only equal to None)."""
    return len(got) == len(want) and all(_same(g, w, abs_tol) for g, w in zip(got, want))


def _same(got: Any, want: Any, abs_tol: float) -> bool:
    if got is None or want is None:
        return got is want
    if isinstance(got, float) or isinstance(want, float):
        try:
            return math.isclose(float(got), float(want), rel_tol=0.0, abs_tol=abs_tol)
        except (TypeError, ValueError):
            return False
    return bool(got == want)


def input_sample(vocab: Collection[Any], max_seq_len: int, n: int = DEFAULT_INPUTS,
                 seed: int = 0) -> list[list[Any]]:
    """Inputs over `vocab` of lengths 1..`max_seq_len`: all of them if there are at most `n`,
    else `n` drawn with `seed`, every length equally often (so the full length is covered)."""
    tokens = sorted(vocab, key=value_key)
    total = sum(len(tokens) ** k for k in range(1, max_seq_len + 1))
    if total <= n:
        return [list(xs) for k in range(1, max_seq_len + 1)
                for xs in itertools.product(tokens, repeat=k)]
    rng = random.Random(seed)
    lengths = [max_seq_len - i % max_seq_len for i in range(n)]
    return [[rng.choice(tokens) for _ in range(k)] for k in lengths]


@dataclass(frozen=True)
class _Side:
    name: str
    subject: Any
    causal: bool

    def run(self, xs: list[Any]) -> tuple[list[Any] | None, str | None]:
        """(outputs, None), or (None, the error) when it rejects or raises on `xs`."""
        try:
            return run(self.subject, xs, self.causal), None
        except Exception as e:  # noqa: BLE001 - an InputError, or a function raising
            return None, f"{type(e).__name__}: {e}"


def _describe(subject: Any) -> str:
    if isinstance(subject, rasp.SOp):
        return f"RASP program {subject.label}"
    if isinstance(subject, (ModuleOp, Operation)):
        return stage_op(subject).name
    return type(subject).__name__


def input_spec(subject: Any) -> tuple[tuple, int, bool] | None:
    """(vocab, max_seq_len, causal) of a module, its IR text or a compiled model; None for a
    RASP program (it takes any input)."""
    if isinstance(subject, str):
        subject = parse_module(subject)
    if isinstance(subject, (ModuleOp, Operation)):
        op = stage_op(subject)
        return tuple(op.vocab_values), op.length, op.is_causal  # type: ignore[attr-defined]
    w = getattr(subject, "weights", None)
    if w is not None and hasattr(w, "max_seq_len"):
        return tuple(w.vocab), w.max_seq_len, w.causal
    return None


def _format(outputs: list[Any] | None, error: str | None) -> str:
    if outputs is None:
        return f"raised {error}"
    return "[" + ", ".join(format_value(v) for v in outputs) + "]"


def assert_equivalent(
    a: Any,
    b: Any,
    inputs: Iterable[Sequence[Any]] | None = None,
    *,
    abs_tol: float = 1e-4,
    vocab: Collection[Any] | None = None,
    max_seq_len: int | None = None,
    names: tuple[str, str] = ("a", "b"),
) -> None:
    """Raise `AssertionError` with the first input on which `a` and `b` differ.

    Without `inputs`, runs `input_sample(vocab, max_seq_len)`; vocab and max_seq_len come from
    whichever of `a` and `b` is a module or model (give them when both are RASP programs).
    IR text is parsed (and verified) first; `names` are what the message calls `a` and `b`.
    """
    a = parse_module(a) if isinstance(a, str) else a
    b = parse_module(b) if isinstance(b, str) else b
    sig_a, sig_b = input_spec(a), input_spec(b)
    if sig_a and sig_b and sig_a[:2] != sig_b[:2]:
        raise AssertionError(
            f"{names[0]} and {names[1]} take different inputs: {names[0]} has vocab "
            f"{set(sig_a[0])} max_seq_len {sig_a[1]}, {names[1]} has vocab {set(sig_b[0])} "
            f"max_seq_len {sig_b[1]}")
    sig = sig_a or sig_b
    causal = bool(sig and sig[2])
    if inputs is None:
        vocab = vocab if vocab is not None else (sig[0] if sig else None)
        max_seq_len = max_seq_len if max_seq_len is not None else (sig[1] if sig else None)
        if vocab is None or max_seq_len is None:
            raise TypeError("give inputs, or vocab and max_seq_len, to compare two RASP "
                            "programs")
        inputs = input_sample(vocab, max_seq_len)
    sides = (_Side(names[0], a, causal), _Side(names[1], b, causal))
    count = compared = 0
    for count, xs in enumerate(inputs, start=1):
        xs = list(xs)
        (out_a, err_a), (out_b, err_b) = (side.run(xs) for side in sides)
        if out_a is None and out_b is None:
            continue  # both reject the input
        if out_a is not None and out_b is not None and outputs_equal(out_a, out_b, abs_tol):
            compared += 1
            continue
        raise AssertionError(
            _difference(xs, count, sides, (out_a, err_a), (out_b, err_b), abs_tol))
    if not compared:  # nothing was compared: the check would pass vacuously
        raise AssertionError(f"no input ran on {names[0]} and {names[1]}: "
                             + (f"both rejected all {count}" if count else "no inputs given"))


def _difference(xs: list[Any], count: int, sides: tuple[_Side, _Side], run_a: tuple,
                run_b: tuple, abs_tol: float) -> str:
    a, b = sides
    lines = [f"{a.name} and {b.name} differ on input {_format(xs, None)} "
             f"(input {count} checked):",
             f"  {a.name} ({_describe(a.subject)}): {_format(*run_a)}",
             f"  {b.name} ({_describe(b.subject)}): {_format(*run_b)}"]
    out_a, out_b = run_a[0], run_b[0]
    if out_a is not None and out_b is not None and len(out_a) == len(out_b):
        i = next(i for i, (x, y) in enumerate(zip(out_a, out_b)) if not _same(x, y, abs_tol))
        lines.append(f"  first difference at position {i}: {format_value(out_a[i])} vs "
                     f"{format_value(out_b[i])}")
    return "\n".join(lines)
