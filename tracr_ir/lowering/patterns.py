"""One pattern per rasp op: how it lowers to craft blocks, and what precision it needs.

A `RaspLowering` is an xDSL `RewritePattern` for one kind of op. It states:
- `matches(op)`: whether it lowers `op` (an op type, maybe narrowed by encoding);
- `reads(op, analysis)`: the precision rule, what `op` reads in which form within which
  tolerance given what its readers need of it (`rasp-annotate-precision` runs the same
  rules backward over the program);
- `lower(op, state)`: the craft blocks, built with `state` (`LoweringState`), returning the
  craft value of `op`'s result in its natural form.

The registry `LOWERINGS` holds the defaults; `register_lowering(MyLowering)` puts a user's
pattern first, so it wins for the ops it matches; patterns for ops of a user's own dialect
are registered the same way.

Default lowerings:
- Map: categorical input -> `craft.categorical_mlp` (lookup: `direct`, one neuron per output
  value, where its passed-on input error is within the readers' need, which `reads` asks of
  the input by `direct_tolerance`; else snapped); numerical input ->
  `craft.linear_mlp` when the table is affine, else the discretising `craft.numerical_mlp`
  (if its float32 error misses what the readers need: discretise to the output values, then
  look up). A constant table on a never-None input is a `craft.constant_mlp`.
- SequenceMap: `craft.sequence_map_mlp` of the categorical forms (`direct`, one neuron per
  pair, with a `margin` where an operand is a head's output, or snapped, as a Map's
  lookup); the same s-op twice is a Map.
- LinearSequenceMap: `craft.linear_mlp` of the numerical forms (then a discretising MLP for a
  categorical output), or a `craft.sequence_map_mlp` table if both operands are categorical.
- Full: `craft.constant_mlp`.
- Aggregate: `craft.categorical_attention` / `craft.numerical_attention` (the mean) whose
  terms are the selector's (in normal form), their keys and queries read as they are
  (`term_error`) where the head's scale absorbs their error, else snapped; a non-None categorical default that an empty
  selection needs is a `craft.categorical_mlp` with a `none` entry after the head.
- SelectorWidth: `craft.selector_width`; numerical: `direct` (the share decoded by an
  interpolating MLP, one layer at every L) when the selector's queries and keys are exact
  and lookups may be direct, else snapped when its float32 error is within the readers'
  needs, else categorical then a lookup to the number. A categorical one reads noisy keys
  and queries as they are (`term_error`) where its snapped decoder absorbs their noise.
- Select / SelectorAnd / SelectorOr / SelectorNot: no blocks of their own; the attention ops
  that read them take their terms.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from tracr_ir.analysis.selectors import terms as selector_terms
from tracr_ir.craft.bases import Space
from tracr_ir.craft.selector_width import noisy_term_tolerance
from tracr_ir.dialects import craft, rasp
from tracr_ir.errors import PipelineError, UnsupportedProgramError
from tracr_ir.dialects.program import describe
from tracr_ir.craft import numerics
from tracr_ir.craft.tolerances import EXACT, fits
from tracr_ir.lowering.precision import (
    CAT,
    EXACT_FORM,
    GAP_FRACTION,
    LINEAR_SHARE,
    MLP_READ_TOLERANCE,
    NUM,
    Analysis,
    Read,
    affine,
    diagonal,
    encoding,
    is_constant_table,
    label_of,
    map_reads,
    map_table,
    may_be_noisy,
    resolvable,
)
from tracr_ir.lowering.state import LoweringState
from tracr_ir.passes.rasp_refine_values import ALWAYS_SELECTS


class RaspLowering(RewritePattern):
    """Lowers the ops it `matches` into craft blocks (see the module docstring)."""

    #: The op type this pattern lowers (or override `matches`).
    OP: ClassVar[type[Operation] | None] = None

    def __init__(self, state: LoweringState | None = None):
        self.state = state

    def matches(self, op: Operation) -> bool:
        return self.OP is not None and isinstance(op, self.OP)

    def reads(self, op: Operation, analysis: Analysis) -> list[Read]:
        """Default: every s-op operand in its own encoding, categorical ones within 1/16,
        numerical ones within what the readers need of the result."""
        y = op.results[0]
        need = analysis.required(y) if encoding(y) == NUM else MLP_READ_TOLERANCE
        return [(v, encoding(v), MLP_READ_TOLERANCE if encoding(v) == CAT else need)
                for v in op.operands if isinstance(v.type, rasp.SOpType)]

    def lower(self, op: Operation, state: LoweringState) -> SSAValue:
        """The craft value of `op`'s result, in its natural form."""
        raise PipelineError(f"the lowering pattern {type(self).__name__} matches "
                            f"{describe(op)} but defines no `lower(op, state)`")

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        state = self.state
        if state is None or not self.matches(op) or not state.is_read(op):
            return
        state.rewriter, state.current = rewriter, op
        try:
            value = self.lower(op, state)
            cast = state.finish(op, value)
            rewriter.replace(op, [cast], [cast.results[0]])
        finally:
            state.rewriter, state.current = None, None


