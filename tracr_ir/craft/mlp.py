"""MLP constructions: element-wise maps, sequence maps and constants.

Every thresholded decision is a ramp pair (see `numerics`): hidden neurons
relu(a + g/2) and relu(a - g/2), whose difference is a step in a, where a is a linear function
of the inputs and of the gate g = ONE - BOS (1 off BOS, 0 at BOS). All constants are
multiplied by g, so at the BOS position (inputs zero) every pre-activation is 0 and the MLP
writes exactly zero there; a constant output uses one `start` neuron relu(g).

Categorical inputs are snapped: an MLP reading a categorical s-op decides each step on
z = a sum of its one-hot coordinates, with ideal values 0 or 1 (2 for pairs), through a ramp
centred half-way. Its output is therefore exact for any input within l1 distance 1/4 of a
one-hot (`numerics.CATEGORICAL_READ_TOLERANCE`), however many values the input has and however
many blocks precede it. The price is two hidden neurons per step instead of one.

Direct lookups (`direct=True`) do not snap: one neuron relu(z) per output value (per value
pair for a sequence map, per sign for a numerical output), as tracr builds them, so the
output is as exact as the input (the output bound carries the input error, amplified as each
construction's docstring derives). The lowering chooses the direct form of a block whenever
that bound is within what the block's readers need (`LoweringState.lookup`), which it always
is for exact inputs (tokens, indices, MLP outputs): categorical lookups then never have more
hidden neurons than tracr's.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import numpy as np

from tracr_ir.craft.bases import BOS, ONE, Direction, Space, join, sorted_values
from tracr_ir.craft.blocks import MLPBlock, activation_mass
from tracr_ir.craft.numerics import float32_error_estimate, ramp_slope
from tracr_ir.errors import UnsupportedProgramError

Coefficients = Mapping[Direction, float]


def _exact_half_offset(c: float, label: str) -> float:
    """c rounded to a multiple of the float32 ulp at |c| + 1, so that c, c + 1/2 and c - 1/2
    are all exact float32 numbers."""
    q = float(np.spacing(np.float32(abs(c) + 1.0)))
    if q > 0.5:
        raise UnsupportedProgramError(f"a threshold constant {c:g} is beyond float32's "
                                      f"resolution of 1/2", label)
    return round(c / q) * q


class _Builder:
    """Collects hidden neurons (input weights, output weights) and ramp pairs."""

    def __init__(self, label: str, out_space: Space):
        self.label = label
        self.out_space = out_space
        self.neurons: list[tuple[Direction, dict[Direction, float], dict[Direction, float]]] = []
        self.ramps: list[tuple[int, int]] = []

    def _hidden(self, value: Hashable) -> Direction:
        return Direction(f"{self.label}_hidden", value)

    def start(self, out: Coefficients) -> None:
        """A neuron relu(g) = 1 off BOS writing `out` (the constant term)."""
        out = {d: c for d, c in out.items() if c != 0}
        if out:
            self.neurons.append((self._hidden("start"), {ONE: 1.0, BOS: -1.0}, dict(out)))

    def ramp(self, a: Coefficients, bias: float, out: Coefficients) -> None:
        """A step in a = sum(a[d] x_d) + bias * g, writing `out` times the step.

        The coefficients are rounded to float32 and the bias so that bias +- 1/2 are exact
        float32 numbers: the two neurons of the pair then differ by exactly 1 in their
        constant (a threshold moves by at most one float32 ulp of the bias over the slope)."""
        out = {d: c for d, c in out.items() if c != 0}
        if not out:
            return
        a = {d: float(np.float32(c)) for d, c in a.items()}
        bias = _exact_half_offset(bias, self.label)
        k = len(self.ramps)
        for sign, offset in ((0, 0.5), (1, -0.5)):
            w_in = dict(a)
            w_in[ONE] = w_in.get(ONE, 0.0) + bias + offset
            w_in[BOS] = w_in.get(BOS, 0.0) - bias - offset
            w_out = {d: (c if sign == 0 else -c) for d, c in out.items()}
            self.neurons.append((self._hidden((k, sign)), w_in, w_out))
        n = len(self.neurons)
        self.ramps.append((n - 2, n - 1))

    def unit(self, a: Coefficients, gate: float, out: Coefficients, key: Hashable) -> None:
        """One neuron relu(sum(a[d] x_d) + gate * g) writing `out` times its activation."""
        out = {d: c for d, c in out.items() if c != 0}
        a = {d: c for d, c in a.items() if c != 0}
        if not out or not (a or gate):
            return
        w_in = {d: float(c) for d, c in a.items()}
        if gate:
            w_in[ONE] = w_in.get(ONE, 0.0) + gate
            w_in[BOS] = w_in.get(BOS, 0.0) - gate
        self.neurons.append((self._hidden(key), w_in, dict(out)))

    def linear(self, a: Coefficients, out: Coefficients) -> None:
        """Exact linear map: relu(a.x) - relu(-a.x), writing `out` times a.x."""
        for sign, factor in (("+", 1.0), ("-", -1.0)):
            self.neurons.append((self._hidden(sign), {d: factor * c for d, c in a.items()},
                                 {d: factor * c for d, c in out.items()}))

    def build(self, inputs: Space, probes: list[dict[Direction, float]] | None = None
              ) -> MLPBlock:
        """The block; `probes` (input vectors, ONE = 1 implied) give its float32 estimate."""
        in_space = join(inputs, *(w for _, w, _ in self.neurons))
        hidden = Space(tuple(h for h, _, _ in self.neurons))
        w1 = np.zeros((len(in_space), len(hidden)))
        w2 = np.zeros((len(hidden), len(self.out_space)))
        for j, (_, w_in, w_out) in enumerate(self.neurons):
            for d, c in w_in.items():
                w1[in_space.index(d), j] += c
            for d, c in w_out.items():
                w2[j, self.out_space.index(d)] += c
        block = MLPBlock(in_space, hidden, self.out_space, w1, w2, tuple(self.ramps), self.label)
        if not probes:
            return block
        rows = np.array([in_space.vector({ONE: 1.0, **p}) if ONE in in_space
                         else in_space.vector(p) for p in probes])
        error = float32_error_estimate(activation_mass(block, rows))
        return MLPBlock(in_space, hidden, self.out_space, w1, w2, tuple(self.ramps),
                        self.label, error)


def _name_of(space: Space, what: str) -> str:
    names = space.names
    if len(names) != 1:
        raise ValueError(f"{what} must hold one s-op, got names {names}")
    return names[0]


def _output(out_space: Space, value: Any, numerical: bool, label: str) -> dict[Direction, float]:
    """Output coefficients of one value: the one-hot of a categorical value (None writes
    nothing), or the value times the numerical direction."""
    if numerical:
        if value is None:
            raise UnsupportedProgramError("a numerical s-op cannot hold None", label)
        if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise UnsupportedProgramError(f"numerical output {value!r} is not a finite number",
                                          label)
        return {out_space[0]: float(value)}
    if value is None:
        return {}
    d = Direction(_name_of(out_space, "out_space"), value)
    if d not in out_space:
        raise UnsupportedProgramError(f"output value {value!r} has no direction in the "
                                      f"output space", label)
    return {d: 1.0}


def _check_numerical_out(out_space: Space, numerical: bool) -> None:
    if numerical and (len(out_space) != 1 or out_space[0].value is not None):
        raise ValueError(f"a numerical output space is one direction without value, "
                         f"got {out_space}")


def _lookup(table: Mapping[Any, Any], key: Any, label: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise UnsupportedProgramError(f"the table has no entry for input {key!r}", label) from None


def map_categorical_mlp(in_space: Space, out_space: Space, table: Mapping[Any, Any],
                        label: str = "map", numerical_output: bool = False,
                        direct: bool = False) -> MLPBlock:
    """Categorical -> categorical (or numerical) lookup: x -> table[x].

    One step per output value y (non-None, non-zero if numerical) on z_y, the sum of the
    input coordinates of the values mapping to y: a = 2 z_y - 1, so a = +1 when the input
    maps to y and -1 when not; the step writes e_y (or y). Inputs mapping to None write
    nothing; the zero input (None) gives z = 0 everywhere and writes nothing.
    Margin: an input within l1 distance eps of a one-hot moves z by at most eps, so
    |a| >= 1 - 2 eps and the step margin |a| - 1/2 >= 1/2 - 2 eps > 0 for eps < 1/4.
    Hidden size 2 x (number of output values). `direct=True` builds `direct_lookup_mlp`.

    A `None` key maps the zero vector (None) to `table[None]` (an Aggregate's non-None
    default): that value's step uses z_y = (coordinates mapping to y) + g - (all
    coordinates), i.e. a = 1 - 2 (coordinates of the values not mapping to y), which is +1
    on the zero vector and on the values mapping to y, -1 on the others (same margin).
    """
    if direct:
        return direct_lookup_mlp(in_space, out_space, table, label, numerical_output)
    _check_numerical_out(out_space, numerical_output)
    if len(in_space.names) > 1:  # none (an s-op that is always None) or one
        raise ValueError(f"in_space must hold one s-op, got names {in_space.names}")
    by_output: dict[Any, list[Direction]] = {}
    for d in in_space:
        y = _lookup(table, d.value, label)
        if y is None and not numerical_output:
            continue
        by_output.setdefault(y, []).append(d)
    none_to = table.get(None) if None in table else None
    if numerical_output and none_to == 0:
        none_to = None
    builder = _Builder(label, out_space)
    if none_to is not None:
        hits = set(by_output.pop(none_to, []))
        builder.ramp({d: -2.0 for d in in_space if d not in hits}, 1.0,
                     _output(out_space, none_to, numerical_output, label))
    for y in sorted_values(by_output):
        out = _output(out_space, y, numerical_output, label)
        builder.ramp({d: 2.0 for d in by_output[y]}, -1.0, out)
    return builder.build(in_space, [{d: 1.0} for d in in_space] + [{}])


def _none_entry(table: Mapping[Any, Any], numerical_output: bool) -> Any:
    """The value the zero vector (None) maps to: `table[None]` if given (0 counts as none for
    a numerical output), else None."""
    none_to = table.get(None) if None in table else None
    return None if numerical_output and none_to == 0 else none_to


def direct_lookup_mlp(in_space: Space, out_space: Space, table: Mapping[Any, Any],
                      label: str = "map", numerical_output: bool = False) -> MLPBlock:
    """Categorical -> categorical (or numerical) lookup without snapping, one neuron per
    output value (tracr's width).

    Categorical output: a neuron relu(z_y) per non-None output value y, z_y the sum of the
    input coordinates of the values mapping to y, writing e_y. A `None` key's value y0 (the
    zero vector's image) gets relu(g - (coordinates of the values not mapping to y0))
    instead, 1 on the zero vector and on the values mapping to y0, 0 on the others.
    Numerical output: f'(x) = f(x) - c (c = the `None` entry, else 0) splits into a neuron
    relu(sum_{f' > 0} f'(x) x_x) writing +1 and relu(sum_{f' < 0} -f'(x) x_x) writing -1,
    plus a `start` neuron writing c: at most 2 neurons without a `None` entry (tracr's
    single relu(f(x)) is wrong for negative outputs: tracr issue #24).
    Error (`direct_lookup_error`): at an exact one-hot every pre-activation is its ideal
    activation (>= 0), so the output is exact up to float32 rounding. relu is 1-Lipschitz, so
    an input x = e_v + d moves each neuron by at most the sum of |d| over its coordinates;
    each coordinate feeds one value neuron (and the y0 neuron), so the output's l1 error is
    at most ||d||_1 (2 ||d||_1 with a `None` entry); numerically at most max |f'| ||d||_1.
    """
    _check_numerical_out(out_space, numerical_output)
    if len(in_space.names) > 1:
        raise ValueError(f"in_space must hold one s-op, got names {in_space.names}")
    image = {d: _lookup(table, d.value, label) for d in in_space}
    none_to = _none_entry(table, numerical_output)
    builder = _Builder(label, out_space)
    if numerical_output:
        shift = 0.0 if none_to is None else float(none_to)
        scaled = {d: float(_output(out_space, y, True, label)[out_space[0]]) - shift
                  for d, y in image.items()}
        for key, sign in (("+", 1.0), ("-", -1.0)):
            builder.unit({d: sign * c for d, c in scaled.items() if sign * c > 0}, 0.0,
                         {out_space[0]: sign}, key)
        builder.start({out_space[0]: shift})
        return builder.build(in_space, [{d: 1.0} for d in in_space] + [{}])
    if none_to is not None:
        builder.unit({d: -1.0 for d, y in image.items() if y != none_to}, 1.0,
                     _output(out_space, none_to, False, label), "none")
    targets = {y for y in image.values() if y is not None and y != none_to}
    for y in sorted_values(targets):
        builder.unit({d: 1.0 for d, v in image.items() if v == y}, 0.0,
                     _output(out_space, y, False, label), ("value", y))
    return builder.build(in_space)


def direct_lookup_error(table: Mapping[Any, Any], in_error: float,
                        numerical_output: bool) -> float:
    """The output error of `direct_lookup_mlp` for an input within l1 `in_error` of a
    one-hot (without float32 rounding, which the numerical block estimates)."""
    if in_error == 0:
        return 0.0
    if not numerical_output:
        return in_error * (2 if _none_entry(table, False) is not None else 1)
    shift = _none_entry(table, True) or 0.0
    return in_error * max((abs(float(y or 0.0) - float(shift)) for k, y in table.items()
                           if k is not None), default=0.0)


def map_categorical_to_numerical_mlp(in_space: Space, out_space: Space,
                                     table: Mapping[Any, Any], label: str = "map") -> MLPBlock:
    """Categorical -> numerical: `map_categorical_mlp` writing the number y on the single
    output direction (negative values included; None is refused: a numerical s-op has no
    None). The zero input writes 0."""
    return map_categorical_mlp(in_space, out_space, table, label, numerical_output=True)


def _best_split(xs: list[float], ts: np.ndarray, weights: np.ndarray) -> int:
    """The index m such that the steps k < m are mirrored (active below their threshold t_k)
    and the steps k >= m rise (active above t_k), with the least worst-case activation mass
    max_j sum_{k active at x_j} weights_k |x_j - t_k|: at an input only the thresholds
    between it and the split are active. The mass bounds the float32 error of the output."""
    n_steps = len(ts)
    if n_steps == 0:
        return 0
    x = np.asarray(xs, dtype=np.float64)
    worst = np.zeros(n_steps + 1)
    for lo in range(0, len(x), 256):
        d = x[lo:lo + 256, None] - ts[None, :]
        zero = np.zeros((len(d), 1))
        fall = np.concatenate([zero, np.cumsum(weights * np.maximum(-d, 0), axis=1)], axis=1)
        rise = np.concatenate(
            [np.cumsum((weights * np.maximum(d, 0))[:, ::-1], axis=1)[:, ::-1], zero], axis=1)
        worst = np.maximum(worst, (fall + rise).max(axis=0))
    return int(np.argmin(worst))


def _discretising(in_dir: Direction, out_space: Space, table: Mapping[float, Any],
                  input_error: float, numerical_output: bool, label: str) -> MLPBlock:
    _check_numerical_out(out_space, numerical_output)
    keys = sorted(table, key=float)
    xs = [float(x) for x in keys]
    if len(set(xs)) != len(xs):
        raise ValueError("the input values of a numerical map must be distinct numbers")
    outs = [_output(out_space, table[x], numerical_output, label) for x in keys]
    builder = _Builder(label, out_space)
    if not xs:
        return builder.build(Space.of(in_dir))
    steps = []  # (threshold, slope, output change)
    for k in range(1, len(xs)):
        delta = {d: outs[k].get(d, 0.0) - outs[k - 1].get(d, 0.0)
                 for d in {**outs[k], **outs[k - 1]}}
        delta = {d: c for d, c in delta.items() if c != 0}
        if delta:
            lam = ramp_slope(xs[k] - xs[k - 1], input_error, label)
            steps.append(((xs[k] + xs[k - 1]) / 2, lam, delta))
    ts = np.array([t for t, _, _ in steps])
    weights = np.array([lam * sum(abs(c) for c in delta.values()) for _, lam, delta in steps])
    split = _best_split(xs, ts, weights)
    constant = dict(outs[0])
    for k, (t, lam, delta) in enumerate(steps):
        if k >= split:
            builder.ramp({in_dir: lam}, -lam * t, delta)
        else:  # step = 1 - (mirrored step in -a)
            for d, c in delta.items():
                constant[d] = constant.get(d, 0.0) + c
            builder.ramp({in_dir: -lam}, lam * t, {d: -c for d, c in delta.items()})
    builder.start(constant)
    probes = [{in_dir: x + e} for x in xs for e in (-input_error, 0.0, input_error)]
    return builder.build(Space.of(in_dir), probes)


def map_numerical_mlp(in_dir: Direction, out_dir: Direction, table: Mapping[float, float],
                      *, input_error: float, label: str = "map") -> MLPBlock:
    """Numerical -> numerical by discretising: x -> table[x] for the input values
    x_1 < ... < x_n (the table's keys), for inputs within `input_error` of one of them
    (required: the writer's error bound plus its float32 error; 0 only for exact inputs).

    Output = f(x_1) + sum_k (f(x_k) - f(x_{k-1})) step_k(x), step_k a ramp at the midpoint
    t_k = (x_{k-1} + x_k)/2 with slope lambda_k = 4/(gap_k - 2 delta) (`numerics.ramp_slope`,
    delta = `input_error`, gap_k = x_k - x_{k-1} >= the minimal gap d), a = lambda_k (x - t_k).
    Outputs may be any finite numbers, negative ones included: the steps carry signed
    differences, so there is no sign restriction (tracr issue #24). Steps with an unchanged
    output are left out.
    Margin: an input within delta of x_j is at least gap_k/2 - delta from every t_k, so
    |a| >= 2 and every step margin |a| - 1/2 >= 3/2; the output is then f(x_j) up to float
    rounding.
    Float32: a step far from its input has large activations that cancel in the output, so
    the rounding error grows with sum_k lambda_k |x - t_k| |f-change_k| (about n^2 |f-change|
    for n evenly spaced values). Steps below a split point are mirrored (1 - a step active
    below t_k) so only thresholds between the input and the split are active; the split
    minimises the worst case. The block's `float32_error` estimates the rest (about 1e-4 to
    1e-3 for a non-affine map over the ~1300 means at L = 64): an affine table belongs in
    `linear_mlp` (see `as_affine`), and a lowering that needs less error can go through a
    categorical intermediate (`map_numerical_to_categorical_mlp`, whose one-hot outputs
    each involve only two steps, then `map_categorical_to_numerical_mlp`).
    """
    return _discretising(in_dir, Space.of(out_dir), table, input_error, True, label)


def map_numerical_to_categorical_mlp(in_dir: Direction, out_space: Space,
                                     table: Mapping[float, Any], *, input_error: float,
                                     label: str = "map") -> MLPBlock:
    """Numerical -> categorical by discretising: as `map_numerical_mlp`, the steps writing
    e_{f(x_k)} - e_{f(x_{k-1})} (e_None = 0, so values mapping to None write nothing).
    Same margin: |a| >= 2 for inputs within `input_error` of a table key."""
    return _discretising(in_dir, out_space, table, input_error, False, label)


def sequence_map_mlp(in1_space: Space, in2_space: Space, out_space: Space,
                     table: Mapping[tuple[Any, Any], Any], label: str = "sequence_map",
                     numerical_output: bool = False, direct: bool = False,
                     margin: float = 0.0) -> MLPBlock:
    """Categorical x categorical -> categorical (or numerical): (x, y) -> table[(x, y)].

    One step per value pair (u, v) whose output is not None (non-zero if numerical), on
    z = x_u + y_v (2 when both hold, at most 1 otherwise): a = 2 z - 3, ideal +1 for the pair
    and <= -1 for any other; the step writes e_table[(u, v)]. A None operand (zero vector)
    leaves every z <= 1, so nothing is written (the evaluator's None).
    Margin: operands within l1 distances e1, e2 of one-hots move z by at most e1 + e2, so the
    step margin is >= 1/2 - 2 (e1 + e2) > 0 for e1 + e2 < 1/4. Hidden size 2 per pair.
    The operands must be different s-ops (a map of one s-op with itself is a `Map`).
    `direct=True` builds `direct_sequence_map_mlp` (one neuron per pair, with `margin`).
    """
    if direct:
        return direct_sequence_map_mlp(in1_space, in2_space, out_space, table, label,
                                       numerical_output, margin)
    builder = _Builder(label, out_space)
    for d1, d2, output in _pair_outputs(in1_space, in2_space, out_space, table, label,
                                        numerical_output):
        builder.ramp({d1: 2.0, d2: 2.0}, -3.0, output)
    probes = [{d1: 1.0, d2: 1.0} for d1 in in1_space for d2 in in2_space]
    return builder.build(join(in1_space, in2_space), probes)


def _pair_outputs(in1_space: Space, in2_space: Space, out_space: Space,
                  table: Mapping[tuple[Any, Any], Any], label: str,
                  numerical_output: bool
                  ) -> Iterator[tuple[Direction, Direction, dict[Direction, float]]]:
    """(d1, d2, output coefficients) of each value pair a sequence map writes (categorical:
    those whose value is not None), after checking the spaces."""
    _check_numerical_out(out_space, numerical_output)
    if set(in1_space) & set(in2_space):
        raise ValueError("the operands of a sequence map must have disjoint spaces")
    for d1 in in1_space:
        for d2 in in2_space:
            y = _lookup(table, (d1.value, d2.value), label)
            if y is not None or numerical_output:
                yield d1, d2, _output(out_space, y, numerical_output, label)


def direct_sequence_map_mlp(in1_space: Space, in2_space: Space, out_space: Space,
                            table: Mapping[tuple[Any, Any], Any],
                            label: str = "sequence_map",
                            numerical_output: bool = False, margin: float = 0.0) -> MLPBlock:
    """Categorical x categorical map without snapping: one neuron relu(x_u + y_v - (1 +
    margin) g) per value pair (u, v) whose output is not None (non-zero if numerical),
    writing e_table[(u, v)] (or the number), as tracr builds it (its width or less).

    At exact one-hots (and margin 0) the pre-activation is 1 for the pair held and <= 0 for
    every other, so the output is exact (a None operand leaves every neuron at <= 0: nothing
    written). Error (`direct_sequence_map_error`), for operands e_u + d1, e_v + d2 within l1
    e1, e2 whose coordinates exceed 1 by at most o1, o2, M the largest output norm (1
    categorical, max |f| numerical):
    - relu is 1-Lipschitz, so the neuron of (u', v') moves by at most |d1_u'| + |d2_v'| (and
      the held pair's by the margin too): M (n2 e1 + n1 e2 + margin) over the pairs, n1, n2
      the operands' numbers of values;
    - or, for e1 + e2 < 1: the held pair moves by |d1_u| + |d2_v| + margin; a pair (u, v')
      with v' != v has x_u + y_v' - 1 - margin <= (o1 - margin) + |d2_v'|, a pair (u', v)
      likewise, and the others stay below 0: M (e1 + e2 + margin + n2 relu(o1 - margin) +
      n1 relu(o2 - margin)) (n, not n - 1: a None operand has no held value). A margin of
      max(o1, o2) leaves M (e1 + e2 + margin): a softmax average of one-hots exceeds 1 by
      its float32 rounding only, so the operands' errors are no longer multiplied by n.
    """
    builder = _Builder(label, out_space)
    for d1, d2, output in _pair_outputs(in1_space, in2_space, out_space, table, label,
                                        numerical_output):
        builder.unit({d1: 1.0, d2: 1.0}, -1.0 - margin, output, (d1.value, d2.value))
    probes = [{d1: 1.0, d2: 1.0} for d1 in in1_space for d2 in in2_space]
    return builder.build(join(in1_space, in2_space), probes if numerical_output else None)


def direct_sequence_map_error(table: Mapping[tuple[Any, Any], Any], sizes: tuple[int, int],
                              errors: tuple[float, float], numerical_output: bool,
                              excesses: tuple[float, float] | None = None,
                              margin: float = 0.0) -> float:
    """The output error of `direct_sequence_map_mlp` (with `margin`) for operands within l1
    `errors` of one-hots whose coordinates exceed 1 by at most `excesses` (default: their
    errors), with `sizes` values (without float32 rounding): the smaller of its two bounds."""
    (n1, n2), (e1, e2) = sizes, errors
    if e1 == 0 and e2 == 0 and margin == 0:
        return 0.0
    scale = max((abs(float(y)) for y in table.values() if y is not None),
                default=0.0) if numerical_output else 1.0
    bound = n2 * e1 + n1 * e2
    if e1 + e2 < 1:
        o1, o2 = (min(o, e) for o, e in zip(excesses or errors, errors))
        bound = min(bound, e1 + e2 + n2 * max(o1 - margin, 0.0) + n1 * max(o2 - margin, 0.0))
    return scale * (bound + margin)


def linear_mlp(coefficients: Coefficients, out_dir: Direction, constant: float = 0.0,
               label: str = "linear") -> MLPBlock:
    """Numerical affine map out = sum_d c_d x_d + constant, exactly: two neurons
    relu(c.x) - relu(-c.x) and a gated `start` neuron for the constant, so the BOS position
    (zero inputs) gets zero. Input errors pass through scaled by the coefficients."""
    builder = _Builder(label, Space.of(out_dir))
    coefficients = {d: float(c) for d, c in coefficients.items()}
    builder.linear(coefficients, {out_dir: 1.0})
    builder.start({out_dir: float(constant)})
    return builder.build(Space(tuple(coefficients)))


def as_affine(table: Mapping[float, Any], rel_tol: float = 1e-12) -> tuple[float, float] | None:
    """(alpha, beta) if table[x] == alpha x + beta on every key (to `rel_tol` of the output
    scale), else None. An affine numerical map should use `linear_mlp`: exact, 3 neurons, no
    float32 cancellation (a discretising MLP over many values has some)."""
    try:
        items = sorted((float(x), float(y)) for x, y in table.items())
    except (TypeError, ValueError):
        return None
    if not items:
        return None
    if len(items) == 1:
        return 0.0, items[0][1]
    (x0, y0), (x1, y1) = items[0], items[-1]
    alpha = (y1 - y0) / (x1 - x0)
    beta = y0 - alpha * x0
    scale = max(max(abs(y) for _, y in items), abs(alpha) * max(abs(x) for x, _ in items), 1.0)
    if all(abs(alpha * x + beta - y) <= rel_tol * scale for x, y in items):
        return alpha, beta
    return None


def linear_sequence_map_mlp(in1_dir: Direction, in2_dir: Direction, out_dir: Direction,
                            fst_fac: float, snd_fac: float,
                            label: str = "linear_sequence_map") -> MLPBlock:
    """LinearSequenceMap: out = fst_fac x + snd_fac y, exact (`linear_mlp`). The same s-op
    twice is allowed (its factors add)."""
    coefficients: dict[Direction, float] = {in1_dir: float(fst_fac)}
    coefficients[in2_dir] = coefficients.get(in2_dir, 0.0) + float(snd_fac)
    return linear_mlp(coefficients, out_dir, label=label)


def constant_mlp(out_space: Space, value: Any, label: str = "full",
                 numerical_output: bool = False) -> MLPBlock:
    """Full(value): one neuron relu(ONE - BOS) writing e_value (or the number), zero at BOS."""
    _check_numerical_out(out_space, numerical_output)
    builder = _Builder(label, out_space)
    builder.start(_output(out_space, value, numerical_output, label))
    return builder.build(Space.of(ONE, BOS))

