"""Fixes of xDSL 0.74.0 parser bugs that fuzzing the IR text found, applied on
`import tracr_ir` (`apply`). Each turns a hang, a crash or an unlocated error into a parse
error at the offending text.

- The lexer's string-literal regex `"(?:[^"\\...]+|\\...)*"` nests quantifiers, so an
  unterminated string (a quote without its closing quote, e.g. a mutated hex weight) takes time
  exponential in the rest of its line before the parse error. The same pattern with possessive
  quantifiers matches exactly the same literals (its alternatives start with different
  characters, so giving back characters can never lead to a match) in linear time.
- An attribute or type is verified when it is built, after its parser returned: a
  `VerifyException` (an out-of-range `99999999999 : i64`, a `!craft.space` listing a
  direction twice) escaped the parser without a location.
- A number beyond its type's range in a literal (`3.5e38 : f32`, `dense<[1000]> :
  tensor<1xi8>`) raised `OverflowError` or `ValueError` while being packed.
- A hex dense literal (`dense<"0x...">`) whose byte count is not a whole number of elements
  parsed (the element count is rounded down) and then crashed whoever read or printed it.
- A splat (`dense<0.0> : tensor<100000x100000xf32>`) is expanded element by element: a few
  characters could ask for any amount of memory (MemoryError). Dense literals are limited to
  `MAX_DENSE_ELEMENTS` elements.
- A complex element `(1.0, 2.0` of a dense literal without its `)` failed an `assert` of the
  lexer (AssertionError).
- An attribute in the generic parameter syntax (`!rasp.selector<1>`, `#transformer.head<"h">`)
  with too many or too few parameters failed a strict `zip` (ValueError).
- A block label that is not a valid name (`^5`) failed `Block.name_hint`'s setter
  (ValueError) instead of a parse error at the label.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from xdsl.dialects.builtin import DenseIntOrFPElementsAttr
from xdsl.ir import Attribute, Block, ParametrizedAttribute
from xdsl.parser import AttrParser, Parser
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.lexer import Span
from xdsl.utils.mlir_lexer import MLIRLexer, MLIRTokenKind

STRING_LITERAL = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')
MAX_DENSE_ELEMENTS = 1 << 28  # 1 GiB of f32

T = TypeVar("T")


def located(parse: Callable[..., T], errors: tuple[type[Exception], ...]) -> Callable[..., T]:
    """`parse` with the `errors` it raises turned into a parse error spanning the text it
    read (xDSL raises them building what it parsed, outside its parse errors)."""
    if getattr(parse, "_tracr_located", False):
        return parse

    @functools.wraps(parse)
    def wrapper(self: AttrParser, *args: Any) -> T:
        start = self.pos
        try:
            return parse(self, *args)
        except errors as e:
            message = " ".join(map(str, e.args)) or type(e).__name__
            self.raise_error(message, start, max(self.pos, start))

    wrapper._tracr_located = True  # type: ignore[attr-defined]
    return wrapper


def whole_elements(parse: Callable[..., DenseIntOrFPElementsAttr]
                   ) -> Callable[..., DenseIntOrFPElementsAttr]:
    """xDSL's dense-literal parser, refusing a buffer that is not a whole number of elements."""
    if getattr(parse, "_tracr_whole", False):
        return parse

    @functools.wraps(parse)
    def wrapper(self: AttrParser, *args: Any) -> DenseIntOrFPElementsAttr:
        start = self.pos
        attr = parse(self, *args)
        size = attr.get_element_type().compile_time_size
        if len(attr.data.data) != size * len(attr):
            self.raise_error(f"dense literal of {len(attr.data.data)} bytes is not a whole "
                             f"number of {size}-byte elements", start, self.pos)
        return attr

    wrapper._tracr_whole = True  # type: ignore[attr-defined]
    return wrapper


