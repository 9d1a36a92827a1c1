"""JAX backend: a `transformer.model` as a jit-compiled forward with its params and encoders.

```python
model = build(module)                    # a module (or its text) holding a transformer.model
model.apply(["BOS", 3, 1, 2]).decoded    # ["BOS", 1, 2, 3]
model.apply_batch([["BOS", 1], ["BOS", 2, 3]])   # right-padded with PAD, padding masked
model.apply(["BOS", 3, 1, "PAD"]).decoded  # ["BOS", 1, 3, "PAD"]: PAD masked, as a batch
model.stats()                            # {"layers": 2, "heads": 1, "residual": 13, ...}
```

The forward is `tracr_ir.interpreters.transformer.run_layers` (the numpy interpreter's code)
traced with `jax.numpy` in float32 and cached by `jax.jit`. Every input is padded to
`max_seq_len + 1` positions (padding masked), so `apply` traces the forward once per model and
`apply_batch` once per power-of-two batch size up to `MAX_CHUNK`.
Importing this module imports jax; `import tracr_ir` does not.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from xdsl.dialects.builtin import ArrayAttr
from xdsl.ir import Operation

from tracr_ir.dialects.program import stage_op
from tracr_ir.dialects.transformer import ModelOp
from tracr_ir.errors import InputError, IRError
from tracr_ir.interpreters.transformer import (decode_output, encode, param_arrays, run_layers,
                                               visible_keys)
from tracr_ir.ir_text import parse_module, print_module, verify_module
from tracr_ir.model import ModelWeights
from tracr_ir.values import Value


@dataclass(frozen=True, eq=False)
class ApplyResult:
    """One sequence through the model (arrays are numpy, `[seq, ...]`)."""

    decoded: list[Value]  # ["BOS", out1, ...] as in tracr
    embeddings: np.ndarray  # [seq, residual]: the input to layer 0
    residuals: list[np.ndarray]  # after each sublayer: attention 0, MLP 0, attention 1, ...
    output: np.ndarray  # [seq, output directions]: the raw output space


@dataclass(eq=False)
class _TraceCounter:
    count: int = 0


#: `apply_batch` runs batches in chunks of at most this many sequences, each padded to a
#: power-of-two batch size, so a model is traced at most 1 + log2(MAX_CHUNK) times.
MAX_CHUNK = 256


def batch_bucket(n: int) -> int:
    """The batch size `n` sequences are padded to: the next power of two, at most MAX_CHUNK."""
    return min(1 << max(n - 1, 0).bit_length(), MAX_CHUNK)


@dataclass(frozen=True, eq=False, repr=False)
class CompiledModel:
    """A compiled transformer: `apply`, `apply_batch`, `params`, `residual_labels`, `stats()`.

    `weights` holds the numpy weights and the model's vocab, labels and output spec; `ir` maps
    stage names to IR text (the compiler driver fills it with a `tracr_ir.compiler.StageIR`,
    which prints a stage only when it is read).

    Every run has the same sequence length, `max_seq_len + 1` (shorter inputs are padded with
    PAD, which is masked out of every attention, and the results cut back), so the forward is
    traced and compiled once for `apply` and once per batch bucket (`batch_bucket`) for
    `apply_batch`; `trace_count` tells how many times.
    """

    weights: ModelWeights
    params: dict[str, jax.Array]  # named as `tracr_ir.interpreters.transformer.param_arrays`
    residual_labels: list[str]  # the residual's labels as the IR prints them: tokens:"a", one
    ir: MutableMapping[str, str] = field(default_factory=dict)
    proven_optimal: tuple[str, ...] = ()  # allocation stages proven optimal (the IR's)
    residual_history: tuple[str, ...] = ()  # per position its occupants, if any is reused
    _traces: _TraceCounter = field(default_factory=_TraceCounter, repr=False)
    _jitted: Any = field(default=None, repr=False)
    _jitted_output: Any = field(default=None, repr=False)  # the output coordinates only

    def __post_init__(self) -> None:
        heads = tuple(len(layer.heads) for layer in self.weights.layers)
        out = self.weights.output_indices
        norm = self.weights.layer_norm_args()

        def traced(params: dict[str, jax.Array], ids: jax.Array, visible: jax.Array) -> Any:
            self._traces.count += 1  # runs only while jax traces
            # The error bounds assume float32 products; some accelerators default to
            # TF32 or bfloat16 passes for float32 matmuls.
            with jax.default_matmul_precision("float32"):
                return run_layers(params, ids, visible, heads, out, jnp, norm)

        def traced_output(params: dict[str, jax.Array], ids: jax.Array,
                          visible: jax.Array) -> Any:
            return traced(params, ids, visible)[2]

        object.__setattr__(self, "_jitted", jax.jit(traced))
        object.__setattr__(self, "_jitted_output", jax.jit(traced_output))

    def __repr__(self) -> str:
        w = self.weights
        return (f"CompiledModel(layers={len(w.layers)}, residual={w.d_model}, "
                f"output={w.output.encoding} {[str(x) for x in w.output.labels]})")

    @property
    def residual_names(self) -> list[str]:
        """A name per residual position: its label, or, where positions are reused
        (`craft-layout-residual`), every s-op it holds in order (`indices:2 | sum_7:5`)."""
        return list(self.residual_history) or list(self.residual_labels)

    @property
    def trace_count(self) -> int:
        """How many times the forward was traced: once for `apply`, once per batch bucket
        (`batch_bucket`) that `apply_batch` used."""
        return self._traces.count

    def encode(self, seq: Sequence[Any]) -> list[int]:
        """Token ids of `["BOS", t1, ...]`; an `InputError` names a bad position and token."""
        return encode(self.weights, seq)

    def decode_output(self, array: Any) -> list[Value]:
        """Decode raw output-space rows `[seq, output directions]` (e.g. `apply(...).output`)
        into one value per position (the BOS row included, decoded like any other); torch
        tensors too, such as the logits of `tracr_ir.export.to_transformer_lens`'s model."""
        if hasattr(array, "detach"):  # a torch tensor, maybe requiring grad
            array = array.detach().cpu().numpy()
        return decode_output(self.weights.output, np.asarray(array))

    def _run(self, encoded: Sequence[Sequence[int]], n_real: Sequence[int],
             outputs_only: bool = False) -> Any:
        """The forward on token ids (`encoded[b]`, whose first `n_real[b]` positions are real),
        padded to `[batch_bucket, max_seq_len + 1]` with PAD; the padded positions and rows
        are masked out of every attention (a padded row is a lone BOS). All arrays, or only
        the output coordinates (a separately jitted forward) if `outputs_only`."""
        w = self.weights
        n, rows = w.max_seq_len + 1, batch_bucket(len(encoded))
        ids = np.full((rows, n), w.token_ids[w.pad], dtype=np.int32)
        ids[:, 0] = w.token_ids[w.bos]
        mask = np.zeros((rows, n), dtype=bool)
        mask[:, 0] = True
        for b, (e, k) in enumerate(zip(encoded, n_real)):
            ids[b, : len(e)] = e
            mask[b, :k] = True
        run = self._jitted_output if outputs_only else self._jitted
        return jax.device_get(run(self.params, ids, visible_keys(mask, w.causal)))

    def apply(self, seq: Sequence[Any]) -> ApplyResult:
        """Run one sequence `["BOS", t1, ...]`, which may end in PAD tokens as in tracr
        (`["BOS", t1, t2, "PAD", "PAD"]`, up to `max_seq_len` after BOS).

        PAD positions are masked out of every attention, so the other positions get the
        outputs of the unpadded input; `decoded` holds the PAD token at PAD positions (tracr
        decodes whatever its model computes there). The arrays of the result have one row
        per position of `seq`."""
        n_real = self._unpadded_length(seq)
        ids = self.encode(seq[:n_real])
        ids += [self.weights.token_ids[self.weights.pad]] * (len(seq) - n_real)
        embeddings, residuals, output = self._run([ids], [n_real])
        n = len(ids)
        decoded = self.decode_output(output[0][:n_real])[1:]
        return ApplyResult(
            decoded=[self.weights.bos, *decoded, *[self.weights.pad] * (n - n_real)],
            embeddings=np.asarray(embeddings[0][:n]),
            residuals=[np.asarray(r[0][:n]) for r in residuals],
            output=np.asarray(output[0][:n]),
        )

    def _unpadded_length(self, seq: Sequence[Any]) -> int:
        """The positions of `seq` before its trailing PADs (all of them if there are none)."""
        if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
            return len(self.encode(seq))  # `encode` names the problem: not a list of tokens
        pad = self.weights.pad
        is_pad = [isinstance(t, str) and t == pad for t in seq]
        if not any(is_pad[1:]):
            return len(seq)
        first = is_pad.index(True, 1)
        if not all(is_pad[first:]):
            later = first + is_pad[first:].index(False)
            raise InputError(f"PAD token {pad!r} at position {first} is followed by "
                             f"{seq[later]!r} at position {later}: PAD may only end the input")
        if len(seq) > self.weights.max_seq_len + 1:
            raise InputError(f"the input has {len(seq) - 1} tokens after BOS (PAD included), "
                             f"more than max_seq_len {self.weights.max_seq_len}")
        return first

    def apply_batch(self, seqs: Sequence[Sequence[Any]]) -> list[list[Value]]:
        """Decoded outputs of sequences of any lengths, run as right-padded batches (chunks of
        at most MAX_CHUNK sequences, each padded to a power-of-two number of rows).

        Padded positions are masked out of every attention, so each result equals `apply`'s.
        """
        if isinstance(seqs, (str, bytes)) or not isinstance(seqs, Sequence):
            raise InputError(f"apply_batch takes a list of sequences, got {type(seqs).__name__}")
        encoded = []
        for b, seq in enumerate(seqs):
            try:
                encoded.append(self.encode(seq))
            except InputError as e:
                raise InputError(f"sequence {b} of the batch: {e}") from None
        results: list[list[Value]] = []
        for start in range(0, len(encoded), MAX_CHUNK):
            chunk = encoded[start:start + MAX_CHUNK]
            output = self._run(chunk, [len(e) for e in chunk], outputs_only=True)
            results += [[self.weights.bos, *self.decode_output(out[: len(e)])[1:]]
                        for out, e in zip(output, chunk)]
        return results

    def save(self, path: str | Path) -> None:
        """Write the model at `path` (`sort.mlir`: the transformer IR text) with its weights
        as safetensors and a JSON of what they mean beside it (`sort.safetensors`,
        `sort.json`; docs/formats.md); `tracr_ir.load(path)` builds it again, bit-exact."""
        from tracr_ir.export.files import save_model

        text = self.ir.get("transformer") or print_module(ModelOp.from_weights(self.weights))
        attributes = {name: list(getattr(self, name)) for name in MODEL_ATTRIBUTES
                      if getattr(self, name)}
        save_model(self.weights, self.ir, path, text, attributes)

    def stats(self) -> dict[str, Any]:
        """Sizes: `layers`, `heads` and `mlp_hidden` (max per layer), `residual` (width),
        `proven_optimal` (the allocation stages proven optimal, `craft-allocate-layers`),
        `params` (weights stored), `nonzero_params`, and `dense_params`: the count if every
        layer were padded, as tracr does, to the most heads, the widest head and the widest
        MLP, with tracr's bias vectors (one per projection)."""
        w = self.weights
        heads = [len(layer.heads) for layer in w.layers]
        hidden = [mlp.hidden for mlp in w.mlps()]
        widths = [max(h.w_q.shape[1], h.w_v.shape[1]) for x in w.layers for h in x.heads]
        arrays = param_arrays(w).values()
        d, n_layers = w.d_model, len(w.layers)
        hk = max(heads, default=0) * max(widths, default=0) or 1  # tracr: >= 1 head of size 1
        h = max(hidden, default=0) or 1
        dense = w.token_embed.size + w.pos_embed.size + n_layers * (
            3 * (d * hk + hk) + hk * d + d + d * h + h + h * d + d)
        return {
            "layers": n_layers,
            "heads": max(heads, default=0),
            "mlp_hidden": max(hidden, default=0),
            "residual": d,
            "params": sum(a.size for a in arrays),
            "nonzero_params": sum(int(np.count_nonzero(a)) for a in arrays),
            "dense_params": dense,
            "heads_per_layer": heads,
            "mlp_hidden_per_layer": hidden,
            "proven_optimal": list(self.proven_optimal),
        }


