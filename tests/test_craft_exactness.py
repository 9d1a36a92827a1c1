"""Exactness of craft IR (`tracr_ir.dialects.craft_exactness`, `craft-verify-exactness`): every
program the lowering produces verifies, and each loosened constant is refused naming the op.
Also: a block's kind comes from its op class's KIND, and a user op with its own properties
prints, parses back, allocates and lowers like a built-in one."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import ClassVar

import pytest
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, StringAttr, f64, i64
from xdsl.ir import Dialect, SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, prop_def
from xdsl.utils.exceptions import VerifyException

from tracr_ir import lib, rasp
from tracr_ir.compiler import interpret, make_context, parse_module, run_passes, run_pipeline, to_ir
from tracr_ir.craft import attention as craft_attention
from tracr_ir.craft import numerics
from tracr_ir.craft.bases import Space
from tracr_ir.craft.tolerances import EXACT, Bound, fits, output_tolerance
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_base import block_kind, space_of
from tracr_ir.dialects.craft_exactness import value_bounds, verify_exactness
from tracr_ir.dialects.rasp import ValueAttr
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.passes.craft_verify_exactness import CraftVerifyExactness
from tracr_ir.testing.strategies import random_program

from lib_cases import LIB_CASES, lengths

TO_CRAFT = "rasp-infer-values,lower-rasp-to-craft"
TO_MODEL = "craft-allocate-layers,craft-layout-residual,lower-craft-to-transformer"

def craft_program(program: rasp.SOp, vocab, max_seq_len: int) -> craft.ProgramOp:
    module = run_pipeline(to_ir(program, vocab, max_seq_len), TO_CRAFT)
    (op,) = [o for o in module.walk() if isinstance(o, craft.ProgramOp)]
    return op


def op_of(program: craft.ProgramOp, kind: type[craft.CraftOp]) -> craft.CraftOp:
    (op,) = [o for o in program.block.ops if isinstance(o, kind)]
    return op


def refused(program: craft.ProgramOp, *names: str) -> str:
    with pytest.raises(UnsupportedProgramError) as info:
        verify_exactness(program)
    for name in names:
        assert name in str(info.value), (name, str(info.value))
    return str(info.value)


# ------------------------------------------------------------- what the lowering produces


def _lib_params():
    for case in LIB_CASES:
        for n in lengths(case):
            yield pytest.param(case, n, id=f"{case.name}-{n}")


@pytest.mark.parametrize("case,n", list(_lib_params()))
def test_every_lib_program_verifies(case, n):
    verify_exactness(craft_program(case.make(n), case.vocab, n))


def test_random_programs_verify():
    refusals = []
    for seed in range(150):
        length = (3, 5, 8)[seed % 3]
        program = random_program(seed, 4 + seed % 16, frozenset({1, 2, 3}), length)
        try:
            op = craft_program(program, {1, 2, 3}, length)
        except UnsupportedProgramError:
            continue  # the lowering's own refusals are tested elsewhere
        try:
            verify_exactness(op)
        except UnsupportedProgramError as e:
            refusals.append((seed, str(e)))
    assert not refusals, refusals[:3]


# ------------------------------------------------------------- the acceptance example

FRAC = lib.make_frac_prevs(rasp.tokens == "x")


def frac_text() -> str:
    return str(craft_program(FRAC, {"x", "y"}, 5).parent_op())


def test_frac_prevs_compiles_and_a_loose_tolerance_is_refused():
    text = frac_text()
    (label,) = re.findall(r'numerical_attention "(frac_prevs_\d+)"', text)
    run_pipeline(parse_module(text), TO_MODEL)  # the unmodified IR compiles
    loose = re.sub(r"tolerance [0-9.e-]+", "tolerance 0.3", text)
    with pytest.raises(UnsupportedProgramError) as info:
        run_pipeline(parse_module(loose), TO_MODEL)
    assert str(info.value) == (f"craft.numerical_attention '{label}': its output can be "
                               "0.3 off, but the program output needs it within 5e-05")
    assert info.value.label == label
    with pytest.raises(UnsupportedProgramError, match=label):
        run_passes(parse_module(loose), [CraftVerifyExactness()])


def test_the_pass_leaves_the_ir_unchanged():
    text = frac_text()
    module = parse_module(text)
    run_passes(module, [CraftVerifyExactness()])
    assert str(module) == text


# ------------------------------------------------------------- each rule, loosened


def test_frac_prevs_bounds_follow_the_rules():
    program = craft_program(FRAC, {"x", "y"}, 5)
    bounds = value_bounds(program)
    bools, frac = op_of(program, craft.CategoricalMLPOp), op_of(program, craft.NumericalAttentionOp)
    error = bools.block(5).float32_error
    assert bounds[bools.output] == Bound(error, low=0.0, high=1.0)
    assert bounds[frac.output].error == float(frac.tolerance.data) + error
    assert (bounds[frac.output].low, bounds[frac.output].high) == (0.0, 1.0)


def test_a_magnitude_below_the_values_is_refused():
    program = craft_program(FRAC, {"x", "y"}, 5)
    frac = op_of(program, craft.NumericalAttentionOp)
    frac.properties["magnitude"] = craft.ValueAttr(0.5)
    refused(program, f"craft.numerical_attention '{frac.label_text}'", "above its magnitude 0.5")


THRESHOLD = rasp.Map(lambda f: f > 0.5, lib.make_frac_prevs(rasp.tokens == "x"))


def _threshold_program() -> tuple[craft.ProgramOp, craft.CraftOp]:
    program = craft_program(THRESHOLD, {"x", "y"}, 5)
    (reader,) = [o for o in program.block.ops if isinstance(o, craft.NumericalMLPOp)]
    return program, reader


def test_a_discretising_map_of_a_mean_verifies():
    program, reader = _threshold_program()
    verify_exactness(program)
    assert float(reader.input_error.data) > 0


def test_an_input_error_below_the_writers_bound_is_refused():
    program, reader = _threshold_program()
    reader.properties["input_error"] = craft.ValueAttr(float(reader.input_error.data) / 10)
    refused(program, "craft.numerical_attention 'frac_prevs", "its output can be",
            f"but craft.numerical_mlp '{reader.label_text}' (operand 0) needs it within")


def test_an_input_error_of_half_a_gap_is_refused():
    program, reader = _threshold_program()
    reader.properties["input_error"] = craft.ValueAttr(0.5)
    refused(program, f"craft.numerical_mlp '{reader.label_text}'", "input_error 0.5",
            "half the gap")


def test_a_loose_categorical_head_is_refused():
    program = craft_program(lib.make_reverse(rasp.tokens), {"a", "b"}, 4)
    (head,) = [o for o in program.block.ops if isinstance(o, craft.CategoricalAttentionOp)]
    verify_exactness(program)
    head.properties["tolerance"] = craft.ValueAttr(0.5)
    refused(program, f"craft.categorical_attention '{head.label_text}'", "0.5 off",
            "within 0.0625")


def test_a_noisy_selector_term_is_refused():
    """A head reading another head's output as its query (the lowering snaps it first)."""
    program = craft_program(lib.make_reverse(rasp.tokens), {"a", "b"}, 4)
    (head,) = [o for o in program.block.ops if isinstance(o, craft.CategoricalAttentionOp)]
    query = head.operands[2]  # value, keys, queries
    noisy = craft.CategoricalAttentionOp("noisy", query, [(program.block.args[1], query, "EQ")],
                                         0.01, Space.categorical("noisy", space_of(query).values))
    program.block.insert_op_after(noisy, query.owner)
    head.operands = [head.operands[0], head.operands[1], noisy.output]
    refused(program, "craft.categorical_attention 'noisy'", "0.01 off",
            f"craft.categorical_attention '{head.label_text}' (operand 2) needs it within 1e-06")


