"""The cost of compile_rasp_to_model(layer_norm=True) per lib program: residual width, widest
MLP and layers, with and without (`python bench/layer_norm_cost.py [max_seq_len]`)."""

import sys

sys.path.insert(0, "tests")

from lib_cases import LIB_CASES  # noqa: E402

from tracr_ir.compiler import compile_rasp_to_model  # noqa: E402

L = int(sys.argv[1]) if len(sys.argv) > 1 else 5
print(f"| program (L={L}) | residual | residual LN | MLP hidden | MLP hidden LN | layers | layers LN |")
print("|---|---|---|---|---|---|---|")
for case in LIB_CASES:
    a = compile_rasp_to_model(case.make(L), case.vocab, L).stats()
    b = compile_rasp_to_model(case.make(L), case.vocab, L, layer_norm=True).stats()
    print(f"| {case.name} | {a['residual']} | {b['residual']} | {a['mlp_hidden']} | "
          f"{b['mlp_hidden']} | {a['layers']} | {b['layers']} |", flush=True)
