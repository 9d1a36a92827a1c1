"""The residual layout of a craft program: which residual position holds which direction, when.

```
craft.program ... attributes {residual = #craft.residual<[one, bos, tokens:1, tokens:2,
    indices:0 | map_3, hist_2:1, hist_2:2]>} {
```

`#craft.residual<[...]>` (`ResidualAttr`) lists the residual positions in order; a position
is one direction, or several separated by `|`: the directions that hold it one after the
other (its occupants). Above, position 4 holds `indices:0` until its last reader has run, is
cleaned, and then holds `map_3`. An occupant may name the layer whose MLP cleans it,
`tokens:2 clean 1 | map_3`: any layer from its last reader's to the one before the next
occupant's writer (default: its last reader's). (A `#craft.directions<[...]>` list reads as
one direction per position.)

Liveness, in sublayers (layer l has the attention sublayer 2l and the MLP sublayer 2l + 1):
an occupant is an s-op (all its directions) or a SelectorWidth's share direction. It is
written at its writer's sublayer (the embedding writes `tokens` and `indices` at -1; a
SelectorWidth's share at 2l, its output at 2l + 1), read at its readers' sublayers, and
*cleaned* at an MLP sublayer from that of its last reader's layer, `end = last_read | 1`, on
(`clean N`: sublayer 2N + 1). Cleaning subtracts the direction's coordinate exactly: two
hidden units relu(x) and relu(-x) writing -1 and +1 (relu(x) - relu(-x) = x in any float
arithmetic, and x + (-x) = 0), added to that layer's MLP; one unit, relu(x) writing -1, for
a direction that is never negative (`nonnegative_directions`: relu(x) = x there). A residual
add accumulates, so a position can take a new occupant only once it is zero again: the next
occupant's writer must run strictly after the cleaning. Only occupants with a successor are
cleaned; the last one keeps the position to the end.

`check_layout` verifies a layout against the program's layers (the craft program's verifier
and `craft-verify-exactness` call it), naming the block that writes into a live position;
`verify_layers` the layers themselves: every block reads what an earlier sublayer wrote.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from xdsl.ir import Attribute, Data, SSAValue
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from tracr_ir.craft.bases import BOS, ONE, Direction, Space
from tracr_ir.craft.blocks import AttentionHead, MLPBlock, SelectorWidthBlock
from tracr_ir.craft.selector_width import share_direction
from tracr_ir.dialects.craft_base import (CraftOp, DirectionsAttr, block_kind, format_direction,
                                          parse_direction, space_of)
from tracr_ir.dialects.program import SSAProgramOp
from tracr_ir.errors import UnsupportedProgramError

RESIDUAL_ATTR = "residual"
#: An occupant that lives to the end (the program output, `one`, `bos`).
FOREVER = 1 << 30
_SUBLAYER = ("attention", "MLP")


def sublayer_text(sublayer: int) -> str:
    if sublayer < 0:
        return "the embedding"
    return f"the {_SUBLAYER[sublayer % 2]} of layer {sublayer // 2}"


@irdl_attr_definition
class ResidualAttr(Data[tuple]):
    """`#craft.residual<[one, bos, x:1 | y, z clean 2 | w, ...]>`: residual positions, each a
    tuple of its occupants in the order they hold it: a direction, or (direction, the layer
    whose MLP cleans it) where that is not its last reader's layer."""

    name = "craft.residual"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        def occupant() -> Direction | tuple[Direction, int]:
            d = parse_direction(parser)
            if parser.parse_optional_keyword("clean") is None:
                return d
            return d, parser.parse_integer(allow_boolean=False, allow_negative=False)

        def slot() -> tuple[Direction | tuple[Direction, int], ...]:
            ds = [occupant()]
            while parser.parse_optional_punctuation("|") is not None:
                ds.append(occupant())
            return tuple(ds)

        with parser.in_angle_brackets():
            return tuple(parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE, slot, " (residual positions)"))

    def print_parameter(self, printer: Printer) -> None:
        def occupant(d: Direction | tuple[Direction, int]) -> str:
            return format_direction(d) if isinstance(d, Direction) else \
                f"{format_direction(d[0])} clean {d[1]}"

        printer.print_string("<[" + ", ".join(
            " | ".join(map(occupant, slot)) for slot in self.data) + "]>")


