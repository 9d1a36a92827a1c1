"""tracr's causal evaluator, for code ported from `tracr.rasp.causal_eval`.

```python
from tracr_ir import causal_eval, rasp
causal_eval.evaluate(rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens,
                                                    rasp.Comparison.TRUE)), "abc")  # [1, 2, 3]
causal_eval.evaluate(rasp.length, "abc")     # [3, 3, 3]: the whole input's length
rasp.evaluate_causal(rasp.length, "abc")     # [1, 2, 3]: what a causal model computes
```

`evaluate` runs the program once on the whole input with every selector (every Select,
SelectorAnd/Or/Not and ConstantSelector) masked causally: query i selects no key after i.
Everything else sees the whole input, so `length`, and a Map of `length`, give the length of
the whole input at every position.

A model compiled with `causal=True` computes `rasp.evaluate_causal` instead: position i gets
`rasp.evaluate(program, xs[:i + 1])[i]`, the program run on the prefix up to i (and
`rasp-verify-causal` refuses a program whose causal model could not). The two agree on tracr's
causal test cases (`make_frac_prevs`, `shift_by`, `detect_pattern`, a SelectorWidth) and differ
where a program reads `length` or another value that depends on later positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracr_ir.errors import ProgramError
from tracr_ir.rasp import Evaluator, RASPExpr, Selector, Value

__all__ = ["CausalEvaluator", "evaluate"]


class CausalEvaluator(Evaluator):
    """The reference evaluator with every selector's matrix masked to keys <= query."""

    def _dispatch(self, expr: RASPExpr, args: list[Any]) -> Any:
        out = super()._dispatch(expr, args)
        if isinstance(expr, Selector):
            return [[bool(v) and k <= q for k, v in enumerate(row)] for q, row in enumerate(out)]
        return out


def evaluate(expr: RASPExpr, xs: Sequence[Value]) -> Any:
    """The value of `expr` on `xs` with causally masked selectors (tracr's `causal_eval`)."""
    if not isinstance(expr, RASPExpr):
        raise ProgramError(f"evaluate: expected a RASP expression, got {expr!r}")
    return CausalEvaluator(xs).evaluate(expr)
