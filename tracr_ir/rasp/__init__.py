"""RASP programs in Python, with the names and semantics of tracr's `rasp` module.

A tracr program ports by changing its import::

    from tracr_ir import rasp
    hist = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    rasp.evaluate(hist, ["a", "b", "a"])  # [2, 1, 2]

Nodes are immutable once built. As in tracr, `named`, `annotated`, `annotate`, `numerical` and
`categorical` return an annotated copy (`expr.copy()`) and leave the node as it was, so
`numerical(tokens)` never changes `tokens`. `evaluate` is the reference semantics every
compiler stage is tested against (tracr-pypi 1.0.0's); `evaluate_causal` is what a causal
model computes, and `tracr_ir.causal_eval` is tracr's causal evaluator.

Every name lives here, as in tracr; the code is in three modules, one idea each:
`tracr_ir.rasp.expr` (the nodes, their operators and simplifications),
`tracr_ir.rasp.encoding` (the default annotations: encodings and names) and
`tracr_ir.rasp.semantics` (evaluation).
"""

from __future__ import annotations

from tracr_ir.errors import EvaluationError, ProgramError
from tracr_ir.rasp.encoding import (Encoding, categorical, default_encoding, default_name,
                                    get_encoding, is_categorical, is_numerical, numerical)
from tracr_ir.rasp.expr import (DEFAULT_ANNOTATORS, VT, Aggregate, Annotator, Comparison,
                                ConstantSelector, ConstantSOp, ExprT, Full, IndicesType,
                                LengthType, LinearSequenceMap, Map, NumericValue, Predicate,
                                RASPExpr, Select, Selector, SelectorAnd, SelectorNot,
                                SelectorOr, SelectorValue, SelectorWidth, SequenceMap, SOp,
                                TokensType, Value, annotate, indices, length, selector_and,
                                selector_not, selector_or, sop_not, tokens)
from tracr_ir.rasp.labels import fresh_labels
from tracr_ir.rasp.semantics import (Evaluator, aggregate_mean, apply_predicate, evaluate,
                                     evaluate_causal, walk)

__all__ = [
    "DEFAULT_ANNOTATORS", "VT", "Aggregate", "Annotator", "Comparison", "ConstantSOp",
    "ConstantSelector", "Encoding", "EvaluationError", "Evaluator", "ExprT", "Full",
    "IndicesType", "LengthType", "LinearSequenceMap", "Map", "NumericValue", "Predicate",
    "ProgramError", "RASPExpr", "SOp", "Select", "Selector", "SelectorAnd", "SelectorNot",
    "SelectorOr", "SelectorValue", "SelectorWidth", "SequenceMap", "TokensType", "Value",
    "aggregate_mean", "annotate", "apply_predicate", "categorical", "default_encoding",
    "default_name", "evaluate", "evaluate_causal", "fresh_labels", "get_encoding",
    "indices", "is_categorical", "is_numerical", "length", "numerical", "selector_and",
    "selector_not", "selector_or", "sop_not", "tokens", "walk",
]
