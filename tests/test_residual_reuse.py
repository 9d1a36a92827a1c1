"""Residual reuse (`craft-layout-residual{reuse=true}`) and the solver allocator: exact on
random programs at every stage, checked (a layout writing into a live position is refused,
naming the block), the solver never worse than greedy, `proven_optimal` in the IR and stats."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from xdsl.dialects.builtin import IntegerAttr, i64

from tracr_ir import lib, rasp
from tracr_ir.backends.jax import build
from tracr_ir.compiler import (StageIR, compile_rasp_to_model, default_pipeline, interpret,
                               parse_module, print_module, run_pipeline, stage_pipeline,
                               to_ir)
from tracr_ir.craft.bases import Direction, Space
from tracr_ir.craft.blocks import (AttentionHead, MLPBlock, SelectorWidthBlock,
                                   mlp_forward)
from tracr_ir.craft.selector_width import share_direction
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_exactness import verify_exactness
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualAttr, ResidualLayout,
                                            check_layout, cleaning_mlp, cleaning_mlps,
                                            fold_cleaning, nonnegative_directions, occupants)
from tracr_ir.dialects.program import stage_op
from tracr_ir.errors import IRError, UnsupportedProgramError
from tracr_ir.interpreters.craft import interpret_batch
from tracr_ir.passes.craft_allocate_layers import (block_infos, cleaning_plan,
                                                   greedy_sublayers, input_widths_of,
                                                   layer_count, layer_loads, objective,
                                                   planned_layout, solve)
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
def test_solver_is_never_worse_than_greedy_and_lays_out_its_plan(seed):
    """The solver's placement and cleaning plan: within greedy's layers, heads and widest MLP
    layer (its cleanings included), a residual no wider than greedy's placement with the
    first-fit plan; `planned_layout` has exactly the plan's width, and the layout checks."""
    (program,) = _programs(40, [seed])
    module = to_ir(program, {1, 2, 3}, 4)
    stages = StageIR()
    run_pipeline(module, default_pipeline(), callback=lambda _p, m, _n: stages.record(m))
    craft_op = craft_program(stages)
    infos = block_infos(craft_op, cleaning=True)
    widths = input_widths_of(craft_op)
    greedy = greedy_sublayers(infos)
    # Greedy's placement: the peak of live directions is the layout's when cleanings may widen
    # the MLPs; the default layout keeps the widest MLP and may take more positions.
    predicted = objective(infos, greedy, widths)[1]
    assert predicted == len(residual_layout(craft_op, widen_mlps=True))
    assert predicted <= len(ResidualLayout.of(craft_op.attributes[RESIDUAL_ATTR]))
    first_fit = cleaning_plan(infos, greedy, widths, layer_loads(infos, greedy)[1])
    heads, width, hidden = objective(infos, greedy, widths, first_fit)
    assert hidden == layer_loads(infos, greedy)[1]  # the first fit stays within the widest
    solution = solve(infos, greedy, widths, time_limit=3.0)
    assert layer_count(infos, solution.starts) == layer_count(infos, greedy)
    solved = objective(infos, solution.starts, widths, solution.plan)
    assert solved[1] <= width and solved[0] <= heads and solved[2] <= hidden
    for info, start in zip(infos, solution.starts):
        info.op.properties["layer"] = IntegerAttr(start // 2, i64)
    layout = planned_layout(craft_op, infos, solution.plan)
    assert len(layout) == solved[1]
    check_layout(craft_op, [info.op for info in infos], layout)


@pytest.mark.parametrize("seed", [9, 18])
def test_solver_residual_is_no_wider_than_greedys(seed):
    """Generated programs where the solver's placement used to even out the MLP layers and
    leave no room for cleanings, so its residual came out wider than greedy's (56 vs 45 and 45
    vs 32): its residual stage counts the cleanings now. No wider residual, no more heads, no
    wider MLP layer than greedy's, and exact."""
    (program,) = _programs(40, [seed])
    greedy = compile_rasp_to_model(program, {1, 2, 3}, 4)
    solver = compile_rasp_to_model(program, {1, 2, 3}, 4, allocator="solver")
    g, s = greedy.stats(), solver.stats()
    assert s["layers"] == g["layers"]
    assert s["residual"] <= g["residual"]
    assert s["heads"] <= g["heads"] and s["mlp_hidden"] <= g["mlp_hidden"]
    inputs = [[1], [3, 2], [2, 2, 1], [1, 3, 3, 2], [3, 1, 2, 2]]
    for xs, out in zip(inputs, solver.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], rasp.evaluate(program, xs))


