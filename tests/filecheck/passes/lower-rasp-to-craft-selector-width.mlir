// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft | filecheck %s
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft{direct=false}' | filecheck %s --check-prefix=SNAPPED

// A numerical SelectorWidth (tracr's make_length, numerical) at max_seq_len 10: one `direct`
// selector_width (its share decoded by interpolation: one layer at every max_seq_len, for
// exact queries and keys). Without direct constructions (the LayerNorm pipeline) the snapped
// decoder's float32 error misses the output's 5e-5 from max_seq_len 10 on: a categorical
// width, then a lookup to the number (two layers).

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 10 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %all_true_selector = rasp.select "all_true_selector_1" %tokens, %tokens TRUE : !rasp.selector
    %length = rasp.selector_width "length_2" %all_true_selector : !rasp.sop<numerical>
    rasp.output %length : !rasp.sop<numerical>
  }
}

// CHECK:      %length = craft.selector_width "length_2" select [(%tokens, %tokens TRUE)] direct : !craft.space<[length_2]>
// CHECK-NEXT: craft.output %length : !craft.space<[length_2]>

// SNAPPED:      %length_2_cat = craft.selector_width "length_2_cat" select [(%tokens, %tokens TRUE)] : !craft.space<[length_2_cat:1, {{.*}}, length_2_cat:10]>
// SNAPPED-NEXT: %length = craft.categorical_mlp "length_2" %length_2_cat {1 -> 1, {{.*}}, 10 -> 10} : !craft.space<[length_2]>
