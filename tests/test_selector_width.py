"""Numerical SelectorWidth in one layer at every max_seq_len: the `direct` (interpolating)
decoder of `tracr_ir.craft.selector_width`, from the construction to the JAX model."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracr_ir import causal_eval, lib, rasp
from tracr_ir.compiler import (DEFAULT_PIPELINE, StageIR, compile_rasp_to_model, interpret,
                               parse_module, print_module, run_pipeline, to_ir)
from tracr_ir.craft.attention import select_term
from tracr_ir.craft.bases import BOS, ONE, Direction, Space, join
from tracr_ir.craft.blocks import apply_block
from tracr_ir.craft.selector_width import (
    exact_share_scale,
    interpolating_width_mlp,
    selector_width,
    share_direction,
)
from tracr_ir.craft.tolerances import output_tolerance
from tracr_ir.dialects import craft
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.testing import outputs_equal

TOKENS = Space.categorical("tokens", ["a", "b"])


def _counting_block(max_seq_len: int, direct: bool = True):
    """A width that counts the keys holding "a" (every query), so a sequence of w a's and
    L - w b's reads width w at every position."""
    term = select_term(TOKENS, TOKENS, lambda key, query: key == "a")
    out = Space.of(Direction("w"))
    return selector_width([term], out, max_seq_len, numerical_output=True, direct=direct,
                          label="w")


def _residual(space: Space, tokens: list[str]) -> np.ndarray:
    rows = [space.vector({ONE: 1.0, BOS: 1.0})]
    rows += [space.vector({ONE: 1.0, Direction("tokens", t): 1.0}) for t in tokens]
    return np.array(rows, dtype=np.float32)


@pytest.mark.parametrize("max_seq_len", [1, 5, 10, 32, 64, 128])
def test_direct_share_is_exact_and_the_output_within_its_bound(max_seq_len):
    """Every width 0..L in float32: the share is fl(1/(w+1)) bit for bit, the output is
    within the block's stated error, which is within a program output's tolerance."""
    L = max_seq_len
    block = _counting_block(L)
    bound = block.mlp.float32_error
    assert 0 < bound <= output_tolerance(L)
    space = join(TOKENS, [ONE, BOS, share_direction("w"), Direction("w")])
    share, out = space.index(share_direction("w")), space.index(Direction("w"))
    for w in range(L + 1):
        x = apply_block(block, space, _residual(space, ["a"] * w + ["b"] * (L - w)))
        assert (x[1:, share] == np.float32(1) / np.float32(w + 1)).all(), w
        assert np.abs(x[1:, out] - w).max() <= bound, w
        assert x[0, out] == 0.0  # nothing written at BOS


def test_direct_scale_is_a_power_of_two_whose_leakage_is_below_a_quarter_ulp():
    for L in (1, 5, 64, 1000):
        s = exact_share_scale(L)
        assert s == 2.0 ** round(np.log2(s))
        assert L * np.exp(-s) <= 2.0 ** -26 < L * np.exp(-s / 2)


def test_direct_decoder_is_one_unit_per_width_and_no_wider_than_the_snapped_one():
    for L in (5, 10, 64):
        direct, snapped = _counting_block(L), _counting_block(L, direct=False)
        assert direct.mlp.hidden_size == L < snapped.mlp.hidden_size
        assert direct.mlp.float32_error < snapped.mlp.float32_error
    share, out = share_direction("w"), Direction("w")
    assert interpolating_width_mlp(share, out, [2, 5, 7]).hidden_size == 3  # 2 + a constant
    assert interpolating_width_mlp(share, out, [4]).hidden_size == 1


def test_direct_width_refuses_noisy_queries():
    term = select_term(TOKENS, TOKENS, lambda key, query: key == query)
    with pytest.raises(UnsupportedProgramError, match="exact queries and keys"):
        selector_width([term], Space.of(Direction("w")), 5, numerical_output=True,
                       direct=True, query_l1_error=1e-7)


def _length() -> rasp.SOp:
    """tracr's `make_length` with a numerical output."""
    return rasp.numerical(lib.make_length())


def _stages(program, vocab, max_seq_len: int, causal: bool = False) -> StageIR:
    stages = StageIR()
    module = to_ir(program, vocab, max_seq_len, causal=causal)
    run_pipeline(module, DEFAULT_PIPELINE, callback=lambda _p, m, _n: stages.record(m))
    return stages


def _inputs(vocab, max_seq_len: int, n: int, seed: int = 0) -> list[list]:
    rng = random.Random(seed)
    lengths = [1, max_seq_len] + [rng.randint(1, max_seq_len) for _ in range(n - 2)]
    return [[rng.choice(sorted(vocab)) for _ in range(k)] for k in lengths]


