"""The craft stage's numerical heart: named bases, block constructions with derived constants,
and the numpy reference forward of each block (independent of xDSL).

- `bases`: directions, spaces, ONE / BOS, encode / decode helpers.
- `blocks`: `MLPBlock`, `AttentionHead`, `SelectorWidthBlock` and their forward.
- `mlp`, `attention`, `selector_width`: the constructions, each docstring with its margin.
- `numerics`: the margin arithmetic every constant comes from.
"""

from tracr_ir.craft.bases import BOS, ONE, Direction, Space, join
from tracr_ir.craft.blocks import (
    AttentionHead,
    MLPBlock,
    SelectorWidthBlock,
    apply_block,
    apply_parallel,
    attention_forward,
    block_update,
    mlp_forward,
)

__all__ = [
    "BOS", "ONE", "Direction", "Space", "join",
    "AttentionHead", "MLPBlock", "SelectorWidthBlock",
    "apply_block", "apply_parallel", "attention_forward", "block_update", "mlp_forward",
]
