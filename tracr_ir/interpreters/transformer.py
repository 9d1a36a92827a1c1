"""The transformer model as numpy data, its float32 forward, and the encoding and decoding that
the `transformer` dialect's interpreter and the JAX backend share.

```python
interpret(module, [1, 2, 1])        # tracr_ir.compiler.interpret: decoded, without BOS
w = model_op.weights()              # a ModelWeights
result = forward(w, np.array(encode(w, ["BOS", 1, 2, 1])))
decode_output(w.output, result.output)   # [<BOS position>, out1, out2, out3]
```
`ModelWeights` (labels, embeddings, layers of `Head`s and an `MLP`, `Output`) is what
`tracr_ir.dialects.transformer.build_model` turns into IR and `ModelOp.weights()` reads back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np

from tracr_ir.dialects.rasp import CATEGORICAL
from tracr_ir.errors import InputError
from tracr_ir.values import Value, canonical_values, format_value, format_value_set

if TYPE_CHECKING:
    from tracr_ir.dialects.transformer import ModelOp

### The model as numpy data.


class _Absent:
    """The value of a label that has none (`one`, a numerical s-op's direction)."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:  # copies and pickles stay the singleton
        return "ABSENT"


ABSENT: Any = _Absent()
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*\Z")


@dataclass(frozen=True)
class Label:
    """One residual direction: `Label("tokens", 1)` is `tokens:1`, `Label("one")` is `one`."""

    name: str
    value: Value = ABSENT

    @property
    def has_value(self) -> bool:
        return self.value is not ABSENT

    @staticmethod
    def of(label: LabelLike) -> Label:
        """From a `Label`, `"name"`, `(name, value)`, or an object with `.name` and `.value`
        such as a craft `Direction` (whose value None means no value)."""
        if isinstance(label, Label):
            return label
        if isinstance(label, str):
            return Label(label)
        if isinstance(label, tuple) and len(label) == 2:
            return Label(*label)
        value = getattr(label, "value", None)
        return Label(label.name, ABSENT if value is None else value)

    def __str__(self) -> str:
        name = self.name if _BARE_NAME.match(self.name) else format_value(self.name)
        return f"{name}:{format_value(self.value)}" if self.has_value else name


LabelLike = Union[Label, str, tuple, Any]


def as_f32(array: Any, ndim: int) -> np.ndarray:
    """A read-only float32 copy."""
    a = np.array(array, dtype=np.float32, ndmin=ndim)
    a.setflags(write=False)
    return a


class _Weights:
    WEIGHTS: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for name in self.WEIGHTS:
            object.__setattr__(self, name, as_f32(getattr(self, name), 1 + (name[0] == "w")))


@dataclass(frozen=True, eq=False)
class Head(_Weights):
    """w_q, w_k [d_model, d_head], w_v [d_model, d_head_v], w_o [d_head_v, d_model]."""

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray
    label: str = ""
    WEIGHTS: ClassVar[tuple[str, ...]] = ("w_q", "w_k", "w_v", "w_o")


@dataclass(frozen=True, eq=False)
class MLP(_Weights):
    """relu(x w_1 + b_1) w_2 + b_2: w_1 [d_model, hidden], w_2 [hidden, d_model]."""

    w_1: np.ndarray
    b_1: np.ndarray
    w_2: np.ndarray
    b_2: np.ndarray
    label: str = ""
    WEIGHTS: ClassVar[tuple[str, ...]] = ("w_1", "b_1", "w_2", "b_2")

    @staticmethod
    def empty(d_model: int) -> MLP:
        return MLP(np.zeros((d_model, 0)), np.zeros(0), np.zeros((0, d_model)), np.zeros(d_model))

    @property
    def hidden(self) -> int:
        return self.w_1.shape[1]


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer: its heads (maybe none), then its MLP (None for an empty one)."""

    heads: Sequence[Head] = ()
    mlp: MLP | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", tuple(self.heads))


@dataclass(frozen=True)
class Output:
    """The output s-op: `categorical` over labels with values, or `numerical` over one label."""

    encoding: str
    labels: Sequence[LabelLike]

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(Label.of(x) for x in self.labels))


@dataclass(frozen=True, eq=False)
class ModelWeights:
    """Everything a `transformer.model` holds, weights as read-only float32 numpy arrays."""

    vocab: Sequence[Value]
    max_seq_len: int
    residual: Sequence[LabelLike]
    token_embed: np.ndarray  # [len(vocab) + 2, d_model]: the vocab, BOS, PAD
    pos_embed: np.ndarray  # [max_seq_len + 1, d_model]
    layers: Sequence[Layer | tuple]  # a tuple is Layer's arguments
    output: Output | tuple  # a tuple is Output's arguments
    bos: str = "BOS"
    pad: str = "PAD"
    causal: bool = False
    output_indices: tuple[int, ...] = field(init=False)  # of output.labels in the residual

    def __post_init__(self) -> None:
        def set_(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        set_("vocab", canonical_values(self.vocab, where="vocab"))
        set_("residual", tuple(Label.of(x) for x in self.residual))
        set_("token_embed", as_f32(self.token_embed, 2))
        set_("pos_embed", as_f32(self.pos_embed, 2))
        set_("layers", tuple(x if isinstance(x, Layer) else Layer(*x) for x in self.layers))
        set_("output", self.output if isinstance(self.output, Output) else Output(*self.output))
        index = {label: i for i, label in enumerate(self.residual)}
        set_("output_indices", tuple(index.get(x, -1) for x in self.output.labels))

    @property
    def d_model(self) -> int:
        return len(self.residual)

    @property
    def token_ids(self) -> dict[Value, int]:
        """Token -> row of `token_embed`: the vocab in order, then BOS and PAD."""
        ids = {token: i for i, token in enumerate(self.vocab)}
        return {**ids, self.bos: len(ids), self.pad: len(ids) + 1}

    def mlps(self) -> list[MLP]:
        """Each layer's MLP, an empty one where the layer has none."""
        return [x.mlp or MLP.empty(self.d_model) for x in self.layers]


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


def unknown_token(token: Any, position: int, vocab: Sequence[Value]) -> str:
    """The message for a token that is not in the vocab (its type named when that is why)."""
    kinds = {type(v).__name__ for v in vocab}
    kind = "" if type(token).__name__ in kinds else f" (a {type(token).__name__})"
    shown = format_value_set(vocab) if len(vocab) <= 12 else (
        format_value_set(vocab[:12])[:-1] + f", ... ({len(vocab)} tokens)}}")
    return f"token {token!r}{kind} at position {position} is not in the vocab {shown}"


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


def run_layers(params: Mapping[str, Any], ids: Any, visible: Any, heads: Sequence[int],
               output_indices: Sequence[int], xp: Any = np) -> tuple[Any, tuple[Any, ...], Any]:
    """(embeddings, residual after each sublayer, output coordinates) for `ids` `[batch, seq]`.

    `params` as `param_arrays` names them, `heads` the number of heads per layer, `visible`
    from `visible_keys`; `xp` is numpy or `jax.numpy` (the JAX backend traces this function).
    A key that is not visible gets weight exactly 0.
    """
    x = params["token_embed"][ids] + params["pos_embed"][: ids.shape[1]]
    embeddings, residuals = x, []
    for i, n_heads in enumerate(heads):
        update = xp.zeros_like(x)
        for j in range(n_heads):
            w_q, w_k, w_v, w_o = (params[f"layer_{i}/attn/head_{j}/{n}"] for n in Head.WEIGHTS)
            scores = xp.where(visible, (x @ w_q) @ xp.swapaxes(x @ w_k, -1, -2), -np.inf)
            weights = xp.exp(scores - scores.max(axis=-1, keepdims=True))
            weights = weights / weights.sum(axis=-1, keepdims=True)
            update = update + (weights @ (x @ w_v)) @ w_o
        x = x + update
        residuals.append(x)
        w_1, b_1, w_2, b_2 = (params[f"layer_{i}/mlp/{n}"] for n in MLP.WEIGHTS)
        x = x + (xp.maximum(x @ w_1 + b_1, 0) @ w_2 + b_2)
        residuals.append(x)
    return embeddings, tuple(residuals), x[..., list(output_indices)]


def forward(w: ModelWeights, ids: np.ndarray, mask: np.ndarray | None = None) -> Forward:
    """Run the model on token ids `[batch, seq]` (or `[seq]`); `mask` is False at padding."""
    ids = np.asarray(ids)
    batch = np.atleast_2d(ids)
    mask = np.ones(batch.shape, dtype=bool) if mask is None else np.atleast_2d(mask)
    heads = [len(layer.heads) for layer in w.layers]
    embeddings, residuals, output = run_layers(
        param_arrays(w), batch, visible_keys(mask.astype(bool), w.causal), heads,
        w.output_indices)
    if ids.ndim == 1:
        return Forward(embeddings[0], tuple(r[0] for r in residuals), output[0])
    return Forward(embeddings, residuals, output)


def run_model(op: ModelOp, xs: list[Any]) -> list[Value]:
    """The decoded output of `op` on the tokens `xs` (without BOS), BOS position dropped."""
    w = op.weights()
    result = forward(w, np.array(encode(w, [w.bos, *xs])))
    return decode_output(w.output, result.output)[1:]
