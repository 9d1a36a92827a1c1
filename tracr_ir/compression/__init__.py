"""Compressing a compiled model's residual stream (the Tracr paper, section 5).

```python
from tracr_ir.compression import compress_learned, compress_lossless, report_of
small, report = compress_lossless(model_op.weights())           # ModelWeights, report
small, report = compress_learned(model_op.weights(), width=6)    # optax; progress on stderr
report_of(compiled_model)       # the CompressionReport a compressed model carries in its IR
```
The pass `transformer-compress{method=lossless|learned ...}` (`tracr_ir.passes.
transformer_compress`) runs these on `transformer.model` ops: `lossless` projects onto what the
model reads of the residuals it can hold (`lossless`), `learned` learns a smaller residual
with the compiled weights frozen (`learned`, which imports JAX and optax). Both measure the
result against the uncompressed model on every input (or a stated sample): `common`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tracr_ir.compression.common import (Exactness, Inputs, encode_batch, exactness,
                                         fresh_labels, model_inputs, project, residuals)
from tracr_ir.compression.lossless import LosslessBasis, lossless_basis, site_spans
from tracr_ir.compression.report import ATTRIBUTE, CompressionReport, report_of
from tracr_ir.errors import PipelineError
from tracr_ir.model import ModelWeights
from tracr_ir.values import format_value

__all__ = ["ATTRIBUTE", "LEARNED_TOL", "LOSSLESS_TOL", "SPANS", "CompressionReport",
           "compress_learned", "compress_lossless", "report_of"]

SPANS = ("auto", "inputs", "weights")
LOSSLESS_TOL = 1e-4
LEARNED_TOL = 1e-2
_RTOLS = (1e-9, 1e-12)  # the singular values a span keeps, relative to the largest


def _span_text(how: str, inputs: Inputs) -> str:
    if how == "weights":
        return ("an upper bound on the span entering each sublayer, from the weights: the "
                "embeddings and what each sublayer can write")
    return f"the span of the residual entering each sublayer over {inputs.describe()}"


def _lossless(w: ModelWeights, inputs: Inputs, span: str, seed: int,
              tol: float) -> tuple[LosslessBasis, ModelWeights, str, Exactness]:
    """The smallest exact projection found: the span on the inputs (if `span` allows),
    then a finer one, then the bound from the weights, else the model unchanged."""
    if span not in SPANS:
        raise PipelineError(f"transformer-compress: unknown span '{span}' (choose "
                            f"{', '.join(SPANS)})")
    if span == "auto":
        span = "weights" if inputs.sampled else "inputs"
    attempts = [("inputs", r) for r in _RTOLS] if span == "inputs" else []
    attempts += [("weights", _RTOLS[0])]
    sites = residuals(w, inputs) if span == "inputs" else None
    for how, rtol in attempts:
        basis = lossless_basis(w, site_spans(w, sites if how == "inputs" else None, rtol),
                               seed=seed)
        small = project(w, basis.embed, basis.reads, basis.labels)
        measured = exactness(w, small, inputs, tol)
        if measured.all_exact and measured.max_error <= tol:  # raw outputs too
            return basis, small, _span_text(how, inputs), measured
    d = w.d_model
    basis = LosslessBasis(np.eye(d), [np.eye(d)] * (2 * len(w.layers)), list(w.residual), d)
    return (basis, w, "no smaller residual was exact on the inputs: the model is unchanged",
            exactness(w, w, inputs, tol))


def compress_lossless(w: ModelWeights, *, span: str = "auto", max_inputs: int = 5000,
                      seed: int = 0, tol: float = LOSSLESS_TOL,
                      ) -> tuple[ModelWeights, CompressionReport]:
    """The model projected onto what it reads of the residuals it holds (see
    `tracr_ir.compression.lossless`), and its report. `span`: `inputs` (the residuals on
    every input, or on a seeded sample of `max_inputs` when there are more: then exact only
    where measured), `weights` (a bound from the weights: exact on every input) or `auto`
    (inputs when they can all be run, else weights). The result is checked on the inputs and
    falls back to a finer span, then the weights, then the model unchanged."""
    inputs = model_inputs(w, max_inputs, seed)
    basis, small, text, measured = _lossless(w, inputs, span, seed, tol)
    return small, _report("lossless", w, small, text, inputs, measured)


def _report(method: str, w: ModelWeights, small: ModelWeights, span: str, inputs: Inputs,
            measured: Exactness, **learned: object) -> CompressionReport:
    worst = "" if measured.all_exact or measured.worst is None else \
        "[" + ", ".join(map(format_value, measured.worst)) + "]"
    return CompressionReport(method, small.d_model, w.d_model, span, inputs.describe(),
                             measured.inputs, measured.exact, measured.tol,
                             measured.max_error, worst, **learned)  # type: ignore[arg-type]


def compress_learned(w: ModelWeights, width: int, *, tied: bool = False, steps: int = 4000,
                     restarts: int = 3, lr: float = 3e-3, seed: int = 0,
                     max_inputs: int = 5000, tol: float = LEARNED_TOL,
                     residual_weight: float = 1.0,
                     progress: Callable[[str], None] | None = None,
                     ) -> tuple[ModelWeights, CompressionReport]:
    """A model of residual width `width` with the compiled weights frozen and the embedding
    of the residual learned (see `tracr_ir.compression.learned`), and its report, measured
    on every input (or a seeded sample of `max_inputs`). If the lossless residual is no wider
    than `width`, that is the result."""
    from tracr_ir.compression.learned import learn, truncated_start

    k = len(w.output.labels)
    if isinstance(width, bool) or not isinstance(width, int) or width < max(k, 1):
        raise PipelineError(f"transformer-compress: the learned width must be an int of at "
                            f"least {max(k, 1)} (the output coordinates), got {width!r}")
    for name, value in (("steps", steps), ("restarts", restarts)):
        if value < 1:
            raise PipelineError(f"transformer-compress: {name} must be at least 1, got {value}")
    inputs = model_inputs(w, max_inputs, seed)
    basis, lossless, text, measured = _lossless(w, inputs, "auto", seed, LOSSLESS_TOL)
    if basis.width <= width:
        span = f"the lossless residual already fits ({text})"
        return lossless, _report("lossless", w, lossless, span, inputs,
                                 exactness(w, lossless, inputs, tol))
    sites = residuals(w, inputs)
    start = truncated_start(w, sites, basis, width, tied)
    ids, _ = encode_batch(w, inputs.seqs)
    trained = learn(w, sites, ids, start, tied=tied, steps=steps, restarts=restarts, lr=lr,
                    seed=seed, residual_weight=residual_weight, progress=progress)
    labels = [*w.output.labels, *fresh_labels(w.output.labels, width - k, w.residual)]
    small = project(w, trained.embed, trained.reads, labels)
    span = (f"learned, {'tied' if tied else 'untied'}, from the lossless {basis.width}-"
            f"dimensional residual cut to {width}")
    return small, _report("learned", w, small, span, inputs, exactness(w, small, inputs, tol),
                          lossless_width=basis.width, tied=tied, steps=steps,
                          restarts=restarts, seed=seed, initial_loss=trained.initial_loss,
                          initial_error=trained.initial_error, loss=trained.loss,
                          error=trained.error)
