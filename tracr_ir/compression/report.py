"""What a compression did, as an object and as the `compressed` attribute of the model op.

```mlir
transformer.model ... residual [one, ..., frac_prevs_3] attributes {compressed = {
    method = "lossless", width = 8 : i64, original_width = 13 : i64,
    span = "the span of the residual entering each sublayer over every input (1364)",
    inputs = "every input (1364)", checked = 1364 : i64, exact = 1364 : i64,
    tol = 1.000000e-04 : f64, max_error = 0.000000e+00 : f64}} {
```
`report_of(model_or_module)` reads it back (from a `CompiledModel`, saved and loaded models
included, a module, a `transformer.model` op or IR text).
"""

from __future__ import annotations

from collections.abc import Mapping

import dataclasses
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import (BoolAttr, DictionaryAttr, FloatAttr, IntegerAttr,
                                   StringAttr, f64, i64)
from xdsl.ir import Attribute

__all__ = ["ATTRIBUTE", "CompressionReport", "report_of"]

ATTRIBUTE = "compressed"
"""The name of the attribute on `transformer.model`."""


@dataclass(frozen=True)
class CompressionReport:
    """A compression of a model's residual from `original_width` to `width` coordinates.

    `span`: how the subspace was found; `inputs`: the inputs it was computed and measured on
    (every input, or a stated sample); of `checked` inputs, `exact` have every output equal
    to the uncompressed model's (categorical: decoded the same; numerical: within `tol`);
    `max_error` is the largest difference of an output coordinate, and `worst` the input not as
    before with the largest (empty if none). A learned compression
    also states its training: `tied`, `steps`, `restarts`, `seed`, the loss and largest output
    error of its starting point (`initial_loss`, `initial_error`: the lossless residual cut to
    `width`) and of the result (`loss`, `error`), on the training inputs.
    """

    method: str
    width: int
    original_width: int
    span: str
    inputs: str
    checked: int
    exact: int
    tol: float
    max_error: float
    worst: str = ""
    lossless_width: int = 0
    tied: bool = False
    steps: int = 0
    restarts: int = 0
    seed: int = 0
    initial_loss: float = 0.0
    initial_error: float = 0.0
    loss: float = 0.0
    error: float = 0.0

    @property
    def all_exact(self) -> bool:
        return self.exact == self.checked

    def summary(self) -> str:
        """One line: `lossless: residual 13 -> 8 (<span>); outputs as before on 1364/1364
        inputs (...), largest output error 4.4e-15`."""
        text = (f"{self.method}: residual {self.original_width} -> {self.width} ({self.span}); "
                f"outputs as before on {self.exact}/{self.checked} inputs ({self.inputs}; "
                f"categorical decoded equal, numerical within {self.tol:g}), largest output "
                f"error {self.max_error:.3g}")
        if self.worst:
            text += f" (input {self.worst})"
        if self.method == "learned":
            text += (f"; training loss {self.initial_loss:.3g} -> {self.loss:.3g}, largest "
                     f"output error {self.initial_error:.3g} -> {self.error:.3g}")
        return text

    def __str__(self) -> str:
        return self.summary()

    def to_attribute(self) -> DictionaryAttr:
        values: dict[str, Attribute] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _LEARNED and self.method != "learned" or f.name == "worst" and \
                    not value:
                continue
            if isinstance(value, bool):
                values[f.name] = BoolAttr.from_bool(value)
            elif isinstance(value, int):
                values[f.name] = IntegerAttr(value, i64)
            elif isinstance(value, float):
                values[f.name] = FloatAttr(value, f64)
            else:
                values[f.name] = StringAttr(value)
        return DictionaryAttr(values)

    @staticmethod
    def from_attribute(attr: DictionaryAttr) -> CompressionReport:
        fields = {f.name for f in dataclasses.fields(CompressionReport)}
        values: dict[str, Any] = {}
        for name, value in attr.data.items():
            if name not in fields:
                continue
            if isinstance(value, IntegerAttr):
                values[name] = value.value.data
                if name == "tied":
                    values[name] = bool(values[name])
            elif isinstance(value, FloatAttr):
                values[name] = float(value.value.data)
            elif isinstance(value, StringAttr):
                values[name] = value.data
        return CompressionReport(**values)


_LEARNED = ("lossless_width", "tied", "steps", "restarts", "seed", "initial_loss",
            "initial_error", "loss", "error")


def report_of(subject: Any) -> CompressionReport | None:
    """The `CompressionReport` of a compressed model (a `CompiledModel` built by the compiler
    or loaded, a module, a `transformer.model` op, or IR text); None if it is not compressed."""
    from tracr_ir.dialects.program import stage_op
    from tracr_ir.dialects.transformer import ModelOp
    from tracr_ir.ir_text import parse_module

    ir = getattr(subject, "ir", None)
    if isinstance(ir, Mapping):  # a CompiledModel's stage IR: a dict or a lazy StageIR
        if "transformer" not in ir:
            return None
        module = getattr(ir, "module", None)  # StageIR: the module itself, not printed
        subject = module("transformer") if callable(module) else ir["transformer"]
    if isinstance(subject, str):
        subject = parse_module(subject)
    op = subject if isinstance(subject, ModelOp) else stage_op(subject)
    attr = op.attributes.get(ATTRIBUTE)
    return CompressionReport.from_attribute(attr) if isinstance(attr, DictionaryAttr) else None
