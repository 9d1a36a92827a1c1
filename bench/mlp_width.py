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
- total: the hidden units of all MLP layers (tracr's before padding);
- per block: the s-ops whose MLPs of ours (their own block and helpers such as a snap) are
  wider than tracr's block for them (`compare_blocks`, which `tests/test_mlp_width_vs_tracr.py`
  asserts), blocks whose inputs tracr's value sets miss left out.

Widths only: no weights are assembled and nothing is run (`bench/compare_tracr.py` measures
exactness, parameters and times). Ratios are ours / tracr; the summary gives their geometric
means and the programs where ours is wider.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import tracr_bridge as tb  # noqa: E402
from xdsl.pattern_rewriter import PatternRewriteWalker  # noqa: E402
from xdsl.transforms.dead_code_elimination import dce  # noqa: E402
from programs import add_program_args, lengths, random_programs  # noqa: E402
from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir import rasp  # noqa: E402
from tracr_ir.compiler import run_pipeline  # noqa: E402
from tracr_ir.dialects import rasp as rasp_dialect  # noqa: E402
from tracr_ir.errors import TracrIRError  # noqa: E402
from tracr_ir.passes.rasp_fuse_maps import MapOfOneOperand  # noqa: E402
from tracr_ir.testing import compile_to_stage  # noqa: E402


def refined_values(program: Any, vocab: Any, max_seq_len: int) -> dict[str, set]:
    """Our value set of each s-op (refined: the values it can hold), None left out."""
    module = run_pipeline(compile_to_stage(program, vocab, max_seq_len, "rasp"),
                          "rasp-refine-values")
    return {op.label.data: {v for v in op.output.type.value_set if v is not None}
            for op in module.walk() if isinstance(op, rasp_dialect.RaspOp) and op.results
            and isinstance(op.results[0].type, rasp_dialect.SOpType)
            and op.results[0].type.value_set is not None}


def compare_blocks(program: Any, vocab: Any, max_seq_len: int) -> dict[str, Any]:
    """Our MLP blocks against tracr's, per s-op: `wider` {label: (ours, tracr's)} where ours
    is wider. Our hidden units of an s-op are its own block's and its helpers' (labelled
    after it, e.g. a snap); an s-op that `rasp-fuse-maps` fused into its single reader has no
    block of ours, and its tracr block's width counts for the reader (its single reader whose
    result reaches what our model computes: a dead reader is not compiled; along a fused
    chain, to the op at its end). A block reading an
    s-op whose tracr value set lacks values the s-op can hold is not compared (`short`):
    tracr's block has no breakpoints for them and is wrong there. Also the per-layer widths
    (`our_layers`, `tracr_layers`) and `ours` per label (None: a block for no s-op)."""
    tracr_program, tracr_labels = tb.to_tracr_with_labels(program)
    tracr_by_label, tracr_layers, tracr_values = tb.tracr_mlp_block_widths(
        tracr_program, vocab, max_seq_len)
    theirs = {label: tracr_by_label.get(t, 0) for label, t in tracr_labels.items()}
    ours, our_layers, live = tb.our_mlp_block_widths(program, vocab, max_seq_len, theirs)
    values = refined_values(program, vocab, max_seq_len)
    short = {label for label, t in tracr_labels.items() if label in values
             and tracr_values.get(t) is not None and not values[label] <= set(tracr_values[t])}
    readers: dict[str, set[str]] = {}
    for node in rasp.walk(program):  # operands first
        for child in node.children:
            readers.setdefault(child.label, set()).add(node.label)
    budget = dict(theirs)
    for node in rasp.walk(program):
        if any(child.label in short for child in node.children):
            budget[node.label] = math.inf  # tracr's block misses inputs: not comparable
    kept = reaching_output(program, vocab, max_seq_len)
    used: set[str] = set()  # s-ops whose result reaches the output in our program
    for node in reversed(list(rasp.walk(program))):  # readers first
        if node.label in kept or (node.label in kept.fused
                                  and readers.get(node.label, set()) & used):
            used.add(node.label)
    for node in rasp.walk(program):  # operands first: a fused chain passes budgets along
        fused_into = readers.get(node.label, set()) & used
        if ours.get(node.label) == 0 and node.label not in live and len(fused_into) == 1:
            budget[next(iter(fused_into))] += budget[node.label]
    wider = {t: (ours[t], budget[t]) for t in theirs if ours[t] > budget[t]}
    return {"wider": wider, "short": sorted(short), "ours": ours,
            "our_layers": our_layers, "tracr_layers": tracr_layers}


class _Labels(set):
    fused: set[str]


def _labels(module: Any) -> dict[Any, str]:
    return {op.results[0]: op.label.data for op in module.walk()
            if isinstance(op, rasp_dialect.RaspOp) and op.results and hasattr(op, "label")}


