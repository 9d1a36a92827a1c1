"""`craft-allocate-layers{strategy=greedy}`: valid placements in the fewest layers the blocks
allow, balanced, and never more heads or MLP width in a layer than tracr's allocation rule
gives for the same blocks (`tracr_sublayers`); the first-fit loads structure; tracr's rule."""

import itertools
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracr_ir import rasp
from tracr_ir.allocation.placement import _Loads
from tracr_ir.allocation.solver import cleaning_loads, cleaning_plan, objective
from tracr_ir.compiler import compile_rasp_to_model
from tracr_ir.dialects import craft
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.passes.craft_allocate_layers import (ATTENTION, MLP, BlockInfo,
                                                   block_infos, critical_sublayers,
                                                   earliest_sublayers, fit_sublayers,
                                                   greedy_sublayers, layer_count, layer_loads,
                                                   solver_sublayers, tracr_sublayers)
from tracr_ir.testing import compile_to_stage, outputs_equal
from tracr_ir.testing.strategies import random_program

from lib_cases import LIB_CASES


def attention(*operands: int) -> BlockInfo:
    return BlockInfo(None, ATTENTION, 1, operands, 1, 0)  # type: ignore[arg-type]


def mlp(hidden: int, *operands: int) -> BlockInfo:
    return BlockInfo(None, MLP, 1, operands, 0, hidden)  # type: ignore[arg-type]


def selector_width(hidden: int, *operands: int) -> BlockInfo:
    return BlockInfo(None, ATTENTION, 2, operands, 1, hidden)  # type: ignore[arg-type]


def assert_valid(infos, starts):
    """Each block in a sublayer of its kind, strictly after the last sublayer of its operands."""
    for info, start in zip(infos, starts):
        assert start % 2 == info.first
        for j in info.operands:
            assert start > starts[j] + infos[j].span - 1


def craft_infos(program, max_seq_len, vocab=frozenset({1, 2, 3})):
    module = compile_to_stage(program, vocab, max_seq_len, "craft")
    (prog,) = [op for op in module.walk() if isinstance(op, craft.ProgramOp)]
    return block_infos(prog)


def test_balances_an_mlp_into_a_later_layer_with_room():
    # a -> m1 -> b -> m2, and m3 reading only the inputs: ASAP puts m3 beside m1 (9 wide);
    # balanced, it joins the narrower layer 1 (the critical path, 2 layers, is kept).
    infos = [attention(), mlp(6, 0), attention(1), mlp(2, 2), mlp(3)]
    assert layer_loads(infos, earliest_sublayers(infos)) == (1, 9)
    starts = greedy_sublayers(infos)
    assert_valid(infos, starts)
    assert layer_count(infos, starts) == 2
    assert layer_loads(infos, starts) == (1, 6)
    assert starts[4] == 3


def test_keeps_the_critical_path_where_tracr_takes_a_layer_more():
    # a -> m1, and m2 reading the inputs: one layer holds m1 and m2 (10 wide); tracr's rule
    # places m2 at depth 1 beside a, and m1 in the next layer (2 layers, 6 wide). Layers come
    # first: greedy and the solver keep the one layer.
    infos = [attention(), mlp(6, 0), mlp(4)]
    assert tracr_sublayers(infos) == [0, 3, 1]
    assert layer_count(infos, critical_sublayers(infos)) == 1
    starts = greedy_sublayers(infos)
    assert_valid(infos, starts)
    assert (layer_count(infos, starts), layer_loads(infos, starts)) == (1, (1, 10))
    starts, proven = solver_sublayers(infos, starts, (3, 3), time_limit=3.0)
    assert_valid(infos, starts)
    assert layer_count(infos, starts) == 1 and proven[:2] == ("residual", "heads")


def test_tracr_rule_condenses_an_attention_level_with_the_next_mlp_level():
    # depth 1: two heads only; depth 2: MLPs only -> one layer. Depth 3 (a head) and depth 4
    # (an MLP and a SelectorWidth) are not condensed: a SelectorWidth is attention and MLP.
    infos = [attention(), attention(), mlp(2, 0), mlp(3, 1), attention(2, 3), mlp(1, 4),
             selector_width(4, 4)]
    assert tracr_sublayers(infos) == [0, 0, 1, 1, 2, 5, 4]


def test_no_blocks_no_layers():
    assert greedy_sublayers([]) == critical_sublayers([]) == tracr_sublayers([]) == []


def test_fit_fails_where_nothing_fits_and_finds_asap_at_its_loads():
    infos = [mlp(5), mlp(5), mlp(5, 0)]
    assert fit_sublayers(infos, 2, 0, 9) is None
    asap = earliest_sublayers(infos)
    assert fit_sublayers(infos, 2, *layer_loads(infos, asap)) == asap
    assert fit_sublayers(infos, 2, 0, 5) is None  # mlp 2 must follow mlp 0
    assert layer_loads(infos, greedy_sublayers(infos)) == (0, 10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=40), st.data())
