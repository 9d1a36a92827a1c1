"""The transformer dialect, its numpy interpreter and the JAX backend, on hand-built models.

The main model (vocab {1, 2, 3}, max_seq_len 5):
- layer 0: a head copying the previous token into `prev` (BOS's zero value at position 1), a
  head averaging `tokens == 1` into `frac` (BOS scored -S so it only counts when alone), and an
  MLP mapping `prev` to its parity `par:"odd"` / `par:"even"` (with a bias);
- layer 1: no heads; an MLP writing `num = 2 * frac + 0.5` (the 0.5 from b_2);
- layer 2: no heads and an MLP of width 0.
PAD embeds like the token 1, so an unmasked padded key would change `frac`.
"""

from __future__ import annotations

import itertools
import random
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from xdsl.dialects.builtin import (ArrayAttr, DenseIntOrFPElementsAttr, IntegerAttr, TensorType,
                                   f64, i64)

from tracr_ir.compiler import interpret, parse_module, print_module, verify_module
from tracr_ir.dialects import transformer as tf
from tracr_ir.errors import InputError, IRError
from tracr_ir.interpreters.transformer import (decode_output, encode, forward, param_arrays,
                                               visible_keys)

VOCAB = (1, 2, 3)
L = 5
S = 30.0  # attention logit scale: leakage <= L * e^-30
RESIDUAL = [tf.Label("one"), tf.Label("bos"), *(tf.Label("tokens", v) for v in VOCAB),
            *(tf.Label("indices", i) for i in range(1, L + 1)),
            *(tf.Label("prev", v) for v in VOCAB), tf.Label("frac"),
            tf.Label("par", "odd"), tf.Label("par", "even"), tf.Label("num")]
IX = {label: i for i, label in enumerate(RESIDUAL)}
D = len(RESIDUAL)
PARITY = tf.Output("categorical", [("par", "odd"), ("par", "even")])
NUMBER = tf.Output("numerical", ["num"])


def ix(name: str, *value) -> int:
    return IX[tf.Label(name, *value)]


def embeddings() -> tuple[np.ndarray, np.ndarray]:
    token = np.zeros((len(VOCAB) + 2, D))
    for row, v in enumerate(VOCAB):
        token[row, [ix("one"), ix("tokens", v)]] = 1
    token[len(VOCAB), [ix("one"), ix("bos")]] = 1
    token[len(VOCAB) + 1, [ix("one"), ix("tokens", 1)]] = 1  # PAD looks like a 1
    position = np.zeros((L + 1, D))
    for i in range(1, L + 1):
        position[i, ix("indices", i)] = 1
    return token, position


def prev_head() -> tf.Head:
    w_q, w_k = np.zeros((D, L + 1)), np.zeros((D, L + 1))
    w_v, w_o = np.zeros((D, 3)), np.zeros((3, D))
    for i in range(1, L + 1):
        w_q[ix("indices", i), i - 1] = S
        w_k[ix("indices", i), i] = 1
    w_k[ix("bos"), 0] = 1
    for j, v in enumerate(VOCAB):
        w_v[ix("tokens", v), j] = 1
        w_o[j, ix("prev", v)] = 1
    return tf.Head(w_q, w_k, w_v, w_o, label="prev")


def mean_head() -> tf.Head:
    w_q, w_k, w_v, w_o = np.zeros((D, 1)), np.zeros((D, 1)), np.zeros((D, 1)), np.zeros((1, D))
    w_q[ix("one"), 0] = 1
    w_k[ix("bos"), 0] = -S
    w_v[ix("tokens", 1), 0] = 1
    w_o[0, ix("frac")] = 1
    return tf.Head(w_q, w_k, w_v, w_o, label="frac")


def parity_mlp() -> tf.MLP:
    w_1, b_1, w_2 = np.zeros((D, 3)), -np.ones(3), np.zeros((3, D))
    for j, v in enumerate(VOCAB):
        w_1[[ix("prev", v), ix("one")], j] = 1  # relu(prev:v + one - 1)
        w_2[j, ix("par", "odd" if v % 2 else "even")] = 1
    return tf.MLP(w_1, b_1, w_2, np.zeros(D), label="parity")


