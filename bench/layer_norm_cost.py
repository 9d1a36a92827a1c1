"""What `compile_rasp_to_model(layer_norm=True)` costs and how close it runs to its proof.

    .venv/bin/python bench/layer_norm_cost.py [max_seq_len] [program ...]

Per lib program (tests/lib_cases.py): the residual width, the widest head, the widest MLP and
the layers without and with the construction; the largest deviation Delta_k of the
LayerNorm's scale from its planned value that `craft-layer-norm` proves, and the largest one
measured on 200 random inputs (float32, |2^p s(x) - 1| at every sublayer and the readout).
"""

import sys

import numpy as np

sys.path.insert(0, "tests")

from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir.compiler import compile_rasp_to_model, parse_module, stage_op  # noqa: E402


def measured_deviation(model, inputs) -> float:
    """max |r s(x) - 1| over positions and sublayers, s computed in float32 as run_layers."""
    r, eps = model.weights.layer_norm.output_scale, model.weights.layer_norm.eps
    worst = 0.0
    for xs in inputs:
        result = model.apply(["BOS", *xs])
        for x in [result.embeddings, *result.residuals]:
            x = np.asarray(x, dtype=np.float32)
            centred = x - x.mean(axis=-1, keepdims=True)
            s = np.float32(1) / np.sqrt((centred * centred).mean(axis=-1) + np.float32(eps))
            worst = max(worst, float(np.max(np.abs(r * s.astype(np.float64) - 1))))
    return worst


def widest_head(stats_model) -> int:
    return max((h.w_q.shape[1] for x in stats_model.weights.layers for h in x.heads), default=0)


def main() -> None:
    L = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    names = sys.argv[2:]
    print(f"| program (L={L}) | residual | head width | MLP hidden | layers "
          "| proven max Delta | measured max |")
    print("|---|---|---|---|---|---|---|")
    for case in LIB_CASES:
        if names and case.name not in names:
            continue
        plain = compile_rasp_to_model(case.make(L), case.vocab, L)
        ln = compile_rasp_to_model(case.make(L), case.vocab, L, layer_norm=True)
        plan = stage_op(parse_module(ln.ir["craft"])).attributes["layer_norm_plan"].data
        proven = max(x.value.data for x in plan["deviations"].data)
        a, b = plain.stats(), ln.stats()
        measured = measured_deviation(ln, case.inputs(L, 200))
        print(f"| {case.name} | {a['residual']} -> {b['residual']} | {widest_head(plain)} -> "
              f"{widest_head(ln)} | {a['mlp_hidden']} -> {b['mlp_hidden']} | {a['layers']} -> "
              f"{b['layers']} | {proven:.2e} | {measured:.2e} |", flush=True)


if __name__ == "__main__":
    main()
