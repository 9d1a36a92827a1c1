"""The public testing toolkit: `assert_equivalent`, `check_pass`, `modules`, `inputs_for`."""

import dataclasses
import importlib.util

import pytest
from hypothesis import given, settings
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from tracr_ir import lib, rasp
from tracr_ir.backends.jax import build
from tracr_ir.compiler import (STAGE_PIPELINES, print_module, run_pipeline, stage_name,
                               stage_op, to_ir)
from tracr_ir.dialects import rasp as rasp_dialect
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.testing import (STAGES, assert_equivalent, check_pass, input_sample, inputs_for,
                              modules)
from tracr_ir.universe import PASSES

VOCAB = {1, 2, 3}


def stages_of(program, vocab=VOCAB, max_seq_len=4):
    out = {"to_ir": to_ir(program, vocab, max_seq_len)}
    for stage, spec in STAGE_PIPELINES.items():
        out[stage] = run_pipeline(to_ir(program, vocab, max_seq_len), spec)
    return out


### assert_equivalent


def test_every_stage_text_and_model_are_equivalent_to_the_program():
    program = lib.make_sort_unique(rasp.tokens, rasp.tokens)
    stages = stages_of(program)
    model = build(stages["transformer"])
    for module in stages.values():
        assert_equivalent(program, module)
        assert_equivalent(module, model)
    assert_equivalent(print_module(stages["craft"]), print_module(stages["transformer"]))


def test_a_difference_names_the_input_and_both_outputs():
    hist, length = stages_of(lib.make_hist()), stages_of(lib.make_length())
    with pytest.raises(AssertionError) as caught:
        assert_equivalent(hist["craft"], length["rasp"], [[1, 1, 1], [1, 2, 3]])
    message = str(caught.value)
    assert "a and b differ on input [1, 2, 3] (input 2 checked)" in message
    assert "a (craft.program): [1, 1, 1]" in message
    assert "b (rasp.program): [3, 3, 3]" in message
    assert "first difference at position 0: 1 vs 3" in message


def test_numerical_outputs_compare_within_the_tolerance():
    frac = lib.make_frac_prevs(rasp.tokens == 1)
    model = stages_of(frac)["transformer"]
    assert_equivalent(frac, model, abs_tol=1e-4)
    shifted = rasp.numerical(rasp.Map(lambda x: x + 1e-3, frac))
    with pytest.raises(AssertionError, match="differ on input"):
        assert_equivalent(shifted, model, abs_tol=1e-4)
    assert_equivalent(shifted, model, abs_tol=1e-2)