def direct_floor(max_seq_len: int) -> float:
    """The tightest tolerance a direct (unsnapped) lookup asks of a categorical operand:
    twice the float32 rounding of a softmax over the positions (a head reaches it with a
    larger scale only). Below it the operand is read within `MLP_READ_TOLERANCE` and the
    lookup snaps."""
    return 2 * numerics.softmax_float32_error(max_seq_len)


def direct_tolerance(need: float, factor: float, max_seq_len: int,
                     reserve: float = 0.0) -> float:
    """What a direct lookup whose output must be within `need` asks of an operand whose error
    it multiplies by `factor` (`craft.mlp.direct_lookup_error` and
    `direct_sequence_map_error`): (need - reserve) / factor, at most `MLP_READ_TOLERANCE`, where
    `reserve` is the lookup's own float32 estimate (`float32_reserve`); if that is below
    `direct_floor`, `MLP_READ_TOLERANCE` for the snapped construction instead."""
    if factor <= 0:
        return MLP_READ_TOLERANCE
    tolerance = (need - reserve) / factor
    return min(tolerance, MLP_READ_TOLERANCE) if tolerance >= direct_floor(max_seq_len) else (
        MLP_READ_TOLERANCE)


def float32_reserve(scale: float, y: SSAValue) -> float:
    """The float32 estimate a direct lookup to `y` adds to the error it passes on: none for a
    categorical output (one-hot outputs, no cancellation), else the estimate of its largest
    activation mass at an exact input, max |f| (`numerics.float32_error_estimate`; the
    lookups read here have no `None` entry, so no constant neuron)."""
    return 0.0 if encoding(y) == CAT else numerics.float32_error_estimate(scale)


def _output_scale(table: dict, y: SSAValue) -> float:
    """The largest output norm of a lookup: 1 categorical, max |value| numerical."""
    if encoding(y) == CAT:
        return 1.0
    return max((abs(float(v)) for v in table.values() if v is not None), default=0.0)


def lookup_need(state: LoweringState, y: SSAValue) -> float:
    """What a lookup computing `y` must guarantee: `y`'s readers' need, or `EXACT` if a
    selector reads it exactly (`term_tolerance` None: a noisy one would get a snapping MLP of
    its own, and snapping in the lookup itself is narrower than a direct lookup and a
    snap)."""
    return _lookup_need(state, state.required(y), y)


def _lookup_need(a: Analysis, need: float, y: SSAValue) -> float:
    if encoding(y) == CAT and any(term_tolerance(a, head) is None
                                  for head in selector_heads(y)):
        return min(need, EXACT)
    return need


