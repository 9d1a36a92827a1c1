// RUN: tracr-opt %s -p craft-verify-exactness | filecheck %s
// RUN: sed -e 's/(%%tokens, %%tokens EQ)\] direct/(%%tokens, %%prev EQ)] direct/' %s | not tracr-opt -p craft-verify-exactness 2>&1 | filecheck %s --check-prefix=NOISY
// RUN: sed -e 's/(%%tokens, %%tokens EQ)\] direct/(%%tokens, %%snap EQ)] direct/' %s | not tracr-opt -p craft-verify-exactness 2>&1 | filecheck %s --check-prefix=SNAPPED
// RUN: not tracr-opt %s -p 'craft-allocate-layers,craft-layout-residual{reuse=false},craft-layer-norm' 2>&1 | filecheck %s --check-prefix=NORM

// A `direct` selector_width decodes its share without snapping: its queries and keys must be
// exact (tolerance 0), so a query read from an attention output (error up to its tolerance)
// is refused; so is a snapped lookup of it (its bound is 0, but its float32 one-hot is off
// by a rounding that the share would pass on), and a LayerNorm, whose deviation the share
// would carry.

builtin.module {
  craft.program vocab {1, 2} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1, indices:2, indices:3]>) {
    %prev = craft.categorical_attention "prev_1" %tokens select [(%indices, %indices {(0, 1) -> true, (1, 2) -> true, (2, 3) -> true})] tolerance 0.001 : !craft.space<[prev_1:1, prev_1:2]>
    %snap = craft.categorical_mlp "snap_3" %prev {1 -> 1, 2 -> 2} : !craft.space<[snap_3:1, snap_3:2]>
    %w = craft.selector_width "w_2" select [(%tokens, %tokens EQ)] direct : !craft.space<[w_2]>
    craft.output %w : !craft.space<[w_2]>
  }
}

// CHECK: %w = craft.selector_width "w_2" select [(%tokens, %tokens EQ)] direct : !craft.space<[w_2]>

// NOISY: craft.categorical_attention 'prev_1': its output can be 0.001 off, but craft.selector_width 'w_2' (operand 1) needs it within 0

// SNAPPED: craft.selector_width 'w_2': a direct width needs float32-exact keys and queries, but craft.categorical_attention 'prev_1' does not write exact one-hots

// NORM: craft.selector_width 'w_2': under layer_norm its share can be {{.*}} off, more than the decoding MLP's slack 0
