"""Value inference on correlated operands (`tracr_ir.analysis.joint`) stays sound: on random
programs built to exercise it (Maps of one source, numerical means over structurally equal
selectors, combined by LinearSequenceMaps and SequenceMaps), every value `rasp.evaluate` gives
any node on every input is in that node's value set after `rasp-infer-values` and after
`rasp-refine-values`, and every stage agrees with `rasp.evaluate`; and the precision it
buys, measured on the lib programs it was made for."""

from __future__ import annotations

import itertools

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tracr_ir import lib, rasp
from tracr_ir.compiler import (DEFAULT_PIPELINE, StageIR, interpret, print_module,
                               run_pipeline, to_ir)
from tracr_ir.dialects import rasp as rasp_ir
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.testing import outputs_equal

from lib_cases import LIB_BY_NAME

VOCABS = (("(", ")", "a"), (0, 1, 2))
CMPS = ("LEQ", "LT", "GEQ", "GT", "TRUE", "EQ", "NEQ")


@st.composite
def numbers_of(draw, source: rasp.SOp, domain: list) -> rasp.SOp:
    """A numerical Map of `source` onto small ints and bools."""
    table = {x: draw(st.sampled_from([0, 1, 2, -1, True, False])) for x in domain}
    return rasp.numerical(rasp.Map(table.__getitem__, source, simplify=False))


@st.composite
def selector(draw) -> rasp.Selector:
    """A selector over the positions, the tokens, or both."""
    kind = draw(st.sampled_from(["indices", "tokens", "and"]))
    if kind == "indices":
        return rasp.Select(rasp.indices, rasp.indices,
                           rasp.Comparison[draw(st.sampled_from(CMPS))])
    if kind == "tokens":
        return rasp.Select(rasp.tokens, rasp.tokens,
                           rasp.Comparison[draw(st.sampled_from(["EQ", "NEQ", "TRUE"]))])
    return rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ) & rasp.Select(
        rasp.tokens, rasp.tokens, rasp.Comparison.EQ)


@st.composite
def correlated_programs(draw):
    vocab = draw(st.sampled_from(VOCABS))
    max_seq_len = draw(st.integers(1, 4))
    source = draw(st.sampled_from(["tokens", "indices"]))
    base = rasp.tokens if source == "tokens" else rasp.indices
    domain = list(vocab) if source == "tokens" else list(range(max_seq_len))
    a, b = draw(numbers_of(base, domain)), draw(numbers_of(base, domain))
    sel_a = draw(selector())
    # The same selector: shared, or rebuilt (equal structure, a different node).
    sel_b = sel_a if draw(st.booleans()) else _rebuild(sel_a)
    mean_a = rasp.numerical(rasp.Aggregate(sel_a, a, default=0))
    mean_b = rasp.numerical(rasp.Aggregate(sel_b, b, default=0))
    if draw(st.booleans()):
        mean_a = rasp.numerical(rasp.Map(lambda x: 2 * x, mean_a, simplify=False))
    how = draw(st.sampled_from(["linear", "sequence", "compare"]))
    if how == "linear":
        fa, fb = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
        out = rasp.numerical(rasp.LinearSequenceMap(mean_a, mean_b, fa, fb))
        if draw(st.booleans()):
            out = rasp.Map(lambda x: x < 0, out)
    elif how == "sequence":
        out = rasp.SequenceMap(lambda x, y: round(x - y, 9), mean_a, mean_b)
    else:
        out = rasp.SequenceMap(lambda x, y: x <= y, mean_a, mean_b)
    return out, frozenset(vocab), max_seq_len


def _rebuild(sel: rasp.Selector) -> rasp.Selector:
    if isinstance(sel, rasp.Select):
        return rasp.Select(sel.keys, sel.queries, sel.predicate)
    if isinstance(sel, rasp.SelectorAnd):
        return rasp.SelectorAnd(_rebuild(sel.fst), _rebuild(sel.snd))
    raise AssertionError(sel)


