"""Types, attributes and op base classes of the `craft` dialect (the ops themselves are in
`tracr_ir.dialects.craft`).

- `!craft.space<[x:1, x:2]>` (`SpaceType`): the residual subspace an s-op lives in, a list of
  directions `name` or `name:value` (values in the syntax of `tracr_ir.values`; a name that is
  not a bare identifier is quoted). A categorical s-op has one direction per value other than
  None (None is the zero vector); a numerical s-op has the single direction `name`.
- `#craft.directions<[...]>`: an ordered list of directions (e.g. a residual layout).
- `#craft.predicate<...>` / `#craft.predicates<[...]>`: a selector term's predicate, a
  comparison (`EQ`), a negated one (`not LT`), or a table `{(key, query) -> bool}` whose
  missing entries are false.
- `CraftOp`: the shared syntax
  `craft.op "label" [layer N] %operands <payload> [props {name = attr, ...}] : !craft.space`
  (`props` holds the properties the payload does not print: a user op's own), its `KIND`
  (`block_kind`), `block(max_seq_len)` and its exactness contract (`output_bound`,
  `input_tolerances`); `_TableOp` (a table payload) and `_SelectorOp` (operands
  `[value,] k1, q1, k2, q2, ...` printed as `select [(%k1, %q1 PRED), ...]`).
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import IntegerAttr, IntegerType, StringAttr, UnitAttr, i64
from xdsl.ir import Attribute, Data, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from tracr_ir import rasp as rasp_front
from tracr_ir.craft import attention as craft_attention
from tracr_ir.craft import blocks as craft_blocks
from tracr_ir.craft.bases import BOS, ONE, Direction, Space
from tracr_ir.craft.tolerances import Bound
from tracr_ir.dialects.program import parse_index
from tracr_ir.dialects.rasp import (
    Comparison,
    TableAttr,
    ValueAttr,
    parse_optional_defined_operand,
)
from tracr_ir.values import format_value, incomparable, parse_string, parse_value

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*\Z")


### Directions and spaces.


def format_direction(d: Direction) -> str:
    name = d.name if _BARE_NAME.match(d.name) else format_value(d.name)
    return name if d.value is None else f"{name}:{format_value(d.value)}"


def parse_direction(parser: AttrParser) -> Direction:
    name = parser.parse_optional_identifier()
    if name is None:
        name = parse_string(parser, " (a direction: a name or a string)")
    if parser.parse_optional_punctuation(":") is None:
        return Direction(name)
    pos = parser.pos
    value = parse_value(parser)
    if value is None:
        parser.raise_error("None has no direction (it is the zero vector)", pos, parser.pos)
    return Direction(name, value)


@irdl_attr_definition
class DirectionsAttr(Data[tuple]):
    """An ordered tuple of distinct directions: `#craft.directions<[tokens:1, frac]>`."""

    name = "craft.directions"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            return cls.parse_list(parser)

    @staticmethod
    def parse_list(parser: AttrParser) -> tuple:
        return tuple(parser.parse_comma_separated_list(
            parser.Delimiter.SQUARE, lambda: parse_direction(parser), " (directions)"))

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{self.text()}>")

    def text(self) -> str:
        return "[" + ", ".join(format_direction(d) for d in self.data) + "]"


@irdl_attr_definition
class SpaceType(ParametrizedAttribute, TypeAttribute):
    """`!craft.space<[x:1, x:2]>`: the residual subspace an s-op lives in."""

    name = "craft.space"

    directions: DirectionsAttr

    def __init__(self, directions: Sequence[Direction] | Space):
        super().__init__(DirectionsAttr(tuple(directions)))

    @property
    def space(self) -> Space:
        return Space(self.directions.data)

    @property
    def is_numerical(self) -> bool:
        data = self.directions.data
        return len(data) == 1 and data[0].value is None

    @property
    def values(self) -> list[Any]:
        return [d.value for d in self.directions.data]

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            return [DirectionsAttr(DirectionsAttr.parse_list(parser))]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.directions.text()}>")

    def verify(self) -> None:
        data = self.directions.data
        if len(set(data)) != len(data):
            raise VerifyException(f"a space lists a direction twice: {self.directions.text()}")
        if len({d.name for d in data}) > 1:
            raise VerifyException(f"an s-op's space has one name: {self.directions.text()}")
        if any(d.value is None for d in data) and len(data) > 1:
            raise VerifyException("a numerical space is one direction without a value")
        if any(d in (ONE, BOS) for d in data):
            raise VerifyException("`one` and `bos` are reserved directions")


def space_of(value: SSAValue) -> SpaceType:
    """The `SpaceType` of an s-op value."""
    assert isinstance(value.type, SpaceType)
    return value.type


### Selector terms.


@irdl_attr_definition
class PredicateAttr(Data[tuple]):
    """A term's predicate: `EQ`, `not LT`, or a table `{(key, query) -> bool}`.

    Data: (comparison name or "table", negated, table entries)."""

    name = "craft.predicate"

    @staticmethod
    def comparison(name: str, negated: bool = False) -> PredicateAttr:
        return PredicateAttr((Comparison(name).value, negated, ()))

    @staticmethod
    def from_table(table: dict) -> PredicateAttr:
        """A table predicate; only the true entries are kept (a missing entry is false)."""
        true = {k: True for k, v in table.items() if v}
        return PredicateAttr(("table", False, TableAttr.from_dict(true).data))

    def predicate(self):
        kind, negated, entries = self.data
        if kind == "table":
            table = dict(entries)
            return lambda k, q: bool(table.get((k, q), False))
        cmp = rasp_front.Comparison[kind]
        return (lambda k, q: not cmp(k, q)) if negated else cmp

    @staticmethod
    def parse_inline(parser: AttrParser) -> PredicateAttr:
        negated = parser.parse_optional_keyword("not") is not None
        if (name := parser.parse_optional_str_enum(Comparison)) is not None:
            return PredicateAttr((name.value, negated, ()))
        if negated:
            parser.raise_error("`not` applies to a comparison; negate a table's entries")
        return PredicateAttr(("table", False, TableAttr.parse_entries(parser)))

    def text(self) -> str:
        kind, negated, entries = self.data
        if kind == "table":
            return "{" + ", ".join(f"{format_value(k)} -> {format_value(v)}"
                                   for k, v in entries) + "}"
        return f"not {kind}" if negated else kind

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            return cls.parse_inline(parser).data

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{self.text()}>")


@irdl_attr_definition
class PredicatesAttr(Data[tuple]):
    """The predicates of a selector's terms, in order."""

    name = "craft.predicates"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            return tuple(parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE, lambda: PredicateAttr.parse_inline(parser)))

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string("<[" + ", ".join(p.text() for p in self.data) + "]>")


