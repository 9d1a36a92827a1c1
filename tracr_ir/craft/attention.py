"""Attention constructions: categorical and numerical Aggregate, and the selectors they use.

Selectors. A head's score is bilinear in (query vector, key vector). A selector is given as a
conjunction of m `SelectorTerm`s, each a boolean table over (query value, key value) of one
query s-op and one key s-op; the score of a key is s * (number of terms that hold), so
selected keys (all terms hold) score m s and every other key at most (m - 1) s.
- `Select(keys, queries, pred)`: one term, table[q, k] = pred(k, q).
- `SelectorNot(Select)`: one term with the negated table.
- `SelectorAnd`: the terms of both sides, even over different s-ops (scores add).
- `SelectorOr`, and a Not of an And/Or: the selected keys would score unequally (1 or 2
  terms hold), which skews means and widths, and a product of predicates over different
  s-ops is not bilinear in their one-hots. The lowering therefore first builds the product
  s-ops it needs with `mlp.sequence_map_mlp` (e.g. keys (k1, k2) and queries (q1, q2), tuple
  values), one MLP layer earlier, and selects with a single term whose table is the whole
  boolean formula over the product values. Every composite selector thus compiles exactly;
  pure conjunctions of literals need no extra layer. (tracr refuses these: its issue #4.)

BOS. Position 0 is attended with score (m - 1/2) s through the (ONE, BOS) entry: it wins only
when nothing is selected, and its value is zero, so an empty selection yields the zero vector
(None for categorical, 0 for numerical: the default must be None / 0). A (BOS, BOS) entry of
s makes the BOS query attend to itself, keeping the BOS position clean.

Scale. s = `numerics.attention_scale(L, tolerance, ...)`: the smallest s whose leakage bound
M (L+2) e^{-s/2} (plus the effect of noisy query/key inputs) is within the tolerance the
output's readers accept (1/4 in l1 for categorical MLP readers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracr_ir.craft.bases import BOS, ONE, Direction, Space, join
from tracr_ir.craft.blocks import AttentionHead
from tracr_ir.craft.numerics import attention_scale, score_noise


@dataclass(frozen=True, eq=False)
class SelectorTerm:
    """One conjunct: `table[i, j]` says whether query direction i selects key direction j."""

    query_space: Space
    key_space: Space
    table: np.ndarray

    def __post_init__(self) -> None:
        table = np.array(self.table, dtype=bool)
        if table.shape != (len(self.query_space), len(self.key_space)):
            raise ValueError(f"table shape {table.shape} does not match the spaces "
                             f"({len(self.query_space)}, {len(self.key_space)})")
        for d in (ONE, BOS):
            if d in self.query_space or d in self.key_space:
                raise ValueError(f"{d!r} is reserved and cannot be part of a selector term")
        table.setflags(write=False)
        object.__setattr__(self, "table", table)

    def negated(self) -> SelectorTerm:
        return SelectorTerm(self.query_space, self.key_space, ~self.table)


def select_term(query_space: Space, key_space: Space,
                predicate: Callable[[Any, Any], Any]) -> SelectorTerm:
    """The term of `Select(keys, queries, predicate)`: `predicate(key, query)` per value pair."""
    table = np.array([[bool(predicate(k.value, q.value)) for k in key_space]
                      for q in query_space], dtype=bool).reshape(len(query_space), len(key_space))
    return SelectorTerm(query_space, key_space, table)


_ORDERS = {"LT": np.less, "LEQ": np.less_equal, "GT": np.greater, "GEQ": np.greater_equal}


def _numbers(values: list[Any]) -> np.ndarray | None:
    """The values as float64, when that keeps their order exactly (bools and ints below 2^53
    and floats), else None."""
    if not all(type(v) in (bool, int, float) and (type(v) is float or abs(v) < 2 ** 53)
               for v in values):
        return None
    return np.array(values, dtype=np.float64)


def comparison_term(query_space: Space, key_space: Space, name: str,
                    negated: bool = False) -> SelectorTerm:
    """The term of `Select(keys, queries, Comparison[name])` (negated if asked), the same
    table as `select_term` with the comparison, built without calling it per pair where the
    values allow: EQ and NEQ by hashing the key values, orders on numbers by broadcasting."""
    from tracr_ir import rasp as rasp_front

    keys, queries = [d.value for d in key_space], [d.value for d in query_space]
    table: np.ndarray | None = None
    if name in ("TRUE", "FALSE"):
        table = np.full((len(queries), len(keys)), name == "TRUE")
    elif name in ("EQ", "NEQ") and None not in keys and None not in queries:
        table = np.zeros((len(queries), len(keys)), dtype=bool)
        by_value: dict[Any, list[int]] = {}
        for j, k in enumerate(keys):
            by_value.setdefault(k, []).append(j)
        for i, q in enumerate(queries):
            table[i, by_value.get(q, [])] = True
        if name == "NEQ":
            table = ~table
    elif name in _ORDERS and (k := _numbers(keys)) is not None and (
            q := _numbers(queries)) is not None:
        table = _ORDERS[name](k[None, :], q[:, None])
    if table is None:
        term = select_term(query_space, key_space, rasp_front.Comparison[name])
    else:
        term = SelectorTerm(query_space, key_space, table)
    return term.negated() if negated else term


def selector_qk(terms: Sequence[SelectorTerm], scale: float, bos_score: float
                ) -> tuple[Space, Space, np.ndarray]:
    """(query space, key space, W_QK) of a conjunction of terms: scale per holding term,
    `bos_score` for (ONE, BOS), `scale` for (BOS, BOS)."""
    if not terms:
        raise ValueError("a selector needs at least one term")
    query_space = join(*(t.query_space for t in terms), [ONE, BOS])
    key_space = join(*(t.key_space for t in terms), [BOS])
    w = np.zeros((len(query_space), len(key_space)))
    for t in terms:
        qi, ki = query_space.indices(t.query_space), key_space.indices(t.key_space)
        w[np.ix_(qi, ki)] += scale * t.table
    w[query_space.index(ONE), key_space.index(BOS)] += bos_score
    w[query_space.index(BOS), key_space.index(BOS)] += scale
    return query_space, key_space, w


def _noise_per_scale(terms: Sequence[SelectorTerm], query_l1_error: float,
                     key_l1_error: float) -> float:
    return score_noise(1.0, len(terms), query_l1_error, key_l1_error)


def categorical_attention(terms: Sequence[SelectorTerm], value_space: Space, out_space: Space,
                          max_seq_len: int, tolerance: float, query_l1_error: float = 0.0,
                          key_l1_error: float = 0.0, label: str = "aggregate"
                          ) -> AttentionHead:
    """Categorical Aggregate: the value of the selected key(s), None if none is selected.

    Valid when all selected keys of a query hold the same value (the lowering checks that the
    selector picks at most one position, or only equal values). W_OV maps the value
    direction (v_name, v) to (out_name, v).
    Margin: the output is within l1 distance (L+2) e^{-s/2} of the one-hot of the selected
    value (the zero vector when nothing is selected); s makes this <= `tolerance`.
    Query/key inputs with l1 errors (from earlier heads) shift scores by D <= s m (e_q + e_k
    + e_q e_k), which the scale accounts for (`numerics.attention_error_bound`).
    """
    scale = attention_scale(max_seq_len, tolerance, 1.0,
                            _noise_per_scale(terms, query_l1_error, key_l1_error),
                            equal_values=True, label=label)
    m = len(terms)
    query_space, key_space, w_qk = selector_qk(terms, scale, (m - 0.5) * scale)
    out_names = out_space.names
    if len(out_names) != 1:
        raise ValueError(f"out_space must hold one s-op, got {out_names}")
    w_ov = np.zeros((len(value_space), len(out_space)))
    for i, d in enumerate(value_space):
        w_ov[i, out_space.index(Direction(out_names[0], d.value))] = 1.0
    return AttentionHead(query_space, key_space, value_space, out_space, w_qk, w_ov, label)


def numerical_attention(terms: Sequence[SelectorTerm], value_dir: Direction,
                        out_dir: Direction, value_set: Iterable[float], max_seq_len: int,
                        tolerance: float, query_l1_error: float = 0.0,
                        key_l1_error: float = 0.0, label: str = "aggregate") -> AttentionHead:
    """Numerical Aggregate: the mean of the selected values, 0 if none is selected.

    W_OV copies the value direction to the output direction; BOS holds value 0 (the value
    s-op is zero at BOS: MLPs gate their constants), so the default is 0.
    Margin: |output - mean| <= M (L+2) e^{-s/2} (+ M (e^{2D} - 1) for score noise D), with
    M = max |value|; s makes this <= `tolerance`. For 0/1 values the means k/n are at least
    1/(L(L-1)) apart, and a reader that tells them apart passes that gap and this tolerance
    to `mlp.map_numerical_mlp` as `input_error`.
    """
    magnitude = max((abs(float(v)) for v in value_set), default=0.0)
    scale = attention_scale(max_seq_len, tolerance, max(magnitude, 1e-300),
                            _noise_per_scale(terms, query_l1_error, key_l1_error),
                            label=label)
    m = len(terms)
    query_space, key_space, w_qk = selector_qk(terms, scale, (m - 0.5) * scale)
    return AttentionHead(query_space, key_space, Space.of(value_dir), Space.of(out_dir), w_qk,
                         np.ones((1, 1)), label)


def head_scale(head: AttentionHead) -> float:
    """The per-term scale s of a head built here (its (BOS, BOS) entry)."""
    return float(head.w_qk[head.query_space.index(BOS), head.key_space.index(BOS)])
