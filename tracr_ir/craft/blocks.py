"""Craft blocks and their reference forward: the one numpy implementation of what a block does
to the residual stream (the craft interpreter and the transformer lowering build on it).

Residual arrays are `[..., seq, len(space)]` over a residual `Space`; position 0 is BOS. A
block reads and writes only its named sub-spaces; `block_update` returns the update a block
adds to the residual, `apply_block` the new residual.

- `MLPBlock`: update = relu(x_in @ w1) @ w2. There are no bias vectors: constants enter
  through the `ONE` direction, and constructions gate them with `ONE - BOS`, so that an MLP
  whose s-op inputs are zero at BOS writes exactly zero there. `ramps` lists the hidden pairs
  (i, j) forming steps relu(a + 1/2) - relu(a - 1/2), for margin checks and reading.
  `float32_error` estimates the float32 rounding error of each output coordinate
  (`activation_mass` times `numerics.float32_error_estimate`): large discretising maps with
  numerical outputs cancel big activations, and the lowering must account for it.
- `AttentionHead`: scores = q @ w_qk @ k^T (the scale is inside w_qk), softmax over the keys,
  update = weights @ (v @ w_ov). Keys outside `mask` never get weight; with `causal` a query
  sees only keys at or before it.
- `SelectorWidthBlock`: an attention head, then (after its residual update) an MLP.

Forward arithmetic is float32 unless `dtype` says otherwise; weights are built in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from tracr_ir.craft.bases import Space


def _frozen_array(a: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{what} has shape {a.shape}, expected {shape}")
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MLPBlock:
    in_space: Space
    hidden_space: Space
    out_space: Space
    w1: np.ndarray  # [len(in_space), len(hidden_space)]
    w2: np.ndarray  # [len(hidden_space), len(out_space)]
    ramps: tuple[tuple[int, int], ...] = ()
    label: str = ""
    float32_error: float = 0.0  # estimated float32 error of an output coordinate

    def __post_init__(self) -> None:
        n_in, n_h, n_out = len(self.in_space), len(self.hidden_space), len(self.out_space)
        object.__setattr__(self, "w1", _frozen_array(self.w1, (n_in, n_h), "w1"))
        object.__setattr__(self, "w2", _frozen_array(self.w2, (n_h, n_out), "w2"))
        object.__setattr__(self, "ramps", tuple((int(i), int(j)) for i, j in self.ramps))

    @property
    def hidden_size(self) -> int:
        return len(self.hidden_space)


@dataclass(frozen=True, eq=False)
class AttentionHead:
    query_space: Space
    key_space: Space
    value_space: Space
    out_space: Space
    w_qk: np.ndarray  # [len(query_space), len(key_space)]
    w_ov: np.ndarray  # [len(value_space), len(out_space)]
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "w_qk", _frozen_array(
            self.w_qk, (len(self.query_space), len(self.key_space)), "w_qk"))
        object.__setattr__(self, "w_ov", _frozen_array(
            self.w_ov, (len(self.value_space), len(self.out_space)), "w_ov"))


@dataclass(frozen=True, eq=False)
class SelectorWidthBlock:
    attention: AttentionHead
    mlp: MLPBlock
    label: str = ""


Block = Union[MLPBlock, AttentionHead, SelectorWidthBlock]


def _scatter(space: Space, out_space: Space, y: np.ndarray) -> np.ndarray:
    update = np.zeros(y.shape[:-1] + (len(space),), dtype=y.dtype)
    update[..., space.indices(out_space)] = y
    return update


def _linear(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w over the last axis as one 2-D product (numpy's stacked matmul would re-read
    `w` once per leading index)."""
    if x.shape[-1] == 0 or x.size == 0:
        return np.zeros(x.shape[:-1] + (w.shape[-1],), dtype=x.dtype)
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(x.shape[:-1] + (w.shape[-1],))


def mlp_forward(block: MLPBlock, space: Space, x: np.ndarray, dtype=np.float32
                ) -> tuple[np.ndarray, np.ndarray]:
    """(hidden pre-activations `[..., seq, hidden]`, residual update) of an MLP."""
    x = np.asarray(x, dtype=dtype)
    pre = _linear(x[..., space.indices(block.in_space)], block.w1.astype(dtype))
    y = _linear(np.maximum(pre, 0), block.w2.astype(dtype))
    return pre, _scatter(space, block.out_space, y)


