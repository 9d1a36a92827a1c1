"""`craft-allocate-layers{strategy=greedy|solver}`: a layer index on every craft block.

```
%w = craft.selector_width "hist_2" select [...] : !craft.space<[...]>
%m = craft.categorical_mlp "map_3" %w {...} : !craft.space<[...]>
```
becomes
```
craft.program ... attributes {proven_optimal = ["layers"]} {
%w = craft.selector_width "hist_2" layer 0 select [...] : !craft.space<[...]>
%m = craft.categorical_mlp "map_3" layer 1 %w {...} : !craft.space<[...]>
```

A layer is an attention sublayer (even sublayer 2l) then an MLP sublayer (odd, 2l + 1). A
block runs in a sublayer of its kind strictly after every block whose output it reads; a
SelectorWidth is an attention head followed by an MLP, at sublayers 2l and 2l + 1.

- `greedy` (the default) keeps the fewest layers there can be, the length of the longest
  dependency chain counted in sublayers (tracr's heuristic does not: 8 layers for
  make_shuffle_dyck2 where 7 suffice), and balances them: each block goes, in program order,
  into the first layer of its window (after its operands, early enough for its readers) where
  the layer's heads and hidden units stay within caps, and bisection lowers the caps, heads
  first, then MLP width, as far as that first fit succeeds (O(blocks log layers) per fit, a
  segment tree of layer loads). Where tracr's own rule placed on these blocks (longest path
  from the inputs, a level of heads merged with a following level of MLPs) has fewer heads or
  a narrower MLP layer, greedy fits the critical path within both of that rule's maxima when
  it can. The layer count comes first: where only more layers would reach tracr's widths,
  greedy keeps the critical path.
- `solver` keeps that number of layers and moves blocks within their slack (CP-SAT, ortools)
  to minimise, lexicographically:
  1. the residual width after reuse: the peak of live directions under a *cleaning plan*.
     An occupant (an s-op's directions, a SelectorWidth's share) holds its positions from
     its write until the MLP sublayer of the layer the plan cleans it in (its last reader's
     layer or a later one), or to the end if the plan does not clean it. Cleaning costs
     hidden units in that layer's MLP (one per direction proven never negative, else two;
     `cleaning_signs`), and every MLP layer, its cleanings included, stays within the widest
     MLP layer, itself within greedy's; the most heads in a layer stays within greedy's;
  2. the most heads in a layer;
  3. the widest MLP layer, cleanings included.
  The residual comes first because d_model multiplies every weight matrix, while the most
  heads in a layer and the widest MLP layer only size the padding of a padded format (the
  blocks' heads and hidden units are the same wherever they go); kept within greedy's heads
  and widest MLP layer, the answer is never worse than greedy's on any of the three. (Heads
  then MLP width first, the placement evened out the MLP layers and left no room below the
  widest for cleanings: on random 400-node programs the laid-out residual was wider than
  greedy's.) Each stage starts from the best placement so far (greedy's with a first-fit
  plan, `cleaning_plan`, `AddHint`), gets its share of `time_limit` (3 s by default; 0.6,
  0.2, 0.2), and its value is then fixed for the next; a stage without a solution keeps the
  previous placement.

The solver records its plan's layout on the program (`planned_layout`: the plan's width,
`x clean N | y` for a cleaning after the last reader's layer); `craft-layout-residual` keeps
it unless its own layout is narrower. The greedy allocator drops any `residual` layout on the
program (it was laid out for other layers; run `craft-layout-residual` again).

`proven_optimal` on the program lists the stages proven optimal: `layers` always (the
critical path), and `residual`, `heads`, `mlp_hidden` while CP-SAT proved each stage optimal
under the model above (a stage counts only if the ones before it do). `craft-layout-residual`
keeps `residual` (and the stages after it) only if the layout it lays out has the plan's
width, so a listed stage is proven for the model the final layout meets (the cleanings it
needs are at most the plan's: only reused positions are cleaned, and a unit a layer's MLP
already has is folded in). The lowering copies it to the model (`model.stats()`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from tracr_ir.craft.bases import Direction
from tracr_ir.craft.selector_width import share_direction
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_base import space_of
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualLayout, Unit, block_units,
                                            cleaning_signs, nonnegative_directions, occupants,
                                            reuse_layout)
from tracr_ir.errors import PipelineError

ATTENTION, MLP = 0, 1
OPTIMAL_ATTR = "proven_optimal"
STAGES = ("residual", "heads", "mlp_hidden")
Key = tuple[str, int]  # an occupant: ("input", argument), ("share", block), ("output", block)
SHARES = (0.6, 0.2, 0.2)  # of the time limit, per stage


@dataclass(frozen=True)
class BlockInfo:
    """What allocation needs to know of one block."""

    op: craft.CraftOp
    first: int  # parity of its first sublayer: ATTENTION or MLP
    span: int  # sublayers it occupies: 1, or 2 for a SelectorWidth
    operands: tuple[int, ...]  # indices of the blocks it reads
    heads: int
    hidden: int
    width: int = 0  # directions of its output
    inputs: tuple[int, ...] = ()  # program inputs it reads: 0 tokens, 1 indices
    output: bool = False  # it writes the program output
    units: int = 0  # hidden units that clean its output (`cleaning_signs`)
    share_units: int = 1  # that clean a SelectorWidth's share
    folds: tuple[tuple[Key, int], ...] = ()  # (an operand, its cleaning units this block has)


def block_infos(program: craft.ProgramOp, cleaning: bool = False) -> list[BlockInfo]:
    """One `BlockInfo` per block, in program order (operands first); with `cleaning`, the
    units that clean its output and share, and those of its operands' its MLPs have."""
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    nonnegative = nonnegative_directions(program, ops) if cleaning else frozenset()

    def units(ds: Sequence[Direction], have: frozenset[Unit] | None = None) -> int:
        return sum((d, sign) in have if have is not None else 1 for d in ds
                   for sign in cleaning_signs(d, nonnegative)) if cleaning else 0

    def folds(op: craft.CraftOp) -> tuple[tuple[Key, int], ...]:
        have = block_units(program, op) if cleaning and op.operands else frozenset()
        keys = {v: ("output", index[v]) if v in index else ("input", args[v])
                for v in op.operands if v in index or v in args} if have else {}
        found = ((key, units(tuple(space_of(v).space), have)) for v, key in keys.items())
        return tuple((key, n) for key, n in found if n)

    index: dict[SSAValue, int] = {}
    args = {arg: i for i, arg in enumerate(program.block.args)}
    infos: list[BlockInfo] = []
    out = program.output.value
    for op in ops:
        block = op.block(program.length)  # of the type its kind says
        kind = craft.block_kind(op)
        if kind == "selector_width":
            first, span, heads, hidden = ATTENTION, 2, 1, block.mlp.hidden_size
        elif kind == "attention":
            first, span, heads, hidden = ATTENTION, 1, 1, 0
        else:
            first, span, heads, hidden = MLP, 1, 0, block.hidden_size
        operands = tuple(sorted({index[v] for v in op.operands if v in index}))
        inputs = tuple(sorted({args[v] for v in op.operands if v in args}))
        index[op.output] = len(infos)
        infos.append(BlockInfo(op, first, span, operands, heads, hidden, len(op.out_space),
                               inputs, op.output is out, units(tuple(op.out_space)),
                               units((share_direction(op.label_text),)) if span == 2 else 1,
                               folds(op)))
    return infos