### Op base classes.

# op -> (what its block was derived from, the block); blocks are immutable.
_BLOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


#: A selector term for building ops: (keys, queries, predicate), the predicate a comparison
#: name ("EQ"), a negated one ("not EQ"), a table {(key, query): bool}, or a PredicateAttr.
Term = tuple  # (SSAValue, SSAValue, str | dict | PredicateAttr)


def _predicate(p: Any) -> PredicateAttr:
    if isinstance(p, PredicateAttr):
        return p
    if isinstance(p, dict):
        return PredicateAttr.from_table(p)
    negated = p.startswith("not ")
    return PredicateAttr.comparison(p[4:] if negated else p, negated)


def _flatten_terms(terms: Sequence[Term]) -> tuple[list[SSAValue], PredicatesAttr]:
    args: list[SSAValue] = []
    for keys, queries, _ in terms:
        args += [keys, queries]
    return args, PredicatesAttr(tuple(_predicate(p) for _, _, p in terms))


def _props(label: str, layer: int | None, **props: Attribute) -> dict[str, Attribute]:
    out: dict[str, Attribute] = {"label": StringAttr(label), **props}
    if layer is not None:
        out["layer"] = IntegerAttr(layer, i64)
    return out



def _number(attr: ValueAttr, what: str, where: str, sign: str = "") -> float:
    """The finite number `attr` holds, or a `VerifyException`; `sign` is "" (any),
    "non-negative" or "positive"."""
    value = attr.data
    if type(value) not in (bool, int, float) or not math.isfinite(value):
        raise VerifyException(f"{where}: {what} must be a finite number, got "
                              f"{format_value(value)}")
    if (sign == "positive" and value <= 0) or (sign == "non-negative" and value < 0):
        raise VerifyException(f"{where}: {what} must be {sign}, got {format_value(value)}")
    return float(value)


