"""The weights of the `transformer` dialect: f32 tensors stored sparse, printed with labels.

Inside a `transformer.model`, a weight prints its non-zero entries under the names of its
rows and columns: residual labels, tokens, or the integer index of a position, a hidden unit
or a head dimension. One line per non-zero row, `row -> {column = value, ...}`:
```
transformer.mlp layer 0 "parity"
    w_1 = sparse tensor<19x3xf32> {
      one -> {0 = -1.0, 2 = 1.0}
      prev:1 -> {0 = 2.0}
    }
    b_1 = sparse tensor<3xf32> {1 = 0.5}
    w_2 = sparse tensor<3x19xf32> {
      0 -> {par:"odd" = 1.0}
    }
    b_2 = sparse tensor<19xf32> {}
transformer.embed
    token = sparse tensor<5x19xf32> {
      1 -> {one = 1.0, tokens:1 = 1.0}
      "BOS" -> {one = 1.0, bos = 1.0}
    }
```
Rows and columns: `token` [token, label] (the vocab's tokens, then BOS and PAD, as values),
`position` [position, label], `w_q`, `w_k`, `w_v` and `w_1` [label, index], `w_o` and `w_2`
[index, label], `b_1` [index], `b_2` [label]. Values are the shortest decimals that parse back
to the same float32 (`format_f32`), so text round trips are bit-exact; a tensor whose
entries all hold one non-zero value prints as a splat, `dense<1.0> : tensor<3x6xf32>`.

In the generic format (and for a weight outside a model) a tensor prints with integer
coordinates: `#transformer.sparse<tensor<19x3xf32> {(0, 0) = -1.0, (0, 2) = 1.0}>`.
Every builtin `dense<...>` f32 tensor parses too (the form older versions printed, hex bytes
included) and is stored sparse, so every parse of a model is structurally equal.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import (ArrayAttr, BytesAttr, DenseIntOrFPElementsAttr, Float32Type,
                                   StringAttr, TensorType, f32)
from xdsl.ir import Attribute, Data, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from tracr_ir.model import Label
from tracr_ir.values import Value, format_value, parse_string, parse_value

### Floats.


def format_f32(x: float) -> str:
    """The shortest decimal that parses back to the float32 `x` (xDSL's own printer writes
    e.g. 1000001.0 as `0x49742410`, which its parser reads as the integer)."""
    bits = struct.pack("<f", x)
    if not math.isfinite(x):  # invalid in a weight; MLIR's bit-pattern form
        return f"0x{bits[::-1].hex().upper()}"
    for digits in range(1, 10):
        text = repr(float(f"{x:.{digits}g}"))  # Python's layout: 20.0, 1e-30, 1.5e+16
        try:
            if struct.pack("<f", float(text)) == bits:
                break
        except OverflowError:
            continue
    mantissa, e, exponent = text.partition("e")
    return (mantissa if "." in mantissa else mantissa + ".0") + (f"e{exponent}" if e else "")


def _format_entry(x: float) -> str:
    """`format_f32`, with `inf`, `-inf` and `nan` for what a verifier will refuse."""
    return format_f32(x) if math.isfinite(x) else str(x)


def _parse_f32(parser: AttrParser) -> np.float32:
    start = parser.pos
    negative = parser.parse_optional_punctuation("-") is not None
    if parser.parse_optional_keyword("inf") is not None:
        value: float = math.inf
    elif parser.parse_optional_keyword("nan") is not None:
        value = math.nan
    else:
        value = parser.parse_number(context_msg=" (a weight)")
    try:
        with np.errstate(over="raise"):
            x = np.float32(-value if negative else value)
    except (OverflowError, FloatingPointError):
        parser.raise_error("weight out of float32 range", start, parser.pos)
    return x


### The sparse tensor attribute.


@irdl_attr_definition
class SparseAttr(Data[tuple]):
    """An f32 tensor by its non-zero entries: (shape, flat indices as int64 bytes, values as
    float32 bytes), indices increasing; a zero entry is one whose bits are all 0 (-0.0 is
    kept). `#transformer.sparse<tensor<2x3xf32> {(0, 1) = 1.0, (1, 2) = -0.5}>`."""

    name = "transformer.sparse"

    @staticmethod
    def from_array(array: Any) -> SparseAttr:
        a = np.ascontiguousarray(array, dtype="<f4")
        flat = a.reshape(-1)
        index = np.flatnonzero(flat.view(np.uint32))
        return SparseAttr._of(a.shape, index, flat[index])

    @staticmethod
    def from_entries(shape: Sequence[int], coords: Sequence[np.ndarray],
                     values: np.ndarray) -> SparseAttr:
        """From coordinates (one integer array per dimension) and their values; zeros are
        dropped, and an entry given twice must not be (`ValueError`)."""
        shape = tuple(int(n) for n in shape)
        values = np.asarray(values, dtype="<f4").reshape(-1)
        flat = (np.ravel_multi_index(tuple(np.asarray(c, np.int64).reshape(-1) for c in coords),
                                     shape) if values.size else np.zeros(0, np.int64))
        order = np.argsort(flat, kind="stable")
        flat, values = flat[order], values[order]
        if flat.size > 1 and (np.diff(flat) == 0).any():
            raise ValueError("an entry is given twice")
        keep = values.view(np.uint32) != 0
        return SparseAttr._of(shape, flat[keep], values[keep])

    @staticmethod
    def _of(shape: Sequence[int], index: np.ndarray, values: np.ndarray) -> SparseAttr:
        return SparseAttr((tuple(int(n) for n in shape),
                           np.asarray(index, "<i8").tobytes(),
                           np.asarray(values, "<f4").tobytes()))

    def get_shape(self) -> tuple[int, ...]:
        return self.data[0]

    def get_element_type(self) -> Float32Type:
        return f32

    @property
    def index(self) -> np.ndarray:
        return np.frombuffer(self.data[1], dtype="<i8")

    @property
    def values(self) -> np.ndarray:
        return np.frombuffer(self.data[2], dtype="<f4")

    def coords(self) -> tuple[np.ndarray, ...]:
        return np.unravel_index(self.index, self.get_shape()) if self.get_shape() else ()

    def to_array(self) -> np.ndarray:
        """The dense read-only float32 array."""
        a = np.zeros(self.get_shape(), dtype=np.float32)
        a.reshape(-1)[self.index] = self.values
        a.setflags(write=False)
        return a

    def splat(self) -> float | None:
        """The value of every entry if all are one non-zero value (and there are two+)."""
        values, size = self.values, math.prod(self.get_shape())
        if size > 1 and values.size == size and (values.view(np.uint32) == values.view(
                np.uint32)[0]).all():
            return float(values[0])
        return None

    def print_parameter(self, printer: Printer) -> None:
        entries = ", ".join(f"({', '.join(str(int(i)) for i in c)}) = {_format_entry(float(v))}"
                            for *c, v in zip(*self.coords(), self.values))
        printer.print_string(f"<{tensor_type(self.get_shape())} {{{entries}}}>")

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            shape = _parse_tensor_type(parser)

            def entry() -> tuple[tuple[int, ...], np.float32]:
                start = parser.pos
                coord = tuple(parser.parse_comma_separated_list(
                    parser.Delimiter.PAREN, lambda: parser.parse_integer(False, False)))
                if len(coord) != len(shape) or any(i >= n for i, n in zip(coord, shape)):
                    parser.raise_error(f"entry {coord} is outside {tensor_type(shape)}", start,
                                       parser.pos)
                parser.parse_punctuation("=")
                return coord, _parse_f32(parser)

            start = parser.pos
            entries = parser.parse_comma_separated_list(parser.Delimiter.BRACES, entry)
            return _entries_attr(parser, shape, entries, start).data


def tensor_type(shape: Sequence[int]) -> str:
    return f"tensor<{''.join(f'{n}x' for n in shape)}f32>"


def _parse_tensor_type(parser: AttrParser) -> tuple[int, ...]:
    start = parser.pos
    kind = parser.parse_type()
    if (not isinstance(kind, TensorType) or not isinstance(kind.element_type, Float32Type)
            or any(n < 0 for n in kind.get_shape())):
        parser.raise_error("a weight is a tensor of static shape with f32 elements", start,
                           parser.pos)
    return tuple(kind.get_shape())


def _entries_attr(parser: AttrParser, shape: tuple[int, ...],
                  entries: Sequence[tuple[tuple[int, ...], np.float32]], start: Any) -> SparseAttr:
    coords = [np.array([c[d] for c, _ in entries], np.int64) for d in range(len(shape))]
    try:
        return SparseAttr.from_entries(shape, coords, np.array([v for _, v in entries],
                                                               np.float32))
    except ValueError as e:
        parser.raise_error(f"{e} in {tensor_type(shape)}", start, parser.pos)


### Legacy dense tensors, and what every tensor answers.


def dense(array: Any) -> DenseIntOrFPElementsAttr:
    """A builtin dense f32 tensor (the storage of older versions; stored sparse when put in a
    `WeightsAttr`)."""
    a = np.ascontiguousarray(array, dtype="<f4")
    return DenseIntOrFPElementsAttr(TensorType(f32, a.shape), BytesAttr(a.tobytes()))


def is_f32_tensor(attr: Attribute) -> bool:
    if isinstance(attr, SparseAttr):
        return True
    return (isinstance(attr, DenseIntOrFPElementsAttr) and isinstance(attr.type, TensorType)
            and isinstance(attr.get_element_type(), Float32Type)
            and len(attr.data.data) == 4 * math.prod(attr.get_shape()))


def to_numpy(attr: Attribute) -> np.ndarray:
    """The dense read-only float32 array of a sparse or dense tensor."""
    if isinstance(attr, SparseAttr):
        return attr.to_array()
    return np.frombuffer(attr.data.data, dtype="<f4").reshape(attr.get_shape())  # type: ignore


def shape_of(attr: Attribute) -> tuple[int, ...]:
    if isinstance(attr, (SparseAttr, DenseIntOrFPElementsAttr)):
        return tuple(attr.get_shape())
    return ()


def stored(attr: Attribute) -> Attribute:
    """A well-formed dense f32 tensor as a `SparseAttr`; anything else as it is."""
    if isinstance(attr, DenseIntOrFPElementsAttr) and is_f32_tensor(attr):
        return SparseAttr.from_array(to_numpy(attr))
    return attr


def _format_nested(values: list | float) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(map(_format_nested, values)) + "]"
    return format_f32(values)


def format_dense(attr: Attribute) -> str:
    """A dense tensor in the builtin syntax: `dense<[[1.0, 0.5]]> : tensor<1x2xf32>`
    (decimals up to 100 elements, hex bytes above), or xDSL's text if malformed."""
    if not is_f32_tensor(attr):
        return str(attr)
    a = to_numpy(attr)
    if a.size == 0:
        body = ""
    elif (a.view(np.uint32) == a.view(np.uint32).flat[0]).all():
        body = format_f32(float(a.flat[0]))
    elif a.size > 100:
        body = f'"0x{a.tobytes().hex().upper()}"'
    else:
        body = _format_nested(a.tolist())
    return f"dense<{body}> : {tensor_type(a.shape)}"


