"""The custom lowering tutorial (examples/custom_lowering/ and the README section "Writing a
custom lowering"): a replaced built-in lowering and an op of a user's dialect are used, keep
the program's meaning down to the JAX model, and fail with clear diagnostics when a piece is
missing. Every registration is undone after its test (fixtures), so nothing leaks into the
rest of the suite."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracr_ir import lib, rasp
from tracr_ir.compiler import (compile_rasp_to_model, interpret, parse_module, print_module,
                               run_passes, run_pipeline, to_ir)
from tracr_ir.dialects import craft
from tracr_ir.dialects import rasp as rasp_ir
from tracr_ir.errors import UnsupportedProgramError, ValueSetError
from tracr_ir.interpreters.rasp import run_ops
from tracr_ir.lowering.patterns import LOWERINGS, RaspLowering, register_lowering, \
    unregister_lowering
from tracr_ir.passes.craft_verify_exactness import CraftVerifyExactness
from tracr_ir.passes.lower_rasp_to_craft import LowerRaspToCraft
from tracr_ir.interpreters.rasp import unregister_interpreter
from tracr_ir.passes.rasp_infer_values import (INFERENCES, RaspInferValues, register_inference,
                                               unregister_inference)
from tracr_ir.testing import assert_equivalent, check_pass, input_sample
from tracr_ir.universe import unregister_dialect

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "custom_lowering"
#: The seam, as a user runs it on the command line.
SEAM = ("rasp-infer-values,rasp-refine-values,rasp-prove-facts,rasp-normalize-selectors,"
        "rasp-annotate-precision,lower-rasp-to-craft")
#: From the rasp stage to laid-out craft (whose interpreter runs the blocks' float32 weights).
TO_CRAFT = "lower-rasp-to-craft,craft-allocate-layers,craft-layout-residual"


def filecheck(text: str, checks: str | Path, tmp_path: Path) -> None:
    """`text` matches the CHECK lines of `checks` (a file, or the lines themselves)."""
    if isinstance(checks, str):
        (tmp_path / "checks").write_text(checks)
        checks = tmp_path / "checks"
    result = subprocess.run([sys.executable, "-m", "filecheck", str(checks)], input=text,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stderr}\n--- input ---\n{text}"


def load(name: str):
    """A fresh copy of examples/custom_lowering/<name>.py (its registrations run again)."""
    spec = importlib.util.spec_from_file_location(f"custom_lowering_{name}",
                                                  EXAMPLE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def craft_ir(program: rasp.SOp, vocab=frozenset({1, 2, 3}), max_seq_len: int = 4) -> str:
    module = to_ir(program, vocab, max_seq_len)
    return print_module(run_pipeline(module, "rasp-infer-values,lower-rasp-to-craft"))


### (a) Replacing the lowering of a built-in op.


@pytest.fixture
def width_by_lookup():
    """`WidthByLookup`, registered (by loading its file) for one test only."""
    module = load("width_by_lookup")
    try:
        yield module.WidthByLookup
    finally:
        unregister_lowering(module.WidthByLookup)


# Labels end in a node id (`hist_2`) that depends on what was built before: [[L]] binds it.
WIDTH_BY_LOOKUP = """
CHECK:      craft.program
CHECK-NEXT:   %[[L:hist_[0-9]+]]_cat = craft.selector_width "[[L]]_cat" select [(%tokens, %tokens EQ)] : !craft.space<{{.}}[[L]]_cat:1, [[L]]_cat:2, [[L]]_cat:3, [[L]]_cat:4]>
CHECK-NEXT:   %hist = craft.categorical_mlp "[[L]]" %[[L]]_cat {1 -> 1, 2 -> 2, 3 -> 3, 4 -> 4} direct : !craft.space<{{.}}[[L]]]>
CHECK-NEXT:   craft.output %hist
"""

BUILT_IN = """
CHECK:      craft.program
CHECK-NEXT:   %hist = craft.selector_width "[[L:hist_[0-9]+]]" select [(%tokens, %tokens EQ)] direct : !craft.space<{{.}}[[L]]]>
CHECK-NEXT:   craft.output %hist
"""

CATEGORICAL = """
CHECK:      craft.program
CHECK-NEXT:   %hist = craft.selector_width "[[L:hist_[0-9]+]]" select [(%tokens, %tokens EQ)] : !craft.space<{{.}}[[L]]:1, [[L]]:2, [[L]]:3, [[L]]:4]>
CHECK-NEXT:   craft.output %hist
"""


def test_the_replacement_is_the_lowering_used(width_by_lookup, tmp_path):
    assert LOWERINGS[0] is width_by_lookup
    numerical_hist = rasp.numerical(lib.make_hist())
    filecheck(craft_ir(numerical_hist), WIDTH_BY_LOOKUP, tmp_path)
    # `matches` narrows by encoding: a categorical width still gets the built-in block.
    filecheck(craft_ir(lib.make_hist()), CATEGORICAL, tmp_path)
    # Unregistered, the built-in pattern lowers the numerical width again.
    unregister_lowering(width_by_lookup)
    assert width_by_lookup not in LOWERINGS
    filecheck(craft_ir(numerical_hist), BUILT_IN, tmp_path)


def test_the_replacement_keeps_the_meaning_of_generated_programs(width_by_lookup,
                                                                 monkeypatch):
    lowered = []
    original = width_by_lookup.lower

    def counting(self, op, state):
        lowered.append(op.label.data)
        return original(self, op, state)

    monkeypatch.setattr(width_by_lookup, "lower", counting)
    # Random programs (30% of their widths numerical) at the rasp stage, lowered and laid
    # out; the craft interpreter runs the blocks' weights, so this is the model's exactness.
    report = check_pass(TO_CRAFT, stage="rasp", examples=60, seed=0, max_steps=12)
    assert report.checked == 60 and report.refused == 0
    assert len(lowered) >= 5, f"only {len(lowered)} numerical widths were drawn"


def test_the_replacement_through_the_jax_model(width_by_lookup):
    hist = rasp.numerical(lib.make_hist())
    programs = [
        hist,
        rasp.numerical(rasp.Map(lambda w: 2 * w - 1, hist)),  # a linear_mlp reads the lookup
        rasp.numerical(lib.make_count(rasp.tokens, "a")),
    ]
    for program in programs:
        model = compile_rasp_to_model(program, vocab={"a", "b", "c"}, max_seq_len=4)
        assert re.search(r'craft\.selector_width "\w+_cat"', model.ir["craft"])
        assert_equivalent(program, model)  # every input of length 1 to 4


### (b) An op of the user's own dialect: myr.running_count.


@pytest.fixture(scope="module")
def myr():
    """The myr plugin imported as a user script does (`import myr`), for this module's
    tests; its registrations are undone afterwards (tracr_ir has no way to unregister an
    interpreter: it stays, and only ever runs myr ops)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        module = importlib.import_module("myr")
        importlib.import_module("compile_stable_sort")
        yield module
    finally:
        sys.path.remove(str(EXAMPLE))
        module = sys.modules.pop("myr", None)
        sys.modules.pop("compile_stable_sort", None)
        if module is not None:
            unregister_lowering(module.LowerRunningCount)
            for pattern in [p for p in INFERENCES if isinstance(p, module.InferRunningCount)]:
                unregister_inference(pattern)
            unregister_interpreter(module.MyrFunctions)
            unregister_dialect("myr")


