"""`lower-rasp-to-craft`: every rasp op as blocks on named residual subspaces, exact.

```
%same = rasp.select "same_tok_1" %tokens, %tokens EQ : !rasp.selector
%hist = rasp.selector_width "hist_2" %same {needs = #rasp.needs<categorical 0.0625>}
    : !rasp.sop<categorical, {1, 2, 3}>
```
becomes
```
%hist = craft.selector_width "hist_2" select [(%tokens, %tokens EQ)]
    : !craft.space<[hist_2:1, hist_2:2, hist_2:3]>
```
Every s-op lives in the space named after its label: one direction per value if
categorical, one direction if numerical. Helper s-ops get fresh labels derived from their
user's (`<label>_cat`, `<label>_num`, `<label>_snap`, `<label>_raw`, `<label>_sum`, ...).

The conversion, in the style of xDSL's `convert_*` passes:
1. The analyses it needs run first if the program does not carry their marks
   (`rasp-refine-values`, `rasp-prove-facts`, `rasp-normalize-selectors`,
   `rasp-annotate-precision`); each is a pass of its own whose results print in the IR.
2. One pattern per rasp op (`tracr_ir.lowering.patterns`, user patterns first) replaces each
   read op by its craft blocks; while rasp and craft ops coexist, values are bridged with
   `builtin.unrealized_conversion_cast` (`tracr_ir.lowering.state`). Ops nothing reads (a
   Full only used as a Select key) are not lowered.
3. `LowerProgram` turns the `rasp.program` into a `craft.program`: the craft blocks move
   over, the entry casts become the block arguments, the output's craft value becomes
   `craft.output`, and blocks nothing reads are erased. A rasp op that is read but that no
   pattern lowered is a diagnostic naming it (`no lowering for myr.double 'd_1'`).

Refusals (`UnsupportedProgramError` naming the node) come from the analyses (see
`rasp-prove-facts`) and from the precision rules while choosing the constants: a writer that
cannot meet its readers' tolerance, a table that tells apart input values closer than float32
resolves, a mean whose readers need it closer than the softmax's rounding, a product s-op or
table above `max_table` entries. The craft exactness verifier (`craft-verify-exactness`)
checks the result independently of who produced it.

A lookup is `direct` (one hidden unit per output value, its input's error passed on) where its
readers' need allows it, else snapped; `direct=false` snaps every lookup (the LayerNorm
pipeline does: the LayerNorm's deviation adds to a passed-on error).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnrealizedConversionCastOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tracr_ir.dialects import craft, rasp
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.dialects.program import describe
from tracr_ir.lowering.patterns import LOWERINGS
from tracr_ir.lowering.precision import needs_of
from tracr_ir.lowering.state import LoweringState
from tracr_ir.passes.rasp_annotate_precision import ANNOTATED, annotate, share_of
from tracr_ir.passes.rasp_normalize_selectors import NORMALIZED, normalize_selectors
from tracr_ir.passes.rasp_prove_facts import FACTS, prove_facts
from tracr_ir.passes.rasp_refine_values import REFINED, check_inferred, refine


@dataclass(frozen=True)
class LowerProgram(RewritePattern):
    """Replaces a `rasp.program` whose ops are lowered by its `craft.program`."""

    states: dict

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.ProgramOp, rewriter: PatternRewriter) -> None:
        state: LoweringState = self.states[op]
        new = craft.ProgramOp(op.vocab_values, op.length, op.bos.data, op.pad.data,
                              op.is_causal)
        block = new.block
        final = state.natural(op.output.value)
        for cast, arg in zip(state.entry, block.args):
            if final is cast.results[0]:
                final = arg  # the program returns one of its inputs
            cast.results[0].replace_all_uses_with(arg)
        for inner in list(op.block.ops):
            if isinstance(inner, craft.CraftOp):
                inner.detach()
                block.add_op(inner)
            elif inner.results and needs_of(inner) is not None:
                raise UnsupportedProgramError(f"no lowering for {describe(inner)} (register a "
                                              "pattern with register_lowering)", None)
        block.add_op(craft.OutputOp(final))
        for inner in reversed(list(block.ops)):
            if isinstance(inner, craft.CraftOp) and not inner.output.uses:
                inner.detach()
                inner.erase()
        _erase_all(op)
        rewriter.replace(op, new, [])


def _erase_all(program: rasp.ProgramOp) -> None:
    """Drop what is left of the rasp program (rasp ops, casts) before replacing it."""
    for inner in reversed(list(program.block.ops)):
        inner.detach()
        inner.erase(safe_erase=False)


def prepare(program: rasp.ProgramOp, max_table: int) -> None:
    """Run the analyses the patterns read, where the program lacks their marks."""
    if REFINED not in program.attributes:
        refine(program, "lower-rasp-to-craft")  # checks the value sets and tables first
    else:
        check_inferred(program, "lower-rasp-to-craft")
    if FACTS not in program.attributes:
        prove_facts(program)
    if NORMALIZED not in program.attributes:
        normalize_selectors(program, max_table)
    if ANNOTATED not in program.attributes or _stale_needs(program):
        annotate(program, share_of(program))


def _stale_needs(program: rasp.ProgramOp) -> bool:
    """Whether a pass changed the program after `rasp-annotate-precision`: an s-op that the
    output, an annotated op or a Select reads has no `needs` (the annotation, derived from
    the program, is then recomputed)."""
    def unannotated(v: SSAValue) -> bool:
        owner = v.owner
        return (isinstance(owner, Operation) and isinstance(v.type, rasp.SOpType)
                and needs_of(owner) is None)

    if unannotated(program.output.value):
        return True
    return any(unannotated(v) for op in program.block.ops
               if needs_of(op) is not None or isinstance(op, rasp.SelectOp)
               for v in op.operands)


@dataclass(frozen=True)
class LowerRaspToCraft(ModulePass):
    """Lower every `rasp.program` to a `craft.program` (see the module docstring)."""

    name = "lower-rasp-to-craft"

    max_table: int = 1 << 20
    direct: bool = True  # false: every lookup snaps its output (no `direct` MLPs)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        states: dict[Operation, LoweringState] = {}
        for program in list(op.walk()):
            if not isinstance(program, rasp.ProgramOp):
                continue
            prepare(program, self.max_table)
            state = states[program] = LoweringState(program, self.max_table, self.direct)
            PatternRewriteWalker(
                GreedyRewritePatternApplier([cls(state) for cls in LOWERINGS],
                                            dce_enabled=False),
                apply_recursively=False,
            ).rewrite_region(program.body)
        last = LowerProgram(states)
        for program in states:
            last.match_and_rewrite(program, PatternRewriter(program))
