"""`#transformer.layer_norm<eps 1.0e-05 output_scale 2447.8>`: a model's LayerNorm.

A `transformer.model` with a `layer_norm` property applies `tracr_ir.model.LayerNorm` before
every sublayer and the readout (docs/layer_norm.md); the model prints it after its residual:
```
transformer.model vocab {...} ...
    residual [one, ..., ln_zero, ln_ballast_pos, ln_ballast_neg]
    layer_norm eps 1.0e-05 output_scale 2447.8409118620675 {
```
Floats print as the shortest decimal that parses back to the same float64 (`format_float`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from xdsl.dialects.builtin import FloatAttr, f64
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from tracr_ir.model import LN_ZERO, Label, LayerNorm


def format_float(x: float) -> str:
    """A float64 as a literal that parses back to it (always with a `.`: `1.0e-05`)."""
    text = repr(float(x))
    mantissa, e, exponent = text.partition("e")
    return text if "." in mantissa or not text[-1].isdigit() else f"{mantissa}.0{e}{exponent}"


@irdl_attr_definition
class LayerNormAttr(ParametrizedAttribute):
    """The LayerNorm of a model: its eps and the scale of its readout."""

    name = "transformer.layer_norm"
    eps: FloatAttr
    output_scale: FloatAttr

    @staticmethod
    def from_norm(norm: LayerNorm) -> LayerNormAttr:
        return LayerNormAttr(FloatAttr(norm.eps, f64), FloatAttr(norm.output_scale, f64))

    def norm(self) -> LayerNorm:
        return LayerNorm(self.eps.value.data, self.output_scale.value.data)

    def text(self) -> str:
        """`eps 1.0e-05 output_scale 2.5`."""
        return (f"eps {format_float(self.eps.value.data)} "
                f"output_scale {format_float(self.output_scale.value.data)}")

    @staticmethod
    def parse_text(parser: AttrParser) -> LayerNormAttr:
        parser.parse_keyword("eps")
        eps = parser.parse_float()
        parser.parse_keyword("output_scale")
        return LayerNormAttr.from_norm(LayerNorm(eps, parser.parse_float()))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            parsed = cls.parse_text(parser)
        return [parsed.eps, parsed.output_scale]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.text()}>")

    def verify(self) -> None:
        eps, scale = self.eps.value.data, self.output_scale.value.data
        if not (eps > 0 and math.isfinite(eps) and math.isfinite(scale)):
            raise VerifyException(f"{self.name}: needs a positive eps and a finite output "
                                  f"scale, got eps {eps} and output_scale {scale}")

    def verify_residual(self, where: str, labels: Iterable[Label]) -> None:
        """The output is read relative to `ln_zero`, which must be in the residual."""
        if LN_ZERO not in set(labels):
            raise VerifyException(f"{where}: a model with layer_norm reads its output relative "
                                  f"to the residual direction '{LN_ZERO}', which is missing")