def test_the_layout_is_never_wider_than_the_solvers_plan():
    """The allocator records its plan's layout; `craft-layout-residual` keeps it unless its own
    is narrower, and `residual` stays proven only where the layout has the plan's width."""
    for seed in range(3):
        (program,) = _programs(40, [seed])
        plans = []

        def record(previous, module, _next):
            if previous is not None and previous.name == "craft-allocate-layers":
                plans.append(stage_op(module).attributes.get(RESIDUAL_ATTR))

        module = to_ir(program, {1, 2, 3}, 4)
        run_pipeline(module, stage_pipeline("craft", "solver"), callback=record)
        final = ResidualLayout.of(stage_op(module).attributes[RESIDUAL_ATTR])
        proven = [x.data for x in stage_op(module).attributes["proven_optimal"]]
        (plan,) = plans
        if plan is None:  # greedy's placement kept: nothing proven
            assert proven == ["layers"]
            continue
        assert len(final) <= len(ResidualLayout.of(plan))
        assert "residual" not in proven or len(final) == len(ResidualLayout.of(plan))


def test_proven_optimal_shows_in_the_ir_and_in_stats():
    model = compile_rasp_to_model(lib.make_hist(), {"a", "b"}, 5, allocator="solver")
    assert model.stats()["proven_optimal"] == ["layers", "residual", "heads", "mlp_hidden"]
    assert 'proven_optimal = ["layers", "residual", "heads", "mlp_hidden"]' in model.ir["craft"]
    assert 'proven_optimal = ["layers", "residual", "heads", "mlp_hidden"]' in \
        model.ir["transformer"]
    greedy = compile_rasp_to_model(lib.make_hist(), {"a", "b"}, 5)
    assert greedy.stats()["proven_optimal"] == ["layers"]



@pytest.mark.parametrize("allocator, max_seq_len", [("greedy", 5), ("greedy", 10),
                                                    ("solver", 5)])
def test_cleanings_never_widen_the_widest_mlp(allocator, max_seq_len):
    """Reuse costs cleaning units only where a layer's MLP has room below the widest layer's
    (or already has the unit): on every lib program no MLP layer is wider than the widest
    without reuse, and the residual no wider; `widen_mlps=true` (reuse wherever the peak
    allows) widens it on some of them. The solver's plan counts its cleanings in its widest
    MLP layer, which stays within greedy's."""
    spec = default_pipeline(allocator).replace("craft-layout-residual",
                                               "craft-layout-residual{%s}")
    widened_any = False
    for case in LIB_CASES:
        stats = [compile_rasp_to_model(case.make(max_seq_len), case.vocab, max_seq_len,
                                       pipeline=spec % opts).stats() for opts in
                 ("reuse=false", "reuse=true", "reuse=true widen_mlps=true")]
        plain, capped, widened = stats
        if allocator == "greedy":
            assert capped["mlp_hidden"] == plain["mlp_hidden"], case.name
        else:
            greedy = compile_rasp_to_model(case.make(max_seq_len), case.vocab, max_seq_len)
            assert capped["mlp_hidden"] <= greedy.stats()["mlp_hidden"], case.name
        assert max(capped["mlp_hidden_per_layer"]) == capped["mlp_hidden"], case.name
        assert capped["residual"] <= plain["residual"], case.name
        assert widened["residual"] <= capped["residual"], case.name
        widened_any |= widened["mlp_hidden"] > plain["mlp_hidden"]
    assert widened_any


def _dyck_craft():
    stages = StageIR()
    run_pipeline(to_ir(lib.make_shuffle_dyck(["()"]), list("()a"), 3), default_pipeline(),
                 callback=lambda _p, m, _n: stages.record(m))
    program = craft_program(stages)
    return program, [op for op in program.block.ops if isinstance(op, craft.CraftOp)]


