"""`tracr-run FILE.mlir --input "a b c"`: interpret a module of any stage and print its output.

Tokens are separated by spaces and matched against the module's vocab by their printed form;
the output is printed as IR values, e.g. `[1, 2, none]`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tracr_ir.tools.common import parse_token, run_tool


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tracr-run", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="IR file ('-' for stdin)")
    parser.add_argument("--input", action="append", required=True,
                        help="space-separated tokens, without BOS (repeat for several inputs)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    args = parser.parse_args(argv)

    from tracr_ir.compiler import format_output, interpret, parse_module, stage_op

    text = sys.stdin.read() if args.file == "-" else open(args.file).read()
    module = parse_module(text)
    vocab = stage_op(module).vocab_values  # type: ignore[attr-defined]
    for line in args.input:
        tokens = [parse_token(t, vocab) for t in line.split()]
        print(format_output(interpret(module, tokens)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("tracr-run", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
