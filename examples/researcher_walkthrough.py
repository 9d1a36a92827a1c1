"""From a RASP program to the residual stream picture and a TransformerLens hook.

    python examples/researcher_walkthrough.py [OUT_DIR]      # default: walkthrough_out/

Needs the `export` and `viz` extras (`pip install -e '.[export,viz]'`; `make test` has them).
Each step prints what it shows; `tests/test_researcher_walkthrough.py` runs this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

import tracr_ir
from tracr_ir import compile_rasp_to_model, rasp, viz
from tracr_ir.export import tl_tokens, to_transformer_lens


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    # 1. A RASP program: the fraction of the tokens so far that are "x" (tracr's frac_prevs).
    is_x = rasp.numerical(rasp.Map(lambda t: t == "x", rasp.tokens)).named("is_x")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ).named("prevs")
    frac = rasp.numerical(rasp.Aggregate(prevs, is_x, default=0)).named("frac_x")
    print("rasp.evaluate:", rasp.evaluate(frac, ["x", "a", "x", "x"]))

    # 2. Compile it: every residual direction has a label.
    model = compile_rasp_to_model(frac, vocab={"x", "a", "b"}, max_seq_len=6)
    seq = ["BOS", "x", "a", "x", "x"]
    print("model.apply:", model.apply(seq).decoded)
    print("residual directions:", model.residual_labels)

    # 3. The residual stream of this input after every sublayer, and each layer's weights.
    for path in viz.write_plots(model, seq, out):
        print("wrote", path)

    # 4. The same weights in TransformerLens: hooks see our residual stream.
    tl = to_transformer_lens(model)
    tokens = tl_tokens(model, seq)
    with torch.no_grad():
        logits, cache = tl.run_with_cache(tokens)
    print("TransformerLens decodes:", model.decode_output(logits[0])[1:])
    label = str(model.weights.output.labels[0])  # frac_x's direction: "frac_x_3"
    column = model.residual_labels.index(label)
    resid = cache["blocks.1.hook_resid_mid"][0, :, column]  # after layer 1's attention
    print(f"{label} in blocks.1.hook_resid_mid:", [round(float(v), 4) for v in resid])
    assert np.allclose(resid.numpy(), model.apply(seq).residuals[2][:, column], atol=1e-6)
    pattern = cache["blocks.1.attn.hook_pattern"][0, 0]  # [query, key] of the frac_x head
    print("query 4 attends to keys:", [round(float(p), 3) for p in pattern[4]])

    # 5. Intervene with a hook: let every query attend to BOS only, so nothing is averaged.
    def attend_to_bos(pattern, hook):
        pattern = torch.zeros_like(pattern)
        pattern[..., 0] = 1.0
        return pattern

    with torch.no_grad():
        patched = tl.run_with_hooks(tokens, fwd_hooks=[("blocks.1.attn.hook_pattern",
                                                        attend_to_bos)])
    print("with the pattern patched:", model.decode_output(patched[0])[1:])

    # 6. Save in standard formats and load back.
    model.save(out / "frac_x.mlir")  # frac_x.mlir, frac_x.safetensors, frac_x.json
    loaded = tracr_ir.load(out / "frac_x.mlir")
    print("loaded:", loaded.apply(seq).decoded)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "walkthrough_out"))