def selector_heads(v: SSAValue) -> list[Operation]:
    """The Aggregates and SelectorWidths whose selectors have `v` as a key or query (through
    the Nots and Ands of selectors in normal form)."""
    heads: list[Operation] = []
    todo = [use.operation for use in v.uses if isinstance(use.operation, rasp.SelectOp)]
    while todo:
        op = todo.pop()
        for use in op.results[0].uses:
            reader = use.operation
            if isinstance(reader, (rasp.SelectorNotOp, rasp.SelectorAndOp)):
                todo.append(reader)
            elif isinstance(reader, (rasp.AggregateOp, rasp.SelectorWidthOp)) and (
                    use.index == 0):
                heads.append(reader)
    return heads


#: The l1 error each term of a categorical Aggregate of m terms may carry, times m.
CATEGORICAL_TERM_ERROR = 1 / 64
#: The share of a numerical Aggregate's tolerance that its terms' noise may take.
NUMERICAL_TERM_SHARE = 1 / 4


def term_tolerance(a: Analysis, head: Operation) -> float | None:
    """The l1 error a head's selector terms may be read with (unsnapped keys and queries),
    or None if they must be exact: a head nothing reads, or a tolerance below `direct_floor`
    (no softmax reaches it; the terms are then read within `MLP_READ_TOLERANCE` and snapped).

    A SelectorWidth's snapped decoder takes terms within `selector_width.noisy_term_tolerance`:
    their score noise keeps its share within a quarter of the least gap between shares,
    where its ramps still resolve it (a numerical width's direct decoder needs float32-exact
    ones, which noisy terms never are, even snapped: `LowerSelectorWidth`).

    Terms with l1 error e shift each of the m terms' scores by at most s (2e + e^2)
    (`numerics.score_noise`): D <= c s with c = m (2e + e^2), which shrinks the leakage gap
    from s/2 to s (1/2 - 2c) and, in a numerical mean, reweights the selected keys, moving
    the mean by at most M (e^{2 c s} - 1) (`numerics.attention_error_bound`).
    - Categorical Aggregate: e = 1/(64 m), so c <= 1/32 + 1/4096 and the gap is at least
      0.437 s: the scale grows by at most 15%, at no cost in width.
    - Numerical Aggregate with values of size <= M, read within `need` (its head gets at least
      t = need/2, the value the other half): with s0 the scale without noise for t/2, ask
      c = ln(1 + t/(4M)) / (2.2 s0), so the reweighting is at most t/4 at a scale up to 10%
      above s0 (the gap shrinks by 4c <= 1/10 of s/2 for t <= M), and e = c/(3m)
      (2e + e^2 <= 3e).
    These only choose what to ask of the terms' writers: the lowering builds the head with
    the terms' actual error and the scale `numerics.attention_scale` finds for it, or snaps
    them (`LowerAggregate.lower`), and `craft-verify-exactness` checks the result."""
    y, length = head.results[0], a.program.length
    n_terms = len(selector_terms(head.operands[0]) or ())
    if isinstance(head, rasp.SelectorWidthOp) and n_terms:
        tolerance = noisy_term_tolerance(length, n_terms)
        return tolerance if tolerance >= direct_floor(length) else None
    if not isinstance(head, rasp.AggregateOp):
        return None
    if not n_terms or not math.isfinite(a.required(y)):
        return None
    if encoding(y) == CAT:
        tolerance = CATEGORICAL_TERM_ERROR / n_terms
    else:
        magnitude = max((abs(float(v)) for v in a.values(head.sop)), default=0.0)
        if magnitude == 0:
            return None
        t = a.required(y) / 2
        try:
            s0 = numerics.attention_scale(length, t / 2, magnitude)
        except UnsupportedProgramError:
            return None
        c = math.log1p(NUMERICAL_TERM_SHARE * t / magnitude) / (2.2 * s0)
        tolerance = min(c / (3 * n_terms), CATEGORICAL_TERM_ERROR / n_terms)
    return tolerance if tolerance >= direct_floor(length) else None


def lookup_reads(analysis: Analysis, x: SSAValue, table: dict, y: SSAValue) -> list[Read]:
    """`precision.map_reads`, a categorical input read within `direct_tolerance` (a direct
    lookup passes its input's error on, times its largest output norm)."""
    if encoding(x) == CAT and not is_constant_table(table, x):
        need = _lookup_need(analysis, analysis.required(y), y)
        scale = _output_scale(table, y)
        return [(x, CAT, direct_tolerance(need, scale, analysis.program.length,
                                          float32_reserve(scale, y)))]
    return map_reads(analysis, x, table, y)


