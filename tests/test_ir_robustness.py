"""Regression tests of the robustness bugs that fuzzing the IR text found (tests/test_fuzz_ir.py).

Each ill-formed text is now a diagnostic: a parse error with its location, or a verify error
naming the op, or a refusal naming the node; never a Python exception from inside the code.
"""

import math
import re
import time

import pytest

from tracr_ir import lib, rasp
from tracr_ir.compiler import (
    STAGE_PIPELINES,
    interpret,
    parse_module,
    print_module,
    run_pipeline,
    to_ir,
)
from tracr_ir.craft.numerics import attention_scale
from tracr_ir.errors import IRError, UnsupportedProgramError, ValueSetError


def stage_text(program, stage: str, vocab=(1, 2), max_seq_len: int = 2,
               generic: bool = False) -> str:
    module = to_ir(program, vocab, max_seq_len)
    run_pipeline(module, STAGE_PIPELINES[stage])
    return print_module(module, generic)


FRAC = lib.make_frac_prevs(rasp.tokens == 1)
HIST = lib.make_hist()
_SETTINGS = ('vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false')
_RASP_ARGS = ("(%tokens: !rasp.sop<categorical, {1, 2}>, "
              "%indices: !rasp.sop<categorical, {0, 1}>)")
_CRAFT_ARGS = ("(%tokens: !craft.space<[tokens:1, tokens:2]>, "
               "%indices: !craft.space<[indices:0, indices:1]>)")
RASP_FRAC = f"""builtin.module {{
  rasp.program {_SETTINGS} {_RASP_ARGS} {{
    %select = rasp.select "select" %indices, %indices LEQ : !rasp.selector
    %map = rasp.map "map" %tokens {{1 -> true, 2 -> false}}
        : !rasp.sop<numerical, {{false, true}}>
    %frac = rasp.aggregate "frac" %select, %map default 0
        : !rasp.sop<numerical, {{0.0, 0.5, 1.0}}>
    rasp.output %frac : !rasp.sop<numerical, {{0.0, 0.5, 1.0}}>
  }}
}}"""
RASP_SORT = f"""builtin.module {{
  rasp.program {_SETTINGS} {_RASP_ARGS} {{
    %smaller = rasp.select "smaller" %tokens, %tokens LT : !rasp.selector
    %target = rasp.selector_width "target" %smaller : !rasp.sop<categorical, {{0, 1, 2}}>
    %select = rasp.select "select" %target, %indices EQ : !rasp.selector
    %sort = rasp.aggregate "sort" %select, %tokens default none
        : !rasp.sop<categorical, {{none, 1, 2}}>
    rasp.output %sort : !rasp.sop<categorical, {{none, 1, 2}}>
  }}
}}"""
CRAFT_HIST = f"""builtin.module {{
  craft.program {_SETTINGS} {_CRAFT_ARGS} {{
    %hist = craft.selector_width "hist" select [(%tokens, %tokens EQ)]
        : !craft.space<[hist:1, hist:2]>
    craft.output %hist : !craft.space<[hist:1, hist:2]>
  }}
}}"""
CRAFT_FRAC = f"""builtin.module {{
  craft.program {_SETTINGS} {_CRAFT_ARGS} {{
    %map = craft.categorical_mlp "map" layer 0 %tokens {{1 -> true, 2 -> false}}
        : !craft.space<[map]>
    %frac = craft.numerical_attention "frac" layer 1 %map select [(%indices, %indices LEQ)]
        tolerance 4.904632568359375e-05 magnitude 1.01 : !craft.space<[frac]>
    craft.output %frac : !craft.space<[frac]>
  }}
}}"""


def test_the_texts_here_are_valid():
    for text in (RASP_FRAC, RASP_SORT, CRAFT_HIST, CRAFT_FRAC):
        parse_module(text)


def edited(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} not in:\n{text}"
    return text.replace(old, new, 1)


def assert_parse_error(text: str, message: str) -> None:
    """A parse error (an `IRError` with `FILE:LINE:COL`) saying `message`."""
    with pytest.raises(IRError, match=re.escape(message)) as info:
        parse_module(text)
    assert re.match(r"parse error: \S+:\d+:\d+\n", str(info.value)), str(info.value)


def assert_invalid(text: str, message: str) -> None:
    with pytest.raises(IRError, match=re.escape(message)):
        parse_module(text)


### Parser (xDSL fixes in tracr_ir.xdsl_fixes and the dialects' parse hooks).


