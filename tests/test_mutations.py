"""Mutation tests: deliberately broken passes that `check_pass` must catch.

Each broken pass runs a real pass and then breaks its output in one small way (two table
entries swapped, a head dropped, a weight perturbed, a block moved to another layer). If
`check_pass` let any of them through, its green runs on the real passes would mean nothing.
"""

import ast
import dataclasses

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from tracr_ir.compiler import interpret, parse_module, run_passes, run_pipeline, stage_op
from tracr_ir.dialects import craft, rasp, transformer
from tracr_ir.dialects.craft_layout import RESIDUAL_ATTR, ResidualAttr, ResidualLayout
from tracr_ir.dialects.rasp_attrs import TableAttr
from tracr_ir.interpreters.transformer import Layer
from tracr_ir.testing import check_pass

EXAMPLES = 100
SEED = 0


def change_first_layer(module: ModuleOp, has, change) -> None:
    """Rebuild the module's transformer.model with `change(layer)` in place of the first
    layer for which `has(layer)` holds (nothing changes if none does)."""
    model = stage_op(module)
    assert isinstance(model, transformer.ModelOp)
    w = model.weights()
    layers = list(w.layers)
    i = next((i for i, layer in enumerate(layers) if has(layer)), None)
    if i is None:
        return
    layers[i] = change(layers[i])
    new = transformer.ModelOp.from_weights(dataclasses.replace(w, layers=layers))
    module.body.block.insert_op_before(new, model)
    module.body.block.erase_op(model)


@dataclasses.dataclass(frozen=True)
class SwapTableEntries(ModulePass):
    """rasp-infer-values, then two results of the first Map/SequenceMap table swapped."""

    name = "broken-swap-table-entries"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        run_pipeline(op, "rasp-infer-values", ctx=ctx)
        for fn_op in op.walk():
            if isinstance(fn_op, (rasp.MapOp, rasp.SequenceMapOp)) and fn_op.table:
                entries = list(fn_op.table.data)
                j = next((j for j in range(1, len(entries)) if entries[j][1] != entries[0][1]),
                         None)
                if j is not None:
                    (k0, v0), (kj, vj) = entries[0], entries[j]
                    entries[0], entries[j] = (k0, vj), (kj, v0)
                    fn_op.properties["table"] = TableAttr(tuple(entries))
                    return


@dataclasses.dataclass(frozen=True)
class DropHead(ModulePass):
    """lower-craft-to-transformer, then the first attention head of the model dropped."""

    name = "broken-drop-head"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        run_pipeline(op, "lower-craft-to-transformer", ctx=ctx)
        change_first_layer(op, lambda layer: layer.heads,
                           lambda layer: Layer(layer.heads[1:], layer.mlp))


@dataclasses.dataclass(frozen=True)
class PerturbWeight(ModulePass):
    """The largest first-layer MLP weight of a transformer model negated. (Moving it by a fifth
    is no miscompile where it is a direct lookup's weight 1: the unit then writes 0.8, which
    decodes the same.)"""

    name = "broken-perturb-weight"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        def perturb(layer: Layer) -> Layer:
            w_1 = np.array(layer.mlp.w_1)
            w_1[np.unravel_index(np.argmax(np.abs(w_1)), w_1.shape)] *= -1
            return Layer(layer.heads, dataclasses.replace(layer.mlp, w_1=w_1))

        change_first_layer(op, lambda layer: layer.mlp is not None and layer.mlp.w_1.size,
                           perturb)


@dataclasses.dataclass(frozen=True)
class ChangeLayerIndex(ModulePass):
    """lower-rasp-to-craft and craft-allocate-layers, then the last block one layer earlier."""

    name = "broken-change-layer-index"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        run_pipeline(op, "lower-rasp-to-craft,craft-allocate-layers", ctx=ctx)
        blocks = [b for b in op.walk() if isinstance(b, craft.CraftOp) and b.layer_index]
        if blocks:
            last = max(blocks, key=lambda b: b.layer_index)
            last.properties["layer"] = IntegerAttr(last.layer_index - 1, i64)


@dataclasses.dataclass(frozen=True)
class WriteIntoLiveDirection(ModulePass):
    """craft-layout-residual, then a reused position's later occupant moved next to a
    direction its own writer reads (still live when the block writes)."""

    name = "broken-write-into-live-direction"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        run_pipeline(op, "craft-layout-residual", ctx=ctx)
        program = stage_op(op)
        layout = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
        slots = [list(s) for s in layout.slots]
        i = next((i for i, s in enumerate(slots) if len(s) > 1), None)
        if i is None:
            return
        moved = slots[i].pop(1)
        writer = next(b for b in program.block.ops if isinstance(b, craft.CraftOp)
                      and moved in b.out_space)
        read = {d for operand in writer.operands for d in operand.type.space}
        j = next(j for j, s in enumerate(slots) if s[-1] in read)
        slots[j].append(moved)
        program.attributes[RESIDUAL_ATTR] = ResidualAttr(tuple(tuple(s) for s in slots if s))


MUTANTS = [
    (SwapTableEntries, "to_ir"),
    (DropHead, "craft"),
    (PerturbWeight, "transformer"),
    (ChangeLayerIndex, "rasp"),
    (WriteIntoLiveDirection, "craft"),
]


@pytest.mark.parametrize("mutant, stage", MUTANTS, ids=[m.name for m, _ in MUTANTS])
def test_check_pass_catches_the_mutant(mutant, stage):
    with pytest.raises(AssertionError) as caught:
        check_pass(mutant(), stage=stage, examples=EXAMPLES, seed=SEED)
    message = str(caught.value)
    assert f"pass '{mutant.name}'" in message
    assert "// ----- IR before the pass ----- //" in message
    if "differ on input" not in message:
        assert "invalid IR after pass" in message, message
        assert mutant in (ChangeLayerIndex, WriteIntoLiveDirection), message
        if mutant is WriteIntoLiveDirection:  # the verifier names the block
            assert "' writes " in message and "which still holds" in message, message
        return
    # The report reproduces: the IR before the pass, run through the pass, gives different
    # outputs on the reported input.
    line = next(x for x in message.splitlines() if "differ on input" in x)
    xs = ast.literal_eval(line.split("differ on input ")[1].split(" (input")[0])
    if stage == "to_ir":
        return  # to_ir text holds Python functions: it does not parse back
    before = parse_module(message.split("// ----- IR before the pass ----- //\n")[1]
                          .split("\n\n// ----- IR after")[0])
    after = run_passes(before.clone(), [mutant()])
    assert interpret(before, xs) != interpret(after, xs)