def test_raising_on_one_side_only_is_a_difference():
    boom = rasp.Map(lambda x: 1 // (x - 2), rasp.tokens)
    safe = rasp.Map(lambda x: -1 if x == 1 else 0, rasp.tokens)
    with pytest.raises(AssertionError, match=r"(?s)input \[2\] .*a \(RASP program .*\): "
                                             r"raised ZeroDivisionError"):
        assert_equivalent(boom, safe, [[1], [2]])


def test_a_check_that_compares_nothing_fails():
    module = stages_of(lib.make_hist())["rasp"]
    with pytest.raises(AssertionError, match="no input ran on a and b: both rejected all 2"):
        assert_equivalent(module, module, [[9], [1, 1, 1, 1, 1]])
    with pytest.raises(AssertionError, match="no inputs given"):
        assert_equivalent(module, module, [])


def test_different_inputs_are_reported_before_running():
    with pytest.raises(AssertionError, match="take different inputs"):
        assert_equivalent(stages_of(lib.make_hist())["rasp"],
                          stages_of(lib.make_hist(), max_seq_len=3)["rasp"])


def test_two_programs_need_inputs_or_a_vocab():
    with pytest.raises(TypeError, match="vocab and max_seq_len"):
        assert_equivalent(lib.make_hist(), lib.make_hist())
    assert_equivalent(lib.make_hist(), lib.make_hist(), vocab=VOCAB, max_seq_len=3)


def test_input_sample_is_exhaustive_when_small_and_covers_every_length():
    assert len(input_sample({1, 2}, 3)) == 2 + 4 + 8
    sample = input_sample({1, 2, 3}, 8, n=40, seed=1)
    assert len(sample) == 40 and {len(xs) for xs in sample} == set(range(1, 9))
    assert sample == input_sample({1, 2, 3}, 8, n=40, seed=1)


def test_a_causal_module_is_compared_with_prefix_evaluation():
    program = lib.make_frac_prevs(rasp.tokens == 1)
    module = run_pipeline(to_ir(program, VOCAB, 4, causal=True), STAGE_PIPELINES["transformer"])
    assert_equivalent(program, module)


### strategies


@pytest.mark.parametrize("stage", STAGES)
def test_modules_gives_verified_modules_of_the_stage(stage):
    @settings(max_examples=10)
    @given(modules(stage=stage, max_seq_len=3))
    def check(module):
        module.verify()
        want = "rasp" if stage == "to_ir" else stage
        assert stage_name(module) == want
        assert stage_op(module).length == 3

    check()


def test_modules_rejects_an_unknown_stage():
    with pytest.raises(PipelineError, match="unknown stage 'llvm'"):
        given(modules(stage="llvm"))(lambda module: None)()


def test_inputs_for_reads_vocab_and_length_from_a_module_text_or_model():
    module = stages_of(lib.make_hist(), vocab={"a", "b"}, max_seq_len=3)["transformer"]

    @settings(max_examples=30)
    @given(inputs_for(module), inputs_for(print_module(module)), inputs_for(build(module)),
           inputs_for(lib.make_hist(), {"x"}, 2))
    def check(from_module, from_text, from_model, from_program):
        for xs in (from_module, from_text, from_model):
            assert 1 <= len(xs) <= 3 and set(xs) <= {"a", "b"}
        assert 1 <= len(from_program) <= 2 and set(from_program) == {"x"}

    check()
    with pytest.raises(TypeError, match="needs its vocab"):
        inputs_for(lib.make_hist())


### check_pass on every pass of the project: each keeps meaning and verifies its output

PASS_STAGES = {
    "rasp-infer-values": "to_ir",
    "rasp-verify-causal": "rasp",
    "rasp-refine-values": "rasp",
    "rasp-fuse-maps": "rasp",
    "rasp-prove-facts": "rasp",
    "rasp-normalize-selectors": "rasp",
    "rasp-annotate-precision": "rasp",
    "lower-rasp-to-craft": "rasp",
    "craft-verify-exactness": "craft",
    "craft-allocate-layers{strategy=solver}": "craft",
    "craft-layout-residual": "craft",
    "lower-craft-to-transformer": "craft",
    "transformer-compress": "transformer",
    # the craft stage's residual reuses positions; the LayerNorm construction needs it without
    "craft-layout-residual{reuse=false},craft-layer-norm": "craft",
    "craft-layout-residual{reuse=false},craft-layer-norm,lower-craft-to-transformer,"
    "transformer-layer-norm": "craft",
}


def test_every_pass_of_the_project_is_checked_here():
    ours = {name for name in PASSES  # one module per pass, named after it
            if importlib.util.find_spec(f"tracr_ir.passes.{name.replace('-', '_')}")}
    assert {p.split("{")[0] for spec in PASS_STAGES for p in spec.split(",")} == ours


@pytest.mark.parametrize("spec", PASS_STAGES)
def test_check_pass_on_our_passes(spec):
    report = check_pass(spec, stage=PASS_STAGES[spec], examples=40, seed=0)
    # craft-layer-norm refuses programs whose precision budget (compiled without
    # rasp-annotate-precision{share=0.5}) leaves no room for the LayerNorm's deviation
    allowed = report.checked // 2 if "layer-norm" in spec else 0
    assert report.checked == 40 and report.refused <= allowed
    assert report.inputs > 40 * 4
    if spec.startswith(("rasp-infer", "lower-")):
        assert report.changed == report.checked


def test_check_pass_runs_a_whole_pipeline_from_the_start():
    spec = ("lower-rasp-to-craft,craft-allocate-layers{strategy=solver},craft-layout-residual,"
            "lower-craft-to-transformer")
    report = check_pass(spec, stage="rasp", examples=25, seed=0, max_steps=8)
    assert report.checked == 25


@dataclasses.dataclass(frozen=True)
class RelabelFirstOp(ModulePass):
    """A harmless user pass: renames the label of the first rasp op."""

    name = "relabel-first-op"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for rasp_op in op.walk():
            if isinstance(rasp_op, rasp_dialect.RaspOp):
                rasp_op.properties["label"] = StringAttr("renamed")
                return


def test_check_pass_takes_a_pass_instance_or_class_and_counts_changes():
    report = check_pass(RelabelFirstOp, stage="rasp", examples=20, seed=1)
    assert report.pass_name == "relabel-first-op"
    assert report.checked == 20 and report.changed == 20


@dataclasses.dataclass(frozen=True)
class DropOutput(ModulePass):
    """Produces invalid IR: the program's terminator `rasp.output` erased."""

    name = "drop-output"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        block = stage_op(op).regions[0].block
        block.erase_op(block.last_op, safe_erase=False)


def test_invalid_output_fails_naming_the_pass():
    with pytest.raises(AssertionError) as caught:
        check_pass(DropOutput(), stage="rasp", examples=5, seed=0)
    assert "pass 'drop-output' raised IRError: invalid IR after pass 'drop-output'" \
        in str(caught.value)


@dataclasses.dataclass(frozen=True)
class Crash(ModulePass):
    name = "crash"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        raise KeyError("oops")


def test_an_exception_in_the_pass_is_reported_with_the_ir():
    with pytest.raises(AssertionError, match=r"(?s)pass 'crash' raised KeyError: 'oops'.*"
                                             r"IR before the pass.*rasp.program"):
        check_pass(Crash, stage="rasp", examples=3, seed=0)


@dataclasses.dataclass(frozen=True)
class RefuseAll(ModulePass):
    name = "refuse-all"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        raise UnsupportedProgramError("not today", "somewhere")


def test_refusals_are_failures_when_not_allowed():
    with pytest.raises(AssertionError, match="pass 'refuse-all' refused the module: "
                                             "somewhere: not today"):
        check_pass(RefuseAll, stage="rasp", examples=3, seed=0, allow_refusals=False)


def test_a_pass_refusing_everything_cannot_pass_the_check():
    with pytest.raises(Exception) as caught:
        check_pass(RefuseAll, stage="rasp", examples=5, seed=0)
    assert type(caught.value).__name__ in ("FailedHealthCheck", "Unsatisfiable")


def test_check_pass_rejects_what_is_not_a_pass():
    with pytest.raises(TypeError, match="check_pass takes a ModulePass"):
        check_pass(42)
    with pytest.raises(PipelineError, match="no-such-pass"):
        check_pass("no-such-pass")


def test_examples_default_to_the_loaded_hypothesis_profile():
    previous = settings.get_current_profile_name()
    settings.register_profile("tiny-for-this-test", max_examples=7)
    settings.load_profile("tiny-for-this-test")
    try:
        assert check_pass(RelabelFirstOp, stage="rasp", seed=0).checked == 7
    finally:
        settings.load_profile(previous)
