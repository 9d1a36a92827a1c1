// RUN: tracr-opt %s -p craft-allocate-layers,craft-layout-residual{reuse=false},craft-layer-norm | filecheck %s
// RUN: tracr-opt %s -p craft-allocate-layers,craft-layout-residual{reuse=false},craft-layer-norm,lower-craft-to-transformer,transformer-layer-norm | filecheck %s --check-prefix=MODEL
// RUN: sed -e 's/tolerance 2.4e-05/tolerance 4.904632568359375e-05/' %s | not tracr-opt -p craft-allocate-layers,craft-layout-residual{reuse=false},craft-layer-norm 2>&1 | filecheck %s --check-prefix=TIGHT
// RUN: not tracr-opt %s -p craft-allocate-layers,craft-layout-residual{reuse=false},lower-craft-to-transformer,transformer-layer-norm 2>&1 | filecheck %s --check-prefix=NOPLAN
// RUN: not tracr-opt %s -p 'craft-allocate-layers,craft-layout-residual{widen_mlps=true},craft-layer-norm' 2>&1 | filecheck %s --check-prefix=REUSE

// lib.make_frac_prevs(tokens == "x") (vocab {"x", "y"}, max_seq_len 5) with half the mean's
// tolerance (rasp-annotate-precision{share=0.5}): craft-layer-norm proves it exact under a
// LayerNorm and plans the ballast, read scales and head centres; transformer-layer-norm
// applies them. With the whole tolerance spent, the LayerNorm's deviation does not fit.

builtin.module {
  craft.program vocab {"x", "y"} max_seq_len 5 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:"x", tokens:"y"]>, %indices: !craft.space<[indices:0, indices:1, indices:2, indices:3, indices:4]>) {
    %map = craft.categorical_mlp "map_2" %tokens {"x" -> true, "y" -> false} : !craft.space<[map_2]>
    %frac_prevs = craft.numerical_attention "frac_prevs_3" %map select [(%indices, %indices LEQ)] tolerance 2.4e-05 magnitude 1.01 : !craft.space<[frac_prevs_3]>
    craft.output %frac_prevs : !craft.space<[frac_prevs_3]>
  }
}

// CHECK:      residual = #craft.residual<[{{.*}}frac_prevs_3, ln_zero, ln_mean, ln_ballast_pos, ln_ballast_neg]>
// CHECK-SAME: layer_norm_plan = {eps = 1.000000e-05 : f64, ballast = {{[0-9.]+}} : f64, scale = 8.192000e+03 : f64, centres = {frac_prevs_3 = {{[0-9.]+}} : f64}, deviations = [{{.*}}]}

// MODEL:      transformer.model {{.*}} width 15, 2 layers, heads [0, 1]
// MODEL-NEXT: residual [{{.*}}, ln_zero, ln_mean, ln_ballast_pos, ln_ballast_neg]
// MODEL-NEXT: layer_norm eps 1.0e-05 output_scale 8192.0 {
// MODEL-NOT:  layer_norm_plan

// TIGHT: craft.numerical_attention 'frac_prevs_3': its output can be {{.*}} off, but the program output under layer_norm needs it within 5e-05

// NOPLAN: transformer-layer-norm needs craft-layer-norm before lower-craft-to-transformer

// REUSE: craft-layer-norm needs a residual without reuse ({{[0-9]+}} positions are shared): run craft-layout-residual{reuse=false} before it
