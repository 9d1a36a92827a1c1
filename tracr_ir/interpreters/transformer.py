"""The float32 forward of a transformer model (`tracr_ir.model`), and the encoding and decoding
that the `transformer` dialect's interpreter and the JAX backend share.

```python
interpret(module, [1, 2, 1])        # tracr_ir.compiler.interpret: decoded, without BOS
w = model_op.weights()              # a ModelWeights
result = forward(w, np.array(encode(w, ["BOS", 1, 2, 1])))
decode_output(w.output, result.output)   # [<BOS position>, out1, out2, out3]
```
The model's data (`ModelWeights`, `Head`, `MLP`, `Layer`, `Output`, `Label`) is defined in
`tracr_ir.model` and importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tracr_ir.dialects.rasp import CATEGORICAL
from tracr_ir.errors import InputError
from tracr_ir.inputs import unknown_token
from tracr_ir.model import (ABSENT, MLP, Head, Label, LabelLike, Layer, ModelWeights, Output,
                            as_f32)
from tracr_ir.values import Value

if TYPE_CHECKING:
    from tracr_ir.dialects.transformer import ModelOp

__all__ = ["ABSENT", "MLP", "Forward", "Head", "Label", "LabelLike", "Layer", "ModelWeights",
           "Output", "as_f32", "decode_output", "encode", "forward", "layer_norm", "param_arrays",
           "run_layers",
           "run_model", "unknown_token", "visible_keys"]

### Running it.


def encode(w: ModelWeights, seq: Sequence[Any]) -> list[int]:
    """Token ids of `[BOS, t1, ...]`, or an `InputError` naming the first bad position."""
    if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
        raise InputError(f"an input is a list of tokens starting with {w.bos!r}, "
                         f"got {type(seq).__name__}")
    if not seq or not _is(seq[0], w.bos):
        first = repr(seq[0]) if seq else "an empty input"
        raise InputError(f"position 0 must be the BOS token {w.bos!r}, got {first}")
    if len(seq) > w.max_seq_len + 1:
        raise InputError(f"token {seq[w.max_seq_len + 1]!r} at position {w.max_seq_len + 1} "
                         f"is past max_seq_len {w.max_seq_len}: the input has {len(seq) - 1} "
                         "tokens after BOS")
    ids = w.token_ids
    encoded = [ids[w.bos]]
    for i, token in enumerate(seq[1:], start=1):
        if _is(token, w.bos):
            raise InputError(f"BOS token {token!r} at position {i}: BOS may only be at "
                             "position 0")
        try:
            known = token in ids and not _is(token, w.pad)
        except TypeError:
            known = False
        if not known:
            raise InputError(unknown_token(token, i, w.vocab))
        encoded.append(ids[token])
    return encoded


def _is(token: Any, special: str) -> bool:
    return isinstance(token, str) and token == special


def decode_output(output: Output, array: np.ndarray) -> list[Value]:
    """Decode output-space rows `[seq, len(output.labels)]` into values, one per position.

    Categorical: the value of the largest coordinate, None where it is below 1/2.
    Numerical: the coordinate as a float.
    """
    array = np.asarray(array)
    if output.encoding != CATEGORICAL:
        return [float(x) for x in array[:, 0]]
    if array.shape[-1] == 0:
        return [None] * len(array)
    best = np.argmax(array, axis=-1)
    values = [x.value for x in output.labels]
    return [values[j] if row[j] >= 0.5 else None for row, j in zip(array, best)]


@dataclass(frozen=True, eq=False)
class Forward:
    """One forward pass: arrays `[batch, seq, ...]` (or `[seq, ...]` for one sequence)."""

    embeddings: np.ndarray
    residuals: tuple[np.ndarray, ...]  # after each sublayer: attention 0, MLP 0, attention 1...
    output: np.ndarray  # the final residual's output coordinates


def param_arrays(w: ModelWeights) -> dict[str, np.ndarray]:
    """The weights by name: `token_embed`, `pos_embed`, `layer_0/attn/head_0/w_q` (... `w_k`,
    `w_v`, `w_o`; a layer without heads has none), `layer_0/mlp/w_1` (... `b_1`, `w_2`, `b_2`)."""
    params = {"token_embed": w.token_embed, "pos_embed": w.pos_embed}
    for i, (layer, mlp) in enumerate(zip(w.layers, w.mlps())):
        for j, head in enumerate(layer.heads):
            params |= {f"layer_{i}/attn/head_{j}/{n}": getattr(head, n) for n in Head.WEIGHTS}
        params |= {f"layer_{i}/mlp/{n}": getattr(mlp, n) for n in MLP.WEIGHTS}
    return params


def visible_keys(mask: np.ndarray, causal: bool) -> np.ndarray:
    """`[batch, query, key]` booleans: the key is a real position (and not after the query)."""
    n = mask.shape[-1]
    visible = np.broadcast_to(mask[:, None, :], (mask.shape[0], n, n))
    return visible & np.tril(np.ones((n, n), dtype=bool)) if causal else visible


def layer_norm(x: Any, eps: float, xp: Any = np) -> Any:
    """`(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)` over the last axis (no gain, no
    bias: TransformerLens's `LNPre`)."""
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / xp.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)


