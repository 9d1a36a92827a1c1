"""RASP values in IR text: printing, parsing and canonical value sets.

Values are what tracr programs compute: None, bool, int, float, str and tuples of these.
Their text form is chosen so that a parsed value equals the printed one under Python's `==`
(and keeps its type)::

    none   true   -3   1.5   1.0e+20   inf   "a\\"b"   (1, "a")   ()   (7)

A tuple prints in parentheses; `(7)` is the 1-tuple, since parentheses never group.
A value set is canonical when it is sorted by `value_key` and holds no two equal values, so
that structural equality of value-set attributes is set equality.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tracr_ir.errors import ValueSetError

if TYPE_CHECKING:
    from xdsl.parser import AttrParser
    from xdsl.printer import Printer

Value = Any

# Equal values (False == 0 == 0.0) must get equal keys: bools rank with the numbers.
_RANK = {type(None): 0, bool: 2, int: 2, float: 2, str: 3, tuple: 4}


def check_value(value: Value, where: str = "") -> None:
    """Raise `ValueSetError` unless `value` is a value the IR can hold."""
    kind = type(value)
    if kind not in _RANK:
        raise ValueSetError(
            f"value {value!r} of type {kind.__name__} is not a RASP value "
            "(None, bool, int, float, str or a tuple of these)",
            where or None,
        )
    if kind is float and math.isnan(value):
        raise ValueSetError("NaN is not a RASP value (it is not equal to itself)", where or None)
    if kind is tuple:
        for item in value:
            check_value(item, where)


def incomparable(compare: Callable[[Value, Value], Any], keys: Iterable[Value],
                 queries: Iterable[Value]) -> tuple[Value, Value] | None:
    """The first (key, query) pair, None left out, that `compare` cannot compare (it raises
    TypeError, as `1 < "a"` does), or None."""
    def representatives(values: Iterable[Value]) -> list[Value]:
        # Whether a comparison raises depends only on the types, except inside tuples: one
        # value of each other type is enough (a verifier must stay fast on large value sets).
        seen: dict[Any, Value] = {}
        for v in values:
            if v is not None:
                seen.setdefault(v if isinstance(v, tuple) else type(v), v)
        return list(seen.values())

    keys, queries = representatives(keys), representatives(queries)
    for k in keys:
        for q in queries:
            try:
                compare(k, q)
            except TypeError:
                return k, q
    return None


def value_key(value: Value) -> tuple:
    """A total order on values: None < numbers (bools included) < strings < tuples."""
    kind = type(value)
    if kind is tuple:
        return (4, tuple(value_key(v) for v in value))
    return (_RANK[kind], value if value is not None else 0)


def typed_key(value: Any) -> Any:
    """`value` (a value, or a list or tuple of them, nested) as a hashable key that tells
    apart what `==` does not: 1, 1.0 and True, 0.0 and -0.0, a list and a tuple."""
    if isinstance(value, (list, tuple)):
        return (value.__class__, tuple(typed_key(v) for v in value))
    if isinstance(value, float):
        return (float, value.hex())
    return (value.__class__, value)


def canonical_values(values: Iterable[Value], where: str = "") -> tuple[Value, ...]:
    """The sorted tuple of distinct values (distinct under `==`, as in a Python set)."""
    unique: dict[Value, Value] = {}
    for value in values:
        check_value(value, where)
        try:
            unique.setdefault(value, value)
        except TypeError as e:
            raise ValueSetError(f"unhashable value {value!r}", where or None) from e
    return tuple(sorted(unique.values(), key=value_key))


def format_value(value: Value) -> str:
    """The IR text of a value."""
    if value is None:
        return "none"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        if "." not in text:  # MLIR float literals need a dot: 1e+20 -> 1.0e+20
            mantissa, _, exponent = text.partition("e")
            text = f"{mantissa}.0e{exponent}" if exponent else f"{mantissa}.0"
        return text
    if isinstance(value, str):
        return _string_literal(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    raise ValueSetError(f"value {value!r} has no IR form")


_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t"}


def _string_literal(text: str) -> str:
    """An MLIR string literal: UTF-8 bytes outside printable ASCII as `\\XX` escapes."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:02X}")
        else:
            out.append(chr(byte))
    return '"' + "".join(out) + '"'


def print_value(printer: Printer, value: Value) -> None:
    printer.print_string(format_value(value))


def parse_optional_string(parser: AttrParser) -> str | None:
    """A string literal; xDSL lexes one with escapes and non-ASCII text as bytes."""
    if (text := parser.parse_optional_str_literal()) is not None:
        return text
    if (raw := parser.parse_optional_bytes_literal()) is not None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            parser.raise_error("a string must be valid UTF-8")
    return None


def parse_string(parser: AttrParser, context: str = "") -> str:
    return parser.expect(lambda: parse_optional_string(parser), f"string literal expected{context}")


def parse_value(parser: AttrParser) -> Value:
    """Parse one value in the syntax above."""
    if parser.parse_optional_keyword("none") is not None:
        return None
    if (flag := parser.parse_optional_boolean()) is not None:
        return flag
    if parser.parse_optional_keyword("inf") is not None:
        return math.inf
    if (text := parse_optional_string(parser)) is not None:
        return text
    if parser.parse_optional_punctuation("(") is not None:
        if parser.parse_optional_punctuation(")") is not None:
            return ()
        items = [parse_value(parser)]
        while parser.parse_optional_punctuation(",") is not None:
            items.append(parse_value(parser))
        parser.parse_punctuation(")")
        return tuple(items)
    if parser.parse_optional_punctuation("-") is not None:
        if parser.parse_optional_keyword("inf") is not None:
            return -math.inf
        return -parser.parse_number(context_msg=" in a value")
    return parser.parse_number(context_msg=": expected a value (none, true, false, a number, "
                                           "a string or a tuple)")


def parse_value_set(parser: AttrParser) -> tuple[Value, ...]:
    """Parse `{v1, v2, ...}`; the result is canonical (order and duplicates do not matter)."""
    values = parser.parse_comma_separated_list(parser.Delimiter.BRACES, lambda: parse_value(parser))
    return canonical_values(values)


def format_value_set(values: Iterable[Value]) -> str:
    return "{" + ", ".join(format_value(v) for v in values) + "}"
