"""A compiled model as a TransformerLens 4.x model (`TransformerBridge` over TL's native
transformer), with the same residual stream at every hook.

```python
from tracr_ir.export import to_transformer_lens, tl_tokens
tl = to_transformer_lens(model)                    # a transformer_lens TransformerBridge
tokens = tl_tokens(model, ["BOS", 3, 1, 2])        # torch ids [1, seq]: ours, unchanged
logits, cache = tl.run_with_cache(tokens)
model.decode_output(logits[0])                     # == model.apply(["BOS", 3, 1, 2]).decoded
cache["blocks.0.hook_resid_mid"][0]                # == model.apply(...).residuals[0]
```

TransformerLens 4.0 removed `HookedTransformer`; its successor is `TransformerBridge`, and
`TransformerBridge.boot_native(config)` builds TL's own GPT-style transformer (no
HuggingFace model) with the HookedTransformer hook names (`hook_embed`, `hook_pos_embed`,
`blocks.{i}.hook_resid_pre`, `.hook_resid_mid`, `.hook_resid_post`, `.attn.hook_pattern`,
`.mlp.hook_post`, ...) and weight views (`W_E`, `W_pos`, `W_Q`, ..., `W_U`).

How our model maps onto it (`tl_config`, `tl_state_dict`):
- Tokens: TL token ids are ours (`model.weights.token_ids`: the vocab in order, then BOS,
  then PAD), so `d_vocab = len(vocab) + 2`; `n_ctx = max_seq_len + 1` (BOS is position 0).
  `W_E`, `W_pos` are our `token_embed`, `pos_embed`.
- Attention: `n_heads` is the most heads of any layer and `d_head` the widest head (query,
  key or value side) rounded up to a power of 4; missing heads and columns are zeros, biases
  are zero. A zero head adds exactly zero (its values are 0). TL divides scores by
  `sqrt(d_head)`, a power of two, so `W_Q` carries that factor exactly (float32 scaling by a
  power of two is exact): the scores, and so `hook_attn_scores` and `hook_pattern`, are ours.
  `attention_dir` is `causal` for a causal model, `bidirectional` otherwise.
- MLP: `act_fn="relu"`, `d_mlp` the widest layer's hidden width, zero-padded (a zero unit
  adds relu(0) * 0 = 0); `b_in`, `b_out` are ours.
- Normalization: none (`normalization_type=None`), set in one place, `normalization`.
- Unembedding: the logits are the output space, the coordinates `apply(...).output` holds:
  `W_U` [d_model, n_outputs] has a 1 at (output direction j's residual row, j) and zeros
  elsewhere, `b_U = 0`, so logit j is the residual coordinate of output label j exactly
  (categorical: one logit per output value, in `model.weights.output.labels` order;
  numerical: one logit, the number). `model.decode_output(logits[b])` decodes them as ours.

PAD: `tl_attention_mask` gives TL's `attention_mask` (1 at real positions, 0 at PAD), which
TL's attention applies to keys exactly as our backend masks PAD keys, so a right-padded input
run with it matches `apply` at every position and hook (PAD positions included). Without the
mask, PAD positions are ordinary keys to TL and the real positions' results can differ.
Torch and transformer-lens (the `export` extra) are imported when these functions run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tracr_ir.errors import InputError, TracrIRError
from tracr_ir.model import Label, ModelWeights

if TYPE_CHECKING:
    import torch

__all__ = ["ExportError", "normalization", "tl_attention_mask", "tl_config", "tl_state_dict",
           "tl_tokens", "to_transformer_lens"]


class ExportError(TracrIRError, ImportError):
    """The export needs packages that are not installed (the `export` extra)."""


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ExportError(f"the TransformerLens export needs {module} ({e}): "
                          "pip install 'tracr-ir[export]'") from None


def _weights(model: Any) -> ModelWeights:
    return model if isinstance(model, ModelWeights) else model.weights


def head_width(w: ModelWeights) -> int:
    """TL's `d_head`: the widest head (query/key or value side) rounded up to a power of 4, so
    that TL's score scale 1/sqrt(d_head) is a power of two (1 if there are no heads)."""
    widest = max((max(h.w_q.shape[1], h.w_v.shape[1]) for x in w.layers for h in x.heads),
                 default=1)
    width = 1
    while width < widest:
        width *= 4
    return width


