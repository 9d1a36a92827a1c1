"""The programs the per-program benches (`allocation.py`, `mlp_width.py`) measure: their
common options, and the random programs they draw."""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator

from tracr_ir.rasp import SOp
from tracr_ir.testing import random_program


def add_program_args(ap: argparse.ArgumentParser) -> None:
    """--lengths (lib programs), --random, --nodes, --random-length, --seed, --json."""
    ap.add_argument("--lengths", default="5,10", help="max_seq_len of the lib programs")
    ap.add_argument("--random", type=int, default=200, help="random programs (0: none)")
    ap.add_argument("--nodes", type=int, default=10, help="nodes per random program")
    ap.add_argument("--random-length", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH")


def lengths(args: argparse.Namespace) -> list[int]:
    return [int(x) for x in args.lengths.split(",") if x]


def random_programs(args: argparse.Namespace) -> Iterator[tuple[str, SOp]]:
    """(`random_<i>`, program) for the `--random` programs: about `--nodes` nodes at
    `--random-length`, without Full or composite selectors (tracr compiles neither)."""
    rng = random.Random(args.seed)
    for i in range(args.random):
        yield f"random_{i}", random_program(rng, args.nodes, max_seq_len=args.random_length,
                                            composite_selectors=False, full=False)
