"""Each craft op, as the lowering builds it from one RASP construct, swept over every value of
its input's value set at the craft level (the float32 block weights on a residual), against
`rasp.evaluate`, with the ramp margin of every thresholded decision checked (docs/exactness.md:
check the margin, not only the decoded output)."""

from __future__ import annotations

import math

import pytest

from tracr_ir import lib, rasp
from tracr_ir.compiler import run_pipeline, to_ir
from tracr_ir.craft import numerics
from tracr_ir.dialects import craft
from tracr_ir.interpreters.craft import interpret_batch, program_blocks, ramp_margins

PIPELINE = "rasp-infer-values,lower-rasp-to-craft"
VOCAB = ["a", "b", "c", 1, 2, 2.5, True, (0, "x"), ("y",), -3]


def lower(program, vocab, max_seq_len):
    module = run_pipeline(to_ir(program, vocab, max_seq_len), PIPELINE)
    (op,) = [o for o in module.walk() if isinstance(o, craft.ProgramOp)]
    return op


def kinds(program_op) -> list[type]:
    return [type(op) for op in program_op.block.ops if isinstance(op, craft.CraftOp)]


def check(program, program_op, inputs, tol=1e-4):
    """Outputs equal `evaluate` (numbers within `tol`), and every ramp margin is at least
    what its construction promises: 3/2 for a discretising MLP (a numerical input, or a
    selector width's share), 1/2 - 2 x 1/16 for a lookup of a categorical input within l1
    1/16 of its one-hot."""
    blocks = program_blocks(program_op)
    for xs, got in zip(inputs, interpret_batch(program_op, inputs, blocks)):
        want = rasp.evaluate(program, xs)
        for g, w in zip(got, want):
            if isinstance(g, float) and w is not None:
                assert math.isclose(g, float(w), abs_tol=tol), (xs, got, want)
            else:
                assert g == w and (g is None) == (w is None), (xs, got, want)
    margins = ramp_margins(program_op, inputs, blocks)
    for op in program_op.block.ops:
        if op.label_text in margins if isinstance(op, craft.CraftOp) else False:
            promised = 1.5 if isinstance(op, (craft.NumericalMLPOp, craft.SelectorWidthOp)) \
                else 0.5 - 2 / 16
            assert margins[op.label_text] >= promised - 1e-3, (op.label_text, margins)
    return margins


def fraction_inputs(max_seq_len):
    """Inputs on which frac_prevs(tokens == "a") takes every value k/n, n <= max_seq_len."""
    return [["a"] * k + ["b"] * (max_seq_len - k) for k in range(max_seq_len + 1)]


FRAC = lib.make_frac_prevs(rasp.tokens == "a")


# ---------------------------------------------------------------- MLPs


def test_categorical_mlp_every_token_mixed_values():
    table = {"a": None, "b": (1, "z"), "c": -2, 1: "one", 2: "one", 2.5: True, True: None,
             (0, "x"): 0, ("y",): (1, "z"), -3: "neg"}
    program = rasp.Map(lambda t: table[t], rasp.tokens)
    op = lower(program, VOCAB, len(VOCAB))
    assert kinds(op) == [craft.CategoricalMLPOp]
    check(program, op, [VOCAB, VOCAB[::-1], VOCAB[3:5]])


def test_categorical_to_numerical_mlp_negative_values():
    values = dict(zip(VOCAB, [-2.5, 0, 3, 1000.0, -0.001, 7, 1, -1, 0.5, 2]))
    program = rasp.numerical(rasp.Map(lambda t: values[t], rasp.tokens))
    op = lower(program, VOCAB, len(VOCAB))
    assert kinds(op) == [craft.CategoricalMLPOp]
    check(program, op, [VOCAB], tol=1e-6 * 1000)


def test_categorical_mlp_none_entry_gives_the_default():
    program = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 2),
                             rasp.tokens, default="none yet")
    op = lower(program, {"a", "b", "c"}, 8)
    assert kinds(op) == [craft.CategoricalAttentionOp, craft.CategoricalMLPOp]
    (mlp,) = [o for o in op.block.ops if isinstance(o, craft.CategoricalMLPOp)]
    assert mlp.table.as_dict()[None] == "none yet"
    check(program, op, [list("abcabcab"), ["c"], list("ba")])


@pytest.mark.parametrize("max_seq_len", [16, 32])
def test_numerical_to_categorical_mlp_every_fraction(max_seq_len):
    bucket = rasp.Map(lambda x: "lo" if x < 0.25 else None if x == 0.5 else ("hi", x > 0.75),
                      FRAC)
    op = lower(bucket, {"a", "b"}, max_seq_len)
    assert kinds(op)[-1] == craft.NumericalMLPOp
    margins = check(bucket, op, fraction_inputs(max_seq_len))
    assert margins  # the discretising MLP was measured


@pytest.mark.parametrize("max_seq_len", [10, 32])
def test_numerical_mlp_non_affine_negative_every_fraction(max_seq_len):
    curved = rasp.numerical(rasp.Map(lambda x: (x - 0.5) ** 2 - 0.1, FRAC))
    op = lower(curved, {"a", "b"}, max_seq_len)
    # Direct when its float32 error estimate is within 5e-5, else through a categorical
    # intermediate (one more MLP, exact).
    assert craft.NumericalMLPOp in kinds(op)
    check(curved, op, fraction_inputs(max_seq_len), tol=5e-5)