def every_input(vocab, max_seq_len):
    for n in range(1, max_seq_len + 1):
        yield from (list(xs) for xs in itertools.product(sorted(vocab, key=repr), repeat=n))


def value_sets(module) -> dict[str, tuple]:
    program = next(op for op in module.walk() if isinstance(op, rasp_ir.ProgramOp))
    return {op.label.data: op.results[0].type.value_set for op in program.block.ops
            if op.results and isinstance(op.results[0].type, rasp_ir.SOpType)}


def assert_sound(program, vocab, max_seq_len, spec):
    module = to_ir(program, vocab, max_seq_len)
    run_pipeline(module, spec)
    sets = value_sets(module)
    nodes = [n for n in rasp.walk(program) if isinstance(n, rasp.SOp) and n.label in sets]
    for xs in every_input(vocab, max_seq_len):
        for node in nodes:
            allowed = set(sets[node.label])
            for v in rasp.evaluate(node, xs):
                assert v in allowed, (spec, node.label, xs, v, sorted(map(repr, allowed)))


@settings(max_examples=60, deadline=None)
@given(correlated_programs())
def test_joint_inference_is_sound(drawn):
    program, vocab, max_seq_len = drawn
    assert_sound(program, vocab, max_seq_len, "rasp-infer-values")
    assert_sound(program, vocab, max_seq_len, "rasp-infer-values,rasp-refine-values")


@settings(max_examples=25, deadline=None)
@given(correlated_programs())
def test_joint_programs_compile_exactly(drawn):
    program, vocab, max_seq_len = drawn
    stages = StageIR()
    module = to_ir(program, vocab, max_seq_len)
    try:
        run_pipeline(module, DEFAULT_PIPELINE, callback=lambda _p, m, _n: stages.record(m))
    except UnsupportedProgramError:
        assume(False)
    for xs in itertools.islice(every_input(vocab, max_seq_len), 0, None, 7):
        want = rasp.evaluate(program, xs)
        for stage in ("rasp", "craft", "transformer"):
            assert outputs_equal(interpret(stages.module(stage), xs), want), stage


def inferred_sizes(program, vocab, max_seq_len) -> dict[str, int]:
    module = to_ir(program, vocab, max_seq_len)
    run_pipeline(module, "rasp-infer-values")
    return {label: len(values) for label, values in value_sets(module).items()}


def test_pair_balance_difference_has_the_reachable_fractions_only():
    # opens - closes over one causal selector: a / n - b / n (in floats, as the evaluator
    # computes it) with a + b <= n, n <= 32. The product of the two fraction sets would give
    # ~68,000 values.
    sizes = inferred_sizes(lib.make_pair_balance(rasp.tokens, "(", ")"), set("()a"), 32)
    balance = next(n for label, n in sizes.items() if label.startswith("pair_balance"))
    reachable = {1 * (a / n) + -1 * (b / n)
                 for n in range(1, 33) for a in range(n + 1) for b in range(n + 1 - a)}
    assert balance == len(reachable) < 1_500


def test_structurally_different_selectors_are_not_correlated():
    # Means over different selectors are independent: the product stays.
    ones = rasp.numerical(rasp.Map(lambda t: t == "(", rasp.tokens, simplify=False))
    a = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), ones, default=0))
    b = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GEQ), ones, default=0))
    program = rasp.numerical(rasp.LinearSequenceMap(a, b, 1, -1)).named("diff")
    assert_sound(program, frozenset("()a"), 4, "rasp-infer-values,rasp-refine-values")
    assert inferred_sizes(program, set("()a"), 4)[program.label] > 20


def test_shuffle_dyck2_rasp_ir_at_32_is_under_a_megabyte():
    case = LIB_BY_NAME["make_shuffle_dyck2"]
    module = to_ir(case.make(32), case.vocab, 32)
    run_pipeline(module, "rasp-infer-values,rasp-refine-values")
    assert len(print_module(module).encode()) < 1_000_000
