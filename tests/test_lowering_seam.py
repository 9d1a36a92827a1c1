"""The rasp -> craft seam: analyses that live in the IR, the text between them, and the
rules the seam keeps for ops it does not know (user dialects)."""

from __future__ import annotations


import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls
from xdsl.ir import Dialect
from xdsl.irdl import irdl_op_definition, operand_def, result_def, traits_def
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.traits import Pure

from lib_cases import LIB_CASES
from tracr_ir import lib, rasp
from tracr_ir.compiler import interpret, parse_module, print_module, run_pipeline, to_ir
from tracr_ir.craft.tolerances import OUTPUT_TOLERANCE
from tracr_ir.dialects import rasp as rasp_ir
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.interpreters.rasp import register_interpreter, unregister_interpreter
from tracr_ir.lowering.patterns import LowerMap, register_lowering, unregister_lowering
from tracr_ir.passes.rasp_infer_values import (register_inference, set_result_values,
                                               unregister_inference)
from tracr_ir.testing import outputs_equal
from tracr_ir.universe import register_dialect, unregister_dialect

ANALYSES = ("rasp-infer-values,rasp-refine-values,rasp-prove-facts,rasp-normalize-selectors,"
            "rasp-annotate-precision")
REST = ("lower-rasp-to-craft,craft-verify-exactness,craft-allocate-layers,"
        "craft-layout-residual,lower-craft-to-transformer")


def weights(module: ModuleOp) -> str:
    return print_module(module)  # the transformer IR holds every weight, exactly


@pytest.mark.parametrize("case", LIB_CASES, ids=[c.name for c in LIB_CASES])
def test_annotated_text_is_self_contained(case):
    """After the analyses the rasp IR prints, parses back structurally equal (generic form
    too) and compiles to the same weights as the module it was printed from."""
    n = 5
    module = run_pipeline(to_ir(case.make(n), case.vocab, n), ANALYSES)
    text = print_module(module)
    parsed = parse_module(text)
    assert parsed.is_structurally_equivalent(module)
    assert parse_module(print_module(module, generic=True)).is_structurally_equivalent(module)
    assert "annotated" in text and "needs = #rasp.needs<" in text
    assert weights(run_pipeline(parsed, REST)) == weights(run_pipeline(module, REST))


def test_analyses_keep_the_meaning_of_every_lib_program():
    for case in LIB_CASES:
        program = case.make(5)
        module = run_pipeline(to_ir(program, case.vocab, 5), ANALYSES)
        for xs in case.inputs(5, 20):
            assert interpret(module, xs) == interpret(to_ir_inferred(program, case.vocab), xs)


def to_ir_inferred(program, vocab):
    return run_pipeline(to_ir(program, vocab, 5), "rasp-infer-values")


def test_a_pass_after_the_analyses_gets_them_recomputed():
    """`rasp-fuse-maps` rewrites the annotated maps into one without `needs`; the lowering
    notices and annotates again instead of dropping it."""
    x = rasp.Map(lambda v: v + 1, rasp.tokens, simplify=False)
    y = rasp.Map(lambda v: v * 2, x, simplify=False)
    module = run_pipeline(to_ir(y, {1, 2, 3}, 4),
                          f"{ANALYSES},rasp-fuse-maps,lower-rasp-to-craft")
    for xs in ([1], [3, 2, 1]):
        assert interpret(module, xs) == rasp.evaluate(y, xs)


def test_a_replaced_lowering_is_used_and_its_precision_rule_too():
    calls = []

    @register_lowering
    class CountingMap(LowerMap):
        def lower(self, op, state):
            calls.append(op.label.data)
            return super().lower(op, state)

    try:
        program = lib.make_frac_prevs(rasp.tokens == "x")
        run_pipeline(to_ir(program, {"x", "y"}, 5), "rasp-infer-values,lower-rasp-to-craft")
    finally:
        unregister_lowering(CountingMap)
    assert len(calls) == 1


### An op of another dialect: a position-mixing "reverse" with no causal rule.


@irdl_op_definition
class ReverseOp(rasp_ir.RaspOp):
    """`%r = seam.reverse "label" %x : ...`: x read back to front."""

    name = "seam.reverse"
    input = operand_def(rasp_ir.SOpType)
    output = result_def(rasp_ir.SOpType)
    traits = traits_def(Pure())


class InferReverse(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReverseOp, rewriter: PatternRewriter) -> None:
        if op.output.type.value_set is None and op.input.type.value_set is not None:
            set_result_values(op, op.input.type.value_set)


@register_impls
class ReverseFunctions(InterpreterFunctions):
    @impl(ReverseOp)
    def run_reverse(self, interpreter: Interpreter, op: ReverseOp,
                    args: PythonValues) -> PythonValues:
        return (list(reversed(args[0])),)


PROGRAM = """builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal %s (%%tokens: !rasp.sop<categorical>, %%indices: !rasp.sop<categorical>) {
    %%r = seam.reverse "r_1" %%tokens : !rasp.sop<categorical>
    %%sel = rasp.select "sel_2" %%tokens, %%r EQ : !rasp.selector
    %%agg = rasp.aggregate "agg_3" %%sel, %%%s default none : !rasp.sop<categorical>
    rasp.output %%agg : !rasp.sop<categorical>
  }
}"""