def test_loads_find_the_first_layer_at_most_a_limit(loads, data):
    tree = _Loads(len(loads))
    for layer, load in enumerate(loads):
        tree.add(layer, load)
    lo = data.draw(st.integers(0, len(loads) - 1))
    hi = data.draw(st.integers(lo, len(loads) - 1))
    limit = data.draw(st.integers(0, 9))
    want = next((i for i in range(lo, hi + 1) if loads[i] <= limit), -1)
    assert tree.first_at_most(lo, hi, limit) == want


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(6, 40), st.sampled_from([3, 5]))
def test_greedy_keeps_the_critical_path_and_tracr_rule_widths_where_it_can(seed, nodes, max_seq_len):
    logging.disable(logging.WARNING)
    try:
        program = random_program(seed, nodes, vocab={1, 2, 3}, max_seq_len=max_seq_len)
        infos = craft_infos(program, max_seq_len)
    except UnsupportedProgramError:
        return
    finally:
        logging.disable(logging.NOTSET)
    starts = greedy_sublayers(infos)
    assert_valid(infos, starts)
    reference, critical = tracr_sublayers(infos), critical_sublayers(infos)
    assert_valid(infos, reference)
    assert_valid(infos, critical)
    heads, hidden = layer_loads(infos, starts)
    tracr_heads, tracr_hidden = layer_loads(infos, reference)
    # the critical path, balanced: never more than ASAP's in the same layers
    assert layer_count(infos, starts) == layer_count(infos, critical)
    assert layer_count(infos, critical) == layer_count(infos, earliest_sublayers(infos))
    assert layer_loads(infos, critical) <= layer_loads(infos, earliest_sublayers(infos))
    if heads > tracr_heads or hidden > tracr_hidden:  # only where the critical path can't
        assert fit_sublayers(infos, layer_count(infos, critical),
                             tracr_heads, tracr_hidden) is None


@pytest.mark.parametrize("seed", [44, 217])
def test_critical_path_where_tracr_rule_is_narrower_is_exact_end_to_end(seed):
    """random_program(seed, 8) at max_seq_len 4: tracr's rule on these blocks takes a layer
    more for narrower MLP layers; greedy keeps the critical path, and the model is exact."""
    logging.disable(logging.WARNING)
    try:
        program = random_program(seed, 8, vocab={1, 2, 3}, max_seq_len=4)
        infos = craft_infos(program, 4)
        model = compile_rasp_to_model(program, {1, 2, 3}, 4)
    finally:
        logging.disable(logging.NOTSET)
    critical = critical_sublayers(infos)
    assert layer_count(infos, tracr_sublayers(infos)) > layer_count(infos, critical)
    assert model.stats()["layers"] == layer_count(infos, critical)
    inputs = [list(xs) for xs in itertools.product([1, 2, 3], repeat=4)]
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], rasp.evaluate(program, xs))


@pytest.mark.parametrize("case", LIB_CASES, ids=lambda c: c.name)
def test_greedy_keeps_the_critical_path_on_lib_programs(case):
    infos = craft_infos(case.make(5), 5, case.vocab)
    starts = greedy_sublayers(infos)
    assert_valid(infos, starts)
    assert layer_count(infos, starts) == layer_count(infos, earliest_sublayers(infos))
    assert layer_loads(infos, starts) <= layer_loads(infos, tracr_sublayers(infos))


def test_a_cleaning_plan_counts_its_units_in_the_mlp_layers():
    # tokens (3 one-hot directions) -> m (MLP, 4 hidden units, layer 0) -> a (head, layer 1),
    # then m2 (MLP, layer 1) reading a; the output is m2's. Cleaning tokens costs one unit
    # per direction in layer 0's MLP: with the widest layer capped at 5 only one of the three
    # fits, so the first-fit plan cleans one and keeps two to the end.
    infos = [BlockInfo(None, MLP, 1, (), 0, 4, 3, (0,), units=3),  # type: ignore[arg-type]
             BlockInfo(None, ATTENTION, 1, (0,), 1, 0, 2, units=2),  # type: ignore[arg-type]
             BlockInfo(None, MLP, 1, (1,), 0, 5, 1, output=True, units=1)]  # type: ignore
    starts = [1, 2, 3]
    assert objective(infos, starts, (3, 0)) == (1, 2 + 6, 5)  # tokens and m at sublayer 1
    plan = cleaning_plan(infos, starts, (3, 0), 5)
    assert plan == {("input", 0, 0): (0, 1)}
    # m and a are freed only in the last layer: a plan keeps them; at sublayer 3 m (3), a (2),
    # m2 (1) and the two tokens directions the plan keeps are live
    assert objective(infos, starts, (3, 0), plan) == (1, 2 + 8, 5)
    assert objective(infos, starts, (3, 0), {}) == (1, 2 + 9, 5)
    assert cleaning_loads(infos, starts, (3, 0), plan) == [5, 5]
    wider = cleaning_plan(infos, starts, (3, 0), 7)
    assert wider == {("input", 0, 0): (0, 3)}
    assert cleaning_loads(infos, starts, (3, 0), wider) == [7, 5]
    assert objective(infos, starts, (3, 0), wider) == (1, 2 + 6, 7)