def test_an_unterminated_string_is_a_fast_parse_error():
    # Mutation: a deleted closing quote of a hex weight. xDSL's string regex backtracked
    # exponentially in the length of the rest of the line.
    start = time.perf_counter()
    assert_parse_error('builtin.module attributes {a = "' + "0A1B" * 2000 + "} {}",
                       "End of file reached before closing string literal")
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("attribute, message", [
    ("!craft.space<[x:1, x:1]>", "a space lists a direction twice"),
    ("!rasp.sop<numerical, {\"a\"}>", "a numerical s-op holds numbers only"),
    ("99999999999999999999 : i64", "out of range for type i64"),
])
def test_an_attribute_that_does_not_verify_is_a_located_parse_error(attribute, message):
    # Mutations: a duplicated direction, a replaced number. The attribute's verifier ran after
    # its parser returned, so the VerifyException escaped without a location.
    assert_parse_error(f"builtin.module attributes {{a = {attribute}}} {{}}", message)


@pytest.mark.parametrize("attribute, message", [
    ("!rasp.selector<1>", "rasp.selector takes 0 parameter(s), got 1"),
    ('#transformer.head<"h">', "transformer.head takes 2 parameter(s), got 1"),
])
def test_generic_attribute_parameters_are_counted(attribute, message):
    # Mutation: a line break removed after `-> !rasp.selector`, so that the next line's
    # `<{...}>` became its parameters: a strict zip in xDSL raised ValueError.
    assert_parse_error(f"builtin.module attributes {{a = {attribute}}} {{}}", message)


@pytest.mark.parametrize("attribute, message", [
    ("3.5e38 : f32", "float too large to pack"),
    ("dense<[3.5e38, 1.0]> : tensor<2xf32>", "float too large to pack"),
    ("dense<[1000, 2]> : tensor<2xi8>", "Integer value 1000 is out of range for type i8"),
])
def test_a_literal_beyond_its_type_is_a_parse_error(attribute, message):
    # Mutation: digits copied into a weight, beyond float32's range: packing the value raised
    # OverflowError (ValueError for integers) out of the parser.
    assert_parse_error(f"builtin.module attributes {{a = {attribute}}} {{}}", message)


def test_a_huge_splat_is_a_parse_error():
    # Mutation: two tensor dimensions set to 100000. xDSL expands a splat element by element
    # (MemoryError, or the whole memory, for a few characters of text).
    assert_parse_error("builtin.module attributes {a = dense<0.0> : tensor<100000x100000xf32>} {}",
                       "a dense literal of 10000000000 elements is above the limit")


def test_a_dense_literal_of_partial_elements_is_a_parse_error():
    # Mutation: hex digits deleted from a weight. xDSL rounded the element count down; the
    # verifier's and the printer's reads of the buffer then crashed (ValueError).
    assert_parse_error('builtin.module attributes {a = dense<"0x0000803F0000"> : tensor<1xf32>} {}',
                       "not a whole number of 4-byte elements")


@pytest.mark.parametrize("old, new", [
    ("max_seq_len 2 ", "max_seq_len 99999999999999999999 "),
    ("layer 1 ", "layer 99999999999999999999 "),
])
def test_an_index_beyond_i64_is_a_located_parse_error(old, new):
    # Mutation: a replaced number; the IntegerAttr built after parsing failed to verify.
    assert_parse_error(edited(CRAFT_FRAC, old, new), "does not fit in an i64")


### Verifiers.


def test_a_transformer_sublayer_does_not_trust_a_malformed_model():
    # Mutation: a property of the model replaced (generic form). xDSL verifies children
    # first, and transformer.embed read `max_seq_len.value` of an attribute without one.
    text = stage_text(HIST, "transformer", generic=True)
    assert_invalid(edited(text, "max_seq_len = 2 : i64", 'max_seq_len = "two"'),
                   '"two" should be of base attribute integer')


@pytest.mark.parametrize("old, new, message", [
    ("max_seq_len 2 ", "max_seq_len 3 ", "the indices' value set must be the positions 0 to 2"),
    ("%indices: !rasp.sop<categorical, {0, 1}>", "%indices: !rasp.sop<categorical, {0, 2}>",
     "the indices' value set"),
    ("%tokens: !rasp.sop<categorical,", "%tokens: !rasp.sop<numerical,",
     "tokens and indices are categorical s-ops"),
    ("vocab {1, 2}", "vocab {}", "the vocab is empty"),
    ("vocab {1, 2}", "vocab {none, 1, 2}", "none cannot be a token"),
])
def test_rasp_program_inputs_match_the_settings(old, new, message):
    # Mutation: max_seq_len off by one. The indices' value set disagreed with it and
    # craft-allocate-layers crashed building a selector width (ValueError).
    assert_invalid(edited(RASP_FRAC, old, new), message)


