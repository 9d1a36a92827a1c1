"""Compile time against program size: tracr-ir (greedy, and solver at a few sizes) and
tracr-pypi 1.0.0 on the same seeded random programs, in the same run.

    .venv/bin/python bench/compile_time.py                 # 10..400 nodes, 3 seeds, 60 s timeout
    .venv/bin/python bench/compile_time.py --quick         # 10, 50, 200 nodes, 1 seed, 30 s
    .venv/bin/python bench/compile_time.py --large         # 400, 1000, 2000 nodes, 1 seed
    .venv/bin/python bench/compile_time.py --sizes 100,200 --seeds 2 --timeout 120 --json out.json
    .venv/bin/python bench/compile_time.py --family ladder --sizes 10,20,25,30,50,200

Programs (`--family random`, the default): `tracr_ir.testing.strategies.random_program(seed, n,
vocab={1,2,3}, max_seq_len=5, composite_selectors=False, full=False)` (tracr compiles neither
selector combinators nor Full); "nodes" is `len(rasp.walk(program))`, selectors, tokens and
indices included. These programs are wide and shallow (about 11-16 layers at 100-400 nodes),
so tracr's path enumeration (`compute_computational_depth`, a DFS without memo) stays
polynomial on them. `--family ladder` is its worst case: a chain in which every s-op reads the
two before it, so the number of paths grows like the Fibonacci numbers.
Once tracr times out on a seed, larger sizes of that seed are not run (`--no-skip` runs them).
`--check N` also runs each of our models on N inputs against `rasp.evaluate`.

Ours: `compile_rasp_to_model` in this process after one warm-up compile (RASP -> IR -> every
pass -> JAX params; the forward is traced lazily at the first apply, so not counted; the
stages' IR text is printed lazily, when `model.ir[stage]` is read, so not counted either).
`ours cpu s` is the process's CPU time (less sensitive to other jobs on a shared machine than
the wall time). The last lines give how much longer the largest size took than the smallest.

tracr: every compile runs in a fresh subprocess (so a timeout can stop it) that imports tracr,
warms up on a lib program, rebuilds the same program from the seed, translates it to tracr's
rasp (`tracr_bridge.to_tracr`), and then runs the steps of tracr's `compile_rasp_to_model`
(the same calls, timed one by one); the parent kills it after `--timeout` seconds of compiling.
Two tracr columns: `tracr s`, the whole compile, and `tracr craft s`, the part before haiku
assembles the model (graph, value sets, craft blocks, layer allocation). The assembly runs
haiku's `init`, i.e. the whole forward op by op, and jax compiles each op for each new shape;
that is most of tracr's time on small programs and is not counted in `tracr craft s`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from worker import run_worker  # noqa: E402

VOCAB = frozenset({1, 2, 3})
MAX_SEQ_LEN = 5
OPTIONS = dict(composite_selectors=False, full=False)


def make_program(seed: int, n_nodes: int, family: str = "random") -> Any:
    if family == "ladder":
        return ladder_program(seed, n_nodes)
    from tracr_ir.testing.strategies import random_program

    return random_program(seed, n_nodes, VOCAB, MAX_SEQ_LEN, **OPTIONS)


def ladder_program(seed: int, n_nodes: int) -> Any:
    """A chain in which every s-op reads the two before it (x_i = f(x_{i-1}, x_{i-2})), so
    the number of paths from the inputs grows like Fibonacci numbers: a SequenceMap
    `(a*x + b*y + c) mod 3`, and every third step `SelectorWidth(Select(x_{i-1}, x_{i-2},
    EQ))` instead (an attention layer and an MLP)."""
    import random

    from tracr_ir import rasp

    rng = random.Random(seed)
    prev, cur = rasp.indices, rasp.tokens
    count = 2
    step = 0
    while count < n_nodes:
        step += 1
        if step % 3 == 0 and count + 2 <= n_nodes:
            nxt: Any = rasp.SelectorWidth(rasp.Select(prev, cur, rasp.Comparison.EQ))
            count += 2
        else:
            a, b, c = rng.randint(1, 2), rng.randint(1, 2), rng.randint(0, 2)
            nxt = rasp.SequenceMap(lambda x, y, a=a, b=b, c=c: (a * x + b * y + c) % 3,
                                   cur, prev)
            count += 1
        prev, cur = cur, nxt
    return cur


# ----------------------------------------------------------------------------- tracr worker


def tracr_worker(seed: int, n_nodes: int, family: str, out_path: str) -> None:
    """Runs in a subprocess: writes {"total": s, "craft": s, "layers": n} or {"error": ...}."""
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    sys.path.insert(0, str(HERE))
    import tracr_bridge as tb
    from tracr.compiler import (basis_inference, craft_graph_to_model,
                                craft_model_to_transformer, expr_to_craft_graph,
                                rasp_to_graph, validating)
    from tracr.craft import bases
    from tracr.rasp import rasp as trasp

    tb.compile_tracr(tb.TRACR_LIB["make_sort_unique"](5), {1, 2, 3}, 5)  # warm-up
    program = tb.to_tracr(make_program(seed, n_nodes, family))
    result: dict[str, Any] = {}
    print("ready", flush=True)
    try:
        # compiling.compile_rasp_to_model, step by step.
        t0 = time.perf_counter()
        bad = validating.static_validate(program)
        if bad:
            raise NotImplementedError("; ".join(f"{e.expr.name}: {e.reason}" for e in bad[:2]))
        extracted = rasp_to_graph.extract_rasp_graph(program)
        graph, sources, sink = extracted.graph, extracted.sources, extracted.sink
        basis_inference.infer_bases(graph, sink, set(VOCAB), MAX_SEQ_LEN)
        expr_to_craft_graph.add_craft_components_to_rasp_graph(
            graph, bos_dir=bases.BasisDirection(trasp.tokens.label, tb.BOS),
            mlp_exactness=tb.MLP_EXACTNESS)
        craft_model = craft_graph_to_model.craft_graph_to_model(graph, sources)
        t1 = time.perf_counter()
        model = craft_model_to_transformer.craft_model_to_transformer(
            craft_model=craft_model, graph=graph, sink=sink, max_seq_len=MAX_SEQ_LEN,
            causal=False, compiler_bos=tb.BOS, compiler_pad=tb.PAD)
        t2 = time.perf_counter()
        result = {"total": t2 - t0, "craft": t1 - t0, "layers": model.model_config.num_layers}
    except Exception as e:  # noqa: BLE001 - reported, not raised
        result = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"}
    Path(out_path).write_text(json.dumps(result))


def run_tracr(seed: int, n_nodes: int, family: str, timeout: float) -> dict[str, Any]:
    """One tracr compile in a subprocess; {"timeout": True} if it takes over `timeout` s."""
    result = run_worker(__file__, [str(seed), str(n_nodes), family], timeout)
    return {"timeout": True} if result is None else result


# ----------------------------------------------------------------------------- ours


def run_ours(program: Any, allocator: str, check: int) -> dict[str, Any]:
    from tracr_ir import rasp
    from tracr_ir.compiler import compile_rasp_to_model

    t0, c0 = time.perf_counter(), time.process_time()
    model = compile_rasp_to_model(program, VOCAB, MAX_SEQ_LEN, allocator=allocator)
    result: dict[str, Any] = {"seconds": time.perf_counter() - t0,
                              "cpu_seconds": time.process_time() - c0,
                              "layers": model.stats()["layers"]}
    if check:
        import random

        rng = random.Random(0)
        inputs = [[rng.choice(sorted(VOCAB)) for _ in range(MAX_SEQ_LEN if i % 2 == 0
                                                            else rng.randint(1, MAX_SEQ_LEN))]
                  for i in range(check)]
        got = model.apply_batch([["BOS", *xs] for xs in inputs])
        want = [rasp.evaluate(program, xs) for xs in inputs]
        numerical = rasp.is_numerical(program)
        ok = all(_same(g[1:], w, numerical) for g, w in zip(got, want))
        result["exact"] = ok
    return result


def _same(got: list, want: list, numerical: bool) -> bool:
    if numerical:
        return all((a is None) == (b is None) and (a is None or abs(a - b) <= 1e-4)
                   for a, b in zip(got, want))
    return got == want


# ----------------------------------------------------------------------------- table


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _tracr_cell(results: list[dict[str, Any]], key: str) -> str:
    done = [r[key] for r in results if key in r]
    timeouts = sum("timeout" in r and "skipped" not in r for r in results)
    skipped = sum("skipped" in r for r in results)
    errors = sum("error" in r for r in results)
    parts = [_fmt(statistics.median(done))] if done else []
    if timeouts:
        parts.append(f"{timeouts}x timeout")
    if skipped:
        parts.append(f"{skipped}x skipped*")
    if errors:
        parts.append(f"{errors}x error")
    return ", ".join(parts) or "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,25,50,100,200,400",
                    help="program sizes in nodes (comma-separated)")
    ap.add_argument("--seeds", type=int, default=3, help="programs per size (seeds 0..n-1)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per tracr compile")
    ap.add_argument("--solver-sizes", default="10,50,200",
                    help="sizes also compiled with allocator='solver' ('' for none)")
    ap.add_argument("--no-tracr", action="store_true", help="only time tracr-ir")
    ap.add_argument("--no-skip", action="store_true",
                    help="run tracr at every size, even after it timed out at a smaller one")
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="also run our model on N inputs against rasp.evaluate")
    ap.add_argument("--quick", action="store_true",
                    help="sizes 10,50,200, one seed, 30 s timeout, solver at 50")
    ap.add_argument("--large", action="store_true",
                    help="sizes 400,1000,2000, one seed, no solver")
    ap.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    ap.add_argument("--family", choices=("random", "ladder"), default="random",
                    help="random programs (default) or the ladder worst case for tracr")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        tracr_worker(int(args.worker[0]), int(args.worker[1]), *args.worker[2:])
        return 0
    if args.quick:
        args.sizes, args.seeds, args.timeout, args.solver_sizes = "10,50,200", 1, 30.0, "50"
    if args.large:
        args.sizes, args.seeds, args.solver_sizes = "400,1000,2000", 1, ""
    sizes = [int(s) for s in args.sizes.split(",") if s]
    solver_sizes = {int(s) for s in args.solver_sizes.split(",") if s}

    from tracr_ir import rasp
    from tracr_ir.compiler import compile_rasp_to_model

    for allocator in ("greedy", "solver") if solver_sizes else ("greedy",):  # warm-up
        compile_rasp_to_model(make_program(0, 10), VOCAB, MAX_SEQ_LEN, allocator=allocator)

    rows, raw = [], []
    timed_out: dict[int, int] = {}  # seed -> the size at which tracr timed out
    for n in sizes:
        ours, solver, tracr, nodes, layers = [], [], [], [], []
        for seed in range(args.seeds):
            program = make_program(seed, n, args.family)
            nodes.append(len(rasp.walk(program)))
            o = run_ours(program, "greedy", args.check)
            ours.append(o)
            if n in solver_sizes:
                solver.append(run_ours(program, "solver", 0))
            if args.no_tracr:
                t: dict[str, Any] = {}
            elif seed in timed_out and not args.no_skip:
                t = {"timeout": True, "skipped": f"timed out at size {timed_out[seed]}"}
            else:
                t = run_tracr(seed, n, args.family, args.timeout)
                if "timeout" in t:
                    timed_out[seed] = n
            tracr.append(t)
            layers.append((o["layers"], t.get("layers")))
            raw.append({"size": n, "seed": seed, "nodes": nodes[-1], "ours_greedy": o,
                        "ours_solver": solver[-1] if n in solver_sizes else None,
                        "tracr": t})
            print(f"  size {n} seed {seed}: {nodes[-1]} nodes, ours {o['seconds']:.3f} s "
                  f"({o['layers']} layers{'' if 'exact' not in o else ', exact' if o['exact'] else ', NOT EXACT'}), "
                  f"tracr {t}", file=sys.stderr, flush=True)
        ours_s = statistics.median(r["seconds"] for r in ours)
        tracr_done = [r["total"] for r in tracr if "total" in r]
        rows.append([
            str(n), f"{min(nodes)}-{max(nodes)}", _fmt(ours_s),
            _fmt(statistics.median(r["cpu_seconds"] for r in ours)),
            _fmt(statistics.median(r["seconds"] for r in solver)) if solver else "-",
            "-" if args.no_tracr else _tracr_cell(tracr, "total"),
            "-" if args.no_tracr else _tracr_cell(tracr, "craft"),
            f"{ours_s / statistics.median(tracr_done):.3f}" if tracr_done
            else f"< {ours_s / args.timeout:.4f}"
            if any("timeout" in r and "skipped" not in r for r in tracr) else "-",
            " ".join(f"{a}/{'-' if b is None else b}" for a, b in layers),
        ])

    head = ["size", "nodes", "ours s (greedy)", "ours cpu s", "ours s (solver)", "tracr s", "tracr craft s",
            "ratio ours/tracr", "layers ours/tracr"]
    print(f"\nCompile time ({args.family} programs), median over {args.seeds} seed(s); "
          f"vocab {{1,2,3}}, max_seq_len "
          f"{MAX_SEQ_LEN}; tracr timeout {args.timeout:g} s")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if timed_out:
        print("* not run: tracr timed out on that seed at a smaller size (--no-skip runs it)")
    for key, what in (("seconds", "time"), ("cpu_seconds", "CPU time")):
        medians = [statistics.median(r["ours_greedy"][key] for r in raw if r["size"] == n)
                   for n in sizes]
        if len(sizes) > 1 and medians[0] > 0:
            print(f"ours from {sizes[0]} to {sizes[-1]} nodes ({sizes[-1] / sizes[0]:g}x the "
                  f"program): {medians[-1] / medians[0]:.1f}x the {what}")
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": sizes, "seeds": args.seeds,
                                               "timeout": args.timeout, "runs": raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
