"""The random-program strategies draw well-formed programs over every construct."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracr_ir import rasp
from tracr_ir.testing import strategies as strats

C = rasp.Comparison

ALL_NODE_TYPES = {
    rasp.Map,
    rasp.SequenceMap,
    rasp.LinearSequenceMap,
    rasp.Full,
    rasp.Select,
    rasp.SelectorAnd,
    rasp.SelectorOr,
    rasp.SelectorNot,
    rasp.Aggregate,
    rasp.SelectorWidth,
}


def _check_well_formed(program: rasp.SOp) -> None:
    """The structural rules the compiler relies on (see the strategies' docstring)."""
    for node in rasp.walk(program):
        if isinstance(node, rasp.Select):
            assert rasp.is_categorical(node.keys) and rasp.is_categorical(node.queries)
        elif isinstance(node, rasp.LinearSequenceMap):
            assert all(rasp.is_numerical(x) for x in (node, node.fst, node.snd))
        elif isinstance(node, rasp.SequenceMap):
            assert all(rasp.is_categorical(x) for x in (node, node.fst, node.snd))
        elif isinstance(node, rasp.Aggregate):
            assert rasp.get_encoding(node) == rasp.get_encoding(node.sop)
            assert node.default == (0 if rasp.is_numerical(node) else None)


def _check_meaningful_aggregates(program: rasp.SOp, xs: list) -> None:
    """Categorical Aggregates select at most one value or equal values; numerical ones
    average 0s and 1s."""
    for node in rasp.walk(program):
        if not isinstance(node, rasp.Aggregate):
            continue
        matrix = rasp.evaluate(node.selector, xs)
        values = rasp.evaluate(node.sop, xs)
        for row in matrix:
            picked = [v for v, s in zip(values, row) if s]
            if rasp.is_numerical(node):
                assert all(type(v) in (int, bool) and v in (0, 1) for v in picked), picked
            else:
                assert len(picked) <= 1 or all(v == picked[0] for v in picked), picked


@settings(max_examples=200, deadline=None)
@given(case=strats.program_cases())
def test_drawn_programs_evaluate_without_raising(case):
    _check_well_formed(case.program)
    for xs in case.inputs:
        assert 1 <= len(xs) <= case.max_seq_len and set(xs) <= case.vocab
        out = rasp.evaluate(case.program, xs)
        assert len(out) == len(xs)
        _check_meaningful_aggregates(case.program, xs)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), max_depth=st.integers(1, 6))
def test_programs_with_explicit_options(data, max_depth):
    vocab, max_seq_len = {"x", "y"}, 4
    program = data.draw(strats.programs(max_depth=max_depth, vocab=vocab,
                                        max_seq_len=max_seq_len, max_steps=4))
    xs = data.draw(strats.inputs_for(vocab=vocab, max_seq_len=max_seq_len))
    assert len(rasp.evaluate(program, xs)) == len(xs)


@settings(max_examples=60, deadline=None)
@given(case=strats.program_cases(numerical=False, composite_selectors=False, full=False))
def test_options_switch_constructs_off(case):
    for node in rasp.walk(case.program):
        assert not isinstance(node, (rasp.SelectorAnd, rasp.SelectorOr, rasp.SelectorNot,
                                     rasp.Full, rasp.LinearSequenceMap))
        if isinstance(node, rasp.SOp):
            assert rasp.is_categorical(node)
    for xs in case.inputs:
        rasp.evaluate(case.program, xs)


def test_strategy_covers_every_construct():
    node_types, predicates, encodings = set(), set(), set()

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(strats.programs())
    def collect(program):
        for node in rasp.walk(program):
            node_types.add(type(node))
            if isinstance(node, rasp.Select):
                p = node.predicate
                predicates.add(p if isinstance(p, C) else "lambda")
            if isinstance(node, (rasp.Map, rasp.Aggregate, rasp.SelectorWidth, rasp.Full)):
                encodings.add((type(node), rasp.get_encoding(node)))

    collect()
    assert ALL_NODE_TYPES <= node_types, ALL_NODE_TYPES - node_types
    assert set(C) | {"lambda"} <= predicates, (set(C) | {"lambda"}) - predicates
    for cls in (rasp.Map, rasp.Aggregate, rasp.SelectorWidth, rasp.Full):
        for enc in rasp.Encoding:
            assert (cls, enc) in encodings, (cls, enc)


def test_inputs_for_includes_full_length():
    lengths = []

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(strats.inputs_for(vocab={1, 2}, max_seq_len=6))
    def collect(xs):
        assert set(xs) <= {1, 2}
        lengths.append(len(xs))

    collect()
    assert min(lengths) >= 1 and max(lengths) == 6
    assert lengths.count(6) >= 25


@pytest.mark.parametrize("n_nodes", [10, 25, 50, 100, 200, 400])
def test_random_program_has_about_the_requested_node_count(n_nodes):
    for seed in range(3):
        program = strats.random_program(random.Random(seed), n_nodes, vocab={1, 2, 3},
                                        max_seq_len=5)
        count = len(rasp.walk(program))
        assert abs(count - n_nodes) <= max(6, n_nodes // 5), (n_nodes, seed, count)
        _check_well_formed(program)
        for xs in ([1], [3, 1, 2], [2, 2, 1, 3, 3]):
            assert len(rasp.evaluate(program, xs)) == len(xs)
            _check_meaningful_aggregates(program, xs)


def test_random_program_is_deterministic_per_seed():
    def shape(program):
        return [type(n).__name__ for n in rasp.walk(program)]

    a = strats.random_program(7, 60, vocab={"a", "b"}, max_seq_len=4)
    b = strats.random_program(random.Random(7), 60, vocab={"a", "b"}, max_seq_len=4)
    assert shape(a) == shape(b)
    for xs in (["a"], ["b", "a", "a"], ["a", "b", "b", "a"]):
        assert rasp.evaluate(a, xs) == rasp.evaluate(b, xs)
    c = strats.random_program(8, 60, vocab={"a", "b"}, max_seq_len=4)
    assert shape(c) != shape(a)


def test_random_program_respects_max_depth_before_the_fold():
    program = strats.random_program(3, 150, max_depth=3)
    # Depth of every node (selectors are transparent); the fold adds a few levels on top.
    depth: dict[int, int] = {}
    for node in rasp.walk(program):
        ops = [c for c in node.children]
        d = max((depth[id(c)] for c in ops), default=-1)
        leaf = isinstance(node, (rasp.Full, rasp.TokensType, rasp.IndicesType))
        depth[id(node)] = 0 if leaf else d + (1 if isinstance(node, rasp.SOp) else 0)
    assert depth[id(program)] <= 3 + 1 + 8  # log2 of at most a few hundred unused nodes


def test_describe_lists_every_node():
    program = strats.random_program(1, 30)
    text = strats.describe(program)
    assert program.label in text
    assert len(text.splitlines()) == len([
        n for n in rasp.walk(program) if not isinstance(n, (rasp.TokensType, rasp.IndicesType))
    ])
