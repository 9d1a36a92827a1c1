"""The staged compiler API: Python RASP -> `rasp` IR -> passes, and running any stage.

```python
module = to_ir(program, vocab={1, 2, 3}, max_seq_len=5)
module = run_pipeline(module, "rasp-infer-values")
interpret(module, [3, 1, 2])      # == rasp.evaluate(program, [3, 1, 2])
```
The compiler API also re-exports what it is built on: the IR text helpers (`make_context`,
`parse_module`, `print_module`, `verify_module`) of `tracr_ir.ir_text`, `check_input` of
`tracr_ir.inputs` and `stage_op` of `tracr_ir.dialects.program`. The model it returns is the
JAX backend's `tracr_ir.backends.jax.CompiledModel`, imported only when a model is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import DiagnosticException, VerifyException

from tracr_ir import rasp as rasp_front
from tracr_ir.dialects import craft, rasp, transformer
from tracr_ir.dialects.program import stage_op
from tracr_ir.dialects.transformer_norm import format_float
from tracr_ir.errors import (
    ArgumentError,
    EvaluationError,
    IRError,
    PipelineError,
    TracrIRError,
    UnsupportedProgramError,
)
from tracr_ir.inputs import check_input
from tracr_ir.ir_text import make_context, parse_module, print_module, verify_module
from tracr_ir.universe import PASSES
from tracr_ir.values import canonical_values, check_value, format_value

if TYPE_CHECKING:
    from tracr_ir.backends.jax import CompiledModel

__all__ = [
    "DEFAULT_PIPELINE", "INTERPRETERS", "STAGE_PIPELINES", "PipelineCallback", "StageIR",
    "available_passes", "check_input", "compile_rasp_to_model", "default_pipeline",
    "format_output", "interpret", "layer_norm_pipeline", "make_context", "parse_module", "parse_pipeline",
    "print_module", "run_passes", "run_pipeline", "stage_name", "stage_op", "stage_pipeline",
    "to_ir", "verify_module",
]

_RASP = "rasp-infer-values,rasp-verify-causal"
#: The analyses lower-rasp-to-craft reads, each a pass of its own (printed between passes).
_ANALYSES = "rasp-refine-values,rasp-prove-facts,rasp-normalize-selectors,rasp-annotate-precision"
_CRAFT = (f"rasp-fuse-maps,{_ANALYSES},lower-rasp-to-craft,craft-verify-exactness,"
          "craft-allocate-layers{strategy=%s},craft-layout-residual")
_STAGES = {
    "to_ir": "",
    "rasp": _RASP,
    "craft": f"{_RASP},{_CRAFT}",
    "transformer": f"{_RASP},{_CRAFT},lower-craft-to-transformer",
}


def stage_pipeline(stage: str, allocator: str = "greedy") -> str:
    """The passes that take a fresh `to_ir` module to `stage` (`to_ir`, `rasp`, `craft` or
    `transformer`) with the given layer allocator (`greedy` or `solver`)."""
    if stage not in _STAGES:
        raise PipelineError(f"unknown stage '{stage}' (choose {', '.join(_STAGES)})")
    if allocator not in ("greedy", "solver"):
        raise PipelineError(f"unknown allocator '{allocator}' (choose greedy or solver)")
    return _STAGES[stage].replace("%s", allocator)


# The passes that take a fresh `to_ir` module to each stage (`tracr-compile --emit`).
STAGE_PIPELINES: dict[str, str] = {s: stage_pipeline(s) for s in ("rasp", "craft", "transformer")}
# The whole pipeline, from a fresh `to_ir` module to the transformer dialect.
DEFAULT_PIPELINE = STAGE_PIPELINES["transformer"]


def default_pipeline(allocator: str = "greedy") -> str:
    """The whole pipeline with the given layer allocator (`greedy` or `solver`)."""
    return stage_pipeline("transformer", allocator)


PipelineCallback = Callable[[ModulePass | None, ModuleOp, ModulePass | None], None]


### Python RASP -> rasp dialect.


def _hint(label: str) -> str:
    hint = re.sub(r"[^A-Za-z0-9_.$-]", "_", label)
    return hint if re.match(r"[A-Za-z_$.-]", hint) else f"v{hint}"


def _check_compile_args(vocab: Iterable[Any], max_seq_len: int, bos: str, pad: str) -> tuple:
    try:
        values = canonical_values(vocab, where="vocab")
    except TypeError:
        raise ArgumentError(f"vocab must be a collection of values, got {vocab!r}")
    if not values:
        raise ArgumentError("vocab is empty")
    if None in values:
        raise ArgumentError("None cannot be a token")
    if not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool) or max_seq_len < 1:
        raise ArgumentError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
    for role, token in (("compiler_bos", bos), ("compiler_pad", pad)):
        if not isinstance(token, str):
            raise ArgumentError(f"{role} must be a str, got {token!r}")
        if token in values:
            raise ArgumentError(f"{role} {token!r} is also in the vocab")
    if bos == pad:
        raise ArgumentError(f"compiler_bos and compiler_pad are both {bos!r}")
    return values


class _Builder:
    """Builds the ops of one program, operands first; each RASP node becomes one op."""

    def __init__(self, program: rasp.ProgramOp):
        self.program = program
        self.values: dict[int, SSAValue] = {}

    def add(self, op: rasp.RaspOp, hint: str) -> SSAValue:
        self.program.block.add_op(op)
        result = op.results[0]
        result.name_hint = _hint(hint)
        return result

    def sop_type(self, expr: rasp_front.SOp) -> rasp.SOpType:
        return rasp.SOpType(rasp_front.get_encoding(expr).value)

    def lower(self, expr: rasp_front.RASPExpr) -> None:
        label = expr.label
        ops = [self.values[id(c)] for c in expr.children]
        props: dict[str, Any] = {"label": rasp.StringAttr(label)}
        kind = rasp.SelectorType() if isinstance(expr, rasp_front.Selector) else None
        op_class: type[rasp.RaspOp]
        if isinstance(expr, (rasp_front.TokensType, rasp_front.IndicesType,
                             rasp_front.LengthType)):
            self.values[id(expr)] = self._primitive(expr)
            return
        if isinstance(expr, rasp_front.Map):
            op_class, props["fn"] = rasp.MapOp, rasp.PyFuncAttr(expr.f)
        elif isinstance(expr, rasp_front.LinearSequenceMap):
            op_class = rasp.LinearSequenceMapOp
            props["fst_fac"] = rasp.ValueAttr(self._value(expr.fst_fac, label))
            props["snd_fac"] = rasp.ValueAttr(self._value(expr.snd_fac, label))
        elif isinstance(expr, rasp_front.SequenceMap):
            op_class, props["fn"] = rasp.SequenceMapOp, rasp.PyFuncAttr(expr.f)
        elif isinstance(expr, rasp_front.Full):
            op_class, props["fill"] = rasp.FullOp, rasp.ValueAttr(self._value(expr.fill, label))
        elif isinstance(expr, rasp_front.Select):
            op_class = rasp.SelectOp
            if isinstance(expr.predicate, rasp_front.Comparison):
                props["comparison"] = rasp.ComparisonAttr(rasp.Comparison(expr.predicate.name))
            else:
                props["fn"] = rasp.PyFuncAttr(expr.predicate)
            for role, child in (("keys", expr.keys), ("queries", expr.queries)):
                if rasp_front.is_numerical(child):
                    raise UnsupportedProgramError(
                        f"a Select needs categorical {role}, but {child.label} is numerical",
                        label,
                    )
        elif isinstance(expr, rasp_front.SelectorAnd):
            op_class = rasp.SelectorAndOp
        elif isinstance(expr, rasp_front.SelectorOr):
            op_class = rasp.SelectorOrOp
        elif isinstance(expr, rasp_front.SelectorNot):
            op_class = rasp.SelectorNotOp
        elif isinstance(expr, rasp_front.Aggregate):
            op_class = rasp.AggregateOp
            props["default"] = rasp.ValueAttr(self._value(expr.default, label))
        elif isinstance(expr, rasp_front.SelectorWidth):
            op_class = rasp.SelectorWidthOp
        else:
            raise UnsupportedProgramError(
                f"{type(expr).__name__} cannot be compiled (it is for evaluation only)", label
            )
        result_type = kind or self.sop_type(expr)  # type: ignore[arg-type]
        op = op_class.create(operands=ops, result_types=[result_type], properties=props)
        self.values[id(expr)] = self.add(op, expr.name)

    def _primitive(self, expr: rasp_front.SOp) -> SSAValue:
        """tokens, indices or length (categorical); a numerical copy of one (`numerical(
        rasp.tokens)`) is a numerical identity Map of it, labelled like other nodes."""
        if isinstance(expr, rasp_front.TokensType):
            value = self.program.tokens
        elif isinstance(expr, rasp_front.IndicesType):
            value = self.program.indices
        else:
            value = self._length()
        if not rasp_front.is_numerical(expr):
            return value
        label = f"{expr.name}_{expr.unique_id}"
        op = rasp.MapOp.create(
            operands=[value], result_types=[rasp.SOpType(rasp.NUMERICAL)],
            properties={"label": rasp.StringAttr(label), "fn": rasp.PyFuncAttr(_identity)})
        return self.add(op, label)

    def _length(self) -> SSAValue:
        """`length` as SelectorWidth(Select(tokens, tokens, TRUE)), which it equals."""
        select = rasp.SelectOp.create(
            operands=[self.program.tokens, self.program.tokens],
            result_types=[rasp.SelectorType()],
            properties={
                "label": rasp.StringAttr("length_selector"),
                "comparison": rasp.ComparisonAttr(rasp.Comparison.TRUE),
            },
        )
        width = rasp.SelectorWidthOp.create(
            operands=[self.add(select, "length_selector")],
            result_types=[rasp.SOpType(rasp.CATEGORICAL)],
            properties={"label": rasp.StringAttr("length")},
        )
        return self.add(width, "length")

    @staticmethod
    def _value(value: Any, label: str) -> Any:
        check_value(value, label)
        return value


def _identity(x: Any) -> Any:
    return x


def to_ir(
    program: rasp_front.SOp,
    vocab: Iterable[Any],
    max_seq_len: int,
    compiler_bos: str = "BOS",
    compiler_pad: str = "PAD",
    causal: bool = False,
) -> ModuleOp:
    """The `rasp` module of `program`: one op per node, functions still Python callables."""
    if not isinstance(program, rasp_front.SOp):
        what = program.label if isinstance(program, rasp_front.RASPExpr) else repr(program)
        raise UnsupportedProgramError(f"a program must be an SOp, got {what}")
    values = _check_compile_args(vocab, max_seq_len, compiler_bos, compiler_pad)
    program_op = rasp.ProgramOp(values, max_seq_len, compiler_bos, compiler_pad, causal)
    program_op.tokens.name_hint = "tokens"
    program_op.indices.name_hint = "indices"
    builder = _Builder(program_op)
    for expr in rasp_front.walk(program):
        builder.lower(expr)
    program_op.block.add_op(rasp.OutputOp(builder.values[id(program)]))
    module = ModuleOp([program_op])
    verify_module(module)
    return module


### Passes.


def available_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    return dict(PASSES)


def parse_pipeline(spec: str, callback: PipelineCallback | None = None) -> PassPipeline:
    """A `PassPipeline` from a spec like `"rasp-infer-values{max-values=100},..."`."""
    try:
        return PassPipeline.parse_spec(available_passes(), spec, callback)
    except Exception as e:  # xDSL raises ValueError / PassPipelineParseError / others
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PipelineError(f"bad pass pipeline '{spec}': {message}") from None


def run_pipeline(
    module: ModuleOp,
    spec: str,
    callback: PipelineCallback | None = None,
    ctx: Context | None = None,
) -> ModuleOp:
    """Run the passes of `spec` on `module` in place and return it, verifying after each.

    `callback(previous_pass, module, next_pass)` runs before the first pass, between passes
    and after the last (`previous_pass` is None at the start, `next_pass` at the end).
    """
    return run_passes(module, parse_pipeline(spec).passes, callback, ctx)


def run_passes(
    module: ModuleOp,
    passes: Sequence[ModulePass],
    callback: PipelineCallback | None = None,
    ctx: Context | None = None,
) -> ModuleOp:
    """Run `passes` (instances) on `module` in place as `run_pipeline` does; an invalid
    module after a pass is an `IRError` naming the pass."""
    ctx = ctx or make_context()
    passes = list(passes)
    if callback is not None:
        callback(None, module, passes[0] if passes else None)
    for i, p in enumerate(passes):
        try:
            p.apply(ctx, module)
        except TracrIRError as e:
            _drop_notes(e)
            raise
        except (VerifyException, DiagnosticException) as e:
            raise PipelineError(f"pass '{p.name}' failed: {str(e).splitlines()[0]}") from e
        verify_module(module, after=p.name)
        if callback is not None:
            callback(p, module, passes[i + 1] if i + 1 < len(passes) else None)
    return module


### Running any stage.

# Top-level op class of a stage -> function running it on tokens (without BOS).
INTERPRETERS: dict[type[Operation], Callable[[Any, list[Any]], list[Any]]] = {}


def _run_rasp(program: rasp.ProgramOp, xs: list[Any]) -> list[Any]:
    from tracr_ir.interpreters.rasp import run_program

    return run_program(program, xs)


INTERPRETERS[rasp.ProgramOp] = _run_rasp


def _run_craft(program: craft.ProgramOp, xs: list[Any]) -> list[Any]:
    from tracr_ir.interpreters.craft import run_program

    return run_program(program, xs)


INTERPRETERS[craft.ProgramOp] = _run_craft


def _run_transformer(model: transformer.ModelOp, xs: list[Any]) -> list[Any]:
    from tracr_ir.interpreters.transformer import run_model

    return run_model(model, xs)


INTERPRETERS[transformer.ModelOp] = _run_transformer


def interpret(module: ModuleOp | str, xs: Sequence[Any]) -> list[Any]:
    """Run a module (or its IR text) of any stage on the tokens `xs` (without BOS)."""
    if isinstance(module, str):
        module = parse_module(module)
    op = stage_op(module)
    if type(op) not in INTERPRETERS:
        raise IRError(f"no interpreter runs {op.name}")
    xs = check_input(xs, op.vocab_values, op.length)
    try:
        return INTERPRETERS[type(op)](op, xs)
    except TracrIRError as e:
        _drop_notes(e)
        raise
    except Exception as e:  # a user function raised inside the interpreter
        _drop_notes(e)
        raise EvaluationError(f"{type(e).__name__}: {e}") from e


def _drop_notes(error: BaseException) -> None:
    """xDSL's interpreter attaches the whole printed module to errors; keep messages short."""
    if hasattr(error, "__notes__"):
        del error.__notes__


