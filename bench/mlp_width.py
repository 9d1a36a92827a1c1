"""MLP hidden width against tracr-pypi 1.0.0, per program, both compiled in this run.

    .venv/bin/python bench/mlp_width.py                          # lib at 5 and 10, 200 random
    .venv/bin/python bench/mlp_width.py --lengths 5,10,32 --random 0
    .venv/bin/python bench/mlp_width.py --random 500 --nodes 12 --json widths.json

For every program of `tests/lib_cases.py` and every length L, and for `--random` programs
drawn by `tracr_ir.testing.random_program` (about `--nodes` nodes, no Full and no composite
selectors, which tracr does not compile; programs tracr refuses are counted and skipped),
the same program goes through both compilers (rebuilt node for node from tracr's classes,
`tracr_bridge.to_tracr_with_labels`) up to their layer allocation:

- widest: the widest MLP layer (tracr pads every layer to it; `stats()["mlp_hidden"]`);
- total: the hidden units of all MLP layers (tracr's before padding).

Widths only: no weights are assembled and nothing is run (`bench/compare_tracr.py` measures
exactness, parameters and times). Ratios are ours / tracr; the summary gives their geometric
means and the programs where ours is wider.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import tracr_bridge as tb  # noqa: E402
from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir.errors import TracrIRError  # noqa: E402
from tracr_ir.testing import random_program  # noqa: E402


def measure(program: Any, vocab: Any, length: int) -> dict[str, Any] | None:
    """Both compilers' widths, or None if tracr refuses the program."""
    tracr_program, labels = tb.to_tracr_with_labels(program)
    try:
        _, tracr_layers, _ = tb.tracr_mlp_block_widths(tracr_program, vocab, length)
    except Exception:  # noqa: BLE001 - tracr refuses in many ways
        return None
    try:
        _, our_layers = tb.our_mlp_block_widths(program, vocab, length, list(labels))
    except TracrIRError as e:
        return {"error": str(e).splitlines()[0]}
    return {"ours": {"widest": max(our_layers, default=0), "total": sum(our_layers)},
            "tracr": {"widest": max(tracr_layers, default=0), "total": sum(tracr_layers)}}


def ratio(row: dict[str, Any], key: str) -> float | None:
    a, b = row["ours"][key], row["tracr"][key]
    return (1.0 if a == 0 else None) if b == 0 else a / b


def geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x]
    return math.exp(statistics.mean(math.log(x) for x in xs)) if xs else math.nan


def summary(rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
    ok = [r for r in rows if "ours" in r]
    out = {"programs": len(ok), "refused_by_us": len(rows) - len(ok)}
    for key in ("widest", "total"):
        rs = [ratio(r, key) for r in ok]
        out[f"{key}_geomean"] = geomean([x for x in rs if x is not None])
        out[f"{key}_wider"] = [r["program"] for r, x in zip(ok, rs) if x is not None and x > 1]
    print(f"{what}: {out['programs']} programs; geometric mean ours/tracr: widest MLP layer "
          f"{out['widest_geomean']:.2f}, total hidden {out['total_geomean']:.2f}; wider than "
          f"tracr: widest {len(out['widest_wider'])} {out['widest_wider'][:8]}, total "
          f"{len(out['total_wider'])} {out['total_wider'][:8]}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", default="5,10", help="max_seq_len of the lib programs")
    ap.add_argument("--random", type=int, default=200, help="random programs (0: none)")
    ap.add_argument("--nodes", type=int, default=10, help="nodes per random program")
    ap.add_argument("--random-length", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)

    results: dict[str, Any] = {}
    for length in [int(x) for x in args.lengths.split(",") if x]:
        rows = []
        print(f"\n### lib programs, max_seq_len {length}: ours / tracr (ratio)\n")
        print("| program | widest MLP layer | total hidden |")
        print("|---|---|---|")
        for case in LIB_CASES:
            row = measure(case.make(length), case.vocab, length)
            if row is None or "error" in row:
                print(f"| {case.name} | {row and row.get('error') or 'refused by tracr'} | |")
                continue
            row["program"] = case.name
            rows.append(row)
            cells = [f"{row['ours'][k]} / {row['tracr'][k]} ({ratio(row, k) or 0:.2f})"
                     for k in ("widest", "total")]
            print(f"| {case.name} | " + " | ".join(cells) + " |")
        print()
        results[f"lib_{length}"] = {"rows": rows, "summary": summary(rows, f"lib L={length}")}
    if args.random:
        rng = random.Random(args.seed)
        rows, refused = [], 0
        for i in range(args.random):
            program = random_program(rng, args.nodes, max_seq_len=args.random_length,
                                     composite_selectors=False, full=False)
            row = measure(program, frozenset({1, 2, 3}), args.random_length)
            if row is None:
                refused += 1
                continue
            row["program"] = f"random_{i}"
            rows.append(row)
        print(f"\nrandom programs: {args.random} drawn, {refused} refused by tracr")
        results["random"] = {"rows": rows, "tracr_refused": refused,
                             "summary": summary(rows, f"random L={args.random_length}")}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