def bounded_size(parse: Callable[..., Any]) -> Callable[..., Any]:
    """xDSL's parser of a dense literal's type, refusing more than `MAX_DENSE_ELEMENTS`."""
    if getattr(parse, "_tracr_bounded", False):
        return parse

    @functools.wraps(parse)
    def wrapper(self: AttrParser) -> Any:
        start = self.pos
        type = parse(self)
        if (n := math.prod(type.get_shape())) > MAX_DENSE_ELEMENTS:
            self.raise_error(f"a dense literal of {n} elements is above the limit of "
                             f"{MAX_DENSE_ELEMENTS}", start, self.pos)
        return type

    wrapper._tracr_bounded = True  # type: ignore[attr-defined]
    return wrapper


def valid_block_label(parse: Callable[..., T]) -> Callable[..., T]:
    """xDSL's parser of a block (or successor) whose `^label` comes next, refusing a label
    that is not a valid name before xDSL's `Block.name_hint` setter raises ValueError on it.
    (Only the label is checked: catching ValueError around the block would also hide the
    errors of every op parsed inside it.)"""
    if getattr(parse, "_tracr_label", False):
        return parse

    @functools.wraps(parse)
    def wrapper(self: Parser, *args: Any) -> T:
        token = self._current_token
        if token.kind == MLIRTokenKind.CARET_IDENT:
            name = token.text[1:]
            if not Block.is_default_block_name(name) and not Block.is_valid_name(name):
                self.raise_error(f"Invalid Block name format `{name}`: a name holds only "
                                 "[A-Za-z0-9_$.-] and does not start with a digit",
                                 token.span.start, token.span.end)
        return parse(self, *args)

    wrapper._tracr_label = True  # type: ignore[attr-defined]
    return wrapper


def parse_optional_complex(self: AttrParser) -> tuple[tuple[Any, Any], Span] | None:
    """xDSL's `(real, imag)` element of a dense literal, with `)` expected as punctuation."""
    if self._current_token.kind != MLIRTokenKind.L_PAREN:
        return None
    start = self._current_token.span
    self.parse_punctuation("(")
    real, _ = self._parse_bool_int_or_float()
    self.parse_punctuation(",")
    imag, _ = self._parse_bool_int_or_float()
    if type(real) is not type(imag):
        self.raise_error("Complex value must be either (float, float) or (int, int)")
    end = self._current_token.span.end
    self.parse_punctuation(")", " to end a complex value")
    return (real, imag), Span(start.start, end, start.input)


def parse_counted_parameters(cls: type[ParametrizedAttribute], parser: AttrParser
                             ) -> list[Attribute]:
    """xDSL's generic `<param, ...>` of a parametrized attribute, checking their number."""
    start = parser.pos
    params = list(parser.parse_paramattr_parameters())
    expected = len(cls.get_irdl_definition().parameters)
    if len(params) != expected:
        parser.raise_error(f"{cls.name} takes {expected} parameter(s), got {len(params)}",
                           start, parser.pos)
    return params


def apply() -> None:
    """Install the fixes (idempotent)."""
    MLIRLexer._unescaped_characters_regex = STRING_LITERAL
    p = AttrParser
    p.parse_optional_attribute = located(p.parse_optional_attribute, (VerifyException,))
    p.parse_optional_type = located(p.parse_optional_type, (VerifyException,))
    # Packing a literal's values raises these for a value out of its element type's range.
    out_of_range = (OverflowError, ValueError)
    p.parse_optional_builtin_int_or_float_attr = located(
        p.parse_optional_builtin_int_or_float_attr, out_of_range)
    p.parse_dense_int_or_fp_elements_attr = located(
        whole_elements(p.parse_dense_int_or_fp_elements_attr), out_of_range)
    p._parse_dense_literal_type = bounded_size(p._parse_dense_literal_type)
    p._parse_optional_complex = parse_optional_complex  # type: ignore[method-assign]
    # A block label that is not a valid name (`^5`) fails Block.name_hint's setter.
    for name in ("_parse_block", "parse_optional_successor"):
        setattr(Parser, name, valid_block_label(getattr(Parser, name)))
    ParametrizedAttribute.parse_parameters = classmethod(  # type: ignore[method-assign]
        parse_counted_parameters)