@pytest.mark.parametrize("old, new, message", [
    ("max_seq_len 2 ", "max_seq_len 3 ", "one direction per position 0 to 2"),
    ("max_seq_len 2 ", "max_seq_len 9223372036854775807 ", "one direction per position"),
    ("[indices:0, indices:1]>", "[indices:0, indices:2]>", "one direction per position"),
    ("[tokens:1, tokens:2]>", "[tokens:1, tokens:3]>", "one direction per vocab value"),
])
def test_craft_program_inputs_match_the_settings(old, new, message):
    # Mutations: a direction or max_seq_len edited. lower-craft-to-transformer's embedding
    # crashed (KeyError; numpy's "maximum allowed dimension exceeded" at a huge max_seq_len).
    assert_invalid(edited(CRAFT_HIST, old, new), message)


def test_a_craft_width_is_at_most_max_seq_len():
    text = CRAFT_HIST.replace("hist:1, hist:2]>", "hist:1, hist:2, hist:3]>")
    assert_invalid(text, "craft.selector_width 'hist': a width is at most max_seq_len 2")


def test_craft_comparisons_apply_to_every_value_pair():
    # Mutation: a selector term's operand swapped (`(%indices, %tokens LEQ)` over string
    # tokens): the construction raised TypeError comparing 0 <= "a".
    text = (CRAFT_FRAC.replace("{1, 2}", '{"a", "b"}')
            .replace("tokens:1, tokens:2", 'tokens:"a", tokens:"b"')
            .replace("{1 -> true, 2 -> false}", '{"a" -> true, "b" -> false}'))
    text = edited(text, "(%indices, %indices LEQ)", "(%indices, %tokens LEQ)")
    assert_invalid(text, 'LEQ cannot compare key 0 with query "a"')


def test_rasp_comparisons_apply_to_every_value_pair():
    # Found with the craft case above: lower-rasp-to-craft alone (without rasp-infer-values,
    # which tabulates comparisons) turned it into craft IR that does not verify.
    text = (RASP_SORT.replace("vocab {1, 2}", 'vocab {"a", "b"}')
            .replace("categorical, {1, 2}>", 'categorical, {"a", "b"}>')
            .replace("{none, 1, 2}>", '{none, "a", "b"}>'))
    assert_invalid(edited(text, "%target, %indices EQ", "%tokens, %indices LT"),
                   """rasp.select 'select': LT cannot compare key "a" with query 0""")


def test_causal_check_skips_table_entries_that_are_not_positions():
    # A table Select over indices with an entry ("a", 0): rasp-verify-causal compared
    # "a" <= 0 (TypeError). Such an entry never applies to indices.
    text = RASP_FRAC.replace("causal false", "causal true").replace(
        "%indices, %indices LEQ", '%indices, %indices {(0, 0) -> true, ("a", 0) -> true}')
    run_pipeline(parse_module(text), "rasp-verify-causal")


@pytest.mark.parametrize("old, new, message", [
    ("tolerance 4.904632568359375e-05", "tolerance 1.0e309", "must be a finite number"),
    ("tolerance 4.904632568359375e-05", "tolerance 0", "the tolerance must be positive"),
    ("magnitude 1.01", "magnitude -1", "the magnitude must be non-negative"),
    ("magnitude 1.01", "magnitude inf", "must be a finite number"),
])
def test_craft_constants_are_finite_and_in_range(old, new, message):
    # Mutation: a huge tolerance. The softmax scale took log(0): "math domain error".
    assert_invalid(edited(CRAFT_FRAC, old, new), message)


def test_the_attention_scale_of_a_huge_tolerance_is_the_minimal_one():
    assert math.isfinite(attention_scale(3, 1e300, 1e-300))


def test_values_are_defined_above_their_uses():
    # Mutation: two lines swapped in the generic form, which names values before their
    # definition; craft-allocate-layers then put the reader first (invalid IR after it).
    lines = print_module(parse_module(CRAFT_FRAC), generic=True).splitlines()
    i = next(i for i, line in enumerate(lines) if '"craft.categorical_mlp"' in line)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    assert_invalid("\n".join(lines), "reads %map, which is not defined above it")