def normalization(w: ModelWeights) -> dict[str, Any]:
    """The config's normalization: the one place that sets it.

    A model without LayerNorm has none. Weights whose `layer_norm` is set (an object with
    `eps` and `output_scale`) get TL's `LNPre` (x - mean, over sqrt(mean of squares + eps), no
    weights) before every attention and MLP and before the unembedding (`_unembedding` reads
    the output relative to `ln_zero`, times `output_scale`)."""
    norm = getattr(w, "layer_norm", None)
    if norm is None:
        return {"normalization_type": None}
    return {"normalization_type": "LNPre", "eps": float(norm.eps)}


def _unembedding(w: ModelWeights) -> np.ndarray:
    """`W_U^T` [n_outputs, d_model]: logit j is output label j's coordinate; with a LayerNorm,
    `(LN(x)[label] - LN(x)[ln_zero]) * output_scale`."""
    unembed = np.zeros((len(w.output.labels), w.d_model), np.float32)
    norm = getattr(w, "layer_norm", None)
    scale = 1.0 if norm is None else float(norm.output_scale)
    zero = list(w.residual).index(Label("ln_zero")) if (
        norm is not None and Label("ln_zero") in w.residual) else None
    for j, row in enumerate(w.output_indices):
        unembed[j, row] = scale
        if zero is not None:
            unembed[j, zero] -= scale
    return unembed


def tl_config(model: Any) -> Any:
    """The `TransformerBridgeConfig` of the TL model (see the module docstring)."""
    w = _weights(model)
    config = _require("transformer_lens.config")
    return config.TransformerBridgeConfig(
        d_model=w.d_model,
        d_head=head_width(w),
        n_heads=max(1, max((len(x.heads) for x in w.layers), default=0)),
        n_layers=len(w.layers),
        d_mlp=max(1, max((m.hidden for m in w.mlps()), default=0)),
        n_ctx=w.max_seq_len + 1,
        d_vocab=len(w.token_ids),
        d_vocab_out=len(w.output.labels),
        act_fn="relu",
        attention_dir="causal" if w.causal else "bidirectional",
        positional_embedding_type="standard",
        init_weights=False,
        dtype=_require("torch").float32,
        **normalization(w),
    )


def tl_state_dict(model: Any) -> dict[str, np.ndarray]:
    """The TL model's weights by its state-dict names (`embed.weight`,
    `blocks.{i}.attn.q.weight`, ...; torch `Linear` layout `[out, in]`), float32 numpy."""
    w = _weights(model)
    d, d_head = w.d_model, head_width(w)
    n_heads = max(1, max((len(x.heads) for x in w.layers), default=0))
    d_mlp = max(1, max((m.hidden for m in w.mlps()), default=0))
    scale = np.float32(np.sqrt(d_head))  # a power of two: exact
    state = {"embed.weight": w.token_embed, "pos_embed.weight": w.pos_embed}
    for i, (layer, mlp) in enumerate(zip(w.layers, w.mlps())):
        qkv = {n: np.zeros((n_heads * d_head, d), np.float32) for n in "qkv"}
        out = np.zeros((d, n_heads * d_head), np.float32)
        for j, head in enumerate(layer.heads):
            rows = slice(j * d_head, j * d_head + head.w_q.shape[1])
            qkv["q"][rows] = head.w_q.T * scale
            qkv["k"][rows] = head.w_k.T
            rows = slice(j * d_head, j * d_head + head.w_v.shape[1])
            qkv["v"][rows] = head.w_v.T
            out[:, rows] = head.w_o.T
        prefix = f"blocks.{i}"
        for n in "qkv":
            state[f"{prefix}.attn.{n}.weight"] = qkv[n]
            state[f"{prefix}.attn.{n}.bias"] = np.zeros(n_heads * d_head, np.float32)
        state[f"{prefix}.attn.o.weight"] = out
        state[f"{prefix}.attn.o.bias"] = np.zeros(d, np.float32)
        w_in = np.zeros((d_mlp, d), np.float32)
        b_in = np.zeros(d_mlp, np.float32)
        w_out = np.zeros((d, d_mlp), np.float32)
        w_in[: mlp.hidden], b_in[: mlp.hidden] = mlp.w_1.T, mlp.b_1
        w_out[:, : mlp.hidden] = mlp.w_2.T
        state |= {f"{prefix}.mlp.in.weight": w_in, f"{prefix}.mlp.in.bias": b_in,
                  f"{prefix}.mlp.out.weight": w_out, f"{prefix}.mlp.out.bias": mlp.b_2}
    unembed = _unembedding(w)
    state |= {"unembed.weight": unembed, "unembed.bias": np.zeros(len(unembed), np.float32)}
    return {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in state.items()}