def test_a_head_reads_noisy_terms_within_its_term_error_only():
    """The lowering reads a lookup of an Aggregate's output as a query unsnapped and states
    its error on the head (`term_error`); a head claiming a smaller one than its term carries is
    refused, naming the writer and the head."""
    shifted = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == max(q - 1, 0)), rasp.tokens))
    position = rasp.categorical(rasp.Map(lambda x: {"a": 0, "b": 1}[x], shifted))
    program = craft_program(rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, position, rasp.Comparison.EQ), rasp.tokens)), {"a", "b"}, 4)
    heads = [o for o in program.block.ops if isinstance(o, craft.CategoricalAttentionOp)]
    noisy = [h for h in heads if h.term_error is not None]
    assert len(heads) == 2 and len(noisy) == 1
    (head,) = noisy
    assert value_bounds(program)[head.operands[2]].error <= head.term_error_value
    verify_exactness(program)
    head.properties["term_error"] = ValueAttr(1e-7)
    refused(program, f"craft.categorical_attention '{head.label_text}' (operand 2) needs it "
                     "within 1e-06")


def test_linear_maps_add_their_inputs_errors():
    program = craft_program(lib.make_pair_balance(rasp.tokens, "(", ")"), {"(", ")"}, 5)
    bounds = value_bounds(program)
    (linear,) = [o for o in program.block.ops if isinstance(o, craft.LinearMLPOp)]
    opens, closes = (bounds[x] for x in linear.operands)
    out = bounds[linear.output]
    assert out.error == opens.error + closes.error + numerics.float32_error_estimate(2.0)
    assert (out.low, out.high) == (-1.0, 1.0)
    verify_exactness(program)


