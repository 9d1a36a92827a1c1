"""Property tests on generated programs: the rasp stage equals `rasp.evaluate`, and the text
after `rasp-infer-values` is self-contained (prints, parses back equal, runs the same)."""

from hypothesis import given, settings

from tracr_ir import rasp
from tracr_ir.dialects.rasp import RaspOp, SOpType
from tracr_ir.compiler import interpret, run_pipeline, to_ir
from tracr_ir.testing.roundtrip import assert_round_trip
from tracr_ir.testing.strategies import program_cases


def inferred(case):
    module = to_ir(case.program, case.vocab, case.max_seq_len)
    return run_pipeline(module, "rasp-infer-values")


@given(program_cases())
def test_rasp_stage_equals_evaluate(case):
    module = inferred(case)
    for xs in case.inputs:
        assert interpret(module, xs) == rasp.evaluate(case.program, xs)


@given(program_cases(n_inputs=2))
def test_value_sets_contain_every_computed_value(case):
    module = inferred(case)
    value_sets = {op.label.data: op.results[0].type.value_set
                  for op in module.walk()
                  if isinstance(op, RaspOp) and isinstance(op.results[0].type, SOpType)}
    for node in rasp.walk(case.program):
        if not isinstance(node, rasp.SOp) or node.label not in value_sets:
            continue  # tokens and indices are block arguments
        for xs in case.inputs:
            for value in rasp.evaluate(node, xs):
                assert value in value_sets[node.label], (node.label, value)


@settings(max_examples=100)
@given(program_cases(n_inputs=2))
def test_text_round_trip(case):
    module = inferred(case)
    parsed = assert_round_trip(module)
    for xs in case.inputs:
        assert interpret(parsed, xs) == interpret(module, xs)