def input_widths_of(program: craft.ProgramOp) -> tuple[int, ...]:
    return tuple(len(arg.type.space) for arg in program.block.args)  # type: ignore[attr-defined]


def _first_sublayer(after: int, parity: int) -> int:
    """The first sublayer of `parity` strictly after sublayer `after`."""
    s = after + 1
    return s if s % 2 == parity else s + 1


def earliest_sublayers(infos: Sequence[BlockInfo]) -> list[int]:
    """Each block's first sublayer, as early as its operands allow (ASAP)."""
    starts: list[int] = []
    for info in infos:
        ready = max((starts[j] + infos[j].span - 1 for j in info.operands), default=-1)
        starts.append(_first_sublayer(ready, info.first))
    return starts


def tracr_sublayers(infos: Sequence[BlockInfo]) -> list[int]:
    """Each block's first sublayer as tracr's allocator would place these blocks: by depth,
    the longest chain of blocks from the inputs (depth d in layer d - 1), a level of attention
    blocks only and the next level of MLPs only sharing one layer (tracr's one condensing
    rule, applied in the same order: a merged level is not merged again)."""
    depth: list[int] = []
    for info in infos:
        depth.append(1 + max((depth[j] for j in info.operands), default=0))
    levels: list[list[int]] = [[] for _ in range(max(depth, default=0) + 1)]
    for i, d in enumerate(depth):
        levels[d].append(i)

    def only(level: list[int], first: int) -> bool:
        return all(infos[i].first == first and infos[i].span == 1 for i in level)

    layer_of_level, layer, d = [0] * len(levels), 0, 1
    while d < len(levels):
        layer_of_level[d] = layer
        if d + 1 < len(levels) and only(levels[d], ATTENTION) and only(levels[d + 1], MLP):
            layer_of_level[d + 1] = layer
            d += 1
        layer, d = layer + 1, d + 1
    return [2 * layer_of_level[d] + info.first for d, info in zip(depth, infos)]


