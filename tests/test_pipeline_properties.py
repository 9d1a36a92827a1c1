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
