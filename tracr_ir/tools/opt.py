"""`tracr-opt`: the mlir-opt of tracr-ir, on xDSL's `xDSLOptMain`.

```
tracr-opt prog.mlir -p rasp-infer-values --print-ir-after-all
```
Only this project's dialects (and builtin) and passes are loaded, and the input is parsed by
this project's parser (`tracr_ir.xdsl_fixes.TracrParser`: xDSL's, with its bugs fixed).
Errors (unknown pass, bad option, parse or verify error, a pass producing invalid IR) print a
diagnostic and exit with status 1; any other exception is a bug of tracr-ir or of a plugin
and prints `tracr-opt: internal error: ...`. `--debug` shows the Python traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.xdsl_opt_main import xDSLOptMain

from tracr_ir.errors import PipelineError, TracrIRError
from tracr_ir.universe import PASSES, all_dialects
from tracr_ir.xdsl_fixes import TracrParser


def pass_title(p: ModulePass) -> str:
    """The pass as it is written in a pipeline spec, options included."""
    return str(p.pipeline_pass_spec())


class TracrOptMain(xDSLOptMain):
    version_format = "tracr-opt (tracr-ir) built on xdsl {xdsl_version}"

    def register_all_dialects(self) -> None:
        for name, factory in all_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_frontends(self) -> None:
        """MLIR text is parsed by this project's parser (`tracr_ir.xdsl_fixes`)."""
        super().register_all_frontends()

        def parse_mlir(io: IO[bytes]) -> ModuleOp:
            return TracrParser(self.ctx, io.read(), self.get_input_name()).parse_module(
                not self.args.no_implicit_module)

        self.available_frontends["mlir"] = parse_mlir

    def register_all_passes(self) -> None:
        for name, factory in PASSES.items():
            self.register_pass(name, factory)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument(
            "--print-ir-after-all", action="store_true",
            help="print the IR after every pass, the last one included",
        )
        arg_parser.add_argument(
            "--print-ir-before-all", action="store_true", help="print the IR before every pass"
        )
        arg_parser.add_argument(
            "--debug", action="store_true", help="show Python tracebacks on errors"
        )
        arg_parser.add_argument(
            "--load-pass-plugin", action="append", default=[], metavar="FILE.py",
            help="import a Python file whose @tracr_ir.register_pass passes become available",
        )

    def setup_pipeline(self) -> None:
        def callback(previous: ModulePass | None, module: ModuleOp,
                     following: ModulePass | None) -> None:
            if not self.args.disable_verify:
                verify_after(previous, module)
            if previous is not None and self.args.print_ir_after_all:
                self._dump(f"IR Dump After {pass_title(previous)}", module)
            if following is not None and self.args.print_ir_before_all:
                self._dump(f"IR Dump Before {pass_title(following)}", module)

        try:
            self.pipeline = PassPipeline.parse_spec(
                self.available_passes, self.args.passes, callback
            )
        except Exception as e:
            raise PipelineError(f"bad pass pipeline '{self.args.passes}': {e}") from e

    def _dump(self, title: str, module: ModuleOp) -> None:
        print(f"// -----// {title} //----- //")
        Printer(stream=sys.stdout).print_op(module)
        print("\n")


def verify_after(previous: ModulePass | None, module: ModuleOp) -> None:
    """Verify `module`; after a pass, the error names the pass that produced invalid IR (it
    stays a `VerifyException`, so `--verify-diagnostics` still reports it)."""
    try:
        module.verify()
    except VerifyException as e:
        if previous is None:
            raise
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VerifyException(f"invalid IR after pass '{previous.name}': {message}") from e


def load_pass_plugins(argv: Sequence[str]) -> None:
    """Import the files named by `--load-pass-plugin` before passes are registered."""
    for i, arg in enumerate(argv):
        path = None
        if arg == "--load-pass-plugin" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--load-pass-plugin="):
            path = arg.split("=", 1)[1]
        if path is not None:
            load_plugin(path)


def load_plugin(path: str) -> None:
    from pathlib import Path

    from tracr_ir.tools.common import import_file

    file = Path(path)
    if not file.is_file():
        raise PipelineError(f"no such pass plugin: {path}")
    import_file(file, f"tracr_ir_plugin_{file.stem}")


def main(args: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv
    try:
        load_pass_plugins(argv)
        TracrOptMain(args=argv).run()
    except SystemExit:
        raise
    except Exception as e:
        if debug:
            raise
        print(diagnostic(e), file=sys.stderr)
        return 1
    return 0


# What a user's input or pipeline can cause; anything else is an internal error (a bug).
DIAGNOSED = (TracrIRError, ParseError, DiagnosticException)


def diagnostic(error: BaseException) -> str:
    """`FILE:LINE:COL: error: message` then the source line (parse errors, as mlir-opt
    prints them), `tracr-opt: error: message` (other diagnosed errors: verify errors, passes
    refusing a program, ...) or `tracr-opt: internal error: Type: message` (a bug)."""
    text = str(error).strip() or type(error).__name__
    lines = text.splitlines()
    if not isinstance(error, DIAGNOSED):
        return (f"tracr-opt: internal error: {type(error).__name__}: {lines[0] if lines else ''}"
                "\n(this is a bug; run again with --debug for the traceback)")
    if isinstance(error, ParseError) and len(lines) >= 3:
        snippet = "\n".join(lines[1:-1])
        return f"{lines[0]}: error: {lines[-1].strip()}\n{snippet}"
    return f"tracr-opt: error: {lines[0] if isinstance(error, TracrIRError) else text}"


if __name__ == "__main__":
    sys.exit(main())