def layer_loads(infos: Sequence[BlockInfo], starts: Sequence[int]) -> tuple[int, int]:
    """(most heads in a layer, widest MLP layer: hidden units summed over its blocks)."""
    heads: dict[int, int] = {}
    hidden: dict[int, int] = {}
    for info, start in zip(infos, starts):
        heads[start // 2] = heads.get(start // 2, 0) + info.heads
        hidden[start // 2] = hidden.get(start // 2, 0) + info.hidden
    return max(heads.values(), default=0), max(hidden.values(), default=0)


def layer_count(infos: Sequence[BlockInfo], starts: Sequence[int]) -> int:
    """Layers a placement uses (0 for no blocks)."""
    return max((s + info.span - 1 for s, info in zip(starts, infos)), default=-1) // 2 + 1


class _Loads:
    """Per-layer loads in a min segment tree: the first layer of a range with a load at most
    a limit in O(log n)."""

    def __init__(self, n: int) -> None:
        self.size = 1
        while self.size < n:
            self.size *= 2
        self.tree = [0] * (2 * self.size)
        for i in range(n, self.size):  # padding layers never fit
            self.tree[self.size + i] = 1 << 62
        for node in reversed(range(1, self.size)):
            self.tree[node] = min(self.tree[2 * node], self.tree[2 * node + 1])

    def load(self, layer: int) -> int:
        return self.tree[self.size + layer]

    def add(self, layer: int, amount: int) -> None:
        node = self.size + layer
        self.tree[node] += amount
        node //= 2
        while node:
            self.tree[node] = min(self.tree[2 * node], self.tree[2 * node + 1])
            node //= 2

    def first_at_most(self, lo: int, hi: int, limit: int) -> int:
        """The first layer in [lo, hi] whose load is at most `limit`, or -1."""

        def walk(node: int, a: int, b: int) -> int:
            if b < lo or a > hi or self.tree[node] > limit:
                return -1
            if a == b:
                return a
            mid = (a + b) // 2
            found = walk(2 * node, a, mid)
            return found if found >= 0 else walk(2 * node + 1, mid + 1, b)

        return walk(1, 0, self.size - 1)


def fit_sublayers(infos: Sequence[BlockInfo], n_layers: int, max_heads: int, max_hidden: int,
                  latest: Sequence[int] | None = None) -> list[int] | None:
    """First fit in program order: each block in the earliest layer of its window (after its
    operands, early enough for its readers within `n_layers`) where the layer's heads and
    hidden units stay within the caps; None if a block fits nowhere. O(blocks log layers).
    With caps at the loads of the ASAP placement it finds that placement (by induction, every
    block's ASAP layer still has room)."""
    if latest is None:
        latest = latest_sublayers(infos, 2 * n_layers - 1)
    heads, hidden = _Loads(n_layers), _Loads(n_layers)
    starts: list[int] = []
    for i, info in enumerate(infos):
        ready = max((starts[j] + infos[j].span - 1 for j in info.operands), default=-1)
        lo, hi = _first_sublayer(ready, info.first) // 2, latest[i] // 2
        if lo > hi:
            return None
        layer = lo
        while True:
            if info.heads:
                layer = heads.first_at_most(layer, hi, max_heads - info.heads)
            if layer >= 0 and info.hidden:
                layer = hidden.first_at_most(layer, hi, max_hidden - info.hidden)
            if layer < 0:
                return None
            if heads.load(layer) + info.heads <= max_heads:
                break
            layer += 1  # a SelectorWidth: this layer has room for its MLP, not its head
        heads.add(layer, info.heads)
        hidden.add(layer, info.hidden)
        starts.append(2 * layer + info.first)
    return starts


def balanced_sublayers(infos: Sequence[BlockInfo], n_layers: int, max_heads: int,
                       max_hidden: int) -> list[int] | None:
    """A first fit within `n_layers` layers and the caps, then the caps lowered as far as
    first fit still succeeds (bisection): the most heads in a layer first, then the widest MLP
    layer. None if nothing fits the caps."""
    latest = latest_sublayers(infos, 2 * n_layers - 1)
    best = fit_sublayers(infos, n_layers, max_heads, max_hidden, latest)
    if best is None:
        return None
    for stage in (0, 1):
        demands = [(info.heads, info.hidden)[stage] for info in infos]
        low = max(max(demands, default=0), -(-sum(demands) // n_layers))
        high = layer_loads(infos, best)[stage]
        while low < high:
            mid = (low + high) // 2
            caps = (mid, layer_loads(infos, best)[1]) if stage == 0 else (
                layer_loads(infos, best)[0], mid)
            found = fit_sublayers(infos, n_layers, *caps, latest)
            if found is None:
                low = mid + 1
            else:
                best, high = found, layer_loads(infos, found)[stage]
    return best


def critical_sublayers(infos: Sequence[BlockInfo]) -> list[int]:
    """A placement in the fewest layers (the critical path), balanced to the fewest heads in a
    layer, then the narrowest widest MLP layer (`balanced_sublayers` from ASAP's loads)."""
    if not infos:
        return []
    asap = earliest_sublayers(infos)
    balanced = balanced_sublayers(infos, layer_count(infos, asap), *layer_loads(infos, asap))
    return balanced if balanced is not None else asap


def greedy_sublayers(infos: Sequence[BlockInfo]) -> list[int]:
    """The greedy placement: `critical_sublayers`, unless tracr's placement of the same blocks
    (`tracr_sublayers`) has fewer heads or a narrower MLP layer and first fit in the critical
    path stays within tracr's both; then that fit, balanced. The layer count is never above
    the critical path: layers come first, then heads, then MLP width (tracr's rule may need
    more layers for narrower ones; its own blocks may also differ: fused maps, helpers)."""
    best = critical_sublayers(infos)
    target = layer_loads(infos, tracr_sublayers(infos))
    loads = layer_loads(infos, best)
    if loads[0] <= target[0] and loads[1] <= target[1]:
        return best
    layers = layer_count(infos, best)
    if fit_sublayers(infos, layers, *target) is None:
        return best
    return balanced_sublayers(infos, layers, *target) or best


def latest_sublayers(infos: Sequence[BlockInfo], last_sublayer: int) -> list[int]:
    """Each block's last possible first sublayer, so that every reader still fits."""
    latest = [0] * len(infos)
    readers: list[list[int]] = [[] for _ in infos]
    for i, info in enumerate(infos):
        for j in info.operands:
            readers[j].append(i)
    for i in reversed(range(len(infos))):
        info = infos[i]
        bound = min((latest[r] - 1 for r in readers[i]), default=last_sublayer)
        end = bound - (info.span - 1)  # the block's last sublayer must be <= bound
        start = end if end % 2 == info.first else end - 1
        latest[i] = start
    return latest


def _readers(infos: Sequence[BlockInfo]) -> tuple[list[list[int]], list[list[int]]]:
    """(readers of each block's output, readers of each input), as block indices."""
    blocks: list[list[int]] = [[] for _ in infos]
    inputs: list[list[int]] = [[], []]
    for i, info in enumerate(infos):
        for j in info.operands:
            blocks[j].append(i)
        for a in info.inputs:
            inputs[a].append(i)
    return blocks, inputs


@dataclass(frozen=True)
class Occupancy:
    """An occupant of the residual as the solver sees it: written at sublayer `start`, free
    after the MLP sublayer of layer `end` (its last reader's; None: the output, never), when
    `units` hidden units in that layer's MLP clean it, `folder[1]` fewer in the layer of
    block `folder[0]`, a reader whose MLP has them. Ints, or solver expressions."""

    key: Key
    start: Any
    end: Any
    width: int
    units: int
    folder: tuple[Any, int] | None = None

    def cost(self, layer: int, layers: Sequence[int]) -> int:
        """The hidden units cleaning it in `layer` takes (`layers`: the blocks' layers)."""
        if self.folder is not None and layers[self.folder[0]] == layer:
            return self.units - self.folder[1]
        return self.units


def occupancies(infos: Sequence[BlockInfo], layers: Sequence[Any], input_widths: Sequence[int],
                last: Callable[[list[Any]], Any] = max) -> list[Occupancy]:
    """Every occupant but `one` and `bos`: an input from 0, a block's output from its write, a
    SelectorWidth's share at its head, each until its last reader's layer (`last` of the
    readers' layers). `layers` holds ints or solver variables."""
    readers, input_readers = _readers(infos)
    folder: dict[Key, tuple[int, int]] = {}  # the reader whose MLP has the most of its units
    for r, info in enumerate(infos):
        for key, n in info.folds:
            if n >= folder.get(key, (0, 0))[1]:
                folder[key] = (r, n)
    out: list[Occupancy] = []
    for a, width in enumerate(input_widths):
        if input_readers[a] and width:  # one-hots: one cleaning unit per direction
            out.append(Occupancy(("input", a), 0, last([layers[r] for r in input_readers[a]]),
                                 width, width, folder.get(("input", a))))
    for i, info in enumerate(infos):
        if info.span == 2:
            out.append(Occupancy(("share", i), 2 * layers[i], layers[i], 1, info.share_units))
        if not info.width or not (info.output or readers[i]):
            continue
        end = None if info.output else last([layers[r] for r in readers[i]])
        out.append(Occupancy(("output", i), 2 * layers[i] + info.first + info.span - 1, end,
                             info.width, info.units, folder.get(("output", i))))
    return out


Plan = Mapping[Key, int]  # a cleaning plan: the layer cleaning each occupant it cleans


def objective(infos: Sequence[BlockInfo], starts: Sequence[int], input_widths: Sequence[int],
              plan: Plan | None = None) -> tuple[int, int, int]:
    """(most heads in a layer, residual width, widest MLP layer) of a placement. The width
    counts `one` and `bos`: the peak of live directions, where an occupant lives until the
    MLP sublayer of the layer its `plan` cleans it in, or to the end if the plan does not
    clean it, and the MLP layers count the plan's cleanings; without a plan, an occupant
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
        end = o.end if plan is None or o.end is None else plan.get(o.key)
        for t in range(o.start, 2 * n if end is None else 2 * end + 2):
            live[t] += o.width
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
        if o.key in plan and plan[o.key] < n - 1:
            loads[plan[o.key]] += o.cost(plan[o.key], layers)
    return loads


def cleaning_plan(infos: Sequence[BlockInfo], starts: Sequence[int],
                  input_widths: Sequence[int], cap: int) -> dict[Key, int]:
    """A first fit: occupants freed before the last layer, cheapest cleaning per direction
    first, are cleaned in the first layer from their last reader's whose MLP stays within
    `cap` hidden units, if any."""
    layers = [s // 2 for s in starts]
    n = max(layers, default=-1) + 1
    loads = cleaning_loads(infos, starts, input_widths, {})
    plan: dict[Key, int] = {}
    freed = [o for o in occupancies(infos, layers, input_widths)
             if o.end is not None and o.end < n - 1]
    for o in sorted(freed, key=lambda o: (o.units / o.width, o.end)):
        layer = next((x for x in range(o.end, n - 1) if loads[x] + o.cost(x, layers) <= cap),
                     None)
        if layer is not None:
            loads[layer] += o.cost(layer, layers)
            plan[o.key] = layer
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

    # The widest MLP layer, within greedy's: one of the layers' loads.
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
    cleaned: dict[Key, tuple[Any, Any]] = {}  # occupant -> (cleaned?, the cleaning layer)
    mlp = [(model.new_fixed_size_interval_var(layer[i], 1, ""), info.hidden)
           for i, info in enumerate(infos) if info.hidden]
    intervals, widths = [], []
    end_all = 2 * n_layers
    for o in occupancies(infos, layer, input_widths, latest_of):
        if o.end is None:
            intervals.append(model.new_interval_var(o.start, end_all - o.start, end_all, ""))
        else:
            clean, at = model.new_bool_var(""), model.new_int_var(0, n_layers - 1, "")
            cleaned[o.key] = clean, at
            model.add(at >= o.end)
            end = model.new_int_var(1, end_all, "")
            model.add(end == 2 * at + 2).only_enforce_if(clean)
            model.add(end == end_all).only_enforce_if(~clean)
            size = model.new_int_var(1, end_all, "")
            intervals.append(model.new_interval_var(o.start, size, end, ""))
            units: Any = o.units
            if o.folder is not None:  # free units where its folder runs in the same layer
                folded = model.new_bool_var("")
                model.add(at == layer[o.folder[0]]).only_enforce_if(folded)
                units = o.units - o.folder[1] * folded
            if o.units:
                mlp.append((model.new_optional_fixed_size_interval_var(at, 1, clean, ""),
                            units))
        widths.append(o.width)
    model.add_cumulative([m for m, _ in mlp], [d for _, d in mlp], widest)
    peak = model.new_int_var(0, sum(widths), "residual")
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
        for key, (clean, at) in cleaned.items():
            model.add_hint(clean, key in plan)
            if key in plan:
                model.add_hint(at, plan[key])
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
        found_plan = {key: solver.value(at) for key, (clean, at) in cleaned.items()
                      if solver.boolean_value(clean)}
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
    """The residual layout of a cleaning plan, blocks placed: an occupant the plan cleans
    holds its positions until that layer's MLP (`x clean N | y` where N is not its last
    reader's layer), the others to the end; as many positions as the plan's peak (interval
    colouring, `reuse_layout` without a cap)."""
    ops = [info.op for info in infos]
    block = {id(info.op): i for i, info in enumerate(infos)}
    occs = occupants(program, ops)
    inputs, last_read = 0, {}
    for o in occs:  # one, bos, then the inputs in argument order come first (written at -1)
        if o.fixed:
            continue
        if o.writer is None:
            key, inputs = ("input", inputs), inputs + 1
        else:
            key = ("share" if o.share else "output", block[id(o.writer)])
        last_read[o.name] = o.end // 2
        o.clean_layer, o.kept = plan.get(key), key not in plan
    layout = reuse_layout(occs, None, nonnegative_directions(program, ops))
    owner = {d: o for o in occs for d in o.directions}
    return ResidualLayout(layout.slots, tuple(
        (d, owner[d].clean_layer) for slot in layout.slots for d in slot[:-1]
        if owner[d].clean_layer != last_read[owner[d].name]))


@dataclass(frozen=True)
class CraftAllocateLayers(ModulePass):
    """Give every craft block its layer (see the module docstring)."""

    name = "craft-allocate-layers"

    strategy: str = "greedy"
    time_limit: float = 3.0

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.strategy not in ("greedy", "solver"):
            raise PipelineError(
                f"craft-allocate-layers: unknown strategy '{self.strategy}' "
                "(choose greedy or solver)"
            )
        for program in op.walk():
            if not isinstance(program, craft.ProgramOp):
                continue
            infos = block_infos(program, cleaning=self.strategy == "solver")
            starts = greedy_sublayers(infos)
            proven: tuple[str, ...] = ()
            plan: Plan | None = None
            if self.strategy == "solver":
                solution = solve(infos, starts, input_widths_of(program), self.time_limit)
                starts, proven, plan = solution.starts, solution.proven, solution.plan
            for info, start in zip(infos, starts):
                info.op.properties["layer"] = IntegerAttr(start // 2, i64)
            # A residual layout is laid out for the old layers: the solver's plan replaces it,
            # else it is dropped (craft-layout-residual again).
            program.attributes.pop(RESIDUAL_ATTR, None)
            if plan is not None and infos:
                program.attributes[RESIDUAL_ATTR] = planned_layout(program, infos, plan).attr()
            program.attributes[OPTIMAL_ATTR] = ArrayAttr(
                [StringAttr(stage) for stage in ("layers", *proven)])
