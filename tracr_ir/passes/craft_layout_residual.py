"""`craft-layout-residual`: the order of the residual stream's directions.

```
craft.program ... {
```
becomes
```
craft.program ... attributes {residual = #craft.directions<[one, bos, tokens:1, tokens:2,
    indices:0, indices:1, hist_2:1, hist_2:2, map_3]>} {
```

The residual holds `one` and `bos` first (what the embedding writes at every position and at
BOS), then the input spaces `tokens` and `indices`, then every space a block writes (its
output, and a SelectorWidth's attention output), ordered by layer and then program order, so
that the residual reads in the order it is computed. Every direction appears once; hidden MLP
directions are not in the residual.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tracr_ir.craft.bases import Direction
from tracr_ir.dialects import craft
from tracr_ir.interpreters.craft import program_blocks, residual_space

RESIDUAL_ATTR = "residual"


def residual_layout(program: craft.ProgramOp) -> tuple[Direction, ...]:
    """The residual directions of `program`, in the order described above."""
    blocks = program_blocks(program)
    ordered = sorted(range(len(blocks)), key=lambda i: (blocks[i][0].layer_index or 0, i))
    return tuple(residual_space(program, [blocks[i] for i in ordered]))


@dataclass(frozen=True)
class CraftLayoutResidual(ModulePass):
    """Record the residual layout on each `craft.program` (see the module docstring)."""

    name = "craft-layout-residual"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, craft.ProgramOp):
                program.attributes[RESIDUAL_ATTR] = craft.DirectionsAttr(
                    residual_layout(program)
                )
