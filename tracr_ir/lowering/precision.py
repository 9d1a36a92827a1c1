"""Precision budgets of the rasp -> craft lowering, and the tables its rules share.

Tolerances flow backward from the program's output (`rasp-annotate-precision`), errors
forward from the inputs (`LoweringState`), per docs/exactness.md (the constants shared with the craft exactness verifier are in
`tracr_ir.craft.tolerances`):
- A categorical s-op read by an MLP (or decoded as the output) must be within l1 1/16 of its
  one-hot (MLP readers are exact up to 1/4; a SequenceMap sums two operands' errors).
- A numerical s-op read by a discretising MLP must be within a quarter of the smallest gap
  between neighbouring input values whose outputs differ; read by a linear map with factor a,
  0.45 x the reader's tolerance / |a| per input (a tenth is left for its own float32
  rounding); by a mean, half the mean's tolerance. A numerical output must be within
  max(5e-5, 1e-6 x max |value|).
- A selector's keys and queries are read within what an Aggregate's head tolerates
  (`patterns.term_tolerance`: its scale absorbs their score noise), or exactly (a noisy
  one is snapped by an identity MLP) by a SelectorWidth or below float32's floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

from xdsl.ir import Operation, SSAValue

from tracr_ir.analysis.facts import label_of
from tracr_ir.craft import mlp as craft_mlp
from tracr_ir.craft.tolerances import EXACT, MLP_READ_TOLERANCE, output_tolerance
from tracr_ir.dialects import rasp
from tracr_ir.dialects.rasp_attrs import NeedsAttr
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.values import format_value

#: A discretising reader accepts this fraction of the gap around its thresholds.
GAP_FRACTION = 1 / 4
#: A linear map gives each of its (two) inputs this share of its tolerance over the input's
#: factor, keeping a tenth for its own float32 rounding.
LINEAR_SHARE = 0.45
#: A discretising MLP refuses input values closer than this (times max(1, max |value|)):
#: float32 attention means carry ~1e-6 of rounding, and the slopes grow like 1/gap.
FLOAT32_GAP = 2.0 ** -16

CAT, NUM, EXACT_FORM = "categorical", "numerical", "exact"
#: The attribute holding an op's result's `#rasp.needs<...>`.
NEEDS = "needs"

#: (s-op, form, tolerance): an op reads `s-op` in `form` (CAT, NUM or EXACT_FORM) within
#: `tolerance`.
Read = tuple[SSAValue, str, float]


class Analysis(Protocol):
    """What a precision rule may ask: the program, an s-op's values and what its readers
    need of it."""

    @property
    def program(self) -> rasp.ProgramOp: ...

    def values(self, v: SSAValue) -> list[Any]: ...

    def required(self, v: SSAValue) -> float: ...


def encoding(v: SSAValue) -> str:
    return NUM if v.type.is_numerical else CAT  # type: ignore[attr-defined]


def needs_of(op: Operation) -> tuple[float | None, float | None] | None:
    """The `needs` annotation of `op`'s result, or None if nothing reads it."""
    attr = op.attributes.get(NEEDS)
    return attr.data if isinstance(attr, NeedsAttr) else None


def set_needs(op: Operation, categorical: float | None, numerical: float | None) -> None:
    if categorical is None and numerical is None:
        op.attributes.pop(NEEDS, None)
    else:
        op.attributes[NEEDS] = NeedsAttr.make(categorical, numerical)


def required_from(needs: tuple[float | None, float | None] | None, v: SSAValue) -> float:
    """The precision `v`'s natural form must have, given its readers' `needs`."""
    cat, num = needs or (None, None)
    if encoding(v) == CAT:
        return min(MLP_READ_TOLERANCE if cat is None else cat, MLP_READ_TOLERANCE)
    return math.inf if num is None else num  # not read: a dead value, erased at the end


