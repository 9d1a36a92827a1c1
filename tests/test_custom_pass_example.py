"""The tutorial pass in examples/custom_pass keeps every program's meaning (property test)."""

import importlib.util
from pathlib import Path

from hypothesis import given

from tracr_ir import rasp
from tracr_ir.compiler import interpret, run_passes, run_pipeline, to_ir
from tracr_ir.dialects.rasp import MapOp, SequenceMapOp
from tracr_ir.testing import assert_equivalent, check_pass, compile_to_stage, program_cases

_FILE = Path(__file__).parents[1] / "examples" / "custom_pass" / "rasp_fuse_operand_maps.py"
_spec = importlib.util.spec_from_file_location("rasp_fuse_operand_maps", _FILE)
operand_maps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(operand_maps)


def count(module, kinds) -> int:
    return sum(isinstance(op, kinds) for op in module.walk())


@given(program_cases())
def test_fusing_keeps_meaning(case):
    module = run_pipeline(to_ir(case.program, case.vocab, case.max_seq_len), "rasp-infer-values")
    before = count(module, (MapOp, SequenceMapOp))
    fused = run_pipeline(module.clone(), "rasp-fuse-operand-maps")
    assert count(fused, (MapOp, SequenceMapOp)) <= before
    for xs in case.inputs:
        assert interpret(fused, xs) == rasp.evaluate(case.program, xs)


def test_a_chain_becomes_one_op():
    """With the built-in rasp-fuse-maps first (maps of maps), the tutorial pass takes the
    operand maps: the whole chain is one op."""
    x = rasp.Map(lambda v: v + 1, rasp.tokens, simplify=False)
    y = rasp.Map(lambda v: v * 2, x, simplify=False)
    z = rasp.SequenceMap(lambda a, b: a - b, y, rasp.Map(lambda i: i % 2, rasp.indices))
    inferred = run_pipeline(to_ir(z, {1, 2, 3}, 4), "rasp-infer-values")
    builtin = run_pipeline(inferred.clone(), "rasp-fuse-maps")
    assert count(builtin, (MapOp, SequenceMapOp)) == 3  # y of x is one map
    module = run_pipeline(builtin.clone(), "rasp-fuse-operand-maps")
    assert count(module, (MapOp, SequenceMapOp)) == 1
    for xs in ([1], [3, 2, 1, 1]):
        assert interpret(builtin, xs) == interpret(module, xs) == rasp.evaluate(z, xs)


def test_the_readme_example():
    """The README's example of testing a user pass, as written there."""
    report = check_pass(operand_maps.RaspFuseOperandMaps(), stage="rasp", examples=200,
                        max_steps=8)
    assert report.checked == 200 and report.changed > 0
    my_program = rasp.SequenceMap(lambda a, b: a + b, rasp.Map(lambda x: x % 2, rasp.tokens),
                                  rasp.indices)
    before = compile_to_stage(my_program, vocab={1, 2, 3}, max_seq_len=4, stage="rasp")
    assert_equivalent(my_program, run_passes(before.clone(), [operand_maps.RaspFuseOperandMaps()]))