def format_output(values: Sequence[Any]) -> str:
    return "[" + ", ".join(format_value(v) for v in values) + "]"


### The whole compiler.


class StageIR(MutableMapping[str, str]):
    """The IR text of each stage a compilation passed through (`rasp`, `craft`,
    `transformer`), printed when first read: `model.ir["craft"]`.

    Recording a stage keeps a copy of its module (linear in the IR); printing it, which for
    the transformer stage means every weight, happens only when someone reads the text.
    Text can also be stored directly (`ir["transformer"] = text`, as `load` does).
    """

    def __init__(self) -> None:
        self._modules: dict[str, ModuleOp] = {}
        self._text: dict[str, str] = {}

    def record(self, module: ModuleOp) -> None:
        """Keep a copy of `module` as the latest IR of its stage."""
        stage = stage_name(module)
        self._modules[stage] = module.clone()
        self._text.pop(stage, None)

    def module(self, stage: str) -> ModuleOp:
        """The recorded module of `stage` (a copy: changing it changes nothing here)."""
        if stage not in self._modules:
            return parse_module(self._text[stage])
        return self._modules[stage].clone()

    def __getitem__(self, stage: str) -> str:
        if stage not in self._text:
            self._text[stage] = print_module(self._modules[stage])
        return self._text[stage]

    def __setitem__(self, stage: str, text: str) -> None:
        self._modules.pop(stage, None)
        self._text[stage] = text

    def __delitem__(self, stage: str) -> None:
        if stage not in self._modules and stage not in self._text:
            raise KeyError(stage)
        self._modules.pop(stage, None)
        self._text.pop(stage, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._modules), **dict.fromkeys(self._text)})

    def __len__(self) -> int:
        return len(set(self._modules) | set(self._text))

    def __repr__(self) -> str:
        return f"StageIR({list(self)})"