def number_mlp() -> tf.MLP:
    w_1, w_2, b_2 = np.zeros((D, 1)), np.zeros((1, D)), np.zeros(D)
    w_1[ix("frac"), 0], w_2[0, ix("num")], b_2[ix("num")] = 1, 2, 0.5
    return tf.MLP(w_1, np.zeros(1), w_2, b_2)


def make_model(output: tf.Output = PARITY, causal: bool = False, verify: bool = True):
    token, position = embeddings()
    layers = [tf.Layer([prev_head(), mean_head()], parity_mlp()),
              tf.Layer([], number_mlp()), tf.Layer()]
    return tf.build_model(VOCAB, L, RESIDUAL, token, position, layers, output, causal=causal,
                          verify=verify)


def expected_parity(xs: list[int]) -> list:
    return [None] + ["odd" if x % 2 else "even" for x in xs[:-1]]


def expected_number(xs: list[int], causal: bool = False) -> list[float]:
    if causal:
        return [2 * xs[: i + 1].count(1) / (i + 1) + 0.5 for i in range(len(xs))]
    return [2 * xs.count(1) / len(xs) + 0.5] * len(xs)


def inputs(n: int = 30, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.choice(VOCAB) for _ in range(rng.randint(1, L))] for _ in range(n)]


@pytest.fixture(scope="module")
def jax_models():
    from tracr_ir.backends.jax import build

    return {(out.encoding, causal): build(make_model(out, causal))
            for out in (PARITY, NUMBER) for causal in (False, True)}


### The numpy interpreter and the JAX forward.


