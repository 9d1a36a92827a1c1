"""This project's parser: xDSL 0.74.0's `Parser` with the parser bugs fuzzing found fixed.

```python
module = TracrParser(ctx, text).parse_module()    # what `tracr_ir.ir_text.parse_module` does
```
Each fix turns a hang, a crash or an unlocated error into a parse error at the offending text.
They live in subclasses (`TracrLexer`, `TracrParser`) that only this project's entry points
use: `tracr_ir.ir_text.parse_module` (so `tracr_ir.compiler.parse_module`, `interpret` of IR
text, `tracr_ir.load`, `tracr-run`) and `tracr-opt`. xDSL's own classes are left unchanged, so
`xdsl-opt` and any other user of `xdsl.parser.Parser` parse exactly as xDSL does, even with
tracr-ir installed (its `xdsl.universe` entry point imports `tracr_ir`).

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

import math
import re
from typing import Any, NoReturn

from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, UnregisteredAttr
from xdsl.ir import Attribute, Block, ParametrizedAttribute, TypeAttribute
from xdsl.parser import Parser, ParserState
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.lexer import Input, Position, Span
from xdsl.utils.mlir_lexer import MLIRLexer, MLIRTokenKind

__all__ = ["MAX_DENSE_ELEMENTS", "STRING_LITERAL", "TracrLexer", "TracrParser"]

STRING_LITERAL = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')
MAX_DENSE_ELEMENTS = 1 << 28  # 1 GiB of f32

# Packing a literal's values raises these for a value out of its element type's range.
OUT_OF_RANGE = (OverflowError, ValueError)


class TracrLexer(MLIRLexer):
    """xDSL's lexer with a string-literal regex that runs in linear time."""

    _unescaped_characters_regex = STRING_LITERAL


class TracrParser(Parser):
    """xDSL's parser, lexing with `TracrLexer`, with the fixes of this module's docstring."""

    def __init__(self, ctx: Context, input: str | bytes, name: str = "<unknown>") -> None:
        # xDSL's constructor lexes the first token with its own lexer: give it nothing to
        # lex, then start over on the text with ours.
        super().__init__(ctx, "", name)
        text = input.decode("utf-8") if isinstance(input, bytes) else input
        self._parser_state = ParserState(TracrLexer(Input(text, name)))

    def _raise_at(self, error: Exception, start: Position) -> NoReturn:
        """A parse error spanning the text read since `start`, with `error`'s message (for
        errors xDSL raises building what it parsed, outside its parse errors)."""
        message = " ".join(map(str, error.args)) or type(error).__name__
        self.raise_error(message, start, max(self.pos, start))

    ### Attributes and types: errors raised while building them get a location.

    def parse_optional_attribute(self) -> Attribute | None:
        start = self.pos
        try:
            return super().parse_optional_attribute()
        except VerifyException as e:
            self._raise_at(e, start)

    def parse_optional_type(self) -> TypeAttribute | None:
        start = self.pos
        try:
            return super().parse_optional_type()
        except VerifyException as e:
            self._raise_at(e, start)

    def parse_optional_builtin_int_or_float_attr(self) -> Any:
        start = self.pos
        try:
            return super().parse_optional_builtin_int_or_float_attr()
        except OUT_OF_RANGE as e:
            self._raise_at(e, start)

    def _parse_dialect_type_or_attribute_body(
        self, attr_name: str, is_type: bool, is_opaque: bool, starting_opaque_pos: Any
    ) -> Attribute:
        """xDSL's body of `!dialect.name<...>` / `#dialect.name<...>`; for an attribute in
        the generic parameter syntax, the number of parameters is checked before it is built.
        """
        lookup = self.ctx.get_optional_type if is_type else self.ctx.get_optional_attr
        attr_def = lookup(attr_name) if "." in attr_name else None
        if not _generic_parameters(attr_def):
            return super()._parse_dialect_type_or_attribute_body(
                attr_name, is_type, is_opaque, starting_opaque_pos)
        assert attr_def is not None
        start = self.pos
        params = list(attr_def.parse_parameters(self))
        expected = len(attr_def.get_irdl_definition().parameters)
        if len(params) != expected:
            self.raise_error(f"{attr_def.name} takes {expected} parameter(s), got "
                             f"{len(params)}", start, self.pos)
        return attr_def.new(params)

    ### Dense literals.

    def parse_dense_int_or_fp_elements_attr(self, type: Any) -> DenseIntOrFPElementsAttr:
        """xDSL's dense literal, refusing values out of range and a buffer that is not a
        whole number of elements."""
        start = self.pos
        try:
            attr = super().parse_dense_int_or_fp_elements_attr(type)
        except OUT_OF_RANGE as e:
            self._raise_at(e, start)
        size = attr.get_element_type().compile_time_size
        if len(attr.data.data) != size * len(attr):
            self.raise_error(f"dense literal of {len(attr.data.data)} bytes is not a whole "
                             f"number of {size}-byte elements", start, self.pos)
        return attr

    def _parse_dense_literal_type(self) -> Any:
        """xDSL's type of a dense literal, refusing more than `MAX_DENSE_ELEMENTS`."""
        start = self.pos
        type = super()._parse_dense_literal_type()
        if (n := math.prod(type.get_shape())) > MAX_DENSE_ELEMENTS:
            self.raise_error(f"a dense literal of {n} elements is above the limit of "
                             f"{MAX_DENSE_ELEMENTS}", start, self.pos)
        return type

    def _parse_optional_complex(self) -> tuple[tuple[Any, Any], Span] | None:
        """xDSL's `(real, imag)` element of a dense literal, with `)` expected as punctuation
        (xDSL consumes it as a token it asserts is there)."""
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

    ### Blocks.

    def _parse_block(self) -> Block:
        self._check_block_label()
        return super()._parse_block()

    def parse_optional_successor(self) -> Block | None:
        self._check_block_label()
        return super().parse_optional_successor()

    def _check_block_label(self) -> None:
        """Refuse a `^label` coming next that is not a valid name, before xDSL's
        `Block.name_hint` setter raises ValueError on it. (Only the label is checked:
        catching ValueError around the block would also hide the errors of every op parsed
        inside it.)"""
        token = self._current_token
        if token.kind == MLIRTokenKind.CARET_IDENT:
            name = token.text[1:]
            if not Block.is_default_block_name(name) and not Block.is_valid_name(name):
                self.raise_error(f"Invalid Block name format `{name}`: a name holds only "
                                 "[A-Za-z0-9_$.-] and does not start with a digit",
                                 token.span.start, token.span.end)


def _generic_parameters(attr_def: type[Attribute] | None) -> bool:
    """Whether `attr_def` is a registered parametrized attribute parsed by xDSL's generic
    `<param, ...>` syntax (it does not define its own `parse_parameters`)."""
    if (attr_def is None or not issubclass(attr_def, ParametrizedAttribute)
            or issubclass(attr_def, UnregisteredAttr)):
        return False
    method = getattr(attr_def.parse_parameters, "__func__", None)
    return method is ParametrizedAttribute.parse_parameters.__func__
