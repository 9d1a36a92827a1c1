"""`craft-allocate-layers{strategy=greedy|solver}`: a layer index on every craft block.

```
%w = craft.selector_width "hist_2" select [...] : !craft.space<[...]>
%m = craft.categorical_mlp "map_3" %w {...} : !craft.space<[...]>
```
becomes
```
%w = craft.selector_width "hist_2" layer 0 select [...] : !craft.space<[...]>
%m = craft.categorical_mlp "map_3" layer 1 %w {...} : !craft.space<[...]>
```

A layer is an attention sublayer (even sublayer 2l) then an MLP sublayer (odd, 2l + 1). A
block runs in a sublayer of its kind strictly after every block whose output it reads; a
SelectorWidth is an attention head followed by an MLP, at sublayers 2l and 2l + 1.

- `greedy` places each block as early as possible. That reaches the fewest layers there can
  be: the length of the longest dependency chain counted in sublayers (tracr's heuristic does
  not: 8 layers for make_shuffle_dyck2 where 7 suffice).
- `solver` keeps that number of layers and moves blocks within their slack (CP-SAT, ortools)
  to minimise the widest layer, the cost that padding every layer to the widest one (as
  tracr's model does) multiplies: `heads_weight * max heads + max MLP hidden`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from tracr_ir.dialects import craft
from tracr_ir.errors import PipelineError

ATTENTION, MLP = 0, 1


@dataclass(frozen=True)
class BlockInfo:
    """What allocation needs to know of one block."""

    op: craft.CraftOp
    first: int  # parity of its first sublayer: ATTENTION or MLP
    span: int  # sublayers it occupies: 1, or 2 for a SelectorWidth
    operands: tuple[int, ...]  # indices of the blocks it reads
    heads: int
    hidden: int


def block_infos(program: craft.ProgramOp) -> list[BlockInfo]:
    """One `BlockInfo` per block, in program order (operands first)."""
    index: dict[SSAValue, int] = {}
    infos: list[BlockInfo] = []
    for op in program.block.ops:
        if not isinstance(op, craft.CraftOp):
            continue
        block = op.block(program.length)  # of the type its kind says
        kind = craft.block_kind(op)
        if kind == "selector_width":
            first, span, heads, hidden = ATTENTION, 2, 1, block.mlp.hidden_size
        elif kind == "attention":
            first, span, heads, hidden = ATTENTION, 1, 1, 0
        else:
            first, span, heads, hidden = MLP, 1, 0, block.hidden_size
        operands = tuple(sorted({index[v] for v in op.operands if v in index}))
        index[op.output] = len(infos)
        infos.append(BlockInfo(op, first, span, operands, heads, hidden))
    return infos


def _first_sublayer(after: int, parity: int) -> int:
    """The first sublayer of `parity` strictly after sublayer `after`."""
    s = after + 1
    return s if s % 2 == parity else s + 1


def greedy_sublayers(infos: Sequence[BlockInfo]) -> list[int]:
    """Each block's first sublayer, as early as its operands allow."""
    starts: list[int] = []
    for info in infos:
        ready = max((starts[j] + infos[j].span - 1 for j in info.operands), default=-1)
        starts.append(_first_sublayer(ready, info.first))
    return starts


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


def solver_sublayers(infos: Sequence[BlockInfo], greedy: Sequence[int], heads_weight: int,
                     time_limit: float) -> list[int]:
    """Sublayers minimising the widest layer within the greedy number of layers."""
    from ortools.sat.python import cp_model

    if not infos:
        return []
    last = max(s + info.span - 1 for s, info in zip(greedy, infos))
    n_layers = last // 2 + 1
    latest = latest_sublayers(infos, 2 * n_layers - 1)
    model = cp_model.CpModel()
    layer = []
    for i, info in enumerate(infos):
        lo, hi = greedy[i] // 2, latest[i] // 2
        layer.append(model.NewIntVar(lo, hi, f"layer_{i}"))
    for i, info in enumerate(infos):
        for j in info.operands:
            # start_i > end_j, in sublayers: 2 l_i + first_i > 2 l_j + first_j + span_j - 1
            end_j = infos[j].first + infos[j].span - 1
            model.Add(2 * layer[i] + info.first >= 2 * layer[j] + end_j + 1)
    max_heads = model.NewIntVar(0, sum(i.heads for i in infos), "max_heads")
    max_hidden = model.NewIntVar(0, sum(i.hidden for i in infos), "max_hidden")
    for l in range(n_layers):
        in_layer = []
        for i in range(len(infos)):
            b = model.NewBoolVar(f"in_{i}_{l}")
            model.Add(layer[i] == l).OnlyEnforceIf(b)
            model.Add(layer[i] != l).OnlyEnforceIf(b.Not())
            in_layer.append(b)
        model.Add(sum(b * info.heads for b, info in zip(in_layer, infos)) <= max_heads)
        model.Add(sum(b * info.hidden for b, info in zip(in_layer, infos)) <= max_hidden)
    model.Minimize(heads_weight * max_heads + max_hidden)
    # Start from the greedy placement, so the answer is never worse than it.
    for i in range(len(infos)):
        model.AddHint(layer[i], greedy[i] // 2)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 0
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return list(greedy)
    return [2 * solver.Value(layer[i]) + info.first for i, info in enumerate(infos)]


@dataclass(frozen=True)
class CraftAllocateLayers(ModulePass):
    """Give every craft block its layer (see the module docstring)."""

    name = "craft-allocate-layers"

    strategy: str = "greedy"
    heads_weight: int = 16
    time_limit: float = 10.0

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.strategy not in ("greedy", "solver"):
            raise PipelineError(
                f"craft-allocate-layers: unknown strategy '{self.strategy}' "
                "(choose greedy or solver)"
            )
        for program in op.walk():
            if not isinstance(program, craft.ProgramOp):
                continue
            infos = block_infos(program)
            starts = greedy_sublayers(infos)
            if self.strategy == "solver":
                starts = solver_sublayers(infos, starts, self.heads_weight, self.time_limit)
            for info, start in zip(infos, starts):
                info.op.properties["layer"] = IntegerAttr(start // 2, i64)