def stable_sort_text() -> str:
    return (EXAMPLE / "stable_sort.mlir").read_text()


def test_the_running_count_op(myr):
    # Parsed with its custom syntax, inferred, and interpreted.
    module = run_pipeline(parse_module(stable_sort_text()), "rasp-infer-values")
    (op,) = [op for op in module.walk() if isinstance(op, myr.RunningCountOp)]
    assert op.output.type.value_set == (1, 2, 3, 4)
    assert interpret(module, [1, 1, 2, 1]) == [1, 1, 1, 2]  # the stable sort
    program = next(o for o in module.walk() if isinstance(o, rasp_ir.ProgramOp))
    env = run_ops(program, [op], [1, 1, 2, 1])
    assert env[op.output] == [1, 2, 1, 3]
    # A running count of values that may be None is refused by its value inference.
    text = """builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %prev = rasp.select "prev_1" %indices, %indices LT : !rasp.selector
    %last = rasp.aggregate "last_2" %prev, %tokens default none : !rasp.sop<categorical>
    %count = myr.running_count "count_3" %last : !rasp.sop<categorical>
    rasp.output %count : !rasp.sop<categorical>
  }
}"""
    with pytest.raises(ValueSetError, match=r"^count_3: the values it compares may be None"):
        run_pipeline(parse_module(text), "rasp-infer-values")


def test_the_user_op_from_python_to_a_jax_model(myr):
    script = sys.modules["compile_stable_sort"]
    source, model, stages = script.compile_file()
    assert "myr." not in stages["craft"]
    assert re.search(r'craft\.selector_width "seen_3" layer 0 select '
                     r'\[\(%tokens, %tokens EQ\), \(%indices, %indices LEQ\)\]',
                     stages["craft"])
    inputs = input_sample({1, 2, 3}, 4)
    assert len(inputs) == 3 + 9 + 27 + 81  # every input
    assert_equivalent(source, model, inputs)  # the rasp interpreter runs myr.running_count
    # Independently of the user's interpreter: the program is a stable sort.
    outputs = model.apply_batch([[model.weights.bos, *xs] for xs in inputs])
    assert [out[1:] for out in outputs] == [sorted(xs) for xs in inputs]


