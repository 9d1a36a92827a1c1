"""`make demo`: compile a lib program through every stage, printing each stage's IR, then run
the jit-compiled JAX model beside `rasp.evaluate` and every stage's interpreter.

    python -m tracr_ir.demo [--program sort_unique|hist|reverse|frac_prevs] [--input 3 1 2]
"""

from __future__ import annotations

import argparse
import sys

from tracr_ir import lib, rasp
from tracr_ir.compiler import compile_rasp_to_model, format_output, interpret
from tracr_ir.tools.common import parse_token

PROGRAMS = {
    "sort_unique": (lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), [1, 2, 3, 4, 5]),
    "hist": (lib.make_hist, ["a", "b", "c"]),
    "reverse": (lambda: lib.make_reverse(rasp.tokens), ["a", "b", "c"]),
    "frac_prevs": (lambda: lib.make_frac_prevs(rasp.tokens == "x"), ["x", "y"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", choices=sorted(PROGRAMS), default="sort_unique")
    parser.add_argument("--max-seq-len", type=int, default=5)
    parser.add_argument("--input", nargs="*", help="tokens (default: a sample input)")
    args = parser.parse_args(argv)

    make, vocab = PROGRAMS[args.program]
    program = make()
    inputs = [parse_token(t, vocab) for t in args.input] if args.input else [
        vocab[(3 * i + 2) % len(vocab)] for i in range(min(args.max_seq_len, 4))
    ]

    model = compile_rasp_to_model(program, vocab, args.max_seq_len)
    for stage, text in model.ir.items():
        print(f"// -----// {stage} dialect //----- //")
        print(text, end="\n\n")
    print(f"input:                     {format_output(inputs)}")
    print(f"rasp.evaluate:             {format_output(rasp.evaluate(program, inputs))}")
    for stage, text in model.ir.items():
        print(f"{'interpret(' + stage + ' IR):':<27}{format_output(interpret(text, inputs))}")
    decoded = model.apply(["BOS", *inputs]).decoded
    print(f"JAX model:                 {format_output(decoded[1:])}  (decoded: {decoded})")
    print(f"model.stats():             {model.stats()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
