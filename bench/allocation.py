"""Layer allocation against tracr-pypi 1.0.0, per program, both compiled in this run.

    .venv/bin/python bench/allocation.py                     # lib at 5 and 10, 200 random
    .venv/bin/python bench/allocation.py --random 500 --nodes 12 --solver
    .venv/bin/python bench/allocation.py --lengths 5 --random 0 --json allocation.json
    .venv/bin/python bench/allocation.py --lengths "" --random 0 --time 400,1000,2000

For every program of `tests/lib_cases.py` at every length L, and `--random` programs drawn by
`tracr_ir.testing.random_program` (about `--nodes` nodes at max_seq_len `--random-length`,
no Full and no composite selectors, which tracr does not compile; programs tracr refuses are
counted and skipped), the same program goes through both compilers up to their layer
allocation (ours: the craft stage; tracr: `_allocate_modules_to_layers`), and for each
placement the bench prints

- layers; heads: the most attention heads in a layer; mlp: the widest MLP layer (hidden units
  summed over the blocks of a layer; tracr pads every layer to it);

for tracr, for our `craft-allocate-layers` greedy (the default), for the ASAP placement greedy
was before balancing (`asap`), for tracr's rule applied to our blocks (`tracr_rule`:
the placement greedy never exceeds), and with `--solver` for the CP-SAT strategy. Counts of the
programs where ours is above tracr on each quantity close each table. Our blocks are not
tracr's (maps are fused, some MLPs are narrower), so a placement can differ from tracr's even
where the layers are the same.

`--time SIZES` times the greedy placement alone (`greedy_sublayers` on the craft program's
blocks, best of 3) on random programs of those sizes (`strategies.random_program(seed 0, n)`,
as `bench/compile_time.py` draws them), next to the ASAP placement.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import tracr_bridge as tb  # noqa: E402
from programs import add_program_args, lengths, random_programs  # noqa: E402
from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir.dialects import craft  # noqa: E402
from tracr_ir.errors import TracrIRError  # noqa: E402
from tracr_ir.passes.craft_allocate_layers import (block_infos, critical_sublayers,
                                                   earliest_sublayers,  # noqa: E402
                                                   greedy_sublayers, input_widths_of,
                                                   tracr_sublayers,
                                                   layer_count, layer_loads, solver_sublayers)
from tracr_ir.testing import compile_to_stage  # noqa: E402

QUANTITIES = ("layers", "heads", "mlp")


def tracr_allocation(program: Any, vocab: Any, length: int) -> dict[str, int]:
    """tracr's layers, most heads in a layer and widest MLP layer (its compiler's steps up to
    the layer allocation)."""
    from tracr.compiler import (basis_inference, craft_graph_to_model, expr_to_craft_graph,
                                rasp_to_graph)
    from tracr.compiler import nodes as tnodes
    from tracr.craft import bases, transformers

    extracted = rasp_to_graph.extract_rasp_graph(program)
    graph = extracted.graph
    basis_inference.infer_bases(graph, extracted.sink, set(vocab), length)
    expr_to_craft_graph.add_craft_components_to_rasp_graph(
        graph, bos_dir=bases.BasisDirection("tokens", tb.BOS), mlp_exactness=tb.MLP_EXACTNESS)
    allocation = craft_graph_to_model._allocate_modules_to_layers(graph, extracted.sources)
    heads: dict[int, int] = {}
    hidden: dict[int, int] = {}
    last = 0
    for label, sublayer in allocation.items():
        block = graph.nodes[label].get(tnodes.MODEL_BLOCK)
        parts = block.blocks if isinstance(block, transformers.SeriesWithResiduals) else [block]
        for offset, part in enumerate(parts):
            layer = (sublayer + offset) // 2
            last = max(last, layer)
            if isinstance(part, transformers.MLP):
                hidden[layer] = hidden.get(layer, 0) + part.fst.output_space.num_dims
            elif isinstance(part, transformers.MultiAttentionHead):
                heads[layer] = heads.get(layer, 0) + len(list(part.heads()))
            else:
                heads[layer] = heads.get(layer, 0) + 1
    return {"layers": last + 1, "heads": max(heads.values(), default=0),
            "mlp": max(hidden.values(), default=0)}


def ours(program: Any, vocab: Any, length: int, solver: bool) -> dict[str, dict[str, int]]:
    module = compile_to_stage(program, vocab, length, "craft")
    (prog,) = [op for op in module.walk() if isinstance(op, craft.ProgramOp)]
    infos = block_infos(prog)
    placements = {"greedy": greedy_sublayers(infos), "asap": earliest_sublayers(infos),
                  "critical": critical_sublayers(infos),
                  "tracr_rule": tracr_sublayers(infos)}
    if solver:
        placements["solver"], _ = solver_sublayers(infos, placements["greedy"],
                                                   input_widths_of(prog), 3.0)
    out = {}
    for name, starts in placements.items():
        heads, mlp = layer_loads(infos, starts)
        out[name] = {"layers": layer_count(infos, starts), "heads": heads, "mlp": mlp}
    return out


def measure(program: Any, vocab: Any, length: int, solver: bool) -> dict[str, Any] | None:
    tracr_program = tb.to_tracr(program)
    try:
        row: dict[str, Any] = {"tracr": tracr_allocation(tracr_program, vocab, length)}
    except Exception:  # noqa: BLE001 - tracr refuses in many ways
        return None
    try:
        row.update(ours(program, vocab, length, solver))
    except TracrIRError as e:
        return {"error": str(e).splitlines()[0]}
    return row


def cell(row: dict[str, Any], name: str) -> str:
    return "/".join(str(row[name][q]) for q in QUANTITIES)


def above(rows: list[dict[str, Any]], name: str) -> dict[str, list[str]]:
    return {q: [r["program"] for r in rows if r[name][q] > r["tracr"][q]] for q in QUANTITIES}


def summary(rows: list[dict[str, Any]], names: list[str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {"programs": len(rows)}
    for name in names:
        out[name] = above(rows, name)
        counts = ", ".join(f"{q} {len(v)}" for q, v in out[name].items())
        print(f"{what}, {len(rows)} programs: {name} above tracr on {counts}"
              + "".join(f"; {q}: {v[:6]}" for q, v in out[name].items() if v))
    return out


def time_greedy(sizes: list[int]) -> None:
    from tracr_ir.testing.strategies import random_program as seeded_program

    print("\n| nodes | blocks | layers | asap s | greedy s |\n|---|---|---|---|---|")
    for n in sizes:
        program = seeded_program(0, n, vocab={1, 2, 3}, max_seq_len=5,
                                 composite_selectors=False, full=False)
        module = compile_to_stage(program, {1, 2, 3}, 5, "craft")
        (prog,) = [op for op in module.walk() if isinstance(op, craft.ProgramOp)]
        infos = block_infos(prog)
        times = []
        for place in (earliest_sublayers, greedy_sublayers):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                starts = place(infos)
                best = min(best, time.perf_counter() - start)
            times.append(best)
        print(f"| {n} | {len(infos)} | {layer_count(infos, starts)} | {times[0]:.4f} | "
              f"{times[1]:.4f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_program_args(ap)
    ap.add_argument("--solver", action="store_true", help="also the CP-SAT strategy")
    ap.add_argument("--time", default="", metavar="SIZES",
                    help="time the greedy placement on random programs of these sizes")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)  # tracr's and our notes on the random programs
    names = ["greedy", "critical", "asap", "tracr_rule"] + (["solver"] if args.solver else [])

    results: dict[str, Any] = {}
    for length in lengths(args):
        rows = []
        print(f"\n### lib programs, max_seq_len {length}: layers/heads/widest MLP layer\n")
        print("| program | tracr | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for case in LIB_CASES:
            row = measure(case.make(length), case.vocab, length, args.solver)
            if row is None or "error" in row:
                print(f"| {case.name} | {row and row.get('error') or 'refused by tracr'} |")
                continue
            row["program"] = case.name
            rows.append(row)
            print(f"| {case.name} | {cell(row, 'tracr')} | "
                  + " | ".join(cell(row, n) for n in names) + " |")
        print()
        results[f"lib_{length}"] = {"rows": rows, "summary": summary(rows, names, f"lib L={length}")}
    if args.random:
        rows, refused = [], 0
        for name, program in random_programs(args):
            row = measure(program, frozenset({1, 2, 3}), args.random_length, args.solver)
            if row is None or "error" in row:
                refused += 1
                continue
            row["program"] = name
            rows.append(row)
        print(f"\nrandom programs: {args.random} drawn, {refused} refused by tracr or by us")
        results["random"] = {"rows": rows, "refused": refused,
                             "summary": summary(rows, names, f"random L={args.random_length}")}
    if args.time:
        time_greedy([int(x) for x in args.time.split(",")])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