@dataclass(frozen=True)
class ResidualLayout:
    """Residual positions (`slots`), each holding one or more directions over time, and the
    layer cleaning an occupant where it is not its last reader's (`cleaned`). Acts as a
    `Space` for placing blocks: `len`, `index(d)` and `indices(ds)` give positions."""

    slots: tuple[tuple[Direction, ...], ...]
    cleaned: tuple[tuple[Direction, int], ...] = ()

    @staticmethod
    def of(attr: Attribute) -> ResidualLayout:
        if isinstance(attr, DirectionsAttr):
            return ResidualLayout(tuple((d,) for d in attr.data))
        assert isinstance(attr, ResidualAttr)
        slots = tuple(tuple(d if isinstance(d, Direction) else d[0] for d in slot)
                      for slot in attr.data)
        return ResidualLayout(slots, tuple(d for slot in attr.data for d in slot
                                           if not isinstance(d, Direction)))

    @staticmethod
    def disjoint(space: Iterable[Direction]) -> ResidualLayout:
        return ResidualLayout(tuple((d,) for d in space))

    def attr(self) -> ResidualAttr:
        at = self.cleaned_at
        return ResidualAttr(tuple(tuple((d, at[d]) if d in at else d for d in slot)
                                  for slot in self.slots))

    @cached_property
    def cleaned_at(self) -> dict[Direction, int]:
        return dict(self.cleaned)

    def __len__(self) -> int:
        return len(self.slots)

    @cached_property
    def _index(self) -> dict[Direction, int]:
        index: dict[Direction, int] = {}
        for i, slot in enumerate(self.slots):
            for d in slot:
                if index.setdefault(d, i) != i:
                    raise UnsupportedProgramError(
                        f"the residual layout lists {format_direction(d)} at positions "
                        f"{index[d]} and {i}")
        return index

    def __contains__(self, d: object) -> bool:
        return d in self._index

    def index(self, d: Direction) -> int:
        try:
            return self._index[d]
        except KeyError:
            raise KeyError(f"{d!r} has no residual position") from None

    def indices(self, ds: Iterable[Direction]) -> np.ndarray:
        return np.array([self.index(d) for d in ds], dtype=np.int64)

    def placement(self, part: Space) -> tuple[np.ndarray, np.ndarray]:
        """(indices into `part` of its directions that have a position, those positions):
        a block's writes to a direction nobody reads (no position) are dropped."""
        keep = [i for i, d in enumerate(part) if d in self._index]
        return np.array(keep, dtype=np.int64), self.indices(part[i] for i in keep)

    @property
    def final(self) -> Space:
        """The direction each position holds at the end (its last occupant)."""
        return Space(tuple(slot[-1] for slot in self.slots))

    @property
    def shared(self) -> int:
        """How many positions hold more than one direction."""
        return sum(len(slot) > 1 for slot in self.slots)


### Liveness.


@dataclass
class Occupant:
    """One s-op (or a SelectorWidth's share) as the residual sees it."""

    name: str
    directions: tuple[Direction, ...]
    writer: CraftOp | None  # None: the embedding (or `one`/`bos`)
    written: int  # sublayer
    last_read: int = -2  # -2: never read
    last_reader: CraftOp | None = None
    output: bool = False
    fixed: bool = False  # `one` and `bos`: every position, always
    share: bool = False  # a SelectorWidth's share
    kept: bool = False  # a cleaning plan keeps its positions to the end
    clean_layer: int | None = None  # a cleaning plan cleans it in this layer's MLP

    @property
    def end(self) -> int:
        """The sublayer after which the position is free: the MLP sublayer of the last
        reader's layer (it is cleaned there) or of the plan's `clean_layer`, or FOREVER."""
        if self.output or self.fixed or self.kept:
            return FOREVER
        if self.clean_layer is not None:
            return 2 * self.clean_layer + 1
        return max(self.last_read, self.written, 0) | 1

    @property
    def needed(self) -> bool:
        """Whether it needs a position: read, the output, or `one`/`bos`."""
        return self.output or self.fixed or self.last_read > -2

    def describe(self) -> str:
        return "the embedding" if self.writer is None else \
            f"{self.writer.name} '{self.writer.label_text}'"


def has_layers(ops: Sequence[CraftOp]) -> bool:
    return bool(ops) and all(op.layer_index is not None for op in ops)


def block_sublayers(op: CraftOp) -> tuple[int, int]:
    """(sublayer where `op` reads its operands, sublayer where it writes its output)."""
    layer = op.layer_index or 0
    kind = block_kind(op)
    read = 2 * layer + (kind == "mlp")
    return read, 2 * layer + (kind != "attention")


