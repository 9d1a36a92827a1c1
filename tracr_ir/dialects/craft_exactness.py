"""Exactness of craft IR: each op's contract, and its check over a whole program.

Every craft op states (mixins below, one per construction family):
- `input_tolerances(max_seq_len)`: the error each operand may carry for its construction to
  be exact (l1 for categorical operands, absolute for numerical ones);
- `output_bound(inputs, max_seq_len)`: the `tolerances.Bound` of its output given its
  operands' bounds (raising `UnsupportedProgramError` if the construction does not apply).

| op | operands may carry | output error |
|---|---|---|
| categorical_mlp, sequence_map_mlp | l1 1/16 each | 0 (categorical), the block's float32 estimate (numerical) |
| the same, `direct` [`margin`] | anything finite | the operands' errors passed on (`direct_lookup_error`, `direct_sequence_map_error`: by how far their coordinates exceed 1, `Bound.excess`), plus the float32 estimate (numerical) |
| numerical_mlp | its `input_error` (< half the smallest gap between keys whose outputs differ) | as above |
| linear_mlp | anything finite | sum abs(f_i) e_i + float32 estimate of sum abs(f_i) m_i + abs(c) |
| constant_mlp | (no operands) | 0 |
| categorical_attention | value: anything; selector terms: `term_error` (default `EXACT`) | tolerance + e |
| numerical_attention | value: magnitude + error <= `magnitude`; terms: `term_error` (default `EXACT`) | tolerance + e |
| selector_width | terms: `term_error` (default `EXACT`) | 0 (categorical), its MLP's float32 estimate (numerical) |
| selector_width, `direct` | terms: 0, float32-exact (`inexact_writer`) | its MLP's bound (interpolant and float32) |

e is the value operand's error. With weight A on the (equally scored) selected keys, the
output minus the intended value is A (mean of the selected values' errors) - (1 - A) v +
(the unselected keys' share): at most A e + (1 - A) (|v| + max |actual value|) <= e + 2 M (1 - A),
M = 1 (categorical: one-hots of l1 norm 1; the noise is in the first term) or the head's
`magnitude` (numerical, a bound on the actual values); the construction's `tolerance`
bounds 2 M (1 - A) plus float32 rounding. `tokens` and `indices` are exact. The program output
must be within `MLP_READ_TOLERANCE` (categorical) or `output_tolerance(magnitude)` (numerical).

`verify_exactness(program)` propagates the bounds forward and refuses, naming the ops, the
first value that is further off than a reader (or the program output) accepts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from xdsl.ir import SSAValue

from tracr_ir.craft.mlp import direct_lookup_error, direct_sequence_map_error
from tracr_ir.craft.numerics import float32_error_estimate, softmax_float32_error
from tracr_ir.craft.selector_width import snapped_share_error
from tracr_ir.craft.tolerances import EXACT, MLP_READ_TOLERANCE, Bound, fits, output_tolerance
from tracr_ir.dialects.craft_base import CraftOp, space_of
from tracr_ir.dialects.craft_layout import RESIDUAL_ATTR, ResidualLayout, check_layout
from tracr_ir.dialects.program import SSAProgramOp
from tracr_ir.errors import UnsupportedProgramError



def _refuse(op: CraftOp, message: str) -> UnsupportedProgramError:
    error = UnsupportedProgramError(f"{op.name} '{op.label_text}': {message}")
    error.label = op.label_text
    return error


def _table_outputs(op: Any) -> list[float]:
    return [float(v) for _, v in op.table.data]


### Contracts, one mixin per construction family (listed first among an op's bases).


class TableBounds:
    """Lookups of categorical operands (`categorical_mlp`, `sequence_map_mlp`): exact for
    operands within l1 1/16 of their one-hots; a None operand (zero vector) writes 0 unless
    a `none` entry says otherwise. A `direct` lookup takes any operand and passes its error
    on, amplified as `craft.mlp.direct_lookup_error` / `direct_sequence_map_error` derive."""

    def input_tolerances(self: Any, max_seq_len: int) -> list[float]:
        if self.is_direct:  # no snapping: the output bound carries the operands' errors
            return [math.inf] * len(self.operands)
        return [MLP_READ_TOLERANCE] * len(self.operands)

    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        numerical = space_of(self.output).is_numerical
        passed = self._passed_error(inputs, numerical) if self.is_direct else 0.0
        if not numerical:
            return Bound.categorical(passed)
        values = _table_outputs(self)
        if not any(k is None for k, _ in self.table.data):
            values.append(0.0)
        return Bound.between(passed + self.block(max_seq_len).float32_error, values)

    def _passed_error(self: Any, inputs: Sequence[Bound], numerical: bool) -> float:
        """The operands' errors as a direct construction passes them on (`craft.mlp`)."""
        table = self.table.as_dict()
        if len(inputs) == 1:
            return direct_lookup_error(table, inputs[0].error, numerical)
        sizes = tuple(len(space_of(v).space) for v in self.operands)
        return direct_sequence_map_error(
            table, sizes, (inputs[0].error, inputs[1].error), numerical,
            (inputs[0].coordinate_excess, inputs[1].coordinate_excess), self.margin_value)


