"""Every lib program at long max_seq_len, tracr-ir next to tracr-pypi 1.0.0 in the same run.

    .venv/bin/python bench/long_sequences.py                          # L = 5, 10, 32, 64
    .venv/bin/python bench/long_sequences.py --lengths 64 --programs make_hist --no-tracr
    .venv/bin/python bench/long_sequences.py --n-inputs 30 --timeout 120 --json out.json

For every program of `tests/lib_cases.py` (with its vocabulary) and every length: the compile
time (`compile_rasp_to_model`, the first compile in this process), layers, residual width, MLP
hidden (the widest layer), params (weights stored; tracr: its haiku parameter count), the
size of the rasp IR after value inference (ours), and exactness: how many of `--n-inputs`
random inputs (a third of them of full length) the JAX model reproduces `rasp.evaluate` on,
at every position (None included: tracr decodes an empty selection as a token, so a None
position counts against it; numbers within 1e-4).

tracr compiles in a subprocess (imports and tracr's own lib program built before the clock
starts) that is killed after `--timeout` seconds; a refusal or a crash is printed as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from lib_cases import LIB_BY_NAME, LIB_CASES  # noqa: E402
from worker import run_worker  # noqa: E402

TOL = 1e-4


def _same(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(got, float) or isinstance(want, float):
        try:
            return abs(float(got) - float(want)) <= TOL
        except (TypeError, ValueError):
            return False
    return bool(got == want)


def exact_count(outputs: list[list[Any]], wanted: list[list[Any]]) -> int:
    return sum(len(g) == len(w) and all(_same(a, b) for a, b in zip(g, w))
               for g, w in zip(outputs, wanted))


def _error(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text[:110]}"


def run_ours(name: str, max_seq_len: int, n_inputs: int) -> dict[str, Any]:
    from tracr_ir import compile_rasp_to_model, rasp

    case = LIB_BY_NAME[name]
    program = case.make(max_seq_len)
    inputs = case.inputs(max_seq_len, n_inputs)
    try:
        t0 = time.perf_counter()
        model = compile_rasp_to_model(program, set(case.vocab), max_seq_len, compiler_bos="BOS")
        seconds = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return {"error": _error(e)}
    stats = model.stats()
    outputs = [out[1:] for out in model.apply_batch([["BOS", *xs] for xs in inputs])]
    wanted = [rasp.evaluate(program, xs) for xs in inputs]
    return {"seconds": seconds, "layers": stats["layers"], "residual": stats["residual"],
            "mlp_hidden": stats["mlp_hidden"], "params": stats["params"],
            "rasp_ir_bytes": len(model.ir["rasp"].encode()),
            "exact": exact_count(outputs, wanted), "checked": len(inputs)}


def tracr_worker(name: str, max_seq_len: int, n_inputs: int, out_path: str) -> None:
    """Runs in a subprocess: writes the same fields as `run_ours` (or {"error": ...})."""
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    import tracr_bridge as tb

    from tracr_ir import rasp

    case = LIB_BY_NAME[name]
    program = tb.TRACR_LIB[name](max_seq_len)
    inputs = case.inputs(max_seq_len, n_inputs)
    wanted = [rasp.evaluate(case.make(max_seq_len), xs) for xs in inputs]
    print("ready", flush=True)
    try:
        t0 = time.perf_counter()
        model = tb.compile_tracr(program, case.vocab, max_seq_len)
        seconds = time.perf_counter() - t0
        stats = tb.tracr_stats(model)
        outputs = tb.tracr_batch(model, inputs)
        result = {"seconds": seconds, "layers": stats["layers"], "residual": stats["residual"],
                  "mlp_hidden": stats["mlp_hidden"], "params": stats["dense_params"],
                  "exact": exact_count(outputs, wanted), "checked": len(inputs)}
    except Exception as e:  # noqa: BLE001 - reported, not raised
        result = {"error": _error(e)}
    Path(out_path).write_text(json.dumps(result))


def run_tracr(name: str, max_seq_len: int, n_inputs: int, timeout: float) -> dict[str, Any]:
    result = run_worker(__file__, [name, str(max_seq_len), str(n_inputs)], timeout)
    return {"error": f"timeout ({timeout:g} s)"} if result is None else result


def _cells(r: dict[str, Any] | None, ours: bool) -> list[str]:
    n = 7 if ours else 6
    if r is None:
        return ["-"] * n
    if "error" in r:
        return [r["error"]] + [""] * (n - 1)
    cells = [f"{r['seconds']:.2f}", str(r["layers"]), str(r["residual"]), str(r["mlp_hidden"]),
             f"{r['params']:,}"]
    if ours:
        cells.append(f"{r['rasp_ir_bytes'] / 1e3:,.0f} kB")
    cells.append(f"{r['exact']}/{r['checked']}")
    return cells


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="5,10,32,64")
    ap.add_argument("--programs", default=",".join(c.name for c in LIB_CASES))
    ap.add_argument("--n-inputs", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per tracr compile")
    ap.add_argument("--no-tracr", action="store_true")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, length, n_inputs, out = args.worker
        tracr_worker(name, int(length), int(n_inputs), out)
        return 0
    lengths = [int(x) for x in args.lengths.split(",")]
    names = args.programs.split(",")
    print(f"n_inputs {args.n_inputs} per length (a third full length); tracr timeout "
          f"{args.timeout:g} s; exact: inputs right at every position, None included")
    head = ("| program | L | ours s | layers | resid | mlp hid | params | rasp IR | exact "
            "| tracr s | layers | resid | mlp hid | params | exact |")
    print(head)
    print("|" + "---|" * head.count(" | ") + "---|")
    raw = []
    for name in names:
        for length in lengths:
            ours = run_ours(name, length, args.n_inputs)
            tracr = None if args.no_tracr else run_tracr(name, length, args.n_inputs,
                                                          args.timeout)
            raw.append({"program": name, "max_seq_len": length, "ours": ours, "tracr": tracr})
            row = [name, str(length), *_cells(ours, True), *_cells(tracr, False)]
            print("| " + " | ".join(row) + " |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
