"""The transformer model as data: residual labels and read-only float32 numpy weights.

```python
w = ModelWeights(vocab=[1], max_seq_len=1, residual=["one", ("tokens", 1)],
                 token_embed=np.eye(3, 2), pos_embed=np.zeros((2, 2)), layers=[],
                 output=("categorical", [("tokens", 1)]))
w.d_model, w.token_ids          # 2, {1: 0, "BOS": 1, "PAD": 2}
```
`ModelWeights` (labels, embeddings, layers of `Head`s and an `MLP`, `Output`) is what
`tracr_ir.dialects.transformer.build_model` turns into IR and `ModelOp.weights()` reads back;
`tracr_ir.interpreters.transformer` runs it with numpy, `tracr_ir.backends.jax` with JAX.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

import numpy as np

from tracr_ir.values import Value, canonical_values, format_value


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
    """A read-only float32 copy (an array that is already read-only float32 data of its own,
    such as the IR's weights, is taken as it is)."""
    if (isinstance(array, np.ndarray) and array.dtype == np.float32 and array.ndim >= ndim
            and not array.flags.writeable and array.base is None):
        return array
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


#: The residual direction that is zero at every position in a model with a LayerNorm: its read
#: rows cancel the mean the LayerNorm subtracts, and the output is read relative to it.
LN_ZERO = Label("ln_zero")


@dataclass(frozen=True)
class LayerNorm:
    """A LayerNorm without gain or bias before every sublayer and the output readout:
    `LN(x) = (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)` over the residual at each
    position. The output coordinates are `(LN(x)[label] - LN(x)[ln_zero]) * output_scale`
    (docs/layer_norm.md)."""

    eps: float
    output_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", float(self.eps))
        object.__setattr__(self, "output_scale", float(self.output_scale))


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
    layer_norm: LayerNorm | None = None  # None: no LayerNorm
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

    def layer_norm_args(self) -> tuple[float, float, int] | None:
        """(eps, output scale, index of `ln_zero`) for `run_layers`, None without LayerNorm."""
        if self.layer_norm is None:
            return None
        index = list(self.residual).index(LN_ZERO) if LN_ZERO in self.residual else -1
        return self.layer_norm.eps, self.layer_norm.output_scale, index

    def mlps(self) -> list[MLP]:
        """Each layer's MLP, an empty one where the layer has none."""
        return [x.mlp or MLP.empty(self.d_model) for x in self.layers]
