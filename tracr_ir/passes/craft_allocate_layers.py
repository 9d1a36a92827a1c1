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
     A direction (of an s-op, or a SelectorWidth's share) holds its position from its write
     until the MLP sublayer of the layer the plan cleans it in (its last reader's layer or a
     later one), or to the end if the plan does not clean it. Cleaning costs hidden units in
     that layer's MLP (one per direction proven never negative, else two;
     `cleaning_signs`), none for the units a reader in that layer already has (the lowering
     folds them in). The plan cleans an s-op by parts: the directions a reader can clean
     alone, whole; the rest, any number of them where each costs the same, else whole. Every
     MLP layer, its cleanings included, stays within the widest MLP layer, itself within
     greedy's; the most heads in a layer stays within greedy's;
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
it unless its own layout is narrower. The model counts fewer savings than that pass finds
(it folds a cleaning into units of any block of the layer, and reuses a position in any
layer up to the next writer's), so where the pass lays out greedy's placement narrower than
the solver's (plan or own layout), the solver keeps greedy's placement and proves nothing:
its residual is never wider than greedy's. The greedy allocator drops any `residual` layout on the
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

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.passes import ModulePass

from tracr_ir.allocation.placement import (ATTENTION, MLP, BlockInfo, balanced_sublayers,
                                           block_infos, critical_sublayers, earliest_sublayers,
                                           fit_sublayers, greedy_sublayers, input_widths_of,
                                           latest_sublayers, layer_count, layer_loads, mlp_room,
                                           tracr_sublayers)
from tracr_ir.allocation.solver import (STAGES, cleaning_plan, objective, place, planned_layout,
                                        reuse_width, solve, solver_sublayers)
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_layout import RESIDUAL_ATTR
from tracr_ir.errors import PipelineError

__all__ = [
    "ATTENTION", "MLP", "OPTIMAL_ATTR", "STAGES", "BlockInfo", "CraftAllocateLayers",
    "balanced_sublayers", "block_infos", "cleaning_plan", "critical_sublayers",
    "earliest_sublayers", "fit_sublayers", "greedy_sublayers", "input_widths_of",
    "latest_sublayers", "layer_count", "layer_loads", "mlp_room", "objective", "place",
    "planned_layout", "reuse_width", "solve", "solver_sublayers", "tracr_sublayers",
]

OPTIMAL_ATTR = "proven_optimal"


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
            layout = None
            if self.strategy == "solver":
                solution = solve(infos, starts, input_widths_of(program), self.time_limit)
                greedy_width = reuse_width(program, infos, starts) if infos else 0
                width = reuse_width(program, infos, solution.starts) if infos else 0  # places
                layout = planned_layout(program, infos, solution.plan) if infos else None
                if layout is None or min(width, len(layout)) <= greedy_width:
                    starts, proven = solution.starts, solution.proven
                else:  # craft-layout-residual lays out greedy's placement narrower: keep it
                    layout = None
            place(infos, starts)
            # A residual layout is laid out for the old layers: the solver's plan replaces it,
            # else it is dropped (craft-layout-residual again).
            program.attributes.pop(RESIDUAL_ATTR, None)
            if layout is not None:
                program.attributes[RESIDUAL_ATTR] = layout.attr()
            program.attributes[OPTIMAL_ATTR] = ArrayAttr(
                [StringAttr(stage) for stage in ("layers", *proven)])