def run_layers(params: Mapping[str, Any], ids: Any, visible: Any, heads: Sequence[int],
               output_indices: Sequence[int], xp: Any = np,
               norm: tuple[float, float, int] | None = None
               ) -> tuple[Any, tuple[Any, ...], Any]:
    """(embeddings, residual after each sublayer, output coordinates) for `ids` `[batch, seq]`.

    `params` as `param_arrays` names them, `heads` the number of heads per layer, `visible`
    from `visible_keys`; `xp` is numpy or `jax.numpy` (the JAX backend traces this function).
    A key that is not visible gets weight exactly 0. `norm` (`ModelWeights.layer_norm_args`:
    eps, output scale, index of `ln_zero`) puts a LayerNorm before every sublayer and the
    readout, whose output coordinates are then `(LN(x)[label] - LN(x)[ln_zero]) * scale`; the
    residuals are the un-normalised stream.
    """
    def read(x: Any) -> Any:
        return x if norm is None else layer_norm(x, norm[0], xp)

    x = params["token_embed"][ids] + params["pos_embed"][: ids.shape[1]]
    embeddings, residuals = x, []
    for i, n_heads in enumerate(heads):
        update = xp.zeros_like(x)
        h = read(x)
        for j in range(n_heads):
            w_q, w_k, w_v, w_o = (params[f"layer_{i}/attn/head_{j}/{n}"] for n in Head.WEIGHTS)
            scores = xp.where(visible, (h @ w_q) @ xp.swapaxes(h @ w_k, -1, -2), -np.inf)
            weights = xp.exp(scores - scores.max(axis=-1, keepdims=True))
            weights = weights / weights.sum(axis=-1, keepdims=True)
            update = update + (weights @ (h @ w_v)) @ w_o
        x = x + update
        residuals.append(x)
        w_1, b_1, w_2, b_2 = (params[f"layer_{i}/mlp/{n}"] for n in MLP.WEIGHTS)
        x = x + (xp.maximum(read(x) @ w_1 + b_1, 0) @ w_2 + b_2)
        residuals.append(x)
    if norm is None:
        return embeddings, tuple(residuals), x[..., list(output_indices)]
    final = read(x)
    output = (final[..., list(output_indices)] - final[..., norm[2]:norm[2] + 1]) * norm[1]
    return embeddings, tuple(residuals), output


def forward(w: ModelWeights, ids: np.ndarray, mask: np.ndarray | None = None) -> Forward:
    """Run the model on token ids `[batch, seq]` (or `[seq]`); `mask` is False at padding."""
    ids = np.asarray(ids)
    batch = np.atleast_2d(ids)
    mask = np.ones(batch.shape, dtype=bool) if mask is None else np.atleast_2d(mask)
    heads = [len(layer.heads) for layer in w.layers]
    embeddings, residuals, output = run_layers(
        param_arrays(w), batch, visible_keys(mask.astype(bool), w.causal), heads,
        w.output_indices, norm=w.layer_norm_args())
    if ids.ndim == 1:
        return Forward(embeddings[0], tuple(r[0] for r in residuals), output[0])
    return Forward(embeddings, residuals, output)


def run_model(op: ModelOp, xs: list[Any]) -> list[Value]:
    """The decoded output of `op` on the tokens `xs` (without BOS), BOS position dropped."""
    w = op.weights()
    result = forward(w, np.array(encode(w, [w.bos, *xs])))
    return decode_output(w.output, result.output)[1:]
