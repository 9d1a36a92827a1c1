"""The `transformer` dialect: the weights of a transformer, the last IR before code.

A model whose output `frac` is the fraction of 1s among the tokens:
```
transformer.model vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false  // width 5, 1 layer, heads [1], mlp hidden [0]
    residual [one, bos, tokens:1, tokens:2, frac] {
  transformer.embed
      token = sparse tensor<4x5xf32> {
        1 -> {one = 1.0, tokens:1 = 1.0}
        2 -> {one = 1.0, tokens:2 = 1.0}
        "BOS" -> {one = 1.0, bos = 1.0}
      }
      position = sparse tensor<3x5xf32> {}
  transformer.attention layer 0 {
    head "frac"
        w_q = sparse tensor<5x1xf32> {
          one -> {0 = 1.0}
        }
        w_k = sparse tensor<5x1xf32> {
          bos -> {0 = -20.0}
        }
        w_v = sparse tensor<5x1xf32> {
          tokens:1 -> {0 = 1.0}
        }
        w_o = sparse tensor<1x5xf32> {
          0 -> {frac = 1.0}
        }
  }
  transformer.mlp layer 0
      w_1 = sparse tensor<5x0xf32> {}
      b_1 = sparse tensor<0xf32> {}
      w_2 = sparse tensor<0x5xf32> {}
      b_2 = sparse tensor<5xf32> {}
  transformer.unembed numerical [frac]
}
```

Semantics (`tracr_ir.interpreters.transformer` runs it, `tracr_ir.backends.jax` compiles it):
- The residual has one coordinate per label, `name` or `name:value` (values as in
  `tracr_ir.values`: `x:none` has the value None, `x` has no value; odd names are quoted).
- Token ids are the vocab in its canonical order, then BOS, then PAD: `token` has a row per id,
  `position` a row per position 0..max_seq_len (BOS is at 0). The residual starts as
  `token[id] + position[i]`.
- Layer i is `transformer.attention layer i` then `transformer.mlp layer i`, each adding its
  result to the residual; every layer has both (no heads, or an MLP of width 0, when empty).
- A head adds softmax((x W_Q)(x W_K)^T) (x W_V) W_O, the softmax over the non-padded keys (at
  or before the query if `causal`), unscaled (a 1/sqrt(d) belongs in W_Q). Heads may differ
  in width. The MLP adds relu(x W_1 + b_1) W_2 + b_2.
- `transformer.unembed categorical [x:1, x:2]` decodes a position to the value of its largest
  listed coordinate, or None when that is below 1/2; `numerical [x]` reads the coordinate.

Weights are finite f32 tensors, stored sparse (`#transformer.sparse`, held by
`#transformer.weights`). In the custom format each prints its non-zero entries under row and
column names (residual labels, tokens, indices), as the shortest decimals that parse back to
the same float32, so text round trips are bit-exact (`tracr_ir.dialects.transformer_weights`);
builtin `dense<...>` tensors, hex included, parse too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, IntegerType, ModuleOp, StringAttr, i64
from xdsl.ir import Attribute, Block, Data, Dialect, Operation, ParametrizedAttribute, Region
from xdsl.irdl import (IRDLOperation, irdl_attr_definition, irdl_op_definition, opt_prop_def,
                       prop_def, traits_def)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsTerminator
from xdsl.utils.exceptions import VerifyException

from tracr_ir.dialects.program import Settings, StageProgramOp, checked_parent, parse_index
from tracr_ir.dialects.rasp import CATEGORICAL, NUMERICAL
from tracr_ir.dialects.transformer_norm import LayerNormAttr
from tracr_ir.dialects.transformer_weights import (SparseAttr, WeightsAttr, dense, format_dense,
                                                  format_f32, is_f32_tensor, parse_label,
                                                  parsing_axes, shape_of, to_numpy,
                                                  weight_axes)
from tracr_ir.model import (ABSENT, MLP, Head, Label, LabelLike, Layer, LayerNorm, ModelWeights,
                            Output)
from tracr_ir.values import Value, format_value, parse_optional_string, parse_string

__all__ = ["ABSENT", "MLP", "TRANSFORMER", "AttentionOp", "EmbedOp", "Head", "Label", "Layer",
           "MLPOp", "ModelOp", "ModelWeights", "Output", "SparseAttr", "UnembedOp",
           "WeightsAttr", "build_model", "dense", "format_dense", "format_f32",
           "is_f32_tensor", "to_numpy"]

### Residual labels.


def parse_labels(parser: AttrParser) -> tuple[Label, ...]:
    """`[one, tokens:1, "my-name":(1, 2)]`."""
    return tuple(parser.parse_comma_separated_list(parser.Delimiter.SQUARE,
                                                   lambda: parse_label(parser)))


def format_labels(labels: Iterable[Label]) -> str:
    return "[" + ", ".join(str(label) for label in labels) + "]"


@irdl_attr_definition
class LabelsAttr(Data[tuple]):
    """Ordered residual labels: `#transformer.labels<[one, tokens:1, frac_prevs]>`."""

    name = "transformer.labels"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple:
        with parser.in_angle_brackets():
            return parse_labels(parser)

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{format_labels(self.data)}>")


def build_model(vocab: Iterable[Value], max_seq_len: int, residual: Sequence[LabelLike],
                token_embed: Any, pos_embed: Any, layers: Sequence[Layer | tuple],
                output: Output | tuple, *, bos: str = "BOS", pad: str = "PAD",
                causal: bool = False, verify: bool = True,
                layer_norm: LayerNorm | None = None) -> ModuleOp:
    """A module holding one `transformer.model` (see `ModelWeights` for the arguments)."""
    weights = ModelWeights(tuple(vocab), max_seq_len, residual, token_embed, pos_embed, layers,
                           output, bos, pad, causal, layer_norm)
    module = ModuleOp([ModelOp.from_weights(weights)])
    if verify:
        module.verify()
    return module


### Shared syntax and checks.


def _parse_layer(parser: Parser) -> IntegerAttr:
    parser.parse_keyword("layer")
    return IntegerAttr(parse_index(parser, "a layer"), i64)


def _attributes(parser: Parser) -> dict[str, Attribute]:
    attrs = parser.parse_optional_attr_dict_with_keyword()
    return dict(attrs.data) if attrs is not None else {}


def _width(attr: Attribute | None) -> int:
    """The last dimension of a tensor (0 for anything else)."""
    shape = shape_of(attr) if attr is not None else ()
    return shape[-1] if shape else 0


def _axes(op: Operation) -> dict | None:
    """How the weights of `op` name their rows and columns: by the parent model's residual
    labels and tokens (None outside a model: integer coordinates)."""
    model = op.parent_op()
    if not isinstance(model, ModelOp):
        return None
    tokens = [*model.vocab_values, model.bos.data, model.pad.data]
    return weight_axes(model.labels, tokens)


### Attributes and ops.


@irdl_attr_definition
class HeadAttr(ParametrizedAttribute):
    """One attention head: its label and weights w_q, w_k, w_v, w_o."""

    name = "transformer.head"
    label: StringAttr
    weights: WeightsAttr

    @staticmethod
    def from_head(head: Head) -> HeadAttr:
        return HeadAttr(StringAttr(head.label), WeightsAttr.from_arrays(head, Head.WEIGHTS))

    def to_head(self) -> Head:
        return Head(*self.weights.arrays(), label=self.label.data)


@irdl_op_definition
class ModelOp(StageProgramOp):
    """A transformer: embed, the attention then the MLP of each layer in order, unembed.

    Properties: `vocab`, `max_seq_len`, `bos`, `pad`, `causal`, the `residual` labels and an
    optional `layer_norm` (`tracr_ir.dialects.transformer_norm`).
    """

    name = "transformer.model"
    residual = prop_def(LabelsAttr)
    layer_norm = opt_prop_def(LayerNormAttr)

    def __init__(self, vocab: Sequence[Value], max_seq_len: int, bos: str, pad: str,
                 causal: bool, residual: Sequence[Label], body: Region,
                 attributes: dict[str, Attribute] | None = None,
                 layer_norm: LayerNorm | None = None):
        properties = {**Settings(vocab, max_seq_len, bos, pad, causal).properties(),
                      "residual": LabelsAttr(tuple(residual))}
        if layer_norm is not None:
            properties["layer_norm"] = LayerNormAttr.from_norm(layer_norm)
        super().__init__(properties=properties, attributes=attributes or {}, regions=[body])

    @staticmethod
    def from_weights(w: ModelWeights) -> ModelOp:
        embed = WeightsAttr.get({"token": SparseAttr.from_array(w.token_embed),
                                 "position": SparseAttr.from_array(w.pos_embed)})
        ops: list[Operation] = [EmbedOp.create(properties={"weights": embed})]
        for i, (layer, mlp) in enumerate(zip(w.layers, w.mlps())):
            ops += [AttentionOp(i, layer.heads), MLPOp(i, mlp)]
        ops.append(UnembedOp(w.output))
        return ModelOp(w.vocab, w.max_seq_len, w.bos, w.pad, w.causal, w.residual,
                       Region(Block(ops)), layer_norm=w.layer_norm)

    @property
    def norm(self) -> LayerNorm | None:
        """The LayerNorm before every sublayer, None if the model has none."""
        return None if self.layer_norm is None else self.layer_norm.norm()

    def weights(self) -> ModelWeights:
        """The weights as read-only float32 numpy arrays."""
        return ModelWeights(
            self.vocab_values, self.length, self.labels,
            *self.embed.weights.arrays(),
            [Layer([h.to_head() for h in attn.heads], mlp.to_mlp()) for attn, mlp in self.layers],
            self.unembed.output, self.bos.data, self.pad.data, self.is_causal, self.norm,
        )

    @property
    def labels(self) -> tuple[Label, ...]:
        return self.residual.data

    @property
    def width(self) -> int:
        return len(self.residual.data)

    @property
    def embed(self) -> EmbedOp:
        assert isinstance(op := self.body.block.first_op, EmbedOp)
        return op

    @property
    def layers(self) -> list[tuple[AttentionOp, MLPOp]]:
        ops = list(self.body.block.ops)[1:-1]
        return list(zip(ops[0::2], ops[1::2]))  # type: ignore[arg-type]

    @property
    def unembed(self) -> UnembedOp:
        assert isinstance(op := self.body.block.last_op, UnembedOp)
        return op

    def summary(self) -> str:
        """`width 13, 2 layers, heads [1, 0], mlp hidden [0, 8]`."""
        ops = list(self.body.block.ops)
        heads = [len(op.heads) for op in ops if isinstance(op, AttentionOp)]
        hidden = [_width(op.weights.tensor("w_1")) for op in ops if isinstance(op, MLPOp)]
        n = max(len(heads), len(hidden))
        return (f"width {self.width}, {n} layer{'s' * (n != 1)}, heads {heads}, "
                f"mlp hidden {hidden}")

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.settings.text()}  // {self.summary()}")
        with printer.indented(2):
            printer.print_string(f"\nresidual {format_labels(self.labels)}")
            if self.layer_norm is not None:
                printer.print_string(f"\nlayer_norm {self.layer_norm.text()}")
        printer.print_op_attributes(self.attributes, print_keyword=True)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False)

    @classmethod
    def parse(cls, parser: Parser) -> ModelOp:
        def after(keyword: str, parse: Any) -> Any:
            parser.parse_keyword(keyword)
            return parse()

        settings = Settings.parse(parser)
        residual = after("residual", lambda: parse_labels(parser))
        norm = (LayerNormAttr.parse_text(parser).norm()
                if parser.parse_optional_keyword("layer_norm") else None)
        attributes = _attributes(parser)
        tokens = [*settings.vocab, settings.bos, settings.pad]
        with parsing_axes(weight_axes(residual, tokens)):
            body = parser.parse_region()
        return ModelOp(*dataclasses.astuple(settings), residual, body, attributes, norm)

    def verify_(self) -> None:
        self.verify_settings()
        labels = self.labels
        if len(set(labels)) != len(labels):
            twice = next(x for x in labels if labels.count(x) > 1)
            raise VerifyException(f"{self.name}: residual label '{twice}' is listed twice")
        if self.layer_norm is not None:
            self.layer_norm.verify_residual(self.name, labels)
        ops = list(self.body.block.ops)
        if not ops or not isinstance(ops[0], EmbedOp):
            raise VerifyException(f"{self.name} must begin with transformer.embed")
        if len(ops) < 2 or not isinstance(ops[-1], UnembedOp):
            raise VerifyException(f"{self.name} must end with transformer.unembed")
        for i, op in enumerate(ops[1:-1]):
            layer, expected = i // 2, (AttentionOp, MLPOp)[i % 2]
            if not isinstance(op, expected) or op.layer_index != layer:
                got = f"{op.name} layer {op.layer_index}" if isinstance(op, _LayerOp) else op.name
                raise VerifyException(
                    f"{self.name}: expected {expected.name} layer {layer} (each layer is an "
                    f"attention then an MLP, in order), got {got}")
        if len(ops) % 2:
            raise VerifyException(
                f"{self.name}: layer {len(ops) // 2 - 1} has no transformer.mlp")


class _Sublayer(IRDLOperation):
    """An op inside `transformer.model`, checked against its residual width."""

    def model(self) -> ModelOp | None:
        """The parent model, its properties checked (see `checked_parent`)."""
        return checked_parent(self, ModelOp)


class _LayerOp(_Sublayer):
    layer = prop_def(IntegerAttr[IntegerType])

    @property
    def layer_index(self) -> int:
        return self.layer.value.data


@irdl_op_definition
class EmbedOp(_Sublayer):
    """`transformer.embed token = sparse ... position = sparse ...`: the input residual."""

    name = "transformer.embed"
    traits = traits_def(HasParent(ModelOp))
    weights = prop_def(WeightsAttr)
    WEIGHTS: ClassVar[tuple[str, ...]] = ("token", "position")

    def print(self, printer: Printer) -> None:
        printer.print_op_attributes(self.attributes, print_keyword=True)
        self.weights.print_lines(printer, _axes(self))

    @classmethod
    def parse(cls, parser: Parser) -> EmbedOp:
        attributes = _attributes(parser)
        weights = WeightsAttr.parse_lines(parser, cls.WEIGHTS)
        return cls.create(properties={"weights": weights}, attributes=attributes)

    def verify_(self) -> None:
        if (model := self.model()) is not None:
            d = model.width
            self.weights.verify_shapes(self.name, {"token": (len(model.vocab_values) + 2, d),
                                                   "position": (model.length + 1, d)})


@irdl_op_definition
class AttentionOp(_LayerOp):
    """`transformer.attention layer 0 { head "label" w_q = ... w_k = ... w_v = ... w_o = ... }`
    (`{}` for a layer without heads)."""

    name = "transformer.attention"
    traits = traits_def(HasParent(ModelOp))
    heads = prop_def(ArrayAttr[HeadAttr])

    def __init__(self, layer: int, heads: Sequence[Head],
                 attributes: dict[str, Attribute] | None = None):
        super().__init__(properties={
            "layer": IntegerAttr(layer, i64),
            "heads": ArrayAttr(h if isinstance(h, HeadAttr) else HeadAttr.from_head(h)
                               for h in heads)}, attributes=attributes or {})

    def print(self, printer: Printer) -> None:
        printer.print_string(f" layer {self.layer_index}")
        printer.print_op_attributes(self.attributes, print_keyword=True)
        printer.print_string(" {")
        axes = _axes(self)
        with printer.indented():
            for head in self.heads:
                printer.print_string(f"\nhead {format_value(head.label.data)}")
                head.weights.print_lines(printer, axes)
        printer.print_string("\n}" if self.heads else "}")

    @classmethod
    def parse(cls, parser: Parser) -> AttentionOp:
        layer, attributes = _parse_layer(parser), _attributes(parser)
        parser.parse_punctuation("{")
        heads = []
        while parser.parse_optional_keyword("head") is not None:
            label = StringAttr(parse_string(parser, " (the head's label)"))
            heads.append(HeadAttr(label, WeightsAttr.parse_lines(parser, Head.WEIGHTS)))
        parser.parse_punctuation("}", " (or 'head')")
        return AttentionOp(layer.value.data, heads, attributes)

    def verify_(self) -> None:
        if (model := self.model()) is None:
            return
        d = model.width
        for i, head in enumerate(self.heads):
            where = f"{self.name} (layer {self.layer_index}) head {i} '{head.label.data}'"
            k, kv = (_width(head.weights.tensor(n)) for n in ("w_q", "w_v"))
            head.weights.verify_shapes(where, {"w_q": (d, k), "w_k": (d, k), "w_v": (d, kv),
                                               "w_o": (kv, d)})


@irdl_op_definition
class MLPOp(_LayerOp):
    """`transformer.mlp layer 0 "label" w_1 = ... b_1 = ... w_2 = ... b_2 = ...` (the label
    is optional)."""

    name = "transformer.mlp"
    traits = traits_def(HasParent(ModelOp))
    label = prop_def(StringAttr)
    weights = prop_def(WeightsAttr)

    def __init__(self, layer: int, mlp: MLP, weights: WeightsAttr | None = None):
        """From an `MLP`, or from its label and `weights` already built (sparse) if given."""
        super().__init__(properties={
            "layer": IntegerAttr(layer, i64), "label": StringAttr(mlp.label),
            "weights": weights or WeightsAttr.from_arrays(mlp, MLP.WEIGHTS)})

    def to_mlp(self) -> MLP:
        return MLP(*self.weights.arrays(), label=self.label.data)

    def print(self, printer: Printer) -> None:
        printer.print_string(f" layer {self.layer_index}")
        if self.label.data:
            printer.print_string(f" {format_value(self.label.data)}")
        printer.print_op_attributes(self.attributes, print_keyword=True)
        self.weights.print_lines(printer, _axes(self))

    @classmethod
    def parse(cls, parser: Parser) -> MLPOp:
        layer = _parse_layer(parser)
        label = StringAttr(parse_optional_string(parser) or "")
        attributes = _attributes(parser)
        weights = WeightsAttr.parse_lines(parser, MLP.WEIGHTS)
        return cls.create(properties={"layer": layer, "label": label, "weights": weights},
                          attributes=attributes)

    def verify_(self) -> None:
        if (model := self.model()) is None:
            return
        d, hidden = model.width, _width(self.weights.tensor("w_1"))
        self.weights.verify_shapes(f"{self.name} (layer {self.layer_index})", {
            "w_1": (d, hidden), "b_1": (hidden,), "w_2": (hidden, d), "b_2": (d,)})


@irdl_op_definition
class UnembedOp(_Sublayer):
    """`transformer.unembed categorical [x:1, x:2]` or `numerical [x]`: the output s-op."""

    name = "transformer.unembed"
    traits = traits_def(IsTerminator(), HasParent(ModelOp))
    encoding = prop_def(StringAttr)
    outputs = prop_def(LabelsAttr)

    def __init__(self, output: Output, attributes: dict[str, Attribute] | None = None):
        super().__init__(properties={"encoding": StringAttr(output.encoding),
                                     "outputs": LabelsAttr(tuple(output.labels))},
                         attributes=attributes or {})

    @property
    def output(self) -> Output:
        return Output(self.encoding.data, self.outputs.data)

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.encoding.data} {format_labels(self.outputs.data)}")
        printer.print_op_attributes(self.attributes, print_keyword=True)

    @classmethod
    def parse(cls, parser: Parser) -> UnembedOp:
        encoding = parser.parse_keyword_in((CATEGORICAL, NUMERICAL), " (an output encoding)")
        labels = parse_labels(parser)
        return UnembedOp(Output(encoding, labels), _attributes(parser))

    def verify_(self) -> None:
        encoding, labels = self.encoding.data, self.outputs.data
        if encoding not in (CATEGORICAL, NUMERICAL):
            raise VerifyException(f"{self.name}: unknown output encoding '{encoding}'")
        if encoding == NUMERICAL and len(labels) != 1:
            raise VerifyException(
                f"{self.name}: a numerical output reads exactly one label, got {len(labels)}")
        if encoding == CATEGORICAL and (bad := [x for x in labels if not x.has_value]):
            raise VerifyException(
                f"{self.name}: categorical output label '{bad[0]}' has no value to decode to")
        if len(set(labels)) != len(labels):
            raise VerifyException(f"{self.name}: an output label is listed twice")
        if (model := self.model()) is not None:
            if missing := [x for x in labels if x not in set(model.labels)]:
                raise VerifyException(
                    f"{self.name}: output label '{missing[0]}' is not in the residual")


TRANSFORMER = Dialect("transformer", [ModelOp, EmbedOp, AttentionOp, MLPOp, UnembedOp],
                      [LabelsAttr, WeightsAttr, HeadAttr, SparseAttr, LayerNormAttr])
