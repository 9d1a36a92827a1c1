"""The default annotations: how an s-op is encoded and what every expression is named.

```python
rasp.numerical(rasp.Map(lambda x: x / 2, rasp.tokens))   # a numerical copy of the Map
rasp.get_encoding(rasp.tokens)                            # Encoding.CATEGORICAL (the default)
rasp.Map(f, rasp.tokens).name                             # "map" (then its label "map_7")
```
`tracr_ir.rasp.expr` reads annotations through `DEFAULT_ANNOTATORS`; this module fills in the
defaults of the two keys every node has, `encoding` and `name`, as tracr does.
"""

from __future__ import annotations

import enum

from tracr_ir.errors import ProgramError
from tracr_ir.rasp.expr import (_ENCODING_KEY, _NAME_KEY, DEFAULT_ANNOTATORS, Aggregate,
                                ConstantSelector, ConstantSOp, ExprT, Full, LinearSequenceMap,
                                Map, RASPExpr, Select, Selector, SelectorAnd, SelectorNot,
                                SelectorOr, SelectorWidth, SequenceMap, SOp, _Primitive,
                                annotate)


class Encoding(enum.Enum):
    """How an s-op is held in the residual stream: one-hot per value, or one number."""

    CATEGORICAL = "categorical"
    NUMERICAL = "numerical"


def numerical(sop: ExprT) -> ExprT:
    """A numerically encoded copy of `sop` (`sop` keeps its encoding)."""
    return annotate(sop, encoding=Encoding.NUMERICAL)


def categorical(sop: ExprT) -> ExprT:
    """A categorically encoded copy of `sop` (`sop` keeps its encoding)."""
    return annotate(sop, encoding=Encoding.CATEGORICAL)


def get_encoding(sop: SOp) -> Encoding:
    return sop.annotations[_ENCODING_KEY]


def is_numerical(sop: SOp) -> bool:
    return get_encoding(sop) == Encoding.NUMERICAL


def is_categorical(sop: SOp) -> bool:
    return get_encoding(sop) == Encoding.CATEGORICAL


def default_encoding(expr: RASPExpr) -> Encoding:
    if not isinstance(expr, SOp):
        raise ProgramError(f"{expr.label} is a selector and has no encoding")
    return Encoding.CATEGORICAL


_DEFAULT_NAMES: tuple[tuple[type, str], ...] = (
    (LinearSequenceMap, "linear_sequence_map"),
    (SequenceMap, "sequence_map"),
    (Map, "map"),
    (Full, "full"),
    (ConstantSOp, "constant_sop"),
    (SelectorWidth, "selector_width"),
    (Aggregate, "aggregate"),
    (Select, "select"),
    (SelectorAnd, "selector_and"),
    (SelectorOr, "selector_or"),
    (SelectorNot, "selector_not"),
    (ConstantSelector, "constant_selector"),
    (SOp, "sop"),
    (Selector, "selector"),
)


def default_name(expr: RASPExpr) -> str:
    if isinstance(expr, _Primitive):
        return expr.label
    for cls, name in _DEFAULT_NAMES:
        if isinstance(expr, cls):
            return name
    raise ProgramError(f"{expr!r} has no default name")


DEFAULT_ANNOTATORS[_ENCODING_KEY] = default_encoding
DEFAULT_ANNOTATORS[_NAME_KEY] = default_name
