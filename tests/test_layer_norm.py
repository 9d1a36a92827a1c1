"""compile_rasp_to_model(layer_norm=True): exact under a LayerNorm before every sublayer."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings

from lib_cases import LIB_CASES
from tracr_ir import rasp
from tracr_ir.compiler import (DEFAULT_PIPELINE, compile_rasp_to_model, interpret,
                               layer_norm_pipeline, parse_module, print_module, run_pipeline,
                               stage_op, to_ir)
from tracr_ir.craft.tolerances import output_tolerance
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.interpreters.transformer import decode_output, encode, forward
from tracr_ir.model import LN_ZERO, MLP, Head, LayerNorm, ModelWeights
from tracr_ir.testing import outputs_equal, program_cases

CASES = {c.name: c for c in LIB_CASES}
SLOW = os.environ.get("HYPOTHESIS_PROFILE") == "slow"


def _exact(case, model, max_seq_len: int, n: int) -> None:
    program = case.make(max_seq_len)
    inputs = case.inputs(max_seq_len, n)
    got = model.apply_batch([["BOS", *xs] for xs in inputs])
    for xs, out in zip(inputs, got):
        want = rasp.evaluate(program, xs)
        assert all(_equal(a, b) for a, b in zip(want, out[1:])), (case.name, xs, want, out)


def _compile(case, max_seq_len: int, **kwargs):
    return compile_rasp_to_model(case.make(max_seq_len), case.vocab, max_seq_len, **kwargs)


@pytest.mark.parametrize("name", ["make_frac_prevs", "make_sort_unique"])
def test_layer_norm_model_is_exact(name):
    case = CASES[name]
    model = _compile(case, 5, layer_norm=True)
    assert model.weights.layer_norm is not None
    _exact(case, model, 5, 40)


@pytest.mark.parametrize("case", LIB_CASES, ids=lambda c: c.name)
def test_every_lib_program_is_exact_under_layer_norm(case):
    _exact(case, _compile(case, 5, layer_norm=True), 5, 100)


@pytest.mark.parametrize("name", ["make_sort_unique", "make_frac_prevs", "make_shuffle_dyck2"])
def test_layer_norm_at_max_seq_len_10(name):
    case = CASES[name]
    _exact(case, _compile(case, 10, layer_norm=True), 10, 100)


def _with_plain_layer_norm(w):
    """`w` unchanged but for an all-zero `ln_zero` direction and a LayerNorm (scale 1)."""
    def widen(a, axis):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (0, 1)
        return np.pad(a, pad)

    layers = [([Head(widen(h.w_q, 0), widen(h.w_k, 0), widen(h.w_v, 0), widen(h.w_o, 1),
                     label=h.label) for h in x.heads],
               None if x.mlp is None else MLP(widen(x.mlp.w_1, 0), x.mlp.b_1, widen(x.mlp.w_2, 1),
                                              widen(x.mlp.b_2, 0)))
              for x in w.layers]
    return ModelWeights(w.vocab, w.max_seq_len, [*w.residual, LN_ZERO], widen(w.token_embed, 1),
                        widen(w.pos_embed, 1), layers, w.output, w.bos, w.pad, w.causal,
                        LayerNorm(1e-5))


@pytest.mark.parametrize("name", ["make_frac_prevs", "make_sort_unique", "make_hist"])
def test_the_weights_without_the_construction_break_under_layer_norm(name):
    """The default weights with a LayerNorm inserted decode wrong; the same program built with
    layer_norm=True decodes right on the same inputs."""
    case = CASES[name]
    program, inputs = case.make(5), case.inputs(5, 30)
    plain = _with_plain_layer_norm(_compile(case, 5).weights)
    built = _compile(case, 5, layer_norm=True).weights

    def wrong(w) -> int:
        count = 0
        for xs in inputs:
            got = decode_output(w.output, forward(w, np.array(encode(w, ["BOS", *xs]))).output)
            count += any(not _equal(a, b) for a, b in zip(rasp.evaluate(program, xs), got[1:]))
        return count

    assert wrong(plain) > len(inputs) // 3
    assert wrong(built) == 0


def _equal(a, b) -> bool:
    if isinstance(b, float) and a is not None:
        return abs(a - b) <= output_tolerance(abs(a))
    return a == b


def test_numpy_interpreter_agrees_with_jax_under_layer_norm():
    case = CASES["make_sort_unique"]
    model = _compile(case, 5, layer_norm=True)
    for xs in [xs for xs in case.inputs(5, 15) if len(xs) == 5]:  # one shape: one trace
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
    from tracr_ir.compiler import default_pipeline

    case = CASES["make_length"]
    module = to_ir(case.make(4), case.vocab, 4)
    with pytest.raises(PipelineError, match="craft-layer-norm"):
        run_pipeline(module, default_pipeline() + ",transformer-layer-norm")


@settings(max_examples=500 if SLOW else 8, deadline=None)
@given(program_cases(max_seq_len=5))
def test_generated_programs_compile_and_stay_exact_under_layer_norm(case):
    """Whatever the default pipeline compiles, the layer_norm pipeline compiles too (no
    refusal by craft-layer-norm), and its model is exact under the LayerNorm."""
    plain = to_ir(case.program, case.vocab, case.max_seq_len)
    try:
        run_pipeline(plain, DEFAULT_PIPELINE)
    except UnsupportedProgramError:
        assume(False)
    module = to_ir(case.program, case.vocab, case.max_seq_len)
    run_pipeline(module, layer_norm_pipeline(DEFAULT_PIPELINE))
    assert stage_op(module).norm is not None
    for xs in case.inputs:
        assert outputs_equal(interpret(module, xs), rasp.evaluate(case.program, xs))