def test_a_numerical_output_needs_five_e_minus_five_or_a_millionth_of_its_magnitude():
    assert output_tolerance(1.0) == 5e-5 and output_tolerance(10.0) == 5e-5
    assert output_tolerance(1e3) == 1e-3
    assert output_tolerance(1e6) == 1.0
    assert fits(5e-5, 5e-5) and fits((5e-5 - 2 ** -20) + 2 ** -20, 5e-5)
    assert not fits(5.0001e-5, 5e-5) and not fits(math.inf, 1.0)
    assert Bound(0.1, 2.0) == Bound(0.1, 2.0, -2.0, 2.0)
    assert Bound(0.0, low=-3.0, high=1.0).magnitude == 3.0


# ------------------------------------------------------------- a user op


class _PrefixMean(craft.CraftOp):
    """`test.prefix_mean "l" %value, %indices props {digits = .., note = .., tolerance = ..}`:
    the mean of a numerical value over the positions up to the query's (a user's op)."""

    value = operand_def(craft.SpaceType)
    positions = operand_def(craft.SpaceType)
    digits = prop_def(IntegerAttr)  # the magnitude of the values: 10 ** digits
    note = prop_def(StringAttr)
    tolerance = prop_def(FloatAttr)

    def __init__(self, label: str, value: SSAValue, positions: SSAValue, tolerance: float,
                 out: Space, digits: int = 1, note: str = "user"):
        self._init(label, [value, positions], out, digits=IntegerAttr(digits, i64),
                   note=StringAttr(note), tolerance=FloatAttr(tolerance, f64))

    @property
    def magnitude(self) -> float:
        return 10.0 ** self.digits.value.data

    def build_block(self, max_seq_len: int):
        positions = space_of(self.positions).space
        term = craft_attention.select_term(positions, positions, lambda k, q: k <= q)
        return craft_attention.numerical_attention(
            [term], space_of(self.value).space[0], self.out_space[0], [self.magnitude],
            max_seq_len, self.tolerance.value.data, label=self.label_text)

    def input_tolerances(self, max_seq_len: int) -> list[float]:
        return [math.inf, EXACT]

    def output_bound(self, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        value = inputs[0]
        assert value.magnitude + value.error <= self.magnitude
        return Bound(self.tolerance.value.data + value.error, low=min(value.low, 0.0),
                     high=max(value.high, 0.0))


@irdl_op_definition
class PrefixMeanOp(_PrefixMean):
    name = "test.prefix_mean"
    KIND: ClassVar[str] = "attention"


@irdl_op_definition
class NoKindOp(craft.CraftOp):
    name = "test.no_kind"
    input = operand_def(craft.SpaceType)


@irdl_op_definition
class WrongKindOp(_PrefixMean):
    name = "test.wrong_kind"
    KIND: ClassVar[str] = "mlp"


@irdl_op_definition
class UnstatedOp(_PrefixMean):
    name = "test.unstated"
    KIND: ClassVar[str] = "attention"
    input_tolerances = craft.CraftOp.input_tolerances
    output_bound = craft.CraftOp.output_bound


USER = Dialect("test", [PrefixMeanOp, NoKindOp, WrongKindOp, UnstatedOp])


def pair_balance_with(op_class: type[_PrefixMean]) -> tuple[ModuleOp, rasp.SOp]:
    """make_pair_balance's craft IR, its means replaced by `op_class` ops."""
    program = lib.make_pair_balance(rasp.tokens, "(", ")")
    module = run_pipeline(to_ir(program, {"(", ")", "a"}, 5), TO_CRAFT)
    (craft_op,) = [o for o in module.walk() if isinstance(o, craft.ProgramOp)]
    indices = craft_op.block.args[1]
    for head in [o for o in craft_op.block.ops if isinstance(o, craft.NumericalAttentionOp)]:
        mean = op_class(head.label_text, head.operands[0], indices,
                        float(head.tolerance.data), head.out_space, note=f"was {head.name}")
        craft_op.block.insert_op_before(mean, head)
        head.output.replace_all_uses_with(mean.output)
        head.detach()
        head.erase()
    return module, program


def test_the_kind_of_a_block_is_its_op_class_kind():
    assert {op.name: op.KIND for op in craft.CRAFT_OPS if hasattr(op, "KIND")} == {
        "craft.categorical_mlp": "mlp", "craft.numerical_mlp": "mlp",
        "craft.sequence_map_mlp": "mlp", "craft.linear_mlp": "mlp",
        "craft.constant_mlp": "mlp", "craft.categorical_attention": "attention",
        "craft.numerical_attention": "attention", "craft.selector_width": "selector_width"}


def test_a_user_attention_op_allocates_verifies_and_lowers_exactly():
    module, program = pair_balance_with(PrefixMeanOp)
    module.verify()
    run_pipeline(module, "craft-allocate-layers")
    module.verify()  # the layer verifier and the allocator agree: the means are heads
    means = [o for o in module.walk() if isinstance(o, PrefixMeanOp)]
    assert [block_kind(o) for o in means] == ["attention", "attention"]
    assert [o.layer_index for o in means] == [1, 1]  # after the MLP writing their values
    run_pipeline(module, "craft-layout-residual,lower-craft-to-transformer")
    for xs in (["(", ")"], ["(", "(", "a", ")", ")"], [")", "("], ["a"]):
        got, want = interpret(module, xs), rasp.evaluate(program, xs)
        assert all(abs(g - w) < 1e-4 for g, w in zip(got, want)), (xs, got, want)


def test_a_user_op_without_kind_is_refused_by_the_verifier():
    module = run_pipeline(to_ir(rasp.tokens == "a", {"a", "b"}, 3), TO_CRAFT)
    (craft_op,) = [o for o in module.walk() if isinstance(o, craft.ProgramOp)]
    op = NoKindOp.create(operands=[craft_op.block.args[0]],
                         result_types=[craft.SpaceType(Space.numerical("odd"))],
                         properties={"label": StringAttr("odd_1")})
    craft_op.block.insert_op_before(op, craft_op.block.last_op)
    with pytest.raises(VerifyException, match=r"test.no_kind 'odd_1': its class NoKindOp "
                                              r"must set KIND"):
        module.verify()


def test_a_block_of_another_type_than_its_kind_is_refused():
    module, _ = pair_balance_with(WrongKindOp)
    with pytest.raises(PipelineError, match=r"test.wrong_kind 'opens_\d+': KIND is 'mlp', so "
                                            r"build_block must return a MLPBlock, got a "
                                            r"AttentionHead"):
        run_pipeline(module, "craft-allocate-layers")


def test_a_user_op_that_does_not_state_its_bounds_is_refused():
    module, _ = pair_balance_with(UnstatedOp)
    with pytest.raises(UnsupportedProgramError, match=r"test.unstated 'opens_\d+': UnstatedOp "
                                                      r"does not state its exactness: define "
                                                      r"output_bound and input_tolerances"):
        run_passes(module, [CraftVerifyExactness()])


def test_a_user_op_prints_and_parses_back_with_its_properties():
    module, _ = pair_balance_with(PrefixMeanOp)
    text = str(module)
    assert re.search(r'test.prefix_mean "opens_\d+" %\w+, %indices props \{digits = 1 : i64, '
                     r'note = "was craft.numerical_attention", tolerance = [0-9.e-]+ : f64\} '
                     r": !craft.space<\[opens_\d+\]>", text), text
    ctx = make_context()
    ctx.load_dialect(USER)
    parsed = parse_module(text, ctx)
    assert str(parsed) == text
    assert parsed.is_structurally_equivalent(module)


def test_reserved_and_payload_properties_cannot_be_repeated_in_props():
    text = frac_text().replace("magnitude 1.01 :", 'magnitude 1.01 props {label = "x"} :')
    with pytest.raises(Exception, match="already passed through"):
        parse_module(text)
    text = frac_text().replace("magnitude 1.01 :", "magnitude 1.01 props {tolerance = 1} :")
    with pytest.raises(Exception, match="already passed through"):
        parse_module(text)