@pytest.fixture
def seam_dialect():
    register_dialect("seam", lambda: Dialect("seam", [ReverseOp], []))
    inference = register_inference(InferReverse())
    yield
    unregister_inference(inference)
    unregister_interpreter(ReverseFunctions)
    unregister_dialect("seam")


def test_an_op_without_an_interpreter_is_named_even_in_the_witness_search(seam_dialect):
    # The keys (tokens) do not determine the values (indices): the facts pass searches a
    # witness on the interpreter, which must not take the missing implementation for an
    # input the program is undefined on.
    module = parse_module(PROGRAM % ("false", "indices"))
    with pytest.raises(PipelineError, match=r"no interpreter implementation for "
                                            r"seam\.reverse 'r_1'"):
        run_pipeline(module, "rasp-infer-values,rasp-prove-facts")


def test_an_op_nothing_lowers_is_named(seam_dialect):
    register_interpreter(ReverseFunctions())
    module = parse_module(PROGRAM % ("false", "tokens"))
    assert interpret(module, [1, 2]) == [2, 1]
    with pytest.raises(UnsupportedProgramError, match=r"no lowering for seam\.reverse 'r_1'"):
        run_pipeline(module, "rasp-infer-values,lower-rasp-to-craft")


def test_an_op_of_another_dialect_needs_a_causal_rule(seam_dialect):
    register_interpreter(ReverseFunctions())
    with pytest.raises(UnsupportedProgramError, match=r"seam\.reverse 'r_1' has no causal "
                                                      r"rule"):
        run_pipeline(parse_module(PROGRAM % ("true", "tokens")), "rasp-infer-values,rasp-verify-causal")


def test_a_causal_rasp_module_is_interpreted_by_prefixes():
    module = to_ir(lib.make_length(), {"a", "b"}, 4, causal=True)
    assert interpret(module, ["a", "b", "a"]) == [1, 2, 3]
    assert rasp.evaluate_causal(lib.make_length(), ["a", "b", "a"]) == [1, 2, 3]


def test_inputs_named_otherwise_in_the_text_still_lower_to_tokens_and_indices():
    text = """builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%t: !rasp.sop<categorical>, %i: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %t {1 -> 2, 2 -> 3} : !rasp.sop<categorical>
    %s = rasp.select "s_2" %i, %i EQ : !rasp.selector
    %a = rasp.aggregate "a_3" %s, %m default none : !rasp.sop<categorical>
    rasp.output %a : !rasp.sop<categorical>
  }
}"""
    module = run_pipeline(parse_module(text), f"rasp-infer-values,{REST}")
    assert interpret(module, [1, 2, 1]) == [2, 3, 2]


### Facts decided exactly, refusals with a witness.


def _shift_wrapping_at_zero():
    shift = rasp.Select(rasp.indices, rasp.indices,
                        lambda k, q: q == k + 1 or (q == 0 and k == 0))
    return rasp.numerical(rasp.Map(lambda x: x * 2, rasp.Aggregate(shift, rasp.tokens)))


def _last_token_broadcast():
    last = rasp.Select(rasp.indices, rasp.Map(lambda n: n - 1, lib.make_length()),
                       rasp.Comparison.EQ)
    return rasp.numerical(rasp.Map(lambda x: x + 1, rasp.Aggregate(last, rasp.tokens)))


@pytest.mark.parametrize("make", [_shift_wrapping_at_zero, _last_token_broadcast])
def test_selectors_of_positions_are_decided_exactly(make):
    """Both always select (tracr compiles them); the selectors read positions only, so
    `rasp-refine-values` decides it by running them at every length, and the numerical Map
    of the Aggregate (default None) is never None (its output within the numerical output
    tolerance: the Map passes the head's error on)."""
    program = make()
    module = run_pipeline(to_ir(program, {1, 2, 3}, 6), "rasp-infer-values,rasp-refine-values")
    assert "always_selects" in print_module(module)
    compiled = run_pipeline(module, REST)
    for xs in ([1], [3, 1], [2, 3, 1, 1, 2, 3]):
        assert outputs_equal(interpret(compiled, xs), rasp.evaluate(program, xs),
                             OUTPUT_TOLERANCE)


def test_a_selector_of_positions_that_misses_a_query_is_not_taken_to_select():
    ahead = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q + 1)
    program = rasp.numerical(rasp.Map(lambda x: x * 2, rasp.Aggregate(ahead, rasp.tokens)))
    with pytest.raises(UnsupportedProgramError,
                       match=r"cannot be None .* on input \[1\] it is None at position 0"):
        run_pipeline(to_ir(program, {1, 2}, 4), "rasp-infer-values,rasp-prove-facts")


@pytest.mark.parametrize("program", [rasp.tokens, rasp.indices], ids=["tokens", "indices"])
def test_a_program_that_returns_an_input_compiles(program):
    module = run_pipeline(to_ir(program, {1, 2}, 3), f"rasp-infer-values,{REST}")
    assert interpret(module, [2, 1]) == rasp.evaluate(program, [2, 1])