### Rows and columns by name.


@dataclass(frozen=True)
class Axis:
    """How the coordinates of one dimension print: integers (`keys` None), or the residual
    labels or the tokens of the model (`kind` "label" or "token")."""

    keys: tuple | None = None
    kind: str = "index"

    def fits(self, n: int) -> bool:
        return self.keys is None or len(self.keys) == n

    def format(self, i: int) -> str:
        if self.keys is None:
            return str(i)
        key = self.keys[i]
        return str(key) if self.kind == "label" else format_value(key)

    def parse(self, parser: AttrParser, n: int) -> int:
        start = parser.pos
        if self.keys is None:
            i = parser.parse_integer(False, False, " (an index)")
            if i >= n:
                parser.raise_error(f"index {i} is outside a dimension of {n}", start, parser.pos)
            return i
        key: Value | Label = parse_label(parser) if self.kind == "label" else parse_value(parser)
        i = self._position(key)
        if i is None:
            what = f"residual label {key}" if self.kind == "label" else \
                f"token {format_value(key)}"
            parser.raise_error(f"unknown {what}", start, parser.pos)
        return i

    def _position(self, key: Any) -> int | None:
        return self._by_text.get(str(key) if self.kind == "label" else format_value(key))

    @functools.cached_property
    def _by_text(self) -> dict[str, int]:
        """Position by printed key (the text tells `1` from `true` and `1.0`)."""
        return {self.format(i): i for i in range(len(self.keys or ()))}


