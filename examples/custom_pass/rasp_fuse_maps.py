"""`rasp-fuse-maps`: a user-written pass that fuses chains of element-wise ops into one table.

```
%a = rasp.map "a_1" %tokens {1 -> 2, 2 -> 3} : !rasp.sop<categorical, {2, 3}>
%b = rasp.map "b_2" %a {2 -> 20, 3 -> 30} : !rasp.sop<categorical, {20, 30}>
```
becomes (when `%a` has no other use)
```
%b = rasp.map "b_2" %tokens {1 -> 20, 2 -> 30} : !rasp.sop<categorical, {20, 30}>
```
Likewise a Map of a SequenceMap becomes one SequenceMap, and a SequenceMap of single-use
Maps reads the Maps' inputs. Each fusion saves one MLP, and often one layer. It runs after
`rasp-infer-values`, whose tables it composes, keeping tracr's None rule: an op given None
returns None without calling its function.

This file is the tutorial's example: it uses only tracr-ir's public API and registers itself
with `@register_pass`, so `run_pipeline(module, "rasp-infer-values,rasp-fuse-maps")` and
`tracr-opt --load-pass-plugin examples/custom_pass/rasp_fuse_maps.py -p rasp-fuse-maps` find it.
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


def _apply(table: dict, arg: Any) -> Any:
    """One table applied with tracr's None rule."""
    if arg is None:
        return None
    return table.get(arg, _MISSING)


def _compose(outer: dict, inner_results: dict) -> rasp.TableAttr:
    """arg -> outer(inner(arg)), for the inner table's arguments."""
    fused = {}
    for arg, mid in inner_results.items():
        if mid is _MISSING:
            continue
        result = _apply(outer, mid)
        if result is not _MISSING:
            fused[arg] = result
    return rasp.TableAttr.from_dict(fused)


def _single_use_table_op(value, kind):
    op = value.owner
    if isinstance(op, kind) and op.table is not None and value.has_one_use():
        return op
    return None


class FuseMapOfElementwise(RewritePattern):
    """map(map(x)) -> map(x) and map(sequence_map(x, y)) -> sequence_map(x, y)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.MapOp, rewriter: PatternRewriter) -> None:
        inner = _single_use_table_op(op.input, (rasp.MapOp, rasp.SequenceMapOp))
        if op.table is None or inner is None:
            return
        outer = op.table.as_dict()
        inner_table = inner.table.as_dict()
        table = _compose(outer, {arg: res for arg, res in inner_table.items()})
        fused = type(inner).create(
            operands=list(inner.operands),
            result_types=[op.output.type],
            properties={"label": op.label, "table": table},
        )
        rewriter.replace(op, fused)
        rewriter.erase(inner)


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
class RaspFuseMaps(ModulePass):
    """Fuse chains of element-wise ops (see the module docstring)."""

    name = "rasp-fuse-maps"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [FuseMapOfElementwise(), FuseSequenceMapOfMaps()], dce_enabled=False
            ),
        ).rewrite_module(op)
