"""Numerical SelectorWidth against tracr-pypi 1.0.0: layers, MLP width and exactness.

    .venv/bin/python bench/selector_width.py                      # L = 5, 10, 32, 64
    .venv/bin/python bench/selector_width.py --lengths 5,10 --inputs 50

Two programs, each compiled by both compilers in this run (tracr's from its own classes,
`tracr_bridge.to_tracr`): tracr's `make_length` with a numerical output, and the numerical
SelectorWidth of a seeded random selector (a boolean table over the tokens). For each L:

- layers: the model's layers;
- mlp: the MLP hidden units of all layers (tracr's before padding, `tracr_mlp_widths`);
- exact: inputs (random lengths 1..L, and L itself) whose every output is within 5e-5 of
  `rasp.evaluate` (the numerical output tolerance of docs/exactness.md), and the largest error.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import tracr_bridge as tb  # noqa: E402

from tracr_ir import lib, rasp  # noqa: E402
from tracr_ir.compiler import compile_rasp_to_model  # noqa: E402

TOLERANCE = 5e-5
VOCAB = [1, 2, 3, 4]


def programs(seed: int = 7) -> dict[str, rasp.SOp]:
    rng = random.Random(seed)
    table = {(k, q): rng.random() < 0.5 for k in VOCAB for q in VOCAB}
    selector = rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: table[(k, q)])
    return {"make_length (numerical)": rasp.numerical(lib.make_length()),
            "random selector width": rasp.numerical(rasp.SelectorWidth(selector)).named("width")}


def inputs(max_seq_len: int, n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    lengths = [max_seq_len] + [rng.randint(1, max_seq_len) for _ in range(n - 1)]
    return [[rng.choice(VOCAB) for _ in range(k)] for k in lengths]


def exactness(outputs: list[list], program: rasp.SOp, xs: list[list]) -> tuple[int, float]:
    exact, worst = 0, 0.0
    for got, x in zip(outputs, xs):
        errors = [abs(float(a) - float(b)) for a, b in zip(got, rasp.evaluate(program, x))]
        worst = max(worst, *errors)
        exact += max(errors) <= TOLERANCE
    return exact, worst


def row(name: str, program: rasp.SOp, max_seq_len: int, n: int) -> str:
    xs = inputs(max_seq_len, n)
    ours = compile_rasp_to_model(program, VOCAB, max_seq_len)
    stats = ours.stats()
    ours_exact, ours_err = exactness([o[1:] for o in ours.apply_batch([["BOS", *x] for x in xs])],
                                     program, xs)
    theirs = tb.compile_tracr(tb.to_tracr(program), VOCAB, max_seq_len)
    tstats = tb.tracr_stats(theirs)
    forward = tb.tracr_forward(theirs)
    tracr_exact, tracr_err = exactness([tb.tracr_apply(theirs, x, forward) for x in xs],
                                       program, xs)
    ours_mlp = sum(stats["mlp_hidden_per_layer"])
    return (f"| {name} | {max_seq_len} | {stats['layers']} | {tstats['layers']} | {ours_mlp} | "
            f"{tstats['mlp_total']} | {ours_mlp / tstats['mlp_total']:.2f} | "
            f"{ours_exact}/{n} ({ours_err:.1e}) | {tracr_exact}/{n} ({tracr_err:.1e}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="5,10,32,64")
    parser.add_argument("--inputs", type=int, default=100)
    args = parser.parse_args()
    print("| program | L | layers | tracr | MLP units | tracr | ratio | exact (max error) "
          "| tracr exact (max error) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, program in programs().items():
        for max_seq_len in (int(x) for x in args.lengths.split(",")):
            print(row(name, program, max_seq_len, args.inputs), flush=True)


if __name__ == "__main__":
    main()