def _pair_reads(op: rasp.SequenceMapOp | rasp.LinearSequenceMapOp,
                analysis: Analysis) -> list[Read]:
    """Both operands categorical: within `direct_tolerance` of the output's need over the
    other operand's number of values (a direct sequence map adds n2 e1 + n1 e2); where one
    is a head's output (its coordinates exceed 1 by float32 rounding only, `head_excess`,
    which the map's `margin` m absorbs: e1 + e2 + m + n relu(o - m) for the other's excess
    o), over 1 for it and over n + 1 for the other; half of the need each, or all of it for
    one whose other operand is exact (`may_be_noisy`)."""
    if isinstance(op, rasp.SequenceMapOp):
        table = op.table.as_dict() if op.table is not None else {}
    else:
        a, b = float(op.fst_fac.data), float(op.snd_fac.data)
        table = {(x, z): a * x + b * z for x in analysis.values(op.fst)
                 for z in analysis.values(op.snd)}
    scale = _output_scale(table, op.output)
    n1, n2 = len(analysis.values(op.fst)), len(analysis.values(op.snd))
    need = _lookup_need(analysis, analysis.required(op.output), op.output)
    length, reserve = analysis.program.length, float32_reserve(scale, op.output)
    shares = 2 if may_be_noisy(op.fst) and may_be_noisy(op.snd) else 1
    excesses = [head_excess(x, length) for x in (op.fst, op.snd)]
    factors = [n2, n1]
    if any(o is not None for o in excesses):  # e1 + e2 + m + n relu(o - m), m the margin
        factors = [1 if o is not None else n + 1 for o, n in zip(excesses, (n2, n1))]
        reserve += scale * max(o for o in excesses if o is not None)
    return [(x, CAT, direct_tolerance(need, shares * f * scale, length, reserve))
            for x, f in zip((op.fst, op.snd), factors)]


def head_output(v: SSAValue) -> bool:
    """Whether the categorical form of `v` is a categorical head's output (an Aggregate with
    no default to fill in: `LowerAggregate` puts no lookup after the head)."""
    op = v.owner
    return (isinstance(op, rasp.AggregateOp) and encoding(v) == CAT
            and (op.default.data is None or ALWAYS_SELECTS in op.attributes))


def head_excess(v: SSAValue, max_seq_len: int) -> float | None:
    """How far the coordinates of `v` may exceed 1 if it is the output of k categorical
    heads, each averaging the last one's output, the first exact values: k float32
    roundings of a softmax average (`craft_exactness.CategoricalAttentionBounds`); else
    None (its excess is its error)."""
    k = 0
    while head_output(v):
        k, v = k + 1, v.owner.sop  # type: ignore[union-attr]
    if not k or may_be_noisy(v):
        return None
    return k * numerics.softmax_float32_error(max_seq_len, 1.0 + 1e-3)


def lower_map(state: LoweringState, label: str, x: SSAValue, table: dict,
              y: SSAValue) -> SSAValue:
    """A map from `x` to `y` through `table` (Map, and a SequenceMap of an s-op with
    itself)."""
    out = state.space(label, y)
    if is_constant_table(table, x):
        fill = next(iter(table.values()), None)
        return state.add(craft.ConstantMLPOp(label, fill, out))
    if encoding(x) == CAT:
        return state.lookup(label, state.get_cat(x), table, out, lookup_need(state, y))
    xn = state.natural(x)
    if encoding(y) == CAT:
        return state.discretise(label, xn, table, out)
    line = affine(table)
    if line is not None:
        alpha, beta = line
        return state.add(craft.LinearMLPOp(label, [xn], [alpha], beta, out))
    direct = state.discretise(label, xn, table, out)
    if state.error(direct) <= state.required(y):
        return direct
    # Too much float32 cancellation: discretise to the output values, then look up.
    state.erase(direct)
    values = state.values(y)
    mid = state.fresh(f"{label}_cat")
    cat = state.discretise(mid, xn, table, Space.categorical(mid, values))
    return state.lookup(label, cat, {v: v for v in values}, out, lookup_need(state, y))


