"""Property tests over generated programs: every stage (rasp, craft and transformer
interpreters, and the JAX model) equals `rasp.evaluate`.

`make test-slow` (HYPOTHESIS_PROFILE=slow) runs 10,000 compiled programs through every
interpreter stage and 1,000 through the JAX model; the default profile runs 200 and 25.
"""

import os

from hypothesis import assume, given, settings

from tracr_ir import rasp
from tracr_ir.backends.jax import build
from tracr_ir.compiler import DEFAULT_PIPELINE, StageIR, interpret, run_pipeline, to_ir
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.testing import outputs_equal, program_cases

SLOW = os.environ.get("HYPOTHESIS_PROFILE") == "slow"


def compiled(case):
    stages = StageIR()
    module = to_ir(case.program, case.vocab, case.max_seq_len)
    try:
        run_pipeline(module, DEFAULT_PIPELINE, callback=lambda _p, m, _n: stages.record(m))
    except UnsupportedProgramError:
        assume(False)  # refusals are tested on their own; here: what compiles is exact
    return module, stages


@settings(max_examples=10_000 if SLOW else 200)
@given(program_cases())
def test_every_stage_interpreter_equals_evaluate(case):
    module, stages = compiled(case)
    for xs in case.inputs:
        want = rasp.evaluate(case.program, xs)
        for stage in ("rasp", "craft", "transformer"):
            assert outputs_equal(interpret(stages.module(stage), xs), want), stage


@settings(max_examples=1_000 if SLOW else 25)
@given(program_cases(max_seq_len=8))
def test_jax_model_equals_evaluate(case):
    module, _ = compiled(case)
    model = build(module)
    batch = model.apply_batch([["BOS", *xs] for xs in case.inputs])
    for xs, out in zip(case.inputs, batch):
        assert outputs_equal(out[1:], rasp.evaluate(case.program, xs))


def test_negated_order_on_letters_is_exact_at_every_stage():
    """Found by the slow profile: `SelectorNot(Select(tokens, tokens, LT))` over letters
    compiled as LT (the tabulated comparison dropped its negation), so the mean read BOS."""
    import itertools

    from tracr_ir import compile_rasp_to_model

    ones = rasp.numerical(rasp.Map(lambda t: {"a": 1, "b": 1, "c": 0}[t], rasp.tokens))
    select = rasp.SelectorNot(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT))
    mean = rasp.numerical(rasp.Aggregate(select, ones, default=0))
    program = rasp.categorical(rasp.Map(lambda x: "high" if x > 0.5 else "low", mean))
    vocab, max_seq_len = {"a", "b", "c"}, 3
    module = to_ir(program, vocab, max_seq_len)
    stages = StageIR()
    run_pipeline(module, DEFAULT_PIPELINE, callback=lambda _p, m, _n: stages.record(m))
    inputs = [list(xs) for n in range(1, max_seq_len + 1)
              for xs in itertools.product(sorted(vocab), repeat=n)]
    model = compile_rasp_to_model(program, vocab, max_seq_len)
    for xs in inputs:
        want = rasp.evaluate(program, xs)
        for stage in ("rasp", "craft", "transformer"):
            assert outputs_equal(interpret(stages.module(stage), xs), want), (stage, xs)
        assert outputs_equal(model.apply(["BOS", *xs]).decoded[1:], want), xs