def parse_label(parser: AttrParser) -> Label:
    """A residual label: `one`, `tokens:1`, `"my-name":(1, 2)`."""
    name = parser.parse_optional_identifier()
    if name is None:
        name = parse_string(parser, " (a residual label: a name or a string)")
    if parser.parse_optional_punctuation(":") is not None:
        return Label(name, parse_value(parser))
    return Label(name)


def weight_axes(residual: Sequence[Label], tokens: Sequence[Value]) -> dict[str, tuple[Axis, ...]]:
    """The axes of every weight of a model with these residual labels and token rows."""
    label, index, token = Axis(tuple(residual), "label"), Axis(), Axis(tuple(tokens), "token")
    return {"token": (token, label), "position": (index, label), "w_q": (label, index),
            "w_k": (label, index), "w_v": (label, index), "w_o": (index, label),
            "w_1": (label, index), "b_1": (index,), "w_2": (index, label), "b_2": (label,)}


#: The axes of the model being parsed (`transformer.model` sets them around its region).
_PARSING_AXES: contextvars.ContextVar[dict[str, tuple[Axis, ...]] | None] = \
    contextvars.ContextVar("parsing_axes", default=None)


@contextlib.contextmanager
def parsing_axes(axes: dict[str, tuple[Axis, ...]]) -> Iterator[None]:
    token = _PARSING_AXES.set(axes)
    try:
        yield
    finally:
        _PARSING_AXES.reset(token)


