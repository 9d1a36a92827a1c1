"""`check_pass`: property-test that a pass keeps the meaning of every module it is given.

```python
def test_my_pass_keeps_meaning():
    report = check_pass(MyPass(), stage="rasp", examples=200)   # or "my-pass{opt=1}"
    assert report.changed > 0                                   # it did rewrite something
```

Hypothesis draws RASP programs (`strategies.programs`), compiles each to `stage`
(`modules(stage=...)` is the same thing as a strategy), runs the pass, verifies its output, and
compares the module before and after the pass on inputs (`assert_equivalent`). A failure is
shrunk to a small program and reported with the IR before and after the pass and the input.

Stages: `to_ir` (fresh from `compiler.to_ir`, functions still Python callables), `rasp` (after
value-set inference: self-contained text), `craft` (layers allocated, residual laid out) and
`transformer` (dense weights).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tracr_ir.compiler import (parse_pipeline, print_module, run_passes, run_pipeline,
                               stage_pipeline, to_ir)
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.testing.equivalence import assert_equivalent, input_sample
from tracr_ir.testing.roundtrip import assert_round_trip
from tracr_ir.testing.strategies import Case, program_cases

__all__ = ["STAGES", "PassCheck", "check_pass", "compile_to_stage", "modules"]

STAGES = ("to_ir", "rasp", "craft", "transformer")
"""The stages `modules` and `check_pass` can start from, in pipeline order."""


def compile_to_stage(program: Any, vocab: Collection[Any], max_seq_len: int, stage: str,
                     allocator: str = "greedy") -> ModuleOp:
    """`program`'s module at `stage` (an `UnsupportedProgramError` if it is refused)."""
    spec = stage_pipeline(stage, allocator)
    module = to_ir(program, vocab, max_seq_len)
    return run_pipeline(module, spec) if spec else module


@st.composite
def modules(draw: Callable, stage: str = "rasp", vocab: Collection[Any] | None = None,
            max_seq_len: int | None = None, allocator: str = "greedy",
            **program_options: Any) -> ModuleOp:
    """Verified modules at `stage`, compiled from `programs(**program_options)` over `vocab`
    and `max_seq_len` (drawn when None, as `program_cases` does). Programs the compiler
    refuses before `stage` are skipped."""
    stage_pipeline(stage, allocator)  # an unknown stage fails before anything is drawn
    case = draw(program_cases(vocab, max_seq_len, n_inputs=1, **program_options))
    try:
        return compile_to_stage(case.program, case.vocab, case.max_seq_len, stage, allocator)
    except UnsupportedProgramError:
        reject()


@dataclasses.dataclass(frozen=True)
class PassCheck:
    """What `check_pass` ran: `checked` modules kept their meaning on `inputs` inputs in all,
    `changed` of them were rewritten (their printed IR changed), `refused` were refused by
    the pass with an `UnsupportedProgramError`."""

    pass_name: str
    stage: str
    checked: int
    changed: int
    refused: int
    inputs: int


def _as_passes(pass_or_spec: Any) -> tuple[list[ModulePass], str]:
    if isinstance(pass_or_spec, str):
        return list(parse_pipeline(pass_or_spec).passes), pass_or_spec
    if isinstance(pass_or_spec, type) and issubclass(pass_or_spec, ModulePass):
        pass_or_spec = pass_or_spec()
    if isinstance(pass_or_spec, ModulePass):
        return [pass_or_spec], str(pass_or_spec.pipeline_pass_spec())
    if isinstance(pass_or_spec, Sequence) and pass_or_spec:
        passes = [p for item in pass_or_spec for p in _as_passes(item)[0]]
        return passes, ",".join(str(p.pipeline_pass_spec()) for p in passes)
    raise TypeError("check_pass takes a ModulePass (instance or class), a pipeline spec "
                    f"string or a list of them, got {pass_or_spec!r}")


def check_pass(
    pass_or_spec: ModulePass | type[ModulePass] | str | Sequence[Any],
    stage: str = "rasp",
    examples: int | None = None,
    *,
    inputs: int = 16,
    abs_tol: float = 1e-4,
    allocator: str = "greedy",
    allow_refusals: bool = True,
    round_trip: bool = True,
    vocab: Collection[Any] | None = None,
    max_seq_len: int | None = None,
    seed: int | None = None,
    hypothesis_settings: settings | None = None,
    **program_options: Any,
) -> PassCheck:
    """Check that a pass (or pipeline) keeps the meaning of `examples` modules at `stage`
    (default: `max_examples` of the loaded hypothesis profile, so CI and nightly profiles
    scale every check).

    For each drawn program: compile it to `stage`, run the passes (verifying the module after
    each, so invalid output fails naming the pass), check the output's text round-trips when
    `round_trip` (from the `rasp` stage on), and compare before and after with
    `assert_equivalent` on the drawn inputs plus `inputs` more (all inputs when there are
    that few). A pass may refuse a module with `UnsupportedProgramError` unless
    `allow_refusals` is false; any other exception is a failure.

    `program_options` go to `strategies.programs` (e.g. `max_steps=10`, `numerical=False`);
    `seed` fixes hypothesis's random draws (the same examples every run);
    `hypothesis_settings` replaces the settings built from `examples`. Raises `AssertionError`
    with the shrunk program's IR before and after the pass and the differing input; returns a
    `PassCheck` with what was run.
    """
    passes, name = _as_passes(pass_or_spec)
    stage_pipeline(stage, allocator)
    counts = {"checked": 0, "changed": 0, "refused": 0, "inputs": 0}

    def check(case: Case) -> None:
        try:
            module = compile_to_stage(case.program, case.vocab, case.max_seq_len, stage,
                                      allocator)
        except UnsupportedProgramError:
            reject()
        before_text = print_module(module)
        before = module.clone()
        try:
            run_passes(module, passes)
        except UnsupportedProgramError as e:
            if not allow_refusals:
                raise AssertionError(_report(name, f"refused the module: {e}", before_text))
            counts["refused"] += 1
            reject()
        except Exception as e:  # noqa: BLE001 - any other exception is the pass's failure
            raise AssertionError(
                _report(name, f"raised {type(e).__name__}: {e}", before_text)) from e
        after_text = print_module(module)
        if round_trip and stage != "to_ir":
            try:
                assert_round_trip(module)
            except Exception as e:  # noqa: BLE001
                raise AssertionError(_report(name, f"produced IR that does not round-trip: "
                                              f"{e}", before_text, after_text)) from e
        xs = [*case.inputs, *input_sample(case.vocab, case.max_seq_len, inputs)]
        try:
            assert_equivalent(before, module, xs, abs_tol=abs_tol, names=("before", "after"))
        except AssertionError as e:
            raise AssertionError(_report(name, f"changed the meaning of the module: {e}",
                                         before_text, after_text)) from None
        counts["checked"] += 1
        counts["changed"] += after_text != before_text
        counts["inputs"] += len(xs)

    options = hypothesis_settings or settings(
        max_examples=examples or settings.default.max_examples, deadline=None, database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),  # `explain` re-runs too much
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    cases = program_cases(vocab, max_seq_len, n_inputs=4, **program_options)
    test = options(given(cases)(check))
    (hypothesis.seed(seed)(test) if seed is not None else test)()
    return PassCheck(name, stage, **counts)


def _report(name: str, what: str, before: str, after: str | None = None) -> str:
    text = f"pass '{name}' {what}\n\n// ----- IR before the pass ----- //\n{before}"
    if after is not None:
        text += f"\n\n// ----- IR after the pass ----- //\n{after}"
    return text