class LowerMap(RaspLowering):
    OP = rasp.MapOp

    def reads(self, op: rasp.MapOp, analysis: Analysis) -> list[Read]:
        return lookup_reads(analysis, op.input, map_table(op, analysis.values(op.input)),
                            op.output)

    def lower(self, op: rasp.MapOp, state: LoweringState) -> SSAValue:
        table = map_table(op, state.values(op.input))
        return lower_map(state, op.label.data, op.input, table, op.output)


class LowerSequenceMap(RaspLowering):
    OP = rasp.SequenceMapOp

    def reads(self, op: rasp.SequenceMapOp, analysis: Analysis) -> list[Read]:
        if op.fst is op.snd:
            return lookup_reads(analysis, op.fst, diagonal(op, analysis.values(op.fst)),
                                op.output)
        return _pair_reads(op, analysis)

    def lower(self, op: rasp.SequenceMapOp, state: LoweringState) -> SSAValue:
        label = op.label.data
        if op.fst is op.snd:
            return lower_map(state, label, op.fst, diagonal(op, state.values(op.fst)),
                             op.output)
        table = op.table.as_dict() if op.table is not None else {}
        return state.pairs(label, op.fst, op.snd, table.get, op.output,
                           lookup_need(state, op.output))


class LowerLinearSequenceMap(RaspLowering):
    OP = rasp.LinearSequenceMapOp

    def reads(self, op: rasp.LinearSequenceMapOp, analysis: Analysis) -> list[Read]:
        y = op.output
        if op.fst is op.snd:
            return lookup_reads(analysis, op.fst, diagonal(op, analysis.values(op.fst)), y)
        if encoding(op.fst) == CAT and encoding(op.snd) == CAT:
            return _pair_reads(op, analysis)
        tol = analysis.required(y) if encoding(y) == NUM else resolvable(
            {v: v for v in analysis.values(y)}, label_of(y)) * GAP_FRACTION
        a, b = float(op.fst_fac.data), float(op.snd_fac.data)
        return [(x, NUM, LINEAR_SHARE * tol / abs(f)) for x, f in ((op.fst, a), (op.snd, b))
                if f]

    def lower(self, op: rasp.LinearSequenceMapOp, state: LoweringState) -> SSAValue:
        label, y = op.label.data, op.output
        a, b = op.fst_fac.data, op.snd_fac.data
        if op.fst is op.snd:
            return lower_map(state, label, op.fst, diagonal(op, state.values(op.fst)), y)
        if encoding(op.fst) == CAT and encoding(op.snd) == CAT:
            return state.pairs(label, op.fst, op.snd, lambda p: a * p[0] + b * p[1], y,
                               lookup_need(state, y))
        # An operand with factor 0 is not read, so it has no lowered form.
        terms = [(s, f) for s, f in ((op.fst, a), (op.snd, b)) if f]
        xs = [state.get_num(s) for s, _ in terms]
        factors = [f for _, f in terms]
        if encoding(y) == NUM:
            return state.add(craft.LinearMLPOp(label, xs, factors, 0, state.space(label, y)))
        mid = state.fresh(f"{label}_sum")
        total = state.add(craft.LinearMLPOp(mid, xs, factors, 0, Space.numerical(mid)))
        return state.discretise(label, total, {v: v for v in state.values(y)},
                                state.space(label, y))


class LowerFull(RaspLowering):
    OP = rasp.FullOp

    def reads(self, op: rasp.FullOp, analysis: Analysis) -> list[Read]:
        return []

    def lower(self, op: rasp.FullOp, state: LoweringState) -> SSAValue:
        label = op.label.data
        return state.add(craft.ConstantMLPOp(label, op.fill.data,
                                             state.space(label, op.output)))


