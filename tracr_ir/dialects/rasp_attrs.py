"""The value attributes of the `rasp` dialect, which every later stage reuses.

`#rasp.value<(1, "a")>`, `#rasp.values<{1, 2, "a"}>` (canonical: sorted, no duplicates, so
structural equality is set equality) and `#rasp.table<{1 -> 2, (1, 2) -> 3}>`. They are
registered by the `RASP` dialect in `tracr_ir.dialects.rasp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xdsl.ir import Data
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer

from tracr_ir.values import (
    Value,
    canonical_values,
    format_value,
    format_value_set,
    parse_value,
    parse_value_set,
    value_key,
)


@irdl_attr_definition
class ValueAttr(Data[Any]):
    """One RASP value: `#rasp.value<(1, "a")>`."""

    name = "rasp.value"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> Value:
        with parser.in_angle_brackets():
            return parse_value(parser)

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{format_value(self.data)}>")


@irdl_attr_definition
class ValueSetAttr(Data[tuple]):
    """A canonical (sorted, duplicate-free) set of values: `#rasp.values<{1, 2, "a"}>`."""

    name = "rasp.values"

    @staticmethod
    def from_values(values: Sequence[Value]) -> ValueSetAttr:
        return ValueSetAttr(canonical_values(values))

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            return parse_value_set(parser)

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{format_value_set(self.data)}>")


@irdl_attr_definition
class TableAttr(Data[tuple]):
    """A function tabulated on a finite domain: `#rasp.table<{1 -> 2, (1, 2) -> 3}>`.

    The data is a tuple of (argument, result) pairs sorted by argument.
    """

    name = "rasp.table"

    @staticmethod
    def from_dict(entries: dict[Value, Value]) -> TableAttr:
        return TableAttr(tuple(sorted(entries.items(), key=lambda kv: value_key(kv[0]))))

    def as_dict(self) -> dict[Value, Value]:
        return dict(self.data)

    @staticmethod
    def parse_entries(parser: AttrParser) -> tuple:
        def parse_entry() -> tuple[Value, Value]:
            key = parse_value(parser)
            parser.parse_punctuation("->", " in a table entry")
            return key, parse_value(parser)

        pos = parser.pos
        entries = parser.parse_comma_separated_list(parser.Delimiter.BRACES, parse_entry)
        table = dict(entries)
        if len(table) != len(entries):
            parser.raise_error("a table has two entries for the same argument", pos, parser.pos)
        return TableAttr.from_dict(table).data

    def print_entries(self, printer: Printer) -> None:
        body = ", ".join(f"{format_value(k)} -> {format_value(v)}" for k, v in self.data)
        printer.print_string("{" + body + "}")

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            return cls.parse_entries(parser)

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            self.print_entries(printer)


@irdl_attr_definition
class NeedsAttr(Data[tuple]):
    """`#rasp.needs<categorical 0.0625, numerical 1.0e-05>`: the precision an s-op's readers
    need of its categorical form (l1 distance to the one-hot) and of its numerical form
    (absolute error); a form nobody reads is left out (`rasp-annotate-precision`)."""

    name = "rasp.needs"

    FORMS = ("categorical", "numerical")

    @staticmethod
    def make(categorical: float | None, numerical: float | None) -> NeedsAttr:
        return NeedsAttr((categorical, numerical))

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        found: dict[str, float] = {}

        def entry() -> None:
            form = parser.parse_keyword_in(cls.FORMS, " (a form: categorical or numerical)")
            pos = parser.pos
            value = parse_value(parser)
            if type(value) not in (int, float) or not value >= 0 or form in found:
                parser.raise_error("a form's precision is a number >= 0, given once", pos,
                                   parser.pos)
            found[form] = float(value)

        with parser.in_angle_brackets():
            parser.parse_comma_separated_list(parser.Delimiter.NONE, entry)
        return (found.get("categorical"), found.get("numerical"))

    def print_parameter(self, printer: Printer) -> None:
        parts = [f"{form} {format_value(v)}" for form, v in zip(self.FORMS, self.data)
                 if v is not None]
        printer.print_string(f"<{', '.join(parts)}>")
