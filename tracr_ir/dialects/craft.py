"""The `craft` dialect: a RASP program as blocks acting on named subspaces of the residual.

```
craft.program vocab {1, 2, 3} max_seq_len 5 bos "BOS" pad "PAD" causal false
    (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>,
     %indices: !craft.space<[indices:0, indices:1, indices:2, indices:3, indices:4]>) {
  %hist = craft.selector_width "hist_2" select [(%tokens, %tokens EQ)]
      : !craft.space<[hist_2:1, hist_2:2, hist_2:3, hist_2:4, hist_2:5]>
  %m = craft.categorical_mlp "map_3" layer 1 %hist {1 -> true, 2 -> false, 3 -> false,
      4 -> false, 5 -> false} : !craft.space<[map_3]>
  craft.output %m : !craft.space<[map_3]>
}
```

- An SSA value is an s-op living in the residual subspace its type names: `!craft.space<[...]>`
  lists basis directions `name` or `name:value` (values in the syntax of `tracr_ir.values`;
  a name that is not a bare identifier is quoted). A categorical s-op has one direction per
  value (None is the zero vector, so `x:none` is not a direction); a numerical s-op has the
  single direction `name`. The constant directions `one` and `bos` are implicit.
- Each op is one block family of `tracr_ir.craft` and carries what its construction needs
  (tables, comparisons, tolerances), not weights: `block(max_seq_len)` derives the weights
  with the construction, whose docstring gives the margin argument. The label names the
  block and its hidden directions; `layer N` appears once layers are allocated.
- Selectors are conjunctions of terms `(%keys, %queries PRED)` where PRED is a comparison
  (`EQ`, `LT`, ...), its negation (`not EQ`), or a table `{(key, query) -> bool}` (a missing
  entry is false). The lowering builds product s-ops for the composite selectors that are
  not conjunctions (see `tracr_ir.craft.attention`).

A categorical_mlp table may have a `none` key: the zero vector (None) then maps to that value
(an Aggregate's non-None default); every other op maps None to None.

`tracr_ir.interpreters.craft` runs a program (`tracr_ir.compiler.interpret`) with the numpy
reference forward of the blocks, so its exactness is the model's. Types and attributes are in
`tracr_ir.dialects.craft_base` (with the op base classes); the generic form also uses the `rasp` dialect's value,
value-set and table attributes, so a context parsing craft IR loads both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import UnitAttr
from xdsl.ir import Attribute, Block, Dialect, Region, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsTerminator
from xdsl.utils.exceptions import VerifyException

from tracr_ir.craft import attention as craft_attention
from tracr_ir.craft import blocks as craft_blocks
from tracr_ir.craft import mlp as craft_mlp
from tracr_ir.craft.bases import Direction, Space
from tracr_ir.craft.selector_width import selector_width as build_selector_width
from tracr_ir.dialects.program import (ProgramOutputOp, Settings, SSAProgramOp, checked_parent,
                                       is_range)
from tracr_ir.dialects import craft_exactness as exactness
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualAttr, ResidualLayout,
                                            check_layout, verify_layers)
from tracr_ir.dialects.craft_base import (
    CraftOp,
    DirectionsAttr,
    PredicateAttr,
    PredicatesAttr,
    SpaceType,
    Term,
    _flatten_terms,
    _number,
    _props,
    _SelectorOp,
    _LookupOp,
    _TableOp,
    block_kind,
    format_direction,
    parse_direction,
)
from tracr_ir.dialects.craft_base import space_of as _space
from tracr_ir.dialects.rasp import (
    TableAttr,
    ValueAttr,
)
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.values import (
    format_value,
    parse_value,
)

__all__ = [
    "CRAFT", "CRAFT_OPS", "CraftOp", "ProgramOp", "OutputOp", "CategoricalMLPOp",
    "NumericalMLPOp", "SequenceMapMLPOp", "LinearMLPOp", "ConstantMLPOp",
    "CategoricalAttentionOp", "NumericalAttentionOp", "SelectorWidthOp", "SpaceType",
    "DirectionsAttr", "ResidualAttr", "PredicateAttr", "PredicatesAttr", "format_direction",
    "parse_direction", "block_kind",
]

### Ops.

@irdl_op_definition
class CategoricalMLPOp(exactness.TableBounds, _LookupOp):
    """`%y = craft.categorical_mlp "map_1" %x {1 -> "a", 2 -> none} [direct] : !craft.space<[...]>`:
    a lookup from a categorical s-op to a categorical or numerical one, snapped
    (`craft.mlp.map_categorical_mlp`) or `direct` (`craft.mlp.direct_lookup_mlp`)."""

    name = "craft.categorical_mlp"
    KIND: ClassVar[str] = "mlp"
    input = operand_def(SpaceType)

    def __init__(self, label: str, input: SSAValue, table: dict, out: Sequence[Direction] | Space,
                 layer: int | None = None, direct: bool = False):
        self._init(label, [input], out, layer, table=TableAttr.from_dict(table),
                   **({"direct": UnitAttr()} if direct else {}))

    def verify_(self) -> None:
        self._check_margin(allowed=False)
        if _space(self.input).is_numerical:
            raise VerifyException(f"{self.name} '{self.label_text}' reads a categorical s-op")
        table = self.table.as_dict()
        for v in _space(self.input).values:
            if v not in table:
                raise VerifyException(f"{self.name} '{self.label_text}': no table entry for "
                                      f"{format_value(v)}")
        self._check_outputs()

    def build_block(self, max_seq_len: int) -> craft_blocks.MLPBlock:
        return craft_mlp.map_categorical_mlp(
            _space(self.input).space, self.out_space, self.table.as_dict(), self.label_text,
            numerical_output=_space(self.output).is_numerical, direct=self.is_direct)


@irdl_op_definition
class NumericalMLPOp(exactness.DiscretiseBounds, _TableOp):
    """`%y = craft.numerical_mlp "map_1" %x {0.0 -> 1, 0.5 -> -2} input_error 1.0e-05 : ...`:
    a discretising map of a numerical s-op, for inputs within `input_error` of a table key
    (`craft.mlp.map_numerical_mlp` / `map_numerical_to_categorical_mlp`)."""

    name = "craft.numerical_mlp"
    KIND: ClassVar[str] = "mlp"
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("table", "input_error")
    input = operand_def(SpaceType)
    input_error = prop_def(ValueAttr)

    def __init__(self, label: str, input: SSAValue, table: dict, input_error: float,
                 out: Sequence[Direction] | Space, layer: int | None = None):
        self._init(label, [input], out, layer, table=TableAttr.from_dict(table),
                   input_error=ValueAttr(float(input_error)))

    def print_payload(self, printer: Printer) -> None:
        super().print_payload(printer)
        printer.print_string(f" input_error {format_value(self.input_error.data)}")

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        props = super().parse_payload(parser)
        parser.parse_keyword("input_error")
        return props | {"input_error": ValueAttr(parse_value(parser))}

    def verify_(self) -> None:
        if not _space(self.input).is_numerical:
            raise VerifyException(f"{self.name} '{self.label_text}' reads a numerical s-op")
        for arg, _ in self.table.data:
            _number(ValueAttr(arg), "a table key", f"{self.name} '{self.label_text}'")
        _number(self.input_error, "input_error", f"{self.name} '{self.label_text}'",
                "non-negative")
        self._check_outputs()

    def build_block(self, max_seq_len: int) -> craft_blocks.MLPBlock:
        in_dir = _space(self.input).space[0]
        table = self.table.as_dict()
        error = float(self.input_error.data)
        if _space(self.output).is_numerical:
            return craft_mlp.map_numerical_mlp(in_dir, self.out_space[0], table,
                                               input_error=error, label=self.label_text)
        return craft_mlp.map_numerical_to_categorical_mlp(in_dir, self.out_space, table,
                                                          input_error=error,
                                                          label=self.label_text)


@irdl_op_definition
class SequenceMapMLPOp(exactness.TableBounds, _LookupOp):
    """`%z = craft.sequence_map_mlp "f_1" %x, %y {(1, "a") -> 2} [direct [margin m]] : ...`:
    a categorical x categorical map, one step per value pair (`craft.mlp.sequence_map_mlp`),
    or one neuron per pair if `direct` (`craft.mlp.direct_sequence_map_mlp`)."""

    name = "craft.sequence_map_mlp"
    KIND: ClassVar[str] = "mlp"
    fst = operand_def(SpaceType)
    snd = operand_def(SpaceType)

    def __init__(self, label: str, fst: SSAValue, snd: SSAValue, table: dict,
                 out: Sequence[Direction] | Space, layer: int | None = None,
                 direct: bool = False, margin: float = 0.0):
        self._init(label, [fst, snd], out, layer, table=TableAttr.from_dict(table),
                   **({"direct": UnitAttr()} if direct else {}),
                   **({"margin": ValueAttr(float(margin))} if margin else {}))

    def verify_(self) -> None:
        self._check_margin(allowed=True)
        if _space(self.fst).is_numerical or _space(self.snd).is_numerical:
            raise VerifyException(f"{self.name} '{self.label_text}' reads categorical s-ops")
        if set(_space(self.fst).space) & set(_space(self.snd).space):
            raise VerifyException(f"{self.name} '{self.label_text}': the operands must be "
                                  "different s-ops (a map of one s-op is a categorical_mlp)")
        self._check_outputs()

    def build_block(self, max_seq_len: int) -> craft_blocks.MLPBlock:
        return craft_mlp.sequence_map_mlp(
            _space(self.fst).space, _space(self.snd).space, self.out_space,
            self.table.as_dict(), self.label_text,
            numerical_output=_space(self.output).is_numerical, direct=self.is_direct,
            margin=self.margin_value)


@irdl_op_definition
class LinearMLPOp(exactness.LinearBounds, CraftOp):
    """`%z = craft.linear_mlp "lsm_1" %x, %y factors (2, -0.5) constant 0 : !craft.space<[z]>`:
    an exact affine map of numerical s-ops (`craft.mlp.linear_mlp`)."""

    name = "craft.linear_mlp"
    KIND: ClassVar[str] = "mlp"
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("factors", "constant")
    inputs = var_operand_def(SpaceType)
    factors = prop_def(ValueAttr)
    constant = prop_def(ValueAttr)

    def __init__(self, label: str, inputs: Sequence[SSAValue], factors: Sequence[float],
                 constant: float, out: Sequence[Direction] | Space, layer: int | None = None):
        self._init(label, inputs, out, layer, factors=ValueAttr(tuple(factors)),
                   constant=ValueAttr(constant))

    @classmethod
    def _variadic(cls) -> bool:
        return True

    def print_payload(self, printer: Printer) -> None:
        factors = ", ".join(format_value(f) for f in self.factors.data)
        printer.print_string(f" factors ({factors}) constant {format_value(self.constant.data)}")

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        parser.parse_keyword("factors")
        factors = parser.parse_comma_separated_list(parser.Delimiter.PAREN,
                                                    lambda: parse_value(parser))
        parser.parse_keyword("constant")
        return {"factors": ValueAttr(tuple(factors)),
                "constant": ValueAttr(parse_value(parser))}

    def verify_(self) -> None:
        where = f"{self.name} '{self.label_text}'"
        factors = self.factors.data
        if not isinstance(factors, tuple) or len(factors) != len(self.inputs):
            raise VerifyException(f"{where}: one factor per input")
        for f in factors:
            _number(ValueAttr(f), "a factor", where)
        _number(self.constant, "the constant", where)
        if not all(_space(x).is_numerical for x in self.inputs):
            raise VerifyException(f"{where} reads numerical s-ops")
        if not _space(self.output).is_numerical:
            raise VerifyException(f"{where} writes a numerical s-op")

    def build_block(self, max_seq_len: int) -> craft_blocks.MLPBlock:
        coefficients: dict[Direction, float] = {}
        for x, f in zip(self.inputs, self.factors.data):
            d = _space(x).space[0]
            coefficients[d] = coefficients.get(d, 0.0) + float(f)
        return craft_mlp.linear_mlp(coefficients, self.out_space[0],
                                    float(self.constant.data), self.label_text)


@irdl_op_definition
class ConstantMLPOp(exactness.ConstantBounds, CraftOp):
    """`%c = craft.constant_mlp "full_1" fill "z" : !craft.space<[full_1:"z"]>`: Full."""

    name = "craft.constant_mlp"
    KIND: ClassVar[str] = "mlp"
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("fill",)
    fill = prop_def(ValueAttr)

    def __init__(self, label: str, fill: Any, out: Sequence[Direction] | Space,
                 layer: int | None = None):
        self._init(label, [], out, layer, fill=ValueAttr(fill))

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(f" fill {format_value(self.fill.data)}")

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        parser.parse_keyword("fill")
        return {"fill": ValueAttr(parse_value(parser))}

    def verify_(self) -> None:
        out = _space(self.output)
        fill = self.fill.data
        if out.is_numerical:
            _number(self.fill, "a numerical fill", f"{self.name} '{self.label_text}'")
        elif fill is not None and fill not in set(out.values):
            raise VerifyException(f"{self.name} '{self.label_text}': the fill has no "
                                  "direction in the result")

    def build_block(self, max_seq_len: int) -> craft_blocks.MLPBlock:
        return craft_mlp.constant_mlp(self.out_space, self.fill.data, self.label_text,
                                      numerical_output=_space(self.output).is_numerical)


class _NoisyTermsOp(_SelectorOp):
    """An op whose selector terms' keys and queries may carry the l1 error `term_error E`
    (printed after the rest of its payload when set), which its construction accounts for
    (`numerics.score_noise`); without it they must be exact."""

    term_error = opt_prop_def(ValueAttr)

    @property
    def term_error_value(self) -> float:
        """The l1 error the terms may carry (0: exact keys and queries)."""
        return 0.0 if self.term_error is None else float(self.term_error.data)

    def print_term_error(self, printer: Printer) -> None:
        if self.term_error is not None:
            printer.print_string(f" term_error {format_value(self.term_error.data)}")

    @staticmethod
    def parse_term_error(parser: Parser) -> dict[str, Attribute]:
        if parser.parse_optional_keyword("term_error") is None:
            return {}
        return {"term_error": ValueAttr(parse_value(parser))}

    def verify_(self) -> None:
        super().verify_()
        if self.term_error is not None:
            _number(self.term_error, "the term error", f"{self.name} '{self.label_text}'",
                    "non-negative")


class _HeadOp(_NoisyTermsOp):
    """A head (`categorical_attention`, `numerical_attention`): a value operand, selector
    terms, the `tolerance` of its output and an optional `term_error` (the scale accounts
    for the terms' score noise, `craft.attention`)."""

    value = operand_def(SpaceType)
    term_args = var_operand_def(SpaceType)
    tolerance = prop_def(ValueAttr)
    N_LEADING: ClassVar[int] = 1


def _term_error_prop(term_error: float) -> dict[str, Attribute]:
    return {"term_error": ValueAttr(float(term_error))} if term_error else {}


@irdl_op_definition
class CategoricalAttentionOp(exactness.CategoricalAttentionBounds, _HeadOp):
    """`%y = craft.categorical_attention "agg_1" %v select [(%indices, %opp EQ)]
    tolerance 0.25 [term_error 0.01] : ...`: the selected value, None when nothing is
    selected; the output is within l1 `tolerance` of its one-hot
    (`craft.attention.categorical_attention`)."""

    name = "craft.categorical_attention"
    KIND: ClassVar[str] = "attention"
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("predicates", "tolerance", "term_error")

    def __init__(self, label: str, value: SSAValue, terms: Sequence[Term], tolerance: float,
                 out: Sequence[Direction] | Space, layer: int | None = None,
                 term_error: float = 0.0):
        args, predicates = _flatten_terms(terms)
        super().__init__(operands=[value, args], result_types=[SpaceType(out)],
                         properties=_props(label, layer, predicates=predicates,
                                           tolerance=ValueAttr(float(tolerance)),
                                           **_term_error_prop(term_error)))

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(f" tolerance {format_value(self.tolerance.data)}")
        self.print_term_error(printer)

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        parser.parse_keyword("tolerance")
        return {"tolerance": ValueAttr(parse_value(parser)), **cls.parse_term_error(parser)}

    def verify_(self) -> None:
        super().verify_()
        where = f"{self.name} '{self.label_text}'"
        _number(self.tolerance, "the tolerance", where, "positive")
        value, out = _space(self.operands[0]), _space(self.output)
        if value.is_numerical or out.is_numerical:
            raise VerifyException(f"{where}: categorical value and result expected")
        if not set(value.values) <= set(out.values):
            raise VerifyException(f"{where}: every value needs a direction in the result")

    def build_block(self, max_seq_len: int) -> craft_blocks.AttentionHead:
        return craft_attention.categorical_attention(
            self.terms(), _space(self.operands[0]).space, self.out_space, max_seq_len,
            float(self.tolerance.data), self.term_error_value, self.term_error_value,
            label=self.label_text)


@irdl_op_definition
class NumericalAttentionOp(exactness.NumericalAttentionBounds, _HeadOp):
    """`%y = craft.numerical_attention "frac_1" %v select [(%indices, %indices LEQ)]
    tolerance 3.1e-05 magnitude 1 [term_error 1e-05] : !craft.space<[frac_1]>`: the mean of
    the selected values (|values| <= magnitude), 0 when nothing is selected
    (`craft.attention.numerical_attention`)."""

    name = "craft.numerical_attention"
    KIND: ClassVar[str] = "attention"
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("predicates", "tolerance", "magnitude",
                                                "term_error")
    magnitude = prop_def(ValueAttr)

    def __init__(self, label: str, value: SSAValue, terms: Sequence[Term], tolerance: float,
                 magnitude: float, out: Sequence[Direction] | Space, layer: int | None = None,
                 term_error: float = 0.0):
        args, predicates = _flatten_terms(terms)
        super().__init__(operands=[value, args], result_types=[SpaceType(out)],
                         properties=_props(label, layer, predicates=predicates,
                                           tolerance=ValueAttr(float(tolerance)),
                                           magnitude=ValueAttr(magnitude),
                                           **_term_error_prop(term_error)))

    def print_payload(self, printer: Printer) -> None:
        printer.print_string(f" tolerance {format_value(self.tolerance.data)} "
                             f"magnitude {format_value(self.magnitude.data)}")
        self.print_term_error(printer)

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        parser.parse_keyword("tolerance")
        tolerance = ValueAttr(parse_value(parser))
        parser.parse_keyword("magnitude")
        return {"tolerance": tolerance, "magnitude": ValueAttr(parse_value(parser)),
                **cls.parse_term_error(parser)}

    def verify_(self) -> None:
        super().verify_()
        where = f"{self.name} '{self.label_text}'"
        _number(self.tolerance, "the tolerance", where, "positive")
        _number(self.magnitude, "the magnitude", where, "non-negative")
        if not (_space(self.operands[0]).is_numerical and _space(self.output).is_numerical):
            raise VerifyException(f"{where}: numerical value and result expected")

    def build_block(self, max_seq_len: int) -> craft_blocks.AttentionHead:
        m = float(self.magnitude.data)
        return craft_attention.numerical_attention(
            self.terms(), _space(self.operands[0]).space[0], self.out_space[0], [m],
            max_seq_len, float(self.tolerance.data), self.term_error_value,
            self.term_error_value, label=self.label_text)


@irdl_op_definition
class SelectorWidthOp(exactness.SelectorWidthBounds, _NoisyTermsOp):
    """`%w = craft.selector_width "hist_1" select [(%tokens, %tokens EQ)] [direct]
    [term_error E] : ...`: the number of selected keys, categorical or numerical
    (`craft.selector_width.selector_width`); `direct` (numerical only): the share decoded by
    interpolation, not snapped, for exact queries and keys; `term_error`: the snapped
    decoder reads keys and queries within l1 E (its ramps absorb the share's noise)."""

    name = "craft.selector_width"
    KIND: ClassVar[str] = "selector_width"
    term_args = var_operand_def(SpaceType)
    direct = opt_prop_def(UnitAttr)
    PAYLOAD_PROPS: ClassVar[tuple[str, ...]] = ("predicates", "direct", "term_error")

    def __init__(self, label: str, terms: Sequence[Term], out: Sequence[Direction] | Space,
                 layer: int | None = None, direct: bool = False, term_error: float = 0.0):
        args, predicates = _flatten_terms(terms)
        extra = {"direct": UnitAttr()} if direct else {}
        super().__init__(operands=[args], result_types=[SpaceType(out)],
                         properties=_props(label, layer, predicates=predicates, **extra,
                                           **_term_error_prop(term_error)))

    @property
    def is_direct(self) -> bool:
        return self.direct is not None

    def print_payload(self, printer: Printer) -> None:
        if self.is_direct:
            printer.print_string(" direct")
        self.print_term_error(printer)

    @classmethod
    def parse_payload(cls, parser: Parser) -> dict[str, Attribute]:
        direct = {"direct": UnitAttr()} if parser.parse_optional_keyword("direct") else {}
        return {**direct, **cls.parse_term_error(parser)}

    def verify_(self) -> None:
        super().verify_()
        out = _space(self.output)
        where = f"{self.name} '{self.label_text}'"
        if self.is_direct and not out.is_numerical:
            raise VerifyException(f"{where}: a direct width is numerical")
        if self.is_direct and self.term_error_value:
            raise VerifyException(f"{where}: a direct width reads exact keys and queries "
                                  "(no term_error)")
        if not out.is_numerical and not all(type(w) is int and w >= 0 for w in out.values):
            raise VerifyException(f"{where}: widths are integers >= 0")
        program = checked_parent(self, ProgramOp)
        if program is not None and not out.is_numerical and max(out.values, default=0) > \
                program.length:
            raise VerifyException(f"{where}: a width is at most max_seq_len {program.length}")

    def build_block(self, max_seq_len: int) -> craft_blocks.SelectorWidthBlock:
        out = _space(self.output)
        return build_selector_width(self.terms(), out.space, max_seq_len,
                                    numerical_output=out.is_numerical, label=self.label_text,
                                    direct=self.is_direct,
                                    query_l1_error=self.term_error_value,
                                    key_l1_error=self.term_error_value)


@irdl_op_definition
class ProgramOp(SSAProgramOp):
    """A craft program: `tokens` and `indices` are the block arguments, `craft.output` the
    result. Properties as `rasp.program`."""

    name = "craft.program"

    def __init__(self, vocab: Sequence[Any], max_seq_len: int, bos: str = "BOS",
                 pad: str = "PAD", causal: bool = False, body: Region | None = None):
        if body is None:
            tokens = SpaceType(Space.categorical("tokens", vocab))
            indices = SpaceType(Space.categorical("indices", range(max_seq_len)))
            block = Block(arg_types=(tokens, indices))
            block.args[0].name_hint, block.args[1].name_hint = "tokens", "indices"
            body = Region(block)
        super().__init__(properties=Settings(vocab, max_seq_len, bos, pad, causal).properties(),
                         regions=[body])

    def verify_(self) -> None:
        super().verify_()
        if not all(isinstance(a.type, SpaceType) for a in self.block.args):
            raise VerifyException("craft.program's block arguments tokens and indices are "
                                  "spaces")
        tokens, indices = (_space(a) for a in self.block.args)
        if (tokens.is_numerical or len(tokens.values) != len(self.vocab_values)
                or set(tokens.values) != set(self.vocab_values)):
            raise VerifyException("craft.program: the tokens' space must have one direction "
                                  "per vocab value")
        if indices.is_numerical or not is_range(indices.values, self.length):
            raise VerifyException(f"craft.program: the indices' space must have one direction "
                                  f"per position 0 to {self.length - 1}")
        self._verify_own_spaces()
        ops = [op for op in self.block.ops if isinstance(op, CraftOp)]
        verify_layers(ops)
        if (layout := self.attributes.get(RESIDUAL_ATTR)) is not None:
            if not isinstance(layout, (ResidualAttr, DirectionsAttr)):
                raise VerifyException("craft.program: `residual` is a #craft.residual layout")
            try:
                check_layout(self, ops, ResidualLayout.of(layout))
            except UnsupportedProgramError as error:
                raise VerifyException(f"craft.program: {error}") from error

    def _verify_own_spaces(self) -> None:
        """Each s-op has its own subspace: two values whose spaces share a name would write
        the same residual directions."""
        owner: dict[str, SSAValue] = {}
        values = [*self.block.args, *(op.output for op in self.block.ops
                                      if isinstance(op, CraftOp))]
        for value in values:
            for name in _space(value).space.names:
                if (other := owner.setdefault(name, value)) is not value:
                    raise VerifyException(
                        f"craft.program: %{other.name_hint or '?'} and %{value.name_hint or '?'}"
                        f" both live in the space '{name}'")


@irdl_op_definition
class OutputOp(ProgramOutputOp):
    """`craft.output %y : !craft.space<[...]>`: the program's result."""

    name = "craft.output"
    value = operand_def(SpaceType)
    traits = traits_def(IsTerminator(), HasParent(ProgramOp))


ProgramOp.OUTPUT = OutputOp

CRAFT_OPS = [
    ProgramOp,
    OutputOp,
    CategoricalMLPOp,
    NumericalMLPOp,
    SequenceMapMLPOp,
    LinearMLPOp,
    ConstantMLPOp,
    CategoricalAttentionOp,
    NumericalAttentionOp,
    SelectorWidthOp,
]

CRAFT = Dialect(
    "craft",
    CRAFT_OPS,
    [SpaceType, DirectionsAttr, PredicateAttr, PredicatesAttr, ResidualAttr],
)