def test_numpy_interpreter_copies_previous_token_and_averages():
    parity, number = make_model(PARITY), make_model(NUMBER)
    for n in range(1, 4):
        for xs in map(list, itertools.product(VOCAB, repeat=n)):
            assert interpret(parity, xs) == expected_parity(xs)
            np.testing.assert_allclose(interpret(number, xs), expected_number(xs), atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_jax_decodes_like_numpy(jax_models, causal):
    parity, number = jax_models["categorical", causal], jax_models["numerical", causal]
    for xs in inputs():
        assert parity.apply(["BOS", *xs]).decoded == ["BOS", *expected_parity(xs)]
        got = number.apply(["BOS", *xs]).decoded
        assert got[0] == "BOS"
        np.testing.assert_allclose(got[1:], expected_number(xs, causal), atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_jax_residuals_equal_numpy(jax_models, causal):
    model = jax_models["numerical", causal]
    for xs in inputs(10, seed=1):
        seq = ["BOS", *xs]
        ref = forward(model.weights, np.array(model.encode(seq)))
        got = model.apply(seq)
        assert len(got.residuals) == len(ref.residuals) == 6
        for a, b in zip([got.embeddings, *got.residuals, got.output],
                        [ref.embeddings, *ref.residuals, ref.output]):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_causal_mask_changes_only_what_looks_ahead():
    xs = [1, 2, 2, 1]
    np.testing.assert_allclose(interpret(make_model(NUMBER, causal=True), xs),
                               [2.5, 1.5, 7 / 6, 1.5], atol=1e-5)
    assert interpret(make_model(PARITY, causal=True), xs) == expected_parity(xs)


def test_apply_batch_masks_padding(jax_models):
    seqs = [["BOS", *xs] for xs in inputs(12, seed=2)]
    assert len({len(s) for s in seqs}) > 2
    for (encoding, causal), model in jax_models.items():
        batch = model.apply_batch(seqs)
        single = [model.apply(s).decoded for s in seqs]
        if encoding == "categorical":
            assert batch == single
        else:
            for b, s in zip(batch, single):
                assert b[0] == s[0] == "BOS"
                np.testing.assert_allclose(b[1:], s[1:], atol=1e-6)
    # Without the key mask the PAD tokens (embedded like 1s) would change `frac`.
    w = jax_models["numerical", False].weights
    ids = np.array([encode(w, ["BOS", 2]) + [w.token_ids["PAD"]] * 3])
    assert abs(forward(w, ids).output[0, 1, 0] - 0.5) > 0.5
    masked = forward(w, ids, np.array([[True, True, False, False, False]]))
    assert abs(masked.output[0, 1, 0] - 0.5) < 1e-6


def test_one_trace_for_every_length_and_one_per_batch_bucket():
    from tracr_ir.backends.jax import MAX_CHUNK, batch_bucket, build

    model = build(make_model())
    for n in range(L + 1):
        model.apply(["BOS", *[1 + i % 3 for i in range(n)]])
    model.apply(["BOS", 2, "PAD", "PAD"])
    assert model.trace_count == 1
    model.apply_batch([["BOS", 1], ["BOS", 2, 3]])
    model.apply_batch([["BOS", 2, 3, 1], ["BOS"]])
    assert model.trace_count == 2  # one bucket of 2 rows
    model.apply_batch([["BOS", 1]] * 3)
    model.apply_batch([["BOS", 3, 3]] * 4)
    assert model.trace_count == 3  # one bucket of 4 rows
    assert [batch_bucket(n) for n in (1, 2, 3, 5, 9, MAX_CHUNK, 10**6)] == \
        [1, 2, 4, 8, 16, MAX_CHUNK, MAX_CHUNK]


def test_padding_to_max_seq_len_changes_no_real_position(jax_models):
    """apply pads every input to max_seq_len + 1 positions: the arrays of the real positions
    are those of the same input with the user's own PADs (bit for bit), and match the
    unpadded numpy forward."""
    for (encoding, causal), model in jax_models.items():
        for xs in inputs(8, seed=3):
            seq = ["BOS", *xs]
            got = model.apply(seq)
            padded = model.apply([*seq, *["PAD"] * (L - len(xs))])
            ref = forward(model.weights, np.array(model.encode(seq)))
            n = len(seq)
            assert got.output.shape == (n, len(model.weights.output.labels))
            assert padded.decoded == [*got.decoded, *["PAD"] * (L - len(xs))]
            for a, b, r in zip([got.embeddings, *got.residuals, got.output],
                               [padded.embeddings, *padded.residuals, padded.output],
                               [ref.embeddings, *ref.residuals, ref.output]):
                assert a.shape[0] == n
                np.testing.assert_array_equal(a, b[:n])
                np.testing.assert_allclose(a, r, atol=1e-5)


def test_large_batches_run_in_chunks():
    from tracr_ir.backends.jax import MAX_CHUNK, build

    model = build(make_model(NUMBER))
    seqs = [["BOS", *xs] for xs in inputs(MAX_CHUNK + 3, seed=4)]
    got = model.apply_batch(seqs)
    assert len(got) == len(seqs) and model.trace_count == 2  # buckets MAX_CHUNK and 4
    for i in (0, MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 2):
        np.testing.assert_allclose(got[i][1:], model.apply(seqs[i]).decoded[1:], atol=1e-6)


def test_zero_layer_model_reads_tokens():
    from tracr_ir.backends.jax import build

    residual = ["one", *(("tokens", v) for v in VOCAB)]
    token = np.vstack([np.eye(4)[1:], np.eye(4)[:1], np.zeros((1, 4))])
    module = tf.build_model(VOCAB, 3, residual, token, np.zeros((4, 4)), [],
                            ("categorical", residual[1:]))
    assert interpret(module, [3, 1]) == [3, 1]
    assert build(module).apply(["BOS", 2, 3, 1]).decoded == ["BOS", 2, 3, 1]


def test_decode_output():
    cat = tf.Output("categorical", [("x", "a"), ("x", None), ("x", (1, 2))])
    rows = np.array([[0.9, 0.1, 0], [0.2, 0.3, 0.49], [0, 0.5, 0.1], [0.1, 0.2, 0.7]])
    assert decode_output(cat, rows) == ["a", None, None, (1, 2)]
    assert decode_output(tf.Output("categorical", []), np.zeros((2, 0))) == [None, None]
    num = decode_output(tf.Output("numerical", ["y"]), np.array([[1.5], [-2.0]]))
    assert num == [1.5, -2.0] and all(type(v) is float for v in num)


def test_params_labels_and_stats(jax_models):
    model = jax_models["categorical", False]
    assert model.residual_labels[:3] == ["one", "bos", "tokens:1"]
    assert model.residual_labels[-3:] == ['par:"odd"', 'par:"even"', "num"]
    assert set(model.params) == set(param_arrays(model.weights))
    assert model.params["layer_0/attn/head_0/w_q"].shape == (D, L + 1)
    assert model.params["layer_0/attn/head_1/w_v"].shape == (D, 1)
    assert model.params["layer_2/mlp/w_1"].shape == (D, 0)
    assert "layer_1/attn/head_0/w_q" not in model.params
    assert all(str(p.dtype) == "float32" for p in model.params.values())
    stats = model.stats()
    assert stats["layers"] == 3 and stats["heads"] == 2 and stats["mlp_hidden"] == 3
    assert stats["residual"] == D and stats["heads_per_layer"] == [2, 0, 0]
    assert stats["params"] == sum(int(np.prod(p.shape)) for p in model.params.values())
    assert stats["nonzero_params"] < stats["params"] < stats["dense_params"]
    assert model.ir == {}
    assert model.encode(["BOS", 3, 1]) == [3, 2, 0]
    out = model.apply(["BOS", 3, 1])
    assert out.output.shape == (3, 2)
    assert model.decode_output(out.output)[1:] == out.decoded[1:]


### Input errors.


@pytest.mark.parametrize("seq, message", [
    (["BOS", 1, 4], r"token 4 at position 2 is not in the vocab \{1, 2, 3\}"),
    (["BOS", [1]], r"token \[1\] \(a list\) at position 1 is not in the vocab"),
    (["BOS", 1, "2"], r"token '2' \(a str\) at position 2 is not in the vocab"),
    (["BOS", 1.5], r"token 1.5 \(a float\) at position 1 is not in the vocab"),
    ([1, 2], "position 0 must be the BOS token 'BOS', got 1"),
    ([], "position 0 must be the BOS token 'BOS', got an empty input"),
    (["BOS", 1, "BOS"], "BOS token 'BOS' at position 2"),
    (["BOS"] + [1] * L + [2], f"token 2 at position {L + 1} is past max_seq_len {L}: the input "
                              f"has {L + 1} tokens after BOS"),
    ("BOS", "got str"),
    (7, "got int"),
])
def test_input_errors_name_position_and_value(jax_models, seq, message):
    model = jax_models["categorical", False]
    with pytest.raises(InputError, match=message):
        model.apply(seq)
    with pytest.raises(InputError, match="sequence 1 of the batch: .*" + message):
        model.apply_batch([["BOS", 1], seq])


def test_pad_ends_an_input_of_apply_and_is_no_token_of_apply_batch(jax_models):
    model = jax_models["categorical", False]
    assert model.apply(["BOS", 1, "PAD"]).decoded == ["BOS", *model.apply(["BOS", 1]).decoded[1:],
                                                      "PAD"]  # tracr's padding
    with pytest.raises(InputError, match="PAD may only end the input"):
        model.apply(["BOS", "PAD", 1])
    with pytest.raises(InputError, match=r"sequence 1 of the batch: token 'PAD' \(a str\) at "
                                         "position 1 is not in the vocab"):
        model.apply_batch([["BOS", 1], ["BOS", "PAD"]])  # apply_batch pads by itself


@pytest.mark.parametrize("batch, message", [
    (["BOS", 1, 2], "sequence 0 of the batch: an input is a list of tokens .* got str"),
    ("BOS12", "takes a list of sequences, got str"),
    (None, "takes a list of sequences, got NoneType"),
])
def test_apply_batch_needs_a_list_of_sequences(jax_models, batch, message):
    with pytest.raises(InputError, match=message):
        jax_models["categorical", False].apply_batch(batch)


def test_interpret_input_errors():
    with pytest.raises(InputError, match="token 4 at position 1"):
        interpret(make_model(), [1, 4])


### Text.


def _bits(module) -> dict[str, np.ndarray]:
    w = module.body.block.first_op.weights()
    return {k: v.view(np.uint32) for k, v in param_arrays(w).items()}


def _assert_round_trips(module) -> None:
    text = print_module(module)
    for source in (text, print_module(module, generic=True)):
        parsed = parse_module(source)
        assert parsed.is_structurally_equivalent(module)
        assert print_module(parsed) == text
        before, after = _bits(module), _bits(parsed)
        assert before.keys() == after.keys()
        for name in before:
            np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_text_round_trip_is_bit_exact():
    _assert_round_trips(make_model())
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2**32, size=(4 * D * 40), dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)][: 2 * D * 40]  # > 100 elements: printed as hex
    token, position = embeddings()
    head = tf.Head(values[: D * 40].reshape(D, 40), values[D * 40:].reshape(D, 40),
                   rng.normal(size=(D, 2)), rng.normal(size=(2, D)) * 1e-30, label='a "b"')
    module = tf.build_model(VOCAB, L, RESIDUAL, token * np.pi, position / 3, [([head], None)],
                            NUMBER)
    _assert_round_trips(module)


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                min_size=4 * 4, max_size=4 * 4))
def test_decimal_weights_round_trip_bit_exact(values):
    """Tensors of at most 100 elements print as decimals: every float32 must survive."""
    residual = ["one", ("tokens", 1), ("x", (1, "a")), "the-y"]
    w_1 = np.array(values, dtype=np.float32).reshape(4, 4)
    mlp = tf.MLP(w_1, w_1[0], w_1.T, w_1[:, 1])
    module = tf.build_model([1], 1, residual, np.eye(3, 4), np.zeros((2, 4)), [([], mlp)],
                            ("numerical", ["the-y"]))
    _assert_round_trips(module)