def _check_comparable(where: str, keys: SpaceType, queries: SpaceType,
                      predicate: PredicateAttr) -> None:
    """A comparison must apply to every (key, query) value pair (`1 < "a"` raises)."""
    kind = predicate.data[0]
    if kind != "table" and (
            pair := incomparable(rasp_front.Comparison[kind], keys.values, queries.values)):
        raise VerifyException(f"{where}: {kind} cannot compare key {format_value(pair[0])} "
                              f"with query {format_value(pair[1])}")


#: The block each kind of op builds: "selector_width" is an attention head then an MLP.
BLOCK_TYPES: dict[str, type] = {
    "attention": craft_blocks.AttentionHead,
    "mlp": craft_blocks.MLPBlock,
    "selector_width": craft_blocks.SelectorWidthBlock,
}


def _where(op: IRDLOperation) -> str:
    label = op.properties.get("label")
    return f"{op.name} '{label.data if isinstance(label, StringAttr) else '?'}'"


def block_kind(op: CraftOp) -> str:
    """"attention", "mlp" or "selector_width": the op class's `KIND`, the one source of truth
    for where a block runs (layer verifier, allocation, lowering, interpreter)."""
    kind = getattr(type(op), "KIND", None)
    if kind not in BLOCK_TYPES:
        raise VerifyException(
            f"{_where(op)}: its class {type(op).__name__} must set KIND to 'attention', 'mlp' "
            f"or 'selector_width' (the block it builds), got {kind!r}")
    return kind