def test_the_user_op_through_tracr_opt(myr, tmp_path):
    command = [sys.executable, "-m", "tracr_ir.tools.opt", "--load-pass-plugin",
               str(EXAMPLE / "myr.py"), str(EXAMPLE / "stable_sort.mlir"), "-p",
               SEAM]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    filecheck(result.stdout, EXAMPLE / "stable_sort.mlir", tmp_path)
    run_passes(parse_module(result.stdout), [CraftVerifyExactness()])  # the bounds hold
    # The craft output (no myr op left: it parses without the plugin) against the rasp
    # source run by the rasp interpreter with the plugin's implementation, on every input.
    assert_equivalent(parse_module(stable_sort_text()), result.stdout,
                      input_sample({1, 2, 3}, 4), names=("rasp source", "tracr-opt craft"))


### (c) Diagnostics when a piece is missing.


def test_an_op_nothing_lowers_is_named(myr):
    module = run_pipeline(parse_module(stable_sort_text()), "rasp-infer-values")
    unregister_lowering(myr.LowerRunningCount)
    try:
        with pytest.raises(UnsupportedProgramError,
                           match=r"^no lowering for myr\.running_count 'seen_3' \(register a "
                                 r"pattern with .*register_lowering\)"):
            run_passes(module, [LowerRaspToCraft()])
    finally:
        register_lowering(myr.LowerRunningCount)


def test_an_op_without_value_inference_is_named(myr):
    (pattern,) = [p for p in INFERENCES if isinstance(p, myr.InferRunningCount)]
    unregister_inference(pattern)
    try:
        with pytest.raises(ValueSetError,
                           match=r"^no value inference for myr\.running_count 'seen_3' "
                                 r"\(register a pattern with .*register_inference\)"):
            run_passes(parse_module(stable_sort_text()), [RaspInferValues()])
    finally:
        register_inference(pattern)


### The exactness verifier checks the error bounds a pattern claims.


class OverclaimingMean(RaspLowering):
    """A numerical mean whose softmax tolerance is 0.25 (not what the readers need), while
    it claims to be as exact as they need: `lower-rasp-to-craft` takes the claim at its
    word; the craft verifier recomputes the bound from the op and refuses."""

    OP = rasp_ir.AggregateOp

    def matches(self, op):
        return isinstance(op, rasp_ir.AggregateOp) and op.output.type.is_numerical

    def lower(self, op, state):
        label, y = op.label.data, op.output
        head = craft.NumericalAttentionOp(label, state.get_num(op.sop), state.terms(op.selector),
                                          0.25, 2.0, state.space(label, y))
        return state.add(head, state.required(y))  # the false claim


def test_an_overclaiming_pattern_is_refused_and_so_is_edited_craft_ir():
    """A pattern's claimed error is not trusted: `LoweringState.add` takes the bound the
    craft op states, so the lowering refuses the head. The same head in hand-written craft IR
    is refused by the craft exactness verifier."""
    program = lib.make_frac_prevs(rasp.tokens == "a")
    register_lowering(OverclaimingMean)
    try:
        with pytest.raises(UnsupportedProgramError,
                           match=r"frac_prevs_\d+: its readers need it within 5e-05, but its "
                                 r"construction only guarantees 0\.25"):
            run_pipeline(to_ir(program, {"a", "b"}, 5), "rasp-infer-values,lower-rasp-to-craft")
    finally:
        unregister_lowering(OverclaimingMean)
    module = run_pipeline(to_ir(program, {"a", "b"}, 5), "rasp-infer-values,lower-rasp-to-craft")
    run_passes(module, [CraftVerifyExactness()])  # the built-in pattern meets the bound
    text = re.sub(r"tolerance [0-9.e-]+ magnitude", "tolerance 0.25 magnitude",
                  print_module(module))
    with pytest.raises(UnsupportedProgramError,
                       match=r"^craft\.numerical_attention 'frac_prevs_\d+': its output can be "
                             r"0\.25 off, but the program output needs it within 5e-05$"):
        run_passes(parse_module(text), [CraftVerifyExactness()])


### The README section's example, as written there.


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Writing a custom lowering")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_readme_example(capsys):
    blocks = re.findall(r"```python\n(.*?)```", readme_section(), re.S)
    assert len(blocks) == 2
    before = list(LOWERINGS)
    namespace: dict = {"__name__": "readme_example"}
    try:
        exec(compile(blocks[0], "README.md", "exec"), namespace)
        pattern = namespace["WidthByLookup"]
        assert LOWERINGS[0] is pattern
        printed = capsys.readouterr().out
        assert re.search(r'craft\.selector_width "(hist_\d+)_cat" .*\n.*'
                         r'craft\.categorical_mlp "\1" %\1_cat \{1 -> 1, ', printed)
        exec(compile(blocks[1], "README.md", "exec"), namespace)
        # What pytest does with the README's fixture: run it to its `yield`, run the test,
        # then finish the fixture (which unregisters the pattern).
        unregister_lowering(pattern)
        fixture = namespace["width_by_lookup"].__wrapped__()
        assert next(fixture) is pattern and LOWERINGS[0] is pattern
        namespace["test_width_by_lookup_keeps_meaning"](pattern)
        assert next(fixture, "done") == "done" and pattern not in LOWERINGS
    finally:
        for added in [p for p in LOWERINGS if p not in before]:
            unregister_lowering(added)
    assert LOWERINGS == before
