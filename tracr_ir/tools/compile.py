"""`tracr-compile module.py:NAME --vocab a,b,c --max-seq-len N --emit rasp`: a Python program
to IR.

`NAME` is a RASP s-op in the file, or a function of no arguments returning one. `--emit STAGE`
runs the passes up to that stage and writes its IR to stdout or `-o`. Without `--emit`, the
whole model is compiled and `-o` gets its weights with labels and metadata as `transformer`
IR (bit-exact; `tracr_ir.load(path)` builds the model again); without `-o` its stats print.
`--compress lossless|N` ends the pipeline with `transformer-compress` (lossless, or learned to
width N) and prints its report on stderr. `--plot DIR` writes pictures of the model into DIR
(`tracr_ir.viz.write_plots`: the residual stream of `--plot-input`, each layer's weights, the
program graph as DOT, and SVG when graphviz's `dot` is installed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracr_ir.tools.common import import_file, parse_token, run_tool


def load_program(spec: str) -> Any:
    """The object `NAME` of `path.py:NAME` (called if it is a function)."""
    from tracr_ir import rasp
    from tracr_ir.errors import UnsupportedProgramError

    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise UnsupportedProgramError(f"expected FILE.py:NAME, got '{spec}'")
    file = Path(path)
    if not file.is_file():
        raise UnsupportedProgramError(f"no such file: {path}")
    module = import_file(file, file.stem)
    if not hasattr(module, name):
        raise UnsupportedProgramError(f"{path} has no attribute '{name}'")
    program = getattr(module, name)
    if callable(program) and not isinstance(program, rasp.RASPExpr):
        program = program()
    if not isinstance(program, rasp.SOp):
        raise UnsupportedProgramError(f"{spec} is not a RASP SOp (got {type(program).__name__})")
    return program


def _main(argv: Sequence[str]) -> int:
    from tracr_ir.compiler import STAGE_PIPELINES

    parser = argparse.ArgumentParser(prog="tracr-compile", description=__doc__.splitlines()[0])
    parser.add_argument("program", help="path/to/module.py:NAME")
    parser.add_argument("--vocab", required=True, help="comma-separated tokens")
    parser.add_argument("--max-seq-len", type=int, required=True)
    parser.add_argument("--bos", default="BOS")
    parser.add_argument("--pad", default="PAD")
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--allocator", choices=["greedy", "solver"], default="greedy")
    parser.add_argument("--emit", choices=list(STAGE_PIPELINES))
    parser.add_argument("-o", "--output", help="output file (default: stdout)")
    parser.add_argument("--print-ir-after-all", action="store_true")
    parser.add_argument("--compress", type=_compress_arg, metavar="lossless|N",
                        help="a smaller residual: lossless, or learned of width N")
    parser.add_argument("--layer-norm", nargs="?", type=float, const=1e-5, default=None,
                        metavar="EPS", help="weights exact under a LayerNorm before every "
                        "sublayer (eps 1e-5 unless given; docs/layer_norm.md)")
    parser.add_argument("--plot", metavar="DIR", help="write pictures of the model into DIR")
    parser.add_argument("--plot-input", metavar="TOKENS",
                        help="space-separated tokens (without BOS) of the residual picture "
                             "(default: max_seq_len tokens cycling through the vocab)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    args = parser.parse_args(argv)
    if args.emit is not None and args.plot is not None:
        parser.error("--plot draws the compiled model: it cannot be used with --emit")

    from tracr_ir.compiler import compile_rasp_to_model, print_module, run_pipeline, to_ir

    program = load_program(args.program)
    vocab = [parse_token(t) for t in args.vocab.split(",") if t != ""]
    if args.emit is None:
        model = compile_rasp_to_model(program, vocab, args.max_seq_len, causal=args.causal,
                                      compiler_bos=args.bos, compiler_pad=args.pad,
                                      allocator=args.allocator,
                                      print_ir_after_all=args.print_ir_after_all,
                                      compress=args.compress,
                                      layer_norm=(False if args.layer_norm is None
                                                  else args.layer_norm))
        if args.compress is not None:
            from tracr_ir.compression import report_of

            print(f"tracr-compile: {report_of(model)}", file=sys.stderr)
        if args.output:
            model.save(args.output)
        elif args.plot is None:
            print(model.stats())
        if args.plot is not None:
            _plot(model, args.plot, args.plot_input)
        return 0
    module = to_ir(program, vocab, args.max_seq_len, args.bos, args.pad, args.causal)

    def dump(previous: Any, module: Any, _next: Any) -> None:
        if previous is not None:
            print(f"// -----// IR Dump After {previous.pipeline_pass_spec()} //----- //")
            print(print_module(module), end="\n\n")

    callback = dump if args.print_ir_after_all else None
    spec = STAGE_PIPELINES[args.emit]
    if args.allocator != "greedy" and args.emit != "rasp":
        spec = spec.replace("strategy=greedy", f"strategy={args.allocator}")
    if args.compress is not None:
        if args.emit != "transformer":
            parser.error("--compress needs the transformer stage (--emit transformer)")
        from tracr_ir.compiler import compress_spec

        spec += "," + compress_spec(args.compress)
    if args.layer_norm is not None:
        if args.compress is not None:
            parser.error("--layer-norm and --compress do not compose")
        if args.emit != "transformer":
            parser.error("--layer-norm needs the transformer stage (--emit transformer)")
        from tracr_ir.compiler import layer_norm_pipeline

        spec = layer_norm_pipeline(spec, args.layer_norm)
    run_pipeline(module, spec, callback=callback)
    text = print_module(module)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0


def _plot(model: Any, directory: str, tokens: str | None) -> None:
    from tracr_ir.viz import write_plots

    w = model.weights
    if tokens is None:
        seq = [w.vocab[i % len(w.vocab)] for i in range(w.max_seq_len)]
    else:
        seq = [parse_token(t, w.vocab) for t in tokens.split()]
    for path in write_plots(model, [w.bos, *seq], directory):
        print(f"tracr-compile: wrote {path}", file=sys.stderr)


def _compress_arg(text: str) -> str | int:
    if text == "lossless":
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected lossless or a positive width, got '{text}'")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("tracr-compile", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