def test_exact_float_text():
    """xDSL 0.74 prints these as hex integers inside a list, which its parser misreads."""
    for x in (1000001.0, 16777216.0, 123456789.0, -0.0, 1e-45, 3.4028235e38, 0.1):
        text = tf.format_f32(float(np.float32(x)))
        assert np.float32(float(text)).tobytes() == np.float32(x).tobytes(), text
    assert tf.format_f32(0.5) == "0.5" and tf.format_f32(2.0) == "2.0"
    assert tf.format_f32(1e-30) == "1.0e-30"
    mlp = tf.MLP(np.array([[1000001.0], [-0.0]]), np.zeros(1), np.array([[0.0, -0.0]]),
                 np.full(2, -0.0))
    module = tf.build_model([1], 1, ["one", "y"], np.eye(3, 2), np.zeros((2, 2)),
                            [([], mlp)], ("numerical", ["y"]))
    text = print_module(module)
    assert "w_1 = sparse tensor<2x1xf32> {\n          one -> {0 = 1000001.0}\n" \
           "          y -> {0 = -0.0}\n        }" in text
    assert "b_2 = dense<-0.0> : tensor<2xf32>" in text  # a splat: every entry -0.0
    assert np.signbit(_bits(module)["layer_0/mlp/b_2"].view(np.float32)).all()
    _assert_round_trips(module)