#: Passes that leave a module in the dialect it is in (every registered pass but the
#: lowerings): `compile_rasp_to_model` copies a stage's IR only before a pass not listed here.
STAGE_KEEPING_PASSES = frozenset(PASSES) - {"lower-rasp-to-craft", "lower-craft-to-transformer"}


def stage_name(module: ModuleOp) -> str:
    """`rasp`, `craft` or `transformer`: the dialect of the module's program op."""
    return stage_op(module).name.split(".")[0]


def layer_norm_pipeline(spec: str, eps: float = 1e-5) -> str:
    """`spec` with `craft-layer-norm{eps=...}` before `lower-craft-to-transformer` and
    `transformer-layer-norm` right after it (the LayerNorm-robust construction), precision
    annotated at half the budget, every lookup snapped (a `direct` one passes its input's error
    on, and the LayerNorm's deviation adds to it) and the residual laid out without reuse (a
    cleaning MLP reads its value through the LayerNorm, so it would leave a residue)."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < float("inf"):
        raise ArgumentError(f"layer_norm must be True or a positive eps, got {eps!r}")
    lowering = "lower-craft-to-transformer"
    names = [p.split("{")[0] for p in _split(spec)]
    if lowering not in names:
        raise PipelineError(f"layer_norm needs a pipeline with {lowering}")
    parts = _split(spec)
    i = names.index(lowering)
    replaced = {"rasp-annotate-precision": "rasp-annotate-precision{share=0.5}",
                "lower-rasp-to-craft": "lower-rasp-to-craft{direct=false}",
                "craft-layout-residual": "craft-layout-residual{reuse=false}"}
    parts = [replaced.get(p.strip(), p) for p in parts]
    parts[i:i + 1] = [f"craft-layer-norm{{eps={format_float(eps)}}}", lowering,
                      "transformer-layer-norm"]
    return ",".join(parts)


def _split(spec: str) -> list[str]:
    """The passes of a spec, split at the commas outside `{...}`."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(spec):
        depth += (c == "{") - (c == "}")
        if c == "," and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    return [p.strip() for p in parts if p.strip()]


