"""The TransformerLens export: the TL model decodes like ours and has our residual at every
hook (make_sort_unique, make_frac_prevs, make_shuffle_dyck2, with and without
`layer_norm=True`, a causal model, padded batches).
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from tracr_ir import compile_rasp_to_model, lib, rasp
from tracr_ir.model import LN_ZERO
from tracr_ir.testing import outputs_equal

torch = pytest.importorskip("torch")
pytest.importorskip("transformer_lens")

from tracr_ir.export import (normalization, tl_attention_mask, tl_config,  # noqa: E402
                             tl_state_dict, tl_tokens, to_transformer_lens)

DYCK = ["(", ")", "{", "}", "a"]
BASE = {
    "sort_unique": (lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), [1, 2, 3, 4, 5, 6],
                    5, False),
    "frac_prevs": (lambda: lib.make_frac_prevs(rasp.tokens == "x"), ["x", "a", "b"], 6, False),
    "shuffle_dyck2": (lib.make_shuffle_dyck2, DYCK, 6, False),
    "frac_prevs_causal": (lambda: lib.make_frac_prevs(rasp.tokens == "x"), ["x", "a", "b"], 6,
                          True),
}
# name -> (program, vocab, max_seq_len, causal, layer_norm)
PROGRAMS = {**{k: (*v, False) for k, v in BASE.items()},
            **{f"{k}_ln": (*BASE[k], True) for k in ("sort_unique", "frac_prevs",
                                                     "shuffle_dyck2")}}


@pytest.fixture(scope="module", params=list(PROGRAMS))
def pair(request):
    make, vocab, max_seq_len, causal, layer_norm = PROGRAMS[request.param]
    model = compile_rasp_to_model(make(), vocab, max_seq_len, causal=causal,
                                  layer_norm=layer_norm)
    return request.param, model, to_transformer_lens(model)


def _inputs(name: str, model, n: int = 6) -> list[list]:
    """Full-length inputs and one of each shorter length, seeded."""
    w, rng = model.weights, random.Random(0)

    def draw(length: int) -> list:
        if name.startswith("sort_unique"):  # its keys must be unique
            return ["BOS", *rng.sample(list(w.vocab), length)]
        return ["BOS", *(rng.choice(w.vocab) for _ in range(length))]

    return ([draw(w.max_seq_len) for _ in range(n)]
            + [draw(length) for length in range(1, w.max_seq_len)])


def _apply(model, seq: list):
    """`apply` on `seq` right-padded to max_seq_len (one jit shape; PAD is masked, so the
    real positions get the unpadded input's results)."""
    return model.apply(seq + ["PAD"] * (model.weights.max_seq_len + 1 - len(seq)))


def _hooks(cache, n_layers: int) -> list[np.ndarray]:
    """TL's residual after embedding, then after each sublayer (our `residuals` order)."""
    out = [cache["blocks.0.hook_resid_pre"][0]]
    for i in range(n_layers):
        out += [cache[f"blocks.{i}.hook_resid_mid"][0], cache[f"blocks.{i}.hook_resid_post"][0]]
        if i + 1 < n_layers:  # resid_pre of the next layer is the same tensor
            assert torch.equal(cache[f"blocks.{i + 1}.hook_resid_pre"][0], out[-1])
    return [t.detach().numpy() for t in out]


def test_decodes_and_every_hook_equals_ours(pair):
    name, model, tl = pair
    n_layers = len(model.weights.layers)
    for seq in _inputs(name, model):
        ours, n = _apply(model, seq), len(seq)
        with torch.no_grad():
            logits, cache = tl.run_with_cache(tl_tokens(model, seq))  # unpadded
        # categorical outputs equal; numerical ones up to float32 rounding (with a LayerNorm,
        # TL's and ours sum in different orders)
        assert outputs_equal(model.decode_output(logits[0])[1:], ours.decoded[1:n],
                             abs_tol=1e-6), seq
        embed = (cache["hook_embed"] + cache["hook_pos_embed"])[0].numpy()
        np.testing.assert_array_equal(embed, ours.embeddings[:n])
        for i, (theirs, mine) in enumerate(zip(_hooks(cache, n_layers),
                                               [ours.embeddings, *ours.residuals])):
            np.testing.assert_allclose(theirs, mine[:n], rtol=1e-5, atol=1e-5,
                                       err_msg=f"{name} {seq}: residual {i}")
        np.testing.assert_allclose(logits[0].numpy(), ours.output[:n], rtol=1e-5, atol=1e-5)


def test_logits_are_the_output_coordinates_exactly(pair):
    """Without a LayerNorm the logits are the output coordinates of the last residual; with
    one, `(LN(x)[label] - LN(x)[ln_zero]) * output_scale` of TL's own `ln_final` output."""
    name, model, tl = pair
    w = model.weights
    seq = _inputs(name, model)[0]
    with torch.no_grad():
        logits, cache = tl.run_with_cache(tl_tokens(model, seq))
    assert logits.shape[-1] == len(w.output.labels)
    if w.layer_norm is None:
        last = cache[f"blocks.{len(w.layers) - 1}.hook_resid_post"][0]
        assert torch.equal(logits[0], last[:, list(w.output_indices)])
        return
    normed = cache["ln_final.hook_normalized"][0].numpy().astype(np.float64)
    zero = list(w.residual).index(LN_ZERO)
    expected = (normed[:, list(w.output_indices)] - normed[:, [zero]]) * w.layer_norm.output_scale
    np.testing.assert_allclose(logits[0].numpy(), expected, rtol=1e-6, atol=1e-6)


def test_config(pair):
    name, model, tl = pair
    w = model.weights
    assert tl.cfg.attention_dir == ("causal" if w.causal else "bidirectional")
    assert tl.cfg.normalization_type == (None if w.layer_norm is None else "LNPre")
    assert tl.cfg.act_fn == "relu"
    assert (tl.cfg.d_vocab, tl.cfg.n_ctx) == (len(w.vocab) + 2, w.max_seq_len + 1)
    assert tl.cfg.n_heads == max(1, *(len(x.heads) for x in w.layers))
    d_head = tl.cfg.d_head
    assert d_head & (d_head - 1) == 0 and d_head.bit_length() % 2 == 1  # a power of 4
    torch.testing.assert_close(tl.W_E, torch.from_numpy(np.array(w.token_embed)))
    torch.testing.assert_close(tl.W_pos, torch.from_numpy(np.array(w.pos_embed)))


def test_padded_heads_and_layers_without_heads():
    """shuffle_dyck2 has 1, 4, 0, 0, 1, 1, 0 heads: the missing ones are zero heads."""
    model = compile_rasp_to_model(lib.make_shuffle_dyck2(), DYCK, 4)
    heads = [len(x.heads) for x in model.weights.layers]
    assert 0 in heads and len(set(heads)) > 2
    state = tl_state_dict(model)
    d_head, n_heads = tl_config(model).d_head, max(heads)
    for i, layer in enumerate(model.weights.layers):
        out = state[f"blocks.{i}.attn.o.weight"]
        assert not out[:, len(layer.heads) * d_head:].any()
        for j, head in enumerate(layer.heads):  # W_O back where it was, the rest zero
            block = out[:, j * d_head:(j + 1) * d_head]
            np.testing.assert_array_equal(block[:, : head.w_o.shape[0]], head.w_o.T)
            assert not block[:, head.w_o.shape[0]:].any()
    assert state["blocks.0.attn.q.weight"].shape == (n_heads * d_head, model.weights.d_model)


def test_padded_batch_with_attention_mask_matches_apply():
    model = compile_rasp_to_model(lib.make_frac_prevs(rasp.tokens == "x"), ["x", "a"], 5)
    tl = to_transformer_lens(model)
    seqs = [["BOS", "x"], ["BOS", "a", "x", "x", "a", "x"], ["BOS", "x", "a", "PAD"]]
    tokens = tl_tokens(model, seqs)
    mask = tl_attention_mask(model, tokens)
    assert mask.tolist() == [[1, 1, 0, 0, 0, 0], [1] * 6, [1, 1, 1, 0, 0, 0]]
    with torch.no_grad():
        logits, cache = tl.run_with_cache(tokens, attention_mask=mask)
    for b, seq in enumerate(seqs):
        n = len(seq) - seq.count("PAD")
        assert model.decode_output(logits[b, :n])[1:] == model.apply(seq).decoded[1:n]
        padded = seq + ["PAD"] * (tokens.shape[1] - len(seq))
        ours = model.apply(padded)  # PAD positions too: the same residual
        np.testing.assert_allclose(cache["blocks.1.hook_resid_post"][b].numpy(),
                                   ours.residuals[-1], atol=1e-6)


def test_tl_tokens_refuses_bad_inputs():
    from tracr_ir.errors import InputError

    model = compile_rasp_to_model(lib.make_frac_prevs(rasp.tokens == "x"), ["x", "a"], 3)
    with pytest.raises(InputError, match="position 1"):
        tl_tokens(model, ["BOS", "y"])
    with pytest.raises(InputError, match="PAD may only end"):
        tl_tokens(model, ["BOS", "PAD", "x"])
    with pytest.raises(InputError, match="max_seq_len 3"):
        tl_tokens(model, ["BOS", "x", "x", "x", "x"])


def test_layer_norm_config_is_lnpre_with_the_model_eps():
    model = compile_rasp_to_model(lib.make_frac_prevs(rasp.tokens == "x"), ["x", "a"], 4,
                                  layer_norm=1e-4)
    assert normalization(model.weights) == {"normalization_type": "LNPre", "eps": 1e-4}
    assert to_transformer_lens(model).cfg.eps == 1e-4


def test_import_tracr_ir_stays_light():
    heavy = ("torch", "transformer_lens", "matplotlib", "jax", "safetensors")
    code = ("import sys, tracr_ir, tracr_ir.compiler, tracr_ir.export, tracr_ir.viz, "
            "tracr_ir.export.files, tracr_ir.tools.compile\n"
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_layer_norm_model_saves_and_loads(tmp_path):
    import tracr_ir

    model = compile_rasp_to_model(lib.make_frac_prevs(rasp.tokens == "x"), ["x", "a"], 4,
                                  layer_norm=True)
    model.save(tmp_path / "m.mlir")
    loaded = tracr_ir.load(tmp_path / "m.safetensors")
    assert loaded.weights.layer_norm == model.weights.layer_norm is not None
    seq = ["BOS", "x", "a", "x", "x"]
    np.testing.assert_array_equal(loaded.apply(seq).output, model.apply(seq).output)
    assert loaded.apply(seq).decoded == model.apply(seq).decoded