@pytest.mark.parametrize("text, old, new, message", [
    (RASP_FRAC, 'rasp.map "map" %tokens {1 -> true, 2 -> false}', 'rasp.full "map" 2',
     "rasp.full 'map': the fill 2 is outside the result's value set"),
    (RASP_SORT, "{none, 1, 2}>", "{none, 1}>",
     "rasp.aggregate 'sort': the value 2 it can select is outside"),
])
def test_rasp_results_hold_what_their_op_gives(text, old, new, message):
    # Mutation: a Full's fill nudged. lower-rasp-to-craft built a craft.constant_mlp whose
    # fill has no direction (invalid IR after the pass).
    assert_invalid(text.replace(old, new), message)


def test_a_rasp_width_is_an_int_up_to_max_seq_len():
    assert_invalid(RASP_SORT.replace("{0, 1, 2}>", "{0, 1, 2, 3}>"),
                   "rasp.selector_width 'target': width 3 is not an int from 0 to max_seq_len 2")


def test_a_linear_sequence_map_reads_numbers():
    # Mutation: an operand swapped for string tokens; interpreting it raised TypeError.
    text = stage_text(lib.make_pair_balance(rasp.tokens, "(", ")"), "rasp", vocab=("(", ")"))
    text = re.sub(r'(rasp.linear_sequence_map "\w+") %\w+', r"\1 %tokens", text)
    assert_invalid(text, 'its operands hold numbers, not "("')


### Passes.


def test_infer_values_refuses_a_huge_max_seq_len():
    # Mutation: max_seq_len 9223372036854775807 with uninferred inputs: rasp-infer-values
    # built a value set of every position (unbounded time and memory).
    module = to_ir(HIST, (1, 2), 3)
    module.body.block.first_op.properties["max_seq_len"] = type(
        module.body.block.first_op.max_seq_len)(2 ** 62, 64)
    with pytest.raises(ValueSetError, match="more positions than the limit"):
        run_pipeline(module, "rasp-infer-values")


@pytest.mark.parametrize("factors", [(0, -1), (1, 0), (0, 0)])
def test_a_linear_sequence_map_with_a_zero_factor_compiles(factors):
    # Mutation: a factor replaced by 0. lower-rasp-to-craft left the unread operand without
    # a lowered form and then read it (KeyError). Valid RASP, so also from Python.
    opens = lib.make_frac_prevs(rasp.tokens == "(")
    closes = lib.make_frac_prevs(rasp.tokens == ")")
    program = rasp.numerical(rasp.LinearSequenceMap(opens, closes, *factors))
    module = run_pipeline(to_ir(program, {"(", ")"}, 3), STAGE_PIPELINES["transformer"])
    for xs in (["(", ")", ")"], ["("], [")", "("]):
        assert interpret(module, xs) == pytest.approx(rasp.evaluate(program, xs), abs=1e-4)


def test_lowering_refuses_a_value_set_missing_a_value():
    # Mutation: an Aggregate's default changed to a value outside its value set; the
    # lowering built a lookup writing it without a direction (invalid IR after the pass).
    module = parse_module(edited(RASP_SORT, "default none", "default 0"))
    with pytest.raises(UnsupportedProgramError, match="sort: its value set lacks 0"):
        run_pipeline(module, "lower-rasp-to-craft")


### A pass producing invalid IR, and internal errors, at the tool boundary.

BROKEN_PASS = '''
from dataclasses import dataclass

from xdsl.passes import ModulePass

from tracr_ir import register_pass
from tracr_ir.dialects import rasp


@register_pass
@dataclass(frozen=True)
class DropOutput(ModulePass):
    """Deliberately broken: erases the program's rasp.output."""

    name = "{name}"

    def apply(self, ctx, op):
        for program in op.walk():
            if isinstance(program, rasp.ProgramOp):
                {body}
'''


@pytest.fixture
def restore_passes():
    from tracr_ir.universe import PASSES

    saved = dict(PASSES)
    yield
    PASSES.clear()
    PASSES.update(saved)


def plugin(tmp_path, name: str, body: str):
    path = tmp_path / f"{name.replace('-', '_')}.py"
    path.write_text(BROKEN_PASS.format(name=name, body=body))
    return path


def run_opt(*args: str) -> tuple[int, str]:
    import contextlib
    import io

    from tracr_ir.tools.opt import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, err.getvalue()


