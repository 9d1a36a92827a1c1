"""The exactness contract between craft blocks: tolerances and error bounds, in one place.

A value in the residual is described by a `Bound`: how far it may be from its intended value
(`error`: the l1 distance to the intended one-hot for a categorical s-op, the absolute error
for a numerical one) and, for a numerical s-op, where its intended value lies
(`low` <= value <= `high`, `magnitude` = max(|low|, |high|)). Every craft op states the bound
of its output given its operands' bounds and the error each operand may carry
(`tracr_ir.dialects.craft_exactness`); the lowering and the verifier use the constants here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: l1 error a categorical s-op read by an MLP (or decoded as the program output) may carry.
#: MLP readers are exact up to 1/4 (`numerics.CATEGORICAL_READ_TOLERANCE`); a sequence map
#: sums two operands' errors, and a sixteenth each leaves margin 1/2 - 2 (1/16 + 1/16) = 1/4.
MLP_READ_TOLERANCE = 1 / 16
#: A numerical program output is within max(OUTPUT_TOLERANCE, OUTPUT_RELATIVE x magnitude)
#: of the evaluator's.
OUTPUT_TOLERANCE = 5e-5
OUTPUT_RELATIVE = 1e-6
#: Errors below this count as exact (float32 rounding of an MLP's one-hot output): what a
#: selector term's keys and queries may carry (the heads are built for exact ones).
EXACT = 1e-6
#: Relative slack of a comparison of a bound with a tolerance: float64 rounding of the
#: bookkeeping (a tolerance t - e, then a bound (t - e) + e), not of the model.
ROUNDING = 1e-12


@dataclass(frozen=True)
class Bound:
    """What is known of a value: its `error` and the range of its intended value.

    `Bound(error, magnitude)` means |intended| <= magnitude; `low` / `high` narrow the range
    (they default to -magnitude / magnitude, and `magnitude` is then max(|low|, |high|)).
    A categorical value has magnitude 1 (`Bound.categorical`); its `excess` bounds how far a
    coordinate may exceed 1 (None: as far as `error`; a softmax average of one-hots only by
    its float32 rounding), which `craft.mlp.direct_sequence_map_error` uses."""

    error: float
    magnitude: float = 1.0
    low: float | None = None
    high: float | None = None
    excess: float | None = None

    def __post_init__(self) -> None:
        low = -self.magnitude if self.low is None else self.low
        high = self.magnitude if self.high is None else self.high
        object.__setattr__(self, "low", float(low))
        object.__setattr__(self, "high", float(high))
        object.__setattr__(self, "magnitude", float(max(abs(low), abs(high))))
        object.__setattr__(self, "error", float(self.error))

    @staticmethod
    def categorical(error: float = 0.0, excess: float | None = None) -> Bound:
        return Bound(error, 1.0, 0.0, 1.0, excess)

    @property
    def coordinate_excess(self) -> float:
        """How far a coordinate may exceed 1: `excess`, at most `error`."""
        return self.error if self.excess is None else min(self.excess, self.error)

    @staticmethod
    def between(error: float, values: list[float]) -> Bound:
        """A numerical value whose intended values lie in the hull of `values`."""
        values = [float(v) for v in values] or [0.0]
        return Bound(error, low=min(values), high=max(values))


def output_tolerance(magnitude: float) -> float:
    """How far a numerical program output of intended |value| <= `magnitude` may be off."""
    return max(OUTPUT_TOLERANCE, OUTPUT_RELATIVE * magnitude)


def fits(error: float, tolerance: float) -> bool:
    """`error` <= `tolerance`, up to float64 rounding of the bookkeeping (`ROUNDING`)."""
    return error <= tolerance or (math.isfinite(error)
                                  and error <= tolerance + ROUNDING * abs(tolerance))
