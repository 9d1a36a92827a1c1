"""What the program op of every stage shares: the compile settings and their syntax.

`rasp.program`, `craft.program` and `transformer.model` all begin with
```
vocab {1, 2, 3} max_seq_len 5 bos "BOS" pad "PAD" causal false
```
and hold them as the properties `vocab`, `max_seq_len`, `bos`, `pad` and `causal`.
`SSAProgramOp` adds what `rasp.program` and `craft.program` share: `tokens` and `indices` as
the block arguments and an output terminator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from xdsl.dialects.builtin import (BoolAttr, IntegerAttr, IntegerType, ModuleOp, StringAttr,
                                   i64)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.irdl import IRDLOperation, prop_def, region_def
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from tracr_ir.dialects.rasp_attrs import ValueSetAttr
from tracr_ir.errors import IRError
from tracr_ir.values import Value, format_value, format_value_set, parse_string, parse_value_set


I64_MAX = (1 << 63) - 1


def parse_index(parser: AttrParser, what: str) -> int:
    """A non-negative integer held as an i64 (`max_seq_len`, a layer), or a parse error at it
    (built later, an out-of-range `IntegerAttr` would fail outside the parser)."""
    pos = parser.pos
    value = parser.parse_integer(allow_boolean=False, allow_negative=False,
                                 context_msg=f" ({what})")
    if value > I64_MAX:
        parser.raise_error(f"{what} {value} does not fit in an i64", pos, parser.pos)
    return value


@dataclass(frozen=True)
class Settings:
    """The compile settings a program carries from `to_ir` down to the model."""

    vocab: Sequence[Value]
    max_seq_len: int
    bos: str = "BOS"
    pad: str = "PAD"
    causal: bool = False

    def properties(self) -> dict[str, Attribute]:
        return {
            "vocab": ValueSetAttr.from_values(list(self.vocab)),
            "max_seq_len": IntegerAttr(self.max_seq_len, i64),
            "bos": StringAttr(self.bos),
            "pad": StringAttr(self.pad),
            "causal": IntegerAttr.from_bool(self.causal),
        }

    def text(self) -> str:
        return (f"vocab {format_value_set(self.vocab)} max_seq_len {self.max_seq_len} "
                f"bos {format_value(self.bos)} pad {format_value(self.pad)} "
                f"causal {'true' if self.causal else 'false'}")

    @staticmethod
    def parse(parser: AttrParser) -> Settings:
        parser.parse_keyword("vocab")
        vocab = parse_value_set(parser)
        parser.parse_keyword("max_seq_len")
        max_seq_len = parse_index(parser, "max_seq_len")
        parser.parse_keyword("bos")
        bos = parse_string(parser)
        parser.parse_keyword("pad")
        pad = parse_string(parser)
        parser.parse_keyword("causal")
        return Settings(vocab, max_seq_len, bos, pad, parser.parse_boolean())


class StageProgramOp(IRDLOperation):
    """Base of the program ops: the settings as properties, and one single-block region."""

    vocab = prop_def(ValueSetAttr)
    max_seq_len = prop_def(IntegerAttr[IntegerType])
    bos = prop_def(StringAttr)
    pad = prop_def(StringAttr)
    causal = prop_def(BoolAttr)
    body = region_def("single_block")

    @property
    def settings(self) -> Settings:
        return Settings(self.vocab.data, self.length, self.bos.data, self.pad.data,
                        self.is_causal)

    @property
    def vocab_values(self) -> tuple:
        return self.vocab.data

    @property
    def length(self) -> int:
        return self.max_seq_len.value.data

    @property
    def is_causal(self) -> bool:
        return bool(self.causal.value.data)

    @property
    def block(self) -> Block:
        return self.body.block

    def verify_settings(self) -> None:
        if self.length < 1:
            raise VerifyException(f"{self.name}: max_seq_len must be at least 1, got "
                                  f"{self.length}")
        if not self.vocab_values:
            raise VerifyException(f"{self.name}: the vocab is empty")
        if None in self.vocab_values:
            raise VerifyException(f"{self.name}: none cannot be a token of the vocab")
        bos, pad = self.bos.data, self.pad.data
        if bos == pad:
            raise VerifyException(f"{self.name}: bos and pad are both '{bos}'")
        for role, token in (("bos", bos), ("pad", pad)):
            if token in self.vocab_values:
                raise VerifyException(f"{self.name}: the {role} token '{token}' is also in "
                                      "the vocab")


def stage_op(module: Operation) -> StageProgramOp:
    """The single top-level program op (`rasp.program`, `craft.program`, `transformer.model`)
    of a module, or the op itself if it is not a module; else an `IRError`."""
    ops = list(module.regions[0].block.ops) if isinstance(module, ModuleOp) else [module]
    stages = [op for op in ops if isinstance(op, StageProgramOp)]
    if len(stages) != 1:
        raise IRError(f"expected one program op in the module, found {len(stages)}")
    return stages[0]


OpT = TypeVar("OpT", bound=IRDLOperation)


def checked_parent(op: Operation, kind: type[OpT]) -> OpT | None:
    """`op`'s parent op if it is a `kind`, its properties checked. xDSL verifies an op's
    children before the op itself, so a child reading its parent's properties (`max_seq_len`,
    ...) must check them first or crash on a malformed parent."""
    parent = op.parent_op()
    if not isinstance(parent, kind):
        return None
    kind.get_irdl_definition().verify(parent)
    return parent


def fresh_label(taken: set[str], base: str) -> str:
    """`base`, or `base_2`, `base_3`, ... : the first label not in `taken` (added to it)."""
    label, i = base, 1
    while label in taken:
        i += 1
        label = f"{base}_{i}"
    taken.add(label)
    return label


def is_range(values: Sequence[Value], n: int) -> bool:
    """Whether `values` are exactly the positions 0..n-1 (ints; `False`/`True` are not)."""
    return (len(values) == n and all(type(v) is int for v in values)
            and set(values) == set(range(n)))


def describe(op: Operation) -> str:
    """`rasp.map 'label'`, or the op's name if it has no label."""
    label = op.properties.get("label")
    return f"{op.name} '{label.data}'" if isinstance(label, StringAttr) else op.name


