"""Residual width and parameters with residual reuse and the solver, against tracr-pypi 1.0.0.

    .venv/bin/python bench/residual_reuse.py                   # max_seq_len 5 and 10
    .venv/bin/python bench/residual_reuse.py --lengths 5 --programs make_sort,make_hist
    .venv/bin/python bench/residual_reuse.py --random 400 --seeds 3     # solver compile time

For every program of `tests/lib_cases.py` and every length L, tracr's model and ours are
compiled in this run, ours four ways: `greedy` allocation without reuse
(`craft-layout-residual{reuse=false}`, the layout before reuse), `greedy` with reuse (the
default), and `solver` without and with reuse. Columns: residual width, parameters (ours:
`stats()["params"]`, the weights stored, per-layer sizes; tracr: its haiku parameter count,
every layer padded), and whether every one of 30 random inputs decodes to
`rasp.evaluate`'s output (`exact`: all four of ours; tracr is not checked here). The last
lines are the geometric means of ours / tracr over the programs and lengths, how many
cases are worse than tracr, and on how many the widest MLP layer with reuse is wider than
greedy's without it (the cleaning units must fit below it).

`--random N`: compile time of `compile_rasp_to_model` with each allocator on the seeded
random programs of bench/compile_time.py (`random_program(seed, N, {1, 2, 3}, 5,
composite_selectors=False, full=False)`), after a warm-up compile with each (ortools' import
is not counted), with the sizes and the stages proven optimal.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import tracr_bridge as tb  # noqa: E402
from absl import logging  # noqa: E402
from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir import rasp  # noqa: E402
from tracr_ir.compiler import compile_rasp_to_model, default_pipeline  # noqa: E402

logging.set_verbosity(logging.ERROR)

VARIANTS = {  # name -> (allocator, residual reuse)
    "no reuse": ("greedy", False),
    "greedy": ("greedy", True),
    "solver no reuse": ("solver", False),
    "solver": ("solver", True),
}
# The widest MLP with reuse must stay within: greedy's without reuse (its cleanings fit below
# the widest layer; the solver's plan counts its cleanings in a widest layer within greedy's).
BASELINE = {"greedy": "no reuse", "solver": "no reuse"}
KEYS = ("residual", "params")


def compile_ours(case: Any, n: int, allocator: str, reuse: bool) -> Any:
    spec = default_pipeline(allocator)
    if not reuse:
        spec = spec.replace("craft-layout-residual", "craft-layout-residual{reuse=false}")
    return compile_rasp_to_model(case.make(n), case.vocab, n, pipeline=spec)


def exact(model: Any, case: Any, n: int) -> bool:
    program = case.make(n)
    numerical = rasp.is_numerical(program)
    for xs in case.inputs(n, 30, seed=1):
        want = rasp.evaluate(program, xs)
        got = model.apply(["BOS", *xs]).decoded[1:]
        if not tb.outputs_match(got, want, numerical, 1e-4)[0]:
            return False
    return True


def measure(case: Any, n: int) -> dict[str, Any]:
    tracr_model = tb.compile_tracr(tb.TRACR_LIB[case.name](n), case.vocab, n)
    tracr = tb.tracr_stats(tracr_model)
    row: dict[str, Any] = {"tracr": {"residual": tracr["residual"],
                                     "params": tracr["dense_params"],
                                     "mlp_hidden": tracr["mlp_hidden"]}}
    ok = True
    for name, (allocator, reuse) in VARIANTS.items():
        model = compile_ours(case, n, allocator, reuse)
        stats = model.stats()
        row[name] = {k: stats[k] for k in (*KEYS, "mlp_hidden")}
        ok = ok and exact(model, case, n)
    row["exact"] = ok
    return row


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def random_programs(n_nodes: int, seeds: int) -> None:
    import time

    from tracr_ir.testing.strategies import random_program

    for allocator in VARIANTS.values():  # warm-up
        compile_ours(LIB_CASES[0], 5, *allocator)
    print("| nodes | seed | allocator | compile s | layers | heads | mlp hidden | residual "
          "| params | proven optimal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in range(seeds):
        program = random_program(seed, n_nodes, frozenset({1, 2, 3}), 5,
                                 composite_selectors=False, full=False)
        for allocator in ("greedy", "solver"):
            t0 = time.perf_counter()
            model = compile_rasp_to_model(program, {1, 2, 3}, 5, allocator=allocator)
            secs = time.perf_counter() - t0
            s = model.stats()
            print(f"| {n_nodes} | {seed} | {allocator} | {secs:.1f} | {s['layers']} | "
                  f"{s['heads']} | {s['mlp_hidden']} | {s['residual']} | {s['params']} | "
                  f"{', '.join(s['proven_optimal'])} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="5,10")
    parser.add_argument("--programs", default="")
    parser.add_argument("--random", type=int, default=0, help="random programs of N nodes")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    if args.random:
        random_programs(args.random, args.seeds)
        return
    wanted = set(filter(None, args.programs.split(",")))
    cases = [c for c in LIB_CASES if not wanted or c.name in wanted]
    names = ["tracr", *VARIANTS]
    head = "| program | L | " + " | ".join(f"resid {v}" for v in names) + " | " + \
        " | ".join(f"params {v}" for v in names) + " | exact |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    ratios: dict[tuple[str, str], list[float]] = {}
    worse: dict[tuple[str, str], int] = {}
    mlp_wider = dict.fromkeys(BASELINE, 0)
    for n in map(int, args.lengths.split(",")):
        for case in cases:
            if case.name not in tb.TRACR_LIB:
                continue
            row = measure(case, n)
            cells = [str(row[v][k]) for k in KEYS for v in names]
            print(f"| {case.name} | {n} | " + " | ".join(cells) +
                  f" | {'yes' if row['exact'] else 'NO'} |", flush=True)
            for v in VARIANTS:
                for k in KEYS:
                    ratios.setdefault((v, k), []).append(row[v][k] / row["tracr"][k])
                    worse[(v, k)] = worse.get((v, k), 0) + (row[v][k] > row["tracr"][k])
            for v, base in BASELINE.items():
                mlp_wider[v] += row[v]["mlp_hidden"] > row[base]["mlp_hidden"]
    print()
    for v in VARIANTS:
        wider = f", widest MLP above {BASELINE[v]}'s in {mlp_wider[v]} cases" \
            if v in BASELINE else ""
        print(f"{v}: residual {geomean(ratios[(v, 'residual')]):.2f}x tracr "
              f"({worse[(v, 'residual')]} cases wider), params "
              f"{geomean(ratios[(v, 'params')]):.2f}x ({worse[(v, 'params')]} cases larger)"
              + wider)


if __name__ == "__main__":
    main()
