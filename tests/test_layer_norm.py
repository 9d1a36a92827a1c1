"""compile_rasp_to_model(layer_norm=True): exact under a LayerNorm before every sublayer."""

from __future__ import annotations

import numpy as np
import pytest

from lib_cases import LIB_CASES
from tracr_ir import rasp
from tracr_ir.compiler import compile_rasp_to_model, parse_module, print_module
from tracr_ir.craft.tolerances import output_tolerance
from tracr_ir.errors import PipelineError
from tracr_ir.interpreters.transformer import encode, forward
from tracr_ir.model import LayerNorm

CASES = {c.name: c for c in LIB_CASES}


def _exact(case, model, max_seq_len: int, n: int) -> None:
    program = case.make(max_seq_len)
    inputs = case.inputs(max_seq_len, n)
    got = model.apply_batch([["BOS", *xs] for xs in inputs])
    for xs, out in zip(inputs, got):
        want = rasp.evaluate(program, xs)
        for a, b in zip(want, out[1:]):
            if isinstance(a, (int, float)) and isinstance(b, float):
                assert abs(a - b) <= output_tolerance(abs(a)), (case.name, xs, want, out)
            else:
                assert a == b, (case.name, xs, want, out)


def _compile(case, max_seq_len: int, **kwargs):
    return compile_rasp_to_model(case.make(max_seq_len), case.vocab, max_seq_len, **kwargs)


@pytest.mark.parametrize("name", ["make_length", "make_frac_prevs", "make_sort_unique"])
def test_layer_norm_model_is_exact(name):
    case = CASES[name]
    model = _compile(case, 5, layer_norm=True)
    assert model.weights.layer_norm is not None
    _exact(case, model, 5, 40)


@pytest.mark.slow
@pytest.mark.parametrize("case", LIB_CASES, ids=lambda c: c.name)
def test_every_lib_program_is_exact_under_layer_norm(case):
    _exact(case, _compile(case, 5, layer_norm=True), 5, 100)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["make_sort_unique", "make_frac_prevs", "make_shuffle_dyck2"])
def test_layer_norm_at_max_seq_len_10(name):
    case = CASES[name]
    _exact(case, _compile(case, 10, layer_norm=True), 10, 100)


def test_the_weights_without_the_construction_break_under_layer_norm():
    """The plain weights, run with a LayerNorm (what the construction fixes), decode wrong."""
    case = CASES["make_frac_prevs"]
    plain = _compile(case, 5)
    w = plain.weights
    broken = type(w)(w.vocab, w.max_seq_len, [*w.residual, "ln_zero"],
                     np.hstack([w.token_embed, np.zeros((len(w.token_embed), 1))]),
                     np.hstack([w.pos_embed, np.zeros((len(w.pos_embed), 1))]),
                     [], w.output, w.bos, w.pad, w.causal, LayerNorm(1e-5))
    program = case.make(5)
    wrong = 0
    for xs in case.inputs(5, 20):
        ids = np.array(encode(broken, ["BOS", *xs]))
        out = forward(broken, ids).output[1:, 0]
        wrong += any(abs(a - b) > 1e-3 for a, b in zip(rasp.evaluate(program, xs), out))
    assert wrong > 0
    # and with the layers: the same program through the plain layers under LN is wrong too
    layered = type(w)(w.vocab, w.max_seq_len, broken.residual, broken.token_embed,
                      broken.pos_embed,
                      [type(x)([type(h)(*(np.vstack([getattr(h, n), np.zeros((1, getattr(
                          h, n).shape[1]))]) for n in ("w_q", "w_k", "w_v")),
                          np.hstack([h.w_o, np.zeros((h.w_o.shape[0], 1))]), label=h.label)
                          for h in x.heads]) for x in w.layers],
                      w.output, w.bos, w.pad, w.causal, LayerNorm(1e-5))
    bad = sum(
        any(abs(a - b) > 1e-3 for a, b in zip(
            rasp.evaluate(program, xs),
            forward(layered, np.array(encode(layered, ["BOS", *xs]))).output[1:, 0]))
        for xs in case.inputs(5, 20))
    assert bad > 0


def test_numpy_interpreter_agrees_with_jax_under_layer_norm():
    case = CASES["make_sort_unique"]
    model = _compile(case, 5, layer_norm=True)
    for xs in case.inputs(5, 10):
        ids = np.array(encode(model.weights, ["BOS", *xs]))
        ours = forward(model.weights, ids)
        theirs = model.apply(["BOS", *xs])
        assert np.allclose(ours.output, theirs.output, atol=1e-4)
        assert model.decode_output(ours.output) == model.decode_output(theirs.output)


def test_layer_norm_prints_and_parses():
    model = _compile(CASES["make_length"], 4, layer_norm=True)
    text = model.ir["transformer"]
    assert "layer_norm eps 1.0e-05 output_scale" in text
    assert "ln_zero" in text and "ln_ballast_pos" in text
    again = parse_module(text)
    assert print_module(again) == text
    plain = _compile(CASES["make_length"], 4)
    assert "layer_norm" not in plain.ir["transformer"]


def test_layer_norm_refuses_compress_and_bad_eps():
    case = CASES["make_length"]
    with pytest.raises(PipelineError, match="do not compose"):
        _compile(case, 4, layer_norm=True, compress="lossless")
    with pytest.raises(Exception, match="positive eps"):
        _compile(case, 4, layer_norm=-1.0)


def test_transformer_layer_norm_needs_the_plan():
    from tracr_ir.compiler import default_pipeline, run_pipeline, to_ir

    case = CASES["make_length"]
    module = to_ir(case.make(4), case.vocab, 4)
    with pytest.raises(PipelineError, match="craft-layer-norm"):
        run_pipeline(module, default_pipeline() + ",transformer-layer-norm")
