"""Residual reuse (`craft-layout-residual{reuse=true}`) and the solver allocator: exact on
random programs at every stage, checked (a layout writing into a live position is refused,
naming the block), the solver never worse than greedy, `proven_optimal` in the IR and stats."""

import pytest
from hypothesis import assume, given, settings

from tracr_ir import lib, rasp
from tracr_ir.backends.jax import build
from tracr_ir.compiler import (StageIR, compile_rasp_to_model, default_pipeline, interpret,
                               parse_module, print_module, run_pipeline, to_ir)
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_exactness import verify_exactness
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualAttr, ResidualLayout,
                                            check_layout, occupants)
from tracr_ir.dialects.program import stage_op
from tracr_ir.errors import IRError, UnsupportedProgramError
from tracr_ir.interpreters.craft import interpret_batch
from tracr_ir.passes.craft_allocate_layers import (block_infos, greedy_sublayers,
                                                   input_widths_of, objective,
                                                   solver_sublayers)
from tracr_ir.passes.craft_layout_residual import residual_layout
from tracr_ir.testing import outputs_equal, program_cases
from tracr_ir.testing.strategies import random_program

from lib_cases import LIB_CASES


def compiled(case, allocator="greedy"):
    stages = StageIR()
    module = to_ir(case.program, case.vocab, case.max_seq_len)
    try:
        run_pipeline(module, default_pipeline(allocator),
                     callback=lambda _p, m, _n: stages.record(m))
    except UnsupportedProgramError:
        assume(False)
    return module, stages


def craft_program(stages):
    program = stage_op(stages.module("craft"))
    assert isinstance(program, craft.ProgramOp)
    return program


# Reuse is on in the default pipeline, so tests/test_pipeline_properties.py runs it through
# every interpreter and the JAX model on generated programs; this runs the solver's placement.
@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(program_cases(n_inputs=3))
def test_solver_placement_with_reuse_is_exact_at_every_stage(case):
    module, stages = compiled(case, "solver")
    outs = build(module).apply_batch([["BOS", *xs] for xs in case.inputs])
    for xs, out in zip(case.inputs, outs):
        want = rasp.evaluate(case.program, xs)
        for stage in ("craft", "transformer"):
            assert outputs_equal(interpret(stages.module(stage), xs), want), stage
        assert outputs_equal(out[1:], want)


def _programs(n, seeds, max_seq_len=4):
    return [random_program(seed, n, frozenset({1, 2, 3}), max_seq_len, composite_selectors=False,
                           full=False) for seed in seeds]


@pytest.mark.parametrize("allocator", ["greedy", "solver"])
def test_reuse_shares_positions_and_stays_exact_on_random_programs(allocator):
    """Reuse is exercised (positions are shared), and the model is exact there."""
    shared = 0
    inputs = [[1], [3, 2], [2, 2, 1], [1, 3, 3, 2], [3, 3, 3, 1]]
    for program in _programs(30, range(2)):
        model = compile_rasp_to_model(program, {1, 2, 3}, 4, allocator=allocator)
        craft_op = _craft_of(model)
        layout = ResidualLayout.of(craft_op.attributes[RESIDUAL_ATTR])
        shared += layout.shared
        assert model.weights.d_model == len(layout)
        outs = model.apply_batch([["BOS", *xs] for xs in inputs])
        for xs, out, by_craft in zip(inputs, outs, interpret_batch(craft_op, inputs)):
            want = rasp.evaluate(program, xs)
            assert outputs_equal(out[1:], want) and outputs_equal(by_craft, want)
    assert shared > 0


def _craft_of(model):
    return stage_op(parse_module(model.ir["craft"]))


def _lib_craft(max_seq_len=4, allocator="greedy"):
    program = lib.make_sort_unique(rasp.tokens, rasp.tokens)
    stages = StageIR()
    module = to_ir(program, {1, 2, 3, 4}, max_seq_len)
    spec = default_pipeline(allocator).replace("craft-layout-residual",
                                               "craft-layout-residual{widen_mlps=true}")
    run_pipeline(module, spec, callback=lambda _p, m, _n: stages.record(m))
    return craft_program(stages), program


def test_a_block_writing_into_a_live_position_is_refused_naming_it():
    program, _ = _lib_craft()
    layout = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    occs = occupants(program, ops)
    # Mutation: move a later occupant of a shared position next to a direction its own
    # writer reads (so that direction is live when the block writes).
    slots = [list(s) for s in layout.slots]
    i = next(i for i, s in enumerate(slots) if len(s) > 1)
    moved = slots[i].pop(1)
    writer = next(o for o in occs if moved in o.directions).writer
    read = {d for operand in writer.operands for d in operand.type.space}
    j = next(j for j, s in enumerate(slots) if s[-1] in read)
    slots[j].append(moved)
    if not slots[i]:
        slots.pop(i)
    bad = ResidualLayout(tuple(tuple(s) for s in slots))
    with pytest.raises(UnsupportedProgramError, match=f"'{writer.label_text}' writes .* still "
                       "holds"):
        check_layout(program, ops, bad)
    program.attributes[RESIDUAL_ATTR] = bad.attr()
    # The craft interpreter, craft-verify-exactness, the lowering and the IR verifier refuse it.
    with pytest.raises(UnsupportedProgramError, match=writer.label_text):
        interpret_batch(program, [[1, 2]])
    with pytest.raises(UnsupportedProgramError, match=writer.label_text):
        verify_exactness(program)
    with pytest.raises(IRError, match=f"craft.program: .*'{writer.label_text}' writes"):
        parse_module(print_module(program.parent_op()))