def attention_forward(head: AttentionHead, space: Space, x: np.ndarray,
                      mask: np.ndarray | None = None, causal: bool = False,
                      dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """(attention weights `[..., query, key]`, residual update) of a head.

    `mask` (`[..., seq]`, True = a real position) removes padded keys from every softmax; the
    BOS position must be real. Padded query positions get some output, which no real position
    reads.
    """
    x = np.asarray(x, dtype=dtype)
    q = x[..., space.indices(head.query_space)]
    k = x[..., space.indices(head.key_space)]
    v = x[..., space.indices(head.value_space)]
    scores = _linear(q, head.w_qk.astype(dtype)) @ np.swapaxes(k, -1, -2)
    n = x.shape[-2]
    visible = np.ones(scores.shape, dtype=bool)
    if mask is not None:
        visible = visible & np.asarray(mask, dtype=bool)[..., None, :]
    if causal:
        visible = visible & np.tril(np.ones((n, n), dtype=bool))
    scores = np.where(visible, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    y = weights @ _linear(v, head.w_ov.astype(dtype))
    return weights, _scatter(space, head.out_space, y)


def block_update(block: Block, space: Space, x: np.ndarray, mask: np.ndarray | None = None,
                 causal: bool = False, dtype=np.float32) -> np.ndarray:
    """The update `block` adds to the residual `x`."""
    if isinstance(block, MLPBlock):
        return mlp_forward(block, space, x, dtype)[1]
    if isinstance(block, AttentionHead):
        return attention_forward(block, space, x, mask, causal, dtype)[1]
    if isinstance(block, SelectorWidthBlock):
        x = np.asarray(x, dtype=dtype)
        first = attention_forward(block.attention, space, x, mask, causal, dtype)[1]
        second = mlp_forward(block.mlp, space, x + first, dtype)[1]
        return first + second
    raise TypeError(f"not a craft block: {block!r}")


def apply_block(block: Block, space: Space, x: np.ndarray, mask: np.ndarray | None = None,
                causal: bool = False, dtype=np.float32) -> np.ndarray:
    """The residual after `block`."""
    x = np.asarray(x, dtype=dtype)
    return x + block_update(block, space, x, mask, causal, dtype)


def apply_parallel(blocks: Sequence[Block], space: Space, x: np.ndarray,
                   mask: np.ndarray | None = None, causal: bool = False,
                   dtype=np.float32) -> np.ndarray:
    """The residual after blocks that all read the same input (heads of one layer, or MLPs
    of one layer): their updates are summed."""
    x = np.asarray(x, dtype=dtype)
    total = np.zeros_like(x)
    for block in blocks:
        total = total + block_update(block, space, x, mask, causal, dtype)
    return x + total


def ramp_margins(block: MLPBlock, pre: np.ndarray) -> np.ndarray:
    """|a| - 1/2 for each ramp of `block` at each position (`[..., seq, n_ramps]`), from the
    hidden pre-activations `pre` of `mlp_forward`: a ramp's neurons see a + 1/2 and a - 1/2.
    Positive means the step is decided; only meaningful off the BOS position."""
    if not block.ramps:
        return np.zeros(pre.shape[:-1] + (0,), dtype=pre.dtype)
    i = np.array([r[0] for r in block.ramps])
    j = np.array([r[1] for r in block.ramps])
    a = (pre[..., i] + pre[..., j]) / 2
    return np.abs(a) - 0.5


def activation_mass(block: MLPBlock, x_in: np.ndarray) -> float:
    """max over the rows of `x_in` (inputs over `block.in_space`, float64) and the output
    coordinates of sum_j relu(pre_j) |w2[j, c]|: the size of what the output sum cancels,
    which float32 rounding errors scale with."""
    pre = np.asarray(x_in, dtype=np.float64) @ block.w1
    if pre.size == 0 or block.w2.size == 0:
        return 0.0
    return float((np.maximum(pre, 0) @ np.abs(block.w2)).max())