class CraftOp(IRDLOperation):
    """Base of the block ops: `craft.op "label" [layer N] %operands <payload> : !craft.space`.

    A subclass sets `KIND` ("attention", "mlp" or "selector_width"), defines `build_block`
    and its exactness contract `output_bound` / `input_tolerances`, and lists in
    `PAYLOAD_PROPS` the properties its own `print_payload` prints (the others are printed
    generically as `props {...}`)."""

    label = prop_def(StringAttr)
    layer = opt_prop_def(IntegerAttr[IntegerType])
    output = result_def(SpaceType)
    traits = traits_def(Pure())
    RESERVED: ClassVar[tuple[str, ...]] = ("label", "layer")
    KIND: ClassVar[str]
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ()

    def _init(self, label: str, operands: Sequence[SSAValue], out: Sequence[Direction] | Space,
              layer: int | None = None, **props: Attribute) -> None:
        properties: dict[str, Attribute] = {"label": StringAttr(label), **props}
        if layer is not None:
            properties["layer"] = IntegerAttr(layer, i64)
        super().__init__(operands=[list(operands)] if self._variadic() else list(operands),
                         result_types=[SpaceType(out)], properties=properties)

    @classmethod
    def _variadic(cls) -> bool:
        return False

    @property
    def label_text(self) -> str:
        return self.label.data

    @property
    def out_space(self) -> Space:
        return _space(self.output).space

    @property
    def layer_index(self) -> int | None:
        return None if self.layer is None else self.layer.value.data

    def print_operands(self, printer: Printer) -> None:
        if self.operands:
            printer.print_string(" ")
            printer.print_list(self.operands, printer.print_operand)

    def print_payload(self, printer: Printer) -> None:
        """What follows the operands."""

    @classmethod
    def parse_operands(cls, parser: Parser) -> list[SSAValue]:
        operands: list[SSAValue] = []
        if (first := parse_optional_defined_operand(parser)) is not None:
            operands.append(first)
            while parser.parse_optional_punctuation(",") is not None:
                operand = parse_optional_defined_operand(parser)
                if operand is None:
                    parser.raise_error("expected an operand after ','")
                operands.append(operand)
        return operands

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        return {}

    @classmethod
    def parse_operands_and_payload(cls, parser: Parser
                                   ) -> tuple[list[SSAValue], dict[str, Attribute]]:
        operands = cls.parse_operands(parser)
        return operands, cls.parse_payload(parser)

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {format_value(self.label.data)}")
        if self.layer is not None:
            printer.print_string(f" layer {self.layer_index}")
        self.print_operands(printer)
        self.print_payload(printer)
        shown = (*self.RESERVED, *self.PAYLOAD_PROPS)
        if extra := {k: v for k, v in self.properties.items() if k not in shown}:
            printer.print_string(" props ")
            printer.print_attr_dict(extra)
        printer.print_op_attributes(self.attributes, reserved_attr_names=self.RESERVED,
                                    print_keyword=True)
        printer.print_string(" : ")
        printer.print_attribute(self.output.type)

    @classmethod
    def parse(cls, parser: Parser) -> CraftOp:
        label = parse_string(parser, " (the op's label)")
        props: dict[str, Attribute] = {"label": StringAttr(label)}
        if parser.parse_optional_keyword("layer") is not None:
            props["layer"] = IntegerAttr(parse_index(parser, "a layer"), i64)
        operands, payload = cls.parse_operands_and_payload(parser)
        props |= payload
        if parser.parse_optional_keyword("props") is not None:
            extra = parser.parse_optional_attr_dict_with_reserved_attr_names(
                (*cls.RESERVED, *cls.PAYLOAD_PROPS, *payload))
            props |= extra.data if extra is not None else {}
        attrs = parser.parse_optional_attr_dict_with_keyword()
        parser.parse_punctuation(":")
        result_type = parser.parse_type()
        return cls.create(operands=operands, result_types=[result_type], properties=props,
                          attributes=attrs.data if attrs is not None else {})

    def block(self, max_seq_len: int) -> craft_blocks.Block:
        """The craft block: weights derived by the construction (`build_block`), cached per
        op while its properties (the layer aside), operand and result types are unchanged."""
        key = (max_seq_len, tuple(sorted((k, v) for k, v in self.properties.items()
                                         if k != "layer")),
               tuple(o.type for o in self.operands), self.output.type)
        hit = _BLOCKS.get(self)
        if hit is not None and hit[0] == key:
            return hit[1]
        kind = block_kind(self)
        block = self.build_block(max_seq_len)
        if not isinstance(block, BLOCK_TYPES[kind]):
            raise VerifyException(
                f"{_where(self)}: KIND is '{kind}', so build_block must return a "
                f"{BLOCK_TYPES[kind].__name__}, got a {type(block).__name__}")
        _BLOCKS[self] = (key, block)
        return block

    def build_block(self, max_seq_len: int) -> craft_blocks.Block:
        """Derive the block's weights (each op's construction)."""
        raise NotImplementedError

    def output_bound(self, inputs: Sequence[Bound], max_seq_len: int) -> Bound:
        """The bound of the output given the operands' bounds (in operand order); raises
        `UnsupportedProgramError` if the construction does not apply to such operands.
        Stated by every op (see `tracr_ir.dialects.craft_exactness`)."""
        raise NotImplementedError

    def input_tolerances(self, max_seq_len: int) -> list[float]:
        """The error each operand may carry (operand order) for the output bound to hold."""
        raise NotImplementedError


class _TableOp(CraftOp):
    table = prop_def(TableAttr)
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("table",)

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(" ")
        self.table.print_entries(printer)

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        return {"table": TableAttr(TableAttr.parse_entries(parser))}

    def _check_outputs(self) -> None:
        out = _space(self.output)
        allowed = None if out.is_numerical else set(out.values)
        for arg, res in self.table.data:
            if allowed is None:
                _number(ValueAttr(res), "an output (the output is numerical)",
                        f"{self.name} '{self.label_text}'")
            elif res is not None and res not in allowed:
                raise VerifyException(f"{self.name} '{self.label_text}': output "
                                      f"{format_value(res)} has no direction in the result")