def build(module: Operation | str, ir: MutableMapping[str, str] | None = None) -> CompiledModel:
    """A `CompiledModel` from a module (or IR text) holding one `transformer.model`; `ir`
    becomes its `ir` (stage name -> IR text; empty by default)."""
    if isinstance(module, str):
        module = parse_module(module)
    op = module if isinstance(module, ModelOp) else stage_op(module)
    if not isinstance(op, ModelOp):
        raise IRError(f"the JAX backend takes a transformer.model, got {op.name}: run the "
                      "pipeline down to the transformer dialect first")
    verify_module(op)
    w = op.weights()
    params = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in param_arrays(w).items()}
    return CompiledModel(w, params, [str(label) for label in w.residual],
                         {} if ir is None else ir, **model_attributes(op))


#: The model op's discardable attributes a `CompiledModel` keeps (lists of strings; saved
#: with the model): the allocation stages proven optimal and the reused positions' occupants.
MODEL_ATTRIBUTES = ("proven_optimal", "residual_history")


def model_attributes(op: Operation) -> dict[str, tuple[str, ...]]:
    """`MODEL_ATTRIBUTES` of `op` that it has, as tuples of strings."""
    out = {}
    for name in MODEL_ATTRIBUTES:
        attr = op.attributes.get(name)
        if isinstance(attr, ArrayAttr):
            out[name] = tuple(x.data for x in attr.data)  # type: ignore[attr-defined]
    return out


def load(path: str | Path) -> CompiledModel:
    """The model `CompiledModel.save` wrote at `path` (or a file of transformer IR text); a
    missing or corrupt file is a `ModelFileError` naming it."""
    from tracr_ir.export.files import read_model

    op, stages = read_model(path)
    model = build(op)
    model.ir.update(stages)
    return model