def selector_reads(selector: SSAValue, tolerance: float | None = None) -> list[Read]:
    """A selector in normal form reads its terms' keys and queries within `tolerance`, or
    exactly (None)."""
    parts = selector_terms(selector)
    if parts is None:
        raise PipelineError(f"'{label_of(selector)}': the precision rules need selectors in "
                            "normal form: run rasp-normalize-selectors")
    reads: list[Read] = []
    form, tol = (EXACT_FORM, 0.0) if tolerance is None else (CAT, tolerance)
    for term in parts:
        op = term.owner
        if isinstance(op, rasp.SelectorNotOp):
            op = op.inner.owner
        reads += [(op.keys, form, tol), (op.queries, form, tol)]  # type: ignore
    return reads


class LowerAggregate(RaspLowering):
    OP = rasp.AggregateOp

    def reads(self, op: rasp.AggregateOp, analysis: Analysis) -> list[Read]:
        return [*selector_reads(op.selector, term_tolerance(analysis, op)),
                (op.sop, encoding(op.output), analysis.required(op.output) / 2)]

    def lower(self, op: rasp.AggregateOp, state: LoweringState) -> SSAValue:
        label, y = op.label.data, op.output
        req = state.required(y)
        if encoding(y) == NUM:
            value = state.get_num(op.sop)
            bound = state.bounds[value]
            magnitude = _round_up(max(max((abs(float(v)) for v in state.values(op.sop)),
                                          default=0.0), bound.magnitude) + bound.error)
            tolerance = min(req - bound.error, max(magnitude, 1.0) / 4)
            state.check_scale(tolerance, magnitude, label)
            terms, term_error = head_terms(state, op, tolerance, magnitude, False)
            return state.add(craft.NumericalAttentionOp(
                label, value, terms, tolerance, magnitude, state.space(label, y),
                term_error=term_error))
        value = state.get_cat(op.sop)
        tolerance = req - state.error(value)
        state.check_scale(tolerance, 1.0, label)
        terms, term_error = head_terms(state, op, tolerance, 1.0, True)
        values = [d.value for d in value.type.space]  # type: ignore[attr-defined]
        if head_output(y):
            return state.add(craft.CategoricalAttentionOp(
                label, value, terms, tolerance, state.space(label, y), term_error=term_error))
        raw_label = state.fresh(f"{label}_raw")
        raw = state.add(craft.CategoricalAttentionOp(
            raw_label, value, terms, tolerance, Space.categorical(raw_label, values),
            term_error=term_error))
        table: dict[Any, Any] = {v: v for v in values}
        table[None] = op.default.data
        return state.lookup(label, raw, table, state.space(label, y), lookup_need(state, y))


def head_terms(state: LoweringState, op: rasp.AggregateOp, tolerance: float,
               magnitude: float, equal_values: bool) -> tuple[list[craft.Term], float]:
    """An Aggregate head's terms and the `term_error` it is built for: its keys and queries
    as they are (no snapping MLP, as tracr reads them) where the terms may be noisy
    (`term_tolerance`, with `direct` lookups on) and `numerics.attention_scale` finds a
    scale meeting `tolerance` with their actual error; else exact (noisy ones snapped)."""
    if state.direct and term_tolerance(state, op) is not None:
        terms = state.terms(op.selector, exact=False)
        error = state.term_error(terms)
        if error <= EXACT:
            return terms, 0.0
        noise = numerics.score_noise(1.0, len(terms), error, error)
        try:
            numerics.attention_scale(state.L, tolerance, max(magnitude, 1e-300), noise,
                                     equal_values=equal_values, label=op.label.data)
            return terms, error
        except UnsupportedProgramError:
            pass
    return state.terms(op.selector), 0.0


