"""A value that cannot be None compiles; a refusal for "may be None" names the node and shows
an input on which it is None, or says what the search showed (`rasp-refine-values`,
`rasp-prove-facts`, `tracr_ir.analysis.facts`, `tracr_ir.analysis.witness`)."""

from __future__ import annotations

import itertools

import pytest

from tracr_ir import compile_rasp_to_model, rasp
from tracr_ir.analysis.witness import EXHAUSTIVE_BUDGET, input_count
from tracr_ir.compiler import run_pipeline, to_ir
from tracr_ir.dialects import rasp as rasp_ir
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.testing import outputs_equal


def every_input(vocab, max_seq_len):
    for n in range(1, max_seq_len + 1):
        yield from (list(xs) for xs in itertools.product(sorted(vocab), repeat=n))


def assert_exact(program, vocab, max_seq_len, inputs):
    model = compile_rasp_to_model(program, vocab, max_seq_len)
    inputs = list(inputs)
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], rasp.evaluate(program, xs)), xs


def as_number(agg: rasp.SOp) -> rasp.SOp:
    """A numerical Map of a categorical Aggregate (default None): it must never be None."""
    return rasp.numerical(rasp.Map(lambda t: 1 if t in ("a", 1) else 0, agg)).named("number")


def self_selecting(vocab_max: int) -> rasp.SOp:
    # The query is a Map of the tokens that is the identity on the vocabulary: each query
    # selects its own position (and the keys holding its value: one value).
    same = rasp.Map(lambda t: t if t <= vocab_max else 0, rasp.tokens)
    sel = rasp.Select(rasp.tokens, same, rasp.Comparison.EQ)
    return as_number(rasp.Aggregate(sel, rasp.tokens))


def test_a_selector_that_selects_its_own_position_is_proven_on_a_large_input_space():
    vocab, n = {1, 2, 3, 4, 5}, 12
    assert input_count(len(vocab), n) > EXHAUSTIVE_BUDGET  # proven by the rule, not by trying
    program = self_selecting(5)
    module = to_ir(program, vocab, n)
    run_pipeline(module, "rasp-infer-values,rasp-refine-values")
    aggregates = [op for op in module.walk() if isinstance(op, rasp_ir.AggregateOp)]
    assert all("always_selects" in op.attributes for op in aggregates)
    assert_exact(program, vocab, n, [[(i * 7 + j) % 5 + 1 for j in range(k)]
                                     for i, k in enumerate([1, 5, 12, 12, 7, 3])])


def last_of_its_count() -> rasp.SOp:
    # Select position hist - 1: it exists (hist <= length), but no rule shows it.
    hist = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    target = rasp.Map(lambda h: h - 1, hist)
    sel = rasp.Select(rasp.indices, target, rasp.Comparison.EQ).named("pick")
    return as_number(rasp.Aggregate(sel, rasp.tokens).named("picked"))


def test_a_small_input_space_is_decided_by_trying_every_input():
    vocab, n = {"a", "b"}, 6
    assert input_count(len(vocab), n) <= EXHAUSTIVE_BUDGET
    assert_exact(last_of_its_count(), vocab, n, every_input(vocab, n))


def test_without_proof_or_witness_the_refusal_says_what_the_search_showed():
    vocab, n = {"a", "b", "c"}, 12
    with pytest.raises(UnsupportedProgramError) as info:
        compile_rasp_to_model(last_of_its_count(), vocab, n)
    text = str(info.value)
    assert text.startswith("number_") and "not proven never None" in text
    assert "no rule proves that picked_" in text
    assert "all 363 of them" in text and "this is not a proof" in text


def test_a_value_that_can_be_none_is_refused_with_the_input():
    # The query is "a" at every position: an input without "a" selects nothing.
    sel = rasp.Select(rasp.tokens, rasp.Map(lambda t: "a", rasp.tokens), rasp.Comparison.EQ)
    program = as_number(rasp.Aggregate(sel, rasp.tokens).named("first_a"))
    for vocab, n in (({"a", "b"}, 4), ({"a", "b", "c"}, 12)):  # exhaustive and sampled
        with pytest.raises(UnsupportedProgramError,
                           match=r'^number_\d+: .* on input \["b"\] it is None at position 0'):
            compile_rasp_to_model(program, vocab, n)