def may_be_noisy(v: SSAValue) -> bool:
    """Whether `v`'s categorical form may carry an l1 error: a categorical Aggregate (a
    softmax average), or a categorical Map or SequenceMap of one (a direct lookup passes the
    error on), or an op of another dialect (its lowering's error is unknown here). Program
    inputs, SelectorWidths, constants and discretised numbers are exact."""
    todo, seen = [v], set()
    while todo:
        x = todo.pop()
        if x in seen or encoding(x) != CAT:
            continue
        seen.add(x)
        op = x.owner
        if isinstance(op, (rasp.MapOp, rasp.SequenceMapOp, rasp.LinearSequenceMapOp)):
            todo.extend(op.operands)
        elif isinstance(op, Operation) and not isinstance(op, (rasp.SelectorWidthOp,
                                                               rasp.FullOp)):
            return True
    return False


def output_tolerance_of(values: Iterable[Any]) -> float:
    """How far a numerical program output holding `values` may be off."""
    return output_tolerance(max((abs(float(x)) for x in values), default=0.0))


### Tables.


def change_gap(table: dict) -> float:
    """The smallest distance between neighbouring keys whose outputs differ (inf if none)."""
    keys = sorted(table, key=float)
    gaps = [float(b) - float(a) for a, b in zip(keys, keys[1:]) if table[a] != table[b]]
    return min(gaps, default=math.inf)


def compress(table: dict) -> dict:
    """The keys at the ends of each run of equal outputs: the same discretising block."""
    keys = sorted(table, key=float)
    keep = [k for i, k in enumerate(keys)
            if i in (0, len(keys) - 1) or table[k] != table[keys[i - 1]]
            or table[k] != table[keys[i + 1]]]
    return {k: table[k] for k in keep}


def affine(table: dict) -> tuple[float, float] | None:
    if not table or not all(type(v) in (bool, int, float) for v in table.values()):
        return None
    return craft_mlp.as_affine(table)


def resolvable(table: dict, label: str) -> float:
    """The change gap of a discretising table, refused below float32's resolution."""
    keys = sorted(table, key=float)
    scale = max((abs(float(k)) for k in keys), default=0.0)
    for a, b in zip(keys, keys[1:]):
        if table[a] != table[b] and float(b) - float(a) < FLOAT32_GAP * max(1.0, scale):
            raise UnsupportedProgramError(
                f"its input values {format_value(a)} and {format_value(b)} map to "
                f"different outputs but are only {float(b) - float(a):.3g} apart: float32 "
                "cannot tell them apart", label)
    return change_gap(table)


def _key(value: Any) -> Any:
    """Hashable stand-in for a value (None included) for set comparisons."""
    return ("none",) if value is None else value


def is_constant_table(table: dict, x: SSAValue) -> bool:
    """A map whose output does not depend on its input (never None, by its type)."""
    return len(set(map(_key, table.values()))) <= 1 and None not in (
        x.type.value_set or ())  # type: ignore[attr-defined]


def total(table: dict, y: SSAValue) -> dict:
    """Where the function raised (no entry: the evaluator raises there) the block writes
    None, or 0 for a numerical output."""
    if encoding(y) == NUM:
        return {k: (0 if v is None else v) for k, v in table.items()}
    return table


def map_table(op: rasp.MapOp, values: list[Any]) -> dict:
    table = op.table.as_dict() if op.table is not None else {}
    return total({x: table.get(x) for x in values}, op.output)


def diagonal(op: rasp.SequenceMapOp | rasp.LinearSequenceMapOp, values: list[Any]) -> dict:
    """The table of an op whose two operands are the same s-op."""
    if isinstance(op, rasp.LinearSequenceMapOp):
        c = op.fst_fac.data + op.snd_fac.data
        return {x: c * x for x in values}
    table = op.table.as_dict() if op.table is not None else {}
    return total({x: table.get((x, x)) for x in values}, op.output)


def map_reads(a: Analysis, x: SSAValue, table: dict, y: SSAValue) -> list[Read]:
    """What a map from `x` to `y` through `table` reads (the rule of Map and of a
    SequenceMap of an s-op with itself)."""
    if encoding(x) == CAT:
        return [(x, CAT, MLP_READ_TOLERANCE)]
    if is_constant_table(table, x):
        return []
    line = affine(table) if encoding(y) == NUM else None
    if line is not None:
        return [(x, NUM, 2 * LINEAR_SHARE * a.required(y) / abs(line[0]))]
    return [(x, NUM, resolvable(table, label_of(y)) * GAP_FRACTION)]