class LowerSelectorWidth(RaspLowering):
    OP = rasp.SelectorWidthOp

    def reads(self, op: rasp.SelectorWidthOp, analysis: Analysis) -> list[Read]:
        return selector_reads(op.selector, term_tolerance(analysis, op))

    def lower(self, op: rasp.SelectorWidthOp, state: LoweringState) -> SSAValue:
        label, y = op.label.data, op.output
        terms, error = width_terms(state, op)
        if encoding(y) == CAT:
            return state.add(craft.SelectorWidthOp(label, terms, state.space(label, y),
                                                   term_error=error))
        # The interpolating (direct) decoder where its queries and keys are float32-exact
        # (and lookups may pass errors on: not under LayerNorm), then the snapped one. Noisy
        # terms never are (nor are their snaps: a snapped head's output is exact only within
        # float32 rounding), so the snapped decoder reads them as they are.
        for direct in (True, False) if state.direct and not error else (False,):
            width = craft.SelectorWidthOp(label, terms, state.space(label, y), direct=direct,
                                          term_error=error)
            tolerances = width.input_tolerances(state.L)
            if all(fits(state.error(v), t) for v, t in zip(width.operands, tolerances)) \
                    and width.inexact_operand() is None \
                    and fits(state.bound_of(width).error, state.required(y)):
                return state.add(width)
            width.erase()
        values = state.values(y)
        mid = state.fresh(f"{label}_cat")
        cat = state.add(craft.SelectorWidthOp(mid, terms, Space.categorical(mid, values),
                                              term_error=error))
        return state.lookup(label, cat, {v: v for v in values}, state.space(label, y),
                            lookup_need(state, y))


def width_terms(state: LoweringState, op: rasp.SelectorWidthOp
                ) -> tuple[list[craft.Term], float]:
    """A SelectorWidth's terms and `term_error`: its keys and queries as they are where
    they are within `term_tolerance` (with `direct` lookups on), else exact (noisy ones
    snapped)."""
    tolerance = term_tolerance(state, op) if state.direct else None
    if tolerance is not None:
        terms = state.terms(op.selector, exact=False)
        error = state.term_error(terms)
        if error <= EXACT:
            return terms, 0.0
        if fits(error, tolerance):
            return terms, error
    return state.terms(op.selector), 0.0


class SelectorsAreTerms(RaspLowering):
    """Selector ops have no blocks: the heads reading them take their terms."""

    def matches(self, op: Operation) -> bool:
        return isinstance(op, (rasp.SelectOp, rasp.SelectorAndOp, rasp.SelectorOrOp,
                               rasp.SelectorNotOp))

    def reads(self, op: Operation, analysis: Analysis) -> list[Read]:
        return []

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        return


def _round_up(x: float) -> float:
    """`x` rounded up to 3 significant digits (a readable bound); `x` itself where that
    rounding would land below it (x just above a round number: 1 + 1e-11)."""
    if x <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(x)) - 2)
    rounded = math.ceil(x / step - 1e-9) * step if x / step % 1 else x
    return rounded if rounded >= x else x


#: The default lowerings, one per rasp op.
DEFAULT_LOWERINGS: tuple[type[RaspLowering], ...] = (
    LowerMap, LowerSequenceMap, LowerLinearSequenceMap, LowerFull, LowerAggregate,
    LowerSelectorWidth, SelectorsAreTerms,
)

#: User lowerings first, then the defaults (`register_lowering`).
LOWERINGS: list[type[RaspLowering]] = list(DEFAULT_LOWERINGS)


def register_lowering(lowering: type[RaspLowering]) -> type[RaspLowering]:
    """Class decorator: put a user's pattern ahead of every other, for the ops it matches
    (and its precision rule ahead of theirs)."""
    if lowering in LOWERINGS:
        LOWERINGS.remove(lowering)
    LOWERINGS.insert(0, lowering)
    return lowering


def unregister_lowering(lowering: type[RaspLowering]) -> None:
    if lowering in LOWERINGS:
        LOWERINGS.remove(lowering)


def lowering_for(op: Operation) -> RaspLowering | None:
    """The first registered pattern that lowers `op` (for its precision rule)."""
    for cls in LOWERINGS:
        pattern = cls()
        if pattern.matches(op):
            return pattern
    return None
