"""`transformer-layer-norm`: apply a `craft-layer-norm` plan to the weights.

```
transformer.model ... residual [one, ..., ln_zero, ln_mean, ln_ballast_pos, ln_ballast_neg]
    attributes {layer_norm_plan = {eps = 1.0e-05 : f64, ballast = 22434.7 : f64,
                                   scale = 8.192e+03 : f64, centres = {...}, ...}} {...}
```
becomes
```
transformer.model ... residual [one, ..., ln_zero, ln_mean, ln_ballast_pos, ln_ballast_neg]
    layer_norm eps 1.0e-05 output_scale 8192.0 {...}
```
with (docs/layer_norm.md; `tracr_ir.passes.craft_layer_norm` holds the proof):
- the position embedding writing +B / -B to `ln_ballast_pos` / `ln_ballast_neg` everywhere;
- every write (embedding rows, W_O, W_2, b_2) also writing minus its sum to `ln_mean`, so
  the residual's mean is exactly 0;
- every read matrix (W_Q, W_K, W_V, W_1) multiplied by the plan's `scale` (a power of two:
  exact in float32), then given the row `-sum_i W_i` at `ln_zero`, so that reads ignore any
  common shift (the float32 error of the LayerNorm's mean);
- each head one column wider: `-centre` on `one` in W_Q and 1 on `one` in W_K (times the
  scale), so that its selected keys score exactly 0;
- the model's `layer_norm` property: eps, and the scale again as the output scale.
Needs `craft-layer-norm` before `lower-craft-to-transformer`; it must run before any pass
that changes the weights (`transformer-compress` does not compose with it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tracr_ir.dialects import transformer
from tracr_ir.errors import PipelineError
from tracr_ir.model import LN_ZERO, MLP, Head, Label, Layer, LayerNorm, ModelWeights
from tracr_ir.passes.craft_layer_norm import PLAN_ATTR


def _zero_row(w: np.ndarray, zero: int) -> np.ndarray:
    """`w` with row `zero` set to minus the sum of the other rows: `(x - m 1) w = x w`."""
    w = np.array(w, dtype=np.float64)
    w[zero] = 0.0
    w[zero] = -w.sum(axis=0)
    return w


def _compensated(w: np.ndarray, mean: int) -> np.ndarray:
    """`w` (writes along its last axis) also writing minus their sum to `mean`."""
    w = np.array(w, dtype=np.float64)
    w[..., mean] = 0.0
    w[..., mean] = -w.sum(axis=-1)
    return w


def _plan(model: transformer.ModelOp) -> dict:
    attr = model.attributes.get(PLAN_ATTR)
    if not isinstance(attr, DictionaryAttr):
        raise PipelineError("transformer-layer-norm needs craft-layer-norm before "
                            "lower-craft-to-transformer (the model has no layer_norm_plan)")
    plan = attr.data
    return {
        "eps": plan["eps"].value.data,  # type: ignore[attr-defined]
        "ballast": plan["ballast"].value.data,  # type: ignore[attr-defined]
        "scale": plan["scale"].value.data,  # type: ignore[attr-defined]
        "centres": {k: v.value.data for k, v in plan["centres"].data.items()},  # type: ignore
    }


def _index(w: ModelWeights, label: Label) -> int:
    if label not in w.residual:
        raise PipelineError(f"transformer-layer-norm: the residual has no '{label}' direction "
                            "(run craft-layer-norm before craft-layout-residual's result is "
                            "lowered)")
    return list(w.residual).index(label)


def normalised(w: ModelWeights, plan: dict) -> ModelWeights:
    """The weights of `w` made exact under the LayerNorm of `plan` (module docstring)."""
    if w.layer_norm is not None:
        raise PipelineError("transformer-layer-norm: the model already has a LayerNorm")
    zero, one, mean = _index(w, LN_ZERO), _index(w, Label("one")), _index(w, Label("ln_mean"))
    pos, neg = _index(w, Label("ln_ballast_pos")), _index(w, Label("ln_ballast_neg"))
    r = plan["scale"]
    position = np.array(w.pos_embed, dtype=np.float64)
    position[:, pos] += plan["ballast"]
    position[:, neg] -= plan["ballast"]
    layers = []
    for i, layer in enumerate(w.layers):
        heads = []
        for head in layer.heads:
            if head.label not in plan["centres"]:
                raise PipelineError(f"transformer-layer-norm: no centre for head "
                                    f"'{head.label}' in the plan")
            column = np.zeros((w.d_model, 1))
            column[one] = 1.0
            w_q = np.hstack([head.w_q, -plan["centres"][head.label] * column]) * r
            w_k = np.hstack([head.w_k, column]) * r
            heads.append(Head(_zero_row(w_q, zero), _zero_row(w_k, zero),
                              _zero_row(np.asarray(head.w_v) * r, zero),
                              _compensated(head.w_o, mean), label=head.label))
        mlp = layer.mlp
        if mlp is not None:
            if np.any(mlp.b_1):
                raise PipelineError(f"transformer-layer-norm: MLP '{mlp.label}' (layer {i}) "
                                    "has a b_1, so it is not positively homogeneous")
            mlp = MLP(_zero_row(np.asarray(mlp.w_1) * r, zero), mlp.b_1,
                      _compensated(mlp.w_2, mean), _compensated(mlp.b_2, mean), label=mlp.label)
        layers.append(Layer(heads, mlp))
    return replace(w, token_embed=_compensated(w.token_embed, mean),
                   pos_embed=_compensated(position, mean), layers=layers,
                   layer_norm=LayerNorm(plan["eps"], r))


@dataclass(frozen=True)
class TransformerLayerNorm(ModulePass):
    """Apply the `layer_norm_plan` of each `transformer.model` (module docstring)."""

    name = "transformer-layer-norm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for model in list(op.walk()):
            if isinstance(model, transformer.ModelOp):
                new = transformer.ModelOp.from_weights(normalised(model.weights(), _plan(model)))
                Rewriter.replace_op(model, new)