def test_weights_print_sparse_with_labels():
    """Only non-zero entries, by residual label, token, position or index."""
    text = print_module(make_model(NUMBER))
    assert (f'token = sparse tensor<5x{D}xf32> {{\n          1 -> {{one = 1.0, tokens:1 = 1.0}}\n'
            in text)
    assert '\n          "BOS" -> {one = 1.0, bos = 1.0}\n' in text
    assert '\n          "PAD" -> {one = 1.0, tokens:1 = 1.0}\n        }' in text
    assert f"position = sparse tensor<6x{D}xf32> {{\n          1 -> {{indices:1 = 1.0}}\n" in text
    assert f"w_o = sparse tensor<3x{D}xf32> {{\n            0 -> {{prev:1 = 1.0}}\n" in text
    assert f"w_1 = sparse tensor<{D}x3xf32> {{\n          one -> {{0 = 1.0, 1 = 1.0, 2 = 1.0}}\n" \
           "          prev:1 -> {0 = 1.0}\n" in text
    assert "b_1 = dense<-1.0> : tensor<3xf32>" in text  # a splat
    assert f"b_2 = sparse tensor<{D}xf32> {{num = 0.5}}" in text
    assert " 0.0" not in text


def test_legacy_dense_and_hex_text_parses_to_the_same_model():
    """Files written by older versions (dense<...>, hex above 100 elements) still load, and
    every parse stores the weights sparse, so the parses are structurally equal."""
    from tracr_ir.testing.fuzz import legacy_text

    module = make_model()
    legacy = legacy_text(module)
    assert "sparse" not in legacy and '"0x' in legacy  # position: 102 elements, as hex
    parsed = parse_module(legacy)
    assert parsed.is_structurally_equivalent(module)
    assert print_module(parsed) == print_module(module)


