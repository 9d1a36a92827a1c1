"""Apply latency over inputs of varied lengths, and batched throughput: tracr-ir against
tracr-pypi 1.0.0 on the same programs, inputs and machine, in the same run.

    .venv/bin/python bench/apply_latency.py                      # max_seq_len 5, 10, 32, 64
    .venv/bin/python bench/apply_latency.py --lengths 5,10 --calls 30 --json out.json
    .venv/bin/python bench/apply_latency.py --programs make_hist --no-tracr

For each program and max_seq_len L, both compilers compile the program; then
- **1st apply ms**: the first `apply` (ours traces and compiles the forward here, once);
- **apply ms**: the median and the slowest of `--calls` further `apply` calls on inputs
  whose lengths are drawn from 1..L (a new length every call). Ours pads every input to
  L + 1 positions, so no call after the first compiles anything; tracr's `apply` runs its
  haiku forward op by op (not jitted), as tracr users call it;
- **batch seq/s**: sequences per second of a warm batch of `--batch` inputs of varied
  lengths (ours `apply_batch`; tracr its jitted haiku forward on the right-padded batch, the
  fastest way tracr runs a batch; ours includes encoding and decoding, tracr's does not),
  the best of 5 warm calls of the same batch;
- **traces**: how many times our forward was traced (one for `apply` plus one per
  batch bucket).
Programs are tracr's lib programs by name (`tests/lib_cases.py` vocabularies); tracr's come
from its own lib (`tracr_bridge.py`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

DEFAULT_PROGRAMS = "make_hist,make_sort_unique,make_frac_prevs,make_shuffle_dyck2"
REPEAT = 5  # batch timings: the best of this many warm calls


def inputs(vocab: Any, max_seq_len: int, n: int, seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    tokens = sorted(vocab, key=repr)
    return [[rng.choice(tokens) for _ in range(rng.randint(1, max_seq_len))] for _ in range(n)]


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure_ours(case: Any, n: int, calls: list[list[Any]], batch: list[list[Any]]) -> dict:
    from tracr_ir import compile_rasp_to_model

    model = compile_rasp_to_model(case.make(n), case.vocab, n)
    first = timed(lambda: model.apply(["BOS", *calls[0]]))
    times = [timed(lambda xs=xs: model.apply(["BOS", *xs])) for xs in calls[1:]]
    seqs = [["BOS", *xs] for xs in batch]
    model.apply_batch(seqs)
    batch_s = min(timed(lambda: model.apply_batch(seqs)) for _ in range(REPEAT))
    return {"first_ms": 1e3 * first, "median_ms": 1e3 * statistics.median(times),
            "max_ms": 1e3 * max(times), "batch_per_s": len(batch) / batch_s,
            "traces": model.trace_count, "residual": model.stats()["residual"]}


def measure_tracr(name: str, n: int, vocab: Any, calls: list[list[Any]],
                  batch: list[list[Any]]) -> dict:
    import tracr_bridge as tb

    model = tb.compile_tracr(tb.TRACR_LIB[name](n), vocab, n)
    first = timed(lambda: model.apply([tb.BOS, *calls[0]]))
    times = [timed(lambda xs=xs: model.apply([tb.BOS, *xs])) for xs in calls[1:]]
    forward = tb.tracr_forward(model)
    ids = tb.tracr_batch_ids(model, batch)
    forward(ids).unembedded_output.block_until_ready()
    batch_s = min(timed(lambda: forward(ids).unembedded_output.block_until_ready())
                  for _ in range(REPEAT))
    return {"first_ms": 1e3 * first, "median_ms": 1e3 * statistics.median(times),
            "max_ms": 1e3 * max(times), "batch_per_s": len(batch) / batch_s}


def _cell(ours: dict, tracr: dict | None, key: str, fmt: str) -> str:
    if tracr is None or key not in tracr:
        return format(ours[key], fmt)
    return f"{format(ours[key], fmt)} / {format(tracr[key], fmt)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="5,10,32,64")
    ap.add_argument("--programs", default=DEFAULT_PROGRAMS)
    ap.add_argument("--calls", type=int, default=50, help="apply calls per program and length")
    ap.add_argument("--batch", type=int, default=256, help="sequences in the batch")
    ap.add_argument("--no-tracr", action="store_true")
    ap.add_argument("--json", help="write the raw results here")
    args = ap.parse_args(argv)

    from lib_cases import LIB_CASES

    from tracr_ir.errors import TracrIRError

    cases = {c.name: c for c in LIB_CASES}
    rows, raw = [], []
    for n in map(int, args.lengths.split(",")):
        for name in args.programs.split(","):
            case = cases[name]
            calls = inputs(case.vocab, n, args.calls + 1, seed=n)
            batch = inputs(case.vocab, n, args.batch, seed=n + 1)
            try:
                ours = measure_ours(case, n, calls, batch)
            except TracrIRError as e:  # refused by our compiler: reported, not timed
                print(f"  {name} L={n}: refused by tracr-ir: {str(e)[:120]}", file=sys.stderr)
                rows.append([name, str(n), "refused", *["-"] * 6])
                continue
            tracr: dict | None = None
            if not args.no_tracr:
                try:
                    tracr = measure_tracr(name, n, case.vocab, calls, batch)
                except Exception as e:  # noqa: BLE001 - reported in the table
                    tracr = {"error": f"{type(e).__name__}: {str(e)[:80]}"}
            raw.append({"program": name, "max_seq_len": n, "ours": ours, "tracr": tracr})
            print(f"  {name} L={n}: ours {ours} tracr {tracr}", file=sys.stderr, flush=True)
            ratio = (f"{ours['median_ms'] / tracr['median_ms']:.3f}"
                     if tracr and "median_ms" in tracr else "-")
            rows.append([name, str(n), str(ours["residual"]),
                         _cell(ours, tracr, "first_ms", ".0f"),
                         _cell(ours, tracr, "median_ms", ".2f"),
                         _cell(ours, tracr, "max_ms", ".2f"), ratio,
                         _cell(ours, tracr, "batch_per_s", ".0f"), str(ours["traces"])])
    head = ["program", "L", "resid", "1st apply ms", "apply ms (median)", "apply ms (max)",
            "apply ours/tracr", f"batch of {args.batch} seq/s", "traces (ours)"]
    print(f"\nApply latency over {args.calls} inputs of lengths 1..L (a new length each call)"
          f"; cells are ours / tracr")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