def format_tensor(attr: Attribute, axes: Sequence[Axis] | None) -> str:
    """The op syntax of one weight (see the module docstring); rows on lines of their own,
    indented relative to the weight (a printer indents every line further)."""
    if not isinstance(attr, SparseAttr):
        return format_dense(attr)
    shape = attr.get_shape()
    if axes is None or len(axes) != len(shape) or not all(a.fits(n) for a, n in zip(axes, shape)):
        return str(attr)
    if (value := attr.splat()) is not None:
        return f"dense<{format_f32(value)}> : {tensor_type(shape)}"
    head = f"sparse {tensor_type(shape)}"
    coords, values = attr.coords(), attr.values
    if len(shape) == 1:
        return head + " {" + ", ".join(f"{axes[0].format(int(i))} = {_format_entry(float(v))}"
                                       for i, v in zip(coords[0], values)) + "}"
    rows, cols = coords
    lines = []
    starts = np.flatnonzero(np.diff(rows, prepend=-1)) if rows.size else np.zeros(0, np.int64)
    for s, e in zip(starts, [*starts[1:], rows.size]):
        entries = ", ".join(f"{axes[1].format(int(c))} = {_format_entry(float(v))}"
                            for c, v in zip(cols[s:e], values[s:e]))
        lines.append(f"\n  {axes[0].format(int(rows[s]))} -> {{{entries}}}")
    return head + " {" + "".join(lines) + ("\n}" if lines else "}")


def parse_tensor(parser: AttrParser, name: str) -> Attribute:
    """A weight in the op syntax: `sparse tensor<...> {...}`, or any attribute."""
    if parser.parse_optional_keyword("sparse") is None:
        return stored(parser.parse_attribute())
    start = parser.pos
    shape = _parse_tensor_type(parser)
    model_axes = _PARSING_AXES.get()
    axes = (model_axes or {}).get(name, tuple(Axis() for _ in shape))
    if len(axes) != len(shape) or not all(a.fits(n) for a, n in zip(axes, shape)):
        parser.raise_error(f"{name} has shape {'x'.join(map(str, shape))}, which does not fit "
                           "the model's residual and vocab", start, parser.pos)
    if any(a.keys is not None for a in axes) and model_axes is None:
        parser.raise_error("sparse weights with labels must be inside a transformer.model")
    entries: list[tuple[tuple[int, ...], np.float32]] = []

    def entry(*prefix: int) -> None:
        column = axes[len(prefix)].parse(parser, shape[len(prefix)])
        parser.parse_punctuation("=")
        entries.append(((*prefix, column), _parse_f32(parser)))

    start = parser.pos
    if len(shape) == 1:
        parser.parse_comma_separated_list(parser.Delimiter.BRACES, entry)
    elif len(shape) == 2:
        parser.parse_punctuation("{")
        while parser.parse_optional_punctuation("}") is None:
            row = axes[0].parse(parser, shape[0])
            parser.parse_punctuation("->")
            parser.parse_comma_separated_list(parser.Delimiter.BRACES, lambda: entry(row))
    else:
        parser.raise_error("a sparse weight has one or two dimensions")
    return _entries_attr(parser, shape, entries, start)


