"""Where craft blocks can go: what placement needs to know of a block (`BlockInfo`), the
windows of sublayers the dependencies leave each block (`earliest_sublayers`,
`latest_sublayers`), tracr's own rule (`tracr_sublayers`), and the greedy placement
(`greedy_sublayers`) of `craft-allocate-layers`, whose docstring describes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.ir import SSAValue

from tracr_ir.craft.bases import Direction
from tracr_ir.craft.selector_width import share_direction
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_base import space_of
from tracr_ir.dialects.craft_layout import Unit, block_units, cleaning_signs, nonnegative_directions

ATTENTION, MLP = 0, 1
Key = tuple[str, int]  # an occupant: ("input", argument), ("share", block), ("output", block)


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
    # (an operand, its directions whose cleaning units this block's MLPs have, with their
    # units, and the units it has of the operand's other directions)
    folds: tuple[tuple[Key, tuple[tuple[Direction, int], ...], int], ...] = ()


def block_infos(program: craft.ProgramOp, cleaning: bool = False) -> list[BlockInfo]:
    """One `BlockInfo` per block, in program order (operands first); with `cleaning`, the
    units that clean its output and share, and those of its operands' its MLPs have."""
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    nonnegative = nonnegative_directions(program, ops) if cleaning else frozenset()

    def units(ds: Sequence[Direction]) -> int:
        return sum(len(cleaning_signs(d, nonnegative)) for d in ds) if cleaning else 0

    def folds(op: craft.CraftOp) -> tuple[tuple[Key, tuple[tuple[Direction, int], ...], int],
                                          ...]:
        have = block_units(program, op) if cleaning and op.operands else frozenset()
        out = []
        for v in dict.fromkeys(op.operands) if have else ():
            if v in index or v in args:
                signs = {d: cleaning_signs(d, nonnegative) for d in space_of(v).space}
                ds = tuple(d for d, ss in signs.items() if all((d, s) in have for s in ss))
                partial = sum((d, s) in have for d, ss in signs.items() if d not in ds
                              for s in ss)
                if ds or partial:
                    out.append((("output", index[v]) if v in index else ("input", args[v]),
                                tuple((d, len(signs[d])) for d in ds), partial))
        return tuple(out)

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


def mlp_room(infos: Sequence[BlockInfo], starts: Sequence[int] | None = None) -> dict[int, int]:
    """Layer -> hidden units its MLP can take before it is wider than the widest layer's (the
    blocks' layers, or those of `starts`)."""
    hidden: dict[int, int] = {}
    for i, info in enumerate(infos):
        layer = (info.op.layer_index or 0) if starts is None else starts[i] // 2
        hidden[layer] = hidden.get(layer, 0) + info.hidden
    widest = max(hidden.values(), default=0)
    return {layer: widest - h for layer, h in hidden.items()}


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


def readers_of(infos: Sequence[BlockInfo]) -> tuple[list[list[int]], list[list[int]]]:
    """(readers of each block's output, readers of each input), as block indices."""
    blocks: list[list[int]] = [[] for _ in infos]
    inputs: list[list[int]] = [[], []]
    for i, info in enumerate(infos):
        for j in info.operands:
            blocks[j].append(i)
        for a in info.inputs:
            inputs[a].append(i)
    return blocks, inputs