def test_layout_prints_and_parses_shared_positions():
    program, _ = _lib_craft()
    attr = program.attributes[RESIDUAL_ATTR]
    assert isinstance(attr, ResidualAttr) and ResidualLayout.of(attr).shared
    text = print_module(program.parent_op())
    assert " | " in text
    assert print_module(parse_module(text)) == text


def test_reuse_false_is_the_disjoint_layout():
    program = lib.make_hist()
    spec = default_pipeline().replace("craft-layout-residual",
                                      "craft-layout-residual{reuse=false}")
    plain = compile_rasp_to_model(program, {"a", "b"}, 5, pipeline=spec)
    reused = compile_rasp_to_model(program, {"a", "b"}, 5)
    assert not ResidualLayout.of(
        _craft_of(plain).attributes[RESIDUAL_ATTR]).shared
    assert reused.weights.d_model < plain.weights.d_model
    seqs = [["BOS", "a"], ["BOS", "a", "b", "b"]]
    assert plain.apply_batch(seqs) == reused.apply_batch(seqs)


@pytest.mark.parametrize("seed", range(3))
def test_solver_is_never_worse_than_greedy_and_predicts_the_width(seed):
    (program,) = _programs(40, [seed])
    module = to_ir(program, {1, 2, 3}, 4)
    stages = StageIR()
    run_pipeline(module, default_pipeline(), callback=lambda _p, m, _n: stages.record(m))
    craft_op = craft_program(stages)
    infos = block_infos(craft_op)
    widths = input_widths_of(craft_op)
    greedy = greedy_sublayers(infos)
    solved, proven = solver_sublayers(infos, greedy, widths, time_limit=3.0)
    assert objective(infos, solved, widths) <= objective(infos, greedy, widths)
    assert max(s // 2 for s in solved) == max(s // 2 for s in greedy)  # same layers
    # The greedy placement's predicted width is the layout pass's when cleanings may widen the
    # MLPs; the default layout keeps the widest MLP and may take more positions.
    predicted = objective(infos, greedy, widths)[2]
    assert predicted == len(residual_layout(craft_op, widen_mlps=True))
    assert predicted <= len(ResidualLayout.of(craft_op.attributes[RESIDUAL_ATTR]))


def test_proven_optimal_shows_in_the_ir_and_in_stats():
    model = compile_rasp_to_model(lib.make_hist(), {"a", "b"}, 5, allocator="solver")
    assert model.stats()["proven_optimal"] == ["layers", "heads", "mlp_hidden", "residual"]
    assert 'proven_optimal = ["layers", "heads", "mlp_hidden", "residual"]' in model.ir["craft"]
    assert 'proven_optimal = ["layers", "heads", "mlp_hidden", "residual"]' in \
        model.ir["transformer"]
    greedy = compile_rasp_to_model(lib.make_hist(), {"a", "b"}, 5)
    assert greedy.stats()["proven_optimal"] == ["layers"]



def test_cleanings_never_widen_the_widest_mlp():
    """Reuse costs cleaning units only where a layer's MLP has room below the widest layer's:
    on every lib program the widest MLP is the one without reuse, and the residual no wider;
    `widen_mlps=true` (reuse wherever the peak allows) widens it on some of them."""
    spec = default_pipeline().replace("craft-layout-residual", "craft-layout-residual{%s}")
    widened_any = False
    for case in LIB_CASES:
        stats = [compile_rasp_to_model(case.make(5), case.vocab, 5, pipeline=spec % opts
                                       ).stats() for opts in
                 ("reuse=false", "reuse=true", "reuse=true widen_mlps=true")]
        plain, capped, widened = stats
        assert capped["mlp_hidden"] == plain["mlp_hidden"], case.name
        assert capped["residual"] <= plain["residual"], case.name
        assert widened["residual"] <= capped["residual"], case.name
        widened_any |= widened["mlp_hidden"] > plain["mlp_hidden"]
    assert widened_any


def test_reused_positions_keep_their_history_through_save_and_load(tmp_path):
    """The model's labels name each position's last occupant; `residual_names` (and the
    pictures) show every occupant in order, and the saved model keeps them."""
    import tracr_ir

    model = compile_rasp_to_model(lib.make_shuffle_dyck2(), list("(){}a"), 6)
    shared = [(i, name) for i, name in enumerate(model.residual_names) if " | " in name]
    assert shared
    for i, name in shared:
        assert name.split(" | ")[-1] == model.residual_labels[i]
    plain = compile_rasp_to_model(lib.make_shuffle_dyck2(), list("(){}a"), 6,
                                  pipeline=default_pipeline().replace(
                                      "craft-layout-residual", "craft-layout-residual{reuse=false}"))
    assert plain.residual_names == plain.residual_labels and not plain.residual_history
    model.save(tmp_path / "m.mlir")
    loaded = tracr_ir.load(tmp_path / "m.safetensors")
    assert loaded.residual_names == model.residual_names
    assert loaded.stats()["proven_optimal"] == model.stats()["proven_optimal"]
