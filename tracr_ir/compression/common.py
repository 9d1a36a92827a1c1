"""What both compressions share: the inputs, the residual at every sublayer, the projected model
and how exact it is.

A compression of a model of width d to width r is an embedding E [d, r] and, for every
sublayer l, a read map D_l [r, d]: the compressed residual is x' = x E, and sublayer l reads
x' D_l where the original read x. `project(w, E, reads, labels)` builds that model as ordinary
weights: `token' = token E`, `W_Q' = D_l W_Q` (also W_K, W_V, W_1), `W_O' = W_O E` (also W_2,
b_2). Its unembedding reads the compressed coordinates named after the output labels.

```python
inputs = model_inputs(w, max_inputs=5000, seed=0)   # every input, or a stated seeded sample
sites = residuals(w, inputs)                        # [rows, d] entering each sublayer, and out
small = project(w, E, reads, labels)
exactness(w, small, inputs, tol=1e-4)               # inputs within tol, largest output error
```
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracr_ir.dialects.rasp import CATEGORICAL
from tracr_ir.interpreters.transformer import decode_output, forward
from tracr_ir.model import MLP, Head, Label, Layer, ModelWeights, Output
from tracr_ir.values import Value, value_key

__all__ = ["Exactness", "Inputs", "Sites", "exactness", "fresh_labels", "model_inputs",
           "project", "read_matrices", "residuals"]

### The inputs.


@dataclass(frozen=True, eq=False)
class Inputs:
    """The inputs a compression is computed and measured on: every input when there are at
    most `max_inputs`, else a seeded sample covering every length."""

    seqs: list[list[Value]]
    total: int  # how many inputs of lengths 1..max_seq_len there are
    sampled: bool
    seed: int

    def describe(self) -> str:
        if not self.sampled:
            return f"every input ({self.total})"
        return f"a sample of {len(self.seqs)} of the {self.total} inputs (seed {self.seed})"


def model_inputs(w: ModelWeights, max_inputs: int = 5000, seed: int = 0) -> Inputs:
    """Every input of `w` (lengths 1..max_seq_len over its vocab) if there are at most
    `max_inputs`, else `max_inputs` of them: every input of the lengths that fit, then a
    seeded draw spreading the rest evenly over the longer lengths."""
    tokens = sorted(w.vocab, key=value_key)
    counts = [len(tokens) ** k for k in range(1, w.max_seq_len + 1)]
    total = sum(counts)
    if total <= max_inputs:
        return Inputs([list(xs) for k in range(1, w.max_seq_len + 1)
                       for xs in itertools.product(tokens, repeat=k)], total, False, seed)
    rng = random.Random(seed)
    seqs: list[list[Value]] = []
    for k, count in enumerate(counts, start=1):
        share = (max_inputs - len(seqs)) // (w.max_seq_len - k + 1)
        if count <= share:
            seqs += [list(xs) for xs in itertools.product(tokens, repeat=k)]
        else:
            seqs += [[rng.choice(tokens) for _ in range(k)] for _ in range(share)]
    return Inputs(seqs, total, True, seed)


def encode_batch(w: ModelWeights, seqs: Sequence[Sequence[Value]]) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """Token ids `[n, max_seq_len + 1]` of `[BOS, *seq]` right-padded with PAD, and the mask
    of real positions."""
    ids = w.token_ids
    n = w.max_seq_len + 1
    out = np.full((len(seqs), n), ids[w.pad], dtype=np.int32)
    mask = np.zeros((len(seqs), n), dtype=bool)
    for b, seq in enumerate(seqs):
        out[b, : len(seq) + 1] = [ids[w.bos], *(ids[t] for t in seq)]
        mask[b, : len(seq) + 1] = True
    return out, mask


### The residual at every sublayer.


@dataclass(frozen=True, eq=False)
class Sites:
    """The residual entering each sublayer (attention 0, MLP 0, attention 1, ...) and the
    final one, `[batch, seq, d]` each, with the mask of real positions."""

    inputs: list[np.ndarray]  # one per sublayer
    final: np.ndarray
    mask: np.ndarray

    def rows(self, site: int) -> np.ndarray:
        """The real positions' residual rows `[rows, d]` at `site` (the last is the final)."""
        array = self.final if site == len(self.inputs) else self.inputs[site]
        return array[self.mask]


def residuals(w: ModelWeights, inputs: Inputs, chunk: int = 2048) -> Sites:
    """Run `w` (the float32 numpy forward) on `inputs` and keep every sublayer's input."""
    ids, mask = encode_batch(w, inputs.seqs)
    parts: list[list[np.ndarray]] = []
    for start in range(0, len(ids), chunk):
        result = forward(w, ids[start: start + chunk], mask[start: start + chunk])
        parts.append([result.embeddings, *result.residuals])
    stacked = [np.concatenate(arrays) for arrays in zip(*parts)]
    return Sites(stacked[:-1], stacked[-1], mask)