def to_transformer_lens(model: Any) -> Any:
    """The compiled model (a `CompiledModel` or its `ModelWeights`) as a TransformerLens
    `TransformerBridge` on CPU, in float32 and eval mode."""
    torch = _require("torch")
    _require("transformer_lens.model_bridge.sources.native")  # attaches boot_native
    bridge_module = _require("transformer_lens.model_bridge")
    bridge = bridge_module.TransformerBridge.boot_native(tl_config(model), device="cpu")
    state = {k: torch.from_numpy(v.copy()) for k, v in tl_state_dict(model).items()}
    missing = set(bridge.state_dict()) ^ set(state)
    if missing:  # a TransformerLens whose native model has other parameters
        raise ExportError(f"this transformer-lens names its weights differently: "
                          f"{sorted(missing)[:4]} (tracr-ir supports transformer-lens 4.x)")
    bridge.load_state_dict(state, strict=True)
    return bridge.eval()


def tl_tokens(model: Any, seqs: Sequence[Any]) -> torch.Tensor:
    """TL token ids `[batch, seq]` (int64) of one input `["BOS", t1, ...]` or of a list of
    inputs, right-padded with PAD to the longest (use `tl_attention_mask` with them).
    A trailing run of PAD tokens is allowed, as in `apply`."""
    torch = _require("torch")
    w = _weights(model)
    batch = [seqs] if _is_one_input(seqs, w) else list(seqs)
    encoded = [_encode_padded(w, seq) for seq in batch]
    n = max(map(len, encoded), default=0)
    pad = w.token_ids[w.pad]
    return torch.tensor([e + [pad] * (n - len(e)) for e in encoded], dtype=torch.int64)


def tl_attention_mask(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """TL's `attention_mask` for `tokens` from `tl_tokens`: 1 before a sequence's trailing
    PADs, 0 on them (BOS at 0 is never PAD)."""
    torch = _require("torch")
    pad = _weights(model).token_ids[_weights(model).pad]
    is_pad = (tokens == pad).flip(-1).cumprod(-1).flip(-1).bool()  # trailing PADs only
    return (~is_pad).to(torch.int64)


def _is_one_input(seqs: Any, w: ModelWeights) -> bool:
    return (isinstance(seqs, Sequence) and not isinstance(seqs, (str, bytes)) and len(seqs) > 0
            and isinstance(seqs[0], str) and seqs[0] == w.bos)


def _encode_padded(w: ModelWeights, seq: Sequence[Any]) -> list[int]:
    from tracr_ir.interpreters.transformer import encode

    if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
        raise InputError(f"an input is a list of tokens starting with {w.bos!r}, "
                         f"got {type(seq).__name__}")
    is_pad = [isinstance(t, str) and t == w.pad for t in seq]
    n_real = is_pad.index(True, 1) if any(is_pad[1:]) else len(seq)
    if not all(is_pad[n_real:]):
        raise InputError(f"PAD token {w.pad!r} at position {n_real} is followed by a token: "
                         "PAD may only end the input")
    if len(seq) > w.max_seq_len + 1:
        raise InputError(f"the input has {len(seq) - 1} tokens after BOS (PAD included), "
                         f"more than max_seq_len {w.max_seq_len}")
    return encode(w, seq[:n_real]) + [w.token_ids[w.pad]] * (len(seq) - n_real)
