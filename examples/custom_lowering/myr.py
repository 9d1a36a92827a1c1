"""`myr`: a user's own dialect with one op, `myr.running_count`, from IR text to a model.

```
%seen = myr.running_count "seen_3" %tokens : !rasp.sop<categorical>
```
is, at each position i, how many positions j <= i hold the same value as position i
(`[1, 2, 1, 3]` gives `[1, 1, 1, 1]`, `[1, 1, 2, 1]` gives `[1, 2, 1, 3]`). It makes equal
values distinct, e.g. for a stable sort of a sequence with repeats (`stable_sort.mlir`).

The op plugs into the compiler at the three extension points of the rasp -> craft seam:
1. value inference (`register_inference`): its result can hold 1 .. max_seq_len;
2. the interpreter (`register_interpreter`): what it computes, used wherever the rasp stage
   runs (`interpret`, `assert_equivalent`, the witness search of `rasp-prove-facts`);
3. the lowering (`register_lowering`): one `craft.selector_width` block whose selector is
   `tokens == tokens` and `indices <= indices`, the count of the selected keys:
   ```
   %seen = craft.selector_width "seen_3" select [(%tokens, %tokens EQ), (%indices, %indices LEQ)]
       : !craft.space<[seen_3:1, seen_3:2, seen_3:3, seen_3:4]>
   ```
Importing this file registers the dialect and all three (it is a `tracr-opt` plugin:
`tracr-opt --load-pass-plugin examples/custom_lowering/myr.py stable_sort.mlir -p ...`).
"""

from __future__ import annotations

from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls
from xdsl.ir import Dialect, SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, result_def, traits_def
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from tracr_ir import register_dialect
from tracr_ir.dialects import craft, rasp
from tracr_ir.errors import ValueSetError
from tracr_ir.interpreters.rasp import register_interpreter
from tracr_ir.lowering.patterns import RaspLowering, register_lowering
from tracr_ir.lowering.precision import EXACT_FORM, Analysis, Read
from tracr_ir.lowering.state import LoweringState
from tracr_ir.passes.rasp_infer_values import register_inference, set_result_values

### The op and its dialect.


@irdl_op_definition
class RunningCountOp(rasp.RaspOp):
    """`%c = myr.running_count "label" %x : !rasp.sop<categorical, {1, 2, 3}>`: at position i,
    the number of positions j <= i with x[j] == x[i]."""

    name = "myr.running_count"
    input = operand_def(rasp.SOpType)
    output = result_def(rasp.SOpType)
    traits = traits_def(Pure())
    # `rasp.RaspOp` gives the label and the syntax `myr.running_count "label" %x : type`.

    def verify_(self) -> None:
        if self.input.type.is_numerical:
            raise VerifyException(f"{self.name} '{self.label.data}' compares the values of a "
                                  "categorical s-op, not a numerical one")


MYR = Dialect("myr", [RunningCountOp], [])
register_dialect("myr", lambda: MYR)  # the parser and tracr-opt now know `myr.` ops


def _program(op: RunningCountOp) -> rasp.ProgramOp:
    program = op.parent_op()
    assert isinstance(program, rasp.ProgramOp)
    return program


### 1. Value inference (`rasp-infer-values`).


class InferRunningCount(RewritePattern):
    """The count is 1 (position i itself) to max_seq_len."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RunningCountOp, rewriter: PatternRewriter) -> None:
        inputs = op.input.type.value_set
        if op.output.type.value_set is not None or inputs is None:
            return  # inferred already, or wait until the operand is
        if None in inputs:
            raise ValueSetError("the values it compares may be None (a None key selects "
                                "nothing in a model, but equals None in the evaluator)",
                                op.label.data)
        set_result_values(op, tuple(range(1, _program(op).length + 1)))


register_inference(InferRunningCount())


### 2. The interpreter (the meaning every stage must keep).


@register_impls
class MyrFunctions(InterpreterFunctions):
    @impl(RunningCountOp)
    def run_running_count(self, interpreter: Interpreter, op: RunningCountOp,
                          args: PythonValues) -> PythonValues:
        (xs,) = args
        return ([xs[:i + 1].count(x) for i, x in enumerate(xs)],)


register_interpreter(MyrFunctions())


### 3. The lowering to craft blocks (`lower-rasp-to-craft`).


@register_lowering
class LowerRunningCount(RaspLowering):
    OP = RunningCountOp

    def reads(self, op: RunningCountOp, analysis: Analysis) -> list[Read]:
        # A head's keys and queries are read as exact one-hots.
        return [(op.input, EXACT_FORM, 0.0), (_program(op).indices, EXACT_FORM, 0.0)]

    def lower(self, op: RunningCountOp, state: LoweringState) -> SSAValue:
        label, y = op.label.data, op.output
        x = state.get_exact(op.input)  # the craft value of the operand, as an exact one-hot
        pos = state.get_exact(state.program.indices)
        terms = [(x, x, "EQ"), (pos, pos, "LEQ")]  # (keys, queries, predicate(key, query))
        width = craft.SelectorWidthOp(label, terms, state.space(label, y))
        # `add` records the bound the op states: 0 for a categorical width, the decoding
        # MLP's float32 rounding for a numerical one (refused if the readers need better).
        return state.add(width)