@pytest.mark.parametrize("edit, message", [
    (("-> {one = 1.0, tokens:1 = 1.0}", "-> {one = 1.0, tokens:9 = 1.0}"),
     "unknown residual label tokens:9"),
    (("1 -> {one = 1.0, tokens:1", "7 -> {one = 1.0, tokens:1"), "unknown token 7"),
    (("1 -> {one = 1.0, tokens:1", "1 -> {one = 1.0, one"), "an entry is given twice"),
    (("1 -> {indices:1 = 1.0}", "9 -> {indices:1 = 1.0}"), "index 9 is outside"),
    ((f"b_2 = sparse tensor<{D}xf32> {{num = 0.5}}", f"b_2 = sparse tensor<{D}xf32> {{num = "
      "1.0e39}"), "out of float32 range"),
    ((f"b_2 = sparse tensor<{D}xf32>", f"b_2 = sparse tensor<{D + 1}xf32>"), "does not fit"),
    ((f"b_2 = sparse tensor<{D}xf32>", f"b_2 = sparse tensor<{D}xi32>"), "f32 elements"),
    (("0 -> {prev:1 = 1.0}", "0 -> {prev:1 = 1.0, 99 = 2.0}"), "residual label"),
])
def test_sparse_text_errors_have_locations(edit, message):
    text = print_module(make_model(NUMBER))
    assert edit[0] in text
    with pytest.raises(IRError, match=message):
        parse_module(text.replace(edit[0], edit[1], 1))


def test_text_shows_shapes_and_labels():
    text = print_module(make_model())
    assert f"// width {D}, 3 layers, heads [2, 0, 0], mlp hidden [3, 1, 0]" in text
    assert 'residual [one, bos, tokens:1, tokens:2, tokens:3, indices:1' in text
    assert 'transformer.mlp layer 0 "parity"' in text
    assert "transformer.attention layer 1 {}" in text
    assert 'transformer.unembed categorical [par:"odd", par:"even"]' in text
    assert interpret(text, [2, 1]) == [None, "even"]


def test_labels():
    assert str(tf.Label("x", None)) == "x:none" and str(tf.Label("x")) == "x"
    assert str(tf.Label("a b", (1, "c"))) == '"a b":(1, "c")'
    assert tf.Label.of(SimpleNamespace(name="d", value=None)) == tf.Label("d")
    assert tf.Label.of(SimpleNamespace(name="d", value=2)) == tf.Label("d", 2)
    assert tf.Label.of(("d", None)).has_value and not tf.Label.of("d").has_value


### Verifier and parser errors.


def _op(module, name: str, index: int = 0):
    return [op for op in module.walk() if op.name == name][index]


def _replace(weights: tf.WeightsAttr, name: str, attr) -> tf.WeightsAttr:
    return tf.WeightsAttr.get({**dict(weights.items()), name: attr})


def _set(module, op_name: str, name: str, array: np.ndarray, index: int = 0):
    op = _op(module, op_name, index)
    op.properties["weights"] = _replace(op.weights, name, tf.dense(array))


def _set_head(module, name: str, array: np.ndarray):
    attn = _op(module, "transformer.attention")
    head = attn.heads.data[0]
    heads = [tf.HeadAttr(head.label, _replace(head.weights, name, tf.dense(array))),
             *attn.heads.data[1:]]
    attn.properties["heads"] = ArrayAttr(heads)


def _f64(module):
    attr = DenseIntOrFPElementsAttr.from_list(TensorType(f64, [D]), [0.0] * D)
    mlp = _op(module, "transformer.mlp")
    mlp.properties["weights"] = _replace(mlp.weights, "b_2", attr)


def _reorder(module):
    _op(module, "transformer.attention", 1).properties["layer"] = IntegerAttr(2, i64)


def _drop_last_mlp(module):
    _op(module, "transformer.mlp", 2).detach()


def _move_unembed(module):
    unembed = _op(module, "transformer.unembed")
    unembed.detach()
    module.body.block.first_op.body.block.insert_op_before(unembed, _op(module, "transformer.mlp"))


