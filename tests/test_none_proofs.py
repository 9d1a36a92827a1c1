"""A value that cannot be None compiles; a refusal for "may be None" names the node and shows
an input on which it is None, or says what the search showed (`rasp-refine-values`,
`rasp-prove-facts`, `tracr_ir.analysis.facts`, `tracr_ir.analysis.witness`)."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracr_ir import compile_rasp_to_model, rasp
from tracr_ir.analysis.facts import ProgramFacts
from tracr_ir.analysis.witness import UNDEFINED, EXHAUSTIVE_BUDGET, Exhaustive, input_count
from tracr_ir.compiler import run_pipeline, to_ir
from tracr_ir.dialects import rasp as rasp_ir
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.interpreters.rasp import _interpreter
from tracr_ir.testing import outputs_equal
from tracr_ir.testing.strategies import programs


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


def test_a_query_bounded_by_the_length_is_proven_on_a_large_input_space():
    # hist is at most the length, so hist - 1 is a position: decided per position (the
    # SelectorWidth holds 1..n at length n), not by trying inputs.
    vocab, n = {"a", "b", "c"}, 12
    assert input_count(len(vocab), n) > EXHAUSTIVE_BUDGET
    rng = random.Random(1)
    assert_exact(last_of_its_count(), vocab, n, random_inputs(rng, sorted(vocab), n, 12))


def random_inputs(rng, vocab, max_seq_len, count):
    """`count` random inputs, a third of them of full length."""
    return [[rng.choice(vocab) for _ in range(max_seq_len if i % 3 == 0 else
                                              rng.randint(1, max_seq_len))]
            for i in range(count)]


def previous_token() -> rasp.SOp:
    # Keys pack the token with the position; each query selects the previous position (the
    # first one itself). No rule covers it (the keys read the tokens, and most queries do
    # not select their own position); per position it is immediate.
    packed = rasp.SequenceMap(lambda t, i: 10 * i + t, rasp.tokens, rasp.indices)
    sel = rasp.Select(packed, rasp.indices, lambda k, q: k // 10 == max(q - 1, 0))
    return as_number(rasp.Aggregate(sel.named("previous"), rasp.tokens).named("shifted"))


def test_a_selector_of_tokens_and_positions_is_proven_per_position():
    vocab, n = set(range(1, 10)), 16
    assert input_count(len(vocab), n) > 10 ** 15
    module = to_ir(previous_token(), vocab, n)
    run_pipeline(module, "rasp-infer-values,rasp-refine-values")
    aggregates = [op for op in module.walk() if isinstance(op, rasp_ir.AggregateOp)]
    assert aggregates and all("always_selects" in op.attributes for op in aggregates)
    assert_exact(previous_token(), vocab, n, random_inputs(random.Random(2), sorted(vocab),
                                                           n, 12))


def pattern_or_short(max_seq_len: int) -> rasp.SOp:
    # A query selects the positions whose token differs from (3 i + 1) % 9 + 1, and every
    # position below full length: only the one full-length input that matches the pattern
    # everywhere (one in 9**max_seq_len) selects nothing.
    match = rasp.SequenceMap(lambda t, i: t == (3 * i + 1) % 9 + 1, rasp.tokens, rasp.indices)
    unmatched = rasp.Select(match, match, lambda k, q: not k)
    short = rasp.Select(rasp.length, rasp.length, lambda k, q: k < max_seq_len)
    sel = rasp.SelectorOr(unmatched, short)
    return as_number(rasp.Aggregate(sel, rasp.Map(lambda t: 1, rasp.tokens)).named("rare"))


def test_a_none_on_one_rare_input_is_refused_with_that_input():
    n = 16
    program = pattern_or_short(n)
    with pytest.raises(UnsupportedProgramError) as info:
        compile_rasp_to_model(program, set(range(1, 10)), n)
    text = str(info.value)
    assert text.startswith("number_") and "rare_" in text, text
    found = re.search(r"on input \[([^\]]*)\] it is None at position (\d+)", text)
    assert found, text
    xs = [int(x) for x in found.group(1).split(", ")]
    assert xs == [(3 * i + 1) % 9 + 1 for i in range(n)]
    assert rasp.evaluate(program, xs)[int(found.group(2))] is None


def test_a_decision_out_of_budget_says_so_and_names_the_option():
    vocab, n = set(range(1, 10)), 16
    module = to_ir(pattern_or_short(n), vocab, n)
    with pytest.raises(UnsupportedProgramError) as info:
        run_pipeline(module, "rasp-infer-values,rasp-refine-values{decide_budget=10},"
                             "rasp-prove-facts{decide_budget=10}")
    text = str(info.value)
    assert "not proven never None" in text and "this is not a proof" in text
    assert "ran out of its budget of 10 steps" in text
    assert "rasp-refine-values{decide_budget=N}" in text


def test_a_value_that_can_be_none_is_refused_with_the_input():
    # The query is "a" at every position: an input without "a" selects nothing.
    sel = rasp.Select(rasp.tokens, rasp.Map(lambda t: "a", rasp.tokens), rasp.Comparison.EQ)
    program = as_number(rasp.Aggregate(sel, rasp.tokens).named("first_a"))
    for vocab, n in (({"a", "b"}, 4), ({"a", "b", "c"}, 12)):  # exhaustive and sampled
        with pytest.raises(UnsupportedProgramError,
                           match=r'^number_\d+: .* on input \["b"\] it is None at position 0'):
            compile_rasp_to_model(program, vocab, n)


# The decision against every input of a small space (`Exhaustive` tries all 120).

_SOPS = {
    "tokens": lambda: rasp.tokens,
    "indices": lambda: rasp.indices,
    "length": lambda: rasp.length,
    "parity": lambda: rasp.Map(lambda t: t % 2, rasp.tokens),
    "sum": lambda: rasp.SequenceMap(lambda t, i: t + i, rasp.tokens, rasp.indices),
    "shift": lambda: rasp.Map(lambda n: n - 2, rasp.length),
    "rank": lambda: rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens,
                                                   rasp.Comparison.LT)),
    "first": lambda: rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices,
                                                rasp.Comparison.LT), rasp.tokens),
}
_PREDICATES = [rasp.Comparison.EQ, rasp.Comparison.LT, rasp.Comparison.GEQ,
               rasp.Comparison.NEQ, lambda k, q: (k + q) % 3 == 0]


@st.composite
def selectors(draw):
    def select():
        keys, queries = (_SOPS[draw(st.sampled_from(sorted(_SOPS)))]() for _ in range(2))
        return rasp.Select(keys, queries, draw(st.sampled_from(_PREDICATES)))
    sel = select()
    how = draw(st.sampled_from(["one", "and", "or", "not"]))
    if how == "and":
        sel = rasp.SelectorAnd(sel, select())
    elif how == "or":
        sel = rasp.SelectorOr(sel, select())
    elif how == "not":
        sel = rasp.SelectorNot(sel)
    return sel


@settings(max_examples=30, deadline=None)
@given(selectors())
def test_the_decision_agrees_with_trying_every_input(sel):
    program = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Map(lambda t: 1,
                                                                          rasp.tokens))))
    module = to_ir(program, {1, 2, 3}, 4)
    run_pipeline(module, "rasp-infer-values")
    (ir,) = [op for op in module.walk() if isinstance(op, rasp_ir.ProgramOp)]
    (agg,) = [op for op in ir.walk() if isinstance(op, rasp_ir.AggregateOp)
              and op.output.type.is_numerical]
    decision = ProgramFacts(ir).decision(agg.selector)
    envs = [env for env in Exhaustive(ir).envs() if agg.selector in env]
    empty = any(not any(row) for env in envs for row in env[agg.selector])
    assert decision.selects is not True or not empty
    if decision.selects is False:
        assert empty and decision.witnesses
    exact = not any(isinstance(v.owner, (rasp_ir.AggregateOp, rasp_ir.SelectorWidthOp))
                    and v.owner.properties["label"].data != "length"
                    for op in ir.walk() if isinstance(op, rasp_ir.SelectOp)
                    for v in (op.keys, op.queries))
    if exact:  # no over-approximated s-op: decided either way
        assert decision.selects is (not empty), decision.reason


# One value per query (categorical Aggregates), decided the same way.

def test_one_value_per_query_is_proven_per_position():
    # `previous_token`'s selector picks exactly one position, which no rule shows (each query
    # value selects keys of many values: one per token).
    packed = rasp.SequenceMap(lambda t, i: 10 * i + t, rasp.tokens, rasp.indices)
    sel = rasp.Select(packed, rasp.indices, lambda k, q: k // 10 == max(q - 1, 0))
    program = rasp.Aggregate(sel, rasp.tokens).named("previous")
    module = to_ir(program, set(range(1, 10)), 16)
    run_pipeline(module, "rasp-infer-values,rasp-prove-facts")
    (agg,) = [op for op in module.walk() if isinstance(op, rasp_ir.AggregateOp)]
    assert agg.attributes["one_value"].data == "proven"


def test_two_values_on_one_rare_pair_of_tokens_are_refused_with_that_input():
    # Query 11 also selects position 0 when token 3 is at 0 and token 7 at 11 (one input in
    # 400 of length 12): the two selected indices differ.
    packed = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    sel = rasp.Select(packed, packed, lambda k, q: k == q or (k == (3, 0) and q == (7, 11)))
    program = rasp.Aggregate(sel, rasp.indices).named("pair")
    with pytest.raises(UnsupportedProgramError) as info:
        compile_rasp_to_model(program, set(range(1, 21)), 12)
    text = str(info.value)
    found = re.search(r"on input \[([^\]]*)\] query (\d+) selects positions \[0, 11\]", text)
    assert text.startswith("pair") and found, text
    xs = [int(x) for x in found.group(1).split(", ")]
    assert len(xs) == 12 and (xs[0], xs[11], int(found.group(2))) == (3, 7, 11)
    row = rasp.evaluate(sel, xs)[11]
    assert [k for k, s in enumerate(row) if s] == [0, 11]


@settings(max_examples=25, deadline=None)
@given(programs(max_steps=8))
def test_exhaustive_runs_share_results_without_changing_them(program):
    """`Exhaustive.envs` runs each op once per distinct operand values (and length) and shares
    the result: every op's values on every input are those of running it on that input
    (where its operands are defined), and None on the inputs where running it raises."""
    module = run_pipeline(to_ir(program, {1, 2, 3}, 4), "rasp-infer-values")
    (prog,) = [op for op in module.walk() if isinstance(op, rasp_ir.ProgramOp)]
    exhaustive = Exhaustive(prog)
    assert exhaustive.complete
    envs = exhaustive.envs()
    inputs = [list(xs) for n in range(1, 5) for xs in itertools.product([1, 2, 3], repeat=n)]
    assert len(envs) >= len(inputs)
    ops = [op for op in prog.block.ops if op.results]
    for xs, env in zip(inputs, envs):
        interpreter, _ = _interpreter(prog, len(xs))
        plain = {prog.tokens: list(xs), prog.indices: list(range(len(xs)))}
        for op in ops:
            if any(v not in plain for v in op.operands):
                assert op.results[0] not in env
                continue
            try:
                (plain[op.results[0]],) = interpreter.run_op(
                    op, tuple(plain[v] for v in op.operands))
            except UNDEFINED:
                assert op.results[0] not in env
                continue
            got, want = env[op.results[0]], plain[op.results[0]]
            assert got == want and repr(got) == repr(want), (op, xs)