def read_matrices(w: ModelWeights, site: int) -> list[np.ndarray]:
    """The weights sublayer `site` reads the residual with (`[d, k]` each): every head's W_Q,
    W_K and W_V, or the MLP's W_1."""
    layer = w.layers[site // 2]
    if site % 2 == 0:
        return [getattr(h, n) for h in layer.heads for n in ("w_q", "w_k", "w_v")]
    return [w.mlps()[site // 2].w_1]


### The projected model.


def fresh_labels(outputs: Sequence[Label], count: int, taken: Sequence[Label],
                 name: str = "compressed") -> list[Label]:
    """`count` labels `compressed:0, ...` not among `taken` or `outputs` (the name gets a
    suffix `compressed_1` if needed)."""
    used = {*taken, *outputs}
    for suffix in itertools.count():
        base = name if suffix == 0 else f"{name}_{suffix}"
        labels = [Label(base, i) for i in range(count)]
        if not used.intersection(labels):
            return labels
    raise AssertionError("unreachable")


def project(w: ModelWeights, embed: np.ndarray, reads: Sequence[np.ndarray],
            labels: Sequence[Label]) -> ModelWeights:
    """The model whose residual is x E (`embed` [d, r]) and whose sublayer l reads x' D_l
    (`reads[l]` [r, d]); `labels` name the r coordinates and must contain the output labels
    (each at the coordinate equal to that output)."""
    e = np.asarray(embed, dtype=np.float64)

    def clean(a: np.ndarray) -> np.ndarray:  # float64 rounding left by the products: zero
        a = np.array(a)
        a[np.abs(a) <= 1e-9 * np.abs(a).max(initial=0.0)] = 0.0
        return a

    def down(a: np.ndarray) -> np.ndarray:  # a write [.., d] -> [.., r]
        return clean(np.asarray(a, np.float64) @ e)

    def up(site: int, a: np.ndarray) -> np.ndarray:  # a read [d, k] -> [r, k]
        return clean(np.asarray(reads[site], np.float64) @ np.asarray(a, np.float64))

    layers = []
    for i, (layer, mlp) in enumerate(zip(w.layers, w.mlps())):
        heads = [Head(up(2 * i, h.w_q), up(2 * i, h.w_k), up(2 * i, h.w_v), down(h.w_o),
                      label=h.label) for h in layer.heads]
        small = MLP(up(2 * i + 1, mlp.w_1), mlp.b_1, down(mlp.w_2), down(mlp.b_2),
                    label=mlp.label)
        layers.append(Layer(heads, small if layer.mlp is not None else None))
    return ModelWeights(w.vocab, w.max_seq_len, tuple(labels), down(w.token_embed),
                        down(w.pos_embed), layers, Output(w.output.encoding, w.output.labels),
                        w.bos, w.pad, w.causal)


### How exact it is.


@dataclass(frozen=True)
class Exactness:
    """How a compressed model's outputs compare with the original's on `inputs` inputs:
    `exact` of them decode the same (categorical) or within `tol` at every position
    (numerical); `max_error` is the largest difference of an output coordinate; `worst` the
    input with the largest (of those not exact, if any)."""

    inputs: int
    exact: int
    tol: float
    max_error: float
    worst: tuple[Value, ...] | None

    @property
    def all_exact(self) -> bool:
        return self.exact == self.inputs


def outputs(w: ModelWeights, inputs: Inputs, chunk: int = 2048) -> tuple[np.ndarray,
                                                                        np.ndarray]:
    """The output coordinates `[n, seq, k]` of `w` on `inputs` and the mask of positions that
    are real tokens (BOS and padding excluded)."""
    ids, mask = encode_batch(w, inputs.seqs)
    out = np.concatenate([forward(w, ids[s: s + chunk], mask[s: s + chunk]).output
                          for s in range(0, len(ids), chunk)])
    mask = mask.copy()
    mask[:, 0] = False
    return out.astype(np.float64), mask


def exactness(reference: ModelWeights, model: ModelWeights, inputs: Inputs,
              tol: float) -> Exactness:
    """Compare `model` with `reference` on every one of `inputs` (see `Exactness`)."""
    want, mask = outputs(reference, inputs)
    got, _ = outputs(model, inputs)
    error = np.where(mask[..., None], np.abs(got - want), 0.0).max(axis=-1, initial=0.0)
    if reference.output.encoding == CATEGORICAL:
        ok = np.array([decode_output(reference.output, g[m]) ==
                       decode_output(reference.output, r[m])
                       for g, r, m in zip(got, want, mask)], dtype=bool)
    else:
        ok = (error <= tol).all(axis=-1)
    per_input = error.max(axis=-1, initial=0.0)
    worst = int(np.where(ok, -1.0, per_input).argmax() if not ok.all() else
                per_input.argmax()) if len(per_input) else None
    return Exactness(len(inputs.seqs), int(ok.sum()), tol,
                     float(per_input.max(initial=0.0)),
                     None if worst is None else tuple(inputs.seqs[worst]))