class DiscretiseBounds:
    """`numerical_mlp`: exact for inputs within `input_error` of a table key, which must be
    below half the gap between neighbouring keys whose outputs differ."""

    def input_tolerances(self: Any, max_seq_len: int) -> list[float]:
        error = float(self.input_error.data)
        entries = sorted(self.table.data, key=lambda e: float(e[0]))
        for (a, fa), (b, fb) in zip(entries, entries[1:]):
            gap = float(b) - float(a)
            if fa != fb and not error < gap / 2:
                raise _refuse(self, f"input_error {error:.3g} is not below half the gap "
                                    f"{gap:.3g} between the keys {a!r} and {b!r}, whose "
                                    "outputs differ")
        return [error]

    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        if not space_of(self.output).is_numerical:
            return Bound.categorical(0.0)
        return Bound.between(self.block(max_seq_len).float32_error, _table_outputs(self))


class LinearBounds:
    """`linear_mlp`: sum f_i x_i + c, exact up to float32 rounding of its activations."""

    def input_tolerances(self: Any, max_seq_len: int) -> list[float]:
        return [math.inf] * len(self.operands)

    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        constant = float(self.constant.data)
        merged: dict[SSAValue, tuple[float, Bound]] = {}  # the same s-op twice: factors add
        for x, f, bound in zip(self.operands, self.factors.data, inputs):
            merged[x] = (merged.get(x, (0.0, bound))[0] + float(f), bound)
        error = sum(abs(f) * b.error for f, b in merged.values())
        mass = sum(abs(f) * b.magnitude for f, b in merged.values()) + abs(constant)
        low = constant + sum(min(f * b.low, f * b.high) for f, b in merged.values())
        high = constant + sum(max(f * b.low, f * b.high) for f, b in merged.values())
        return Bound(error + float32_error_estimate(mass), low=low, high=high)


class ConstantBounds:
    """`constant_mlp`: exact."""

    def input_tolerances(self: Any, max_seq_len: int) -> list[float]:
        return []

    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        if not space_of(self.output).is_numerical:
            return Bound.categorical(0.0)
        return Bound.between(0.0, [float(self.fill.data)])


class _HeadBounds:
    """Heads read their selector terms within `term_error` (`EXACT` without it: the scale
    accounts for the score noise of terms that error, `numerics.score_noise`); the value may
    carry any error, which the output bound passes on."""

    def input_tolerances(self: Any, max_seq_len: int) -> list[float]:
        terms = max(EXACT, self.term_error_value)
        return [math.inf] + [terms] * (len(self.operands) - 1)


class CategoricalAttentionBounds(_HeadBounds):
    """A coordinate of the output is a softmax average of the values' coordinates: above 1
    by at most theirs, plus its float32 rounding (`excess`)."""

    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        value = inputs[0]
        over = value.coordinate_excess
        return Bound.categorical(float(self.tolerance.data) + value.error,
                                 over + softmax_float32_error(max_seq_len, 1.0 + over))


class NumericalAttentionBounds(_HeadBounds):
    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        value = inputs[0]
        magnitude = float(self.magnitude.data)
        if not fits(value.magnitude + value.error, magnitude):
            raise _refuse(self, f"its value can reach {value.magnitude + value.error:.3g} in "
                                f"absolute value, above its magnitude {magnitude:.3g}")
        return Bound(float(self.tolerance.data) + value.error,
                     low=min(value.low, 0.0), high=max(value.high, 0.0))  # empty: 0


#: The ops whose categorical output is a float32-exact one-hot when their operands are: their
#: pre-activations are sums of a few operand coordinates (0 or 1), integers and halves.
BIT_EXACT_WRITERS = frozenset({"craft.categorical_mlp", "craft.sequence_map_mlp",
                               "craft.constant_mlp"})


def inexact_writer(value: SSAValue) -> CraftOp | None:
    """None if `value` is an exact one-hot in float32 on every input (not only within its
    bound: a snapped lookup of a noisy one-hot is off by a rounding of ~1e-7 that its bound,
    0, leaves out): a program input, or a categorical `BIT_EXACT_WRITERS` op of such values.
    Else the first op on the way whose output is not."""
    stack, seen = [value], set()
    while stack:
        v = stack.pop()
        op = v.owner
        if v in seen or not isinstance(op, CraftOp):
            continue
        seen.add(v)
        if op.name not in BIT_EXACT_WRITERS or space_of(op.output).is_numerical:
            return op
        stack.extend(op.operands)
    return None