def test_nonnegative_directions_are_cleaned_by_one_unit():
    """One-hots, direct lookups (relus written with weight +1), a softmax share and averages
    of them are never negative (one cleaning unit); a difference (`balance = opens - closes`)
    may be (two), and so may what the analysis cannot prove (a ramp pair writes +1 and -1)."""
    program, ops = _dyck_craft()
    sure = nonnegative_directions(program, ops)
    op = {op.label_text.rsplit("_", 1)[0]: op for op in ops}
    for name in ("bools_open", "bools_close", "opens", "closes", "shuffle_dyck"):
        assert set(op[name].out_space) <= sure, name
    assert share_direction(op["length"].label_text) in sure
    for name in ("balance_()", "length"):  # a difference; ramp pairs
        assert set(op[name].out_space).isdisjoint(sure), name
    balance = op["balance_()"]
    (d,) = balance.out_space
    assert cleaning_mlp([d], sure).hidden_size == 2
    tokens = list(program.block.args[0].type.space)
    assert cleaning_mlp(tokens, sure).hidden_size == len(tokens)


def test_cleaning_folds_into_units_the_layer_has_and_moves_to_a_layer_with_room():
    """make_shuffle_dyck at 3: bools_open's unit relu(tokens:"(") also cleans tokens:"(" (no
    new unit in the widest layer 0); tokens:"a", which nothing there reads alone, is cleaned
    in a later layer with room (`clean N`); the craft interpreter runs the folded blocks,
    exactly."""
    program, ops = _dyck_craft()
    layout = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    tokens = list(program.block.args[0].type.space)
    later = layout.cleaned_at.get(tokens[2])
    assert later is not None and later > 0 and tokens[0] not in layout.cleaned_at
    assert len(layout.slots[layout.index(tokens[0])]) > 1
    cleaning = cleaning_mlps(program, ops, layout)
    layer0 = [op.block(program.length) for op in ops if op.layer_index == 0]
    mlps = [b.mlp if isinstance(b, SelectorWidthBlock) else b for b in layer0
            if not isinstance(b, AttentionHead)]
    folded, rest = fold_cleaning(mlps, cleaning[0])
    assert rest is None and [m.hidden_size for m in folded] == [m.hidden_size for m in mlps]
    assert any(tokens[0] in m.out_space for m in folded)
    share = share_direction(next(op for op in ops if op.label_text.startswith("length"))
                            .label_text)
    assert {tokens[2], share} <= set(cleaning[later].in_space)
    inputs = [list("()a"), list(")("), list("(()"), list("a")]
    for xs, got in zip(inputs, interpret_batch(program, inputs)):
        assert got == rasp.evaluate(lib.make_shuffle_dyck(["()"]), xs)


def test_fold_cleaning_uses_both_signs_a_block_has():
    """A block reading a signed x with units relu(x) and relu(-x) cleans x with both (one
    output column): the update is exactly -x, and no unit is left over."""
    x, y = Direction("x"), Direction("y")
    block = MLPBlock(Space((x,)), Space((Direction("h", 0), Direction("h", 1))), Space((y,)),
                     np.array([[1.0, -1.0]]), np.array([[2.0], [-3.0]]))
    (folded,), rest = fold_cleaning([block], cleaning_mlp([x]))
    assert rest is None and list(folded.out_space) == [y, x]
    space = Space((x, y))
    values = np.array([[-2.5, 0.0], [0.0, 0.0], [4.0, 0.0], [1e-30, 0.0]], dtype=np.float32)
    _, update = mlp_forward(folded, space, values)
    _, plain = mlp_forward(block, space, values)
    assert (update[:, 0] == -values[:, 0]).all() and (update[:, 1] == plain[:, 1]).all()


def test_a_cleaning_layer_outside_the_free_interval_is_refused():
    program, ops = _dyck_craft()
    layout = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    d = next(d for d, _ in layout.cleaned)
    late = ResidualLayout(layout.slots, tuple((x, 4 if x == d else n) for x, n in layout.cleaned))
    with pytest.raises(UnsupportedProgramError, match="still holds .* is cleaned in the MLP "
                       "of layer 4"):
        check_layout(program, ops, late)
    early = ResidualLayout(layout.slots, ((layout.slots[2][0], 0),))  # tokens:"(": default 0
    check_layout(program, ops, early)
    bad = ResidualLayout(layout.slots, ((layout.slots[0][0], 0),))  # `one` is never free
    with pytest.raises(UnsupportedProgramError, match="no later occupant"):
        check_layout(program, ops, bad)


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
