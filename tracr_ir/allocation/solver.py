"""The `solver` strategy of `craft-allocate-layers` (CP-SAT): the residual an occupant takes
under a cleaning plan (`occupancies`, `objective`), a first-fit plan (`cleaning_plan`), the
lexicographic model (`solve`) and the layout of its plan (`planned_layout`). The pass's
docstring gives the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from xdsl.dialects.builtin import IntegerAttr, i64

from tracr_ir.allocation.placement import (BlockInfo, Key, earliest_sublayers, input_widths_of,
                                           latest_sublayers, layer_count, layer_loads, mlp_room,
                                           readers_of)
from tracr_ir.craft.bases import Direction
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_layout import (Occupant, ResidualLayout, foldable_units,
                                            nonnegative_directions, occupants, reuse_layout)
from tracr_ir.errors import PipelineError

STAGES = ("residual", "heads", "mlp_hidden")
SHARES = (0.6, 0.2, 0.2)  # of the time limit, per stage


Part = tuple[str, int, int]  # an occupant's directions a reader can clean alone (1, 2, ...), the rest (0)


@dataclass(frozen=True)
class Occupancy:
    """Part of an occupant of the residual as the solver sees it: written at sublayer `start`,
    free after the MLP sublayer of layer `end` (its last reader's; None: the output, never),
    when `units` hidden units in that layer's MLP clean it, `folder[1]` fewer in the layer of
    block `folder[0]`, a reader whose MLPs have them (for its directions `folded`). Ints, or
    solver expressions."""

    key: Part
    start: Any
    end: Any
    width: int
    units: int
    folder: tuple[Any, int] | None = None
    folded: tuple[Direction, ...] = ()

    @property
    def per_direction(self) -> tuple[int, int]:
        """(the units cleaning each direction takes, those its folder saves on each) where
        they are the same for each direction and a plan may clean some of them, else (0, 0):
        then it cleans all or none."""
        saved = self.folder[1] if self.folder is not None else 0
        if self.units % self.width or saved % self.width or self.folded:
            return 0, 0
        return self.units // self.width, saved // self.width

    def cost(self, layer: int, layers: Sequence[int], count: int | None = None) -> int:
        """The hidden units cleaning `count` of its directions (all by default) in `layer`
        takes (`layers`: the blocks' layers)."""
        count = self.width if count is None else count
        folds = self.folder is not None and layers[self.folder[0]] == layer
        if count < self.width:
            each, saved = self.per_direction
            return count * (each - saved * folds)
        return self.units - self.folder[1] * folds if self.folder is not None else self.units


def occupancies(infos: Sequence[BlockInfo], layers: Sequence[Any], input_widths: Sequence[int],
                last: Callable[[list[Any]], Any] = max) -> list[Occupancy]:
    """Every occupant but `one` and `bos`: an input from 0, a block's output from its write, a
    SelectorWidth's share at its head, each until its last reader's layer (`last` of the
    readers' layers), in two parts where a reader's MLPs have the units that clean some of
    its directions (the reader with the most). `layers` holds ints or solver variables."""
    readers, input_readers = readers_of(infos)
    folds: dict[Key, list[tuple[int, tuple[tuple[Direction, int], ...], int]]] = {}
    for r, info in enumerate(infos):
        for key, ds, partial in info.folds:
            folds.setdefault(key, []).append((r, ds, partial))

    def parts(key: Key, start: Any, end: Any, width: int, units: int) -> list[Occupancy]:
        """The directions each reader can clean alone (readers with more first), the rest."""
        out: list[Occupancy] = []
        taken: set[Direction] = set()
        best = (0, 0)  # the reader with the most units of the rest's directions
        for r, ds, partial in sorted(folds.get(key, []) if end is not None else [],
                                     key=lambda f: -len(f[1])):
            mine = tuple((d, n) for d, n in ds if d not in taken)
            if mine:
                n = sum(n for _, n in mine)
                out.append(Occupancy((*key, len(out) + 1), start, end, len(mine), n, (r, n),
                                     tuple(d for d, _ in mine)))
                taken.update(d for d, _ in mine)
            best = max(best, (partial, r))
        width -= len(taken)
        units -= sum(o.units for o in out)
        if width:
            out.append(Occupancy((*key, 0), start, end, width, units,
                                 (best[1], best[0]) if best[0] else None))
        return out

    out: list[Occupancy] = []
    for a, width in enumerate(input_widths):
        if input_readers[a] and width:  # one-hots: one cleaning unit per direction
            out += parts(("input", a), 0, last([layers[r] for r in input_readers[a]]), width,
                         width)
    for i, info in enumerate(infos):
        if info.span == 2:
            out.append(Occupancy(("share", i, 0), 2 * layers[i], layers[i], 1,
                                 info.share_units))
        if not info.width or not (info.output or readers[i]):
            continue
        end = None if info.output else last([layers[r] for r in readers[i]])
        out += parts(("output", i), 2 * layers[i] + info.first + info.span - 1, end,
                     info.width, info.units)
    return out


# A cleaning plan: (the layer cleaning it, how many of its directions) of each part it cleans.
Plan = Mapping[Part, tuple[int, int]]


def objective(infos: Sequence[BlockInfo], starts: Sequence[int], input_widths: Sequence[int],
              plan: Plan | None = None) -> tuple[int, int, int]:
    """(most heads in a layer, residual width, widest MLP layer) of a placement. The width
    counts `one` and `bos`: the peak of live directions, where a direction lives until the
    MLP sublayer of the layer its `plan` cleans it in, or to the end if the plan does not
    clean it, and the MLP layers count the plan's cleanings; without a plan, a direction
    lives until its last reader's layer and the MLP layers count the blocks."""
    if not infos:
        return 0, 2 + sum(input_widths), 0
    layers = [s // 2 for s in starts]
    n = max(layers) + 1
    heads, hidden = [0] * n, [0] * n
    for info, layer in zip(infos, layers):
        heads[layer] += info.heads
        hidden[layer] += info.hidden
    live = [0] * (2 * n + 1)
    for o in occupancies(infos, layers, input_widths):
        end, count = (o.end, o.width) if plan is None or o.end is None else \
            plan.get(o.key, (None, 0))
        for t in range(o.start, 2 * n):
            live[t] += o.width if end is None or t < 2 * end + 2 else o.width - count
    if plan is not None:
        hidden = cleaning_loads(infos, starts, input_widths, plan)
    return max(heads), 2 + max(live), max(hidden)


def cleaning_loads(infos: Sequence[BlockInfo], starts: Sequence[int],
                   input_widths: Sequence[int], plan: Plan) -> list[int]:
    """Hidden units per layer: the blocks' and the plan's cleanings (but in the last layer,
    after which no block writes)."""
    layers = [s // 2 for s in starts]
    n = max(layers, default=-1) + 1
    loads = [0] * n
    for info, layer in zip(infos, layers):
        loads[layer] += info.hidden
    for o in occupancies(infos, layers, input_widths):
        layer, count = plan.get(o.key, (n, 0))
        if layer < n - 1:
            loads[layer] += o.cost(layer, layers, count)
    return loads


def cleaning_plan(infos: Sequence[BlockInfo], starts: Sequence[int],
                  input_widths: Sequence[int], cap: int) -> dict[Part, int]:
    """A first fit: parts freed before the last layer, cheapest cleaning per direction first,
    are cleaned in the first layer from their last reader's whose MLP stays within `cap`
    hidden units, else as many of their directions as fit where most do."""
    layers = [s // 2 for s in starts]
    n = max(layers, default=-1) + 1
    loads = cleaning_loads(infos, starts, input_widths, {})
    plan: dict[Part, tuple[int, int]] = {}
    freed = [o for o in occupancies(infos, layers, input_widths)
             if o.end is not None and o.end < n - 1]
    for o in sorted(freed, key=lambda o: (o.units / o.width, o.end)):
        layer = next((x for x in range(o.end, n - 1) if loads[x] + o.cost(x, layers) <= cap),
                     None)
        count = o.width
        if layer is None and o.per_direction[0]:
            layer = max(range(o.end, n - 1), key=lambda x: (cap - loads[x], -x))
            count = min(o.width, max(cap - loads[layer], 0) // o.per_direction[0])
        if layer is not None and count:
            loads[layer] += o.cost(layer, layers, count)
            plan[o.key] = layer, count
    return plan


@dataclass(frozen=True)
class Solution:
    """The solver's placement (first sublayers), the stages proven optimal, and its cleaning
    plan."""

    starts: list[int]
    proven: tuple[str, ...]
    plan: Plan


def solver_sublayers(infos: Sequence[BlockInfo], greedy: Sequence[int],
                     input_widths: Sequence[int], time_limit: float
                     ) -> tuple[list[int], tuple[str, ...]]:
    """(sublayers minimising the objective lexicographically within the greedy number of
    layers, the stages proven optimal): `solve` without its cleaning plan."""
    solution = solve(infos, greedy, input_widths, time_limit)
    return solution.starts, solution.proven


def solve(infos: Sequence[BlockInfo], greedy: Sequence[int], input_widths: Sequence[int],
          time_limit: float) -> Solution:
    """The placement within the greedy number of layers minimising, lexicographically, the
    residual width of a cleaning plan (within greedy's heads and widest MLP), the most heads
    in a layer, the widest MLP layer; with its plan (see the module docstring)."""
    try:
        from ortools.sat.python import cp_model
    except ImportError as error:
        raise PipelineError("craft-allocate-layers{strategy=solver} needs ortools "
                            "(pip install 'tracr-ir[solver]')") from error

    if not infos:
        return Solution([], STAGES, {})
    earliest = earliest_sublayers(infos)
    n_layers = layer_count(infos, earliest)
    latest = latest_sublayers(infos, 2 * n_layers - 1)
    model = cp_model.CpModel()
    layer = [model.new_int_var(earliest[i] // 2, latest[i] // 2, f"layer_{i}")
             for i in range(len(infos))]
    for i, info in enumerate(infos):
        for j in info.operands:
            # start_i > end_j, in sublayers: 2 l_i + first_i > 2 l_j + first_j + span_j - 1
            end_j = infos[j].first + infos[j].span - 1
            model.add(2 * layer[i] + info.first >= 2 * layer[j] + end_j + 1)
    greedy_heads, greedy_hidden = layer_loads(infos, greedy)

    # The most heads in a layer, within greedy's (bounded below by the average).
    heads = model.new_int_var(max(i.heads for i in infos), greedy_heads, "heads")
    model.add_cumulative([model.new_fixed_size_interval_var(layer[i], 1, "")
                          for i, info in enumerate(infos) if info.heads],
                         [info.heads for info in infos if info.heads], heads)
    model.add(n_layers * heads >= sum(i.heads for i in infos))

    # The widest MLP layer, cleanings included, within greedy's.
    widest = model.new_int_var(max(i.hidden for i in infos), greedy_hidden, "hidden")

    def latest_of(xs: list[Any]) -> Any:
        if len(xs) == 1:
            return xs[0]
        m = model.new_int_var(0, n_layers - 1, "")
        model.add_max_equality(m, xs)
        return m

    # The residual: an occupant lives until the end unless cleaned in a layer from its last
    # reader's on, whose MLP, cleanings included, stays within the widest.
    cleaned: dict[Part, tuple[Any, Any]] = {}  # part -> (directions cleaned, in which layer)
    whole: dict[Part, int] = {}  # parts cleaned all or none (their literal), with their width
    mlp = [(model.new_fixed_size_interval_var(layer[i], 1, ""), info.hidden)
           for i, info in enumerate(infos) if info.hidden]
    intervals, widths = [], []
    end_all = 2 * n_layers
    for o in occupancies(infos, layer, input_widths, latest_of):
        if o.end is None:
            intervals.append(model.new_interval_var(o.start, end_all - o.start, end_all, ""))
            widths.append(o.width)
            continue
        at = model.new_int_var(0, n_layers - 1, "")
        model.add(at >= o.end)
        each, saved = o.per_direction
        if each:  # `count` of its directions cleaned in layer `at`, the rest kept
            count = model.new_int_var(0, o.width, "")
            cleaned[o.key] = count, at
            size = model.new_int_var(1, end_all, "")
            intervals.append(model.new_interval_var(o.start, size, 2 * at + 2, ""))
            widths.append(o.width)
            intervals.append(model.new_interval_var(2 * at + 2, end_all - 2 * at - 2, end_all,
                                                    ""))
            widths.append(o.width - count)
            demand: Any = each * count
            if saved:  # `counted` of them with `saved` units fewer, in its folder's layer
                counted, folds = model.new_int_var(0, o.width, ""), model.new_bool_var("")
                model.add(counted <= count)
                model.add(counted <= o.width * folds)
                model.add(at == layer[o.folder[0]]).only_enforce_if(folds)
                demand = model.new_int_var(0, each * o.width, "")
                model.add(demand == each * count - saved * counted)
            mlp.append((model.new_fixed_size_interval_var(at, 1, ""), demand))
            continue
        clean = model.new_bool_var("")  # all its directions cleaned in layer `at`, or none
        cleaned[o.key] = clean, at
        whole[o.key] = o.width
        end = model.new_int_var(1, end_all, "")
        model.add(end == 2 * at + 2).only_enforce_if(clean)
        model.add(end == end_all).only_enforce_if(~clean)
        size = model.new_int_var(1, end_all, "")
        intervals.append(model.new_interval_var(o.start, size, end, ""))
        widths.append(o.width)
        units: Any = o.units
        if o.folder is not None:  # free units where its folder runs in the same layer
            folded = model.new_bool_var("")
            model.add(at == layer[o.folder[0]]).only_enforce_if(folded)
            units = o.units - o.folder[1] * folded
        if o.units:
            mlp.append((model.new_optional_fixed_size_interval_var(at, 1, clean, ""), units))
    model.add_cumulative([m for m, _ in mlp], [d for _, d in mlp], widest)
    peak = model.new_int_var(0, sum(o.width for o in occupancies(infos, [0] * len(infos),
                                                              input_widths)), "residual")
    model.add_cumulative(intervals, widths, peak)

    def score(starts: Sequence[int], plan: Plan) -> tuple[int, int, int]:
        heads, width, hidden = objective(infos, starts, input_widths, plan)
        return width, heads, hidden

    best, plan = list(greedy), cleaning_plan(infos, greedy, input_widths, greedy_hidden)
    target = score(best, plan)
    proven: list[str] = []
    for k, (stage, expr) in enumerate(zip(STAGES, (peak + 2, heads, widest))):
        model.clear_hints()
        for i in range(len(infos)):
            model.add_hint(layer[i], best[i] // 2)
        for key, (count, at) in cleaned.items():
            model.add_hint(count, 0 if key not in plan else 1 if key in whole else plan[key][1])
            if key in plan:
                model.add_hint(at, plan[key][0])
        model.add(expr <= target[k])  # never worse than the best placement so far
        model.minimize(expr)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit * SHARES[k]
        solver.parameters.num_workers = 2
        solver.parameters.random_seed = 0
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        found = [2 * solver.value(layer[i]) + info.first for i, info in enumerate(infos)]
        found_plan = {key: (solver.value(at), solver.value(count) * whole.get(key, 1))
                      for key, (count, at) in cleaned.items() if solver.value(count)}
        if score(found, found_plan) <= score(best, plan):
            best, plan = found, found_plan
        target = score(best, plan)
        model.add(expr <= target[k])
        # A stage is proven optimal if it and every stage before it are.
        if status == cp_model.OPTIMAL and len(proven) == k:
            proven.append(stage)
    return Solution(best, tuple(proven), plan)


def planned_layout(program: craft.ProgramOp, infos: Sequence[BlockInfo], plan: Plan
                   ) -> ResidualLayout:
    """The residual layout of a cleaning plan, blocks placed: a part the plan cleans holds its
    positions until that layer's MLP (`x clean N | y` where N is not its last reader's
    layer), the others to the end; as many positions as the plan's peak (interval colouring,
    `reuse_layout` without a cap)."""
    ops = [info.op for info in infos]
    block = {id(info.op): i for i, info in enumerate(infos)}
    parts: dict[Key, list[tuple[Part, tuple[Direction, ...]]]] = {}
    for o in occupancies(infos, [op.layer_index or 0 for op in ops], input_widths_of(program)):
        if o.folded:
            parts.setdefault(o.key[:2], []).append((o.key, o.folded))
    split: list[Occupant] = []
    inputs, last_read = 0, {}
    for o in occupants(program, ops):  # one, bos, the inputs in argument order come first
        if o.fixed:
            split.append(o)
            continue
        if o.writer is None:
            key, inputs = ("input", inputs), inputs + 1
        else:
            key = ("share" if o.share else "output", block[id(o.writer)])
        last_read[o.name] = o.end // 2
        groups = parts.get(key, [])
        taken = {d for _, ds in groups for d in ds}
        rest = tuple(d for d in o.directions if d not in taken)
        for part, directions in [*groups, ((*key, 0), rest)]:
            at, count = plan.get(part, (None, 0))
            if count:  # the first `count` of its directions are cleaned
                split.append(replace(o, directions=directions[:count], clean_layer=at))
            if directions[count:] or not (groups or count):
                split.append(replace(o, directions=directions[count:], kept=True))
    layout = reuse_layout(split, None, nonnegative_directions(program, ops))
    owner = {d: o for o in split for d in o.directions}
    return ResidualLayout(layout.slots, tuple(
        (d, owner[d].clean_layer) for slot in layout.slots for d in slot[:-1]
        if owner[d].clean_layer != last_read[owner[d].name]))


def place(infos: Sequence[BlockInfo], starts: Sequence[int]) -> None:
    """Give each block the layer of its first sublayer."""
    for info, start in zip(infos, starts):
        info.op.properties["layer"] = IntegerAttr(start // 2, i64)


def reuse_width(program: craft.ProgramOp, infos: Sequence[BlockInfo], starts: Sequence[int]
                ) -> int:
    """The residual width `craft-layout-residual` lays out for a placement (blocks placed
    there) without a plan: reuse where cleanings fit below the widest MLP layer."""
    place(infos, starts)
    ops = [info.op for info in infos]
    return len(reuse_layout(occupants(program, ops), mlp_room(infos, starts),
                            nonnegative_directions(program, ops), foldable_units(program, ops)))
