"""`rasp-fuse-maps`: a Map of a Map or of a SequenceMap becomes one table, and a
SequenceMap whose function ignores one operand becomes a Map of the other.

```
%a = rasp.map "a_1" %tokens {1 -> 2, 2 -> 3} : !rasp.sop<categorical, {2, 3}>
%b = rasp.map "b_2" %a {2 -> 20, 3 -> 30} : !rasp.sop<categorical, {20, 30}>
%c = rasp.map "c_3" %s {5 -> 10, 6 -> 12} : !rasp.sop<numerical, {10, 12}>
```
where `%a` and `%s = rasp.sequence_map "s_0" %tokens, %indices {(1, 0) -> 5, (1, 1) -> 6}`
have no other reader, becomes
```
%b = rasp.map "b_2" %tokens {1 -> 20, 2 -> 30} : !rasp.sop<categorical, {20, 30}>
%c = rasp.sequence_map "c_3" %tokens, %indices {(1, 0) -> 10, (1, 1) -> 12}
    : !rasp.sop<numerical, {10, 12}>
```
The fused op keeps the outer op's label and type (encoding and value set) and the inner
op's operands (analyses' attributes are dropped: `lower-rasp-to-craft` annotates again); its table is the composition over the inner table's arguments,
with tracr's None rule (a Map given None returns None without calling its function) and
without entries where either function raised. Each fusion saves an MLP and usually a
layer; the fused MLP is never wider than the outer one's (its table has at most the outer
table's output values and the inner table's arguments), so a chain of Maps is one lookup.
Runs on inferred programs (tables, not Python functions); an intermediate read by anything
else (the program output included) is left alone.

A categorical SequenceMap whose table gives, for each value of one operand, the same output
for every value of the other (never None) is a Map of the first:
```
%s = rasp.sequence_map "s_1" %indices, %agg {(0, 0) -> 0, (0, 1) -> 0, (1, 0) -> 1, (1, 1) -> 1}
    : !rasp.sop<categorical, {0, 1}>
```
(with `%agg : !rasp.sop<categorical, {0, 1}>`) becomes
`%s = rasp.map "s_1" %indices {0 -> 0, 1 -> 1} : !rasp.sop<categorical, {0, 1}>`: a lookup
of one operand (one hidden unit per output value at most) instead of a table over the pairs
(one per pair, tracr's width), and the ignored operand's error no longer reaches it. The
value sets are over-approximations, so a table constant over them is constant on every
input; a None in the ignored operand (the sequence map gives None there) keeps the op.
"""

from __future__ import annotations

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

from tracr_ir.dialects import rasp
from tracr_ir.dialects.rasp_attrs import TableAttr
from tracr_ir.values import typed_key

#: No entry (the function raised there).
_MISSING = object()


def compose(outer: dict[Any, Any], inner: dict[Any, Any]) -> dict[Any, Any]:
    """arg -> outer(inner(arg)) for the arguments of `inner`: None stays None (the outer
    function is not called), an argument either table lacks gets no entry."""
    fused: dict[Any, Any] = {}
    for arg, mid in inner.items():
        result = None if mid is None else outer.get(mid, _MISSING)
        if result is not _MISSING:
            fused[arg] = result
    return fused


class FuseMapOfTable(RewritePattern):
    """map(map(x)) -> map(x), map(sequence_map(x, y)) -> sequence_map(x, y), when the inner
    result has no other use."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.MapOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if (op.table is None or not isinstance(inner, (rasp.MapOp, rasp.SequenceMapOp))
                or inner.table is None or not op.input.has_one_use()):
            return
        table = compose(op.table.as_dict(), inner.table.as_dict())
        fused = type(inner).create(
            operands=list(inner.operands), result_types=[op.output.type],
            properties={"label": op.label, "table": TableAttr.from_dict(table)})
        fused.results[0].name_hint = op.output.name_hint
        rewriter.replace(op, fused)
        rewriter.erase(inner)


def one_operand_table(table: dict[tuple[Any, Any], Any], keys: tuple | None,
                      ignored: tuple | None, position: int) -> dict[Any, Any] | None:
    """{x: output} if `table` (over pairs) gives one output for each `x` in `keys` (the
    operand at `position` of the pair) whatever the `ignored` operand's value; None if it
    depends on that value, lacks an entry, or a value set is unknown or `ignored` may be
    None."""
    if keys is None or not ignored or None in ignored:
        return None
    fused: dict[Any, Any] = {}
    for x in keys:
        if x is None:
            continue
        outputs = [table.get((x, y) if position == 0 else (y, x), _MISSING) for y in ignored]
        if _MISSING in outputs or len({typed_key(o) for o in outputs}) != 1:
            return None
        fused[x] = outputs[0]
    return fused


class MapOfOneOperand(RewritePattern):
    """sequence_map(x, y) -> map(x) (or map(y)) when the table ignores the other operand."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: rasp.SequenceMapOp, rewriter: PatternRewriter) -> None:
        if op.table is None or op.fst is op.snd:
            return
        table = op.table.as_dict()
        for position, kept, ignored in ((0, op.fst, op.snd), (1, op.snd, op.fst)):
            if kept.type.is_numerical:  # type: ignore[attr-defined]
                continue
            fused = one_operand_table(table, kept.type.value_set,  # type: ignore[attr-defined]
                                      ignored.type.value_set, position)  # type: ignore[attr-defined]
            if fused is not None:
                new = rasp.MapOp.create(
                    operands=[kept], result_types=[op.output.type],
                    properties={"label": op.label, "table": TableAttr.from_dict(fused)})
                new.results[0].name_hint = op.output.name_hint
                rewriter.replace(op, new)
                return


@dataclass(frozen=True)
class RaspFuseMaps(ModulePass):
    """Fuse Maps into the Map or SequenceMap they read, and make a SequenceMap that ignores
    an operand a Map (see the module docstring)."""

    name = "rasp-fuse-maps"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([MapOfOneOperand(), FuseMapOfTable()]),
                             apply_recursively=True).rewrite_module(op)
