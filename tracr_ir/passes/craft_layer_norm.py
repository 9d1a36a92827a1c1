"""`craft-layer-norm`: plan weights that stay exact under a LayerNorm before every sublayer.

```
craft.program ... attributes {residual = #craft.residual<[one, bos, ..., frac]>} {...}
```
becomes
```
craft.program ... attributes {residual = #craft.residual<[one, bos, ..., frac, ln_zero,
    ln_mean, ln_ballast_pos, ln_ballast_neg]>, layer_norm_plan = {eps = 1.0e-05 : f64,
    ballast = 22434.7 : f64, scale = 8.192e+03 : f64, centres = {frac = 25.2 : f64},
    deviations = [1.4e-06 : f64, ...]}} {...}
```

`LN(x) = (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)` at each position, d the residual
width, s(x) = 1/sqrt(var(x) + eps). The construction (derived in docs/layer_norm.md, applied
by `transformer-layer-norm`) makes s(x) a known constant 2^-p up to a proven deviation:
1. *Mean zero.* Every write also writes minus its sum to `ln_mean`: mean(x) = 0 exactly.
   `ln_zero` is never written, and every read matrix W gets the row `-sum_i W_i` there, so
   `(x - m 1) W = x W` for any common shift m: the float32 error of the computed mean
   does not reach the readers either. The output is read as `LN(x)[label] - LN(x)[ln_zero]`.
2. *A known norm.* The embedding writes +B and -B to the two ballast directions, so
   `d var(x) = 2 B^2 + ||c||^2 + (sum c)^2` (c: every other coordinate, `ln_mean` holding
   -sum c), and `0 <= ||c||^2 + (sum c)^2 <= V_k`: V_k sums, over what is present before
   sublayer k (the layer allocation says which s-ops), the squared l2 bounds, plus the
   square of the summed l1 bounds (from the exactness bounds: `1 + error` for a one-hot,
   `magnitude + error` for a number, 3 for the embedding, 1 for a SelectorWidth share).
   B (a float32) makes `sqrt(d / (2 B^2 + V/2 + d eps))` equal to 2^-p, and V / B^2 tiny,
   so every read sees `(1 + t) 2^-p x` with `|t| <= Delta_k = max |2^p s - 1| + (d + 8) u`
   (the second term: float32 rounding of the LayerNorm itself, u = 2^-24).
3. *Readers absorb 2^-p* (`scale` = 2^p multiplies every read matrix and the readout).
   MLPs have no b_1 (constants enter through `one`), so `relu((1 + t) x W_1) W_2 = (1 + t)
   MLP(x)`: their outputs carry a relative Delta_k only. Heads get their logits shifted by
   `-centre` (= m s, through `one` on both sides) so that selected keys score exactly 0,
   which no scale moves; the other logits move by at most `dev (m + 1) s`, `dev = (1 +
   Delta)^2 (1 + rel_q)(1 + rel_k) - 1` (rel: the proportional deviation of the selector's
   inputs, e.g. MLP outputs), growing the leakage by F = e^{that}; selected keys are
   reweighted by at most `e^{2 s m rel_k (1 + dev)}` and values carry Delta_k.
The pass propagates the craft exactness bounds (`craft_exactness`) with these extra errors
and refuses, naming the op, a value that leaves its reader's tolerance. It keeps the
discretising maps' ramp slack (`_tolerances`); the other tolerances are the ops' own, so
the constructions must leave room: `compile_rasp_to_model(layer_norm=True)` runs
`rasp-annotate-precision{share=0.5}`.

Needs `craft-allocate-layers` and `craft-layout-residual`; `lower-craft-to-transformer`
carries the plan to the model and `transformer-layer-norm` applies it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, FloatAttr, ModuleOp, f64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from tracr_ir.craft.attention import head_scale
from tracr_ir.craft.bases import Direction
from tracr_ir.craft.tolerances import MLP_READ_TOLERANCE, Bound, fits, output_tolerance
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_base import space_of
from tracr_ir.dialects.craft_exactness import _check, _refuse, _stated, value_bounds
from tracr_ir.errors import PipelineError
from tracr_ir.dialects.craft_layout import RESIDUAL_ATTR, ResidualLayout

PLAN_ATTR = "layer_norm_plan"
LN_ZERO = Direction("ln_zero")
LN_MEAN = Direction("ln_mean")
BALLAST = (Direction("ln_ballast_pos"), Direction("ln_ballast_neg"))
#: float32 unit roundoff.
U = 2.0 ** -24
#: The ballast is sized so that its share of the scale deviation is below this.
BALLAST_DEVIATION = U / 4


def _size(bound: Bound, numerical: bool) -> tuple[float, float]:
    """Bounds on (the squared l2 norm, the l1 norm) of a value with this bound."""
    l1 = bound.magnitude + bound.error if numerical else 1.0 + bound.error
    return l1 * l1, l1


def _scaled(bound: Bound, delta: float) -> Bound:
    """The bound of `(1 + t) x`, |t| <= delta, for x within `bound`."""
    return Bound(bound.error * (1 + delta) + delta * bound.magnitude, low=bound.low,
                 high=bound.high)


@dataclass
class _Plan:
    """The per-sublayer scale deviations of a program under a given ballast, and the bounds
    of its values: `bounds` (every error counted), `raw` (without `rel`), `rel` (a
    proportional deviation: the value is (1 + t) times one within `raw`, |t| <= rel)."""

    program: craft.ProgramOp
    eps: float
    ballast: float  # B, a float32
    scale: float  # the read scale r = 2^p, 1/r the middle of the LayerNorm's scale
    width: int  # d, the added directions included

    def __post_init__(self) -> None:
        # (first sublayer present, squared l2 bound, l1 bound): the embedding's one, bos or
        # token, index
        self.written: list[tuple[int, float, float]] = [(0, 3.0, 3.0)]
        args = self.program.block.args
        self.bounds: dict[SSAValue, Bound] = {a: Bound.categorical(0.0) for a in args}
        self.raw: dict[SSAValue, Bound] = dict(self.bounds)
        self.rel: dict[SSAValue, float] = {a: 0.0 for a in args}

    def content(self, sublayer: int) -> float:
        """V_k: the bound of ||c||^2 + (sum c)^2 at `sublayer` (c: the residual but the
        ballast and `ln_mean`, which holds -sum c)."""
        present = [(v, l1) for first, v, l1 in self.written if first <= sublayer]
        return sum(v for v, _ in present) + sum(l1 for _, l1 in present) ** 2

    def deviation(self, sublayer: int) -> float:
        """Delta_k: |r s(x) - 1| at `sublayer`, float32 rounding of the LayerNorm included."""
        d, base = self.width, 2 * self.ballast ** 2 + self.width * self.eps
        scales = (math.sqrt(d / (base + v)) for v in (0.0, self.content(sublayer)))
        return max(abs(self.scale * s - 1) for s in scales) + (d + 8) * U

    @staticmethod
    def sized(program: craft.ProgramOp, eps: float, width: int, content: float) -> _Plan:
        """The plan whose ballast makes the deviation from the content bound `content` at
        most `BALLAST_DEVIATION` (`2 B^2 >= content / (4 BALLAST_DEVIATION)`), with B chosen
        so that `s = sqrt(d / (2 B^2 + content / 2 + d eps))` is a power of two 2^-p: the read
        scale 2^p multiplies the weights exactly in float32."""
        need = max(content, 1.0) / (4 * BALLAST_DEVIATION) + content + width * eps
        p = math.ceil(math.log(need / width, 4))
        ballast = math.sqrt((width * 4.0 ** p - width * eps - content / 2) / 2)
        return _Plan(program, eps, float(np.float32(ballast)), 2.0 ** p, width)

    def set(self, value: SSAValue, raw: Bound, rel: float) -> None:
        self.raw[value], self.rel[value] = raw, rel
        self.bounds[value] = _scaled(raw, rel)


def _sublayers(op: craft.CraftOp) -> tuple[int, int]:
    """(the sublayer that reads the op's operands, the one that writes its output)."""
    layer = op.layer_index
    if layer is None:
        raise PipelineError(f"craft-layer-norm needs craft-allocate-layers first "
                            f"({op.label_text} has no layer)")
    kind = craft.block_kind(op)
    return (2 * layer + (kind == "mlp"), 2 * layer + (kind != "attention"))


def _readout(program: craft.ProgramOp) -> int:
    """The readout's sublayer: 2 x the number of layers."""
    return 2 * (max((op.layer_index or 0 for op in program.block.ops
                     if isinstance(op, craft.CraftOp)), default=-1) + 1)


def _head(plan: _Plan, op: craft.CraftOp, delta: float) -> tuple[float, float, float]:
    """(centre m s, F - 1 the leakage growth, e^{2D} - 1 the reweighting of selected keys)
    of a head reading at deviation `delta`, its terms carrying proportional deviations."""
    length, kind = plan.program.length, craft.block_kind(op)
    block = op.block(length)
    head = block if kind == "attention" else block.attention
    terms = op.term_operands()  # type: ignore[attr-defined]
    scale, m = float(np.float32(head_scale(head))), len(terms)  # as the weights hold it
    keys = max((plan.rel[k] for k, _ in terms), default=0.0)
    queries = max((plan.rel[q] for _, q in terms), default=0.0)
    dev = (1 + delta) ** 2 * (1 + keys) * (1 + queries) - 1
    growth = math.expm1(dev * (m + 1) * scale)
    reweight = math.expm1(2 * scale * m * keys * (1 + dev))
    return m * scale, growth, reweight


def _tolerances(op: craft.CraftOp, length: int) -> list[float]:
    """The operands' tolerances; a discretising map (`numerical_mlp`) is granted the slack of
    its ramps: slopes `4 / (gap - 2 e)` (docs/exactness.md) give margin 3/2 at its
    `input_error` e, so inputs up to `e + 3 (gap - 2 e) / 8` off still decide every ramp."""
    tolerances = op.input_tolerances(length)
    if isinstance(op, craft.NumericalMLPOp):
        error = float(op.input_error.data)
        entries = sorted(op.table.data, key=lambda e: float(e[0]))
        gaps = [float(b) - float(a) for (a, fa), (b, fb) in zip(entries, entries[1:])
                if fa != fb]
        tolerances = [error + min((3 * (g - 2 * error) / 8 for g in gaps), default=math.inf)]
    return tolerances


def _output_bound(plan: _Plan, op: craft.CraftOp, inputs: list[Bound], length: int) -> Bound:
    """The op's stated output bound on its operands' bounds; a numerical mean gets its value
    without the writer's proportional deviation (which could take it past the `magnitude`
    its scale was built for by a relative 1e-6) and that deviation added to its error: a mean
    passes a value's error on one for one, and its own error (the weight leaked to unselected
    keys, times the values) grows at most in proportion to the values."""
    value = op.operands[0] if op.operands else None
    if not (isinstance(op, craft.NumericalAttentionOp) and value in plan.raw
            and plan.rel[value] > 0):
        return op.output_bound(inputs, length)
    raw = plan.raw[value]
    out = op.output_bound([raw, *inputs[1:]], length)
    return Bound(out.error * (1 + plan.rel[value]) + inputs[0].error - raw.error,
                 low=out.low, high=out.high)


def propagate(plan: _Plan) -> dict[str, float]:
    """Check every op under the plan's deviations; the head centres by head label."""
    program, length = plan.program, plan.program.length
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    ops.sort(key=lambda op: _sublayers(op)[1])  # stable: operands come first
    centres: dict[str, float] = {}
    for op in ops:
        _stated(op)
        read, write = _sublayers(op)
        kind, delta = craft.block_kind(op), plan.deviation(read)
        terms = {v for pair in getattr(op, "term_operands", list)() for v in pair}
        for i, (value, tolerance) in enumerate(zip(op.operands, _tolerances(op, length))):
            bound = plan.raw[value] if value in terms else plan.bounds[value]
            _check(value, bound, tolerance,
                   f"{op.name} '{op.label_text}' (operand {i}) under layer_norm")
        inputs = [plan.bounds[v] for v in op.operands]
        out = _output_bound(plan, op, inputs, length)
        if kind == "mlp":  # homogeneous: (1 + delta) times its output
            plan.set(op.output, out, delta)
        else:
            centre, growth, reweight = _head(plan, op, delta)
            block = op.block(length)
            head = block if kind == "attention" else block.attention
            centres[head.label] = centre
            if kind == "attention":
                value = inputs[0]
                size = value.magnitude + value.error
                extra = float(op.tolerance.data) * growth + delta * size
                if space_of(op.output).is_numerical:
                    extra += reweight * size
                plan.set(op.output, Bound(out.error + extra, low=out.low, high=out.high), 0.0)
            else:  # the share, read by the decoding MLP at the next sublayer
                slack = op.share_tolerance(length)  # type: ignore[attr-defined]
                share_error = delta + reweight + growth * length * math.exp(-head_scale(head))
                if not fits(share_error, slack):
                    raise _refuse(op, f"under layer_norm its share can be {share_error:.3g} "
                                      f"off, more than the decoding MLP's slack {slack:.3g}")
                plan.written.append((read + 1, (1 + share_error) ** 2, 1 + share_error))
                plan.set(op.output, out, plan.deviation(write))
        plan.written.append((write + 1, *_size(plan.bounds[op.output],
                                               space_of(op.output).is_numerical)))
    value = program.output.value
    out = _scaled(plan.bounds[value], plan.deviation(_readout(program)))
    if space_of(value).is_numerical:
        _check(value, out, output_tolerance(out.magnitude), "the program output under layer_norm")
    else:
        _check(value, out, MLP_READ_TOLERANCE, "the program output under layer_norm")
    return centres


def plan_layer_norm(program: craft.ProgramOp, eps: float) -> DictionaryAttr:
    """Choose the ballast, prove the deviations acceptable, and return the plan attribute."""
    if RESIDUAL_ATTR not in program.attributes:
        raise PipelineError("craft-layer-norm needs craft-layout-residual first")
    layout = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    if layout.shared:  # a cleaning read through the LayerNorm would leave a residue
        raise PipelineError(
            f"craft-layer-norm needs a residual without reuse ({layout.shared} positions are "
            "shared): run craft-layout-residual{reuse=false} before it")
    residual = tuple(layout.final)
    if clash := [d for d in (LN_ZERO, LN_MEAN, *BALLAST) if d in residual]:
        raise PipelineError(f"craft-layer-norm: the residual already has '{clash[0].name}' "
                            "(the pass ran twice, or an s-op uses a reserved name)")
    width = len(residual) + 4
    sizes = [(3.0, 3.0)] + [  # V without LayerNorm: the ballast only needs its size
        _size(b, space_of(v).is_numerical) for v, b in value_bounds(program).items()
        if isinstance(v.owner, craft.CraftOp)] + [
        (1.0, 1.0) for op in program.block.ops
        if isinstance(op, craft.CraftOp) and craft.block_kind(op) == "selector_width"]
    content = sum(v for v, _ in sizes) + sum(l1 for _, l1 in sizes) ** 2
    plan = _Plan.sized(program, eps, width, content)
    centres = propagate(plan)
    deviations = [plan.deviation(k) for k in range(_readout(program) + 1)]
    program.attributes[RESIDUAL_ATTR] = ResidualLayout.disjoint(
        (*residual, LN_ZERO, LN_MEAN, *BALLAST)).attr()
    return DictionaryAttr({
        "eps": FloatAttr(eps, f64),
        "ballast": FloatAttr(plan.ballast, f64),
        "scale": FloatAttr(plan.scale, f64),
        "centres": DictionaryAttr({k: FloatAttr(v, f64) for k, v in centres.items()}),
        "deviations": ArrayAttr([FloatAttr(x, f64) for x in deviations]),  # Delta_k, readout
    })


@dataclass(frozen=True)
class CraftLayerNorm(ModulePass):
    """Plan LayerNorm-robust weights (see the module docstring): adds `ln_zero` and the two
    ballast directions to the residual and the `layer_norm_plan` attribute."""

    name = "craft-layer-norm"
    eps: float = 1e-5

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not (self.eps > 0 and math.isfinite(self.eps)):
            raise PipelineError(f"craft-layer-norm: eps must be a positive number, got "
                                f"{self.eps!r}")
        for program in list(op.walk()):
            if isinstance(program, craft.ProgramOp):
                program.attributes[PLAN_ATTR] = plan_layer_norm(program, float(self.eps))


__all__: Sequence[str] = ("CraftLayerNorm", "PLAN_ATTR", "plan_layer_norm", "propagate")
