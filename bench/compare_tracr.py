"""tracr-ir against tracr-pypi 1.0.0 on tracr's library programs, both compiled in this run.

    .venv/bin/python bench/compare_tracr.py                    # max_seq_len 5 and 10
    .venv/bin/python bench/compare_tracr.py --quick            # 12 inputs of 3 lengths, 2 compiles each
    .venv/bin/python bench/compare_tracr.py --lengths 5,10,32 --json results.json
    .venv/bin/python bench/compare_tracr.py --programs make_sort,make_hist --lengths 16

For every program of `tests/lib_cases.py` (plus `make_length[numerical]`) and every length L:
our model (`compile_rasp_to_model`, greedy allocator) and tracr's (its own `lib` and `rasp`,
`compiler_bos="BOS"`, `compiler_pad="PAD"`, `mlp_exactness=100`) are measured the same way:

- layers; heads and MLP hidden: the per-layer maxima (tracr pads every layer to them);
  mlp sum: the hidden units of all MLP layers (tracr's without its padding columns);
  residual width; dense params (ours: `stats()["dense_params"]`, the count if padded as tracr
  pads; tracr: its haiku parameter count); non-zero params;
- compile ms: the median of compiles 2..`--repeat` of the same program; 1st compile ms: the
  first one (after a warm-up compile of another program). tracr's first compile of a program
  is slow (1-3 s) because haiku's `init` runs the forward op by op and jax compiles each op
  for each new shape; its later compiles hit jax's cache. Ours does not trace the model when
  compiling (the forward is jitted at the first call), so both of our figures are close;
- B50 jit: median of 5 calls of the jitted forward on the `[50, L+1]` batch of the inputs
  below, right-padded with PAD (after one call that compiles it);
- seq acc: the fraction of `--n-inputs` random inputs (a third of them full length; the same
  inputs for both) whose whole output equals `rasp.evaluate`, run one at a time through
  `apply(["BOS", *xs]).decoded[1:]` (for tracr the same computation jitted: its forward on
  a batch of one, decoded as its `apply` decodes; un-jitted it takes ~0.3 s a call); pad acc: the same inside the padded batch (ours:
  `apply_batch`; tracr: its forward on the padded ids, which it does not mask). Numerical
  outputs must be within `--tol`. Positions where evaluate gives None are skipped for tracr
  (it cannot output None); ours must decode them as None.

Ratios are ours / tracr (below 1 is better for sizes and times).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import tracr_bridge as tb  # noqa: E402
from absl import logging  # noqa: E402
from lib_cases import LIB_CASES, LibCase  # noqa: E402
from tracr.rasp import rasp as trasp  # noqa: E402

from tracr_ir import lib, rasp  # noqa: E402
from tracr_ir.compiler import compile_rasp_to_model  # noqa: E402
from tracr_ir.interpreters.transformer import visible_keys  # noqa: E402

logging.set_verbosity(logging.ERROR)

CASES: list[tuple[LibCase, Callable[[int], Any]]] = [
    (case, tb.TRACR_LIB[case.name]) for case in LIB_CASES
]
CASES.insert(1, (
    LibCase("make_length[numerical]", lambda n: rasp.numerical(lib.make_length()),
            frozenset("abc")),
    lambda n: trasp.numerical(tb.TRACR_LIB["make_length"](n)),
))

SIZE_KEYS = ("layers", "heads", "mlp_hidden", "residual", "dense_params", "nonzero_params")


def _timed(f: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """(result, seconds of the first call, median seconds of the others or of the first)."""
    times, out = [], None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return out, times[0], statistics.median(times[1:] or times)


def _forward_ms(run: Callable[[], Any]) -> float:
    jax.block_until_ready(run())  # compiles
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _accuracy(outputs: list[list[Any]], wants: list[list[Any]], numerical: bool, tol: float,
              skip_none: bool) -> tuple[float, float]:
    """(fraction of sequences right, max numerical error)."""
    right, err = 0, 0.0
    for got, want in zip(outputs, wants):
        ok, _, _, e = tb.outputs_match(got, want, numerical, tol, skip_none=skip_none)
        right += ok
        err = max(err, e)
    return right / len(wants), err


def measure_ours(case: LibCase, n: int, inputs: list[list[Any]], wants: list[list[Any]],
                 repeat: int, tol: float) -> dict[str, Any]:
    program = case.make(n)
    model, first, secs = _timed(lambda: compile_rasp_to_model(program, case.vocab, n), repeat)
    stats = model.stats()
    numerical = rasp.is_numerical(program)
    seqs = [["BOS", *xs] for xs in inputs]
    single = [model.apply(s).decoded[1:] for s in seqs]
    batch = [out[1:] for out in model.apply_batch(seqs)]
    # The jitted forward on the padded batch, as `apply_batch` runs it.
    encoded = [model.encode(s) for s in seqs]
    width = max(map(len, encoded))
    pad = model.weights.token_ids[model.weights.pad]
    ids = np.array([e + [pad] * (width - len(e)) for e in encoded], dtype=np.int32)
    mask = np.array([[i < len(e) for i in range(width)] for e in encoded])
    visible = visible_keys(mask, model.weights.causal)
    fwd = model._jitted  # the model's own jitted forward (apply and apply_batch call it)
    acc, err = _accuracy(single, wants, numerical, tol, skip_none=False)
    pad_acc, pad_err = _accuracy(batch, wants, numerical, tol, skip_none=False)
    return {
        **{k: stats[k] for k in SIZE_KEYS}, "params": stats["params"],
        "mlp_total": sum(stats["mlp_hidden_per_layer"]),
        "compile_s": secs, "compile_first_s": first,
        "b50_ms": _forward_ms(lambda: fwd(model.params, ids, visible)),
        "seq_acc": acc, "pad_acc": pad_acc,
        "max_err": max(err, pad_err) if numerical else None,
    }


def measure_tracr(make: Callable[[int], Any], case: LibCase, n: int, inputs: list[list[Any]],
                  wants: list[list[Any]], repeat: int, tol: float) -> dict[str, Any]:
    program = make(n)
    model, first, secs = _timed(lambda: tb.compile_tracr(program, case.vocab, n), repeat)
    numerical = trasp.is_numerical(program)
    forward = tb.tracr_forward(model)
    single = [tb.tracr_apply(model, xs, forward) for xs in inputs]
    batch = tb.tracr_batch(model, inputs, forward)
    ids = tb.tracr_batch_ids(model, inputs)
    acc, err = _accuracy(single, wants, numerical, tol, skip_none=True)
    pad_acc, pad_err = _accuracy(batch, wants, numerical, tol, skip_none=True)
    return {
        **tb.tracr_stats(model), "compile_s": secs, "compile_first_s": first, "b50_ms": _forward_ms(lambda: forward(ids)),
        "seq_acc": acc, "pad_acc": pad_acc,
        "max_err": max(err, pad_err) if numerical else None,
    }


def make_inputs(case: LibCase, n: int, count: int, few_lengths: bool) -> list[list[Any]]:
    """`count` random inputs (a third of full length). With `few_lengths` (quick mode) only
    the lengths n, n - 1 and n // 2, so that fewer shapes are jit-compiled."""
    inputs = case.inputs(n, count, seed=0)
    if few_lengths:
        sizes = [n, max(n - 1, 1), max(n // 2, 1)]
        inputs = [(xs * n)[: sizes[i % 3]] for i, xs in enumerate(inputs)]
    return inputs


def _try(f: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - a failed compile is a result
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:150] if str(e) else ''}"}


# ----------------------------------------------------------------------------- printing

COLUMNS = [  # (title, key, format)
    ("layers", "layers", "{:d}"),
    ("heads", "heads", "{:d}"),
    ("mlp hid", "mlp_hidden", "{:d}"),
    ("mlp sum", "mlp_total", "{:d}"),
    ("resid", "residual", "{:d}"),
    ("dense params", "dense_params", "{:d}"),
    ("nnz params", "nonzero_params", "{:d}"),
    ("compile ms", "compile_s", "ms"),
    ("1st compile ms", "compile_first_s", "ms"),
    ("B50 jit ms", "b50_ms", "{:.2f}"),
    ("seq acc", "seq_acc", "{:.2f}"),
    ("pad acc", "pad_acc", "{:.2f}"),
]
RATIO_KEYS = ("layers", "heads", "mlp_hidden", "mlp_total", "residual", "dense_params",
              "nonzero_params", "compile_s", "compile_first_s", "b50_ms")


TIME_KEYS = ("compile_s", "compile_first_s", "b50_ms")


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "ms":
        return f"{1e3 * value:.0f}" if value >= 0.01 else f"{1e3 * value:.1f}"
    return fmt.format(value)


def _ratio(a: float, b: float) -> float | None:
    if b == 0:
        return None if a else 1.0
    return a / b


def print_table(rows: list[dict[str, Any]], length: int) -> None:
    print(f"\n### max_seq_len {length}: ours / tracr (ratio ours/tracr for sizes and times)\n")
    print("| program | " + " | ".join(t for t, _, _ in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for row in rows:
        o, t = row["ours"], row["tracr"]
        cells = []
        for _title, key, fmt in COLUMNS:
            a = "err" if "error" in o else _cell(o[key], fmt)
            b = "err" if "error" in t else _cell(t[key], fmt)
            text = f"{a} / {b}"
            if key in RATIO_KEYS and "error" not in o and "error" not in t:
                r = _ratio(o[key], t[key])
                text += "" if r is None or key == "layers" else f" ({r:.2f})"
            cells.append(text)
        print(f"| {row['program']} | " + " | ".join(cells) + " |")
    for row in rows:
        for who in ("ours", "tracr"):
            if "error" in row[who]:
                print(f"  {row['program']}: {who} failed: {row[who]['error']}")


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r["ours"] and "error" not in r["tracr"]]
    out: dict[str, Any] = {}
    for key in RATIO_KEYS:
        ratios = [_ratio(r["ours"][key], r["tracr"][key]) for r in ok]
        ratios = [x for x in ratios if x]
        if ratios:
            out[key] = math.exp(statistics.mean(math.log(x) for x in ratios))
    for who in ("ours", "tracr"):
        out[f"{who}_seq_acc_1"] = sum(r[who].get("seq_acc") == 1 for r in rows)
        out[f"{who}_pad_acc_1"] = sum(r[who].get("pad_acc") == 1 for r in rows)
    out["programs"] = len(rows)
    out["worse"] = [
        f"{r['program']} L={r['length']}: {key} {r['ours'][key]:.4g} vs {r['tracr'][key]:.4g}"
        for r in ok for key in RATIO_KEYS
        if r["ours"][key] > r["tracr"][key] * (1.2 if key in TIME_KEYS else 1)
    ]
    return out


def print_summary(s: dict[str, Any], length: int) -> None:
    geo = ", ".join(f"{k} {s[k]:.2f}" for k in RATIO_KEYS if k in s)
    print(f"\nL={length}: geometric mean ratio ours/tracr: {geo}")
    print(f"L={length}: programs exact on every input (single / padded batch): ours "
          f"{s['ours_seq_acc_1']}/{s['ours_pad_acc_1']} of {s['programs']}, tracr "
          f"{s['tracr_seq_acc_1']}/{s['tracr_pad_acc_1']} of {s['programs']}")
    if s["worse"]:
        print(f"L={length}: ours larger or slower (times: by over 20%): " + "; ".join(s["worse"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", default="5,10", help="max_seq_len values (comma-separated)")
    ap.add_argument("--programs", default="", help="only these programs (comma-separated)")
    ap.add_argument("--n-inputs", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=4,
                    help="compiles per program: the first (cold) and the median of the others")
    ap.add_argument("--tol", type=float, default=1e-4, help="numerical tolerance")
    ap.add_argument("--quick", action="store_true", help="12 inputs of 3 lengths, 2 compiles per program")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_inputs, args.repeat = min(args.n_inputs, 12), 2
    lengths = [int(x) for x in args.lengths.split(",") if x]
    wanted = {p for p in args.programs.split(",") if p}
    cases = [(c, m) for c, m in CASES if not wanted or c.name in wanted]
    if wanted - {c.name for c, _ in CASES}:
        ap.error(f"unknown programs: {sorted(wanted - {c.name for c, _ in CASES})}")

    # Warm-up: imports, pass registry, haiku and jax's first compiles.
    compile_rasp_to_model(lib.make_hist(), "abc", 4)
    tb.compile_tracr(tb.TRACR_LIB["make_hist"](4), "abc", 4)

    started = time.perf_counter()
    results: dict[str, Any] = {
        "environment": {
            "python": platform.python_version(), "jax": jax.__version__,
            "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d"), "n_inputs": args.n_inputs,
            "repeat": args.repeat, "tol": args.tol, "compiler_bos": tb.BOS,
            "compiler_pad": tb.PAD, "tracr_mlp_exactness": tb.MLP_EXACTNESS,
        },
        "lengths": {},
    }
    for n in lengths:
        rows = []
        for case, make_tracr in cases:
            inputs = make_inputs(case, n, args.n_inputs, args.quick)
            wants = [rasp.evaluate(case.make(n), xs) for xs in inputs]
            ours = _try(lambda: measure_ours(case, n, inputs, wants, args.repeat, args.tol))
            tracr = _try(lambda: measure_tracr(make_tracr, case, n, inputs, wants, args.repeat,
                                               args.tol))
            rows.append({"program": case.name, "length": n, "ours": ours, "tracr": tracr})
            print(f"  {case.name} L={n} done ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr, flush=True)
        print_table(rows, n)
        s = summary(rows)
        print_summary(s, n)
        results["lengths"][str(n)] = {"rows": rows, "summary": s}
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
