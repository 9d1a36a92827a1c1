// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 --emit rasp | filecheck %s
// RUN: tracr-compile %S/../../../examples/programs.py:hist --vocab a,b --max-seq-len 3 --emit rasp --print-ir-after-all | filecheck %s --check-prefix=DUMP
// RUN: not tracr-compile %S/../../../examples/programs.py:not_a_program --vocab 1 --max-seq-len 2 2>&1 | filecheck %s --check-prefix=NOTSOP
// RUN: not tracr-compile %S/../../../examples/programs.py:missing --vocab 1 --max-seq-len 2 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not tracr-compile %S/../../../examples/programs.py:hist --vocab BOS,a --max-seq-len 2 2>&1 | filecheck %s --check-prefix=BOS

// CHECK:      rasp.program vocab {1, 2, 3} max_seq_len 4 bos "BOS" pad "PAD" causal false
// CHECK:      %target_pos = rasp.selector_width "target_pos_{{[0-9]+}}" %smaller : !rasp.sop<categorical, {0, 1, 2, 3, 4}>
// CHECK:      rasp.output %sort : !rasp.sop<categorical, {none, 1, 2, 3}>

// DUMP:       // -----// IR Dump After rasp-infer-values //----- //
// DUMP:       %hist = rasp.selector_width "hist_{{[0-9]+}}" %same_tok : !rasp.sop<categorical, {1, 2, 3}>

// NOTSOP:     tracr-compile: error: {{.*}}programs.py:not_a_program is not a RASP SOp (got int)
// MISSING:    tracr-compile: error: {{.*}}programs.py has no attribute 'missing'
// BOS:        tracr-compile: error: compiler_bos 'BOS' is also in the vocab

// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 --emit craft --allocator solver | filecheck %s --check-prefix=CRAFT
// CRAFT: craft.selector_width "target_pos_{{[0-9]+}}" layer 0
// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 --emit transformer | filecheck %s --check-prefix=TRANSFORMER
// TRANSFORMER: transformer.model vocab {1, 2, 3} max_seq_len 4
// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 -o %t.mlir && tracr-run %t.mlir --input "3 1 2" | filecheck %s --check-prefix=WEIGHTS
// WEIGHTS: [1, 2, 3]
// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 | filecheck %s --check-prefix=STATS
// STATS: {'layers': 2,

// --layer-norm: LayerNorm-robust weights (docs/layer_norm.md), through tracr-run too.
// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 --emit transformer --layer-norm | filecheck %s --check-prefix=LN
// LN:      residual [{{.*}}, ln_zero, ln_mean, ln_ballast_pos, ln_ballast_neg]
// LN-NEXT: layer_norm eps 1.0e-05 output_scale {{[0-9.]+}} {
// RUN: tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 --layer-norm 0.001 -o %t.ln.mlir && tracr-run %t.ln.mlir --input "3 1 2" | filecheck %s --check-prefix=WEIGHTS
// RUN: not tracr-compile %S/../../../examples/programs.py:sort_unique --vocab 1,2,3 --max-seq-len 4 --emit transformer --layer-norm --compress lossless 2>&1 | filecheck %s --check-prefix=LNCOMPRESS
// LNCOMPRESS: --layer-norm and --compress do not compose
