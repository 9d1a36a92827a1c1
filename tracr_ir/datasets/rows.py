"""From a row back to a model: `model(row)` and `check_row(row)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracr_ir.datasets.program import ABS_TOL
from tracr_ir.datasets.values import DatasetError

if TYPE_CHECKING:
    from tracr_ir.backends.jax import CompiledModel


def model(row: dict[str, Any]) -> CompiledModel:
    """The JAX model of a row (built from its `transformer_ir`); a row that was not
    compiled is a `DatasetError` naming its reason."""
    from tracr_ir.backends.jax import build

    text = row.get("transformer_ir")
    if text is None:
        reason = f"{row.get('error_type')}: {row.get('error_message')}"
        raise DatasetError(f"row {row.get('index')} has no model ({row.get('status')}, "
                           f"{reason})")
    return build(text)


def check_row(row: dict[str, Any], compiled: CompiledModel | None = None,
              abs_tol: float = ABS_TOL) -> None:
    """Check that the row's model reproduces its examples: on each of `inputs` the JAX
    model's outputs equal `outputs` (categorical exactly, numerical within `abs_tol`).

    `row` is as `read` gives it (decoded tokens). Raises `DatasetError` naming the first
    differing input.
    """
    from tracr_ir.compiler import format_output
    from tracr_ir.testing.equivalence import outputs_equal

    compiled = compiled or model(row)
    inputs, outputs = row.get("inputs") or [], row.get("outputs") or []
    if any(isinstance(v, str) and v[:1] in '"[' for xs in inputs for v in xs):
        raise DatasetError("check_row takes decoded rows (read(DIR) with decode=True)")
    bos = compiled.weights.bos
    got = compiled.apply_batch([[bos, *xs] for xs in inputs]) if inputs else []
    for xs, ys, want in zip(inputs, got, outputs):
        if not outputs_equal(ys[1:], want, abs_tol):
            raise DatasetError(f"row {row.get('index')}: on input {format_output(xs)} the "
                               f"model gives {format_output(ys[1:])}, the row "
                               f"{format_output(want)}")