def compress_spec(compress: str | int) -> str:
    """The `transformer-compress` pass for `compile_rasp_to_model(compress=...)`: `"lossless"`
    or a residual width N (learned)."""
    if compress == "lossless":
        return "transformer-compress{method=lossless}"
    if isinstance(compress, int) and not isinstance(compress, bool) and compress > 0:
        return f"transformer-compress{{method=learned dim={compress}}}"
    raise PipelineError(f"compress must be 'lossless' or a positive int (the residual width), "
                        f"got {compress!r}")


def compile_rasp_to_model(
    program: rasp_front.SOp,
    vocab: Iterable[Any],
    max_seq_len: int,
    causal: bool = False,
    compiler_bos: str = "BOS",
    compiler_pad: str = "PAD",
    mlp_exactness: int | None = None,
    *,
    allocator: str = "greedy",
    pipeline: str | None = None,
    print_ir_after_all: bool = False,
    compress: str | int | None = None,
    layer_norm: bool | float = False,
) -> CompiledModel:
    """Compile `program` into a jit-compiled JAX model (`tracr_ir.backends.jax.CompiledModel`).

    The arguments up to `mlp_exactness` are tracr's, in tracr's order (`tracr_ir.compiling`
    also has tracr's default BOS and PAD tokens). `mlp_exactness` is accepted and unused: every
    MLP's constants are derived from the value sets of its input (docs/exactness.md).
    `pipeline` replaces the default pass spec (`default_pipeline(allocator)`); it must end in
    the transformer dialect. The model's `ir` maps each stage to its IR text.
    `compress="lossless"` or a width N ends the pipeline with
    `transformer-compress{method=lossless}` or `{method=learned dim=N}` (a smaller residual:
    `tracr_ir.passes.transformer_compress`; `tracr_ir.compression.report_of(model)` tells
    how exact it is).
    `layer_norm=True` (or an eps, default 1e-5) builds weights that stay exact under a
    LayerNorm before every sublayer and the readout, which the model then applies
    (`layer_norm_pipeline`, docs/layer_norm.md).
    """
    del mlp_exactness
    from tracr_ir.backends.jax import build

    spec = pipeline or default_pipeline(allocator)
    if layer_norm is not False:
        if compress is not None:
            raise PipelineError("layer_norm and compress do not compose: compression changes "
                                "the residual the LayerNorm construction keeps at a known scale")
        spec = layer_norm_pipeline(spec, 1e-5 if layer_norm is True else layer_norm)
    if compress is not None:
        spec += "," + compress_spec(compress)
    module = to_ir(program, vocab, max_seq_len, compiler_bos, compiler_pad, causal)
    stages = StageIR()

    def callback(previous: ModulePass | None, module: ModuleOp,
                 following: ModulePass | None) -> None:
        if following is None or following.name not in STAGE_KEEPING_PASSES:
            stages.record(module)  # the last IR of a stage: copied once per stage
        if print_ir_after_all:
            title = "to_ir" if previous is None else f"after {previous.pipeline_pass_spec()}"
            print(f"// -----// IR Dump {title} //----- //")
            print(print_module(module), end="\n\n")

    run_pipeline(module, spec, callback=callback)
    if stage_name(module) != "transformer":
        raise PipelineError(
            f"the pipeline ends in the {stage_name(module)} dialect; compile_rasp_to_model "
            "needs it to end in the transformer dialect"
        )
    return build(module, ir=stages)
