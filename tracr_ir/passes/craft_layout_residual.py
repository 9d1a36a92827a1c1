"""`craft-layout-residual{reuse=true|false}`: the residual stream's positions and what they hold.

```
craft.program ... {
  %w = craft.selector_width "hist_2" layer 0 select [(%tokens, %tokens EQ)] : ...
  %m = craft.categorical_mlp "map_3" layer 1 %w {...} : !craft.space<[map_3]>
```
becomes (`reuse=true`, the default)
```
craft.program ... attributes {residual = #craft.residual<[one, bos, tokens:1 | map_3,
    tokens:2, hist_2_share, hist_2:1, hist_2:2]>} {
```

Register allocation for the residual stream (`tracr_ir.dialects.craft_layout` defines the
attribute, liveness and cleaning): an s-op occupies positions from the sublayer its writer
runs in until the MLP sublayer of its last reader's layer, from where it may be cleaned; a
later block may write into those positions. `tokens` above is last read in layer 0, cleaned
by layer 0's MLP (one hidden unit per direction: a one-hot is never negative; two for a
direction that may be; none where the layer's MLP already has the unit relu(x), which then
also writes -1 to the position), and `map_3`, written in layer 1, reuses one of its
positions. The layout has exactly the peak number of live directions (interval colouring in
write order, fresh positions first while below the peak, so that few are cleaned); `one` and
`bos` hold their positions for ever, the program output from its write on; directions no
block reads (other than the output) get no position, and their writes are dropped. Needs
layers (`craft-allocate-layers`); without them nothing is shared.

Cleaning costs MLP width, so by default a position is reused only where its cleaning fits in
the MLP of a layer between the old occupant's last read and the new occupant's write without
making it wider than the widest MLP layer (the model's MLP width, as tracr counts it, does not
grow): a layer whose MLPs already have its units, else the last reader's layer if it has
room, else the latest one that has, recorded as `x clean N | y`. Where no free position's
cleaning fits, the s-op takes a fresh position, so the residual can be wider than the peak.
`widen_mlps=true` reuses wherever the peak allows.

A layout already on the program (the solver's cleaning plan: `craft-allocate-layers
{strategy=solver}` records it, its cleanings counted in the widest MLP layer the solver
minimises, within greedy's) is kept if it is valid for the program's layers (`check_layout`)
and narrower than the layout above. The allocator's `residual` stage (and the stages after it) stays in
`proven_optimal` only if the layout has the plan's width.

`reuse=false` gives one position per direction: `one`, `bos`, the inputs, then every space a
block writes (its output, and a SelectorWidth's share), ordered by layer and then program
order, so that the residual reads in the order it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp
from xdsl.ir import Attribute
from xdsl.passes import ModulePass

from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualLayout, check_layout,
                                            foldable_units, has_layers,
                                            nonnegative_directions, occupants, reuse_layout)
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.interpreters.craft import program_blocks, residual_space
from tracr_ir.passes.craft_allocate_layers import OPTIMAL_ATTR, block_infos, mlp_room

__all__ = ["RESIDUAL_ATTR", "CraftLayoutResidual", "residual_layout"]


def residual_layout(program: craft.ProgramOp, reuse: bool = True,
                    widen_mlps: bool = False) -> ResidualLayout:
    """The residual layout of `program` (see the module docstring)."""
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    if reuse and has_layers(ops):
        room = None if widen_mlps else mlp_room(block_infos(program))
        layout = reuse_layout(occupants(program, ops), room, nonnegative_directions(program, ops),
                              foldable_units(program, ops))
        plan = _plan(program, ops)
        return plan if plan is not None and len(plan) < len(layout) else layout
    blocks = program_blocks(program)
    ordered = sorted(range(len(blocks)), key=lambda i: (blocks[i][0].layer_index or 0, i))
    return ResidualLayout.disjoint(residual_space(program, [blocks[i] for i in ordered]))


def _plan(program: craft.ProgramOp, ops: list[craft.CraftOp]) -> ResidualLayout | None:
    """The layout already on the program (the solver's plan), if it is valid for its layers."""
    attr = program.attributes.get(RESIDUAL_ATTR)
    if attr is None:
        return None
    plan = ResidualLayout.of(attr)
    try:
        check_layout(program, ops, plan)
    except UnsupportedProgramError:
        return None
    return plan


@dataclass(frozen=True)
class CraftLayoutResidual(ModulePass):
    """Record the residual layout on each `craft.program` (see the module docstring)."""

    name = "craft-layout-residual"

    reuse: bool = True
    widen_mlps: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, craft.ProgramOp):
                plan = program.attributes.get(RESIDUAL_ATTR)
                layout = residual_layout(program, self.reuse, self.widen_mlps)
                program.attributes[RESIDUAL_ATTR] = layout.attr()
                _drop_residual_optimality(program, layout, plan)


def _drop_residual_optimality(program: craft.ProgramOp, layout: ResidualLayout,
                              plan: Attribute | None) -> None:
    """The allocator's `residual` stage is proven for the width of its plan (the layout it
    recorded); a layout of another width is not what was proven."""
    proven = program.attributes.get(OPTIMAL_ATTR)
    if not isinstance(proven, ArrayAttr) or "residual" not in [x.data for x in proven.data]:
        return
    if plan is None or len(layout) != len(ResidualLayout.of(plan)):
        stages = [x.data for x in proven.data]  # the stages after it were proven given it
        program.attributes[OPTIMAL_ATTR] = ArrayAttr(proven.data[:stages.index("residual")])