def test_a_pass_producing_invalid_ir_is_named(tmp_path, restore_passes):
    path = plugin(tmp_path, "tracr-test-drop-output",
                  "out = program.block.last_op; out.detach(); out.erase()")
    source = tmp_path / "frac.mlir"
    source.write_text(RASP_FRAC)
    status, err = run_opt(str(source), "--load-pass-plugin", str(path),
                          "-p", "rasp-infer-values,tracr-test-drop-output")
    assert status == 1
    assert err.startswith("tracr-opt: error: invalid IR after pass 'tracr-test-drop-output': "
                          "Operation rasp.aggregate terminates block"), err
    # The plugin registered the pass, so the staged API runs it too.
    with pytest.raises(IRError, match="invalid IR after pass 'tracr-test-drop-output': "
                                      "Operation rasp.aggregate terminates block"):
        run_pipeline(parse_module(RASP_FRAC), "rasp-infer-values,tracr-test-drop-output")


def test_an_exception_of_a_bug_is_an_internal_error(tmp_path, restore_passes):
    path = plugin(tmp_path, "tracr-test-key-error", "{}['missing']")
    source = tmp_path / "frac.mlir"
    source.write_text(RASP_FRAC)
    args = [str(source), "--load-pass-plugin", str(path), "-p", "tracr-test-key-error"]
    status, err = run_opt(*args)
    assert status == 1
    assert err.startswith("tracr-opt: internal error: KeyError: 'missing'"), err
    with pytest.raises(KeyError):  # the pass is registered now: no second plugin import
        run_opt(str(source), "-p", "tracr-test-key-error", "--debug")


def test_a_complex_element_without_its_parenthesis_is_a_parse_error():
    # Mutation: characters inserted in a weight, `[0.0, (  0.0, 0.0, ...]`: xDSL's parser
    # failed an assertion (AssertionError) where `)` was missing.
    assert_parse_error("builtin.module attributes {a = dense<[(1.0, 2.0, 3.0]> : "
                       "tensor<1xcomplex<f32>>} {}", "Expected ')' to end a complex value")


def test_a_map_of_an_s_op_that_is_always_none_compiles():
    # Found probing unusual valid programs: the MLP of a Map reading an s-op whose only value
    # is None (an empty space) raised ValueError asking its input space for a name.
    program = rasp.Map(lambda x: 1, rasp.Full(None))
    module = run_pipeline(to_ir(program, {1, 2}, 3), STAGE_PIPELINES["transformer"])
    assert interpret(module, [1, 2]) == rasp.evaluate(program, [1, 2]) == [None, None]


def test_values_of_a_program_are_used_only_inside_it():
    # Mutation: an op line of the generic form copied above the module, where it read
    # %tokens of the craft.program; after lower-craft-to-transformer replaced the program,
    # the module used a value of an erased block (invalid IR after the pass).
    generic = print_module(parse_module(CRAFT_HIST), generic=True)
    line = next(line for line in generic.splitlines() if '"craft.selector_width"' in line)
    assert_invalid(line.replace("%hist", "%copy") + "\n" + generic,
                   "craft.selector_width 'hist' reads %tokens of a craft.program it is not in")


def test_each_craft_value_has_its_own_space():
    # Mutation: an op line copied under a new result name (duplicate_op). Both blocks wrote
    # the same residual directions, so the model silently added the value twice.
    lines = CRAFT_HIST.splitlines()
    i = next(i for i, line in enumerate(lines) if "%hist = " in line)
    copy = [lines[i].replace("%hist", "%copy").replace('"hist"', '"copy"'), lines[i + 1]]
    assert_invalid("\n".join(lines[:i + 2] + copy + lines[i + 2:]),
                   "craft.program: %hist and %copy both live in the space 'hist'")


@pytest.mark.parametrize("body, where", [
    ('  ^5:\n    "test.op"() : () -> ()', ":2:3"),
    ('  ^bb0:\n    "builtin.module"() [^5] ({}) : () -> ()', ":3:25"),  # a successor
])
def test_a_block_label_that_is_not_a_name_is_a_located_parse_error(body, where):
    # Block.name_hint's setter raised ValueError. Only the label is checked: a ValueError
    # from an op inside the block must still show up as the bug it is.
    text = f'"builtin.module"() ({{\n{body}\n}}) : () -> ()'
    with pytest.raises(IRError,
                       match=rf"(?s)parse error: .*{where}.*Invalid Block name format `5`"):
        parse_module(text)
