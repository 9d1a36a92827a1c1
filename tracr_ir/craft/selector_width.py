"""SelectorWidth: an attention head that measures BOS's share, then a decoding MLP.

Attention. The selector's terms (see `attention`) score the selected keys m s, the others at
most (m - 1) s, and BOS gets m s too (always attended, same level). The head copies the BOS
coordinate of the keys into a scratch direction `<label>_share`, so a query that selects w
keys reads 1/(w+1), w in 0..L.

Constants (derived in docs/exactness.md). Neighbouring shares differ by
1/((w+1)(w+2)) >= g = 1/((L+1)(L+2)).
With s = ln(8 L (L+1)(L+2)) (`numerics.selector_width_scale`, 14.6 at L = 64) the u <= L
unselected keys move the share by at most L e^{-s} = g/8 (`numerics.share_error_bound`;
proof: 1/(w+1) - share = u e^{-s}/((w+1)(w+1+u e^{-s})) <= u e^{-s}). The MLP is
`mlp.map_numerical_to_categorical_mlp` (or `map_numerical_mlp`) over the shares with
input_error delta = that bound: thresholds at the midpoints, slopes
lambda_k = 4/(gap_k - 2 delta) >= 4/g (17,000 at L = 64), so every step margin is >= 3/2.
float32 resolves shares near 1/65 to ~1e-9, far inside g/8 ~ 3e-5.

BOS. The MLP's constants are gated by ONE - BOS, so it writes nothing at the BOS position
(tracr needs an extra cleaning neuron for that). The scratch direction holds the share at
every position, BOS included; only this block reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tracr_ir.craft.attention import SelectorTerm, selector_qk
from tracr_ir.craft.bases import BOS, Direction, Space
from tracr_ir.craft.blocks import AttentionHead, SelectorWidthBlock
from tracr_ir.craft.mlp import map_numerical_mlp, map_numerical_to_categorical_mlp
from tracr_ir.craft.numerics import score_noise, selector_width_scale, share_error_bound, shares
from tracr_ir.errors import UnsupportedProgramError


def share_direction(label: str) -> Direction:
    return Direction(f"{label}_share")


def selector_width(terms: Sequence[SelectorTerm], out_space: Space, max_seq_len: int,
                   numerical_output: bool = False, widths: Iterable[int] | None = None,
                   query_l1_error: float = 0.0, key_l1_error: float = 0.0,
                   label: str = "selector_width") -> SelectorWidthBlock:
    """The number of keys each query selects, categorical (out_space = one direction per width
    value) or numerical (one direction). `widths` defaults to 0..L (the categorical output's
    values if given that way).

    Noisy query/key inputs (l1 errors from earlier heads) shift selected scores by
    D = s m (e_q + e_k + e_q e_k); the decoding MLP's input error becomes
    L e^{-(s-2D)} + (e^{2D} - 1)/4, refused if it reaches half a gap.
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
    scale = selector_width_scale(L)
    m = len(terms)
    query_space, key_space, w_qk = selector_qk(terms, scale, m * scale)
    share = share_direction(label)
    attention = AttentionHead(query_space, key_space, Space.of(BOS), Space.of(share), w_qk,
                              np.ones((1, 1)), f"{label}_attn")
    noise = score_noise(scale, m, query_l1_error, key_l1_error)
    delta = share_error_bound(L, scale, noise)
    table = shares(widths)
    if numerical_output:
        mlp = map_numerical_mlp(share, out_space[0], table, input_error=delta,
                                label=f"{label}_mlp")
    else:
        mlp = map_numerical_to_categorical_mlp(share, out_space, table, input_error=delta,
                                               label=f"{label}_mlp")
    return SelectorWidthBlock(attention, mlp, label)
