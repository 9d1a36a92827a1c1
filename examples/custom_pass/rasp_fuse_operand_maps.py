"""`rasp-fuse-operand-maps`: a user-written pass that moves single-use Maps into the
SequenceMap that reads them.

```
%a = rasp.map "a_1" %tokens {1 -> 0, 2 -> 1} : !rasp.sop<categorical, {0, 1}>
%b = rasp.sequence_map "b_2" %a, %indices {(0, 0) -> 0, (0, 1) -> 1, (1, 0) -> 1, (1, 1) -> 2}
    : !rasp.sop<categorical, {0, 1, 2}>
```
becomes (when `%a` has no other use)
```
%b = rasp.sequence_map "b_2" %tokens, %indices {(1, 0) -> 0, (1, 1) -> 1, (2, 0) -> 1,
    (2, 1) -> 2} : !rasp.sop<categorical, {0, 1, 2}>
```
The built-in `rasp-fuse-maps` fuses a Map *of* a Map or SequenceMap (the fused table is never
larger). This pass does the other direction, a trade-off the built-in leaves to the user: one
MLP (and often one layer) fewer, but the SequenceMap's table is indexed by the Maps' inputs,
which may have more values than their outputs (a wider MLP). It runs after
`rasp-infer-values`, whose tables it composes, keeping tracr's None rule: an op given None
returns None without calling its function.

This file is the tutorial's example: it uses only tracr-ir's public API and registers itself
with `@register_pass`, so `run_pipeline(module, "rasp-infer-values,rasp-fuse-operand-maps")`
and `tracr-opt --load-pass-plugin examples/custom_pass/rasp_fuse_operand_maps.py
-p rasp-fuse-operand-maps` find it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.passes import ModulePass

from tracr_ir import register_pass
from tracr_ir.dialects import rasp

_MISSING = object()  # the function raised there: the fused table has no entry either


def _single_use_table_op(value, kind):
    op = value.owner
    if isinstance(op, kind) and op.table is not None and value.has_one_use():
        return op
    return None


class FuseSequenceMapOfMaps(RewritePattern):
    """sequence_map(map(x), map(y)) -> sequence_map(x, y) for single-use Maps."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.SequenceMapOp, rewriter: PatternRewriter) -> None:
        if op.table is None:
            return
        fst = _single_use_table_op(op.fst, rasp.MapOp)
        snd = _single_use_table_op(op.snd, rasp.MapOp) if op.snd is not op.fst else None
        if fst is None and snd is None:
            return
        fst_in = fst.input if fst is not None else op.fst
        snd_in = snd.input if snd is not None else op.snd
        fst_f = fst.table.as_dict() if fst is not None else None
        snd_f = snd.table.as_dict() if snd is not None else None
        pairs = itertools.product(
            [v for v in fst_in.type.value_set if v is not None],
            [v for v in snd_in.type.value_set if v is not None],
        )
        inner = {}
        for x, y in pairs:
            mx = fst_f.get(x, _MISSING) if fst_f is not None else x
            my = snd_f.get(y, _MISSING) if snd_f is not None else y
            if mx is _MISSING or my is _MISSING:
                inner[(x, y)] = _MISSING
            elif mx is None or my is None:
                inner[(x, y)] = None  # a None operand makes the SequenceMap None
            else:
                inner[(x, y)] = (mx, my)
        outer = op.table.as_dict()
        fused_table = {}
        for arg, mid in inner.items():
            if mid is _MISSING:
                continue
            result = None if mid is None else outer.get(mid, _MISSING)
            if result is not _MISSING:
                fused_table[arg] = result
        fused = rasp.SequenceMapOp.create(
            operands=[fst_in, snd_in],
            result_types=[op.output.type],
            properties={"label": op.label, "table": rasp.TableAttr.from_dict(fused_table)},
        )
        rewriter.replace(op, fused)
        for old in (fst, snd):
            if old is not None:
                rewriter.erase(old)


@register_pass
@dataclass(frozen=True)
class RaspFuseOperandMaps(ModulePass):
    """Fuse single-use Maps into the SequenceMap reading them (see the module docstring)."""

    name = "rasp-fuse-operand-maps"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [FuseSequenceMapOfMaps()], dce_enabled=False
            ),
        ).rewrite_module(op)