class SelectorWidthBounds:
    """`selector_width`: exact for selector terms within `term_error` (`EXACT` without it;
    the snapped decoder's ramps absorb the share's noise); a `direct` one decodes its share
    without snapping and needs them exact in float32: tolerance 0, and written only by exact
    lookups, `inexact_writer`)."""

    def input_tolerances(self: Any, max_seq_len: int) -> list[float]:
        terms = 0.0 if self.is_direct else max(EXACT, self.term_error_value)
        return [terms] * len(self.operands)

    def inexact_operand(self: Any) -> CraftOp | None:
        """For a `direct` width: the first writer of its keys or queries whose output is not
        a float32-exact one-hot (None if there is none, or if the width is not direct)."""
        if not self.is_direct:
            return None
        return next((op for v in self.operands if (op := inexact_writer(v)) is not None), None)

    def share_tolerance(self: Any, max_seq_len: int) -> float:
        """How far the head's share may be from 1/(w+1) beyond what the block itself
        accounts for (`craft-layer-norm` adds its deviations to the share): a quarter of the
        least gap g = 1/((L+1)(L+2)) for the snapped decoder (its ramps' slack), none for a
        `direct` one (its output moves with the share)."""
        if self.is_direct:
            return 0.0
        gap = 1 / ((max_seq_len + 1) * (max_seq_len + 2))
        if not self.term_error_value:
            return gap / 4
        # A ramp of slope 4/(gap - 2 delta) saturates within (gap - 2 delta)/8 of its
        # threshold, and the shares lie gap/2 - delta from it: 3/8 (gap - 2 delta) is left.
        return min(gap / 4, 3 / 8 * (gap - 2 * snapped_share_error(
            max_seq_len, len(self.terms()), self.term_error_value)))

    def output_bound(self: Any, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        if not space_of(self.output).is_numerical:
            return Bound.categorical(0.0)
        if (writer := self.inexact_operand()) is not None:
            raise _refuse(self, f"a direct width needs float32-exact keys and queries, but "
                                f"{writer.name} '{writer.label_text}' does not write exact "
                                "one-hots")
        return Bound(self.block(max_seq_len).mlp.float32_error, low=0.0, high=max_seq_len)


### The program check.


def _num(x: float, other: float) -> str:
    """`x` with enough digits to differ from `other`."""
    text = f"{x:.3g}"
    return text if text != f"{other:.3g}" else repr(x)


def _writer(value: SSAValue) -> str:
    op = value.owner
    if isinstance(op, CraftOp):
        return f"{op.name} '{op.label_text}'"
    return f"the program input %{value.name_hint or '?'}"


def _stated(op: CraftOp) -> None:
    cls = type(op)
    if cls.output_bound is CraftOp.output_bound or cls.input_tolerances is CraftOp.input_tolerances:
        raise _refuse(op, f"{cls.__name__} does not state its exactness: define output_bound "
                          "and input_tolerances (see tracr_ir.dialects.craft_exactness)")


def _check(value: SSAValue, bound: Bound, tolerance: float, reader: str) -> None:
    if fits(bound.error, tolerance):
        return
    message = (f"its output can be {_num(bound.error, tolerance)} off, but {reader} needs it "
               f"within {_num(tolerance, bound.error)}")
    if isinstance(value.owner, CraftOp):
        raise _refuse(value.owner, message)
    raise UnsupportedProgramError(f"{_writer(value)}: {message}")


def value_bounds(program: SSAProgramOp) -> dict[SSAValue, Bound]:
    """The bound of every value of `program`, checking each operand against its reader's
    tolerance (`UnsupportedProgramError` naming both ops if one is too far off)."""
    length = program.length
    bounds: dict[SSAValue, Bound] = {arg: Bound.categorical(0.0) for arg in program.block.args}
    for op in program.block.ops:
        if not isinstance(op, CraftOp):
            continue
        _stated(op)
        tolerances = op.input_tolerances(length)
        if len(tolerances) != len(op.operands):
            raise _refuse(op, f"input_tolerances gives {len(tolerances)} tolerances for "
                              f"{len(op.operands)} operands")
        for i, (operand, tolerance) in enumerate(zip(op.operands, tolerances)):
            _check(operand, bounds[operand], tolerance,
                   f"{op.name} '{op.label_text}' (operand {i})")
        bounds[op.output] = op.output_bound([bounds[v] for v in op.operands], length)
    return bounds


def verify_exactness(program: SSAProgramOp) -> None:
    """Refuse (`UnsupportedProgramError`) a craft program some block of which may read an
    operand further off than its construction accepts, or whose output may be further off
    than `MLP_READ_TOLERANCE` (categorical) / `output_tolerance` (numerical), or whose
    residual layout lets a block write into a live position (`craft_layout.check_layout`:
    every read, by sublayer, sees the value it names)."""
    if (layout := program.attributes.get(RESIDUAL_ATTR)) is not None:
        ops = [op for op in program.block.ops if isinstance(op, CraftOp)]
        check_layout(program, ops, ResidualLayout.of(layout))
    bounds = value_bounds(program)
    out = program.output.value
    bound = bounds[out]
    if space_of(out).is_numerical:
        _check(out, bound, output_tolerance(bound.magnitude), "the program output")
    else:
        _check(out, bound, MLP_READ_TOLERANCE, "the program output")
