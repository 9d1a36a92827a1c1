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
runs in until the MLP sublayer of its last reader's layer, where it is cleaned; a later block
may write into those positions. `tokens` above is last read in layer 0, cleaned by layer 0's
MLP (two hidden units per direction), and `map_3`, written in layer 1, reuses one of its
positions. The layout has exactly the peak number of live directions (interval colouring in
write order, fresh positions first while below the peak, so that few are cleaned); `one` and
`bos` hold their positions for ever, the program output from its write on; directions no
block reads (other than the output) get no position, and their writes are dropped. Needs
layers (`craft-allocate-layers`); without them nothing is shared.

`reuse=false` gives one position per direction: `one`, `bos`, the inputs, then every space a
block writes (its output, and a SelectorWidth's share), ordered by layer and then program
order, so that the residual reads in the order it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualLayout, has_layers,
                                            occupants, reuse_layout)
from tracr_ir.interpreters.craft import program_blocks, residual_space

__all__ = ["RESIDUAL_ATTR", "CraftLayoutResidual", "residual_layout"]


def residual_layout(program: craft.ProgramOp, reuse: bool = True) -> ResidualLayout:
    """The residual layout of `program` (see the module docstring)."""
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    if reuse and has_layers(ops):
        return reuse_layout(occupants(program, ops))
    blocks = program_blocks(program)
    ordered = sorted(range(len(blocks)), key=lambda i: (blocks[i][0].layer_index or 0, i))
    return ResidualLayout.disjoint(residual_space(program, [blocks[i] for i in ordered]))


@dataclass(frozen=True)
class CraftLayoutResidual(ModulePass):
    """Record the residual layout on each `craft.program` (see the module docstring)."""

    name = "craft-layout-residual"

    reuse: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, craft.ProgramOp):
                program.attributes[RESIDUAL_ATTR] = residual_layout(program, self.reuse).attr()
