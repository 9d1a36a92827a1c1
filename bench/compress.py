"""Residual compression (`transformer-compress`) on tracr's lib programs.

    .venv/bin/python bench/compress.py                  # both tables (~15 min on 2 cores)
    .venv/bin/python bench/compress.py --lossless-only  # the first table (~1 min)
    .venv/bin/python bench/compress.py --quick          # learned: 1,500 steps x 2 restarts
    .venv/bin/python bench/compress.py --json bench/results/compress.json

1. Lossless: every program of `tests/lib_cases.py` with its vocabulary at max_seq_len 5 (the
   sort family at 4): the residual width compiled, the lossless width from the spans on every
   input (`span=inputs`) and from the weights' bound (`span=weights`), and the exactness of
   the former against the uncompressed model on every input (categorical outputs decoded
   equal, numerical within 1e-4), with the largest output difference.
2. Learned: for `make_frac_prevs(tokens == "x")` over {x, a, b, c} at 5 (the issue's case),
   `make_hist` over {a, b, c} at 5 and `make_sort_unique` over {1, 2, 3} at 4, widths below
   the lossless one: the inputs (of all of them) whose every output is within 0.01 of the
   uncompressed model's (categorical: decoded equal), the largest output error, and the time
   (`compress_learned` with its defaults: untied, 3 restarts of 4,000 Adam steps, lr 3e-3).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir import compile_rasp_to_model, lib, rasp  # noqa: E402
from tracr_ir.compression import compress_learned, compress_lossless  # noqa: E402

LEARNED = {
    "make_frac_prevs(x)": (lambda: lib.make_frac_prevs(rasp.tokens == "x"), set("xabc"), 5),
    "make_hist": (lambda: lib.make_hist(), set("abc"), 5),
    "make_sort_unique": (lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), {1, 2, 3},
                         4),
}


def lossless_table() -> list[dict]:
    rows = []
    print(f"{'program':24s} {'L':>2s} {'inputs':>6s} {'width':>5s} {'lossless':>8s} "
          f"{'weights':>7s} {'exact':>11s} {'max err':>8s} {'time s':>6s}")
    for case in LIB_CASES:
        n = 4 if case.sort_family else 5
        w = compile_rasp_to_model(case.make(n), case.vocab, n).weights
        start = time.perf_counter()
        small, report = compress_lossless(w, span="inputs")
        seconds = time.perf_counter() - start
        _, bound = compress_lossless(w, span="weights")
        row = {"program": case.name, "max_seq_len": n, "inputs": report.checked,
               "width": w.d_model, "lossless": report.width, "weights": bound.width,
               "exact": report.exact, "max_error": report.max_error, "seconds": seconds,
               "axes_kept": sum(x in set(w.residual) for x in small.residual)}
        rows.append(row)
        print(f"{case.name:24s} {n:2d} {report.checked:6d} {w.d_model:5d} {report.width:8d} "
              f"{bound.width:7d} {report.exact:5d}/{report.checked:<5d} "
              f"{report.max_error:8.1e} {seconds:6.1f}", flush=True)
    return rows


def learned_table(steps: int, restarts: int, below: int) -> list[dict]:
    rows = []
    print(f"\n{'program':20s} {'width':>5s} {'within 0.01':>12s} {'max err':>8s} "
          f"{'start err':>9s} {'time s':>6s}")
    for name, (make, vocab, n) in LEARNED.items():
        w = compile_rasp_to_model(make(), vocab, n).weights
        _, lossless = compress_lossless(w)
        print(f"{name:20s} {lossless.width:5d} {lossless.exact:6d}/{lossless.checked:<5d} "
              f"{lossless.max_error:8.1e} {'lossless':>9s}", flush=True)
        rows.append({"program": name, "width": lossless.width, "exact": lossless.exact,
                     "inputs": lossless.checked, "max_error": lossless.max_error,
                     "method": "lossless", "original_width": w.d_model})
        k = len(w.output.labels)
        for width in range(lossless.width - 1, max(k, lossless.width - below - 1), -1):
            start = time.perf_counter()
            _, report = compress_learned(w, width, steps=steps, restarts=restarts)
            seconds = time.perf_counter() - start
            rows.append({"program": name, "width": width, "exact": report.exact,
                         "inputs": report.checked, "max_error": report.max_error,
                         "initial_error": report.initial_error, "seconds": seconds,
                         "method": "learned", "steps": steps, "restarts": restarts})
            print(f"{name:20s} {width:5d} {report.exact:6d}/{report.checked:<5d} "
                  f"{report.max_error:8.1e} {report.initial_error:9.1e} {seconds:6.0f}",
                  flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lossless-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1,500 steps x 2 restarts")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--below", type=int, default=3,
                        help="learned widths: this many below the lossless one")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    steps, restarts = (1500, 2) if args.quick else (args.steps, args.restarts)
    result = {"lossless": lossless_table()}
    if not args.lossless_only:
        result["learned"] = learned_table(steps, restarts, args.below)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