def occupants(program: SSAProgramOp, ops: Sequence[CraftOp]) -> list[Occupant]:
    """Every occupant of the residual, by write sublayer then program order (`ops` must have
    layers)."""
    by_value: dict[SSAValue, Occupant] = {}
    out = [Occupant("one", (ONE,), None, -1, fixed=True),
           Occupant("bos", (BOS,), None, -1, fixed=True)]
    for arg in program.block.args:
        occ = Occupant(arg.name_hint or "input", tuple(space_of(arg).space), None, -1)
        by_value[arg] = occ
        out.append(occ)
    for op in ops:
        read, write = block_sublayers(op)
        for operand in op.operands:
            occ = by_value[operand]
            if read >= occ.last_read:
                occ.last_read, occ.last_reader = read, op
        if block_kind(op) == "selector_width":
            out.append(Occupant(f"{op.label_text}_share", (share_direction(op.label_text),), op,
                                read, read + 1, op, share=True))
        occ = Occupant(op.label_text, tuple(op.out_space), op, write)
        by_value[op.output] = occ
        out.append(occ)
    by_value[program.output.value].output = True
    order = {id(o): i for i, o in enumerate(out)}
    return sorted(out, key=lambda o: (o.written, order[id(o)]))


def peak_width(occs: Sequence[Occupant]) -> int:
    """The most directions needed at once (occupants from their write to their end)."""
    events: dict[int, int] = {}
    for o in occs:
        if o.needed:
            events[o.written] = events.get(o.written, 0) + len(o.directions)
            if o.end < FOREVER:
                events[o.end + 1] = events.get(o.end + 1, 0) - len(o.directions)
    live = peak = 0
    for t in sorted(events):
        live += events[t]
        peak = max(peak, live)
    return peak


def nonnegative_directions(program: SSAProgramOp, ops: Sequence[CraftOp]
                           ) -> frozenset[Direction]:
    """The directions whose coordinate is >= 0 at every position (BOS included), read off
    the weights that write them: `one`, `bos` and the inputs (one-hots); an MLP's output
    direction whose `w_2` column is >= 0 (its hidden units are relus and it has no biases);
    a head's output direction whose `w_ov` column is > 0 only on value directions already
    known >= 0 and 0 elsewhere (softmax weights are >= 0). Float32 keeps every sign: products
    and sums of numbers >= 0 are >= 0. Each direction has one writer (a reused position is
    exactly 0 before its next occupant's writer adds to it)."""
    known: set[Direction] = {ONE, BOS}
    for arg in program.block.args:
        known.update(space_of(arg).space)
    for op in ops:
        for part in _parts(op.block(program.length)):  # type: ignore[attr-defined]
            if isinstance(part, MLPBlock):
                known.update(d for j, d in enumerate(part.out_space)
                             if (part.w2[:, j] >= 0).all())
                continue
            assert isinstance(part, AttentionHead)
            sure = np.array([d in known for d in part.value_space], dtype=bool)
            known.update(d for j, d in enumerate(part.out_space)
                         if ((part.w_ov[:, j] == 0) | ((part.w_ov[:, j] > 0) & sure)).all())
    return frozenset(known)


Unit = tuple[Direction, float]  # a hidden unit relu(sign * x_d): (d, sign)


def _parts(block: object) -> tuple[object, ...]:
    return (block.attention, block.mlp) if isinstance(block, SelectorWidthBlock) else (block,)


def _single_units(mlp: MLPBlock) -> dict[Unit, int]:
    """The hidden units of `mlp` that are relu(+-x_d) (one coordinate, weight +-1), by (d, sign)."""
    out: dict[Unit, int] = {}
    if not mlp.w1.size:
        return out
    rows = np.argmax(mlp.w1 != 0, axis=0)
    weights = mlp.w1[rows, np.arange(mlp.w1.shape[1])]
    for h in np.nonzero(((mlp.w1 != 0).sum(axis=0) == 1) & (np.abs(weights) == 1))[0]:
        out.setdefault((mlp.in_space[int(rows[h])], float(weights[h])), int(h))
    return out


def block_units(program: SSAProgramOp, op: CraftOp) -> frozenset[Unit]:
    """The units relu(+-x_d) the MLPs of `op`'s block have (`fold_cleaning` reuses them)."""
    return frozenset(unit for part in _parts(op.block(program.length))  # type: ignore[attr-defined]
                     if isinstance(part, MLPBlock) for unit in _single_units(part))


