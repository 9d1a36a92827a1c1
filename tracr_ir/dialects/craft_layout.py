"""The residual layout of a craft program: which residual position holds which direction, when.

```
craft.program ... attributes {residual = #craft.residual<[one, bos, tokens:1, tokens:2,
    indices:0 | map_3, hist_2:1, hist_2:2]>} {
```

`#craft.residual<[...]>` (`ResidualAttr`) lists the residual positions in order; a position
is one direction, or several separated by `|`: the directions that hold it one after the
other (its occupants). Above, position 4 holds `indices:0` until its last reader has run, is
cleaned, and then holds `map_3`. (A `#craft.directions<[...]>` list reads as one direction per
position.)

Liveness, in sublayers (layer l has the attention sublayer 2l and the MLP sublayer 2l + 1):
an occupant is an s-op (all its directions) or a SelectorWidth's share direction. It is
written at its writer's sublayer (the embedding writes `tokens` and `indices` at -1; a
SelectorWidth's share at 2l, its output at 2l + 1), read at its readers' sublayers, and
*cleaned* at the MLP sublayer of its last reader's layer, `end = last_read | 1`. Cleaning
subtracts the direction's coordinate exactly: two hidden units relu(x) and relu(-x) writing
-1 and +1 (relu(x) - relu(-x) = x in any float arithmetic, and x + (-x) = 0), added to that
layer's MLP. A residual add accumulates, so a position can take a new occupant only once it
is zero again: the next occupant's writer must run strictly after `end`. Only occupants with
a successor are cleaned; the last one keeps the position to the end.

`check_layout` verifies a layout against the program's layers (the craft program's verifier
and `craft-verify-exactness` call it), naming the block that writes into a live position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from xdsl.ir import Attribute, Data, SSAValue
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer

from tracr_ir.craft.bases import BOS, ONE, Direction, Space
from tracr_ir.craft.blocks import MLPBlock
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
    """`#craft.residual<[one, bos, x:1 | y, ...]>`: residual positions, each a tuple of
    directions (its occupants, in the order they hold it)."""

    name = "craft.residual"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        def slot() -> tuple[Direction, ...]:
            ds = [parse_direction(parser)]
            while parser.parse_optional_punctuation("|") is not None:
                ds.append(parse_direction(parser))
            return tuple(ds)

        with parser.in_angle_brackets():
            return tuple(parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE, slot, " (residual positions)"))

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string("<[" + ", ".join(
            " | ".join(format_direction(d) for d in slot) for slot in self.data) + "]>")


@dataclass(frozen=True)
class ResidualLayout:
    """Residual positions (`slots`), each holding one or more directions over time. Acts as a
    `Space` for placing blocks: `len`, `index(d)` and `indices(ds)` give positions."""

    slots: tuple[tuple[Direction, ...], ...]

    @staticmethod
    def of(attr: Attribute) -> ResidualLayout:
        if isinstance(attr, DirectionsAttr):
            return ResidualLayout(tuple((d,) for d in attr.data))
        assert isinstance(attr, ResidualAttr)
        return ResidualLayout(attr.data)

    @staticmethod
    def disjoint(space: Iterable[Direction]) -> ResidualLayout:
        return ResidualLayout(tuple((d,) for d in space))

    def attr(self) -> ResidualAttr:
        return ResidualAttr(self.slots)

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

    @property
    def end(self) -> int:
        """The sublayer after which the position is free: the MLP sublayer of the last
        reader's layer (it is cleaned there), or FOREVER."""
        if self.output or self.fixed:
            return FOREVER
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
                                read, read + 1, op))
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


def reuse_layout(occs: Sequence[Occupant], room: Mapping[int, int] | None = None
                 ) -> ResidualLayout:
    """A layout of `peak_width` positions: occupants in write order take a fresh position while
    there are fewer than the peak, then a free one (whose occupant ended before this one is
    written). Interval colouring in start order never needs more than the peak, and fresh
    positions first keeps the cleanings few.

    `room` (layer -> hidden units its MLP may grow by) caps the cleanings: reusing a position
    costs its old occupant's cleaning, two units in the MLP of the layer where it ends; where
    no free position's layer has room, the occupant takes a fresh position (above the peak)."""
    peak = peak_width(occs)
    left = None if room is None else dict(room)
    slots: list[list[Direction]] = []
    ends: list[int] = []
    for o in occs:
        if not o.needed:
            continue
        for d in o.directions:
            free = None if len(slots) < peak else next(
                (i for i, e in enumerate(ends) if e < o.written
                 and (left is None or left.get(e // 2, 0) >= 2)), None)
            if free is None:
                slots.append([d])
                ends.append(o.end)
                continue
            if left is not None:
                left[ends[free] // 2] -= 2
            slots[free].append(d)
            ends[free] = o.end
    return ResidualLayout(tuple(tuple(s) for s in slots))


def cleanings(occs: Sequence[Occupant], layout: ResidualLayout) -> dict[int, list[Direction]]:
    """Layer -> the directions its MLP cleans: every occupant but the last of a position."""
    end = {d: o.end for o in occs for d in o.directions}
    out: dict[int, list[Direction]] = {}
    for slot in layout.slots:
        for d in slot[:-1]:
            out.setdefault(end[d] // 2, []).append(d)
    return out


def cleaning_mlp(directions: Sequence[Direction]) -> MLPBlock:
    """The MLP that cleans `directions`: per direction d, hidden units relu(x_d) and
    relu(-x_d) writing -1 and +1 to d's position, so the position becomes exactly 0."""
    n = len(directions)
    hidden = Space(tuple(Direction("clean", (format_direction(d), sign))
                         for d in directions for sign in ("+", "-")))
    w1 = np.zeros((n, 2 * n))
    w2 = np.zeros((2 * n, n))
    for i in range(n):
        w1[i, 2 * i], w1[i, 2 * i + 1] = 1.0, -1.0
        w2[2 * i, i], w2[2 * i + 1, i] = -1.0, 1.0
    return MLPBlock(Space(tuple(directions)), hidden, Space(tuple(directions)), w1, w2,
                    label="clean")


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
            if new.written <= old.end:
                still = ("it is the program output" if old.output else
                         "it holds `one`/`bos`" if old.end >= FOREVER else
                         f"'{_reader(old)}' reads it in {sublayer_text(old.last_read)} and it "
                         f"is cleaned in {sublayer_text(old.end)}")
                raise UnsupportedProgramError(
                    f"{new.describe()} writes {format_direction(after)} in "
                    f"{sublayer_text(new.written)} into residual position {i}, which still "
                    f"holds {format_direction(before)} ({still}): a block may write only "
                    "positions whose occupant has no readers left and is cleaned")


def _reader(o: Occupant) -> str:
    return o.last_reader.label_text if o.last_reader is not None else "?"