class SSAProgramOp(StageProgramOp):
    """A program in SSA form: block arguments `tokens` and `indices`, ops, an output op.

    `settings (%tokens: T, %indices: T) [attributes {...}] { ... }`
    """

    OUTPUT: ClassVar[type[Operation]]

    @property
    def tokens(self) -> SSAValue:
        return self.block.args[0]

    @property
    def indices(self) -> SSAValue:
        return self.block.args[1]

    @property
    def output(self) -> Any:
        terminator = self.block.last_op
        assert isinstance(terminator, self.OUTPUT)
        return terminator

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.settings.text()} (")
        printer.print_list(self.block.args, printer.print_block_argument)
        printer.print_string(")")
        printer.print_op_attributes(self.attributes, print_keyword=True)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False)

    @classmethod
    def parse(cls, parser: Parser) -> SSAProgramOp:
        settings = Settings.parse(parser)
        args = parser.parse_comma_separated_list(parser.Delimiter.PAREN, parser.parse_argument)
        attrs = parser.parse_optional_attr_dict_with_keyword()
        op = cls.create(properties=settings.properties(), regions=[parser.parse_region(args)])
        if attrs is not None:
            op.attributes |= attrs.data
        return op

    def verify_defined_above(self) -> None:
        """Every operand is a block argument or the result of an earlier op of the block, and
        only ops of the block use them (xDSL does not check dominance, and the generic form
        can name a value before, or outside, the op defining it)."""
        defined: set[SSAValue] = set(self.block.args)
        for op in self.block.ops:
            for operand in op.operands:
                if operand not in defined:
                    raise VerifyException(f"{describe(op)} reads %{operand.name_hint or '?'}, "
                                          f"which is not defined above it in the {self.name}")
            defined.update(op.results)
        for value in [*self.block.args, *(r for op in self.block.ops for r in op.results)]:
            for use in value.uses:
                if use.operation.parent_block() is not self.block:
                    raise VerifyException(f"{describe(use.operation)} reads "
                                          f"%{value.name_hint or '?'} of a {self.name} it is "
                                          "not in")

    def verify_(self) -> None:
        self.verify_settings()
        args = self.block.args
        if len(args) != 2:
            raise VerifyException(f"{self.name} takes exactly two block arguments: tokens "
                                  "and indices")
        if not isinstance(self.block.last_op, self.OUTPUT):
            raise VerifyException(f"{self.name} must end with {self.OUTPUT.name}")
        self.verify_defined_above()
        labels: set[str] = set()
        for op in self.block.ops:
            label = op.properties.get("label")
            if isinstance(label, StringAttr):
                if label.data in labels:
                    raise VerifyException(f"two ops have the label '{label.data}'")
                labels.add(label.data)


class ProgramOutputOp(IRDLOperation):
    """Base of the output ops: `<dialect>.output %y : <type>` ends a program's block."""

    def __init__(self, value: SSAValue):
        super().__init__(operands=[value])

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.operands[0])
        printer.print_string(" : ")
        printer.print_attribute(self.operands[0].type)

    @classmethod
    def parse(cls, parser: Parser) -> ProgramOutputOp:
        unresolved = parser.parse_unresolved_operand()
        parser.parse_punctuation(":")
        return cls(parser.resolve_operand(unresolved, parser.parse_type()))
