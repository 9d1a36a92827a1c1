"""Margin arithmetic: the constants of every craft block, derived from value sets and L.

Notation: L = max_seq_len (keys other than BOS), s = softmax scale, lambda = ramp slope.

Error model (what a block may assume about its inputs and must guarantee about its output):
- A categorical s-op holding value v is a vector x with ||x - e_v||_1 <= eps (e_None = 0).
  MLP readers snap their input (ramps, below) and are exact for eps <= 1/4.
- A numerical s-op holding value v is a number within delta of v; a discretising reader is
  told delta and must have delta < gap / 2 around each threshold.
- MLP outputs are exact up to float rounding. Attention outputs carry the softmax leakage
  bounded here; only attention introduces error.

Attention score levels (a selector made of m conjunctive terms, scale s per term):
selected keys score m*s, unselected keys at most (m-1)*s, BOS (m - 1/2)*s in an aggregate
(so it wins only when nothing is selected) and m*s in a selector width (always attended).

Ramps: a hidden pair relu(a + 1/2) - relu(a - 1/2) is a step: 0 for a <= -1/2, 1 for
a >= +1/2. Every thresholded MLP decision is such a step, and its margin is |a| - 1/2: the
distance of the pre-decoding quantity to the nearest edge of the ramp (> 0 means exact).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

from tracr_ir.errors import UnsupportedProgramError

#: float32 unit roundoff.
FLOAT32_UNIT = 2.0 ** -24

#: ||x - e_v||_1 a categorical MLP reader tolerates (its ramps sit at z = 1/4 and 3/4).
CATEGORICAL_READ_TOLERANCE = 0.25

# Below this the bound (L+2) e^{-s/2} is not valid (it needs e^{-s/2} <= 1/2).
_MIN_SCALE = 2 * math.log(2.0)


def min_gap(values: Iterable[float]) -> float:
    """The smallest distance between two distinct values (inf for fewer than two)."""
    xs = sorted(set(float(v) for v in values))
    return min((b - a for a, b in zip(xs, xs[1:])), default=math.inf)


def softmax_float32_error(max_seq_len: int, magnitude: float = 1.0) -> float:
    """Rounding error of a float32 softmax average of L + 1 values of size <= M: the weights
    and the weighted sum each round at ~u per term and level of summation; we allow
    M u (4 + log2(L + 1)). (The normaliser near 1 alone has resolution 2^-23.)"""
    return FLOAT32_UNIT * magnitude * (4 + math.log2(max_seq_len + 1))


def attention_error_bound(max_seq_len: int, scale: float, magnitude: float = 1.0,
                          score_noise: float = 0.0, equal_values: bool = False) -> float:
    """Bound on |output - ideal| of an aggregate head (numerical mean, or the l1 norm of the
    error of a categorical output whose values have l1 norm <= `magnitude`).

    With w >= 1 selected keys (scores S +- D), BOS at S - s/2 and u <= L unselected keys
    at most S - s, the weight off the selected keys is 1 - A <= e^{-(s/2-2D)} + L e^{-(s-2D)},
    and the output error is at most 2 M (1 - A) <= M (L+2) e^{-(s/2-2D)} (using e^{-s/2} <= 1/2).
    With nothing selected BOS (value 0) gets all but L e^{-(s/2-2D)} of the weight. Unequal
    scores among the selected keys (noise D > 0) reweight them by at most e^{2D}, which moves
    a mean by at most M (e^{2D} - 1); an aggregate whose selected values are all equal
    (`equal_values`, e.g. categorical) is not affected by that. Plus float32 rounding
    (`softmax_float32_error`).
    """
    gap = scale / 2 - 2 * score_noise
    if gap < _MIN_SCALE / 2:
        return math.inf
    bound = magnitude * (max_seq_len + 2) * math.exp(-gap)
    if not equal_values:
        bound += magnitude * math.expm1(2 * score_noise)
    return bound + softmax_float32_error(max_seq_len, magnitude)


def attention_scale(max_seq_len: int, tolerance: float, magnitude: float = 1.0,
                    noise_per_scale: float = 0.0, equal_values: bool = False,
                    label: str | None = None) -> float:
    """The smallest scale s whose `attention_error_bound` is <= `tolerance`.

    Without noise: s = 2 ln(M (L+2) / (tolerance - float32 rounding)). `noise_per_scale` is
    c in D = c * s (the score noise grows with the scale: see `score_noise`); then s is found
    by search.
    """
    room = tolerance - softmax_float32_error(max_seq_len, magnitude)
    if room <= 0:
        raise UnsupportedProgramError(
            f"tolerance {tolerance:g} is below float32 rounding of a softmax over "
            f"{max_seq_len + 1} positions", label)
    # The nudge keeps the bound strictly inside the tolerance despite rounding. A ratio that
    # underflows to 0 (a huge tolerance) needs no more than the minimal scale.
    ratio = magnitude * (max_seq_len + 2) / room
    s = max(2 * math.log(ratio) if ratio > 0 else _MIN_SCALE, _MIN_SCALE) + 1e-9
    if noise_per_scale == 0.0 or magnitude == 0.0:
        return s
    # error(s) decreases while the leakage term dominates; step up until it fits or grows.
    best = attention_error_bound(max_seq_len, s, magnitude, noise_per_scale * s, equal_values)
    while best > tolerance:
        s2 = s * 1.01
        e2 = attention_error_bound(max_seq_len, s2, magnitude, noise_per_scale * s2,
                                   equal_values)
        if e2 >= best:
            raise UnsupportedProgramError(
                f"no attention scale reaches tolerance {tolerance:g}: the query/key inputs "
                f"are too noisy ({noise_per_scale:g} per unit of scale)", label)
        s, best = s2, e2
    return s


def score_noise(scale: float, n_terms: int, query_l1_error: float, key_l1_error: float) -> float:
    """Bound on |score - ideal| when the query and key one-hots carry l1 errors: each term's
    table has entries in {0, scale}, so q^T W k moves by at most
    scale (e_q + e_k + e_q e_k) per term."""
    return scale * n_terms * (query_l1_error + key_l1_error + query_l1_error * key_l1_error)


def selector_width_scale(max_seq_len: int) -> float:
    """s = ln(8 L (L+1) (L+2)): the share error L e^{-s} is then 1/(8 (L+1)(L+2)), an eighth
    of g = 1/((L+1)(L+2)), a lower bound on the gap between the shares 1/(w+1) of widths
    w in 0..L (about 14.6 at L = 64; the true smallest gap, between 1/L and 1/(L+1), is
    1/(L(L+1))). float32 rounding adds ~1e-6 at most, well inside g/8 up to L ~ 250."""
    L = max_seq_len
    return math.log(8.0 * L * (L + 1) * (L + 2))


def share_error_bound(max_seq_len: int, scale: float, score_noise: float = 0.0) -> float:
    """Bound on |BOS share - 1/(w+1)| in a selector-width head.

    Selected keys and BOS score S, the u <= L unselected keys at most S - s:
    1/(w+1) - share = u e^{-s} / ((w+1)(w+1+u e^{-s})) <= L e^{-s}. Score noise D on the
    selected keys (BOS's score is exact) moves the share by at most (e^{2D} - 1)/4 more and
    the leakage gap shrinks to s - 2D. Plus float32 rounding (`softmax_float32_error`).
    """
    return (max_seq_len * math.exp(-(scale - 2 * score_noise)) + math.expm1(2 * score_noise) / 4
            + softmax_float32_error(max_seq_len))


def ramp_slope(gap: float, input_error: float, label: str | None = None) -> float:
    """lambda = 4 / (gap - 2 delta) for a threshold at the midpoint of two values `gap` apart,
    inputs within `input_error` = delta of their value.

    An input is at least gap/2 - delta from the threshold, so |a| = lambda |x - t| >= 2: the
    ramp edge (|a| = 1/2) is four times closer to the threshold than any input, margin >= 3/2.
    With delta = 0 this is lambda = 4 / gap.
    """
    if not gap > 2 * input_error:
        raise UnsupportedProgramError(
            f"input error {input_error:g} is not below half the gap {gap:g} between "
            f"neighbouring values: the values cannot be told apart", label)
    return 4.0 / (gap - 2 * input_error)


def fractions(max_seq_len: int) -> list[float]:
    """The means k/n (0 <= k <= n, 1 <= n <= L) of 0/1 values, sorted, as floats; distinct
    ones are at least 1/(L(L-1)) apart."""
    fs = {Fraction(k, n) for n in range(1, max_seq_len + 1) for k in range(n + 1)}
    return [float(f) for f in sorted(fs)]


def shares(widths: Iterable[int]) -> dict[float, int]:
    """The BOS share 1/(w+1) of each width w."""
    return {1.0 / (w + 1): w for w in sorted(set(widths))}


def float32_error_estimate(mass: float) -> float:
    """Estimated float32 error of an MLP output whose hidden activations times output weights
    sum (in absolute value) to `mass` (`blocks.activation_mass`): each active neuron is
    rounded at ~u |a| and the output sum accumulates ~u * mass. Measured errors stay below
    5 u * mass (blocked summation); this returns 8 u * mass. An estimate, not a proof: it
    depends on the summation order of the backend's matmul."""
    return 8 * FLOAT32_UNIT * mass
