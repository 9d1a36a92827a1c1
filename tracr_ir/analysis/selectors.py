"""Selectors in negation normal form, and the normal form attention heads compute.

A term is `rasp.select` over keys and queries that are not `rasp.full` (with a comparison or
a table), or `rasp.selector_not` of one with a comparison; a selector in normal form is an
And-tree of terms (`terms`). `rasp-normalize-selectors` puts every selector an Aggregate or
SelectorWidth reads in this form.
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue

from tracr_ir.dialects import rasp
from tracr_ir.errors import UnsupportedProgramError

# ("lit", SelectOp, negated) | ("and", [formula, ...]) | ("or", [formula, ...])
Formula = tuple


def normal_form(selector: SSAValue, negated: bool = False) -> Formula:
    """The selector in negation normal form, with nested Ands and Ors flattened."""
    op = selector.owner
    if isinstance(op, rasp.SelectOp):
        return ("lit", op, negated)
    if isinstance(op, rasp.SelectorNotOp):
        return normal_form(op.inner, not negated)
    if isinstance(op, (rasp.SelectorAndOp, rasp.SelectorOrOp)):
        kind = "and" if isinstance(op, rasp.SelectorAndOp) != negated else "or"
        parts: list[Formula] = []
        for side in (op.fst, op.snd):
            f = normal_form(side, negated)
            parts.extend(f[1] if f[0] == kind else [f])
        return (kind, parts)
    label = op.properties.get("label") if isinstance(op, Operation) else None
    raise UnsupportedProgramError(f"{getattr(op, 'name', 'a block argument')} is not a "
                                  "selector this compiler knows", label and label.data)


def is_full(v: SSAValue) -> bool:
    return isinstance(v.owner, rasp.FullOp)


def is_term(selector: SSAValue) -> bool:
    """A Select (or the negation of one with a comparison) over non-Full s-ops."""
    op = selector.owner
    if isinstance(op, rasp.SelectorNotOp):
        inner = op.inner.owner
        return isinstance(inner, rasp.SelectOp) and inner.comparison is not None and (
            is_term(op.inner))
    return (isinstance(op, rasp.SelectOp) and not is_full(op.keys)
            and not is_full(op.queries))


def terms(selector: SSAValue) -> list[SSAValue] | None:
    """The terms of a selector in normal form (an And-tree of terms), else None."""
    op = selector.owner
    if isinstance(op, rasp.SelectorAndOp):
        fst, snd = terms(op.fst), terms(op.snd)
        return None if fst is None or snd is None else fst + snd
    return [selector] if is_term(selector) else None


def literals(f: Formula) -> list[tuple[rasp.SelectOp, bool]]:
    return [(f[1], f[2])] if f[0] == "lit" else [x for g in f[1] for x in literals(g)]
