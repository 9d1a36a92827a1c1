"""SelectorWidth: an attention head that measures BOS's share, then a decoding MLP.

Attention. The selector's terms (see `attention`) score the selected keys m s, the others at
most (m - 1) s, and BOS gets m s too (always attended, same level). The head copies the BOS
coordinate of the keys into a scratch direction `<label>_share`, so a query that selects w
keys reads 1/(w+1), w in 0..L. Two decoders follow (derived in docs/exactness.md):

Snapped (default). Neighbouring shares differ by 1/((w+1)(w+2)) >= g = 1/((L+1)(L+2)).
With s = ln(8 L (L+1)(L+2)) (`numerics.selector_width_scale`, 14.6 at L = 64) the u <= L
unselected keys move the share by at most L e^{-s} = g/8 (`numerics.share_error_bound`;
proof: 1/(w+1) - share = u e^{-s}/((w+1)(w+1+u e^{-s})) <= u e^{-s}). The MLP is
`mlp.map_numerical_to_categorical_mlp` (or `map_numerical_mlp`) over the shares with
input_error delta = that bound: thresholds at the midpoints, slopes
lambda_k = 4/(gap_k - 2 delta) >= 4/g (17,000 at L = 64), so every step margin is >= 3/2.
Its numerical output cancels activations of ~lambda_k |x - t_k|: about L^2 in all, so its
float32 error (2.7e-3 at L = 64) misses a program output's 5e-5 from L = 10 on.

Direct (numerical output, `direct=True`). With bit-exact query/key one-hots and s a power of
two (`exact_share_scale`: L e^{-s} <= 2^-26; 32 up to L ~ 10^6) every score is an exact
float32 number: the selected keys and BOS score exactly the row's maximum, so each
contributes exp(0) = 1, and the unselected keys at most e^{-s} each. A float32 sum of w + 1
ones and of at most L numbers summing below 2^-26 is exactly w + 1 in any order (a partial
sum holding a one is an integer, and adding less than half its ulp 2^-24 leaves it), so the
share is fl(1/(w+1)), within u/(w+1) of 1/(w+1) (u = 2^-24); in exact arithmetic the leakage
moves it by at most L e^{-s}/(w+1)^2 <= 2^-26/(w+1). The MLP (`interpolating_width_mlp`)
is the piecewise-linear interpolant of x -> 1/x - 1 through the widths' float32 shares: it is
convex, so it is a sum of relu(t_k - x) with non-negative output weights, one hidden unit per
width but the last (plus one for a constant if the least width is not 0): nothing cancels,
the activation mass at width w is w, and the float32 estimate 8 u w stays below the program
output's tolerance max(5e-5, 1e-6 w) at every L. Its error bound is the interpolant's
largest deviation, in float64 with the float32 weights, over shares within 2u/(w+1) of each
fl(1/(w+1)) (slopes there (w+1)(w+2): about 2 (w+2) u) plus that float32 estimate.
The queries and keys must be float32-exact one-hots (tolerance 0, not `tolerances.EXACT`,
and written by exact lookups: `craft_exactness.inexact_writer`): a score moved by D moves the
share by ~2D/(w+1) and the output by ~2 (w+2) D.

BOS. The MLP's constants are gated by ONE - BOS, so it writes nothing at the BOS position
(tracr needs an extra cleaning neuron for that). The scratch direction holds the share at
every position, BOS included; only this block reads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from tracr_ir.craft.attention import SelectorTerm, selector_qk
from tracr_ir.craft.bases import BOS, ONE, Direction, Space
from tracr_ir.craft.blocks import AttentionHead, MLPBlock, SelectorWidthBlock, activation_mass
from tracr_ir.craft.mlp import map_numerical_mlp, map_numerical_to_categorical_mlp
from tracr_ir.craft.numerics import (
    FLOAT32_UNIT,
    float32_error_estimate,
    score_noise,
    selector_width_scale,
    share_error_bound,
    shares,
)
from tracr_ir.errors import UnsupportedProgramError

#: The leakage of a direct head, L e^{-s}, is at most this (a quarter of the half ulp of 1).
DIRECT_LEAKAGE = 2.0 ** -26


def share_direction(label: str) -> Direction:
    return Direction(f"{label}_share")


def exact_share_scale(max_seq_len: int) -> float:
    """The smallest power of two s with L e^{-s} <= 2^-26 (`DIRECT_LEAKAGE`): a power of two
    keeps every score (a small integer times s) an exact float32 number."""
    need = math.log(max(max_seq_len, 1) / DIRECT_LEAKAGE)
    return 2.0 ** math.ceil(math.log2(need))


def direct_share_error(width: int) -> float:
    """How far the share of a direct head may be from fl(1/(w+1)): u/(w+1) float32
    rounding of the division plus 2^-26/(w+1) leakage (exact arithmetic), and the same again
    for a float64 evaluation; 2u/(w+1) covers it all."""
    return 2 * FLOAT32_UNIT / (width + 1)


def selector_width(terms: Sequence[SelectorTerm], out_space: Space, max_seq_len: int,
                   numerical_output: bool = False, widths: Iterable[int] | None = None,
                   query_l1_error: float = 0.0, key_l1_error: float = 0.0,
                   label: str = "selector_width", direct: bool = False) -> SelectorWidthBlock:
    """The number of keys each query selects, categorical (out_space = one direction per width
    value) or numerical (one direction). `widths` defaults to 0..L (the categorical output's
    values if given that way).

    Noisy query/key inputs (l1 errors from earlier heads) shift selected scores by
    D = s m (e_q + e_k + e_q e_k); the snapped decoder's input error becomes
    L e^{-(s-2D)} + (e^{2D} - 1)/4, refused if it reaches half a gap. `direct=True` (numerical
    output, exact queries and keys only) builds the interpolating decoder (module docstring).
    """
    L = max_seq_len
    if widths is None:
        widths = range(L + 1) if numerical_output else [d.value for d in out_space]
    widths = sorted(set(int(w) for w in widths))
    if not widths:
        raise UnsupportedProgramError("a selector width needs at least one possible width",
                                      label)
    if widths[0] < 0 or widths[-1] > L:
        raise ValueError(f"widths must lie in 0..{L}, got {widths}")
    if direct and not numerical_output:
        raise ValueError("a direct selector width has a numerical output")
    if direct and (query_l1_error or key_l1_error):
        raise UnsupportedProgramError(
            "a direct selector width needs exact queries and keys (its share is decoded "
            "without snapping)", label)
    scale = exact_share_scale(L) if direct else selector_width_scale(L)
    m = len(terms)
    query_space, key_space, w_qk = selector_qk(terms, scale, m * scale)
    share = share_direction(label)
    attention = AttentionHead(query_space, key_space, Space.of(BOS), Space.of(share), w_qk,
                              np.ones((1, 1)), f"{label}_attn")
    if direct:
        mlp = interpolating_width_mlp(share, out_space[0], widths, f"{label}_mlp")
        return SelectorWidthBlock(attention, mlp, label)
    delta = share_error_bound(L, scale, score_noise(scale, m, query_l1_error, key_l1_error))
    table = shares(widths)
    if numerical_output:
        mlp = map_numerical_mlp(share, out_space[0], table, input_error=delta,
                                label=f"{label}_mlp")
    else:
        mlp = map_numerical_to_categorical_mlp(share, out_space, table, input_error=delta,
                                               label=f"{label}_mlp")
    return SelectorWidthBlock(attention, mlp, label)


def snapped_share_error(max_seq_len: int, n_terms: int, term_error: float) -> float:
    """How far the snapped decoder's share may be from 1/(w+1) when the `n_terms` terms'
    keys and queries carry l1 error `term_error` (`numerics.share_error_bound`)."""
    scale = selector_width_scale(max_seq_len)
    return share_error_bound(max_seq_len, scale,
                             score_noise(scale, n_terms, term_error, term_error))


def noisy_term_tolerance(max_seq_len: int, n_terms: int) -> float:
    """The largest l1 error of the keys and queries of a snapped selector width for which
    its share stays within a quarter of the least gap g = 1/((L+1)(L+2)) (g/8 and float32
    rounding without noise): score noise D = s m (2e + e^2) <= 3 s m e (e <= 1), with the
    largest D meeting the bound found by bisection; so within a factor 3/2 of the largest e."""
    L, scale = max_seq_len, selector_width_scale(max_seq_len)
    target = 1 / (4 * (L + 1) * (L + 2))
    low, high = 0.0, scale
    if share_error_bound(L, scale) >= target:
        return 0.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if share_error_bound(L, scale, mid) <= target else (low, mid)
    return low / (3 * scale * max(n_terms, 1))


def interpolating_width_mlp(share: Direction, out_dir: Direction, widths: Sequence[int],
                            label: str = "selector_width_mlp") -> MLPBlock:
    """x -> the width w whose share fl(1/(w+1)) x is, for the sorted `widths` w_0 < ... < w_n:
    the interpolant f(x) = w_0 + sum_{k<n} c_k relu(t_k g - x) through (t_k, w_k),
    t_k = fl(1/(w_k+1)) (float32), g = ONE - BOS, c_k = sigma_k - sigma_{k-1} with
    sigma_k = (w_{k+1} - w_k) / (t_k - t_{k+1}) the slope below t_k (sigma_{-1} = 0).
    1/x - 1 is convex, so the c_k are positive; the output weights are rounded to float32.
    At BOS (g = 0, x >= 0) every unit is off: it writes 0 there.

    `float32_error` = the largest |f - w| over shares within `direct_share_error(w)` of t_w
    (f is linear on each side of t_w there, so its ends and t_w bound it; in float64 with the
    float32 weights) plus `numerics.float32_error_estimate` of the activation mass (w at t_w:
    nothing cancels).
    """
    ws = sorted(set(int(w) for w in widths))
    ts = [float(np.float32(1.0 / (w + 1))) for w in ws]
    slopes = [(b - a) / (ta - tb) for a, b, ta, tb in zip(ws, ws[1:], ts, ts[1:])]
    coefficients = [float(np.float32(s - p)) for s, p in zip(slopes, [0.0, *slopes])]
    if any(not c > 0 for c in coefficients):
        raise ValueError(f"{label}: the shares' interpolant is not convex")
    hidden = [Direction(f"{label}_hidden", k) for k in range(len(coefficients))]
    units = [({share: -1.0, ONE: t, BOS: -t}, c) for t, c in zip(ts, coefficients)]
    if ws[0]:
        hidden.append(Direction(f"{label}_hidden", "start"))
        units.append(({ONE: 1.0, BOS: -1.0}, float(ws[0])))
    in_space, hidden_space = Space.of(share, ONE, BOS), Space(tuple(hidden))
    w1, w2 = np.zeros((len(in_space), len(units))), np.zeros((len(units), 1))
    for j, (w_in, c) in enumerate(units):
        for d, a in w_in.items():
            w1[in_space.index(d), j] = np.float32(a)
        w2[j, 0] = c
    out_space = Space.of(out_dir)
    block = MLPBlock(in_space, hidden_space, out_space, w1, w2, (), label)
    probes, deviation = [], 0.0
    for w, t in zip(ws, ts):
        e = direct_share_error(w)
        xs = np.array([[x, 1.0, 0.0] for x in (t - e, t, t + e)])
        out = np.maximum(xs @ block.w1, 0.0) @ block.w2
        deviation = max(deviation, float(np.abs(out[:, 0] - w).max()))
        probes.append(xs[1])
    error = deviation + float32_error_estimate(activation_mass(block, np.array(probes)))
    return MLPBlock(in_space, hidden_space, out_space, w1, w2, (), label, error)
