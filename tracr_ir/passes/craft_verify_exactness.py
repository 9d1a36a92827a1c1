"""`craft-verify-exactness`: refuse craft IR whose model may not be exact; IR unchanged.

```
%map = craft.categorical_mlp "map_2" %tokens {"x" -> true, "y" -> false} : !craft.space<[map_2]>
%frac = craft.numerical_attention "frac_prevs_3" %map select [(%indices, %indices LEQ)]
    tolerance 0.3 magnitude 1.01 : !craft.space<[frac_prevs_3]>
craft.output %frac : !craft.space<[frac_prevs_3]>
```
is refused: `craft.numerical_attention 'frac_prevs_3': its output can be 0.3 off, but the
program output needs it within 5e-05`.

Each op states the error its operands may carry and the error bound of its output
(`tracr_ir.dialects.craft_exactness`); the pass propagates the bounds forward over every
`craft.program` and refuses (`UnsupportedProgramError`, naming the writer and the reader) the
first value further off than its reader accepts: an MLP reading a categorical s-op accepts l1
1/16, a discretising MLP its `input_error`, a head's selector terms exact one-hots, a mean
values within its `magnitude`; the program output l1 1/16 (categorical) or
max(5e-5, 1e-6 x magnitude) (numerical). `lower-craft-to-transformer` runs the same check
before building weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_exactness import verify_exactness


@dataclass(frozen=True)
class CraftVerifyExactness(ModulePass):
    """Check every `craft.program` for exactness (see the module docstring)."""

    name = "craft-verify-exactness"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in op.walk():
            if isinstance(program, craft.ProgramOp):
                verify_exactness(program)