def _assert_one_layer_and_exact(program, vocab, max_seq_len: int, n_inputs: int,
                                stage_inputs: int) -> None:
    model = compile_rasp_to_model(program, vocab, max_seq_len)
    assert model.stats()["layers"] == 1
    (width,) = [op for op in parse_module(model.ir["craft"]).walk()
                if isinstance(op, craft.SelectorWidthOp)]
    assert width.is_direct
    inputs = _inputs(vocab, max_seq_len, n_inputs)
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], rasp.evaluate(program, xs), abs_tol=5e-5), xs
    for xs in inputs[:3]:
        assert outputs_equal(model.apply(["BOS", *xs]).decoded[1:], rasp.evaluate(program, xs),
                             abs_tol=5e-5), xs
    stages = _stages(program, vocab, max_seq_len)
    for xs in inputs[:stage_inputs]:
        want = rasp.evaluate(program, xs)
        for stage in ("rasp", "craft", "transformer"):
            assert outputs_equal(interpret(stages.module(stage), xs), want, abs_tol=5e-5), \
                (stage, xs)


@pytest.mark.parametrize("max_seq_len", [5, 10, 32, 64])
def test_numerical_make_length_is_one_layer_and_exact(max_seq_len):
    _assert_one_layer_and_exact(_length(), {1, 2, 3}, max_seq_len, 40, 6)


COMPARISONS = [c for c in rasp.Comparison]


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(COMPARISONS), st.sampled_from(["tokens", "indices"]),
       st.sampled_from(["tokens", "indices"]), st.sampled_from([5, 10, 32, 64]))
def test_numerical_width_of_a_random_selector_is_one_layer_and_exact(comparison, keys,
                                                                     queries, max_seq_len):
    sops = {"tokens": rasp.tokens, "indices": rasp.indices}
    selector = rasp.Select(sops[keys], sops[queries], comparison)
    program = rasp.numerical(rasp.SelectorWidth(selector)).named("width")
    _assert_one_layer_and_exact(program, {0, 1, 2, 3}, max_seq_len, 20, 2)


def test_numerical_width_of_a_table_selector_is_exact_at_every_width():
    """A random boolean table over (key, query) tokens: every width 0..L occurs."""
    rng = random.Random(3)
    vocab = list(range(6))
    table = {(k, q): rng.random() < 0.5 for k in vocab for q in vocab}
    selector = rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: table[(k, q)])
    program = rasp.numerical(rasp.SelectorWidth(selector)).named("width")
    _assert_one_layer_and_exact(program, set(vocab), 32, 60, 3)


def test_causal_numerical_width_is_one_layer_and_exact():
    program = _length()
    model = compile_rasp_to_model(program, {1, 2, 3}, 32, causal=True)
    assert model.stats()["layers"] == 1
    inputs = _inputs({1, 2, 3}, 32, 20)
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], causal_eval.evaluate(program, xs), abs_tol=5e-5), xs
        assert outputs_equal(out[1:], rasp.evaluate_causal(program, xs), abs_tol=5e-5), xs


def test_layer_norm_keeps_the_snapped_decoder():
    """Under LayerNorm the share carries the norm's relative deviation, which the
    interpolating decoder would pass on times (w + 2): the snapped decoder is used there."""
    program = _length()
    model = compile_rasp_to_model(program, {1, 2, 3}, 5, layer_norm=True)
    widths = [op for op in parse_module(model.ir["craft"]).walk()
              if isinstance(op, craft.SelectorWidthOp)]
    assert widths and not any(op.is_direct for op in widths)
    for xs in _inputs({1, 2, 3}, 5, 10):
        assert outputs_equal(model.apply(["BOS", *xs]).decoded[1:], rasp.evaluate(program, xs),
                             abs_tol=5e-5)


def test_direct_form_round_trips_and_is_numerical_only():
    module = run_pipeline(to_ir(_length(), {1, 2}, 10), "rasp-infer-values,lower-rasp-to-craft")
    text = print_module(module)
    match = re.search(r"select \[\(%tokens, %tokens TRUE\)\] direct : !craft.space<\[(\w+)\]>",
                      text)
    assert match, text
    assert print_module(parse_module(text)) == text
    label = match.group(1)
    categorical = text.replace(f"!craft.space<[{label}]>",
                               f"!craft.space<[{label}:0, {label}:1]>")
    with pytest.raises(Exception, match="a direct width is numerical"):
        parse_module(categorical).verify()


def test_keys_read_from_an_attention_output_keep_the_snapped_decoder():
    """A snapped lookup of an attention output is exact within its bound (0) but not in
    float32, which the share would pass on: no direct width there, and still exact."""
    reverse = lib.make_reverse(rasp.tokens)
    selector = rasp.Select(reverse, rasp.tokens, rasp.Comparison.LT)
    program = rasp.numerical(rasp.SelectorWidth(selector)).named("width")
    model = compile_rasp_to_model(program, {1, 2, 3}, 10)
    widths = [op for op in parse_module(model.ir["craft"]).walk()
              if isinstance(op, craft.SelectorWidthOp)]
    assert widths and not any(op.is_direct for op in widths)
    inputs = _inputs({1, 2, 3}, 10, 30)
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], rasp.evaluate(program, xs), abs_tol=5e-5), xs
