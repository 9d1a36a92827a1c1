"""`transformer-compress{method=lossless|learned ...}`: a narrower residual stream.

```
transformer.model vocab {"a", "b", "c", "x"} max_seq_len 5 ...  // width 13, 2 layers, ...
    residual [one, bos, tokens:"a", tokens:"b", tokens:"c", tokens:"x", indices:0, ...,
              indices:4, map_2, frac_prevs_3] {
```
becomes (`method=lossless`, `lib.make_frac_prevs(rasp.tokens == "x")`)
```
transformer.model vocab {"a", "b", "c", "x"} max_seq_len 5 ...  // width 8, 2 layers, ...
    residual [one, bos, tokens:"x", indices:0, indices:1, indices:2, indices:3, frac_prevs_3]
    attributes {compressed = {method = "lossless", width = 8 : i64, original_width = 13 : i64,
      span = "the span of the residual entering each sublayer over every input (1364)",
      inputs = "every input (1364)", checked = 1364 : i64, exact = 1364 : i64,
      tol = 1.000000e-04 : f64, max_error = 0.000000e+00 : f64}} {
```
an ordinary `transformer.model` whose residual is x E and whose sublayers read x' D_l
(`W_Q' = D_l W_Q`, `W_O' = W_O E`, ...: `tracr_ir.compression.common.project`). Its
unembedding reads the output labels, kept as coordinates equal to the outputs.

- `method=lossless`: E spans what each sublayer reads of the residuals entering it
  (`tracr_ir.compression.lossless`). `span=inputs` computes those spans from the residuals on
  every input (at most `max_inputs`, else a seeded sample, which the report states: exact
  only where measured); `span=weights` bounds them from the weights (exact on every input);
  `span=auto` (default) takes inputs when they can all be run, else weights. Above, `map_2`
  is read as `tokens:x` (equal wherever it is read) and `indices:4` as `one - bos - indices:0
  - ... - indices:3`. The result is run against the original on the inputs; if an output
  differs by more than `tol` (default 1e-4; categorical outputs must decode the same), a
  finer span, then the weights' bound, then the unchanged model is used.
- `method=learned dim=N`: the Tracr paper's compression (its section 5): the compiled weights
  frozen, E and the D_l learned (`tied=true`: one W, D_l = W^T) with optax Adam and a
  cosine-decayed learning rate `lr` on a loss over the outputs and every sublayer's input,
  from the lossless residual cut to N, `restarts` runs of `steps` steps each from the best so
  far (`tracr_ir.compression.learned`); progress on stderr unless `progress=false`. The
  report gives exactness within `tol` (default 0.01) and the largest output error.

The report is the `compressed` attribute (`tracr_ir.compression.report_of(model)` reads it:
`CompressionReport`). Errors in the options are `PipelineError`s.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tracr_ir.compression import (ATTRIBUTE, LEARNED_TOL, LOSSLESS_TOL, CompressionReport,
                                  compress_learned, compress_lossless)
from tracr_ir.dialects.transformer import ModelOp
from tracr_ir.errors import PipelineError

METHODS = ("lossless", "learned")


def compress_model(op: ModelOp, p: TransformerCompress) -> tuple[ModelOp, CompressionReport]:
    """The compressed `transformer.model` (the report as its `compressed` attribute)."""
    w = op.weights()
    if w.layer_norm is not None:
        raise PipelineError("transformer-compress does not compose with a LayerNorm: the "
                            "layer_norm construction needs its residual directions "
                            "(docs/layer_norm.md)")
    if p.method == "lossless":
        small, report = compress_lossless(w, span=p.span, max_inputs=p.max_inputs,
                                          seed=p.seed, tol=p.tol or LOSSLESS_TOL)
    else:
        from tracr_ir.compression.learned import stderr_progress

        small, report = compress_learned(
            w, p.dim, tied=p.tied, steps=p.steps, restarts=p.restarts, lr=p.lr, seed=p.seed,
            max_inputs=p.max_inputs, tol=p.tol or LEARNED_TOL,
            progress=stderr_progress if p.progress else None)
    new = ModelOp.from_weights(small)
    new.attributes.update({k: v for k, v in op.attributes.items() if k != ATTRIBUTE})
    new.attributes[ATTRIBUTE] = report.to_attribute()
    return new, report


@dataclass(frozen=True)
class TransformerCompress(ModulePass):
    """Compress the residual of every `transformer.model` (see the module docstring)."""

    name = "transformer-compress"

    method: str = "lossless"
    dim: int = 0
    span: str = "auto"
    max_inputs: int = 5000
    seed: int = 0
    tied: bool = False
    steps: int = 4000
    restarts: int = 3
    lr: float = 0.003
    tol: float = 0.0
    progress: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.method not in METHODS:
            raise PipelineError(f"transformer-compress: unknown method '{self.method}' "
                                f"(choose {' or '.join(METHODS)})")
        if self.method == "learned" and self.dim < 1:
            raise PipelineError("transformer-compress{method=learned} needs dim=N, the width "
                                "of the compressed residual")
        if self.max_inputs < 1:
            raise PipelineError(f"transformer-compress: max_inputs must be at least 1, got "
                                f"{self.max_inputs}")
        if self.tol < 0:
            raise PipelineError(f"transformer-compress: tol must not be negative, got "
                                f"{self.tol}")
        for model in [m for m in op.walk() if isinstance(m, ModelOp)]:
            new, _ = compress_model(model, self)
            Rewriter.replace_op(model, new)
