"""The `rasp` dialect: a RASP program as SSA, one op per RASP construct.

```
rasp.program vocab {1, 2, 3} max_seq_len 5 bos "BOS" pad "PAD" causal false
    (%tokens : !rasp.sop<categorical, {1, 2, 3}>, %indices : !rasp.sop<categorical, {0, 1, 2, 3, 4}>) {
  %same_tok = rasp.select "same_tok_1" %tokens, %tokens EQ : !rasp.selector
  %hist = rasp.selector_width "hist_2" %same_tok : !rasp.sop<categorical, {0, 1, 2, 3, 4, 5}>
  rasp.output %hist : !rasp.sop<categorical, {0, 1, 2, 3, 4, 5}>
}
```

The quoted string after each op name is the node's unique label. Until `rasp-infer-values` runs,
s-op types carry no value set (`!rasp.sop<categorical>`) and element-wise functions are Python
callables (`python<"<lambda> at lib.py:42">`, which print but cannot be parsed). Afterwards every
function is a table (`{1 -> 2, 2 -> 4}`; a SequenceMap's keys are pairs, a Select's table maps
`(key, query)` to a bool) and the module is self-contained text. A table may lack an entry where
the function raised an arithmetic error: evaluating it there is an error, as in tracr.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import (
    Attribute,
    Block,
    Data,
    Dialect,
    ParametrizedAttribute,
    Region,
    SSAValue,
    TypeAttribute,
)
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsTerminator, Pure
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from tracr_ir import rasp as rasp_front
from tracr_ir.dialects.program import (ProgramOutputOp, Settings, SSAProgramOp, checked_parent,
                                       is_range)
from tracr_ir.dialects.rasp_attrs import NeedsAttr, TableAttr, ValueAttr, ValueSetAttr
from tracr_ir.values import (
    Value,
    format_value,
    format_value_set,
    incomparable,
    parse_string,
    parse_value,
    parse_value_set,
)

CATEGORICAL = "categorical"
NUMERICAL = "numerical"


### Attributes.


def describe_callable(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", type(fn).__name__)
    if code is None:
        return name
    return f"{name} at {code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"


@irdl_attr_definition
class PyFuncAttr(Data[Callable]):
    """A Python callable, before `rasp-infer-values` tabulates it. Prints, never parses."""

    name = "rasp.python"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> Callable[..., Any]:
        parser.raise_error(
            "a Python function cannot be parsed from text: print the module after "
            "rasp-infer-values, which turns functions into tables"
        )

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{format_value(describe_callable(self.data))}>")


class Comparison(StrEnum):
    EQ = "EQ"
    LT = "LT"
    LEQ = "LEQ"
    GT = "GT"
    GEQ = "GEQ"
    NEQ = "NEQ"
    TRUE = "TRUE"
    FALSE = "FALSE"


@irdl_attr_definition
class ComparisonAttr(Data[Comparison]):
    """A Select predicate by name: `#rasp.comparison<LT>`."""

    name = "rasp.comparison"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> Comparison:
        with parser.in_angle_brackets():
            return parser.parse_str_enum(Comparison)

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{self.data.value}>")


### Types.


@irdl_attr_definition
class SOpType(ParametrizedAttribute, TypeAttribute):
    """`!rasp.sop<categorical, {1, 2}>`; `!rasp.sop<numerical>` before value-set inference."""

    name = "rasp.sop"

    encoding: StringAttr
    values: ValueSetAttr | StringAttr  # StringAttr("?") while unknown

    def __init__(self, encoding: str, values: Sequence[Value] | None = None):
        known = ValueSetAttr.from_values(values) if values is not None else StringAttr("?")
        super().__init__(StringAttr(encoding), known)

    @property
    def value_set(self) -> tuple | None:
        return self.values.data if isinstance(self.values, ValueSetAttr) else None

    @property
    def is_numerical(self) -> bool:
        return self.encoding.data == NUMERICAL

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            encoding = parser.parse_keyword_in((CATEGORICAL, NUMERICAL), " (an s-op encoding)")
            values: Attribute = StringAttr("?")
            if parser.parse_optional_punctuation(",") is not None:
                values = ValueSetAttr(parse_value_set(parser))
        return [StringAttr(encoding), values]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.encoding.data}")
        if self.value_set is not None:
            printer.print_string(f", {format_value_set(self.value_set)}")
        printer.print_string(">")

    def verify(self) -> None:
        if self.encoding.data not in (CATEGORICAL, NUMERICAL):
            raise VerifyException(f"unknown s-op encoding '{self.encoding.data}'")
        if isinstance(self.values, StringAttr) and self.values.data != "?":
            raise VerifyException("an s-op's values are a value set or '?'")
        if self.is_numerical and self.value_set is not None:
            bad = [v for v in self.value_set if v is not None and type(v) not in (bool, int, float)]
            if bad:
                raise VerifyException(
                    f"a numerical s-op holds numbers only, not {format_value(bad[0])}"
                )


@irdl_attr_definition
class SelectorType(ParametrizedAttribute, TypeAttribute):
    """`!rasp.selector`: a boolean query x key matrix."""

    name = "rasp.selector"


### Shared syntax: `rasp.op "label" %a, %b <payload> : type`.


def parse_optional_defined_operand(parser: Parser) -> SSAValue | None:
    """An operand defined above its use (rasp ops never reference values forward)."""
    unresolved = parser.parse_optional_unresolved_operand()
    if unresolved is None:
        return None
    values = parser.ssa_values.get(unresolved.operand_name)
    if values is None or unresolved.index >= len(values):
        parser.raise_error(
            f"use of undefined value %{unresolved.operand_name}: rasp ops take values "
            "defined above them",
            unresolved.span,
        )
    return values[unresolved.index]


class RaspOp(IRDLOperation):
    """Base of the rasp ops: a label, operands, an op-specific payload, the result type."""

    label = prop_def(StringAttr)
    RESERVED: ClassVar[tuple[str, ...]] = ("label",)

    @property
    def label_text(self) -> str:
        return self.label.data

    def print_payload(self, printer: Printer) -> None:
        """Print what follows the operands (a table, a comparison, a default...)."""

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        return {}

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {format_value(self.label.data)}")
        if self.operands:
            printer.print_string(" ")
            printer.print_list(self.operands, printer.print_operand)
        self.print_payload(printer)
        printer.print_op_attributes(
            self.attributes, reserved_attr_names=self.RESERVED, print_keyword=True
        )
        printer.print_string(" : ")
        printer.print_attribute(self.results[0].type)

    @classmethod
    def parse(cls, parser: Parser) -> RaspOp:
        label = parse_string(parser, " (the op's label)")
        operands: list[SSAValue] = []
        if (first := parse_optional_defined_operand(parser)) is not None:
            operands.append(first)
            while parser.parse_optional_punctuation(",") is not None:
                operand = parse_optional_defined_operand(parser)
                if operand is None:
                    parser.raise_error("expected an operand after ','")
                operands.append(operand)
        props = cls.parse_payload(parser)
        attrs = parser.parse_optional_attr_dict_with_keyword()
        parser.parse_punctuation(":")
        result_type = parser.parse_type()
        op = cls.create(
            operands=operands,
            result_types=[result_type],
            properties={"label": StringAttr(label), **props},
            attributes=attrs.data if attrs is not None else {},
        )
        return op


def _print_function(printer: Printer, table: TableAttr | None, fn: PyFuncAttr | None) -> None:
    printer.print_string(" ")
    if table is not None:
        table.print_entries(printer)
    elif fn is not None:
        printer.print_string("python")
        fn.print_parameter(printer)


def _parse_function(parser: Parser) -> dict[str, Attribute]:
    if parser.parse_optional_keyword("python") is not None:
        PyFuncAttr.parse_parameter(parser)
    return {"table": TableAttr(TableAttr.parse_entries(parser))}


class _FunctionOp(RaspOp):
    """An op whose semantics is a function: a `table`, or a Python `fn` before inference."""

    table = opt_prop_def(TableAttr)
    fn = opt_prop_def(PyFuncAttr)

    def print_payload(self, printer: Printer) -> None:
        _print_function(printer, self.table, self.fn)

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        return _parse_function(parser)

    def verify_(self) -> None:
        if (self.table is None) == (self.fn is None):
            raise VerifyException(f"{self.name} '{self.label.data}' needs exactly one of a "
                                  "table and a Python function")
        result_values = self.results[0].type.value_set  # type: ignore[attr-defined]
        if self.table is not None and result_values is not None:
            allowed = set(result_values)
            for arg, res in self.table.data:
                if res not in allowed:
                    raise VerifyException(
                        f"{self.name} '{self.label.data}': table entry {format_value(arg)} -> "
                        f"{format_value(res)} is outside the result's value set"
                    )


@irdl_op_definition
class MapOp(_FunctionOp):
    """`%y = rasp.map "label" %x {1 -> 2, 2 -> 4} : !rasp.sop<...>`: y[i] = f(x[i])."""

    name = "rasp.map"
    input = operand_def(SOpType)
    output = result_def(SOpType)
    traits = traits_def(Pure())


@irdl_op_definition
class SequenceMapOp(_FunctionOp):
    """`%z = rasp.sequence_map "label" %x, %y {(1, 2) -> 3} : ...`: z[i] = f(x[i], y[i])."""

    name = "rasp.sequence_map"
    fst = operand_def(SOpType)
    snd = operand_def(SOpType)
    output = result_def(SOpType)
    traits = traits_def(Pure())


@irdl_op_definition
class LinearSequenceMapOp(RaspOp):
    """`%z = rasp.linear_sequence_map "label" %x, %y factors (1, -1) : ...`: z = 1*x + -1*y."""

    name = "rasp.linear_sequence_map"
    fst = operand_def(SOpType)
    snd = operand_def(SOpType)
    fst_fac = prop_def(ValueAttr)
    snd_fac = prop_def(ValueAttr)
    output = result_def(SOpType)
    traits = traits_def(Pure())

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(
            f" factors ({format_value(self.fst_fac.data)}, {format_value(self.snd_fac.data)})"
        )

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        parser.parse_keyword("factors")
        with parser.in_parens():
            fst = parse_value(parser)
            parser.parse_punctuation(",")
            snd = parse_value(parser)
        return {"fst_fac": ValueAttr(fst), "snd_fac": ValueAttr(snd)}

    def verify_(self) -> None:
        for fac in (self.fst_fac.data, self.snd_fac.data):
            if type(fac) not in (bool, int, float):
                raise VerifyException(
                    f"rasp.linear_sequence_map '{self.label.data}': factor "
                    f"{format_value(fac)} is not a number"
                )
        for operand in (self.fst, self.snd):
            values = operand.type.value_set or ()  # type: ignore[attr-defined]
            if bad := [v for v in values if v is not None and type(v) not in (bool, int, float)]:
                raise VerifyException(
                    f"rasp.linear_sequence_map '{self.label.data}': its operands hold numbers, "
                    f"not {format_value(bad[0])}"
                )


@irdl_op_definition
class FullOp(RaspOp):
    """`%c = rasp.full "label" 3 : !rasp.sop<categorical, {3}>`: the value at every position."""

    name = "rasp.full"
    fill = prop_def(ValueAttr)
    output = result_def(SOpType)
    traits = traits_def(Pure())

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(f" {format_value(self.fill.data)}")

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        return {"fill": ValueAttr(parse_value(parser))}

    def verify_(self) -> None:
        values = self.output.type.value_set  # type: ignore[attr-defined]
        if values is not None and self.fill.data not in set(values):
            raise VerifyException(f"rasp.full '{self.label.data}': the fill "
                                  f"{format_value(self.fill.data)} is outside the result's "
                                  "value set")


@irdl_op_definition
class SelectOp(RaspOp):
    """`%s = rasp.select "label" %keys, %queries LT : !rasp.selector`.

    Query i selects key j iff predicate(keys[j], queries[i]). The predicate is a comparison
    name, or a table `{(key, query) -> bool}` (a Python `fn` before inference).
    """

    name = "rasp.select"
    keys = operand_def(SOpType)
    queries = operand_def(SOpType)
    comparison = opt_prop_def(ComparisonAttr)
    table = opt_prop_def(TableAttr)
    fn = opt_prop_def(PyFuncAttr)
    output = result_def(SelectorType)
    traits = traits_def(Pure())

    def print_payload(self, printer: Printer) -> None:
        if self.comparison is not None:
            printer.print_string(f" {self.comparison.data.value}")
        else:
            _print_function(printer, self.table, self.fn)

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        if (name := parser.parse_optional_str_enum(Comparison)) is not None:
            return {"comparison": ComparisonAttr(name)}
        return _parse_function(parser)

    def verify_(self) -> None:
        given = [a for a in (self.comparison, self.table, self.fn) if a is not None]
        if len(given) != 1:
            raise VerifyException(f"rasp.select '{self.label.data}' needs exactly one of a "
                                  "comparison, a table and a Python function")
        for role, operand in (("keys", self.keys), ("queries", self.queries)):
            if operand.type.is_numerical:  # type: ignore[attr-defined]
                raise VerifyException(
                    f"rasp.select '{self.label.data}': its {role} must be categorical, "
                    f"got a numerical s-op"
                )
        keys, queries = (v.type.value_set for v in (self.keys, self.queries))  # type: ignore
        if self.comparison is not None and keys is not None and queries is not None and (
                pair := incomparable(rasp_front.Comparison[self.comparison.data.value], keys,
                                     queries)):
            raise VerifyException(
                f"rasp.select '{self.label.data}': {self.comparison.data.value} cannot compare "
                f"key {format_value(pair[0])} with query {format_value(pair[1])}")
        if self.table is not None:
            for arg, res in self.table.data:
                if not (isinstance(arg, tuple) and len(arg) == 2) or type(res) is not bool:
                    raise VerifyException(
                        f"rasp.select '{self.label.data}': table entries map (key, query) "
                        f"pairs to true or false, not {format_value(arg)} -> {format_value(res)}"
                    )


class _SelectorCombination(RaspOp):
    output = result_def(SelectorType)
    traits = traits_def(Pure())


@irdl_op_definition
class SelectorAndOp(_SelectorCombination):
    """`%s = rasp.selector_and "label" %a, %b : !rasp.selector`."""

    name = "rasp.selector_and"
    fst = operand_def(SelectorType)
    snd = operand_def(SelectorType)


@irdl_op_definition
class SelectorOrOp(_SelectorCombination):
    """`%s = rasp.selector_or "label" %a, %b : !rasp.selector`."""

    name = "rasp.selector_or"
    fst = operand_def(SelectorType)
    snd = operand_def(SelectorType)


@irdl_op_definition
class SelectorNotOp(_SelectorCombination):
    """`%s = rasp.selector_not "label" %a : !rasp.selector`."""

    name = "rasp.selector_not"
    inner = operand_def(SelectorType)


@irdl_op_definition
class AggregateOp(RaspOp):
    """`%y = rasp.aggregate "label" %sel, %x default none : ...`.

    The mean of the selected values (numerical), the selected value (categorical), or the
    default where nothing is selected.
    """

    name = "rasp.aggregate"
    selector = operand_def(SelectorType)
    sop = operand_def(SOpType)
    default = prop_def(ValueAttr)
    output = result_def(SOpType)
    traits = traits_def(Pure())

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(f" default {format_value(self.default.data)}")

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        parser.parse_keyword("default")
        return {"default": ValueAttr(parse_value(parser))}

    def verify_(self) -> None:
        inner = self.sop.type.value_set  # type: ignore[attr-defined]
        outer = self.output.type.value_set  # type: ignore[attr-defined]
        if self.output.type.is_numerical or inner is None or outer is None:  # type: ignore
            return
        allowed = set(outer)
        if missing := [v for v in inner if v not in allowed]:
            raise VerifyException(f"rasp.aggregate '{self.label.data}': the value "
                                  f"{format_value(missing[0])} it can select is outside the "
                                  "result's value set")


@irdl_op_definition
class SelectorWidthOp(RaspOp):
    """`%w = rasp.selector_width "label" %sel : ...`: the number of selected keys per query."""

    name = "rasp.selector_width"
    selector = operand_def(SelectorType)
    output = result_def(SOpType)
    traits = traits_def(Pure())

    def verify_(self) -> None:
        values = self.output.type.value_set  # type: ignore[attr-defined]
        program = checked_parent(self, ProgramOp)
        if values is None or program is None:
            return
        if bad := [w for w in values if type(w) is not int or not 0 <= w <= program.length]:
            raise VerifyException(f"rasp.selector_width '{self.label.data}': width "
                                  f"{format_value(bad[0])} is not an int from 0 to max_seq_len "
                                  f"{program.length}")


@irdl_op_definition
class ProgramOp(SSAProgramOp):
    """A RASP program: `tokens` and `indices` are the block arguments, `rasp.output` the result.

    Properties: `vocab` (value set), `max_seq_len`, `bos`, `pad` and `causal`.
    """

    name = "rasp.program"

    def __init__(
        self,
        vocab: Sequence[Value],
        max_seq_len: int,
        bos: str = "BOS",
        pad: str = "PAD",
        causal: bool = False,
        body: Region | None = None,
    ):
        if body is None:
            body = Region(Block(arg_types=(SOpType(CATEGORICAL), SOpType(CATEGORICAL))))
        super().__init__(properties=Settings(vocab, max_seq_len, bos, pad, causal).properties(),
                         regions=[body])

    def verify_(self) -> None:
        super().verify_()
        if not all(isinstance(a.type, SOpType) and not a.type.is_numerical
                   for a in self.block.args):
            raise VerifyException("rasp.program's block arguments tokens and indices are "
                                  "categorical s-ops")
        tokens_values = self.tokens.type.value_set  # type: ignore[attr-defined]
        if tokens_values is not None and set(tokens_values) != set(self.vocab.data):
            raise VerifyException("the tokens' value set must be the program's vocab")
        indices_values = self.indices.type.value_set  # type: ignore[attr-defined]
        if indices_values is not None and not is_range(indices_values, self.length):
            raise VerifyException(f"the indices' value set must be the positions 0 to "
                                  f"{self.length - 1} (max_seq_len {self.length})")


@irdl_op_definition
class OutputOp(ProgramOutputOp):
    """`rasp.output %y : !rasp.sop<...>`: the program's result; terminates `rasp.program`."""

    name = "rasp.output"
    value = operand_def(SOpType)
    traits = traits_def(IsTerminator(), HasParent(ProgramOp))


ProgramOp.OUTPUT = OutputOp

RASP_OPS = [
    ProgramOp,
    OutputOp,
    MapOp,
    SequenceMapOp,
    LinearSequenceMapOp,
    FullOp,
    SelectOp,
    SelectorAndOp,
    SelectorOrOp,
    SelectorNotOp,
    AggregateOp,
    SelectorWidthOp,
]

RASP = Dialect(
    "rasp",
    RASP_OPS,
    [SOpType, SelectorType, ValueAttr, ValueSetAttr, TableAttr, PyFuncAttr, ComparisonAttr,
     NeedsAttr],
)