class _LookupOp(_TableOp):
    """A table op over categorical operands, snapped (default) or `direct` (the keyword
    after the table: one hidden neuron per output value or pair, no snapping); a direct
    sequence map may have a `margin` (`craft.mlp.direct_sequence_map_mlp`)."""

    direct = opt_prop_def(UnitAttr)
    margin = opt_prop_def(ValueAttr)
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("table", "direct", "margin")

    @property
    def is_direct(self) -> bool:
        return self.direct is not None

    @property
    def margin_value(self) -> float:
        return 0.0 if self.margin is None else float(self.margin.data)

    def print_payload(self, printer: Printer) -> None:
        super().print_payload(printer)
        if self.is_direct:
            printer.print_string(" direct")
        if self.margin is not None:
            printer.print_string(f" margin {format_value(self.margin.data)}")

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        props = super().parse_payload(parser)
        if parser.parse_optional_keyword("direct") is not None:
            props["direct"] = UnitAttr()
        if parser.parse_optional_keyword("margin") is not None:
            props["margin"] = ValueAttr(parse_value(parser))
        return props

    def _check_margin(self, allowed: bool) -> None:
        where = f"{self.name} '{self.label_text}'"
        if self.margin is not None and not (allowed and self.is_direct):
            raise VerifyException(f"{where}: a margin is for a direct sequence_map_mlp")
        if self.margin is not None:
            _number(self.margin, "the margin", where, "non-negative")


class _SelectorOp(CraftOp):
    """An op holding a selector: operands `[value,] k1, q1, k2, q2, ...` and `predicates`."""

    predicates = prop_def(PredicatesAttr)
    N_LEADING: ClassVar[int] = 0
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("predicates",)

    def term_operands(self) -> list[tuple[SSAValue, SSAValue]]:
        ops = list(self.operands)[self.N_LEADING:]
        return list(zip(ops[0::2], ops[1::2]))

    def terms(self) -> list[craft_attention.SelectorTerm]:
        out = []
        for (k, q), p in zip(self.term_operands(), self.predicates.data):
            kind, negated, _ = p.data
            qs, ks = _space(q).space, _space(k).space
            out.append(craft_attention.select_term(qs, ks, p.predicate()) if kind == "table"
                       else craft_attention.comparison_term(qs, ks, kind, negated))
        return out

    def print_operands(self, printer: Printer) -> None:
        if self.N_LEADING:
            printer.print_string(" ")
            printer.print_list(list(self.operands)[:self.N_LEADING], printer.print_operand)
        printer.print_string(" select [")
        for i, ((k, q), p) in enumerate(zip(self.term_operands(), self.predicates.data)):
            printer.print_string(", " if i else "")
            printer.print_string("(")
            printer.print_operand(k)
            printer.print_string(", ")
            printer.print_operand(q)
            printer.print_string(f" {p.text()})")
        printer.print_string("]")

    @classmethod
    def parse_operands_and_payload(cls, parser: Parser
                                   ) -> tuple[list[SSAValue], dict[str, Attribute]]:
        operands = []
        for i in range(cls.N_LEADING):
            if i:
                parser.parse_punctuation(",")
            operand = parse_optional_defined_operand(parser)
            if operand is None:
                parser.raise_error("expected an operand")
            operands.append(operand)
        parser.parse_keyword("select")
        predicates: list[PredicateAttr] = []

        def term() -> None:
            parser.parse_punctuation("(")
            for j in range(2):
                if j:
                    parser.parse_punctuation(",")
                operand = parse_optional_defined_operand(parser)
                if operand is None:
                    parser.raise_error("expected the term's keys and queries")
                operands.append(operand)
            predicates.append(PredicateAttr.parse_inline(parser))
            parser.parse_punctuation(")")

        parser.parse_comma_separated_list(parser.Delimiter.SQUARE, term, " (selector terms)")
        payload = {"predicates": PredicatesAttr(tuple(predicates))}
        return operands, payload | cls.parse_payload(parser)

    def verify_(self) -> None:
        where = f"{self.name} '{self.label_text}'"
        n_terms = len(self.operands) - self.N_LEADING
        if n_terms < 2 or n_terms % 2 or n_terms // 2 != len(self.predicates.data):
            raise VerifyException(f"{where}: a selector is one or more (keys, queries, "
                                  "predicate) terms")
        for (k, q), predicate in zip(self.term_operands(), self.predicates.data):
            if _space(k).is_numerical or _space(q).is_numerical:
                raise VerifyException(f"{where}: selector keys and queries are categorical")
            _check_comparable(where, _space(k), _space(q), predicate)


# Shorthands for the op definitions.
_space = space_of