def test_linear_mlp_affine_map_and_linear_sequence_map():
    centred = rasp.numerical(rasp.Map(lambda x: 3 * x - 0.5, FRAC))
    op = lower(centred, {"a", "b"}, 16)
    assert kinds(op)[-1] == craft.LinearMLPOp
    check(centred, op, fraction_inputs(16), tol=5e-5)
    x = rasp.numerical(rasp.Map(lambda t: {"a": -1.5, "b": 0, "c": 4}[t], rasp.tokens))
    y = rasp.numerical(rasp.Map(lambda i: i / 4 - 2, rasp.indices))
    both = rasp.numerical(rasp.LinearSequenceMap(x, y, 2, -0.5))
    op = lower(both, {"a", "b", "c"}, 12)
    assert kinds(op)[-1] == craft.LinearMLPOp
    check(both, op, [[t] * 12 for t in "abc"], tol=5e-5)


@pytest.mark.parametrize("numerical", [False, True])
def test_sequence_map_mlp_every_pair(numerical):
    f = (lambda t, i: {"a": 1, "b": -2, "c": 0.5}[t] * i) if numerical else (
        lambda t, i: None if i % 5 == 0 else (t, i % 3))
    program = rasp.SequenceMap(f, rasp.tokens, rasp.indices)
    if numerical:
        program = rasp.numerical(program)
    op = lower(program, {"a", "b", "c"}, 16)
    assert kinds(op) == [craft.SequenceMapMLPOp]
    check(program, op, [[t] * 16 for t in "abc"])


def test_constant_mlps():
    cat = rasp.SequenceMap(lambda a, b: (a, b), rasp.Full("z"), rasp.tokens)
    num = rasp.numerical(rasp.LinearSequenceMap(rasp.numerical(rasp.Full(-1.5)),
                                                rasp.numerical(rasp.Full(2)), 1, 1))
    for program in (cat, num):
        op = lower(program, {"a", "b"}, 4)
        assert craft.ConstantMLPOp in kinds(op)
        check(program, op, [["a", "b", "a", "a"], ["b"]])


# ---------------------------------------------------------------- attention


@pytest.mark.parametrize("max_seq_len", [5, 32])
def test_categorical_attention_every_value_and_length(max_seq_len):
    program = lib.make_reverse(rasp.tokens)
    op = lower(program, VOCAB, max_seq_len)
    inputs = [[VOCAB[(i * 7 + n) % len(VOCAB)] for i in range(n)]
              for n in range(1, max_seq_len + 1)]
    check(program, op, inputs)


def test_categorical_attention_equal_values():
    parity = rasp.Map(lambda t: t % 2, rasp.tokens)
    program = rasp.Aggregate(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ),
                             parity)
    op = lower(program, {1, 2, 3, 4}, 16)
    check(program, op, [[1, 2, 3, 4] * 4, [4] * 16, [3]])


@pytest.mark.parametrize("max_seq_len", [10, 32])
def test_numerical_attention_every_fraction(max_seq_len):
    op = lower(FRAC, {"a", "b"}, max_seq_len)
    assert kinds(op)[-1] == craft.NumericalAttentionOp
    check(FRAC, op, fraction_inputs(max_seq_len), tol=5e-5)


def test_numerical_attention_mean_of_any_numbers():
    values = rasp.numerical(rasp.Map(lambda t: {"a": 0, "b": 2, "c": -5}[t], rasp.tokens))
    program = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), values, default=0))
    op = lower(program, {"a", "b", "c"}, 8)
    inputs = [[("abc")[(i * k) % 3] for i in range(8)] for k in range(1, 6)]
    check(program, op, inputs, tol=5e-5)


# ---------------------------------------------------------------- selector width


@pytest.mark.parametrize("max_seq_len", [5, 16, 32])
@pytest.mark.parametrize("numerical", [False, True])
def test_selector_width_every_width(max_seq_len, numerical):
    program = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT))
    if numerical:
        program = rasp.numerical(program)
    op = lower(program, {"a", "b"}, max_seq_len)
    assert kinds(op)[0] == craft.SelectorWidthOp
    # Position k of "b" * k + "a" * (L - k)... every width 0..L-1 appears, and L with LEQ.
    inputs = [["b"] * k + ["a"] * (max_seq_len - k) for k in range(max_seq_len + 1)]
    check(program, op, inputs, tol=5e-5)
    with_all = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
    check(with_all, lower(with_all, {"a", "b"}, max_seq_len),
          [["a"] * n for n in range(1, max_seq_len + 1)])


def test_selector_width_constants_from_value_sets():
    """The decoding MLP's slopes come from the gaps between neighbouring BOS shares."""
    for n in (5, 32):
        op = lower(lib.make_hist(), {"a"}, n)
        (width,) = [o for o in op.block.ops if isinstance(o, craft.SelectorWidthOp)]
        block = width.block(n)
        assert block.attention.w_qk.max() == pytest.approx(numerics.selector_width_scale(n))