@pytest.mark.parametrize("mutate, message", [
    (lambda m: _set(m, "transformer.embed", "token", np.zeros((4, D))),
     f"transformer.embed: token has shape 4x{D}, expected 5x{D}"),
    (lambda m: _set(m, "transformer.embed", "position", np.zeros((L + 1, D + 1))),
     f"transformer.embed: position has shape 6x{D + 1}, expected 6x{D}"),
    (lambda m: _set_head(m, "w_k", np.zeros((D, 5))),
     rf"transformer.attention \(layer 0\) head 0 'prev': w_k has shape {D}x5, expected {D}x6"),
    (lambda m: _set_head(m, "w_o", np.zeros((2, D))),
     f"head 0 'prev': w_o has shape 2x{D}, expected 3x{D}"),
    (lambda m: _set_head(m, "w_q", np.full((D, 6), np.inf)),
     "w_q holds a non-finite value"),
    (lambda m: _set(m, "transformer.mlp", "b_1", np.zeros(2)),
     r"transformer.mlp \(layer 0\): b_1 has shape 2, expected 3"),
    (lambda m: _set(m, "transformer.mlp", "w_2", np.zeros((3, D - 1))),
     rf"transformer.mlp \(layer 0\): w_2 has shape 3x{D - 1}, expected 3x{D}"),
    (_f64, r"transformer.mlp \(layer 0\): b_2 must be a dense f32 tensor"),
    (_reorder, "expected transformer.attention layer 1 .*, got transformer.attention layer 2"),
    (_drop_last_mlp, "layer 2 has no transformer.mlp"),
    (_move_unembed, "transformer.unembed. must be the last operation"),
])
def test_verifier_errors_name_the_op(mutate, message):
    module = make_model(verify=False)
    verify_module(module)
    mutate(module)
    with pytest.raises(IRError, match=message):
        verify_module(module)


@pytest.mark.parametrize("kwargs, message", [
    ({"output": ("numerical", ["num", "frac"])}, "a numerical output reads exactly one label"),
    ({"output": ("categorical", ["frac"])}, "categorical output label 'frac' has no value"),
    ({"output": ("numerical", ["nope"])}, "output label 'nope' is not in the residual"),
    ({"residual": RESIDUAL[:-2] + [RESIDUAL[0], RESIDUAL[-1]]},
     "residual label 'one' is listed twice"),
    ({"vocab": [1, 2, "PAD"]}, "the pad token 'PAD' is also in the vocab"),
    ({"pad": "BOS"}, "bos and pad are both 'BOS'"),
    ({"max_seq_len": 0}, "max_seq_len must be at least 1"),
])
def test_model_verifier_errors(kwargs, message):
    token, position = embeddings()
    args = {"vocab": VOCAB, "max_seq_len": L, "residual": RESIDUAL, "token_embed": token,
            "pos_embed": position, "layers": [], "output": NUMBER, **kwargs}
    if "vocab" in kwargs:
        args["token_embed"] = np.zeros((len(kwargs["vocab"]) + 2, D))
    if "max_seq_len" in kwargs:
        args["pos_embed"] = np.zeros((1, D))
    with pytest.raises(IRError, match=message):
        verify_module(tf.build_model(verify=False, **args))


def test_parse_errors():
    text = print_module(make_model())
    for bad, message in [
        (text.replace("categorical [par", "ordinal [par"), "output encoding"),
        (text.replace("head \"prev\"", "head prev"), "head's label"),
        (text.replace("w_v = ", "w_x = "), "w_v"),
    ]:
        with pytest.raises(IRError, match=message):
            parse_module(bad)


### Packaging.


def test_build_takes_text_and_refuses_other_stages():
    from tracr_ir.backends.jax import build
    from tracr_ir.compiler import to_ir
    from tracr_ir import rasp

    model = build(print_module(make_model(NUMBER)))
    assert model.weights.output.encoding == "numerical"
    with pytest.raises(IRError, match="transformer.model"):
        build(to_ir(rasp.Map(lambda x: x, rasp.tokens), VOCAB, L))


def test_import_does_not_load_jax():
    code = ("import sys, tracr_ir, tracr_ir.compiler, tracr_ir.dialects.transformer, "
            "tracr_ir.interpreters.transformer; print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_visible_keys():
    mask = np.array([[True, True, False]])
    assert visible_keys(mask, False)[0].tolist() == [[True, True, False]] * 3
    assert visible_keys(mask, True)[0].tolist() == [[True, False, False], [True, True, False],
                                                    [True, True, False]]