### Named weights.


@irdl_attr_definition
class WeightsAttr(ParametrizedAttribute):
    """Named f32 tensors: `#transformer.weights<w_1 = #transformer.sparse<...>, ...>`."""

    name = "transformer.weights"
    names: ArrayAttr[StringAttr]
    tensors: ArrayAttr[Attribute]

    @staticmethod
    def get(weights: dict[str, Attribute]) -> WeightsAttr:
        """From tensors by name; well-formed dense f32 tensors are stored sparse."""
        return WeightsAttr(ArrayAttr(StringAttr(n) for n in weights),
                           ArrayAttr(stored(t) for t in weights.values()))

    @staticmethod
    def from_arrays(holder: Any, names: Iterable[str]) -> WeightsAttr:
        return WeightsAttr.get({n: SparseAttr.from_array(getattr(holder, n)) for n in names})

    def tensor(self, name: str) -> Attribute | None:
        return dict(self.items()).get(name)

    def items(self) -> list[tuple[str, Attribute]]:
        return [(n.data, t) for n, t in zip(self.names, self.tensors)]

    def arrays(self) -> list[np.ndarray]:
        return [to_numpy(t) for t in self.tensors]

    def print_lines(self, printer: Printer, axes: dict[str, tuple[Axis, ...]] | None) -> None:
        """The op syntax: `name = sparse ...` on indented lines (integer coordinates where
        `axes` has no entry for a name)."""
        with printer.indented(2):
            for name, tensor in self.items():
                printer.print_string(f"\n{name} = {format_tensor(tensor, (axes or {}).get(name))}")

    @staticmethod
    def parse_lines(parser: AttrParser, names: Iterable[str]) -> WeightsAttr:
        weights: dict[str, Attribute] = {}
        for name in names:
            parser.parse_keyword(name)
            parser.parse_punctuation("=")
            weights[name] = parse_tensor(parser, name)
        return WeightsAttr.get(weights)

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<" + ", ".join(f"{n} = {format_tensor(t, None)}"
                                             for n, t in self.items()) + ">")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        def item() -> tuple[str, Attribute]:
            name = parser.parse_identifier(" (a weight's name)")
            parser.parse_punctuation("=")
            return name, parser.parse_attribute()

        items = parser.parse_comma_separated_list(parser.Delimiter.ANGLE, item)
        return list(WeightsAttr.get(dict(items)).parameters)

    def verify_shapes(self, where: str, shapes: dict[str, tuple[int, ...]]) -> None:
        """Finite f32 tensors named and shaped as `shapes`, or an error naming `where`."""
        if (names := [n for n, _ in self.items()]) != list(shapes):
            raise VerifyException(f"{where}: expected weights {', '.join(shapes)}, got "
                                  f"{', '.join(names) or 'none'}")
        for (name, attr), shape in zip(self.items(), shapes.values()):
            shown = "x".join(map(str, shape))
            if not is_f32_tensor(attr):
                raise VerifyException(f"{where}: {name} must be a dense f32 tensor of shape "
                                      f"{shown}")
            if (got := shape_of(attr)) != shape:
                raise VerifyException(
                    f"{where}: {name} has shape {'x'.join(map(str, got))}, expected {shown}")
            values = attr.values if isinstance(attr, SparseAttr) else to_numpy(attr)
            if not np.isfinite(values).all():
                raise VerifyException(f"{where}: {name} holds a non-finite value")