def foldable_units(program: SSAProgramOp, ops: Sequence[CraftOp]) -> dict[int, frozenset[Unit]]:
    """Layer -> the units relu(+-x_d) its MLPs already have (`fold_cleaning` reuses them)."""
    out: dict[int, set[Unit]] = {}
    for op in ops:
        out.setdefault(op.layer_index or 0, set()).update(block_units(program, op))
    return {layer: frozenset(units) for layer, units in out.items() if units}


def cleaning_signs(d: Direction, nonnegative: frozenset[Direction]) -> tuple[float, ...]:
    """The units relu(sign * x_d) that clean `d`: relu(x) if it is never negative, else both."""
    return (1.0,) if d in nonnegative else (1.0, -1.0)


def reuse_layout(occs: Sequence[Occupant], room: Mapping[int, int] | None = None,
                 nonnegative: frozenset[Direction] = frozenset(),
                 foldable: Mapping[int, frozenset[Unit]] | None = None) -> ResidualLayout:
    """A layout of `peak_width` positions: occupants in write order take a fresh position while
    there are fewer than the peak, then a free one (whose occupant ended before this one is
    written). Interval colouring in start order never needs more than the peak, and fresh
    positions first keeps the cleanings few.

    `room` (layer -> hidden units its MLP may grow by) caps the cleanings: reusing a position
    costs its old occupant's cleaning units (`cleaning_signs`), less those the layer's MLPs
    already have (`foldable`), in the MLP of a layer from the one where it ends to the last
    before the new writer's sublayer. The cheapest free position whose cleaning fits is taken
    (0 units, then 1, then 2): in a layer with the units it lacks, else the one freed first
    (the widest choice of layers), cleaned in its own layer if that has room, else in the
    latest layer that has. Where none fits, the occupant takes a fresh position (above the
    peak). Each choice pops heaps and scans the layers, so the pass stays near-linear in the
    program."""
    peak = peak_width(occs)
    left = None if room is None else dict(room)
    folds: dict[Direction, list[tuple[int, int]]] = {}  # d -> (layer, units still needed)
    for layer, units in sorted((foldable or {}).items()):
        for d in dict.fromkeys(d for d, _ in units):
            folds.setdefault(d, []).append((layer, sum(
                (d, sign) not in units for sign in cleaning_signs(d, nonnegative))))
    slots: list[list[Direction]] = []
    ends: list[int] = []
    free: list[bool] = []
    busy: list[tuple[int, int]] = []  # heap of (end, position) of held positions
    by_units: dict[int, list[tuple[int, int]]] = {1: [], 2: []}  # heaps of free positions
    folding: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (units, layer) -> free ones
    cleaned: dict[Direction, int] = {}

    def valid(entry: tuple[int, int]) -> bool:
        return free[entry[1]] and ends[entry[1]] == entry[0]

    def pick(written: int) -> tuple[int, int, int] | None:
        """(position, cleaning layer, units) for an occupant written at `written`."""
        last = (written - 2) // 2  # the last layer whose MLP runs before the write
        for units in (0, 1, 2):
            for layer in sorted(x for u, x in folding if u == units and x <= last):
                entries = folding[(units, layer)]
                while entries and not valid(entries[-1]):
                    entries.pop()
                if entries and (left is None or left.get(layer, 0) >= units):
                    return entries.pop()[1], layer, units
            heap = by_units.get(units, [])
            while heap and not valid(heap[0]):
                heapq.heappop(heap)
            if not heap:
                continue
            e, i = heap[0]  # freed first: the widest choice of layers
            layer = e // 2 if left is None or left.get(e // 2, 0) >= units else next(
                (x for x in range(last, e // 2, -1) if left.get(x, 0) >= units), None)
            if layer is not None:
                heapq.heappop(heap)
                return i, layer, units
        return None

    for o in occs:
        if not o.needed:
            continue
        while busy and busy[0][0] < o.written:
            e, i = heapq.heappop(busy)
            free[i] = True
            old = slots[i][-1]
            heapq.heappush(by_units[len(cleaning_signs(old, nonnegative))], (e, i))
            for layer, units in folds.get(old, ()):
                if layer >= e // 2 and units < len(cleaning_signs(old, nonnegative)):
                    folding.setdefault((units, layer), []).append((e, i))
        for d in o.directions:
            choice = pick(o.written) if len(slots) >= peak else None
            if choice is None:
                slots.append([d])
                ends.append(o.end)
                free.append(False)
                i = len(slots) - 1
            else:
                i, layer, units = choice
                if left is not None:
                    left[layer] -= units
                if layer != ends[i] // 2:
                    cleaned[slots[i][-1]] = layer
                slots[i].append(d)
                ends[i], free[i] = o.end, False
            if o.end < FOREVER:
                heapq.heappush(busy, (o.end, i))
    return ResidualLayout(tuple(tuple(s) for s in slots), tuple(cleaned.items()))


def cleanings(occs: Sequence[Occupant], layout: ResidualLayout) -> dict[int, list[Direction]]:
    """Layer -> the directions its MLP cleans: every occupant but the last of a position, in
    its last reader's layer or the one the layout names."""
    end = {d: o.end for o in occs for d in o.directions}
    at = layout.cleaned_at
    out: dict[int, list[Direction]] = {}
    for slot in layout.slots:
        for d in slot[:-1]:
            out.setdefault(at.get(d, end[d] // 2), []).append(d)
    return out


def cleaning_mlp(directions: Sequence[Direction],
                 nonnegative: frozenset[Direction] = frozenset()) -> MLPBlock:
    """The MLP that cleans `directions`: per direction d, the hidden unit relu(x_d) writing -1
    to d's position, and, unless d is never negative, relu(-x_d) writing +1, so the position
    becomes exactly 0 (x - relu(x) + relu(-x) = 0 in float arithmetic)."""
    return _cleaning_block([(d, sign) for d in directions
                            for sign in cleaning_signs(d, nonnegative)])


def _cleaning_block(units: Sequence[Unit]) -> MLPBlock:
    space = Space(tuple(dict.fromkeys(d for d, _ in units)))
    hidden = Space(tuple(Direction("clean", (format_direction(d), "+" if sign > 0 else "-"))
                         for d, sign in units))
    w1 = np.zeros((len(space), len(units)))
    w2 = np.zeros((len(units), len(space)))
    for h, (d, sign) in enumerate(units):
        w1[space.index(d), h], w2[h, space.index(d)] = sign, -sign
    return MLPBlock(space, hidden, space, w1, w2, label="clean")


def fold_cleaning(mlps: Sequence[MLPBlock], cleaning: MLPBlock
                  ) -> tuple[list[MLPBlock], MLPBlock | None]:
    """(one layer's `mlps` with `cleaning`'s units folded in, the cleaning units left over).

    A block's unit that is relu(sign * x_d), the pre-activation of a cleaning unit of d,
    also writes that unit's -sign to d (a new output column): the same relu value times the
    same weight, so the layer computes the same update with one unit fewer. No block of the
    layer writes d (its position is taken only after the cleaning), so the column is new."""
    units = [(cleaning.in_space[int(np.nonzero(cleaning.w1[:, h])[0][0])],
              float(cleaning.w1[:, h].sum())) for h in range(cleaning.w1.shape[1])]
    owner: dict[Unit, tuple[int, int]] = {}
    for b, mlp in enumerate(mlps):
        for unit, h in _single_units(mlp).items():
            owner.setdefault(unit, (b, h))
    extra: dict[int, dict[Direction, list[tuple[int, float]]]] = {}  # block -> d -> units
    rest: list[Unit] = []
    for d, sign in units:
        if (d, sign) in owner:
            b, h = owner[(d, sign)]
            extra.setdefault(b, {}).setdefault(d, []).append((h, -sign))
        else:
            rest.append((d, sign))
    folded = []
    for b, mlp in enumerate(mlps):
        if b not in extra:
            folded.append(mlp)
            continue
        w2 = np.zeros((mlp.w2.shape[0], len(extra[b])))
        for j, entries in enumerate(extra[b].values()):
            for h, weight in entries:
                w2[h, j] = weight
        folded.append(replace(mlp, out_space=Space(tuple(mlp.out_space) + tuple(extra[b])),
                              w2=np.hstack([mlp.w2, w2])))
    return folded, (_cleaning_block(rest) if rest else None)


def cleaning_mlps(program: SSAProgramOp, ops: Sequence[CraftOp], layout: ResidualLayout
                  ) -> dict[int, MLPBlock]:
    """Layer -> the cleaning MLP its MLP sublayer runs (`cleanings`, `cleaning_mlp`), before
    `fold_cleaning` folds it into the layer's own units where it can."""
    if not layout.shared:
        return {}
    nonnegative = nonnegative_directions(program, ops)
    return {layer: cleaning_mlp(ds, nonnegative)
            for layer, ds in cleanings(occupants(program, ops), layout).items()}


def check_layout(program: SSAProgramOp, ops: Sequence[CraftOp], layout: ResidualLayout
                 ) -> None:
    """Refuse (`UnsupportedProgramError`, naming the block) a layout where a direction that is
    read has no position, a shared position lists a direction no block writes, or a block
    writes into a position whose occupant is still live."""
    occs = occupants(program, ops) if has_layers(ops) else None
    layout._index  # noqa: B018 (raises on a direction listed twice)
    if occs is None:
        if layout.shared:
            raise UnsupportedProgramError(
                "the residual layout shares positions, but the blocks have no layers "
                "(craft-allocate-layers first)")
        return
    known = {d: o for o in occs for d in o.directions}
    for o in occs:
        for d in o.directions:
            if o.needed and d not in layout:
                raise UnsupportedProgramError(
                    f"the residual layout has no position for {format_direction(d)}, which "
                    f"{o.describe()} writes" + (" and the program outputs" if o.output else
                                                f" and '{_reader(o)}' reads"))
    at = layout.cleaned_at
    for d, layer in layout.cleaned:
        if d not in layout or layout.slots[layout.index(d)][-1] == d:
            raise UnsupportedProgramError(
                f"the residual layout cleans {format_direction(d)} in layer {layer}, but no "
                "later occupant takes its position (only a reused position is cleaned)")
    for i, slot in enumerate(layout.slots):
        for d in slot:  # a position of its own may hold a direction no block writes (LayerNorm's)
            if d not in known and len(slot) > 1:
                raise UnsupportedProgramError(
                    f"the residual layout lists {format_direction(d)}, which no block writes")
        for before, after in zip(slot, slot[1:]):
            old, new = known[before], known[after]
            if old is new:
                raise UnsupportedProgramError(
                    f"the residual layout puts two directions of '{old.name}' at position {i}")
            clean = old.end if before not in at else 2 * at[before] + 1
            if clean < old.end:
                raise UnsupportedProgramError(
                    f"the residual layout cleans {format_direction(before)} in "
                    f"{sublayer_text(clean)}, before it is free ("
                    + (f"'{_reader(old)}' reads it in {sublayer_text(old.last_read)})"
                       if old.end < FOREVER else "it is never free)"))
            if new.written <= clean:
                still = ("it is the program output" if old.output else
                         "it holds `one`/`bos`" if old.end >= FOREVER else
                         f"'{_reader(old)}' reads it in {sublayer_text(old.last_read)} and it "
                         f"is cleaned in {sublayer_text(clean)}")
                raise UnsupportedProgramError(
                    f"{new.describe()} writes {format_direction(after)} in "
                    f"{sublayer_text(new.written)} into residual position {i}, which still "
                    f"holds {format_direction(before)} ({still}): a block may write only "
                    "positions whose occupant has no readers left and is cleaned")


def _reader(o: Occupant) -> str:
    return o.last_reader.label_text if o.last_reader is not None else "?"


_SUBLAYER = ("attention", "MLP")


def verify_layers(ops: list[CraftOp]) -> None:
    """Once layers are allocated, every block has one and reads only what an earlier sublayer
    wrote: a head in layer l reads MLP outputs of layers < l, an MLP reads layer <= l."""
    kind = {op: block_kind(op) for op in ops}  # every op states its kind
    placed = [op for op in ops if op.layer_index is not None]
    if not placed:
        return
    if len(placed) != len(ops):
        op = next(op for op in ops if op.layer_index is None)
        raise VerifyException(f"{op.name} '{op.label_text}' has no layer while other blocks "
                              "have one (craft-allocate-layers places every block)")

    def reads_at(op: CraftOp) -> tuple[int, int]:
        return op.layer_index, int(kind[op] == "mlp")  # type: ignore[return-value]

    def written_at(op: CraftOp) -> tuple[int, int]:
        return op.layer_index, int(kind[op] != "attention")  # type: ignore[return-value]

    for op in ops:
        for operand in op.operands:
            writer = operand.owner
            if isinstance(writer, CraftOp) and written_at(writer) >= reads_at(op):
                layer, sub = written_at(writer)
                raise VerifyException(
                    f"{op.name} '{op.label_text}' reads in the {_SUBLAYER[reads_at(op)[1]]} "
                    f"of layer {op.layer_index} what '{writer.label_text}' writes in the "
                    f"{_SUBLAYER[sub]} of layer {layer}: a block must read values written "
                    "in an earlier sublayer")
