"""`tracr-dataset --n N --seed S --out DIR`: a Parquet dataset of random compiled programs.

Program `i` is drawn from (seed, i) alone, so the same options give the same rows on either
engine with any number of workers. Shards of `--shard-size` programs are written atomically;
rerunning on the same `--out` computes only the shards not written yet. Progress goes to
stderr, the summary to stdout. Needs the `datasets` extra: `pip install 'tracr-ir[datasets]'`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from tracr_ir.tools.common import parse_token, run_tool


def _nodes(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        return (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got '{text}'") from None


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tracr-dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="how many programs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="the dataset directory")
    parser.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="local worker processes (default) or Ray tasks (RAY_ADDRESS, "
                             "else a local cluster)")
    parser.add_argument("--workers", type=int, default=2, help="programs compiled at once")
    parser.add_argument("--vocab", default="1,2,3", help="comma-separated tokens")
    parser.add_argument("--max-seq-len", type=int, default=5)
    parser.add_argument("--nodes", type=_nodes, default=(4, 16),
                        help="program size in nodes, N or MIN-MAX (default 4-16)")
    parser.add_argument("--examples", type=int, default=4, help="example inputs per row")
    parser.add_argument("--shard-size", type=int, default=100)
    parser.add_argument("--categorical-only", action="store_true",
                        help="no numerical s-ops in the programs")
    parser.add_argument("--pipeline", help="a pass pipeline replacing the default one")
    parser.add_argument("--check", action="store_true",
                        help="then rebuild every model and check it on its row's examples")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    args = parser.parse_args(argv)

    from tracr_ir import datasets

    options = datasets.DatasetOptions(
        n=args.n, seed=args.seed, vocab=tuple(parse_token(t) for t in args.vocab.split(",")
                                             if t != ""),
        max_seq_len=args.max_seq_len, min_nodes=args.nodes[0], max_nodes=args.nodes[1],
        n_examples=args.examples, shard_size=args.shard_size,
        numerical=not args.categorical_only, pipeline=args.pipeline)
    summary = datasets.generate(args.out, options, engine=args.engine, workers=args.workers,
                                progress=None if args.quiet else sys.stderr)
    print(summary.format())
    if args.check:
        start, checked = time.monotonic(), 0
        for row in datasets.read(args.out):
            if row["status"] == "compiled":
                datasets.check_row(row)
                checked += 1
        print(f"check: {checked} models rebuilt from their rows reproduce their examples "
              f"({time.monotonic() - start:.1f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("tracr-dataset", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