def reaching_output(program: Any, vocab: Any, max_seq_len: int) -> _Labels:
    """The labels of the s-ops whose result reaches the output after `rasp-fuse-maps`, and
    (`fused`) those it fused into their reader: still there after its one-operand rewrites
    and the dead code they leave are removed (`MapOfOneOperand`), gone after the pass."""
    module = compile_to_stage(program, vocab, max_seq_len, "rasp")
    PatternRewriteWalker(MapOfOneOperand(), apply_recursively=True).rewrite_module(module)
    dce(module)
    before = set(_labels(module).values())
    by_value = _labels(run_pipeline(module, "rasp-fuse-maps"))
    out = _Labels()
    out.fused = before - set(by_value.values())
    todo = [o for op in module.walk() if isinstance(op, rasp_dialect.OutputOp)
            for o in op.operands]
    while todo:
        v = todo.pop()
        if v in by_value and by_value[v] not in out:
            out.add(by_value[v])
            todo.extend(v.owner.operands)
    return out


def measure(program: Any, vocab: Any, length: int) -> dict[str, Any] | None:
    """Both compilers' widths and the blocks of ours wider than tracr's (`compare_blocks`),
    or None if tracr refuses the program."""
    try:
        tb.tracr_mlp_block_widths(tb.to_tracr(program), vocab, length)
    except Exception:  # noqa: BLE001 - tracr refuses in many ways
        return None
    try:
        blocks = compare_blocks(program, vocab, length)
    except TracrIRError as e:
        return {"error": str(e).splitlines()[0]}
    ours, theirs = blocks["our_layers"], blocks["tracr_layers"]
    return {"ours": {"widest": max(ours, default=0), "total": sum(ours), "layers": len(ours)},
            "tracr": {"widest": max(theirs, default=0), "total": sum(theirs),
                      "layers": len(theirs)},
            "blocks_wider": blocks["wider"], "not_comparable": blocks["short"]}


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
    out["blocks_wider"] = [r["program"] for r in ok if r["blocks_wider"]]
    out["not_comparable"] = [r["program"] for r in ok if r["not_comparable"]]
    by_name = {r["program"]: r for r in ok}
    out["widest_wider_why"] = dict(collections.Counter(
        why_wider(by_name[name]) for name in out["widest_wider"]))
    print(f"{what}: {out['programs']} programs; geometric mean ours/tracr: widest MLP layer "
          f"{out['widest_geomean']:.2f}, total hidden {out['total_geomean']:.2f}; wider than "
          f"tracr: per block {len(out['blocks_wider'])} {out['blocks_wider'][:8]} (tracr's "
          f"value sets short, blocks not compared: {len(out['not_comparable'])}), widest "
          f"layer {len(out['widest_wider'])} {out['widest_wider'][:8]}, total "
          f"{len(out['total_wider'])} {out['total_wider'][:8]}")
    print(f"  widest layer above tracr's, why: {out['widest_wider_why']}")
    return out


def why_wider(row: dict[str, Any]) -> str:
    """Why a program's widest MLP layer is above tracr's: `tracr's value sets short` (a
    block of tracr's misses inputs, so its narrower MLP is wrong there), `more hidden units`
    (ours has more in total, every block compared), `fewer layers` (the same or fewer units
    packed into fewer layers), or `other`."""
    if row["not_comparable"]:
        return "tracr's value sets short"
    if row["ours"]["total"] > row["tracr"]["total"]:
        return "more hidden units"
    if row["ours"]["layers"] < row["tracr"]["layers"]:
        return "fewer layers"
    return "other"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_program_args(ap)
    args = ap.parse_args(argv)

    results: dict[str, Any] = {}
    for length in lengths(args):
        rows = []
        print(f"\n### lib programs, max_seq_len {length}: ours / tracr (ratio)\n")
        print("| program | widest MLP layer | total hidden | blocks wider |")
        print("|---|---|---|---|")
        for case in LIB_CASES:
            row = measure(case.make(length), case.vocab, length)
            if row is None or "error" in row:
                print(f"| {case.name} | {row and row.get('error') or 'refused by tracr'} | | |")
                continue
            row["program"] = case.name
            rows.append(row)
            cells = [f"{row['ours'][k]} / {row['tracr'][k]} ({ratio(row, k) or 0:.2f})"
                     for k in ("widest", "total")]
            print(f"| {case.name} | " + " | ".join(cells) + f" | {len(row['blocks_wider'])} |")
        print()
        results[f"lib_{length}"] = {"rows": rows, "summary": summary(rows, f"lib L={length}")}
    if args.random:
        rows, refused = [], 0
        for name, program in random_programs(args):
            row = measure(program, frozenset({1, 2, 3}), args.random_length)
            if row is None:
                refused += 1
                continue
            row["program"] = name
            rows.append(row)
        print(f"\nrandom programs: {args.random} drawn, {refused} refused by tracr")
        results["random"] = {"rows": rows, "tracr_refused": refused,
                             "summary": summary(rows, f"random L={args.random_length}")}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
