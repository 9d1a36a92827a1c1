"""Replacing the lowering of a built-in op: a numerical `rasp.selector_width` as a
categorical width, then a lookup to the number.

```
%w = rasp.selector_width "w_2" %same : !rasp.sop<numerical, {0, 1, 2, 3}>
```
lowers by default to one block whose decoding MLP writes the number directly,
```
%w = craft.selector_width "w_2" select [(%tokens, %tokens EQ)] : !craft.space<[w_2]>
```
and, with this file loaded, to a categorical width (one-hot, exact) and a lookup whose
output takes only the table's values:
```
%w_cat = craft.selector_width "w_2_cat" select [(%tokens, %tokens EQ)]
    : !craft.space<[w_2_cat:0, w_2_cat:1, w_2_cat:2, w_2_cat:3]>
%w = craft.categorical_mlp "w_2" %w_cat {0 -> 0, 1 -> 1, 2 -> 2, 3 -> 3} direct
    : !craft.space<[w_2]>
```
The built-in pattern takes this route only when the direct decoding's float32 error misses
what the width's readers need; this one always does (one more MLP, often one more layer).
Categorical widths are left to the built-in pattern: `matches` narrows the op type by
encoding.

Loading the file registers the pattern (`@register_lowering`), ahead of the built-in one:
```python
import width_by_lookup                        # or tracr-opt --load-pass-plugin width_by_lookup.py
unregister_lowering(width_by_lookup.WidthByLookup)   # back to the default (tests do this)
```
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue

from tracr_ir.craft.bases import Space
from tracr_ir.dialects import craft, rasp
from tracr_ir.lowering.patterns import RaspLowering, register_lowering, selector_reads
from tracr_ir.lowering.precision import Analysis, Read
from tracr_ir.lowering.state import LoweringState


@register_lowering
class WidthByLookup(RaspLowering):
    """A numerical SelectorWidth as a categorical one and a lookup (see the module doc)."""

    OP = rasp.SelectorWidthOp

    def matches(self, op: Operation) -> bool:
        # Only numerical widths: categorical ones fall through to the built-in pattern.
        return isinstance(op, rasp.SelectorWidthOp) and op.output.type.is_numerical

    def reads(self, op: rasp.SelectorWidthOp, analysis: Analysis) -> list[Read]:
        # What the blocks read, in which form, within what: a head reads its selector's
        # keys and queries as exact one-hots (`rasp-annotate-precision` runs this backward
        # over the program; a noisy key is then snapped by an MLP before the head).
        return selector_reads(op.selector)

    def lower(self, op: rasp.SelectorWidthOp, state: LoweringState) -> SSAValue:
        label = op.label.data
        widths = state.values(op.output)  # the refined value set, e.g. [0, 1, 2, 3]
        mid = state.fresh(f"{label}_cat")  # a label no other s-op has
        # One term per Select of the selector (in normal form), keys and queries exact.
        terms = state.terms(op.selector)
        # `add` records the bound the op states (0: a categorical width is exact).
        cat = state.add(craft.SelectorWidthOp(mid, terms, Space.categorical(mid, widths)))
        # A categorical_mlp to a number: its bound is the block's float32 error estimate.
        # `finish` (run after `lower`) refuses it if that misses what the readers need.
        return state.lookup(label, cat, {w: w for w in widths}, state.space(label, op.output))
