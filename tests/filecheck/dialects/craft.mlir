// RUN: tracr-opt %s | filecheck %s
// RUN: tracr-opt %s | tracr-opt | filecheck %s
// RUN: %roundtrip

// Every craft op and payload form in the custom syntax, printed back identically: spaces of
// mixed values and quoted names, layers (each block reads what an earlier sublayer wrote),
// conjunctions of terms (comparison, negated comparison, table), a lookup with a `none` entry
// (the default of an empty selection), heads reading noisy terms (`term_error`).

builtin.module {
  craft.program vocab {"a", "b", 1} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:"a", tokens:"b"]>, %indices: !craft.space<[indices:0, indices:1, indices:2, indices:3]>) {
    %hist = craft.selector_width "hist_1" layer 0 select [(%tokens, %tokens EQ)] : !craft.space<[hist_1:1, hist_1:2, hist_1:3, hist_1:4]>
    %num = craft.categorical_mlp "num_2" layer 1 %hist {1 -> -0.5, 2 -> 0, 3 -> 2, 4 -> true} : !craft.space<[num_2]>
    %frac = craft.numerical_attention "frac_3" layer 2 %num select [(%indices, %indices LEQ), (%tokens, %tokens not EQ)] tolerance 1.0e-05 magnitude 2 : !craft.space<[frac_3]>
    %lin = craft.linear_mlp "lin_4" layer 2 %frac, %num factors (1, -0.5) constant 0.25 : !craft.space<[lin_4]>
    %bucket = craft.numerical_mlp "bucket_5" layer 3 %lin {-0.75 -> "lo", 0.0 -> none, 2.5 -> (1, "x")} input_error 0.001 : !craft.space<[bucket_5:"lo", bucket_5:(1, "x")]>
    %prev = craft.categorical_attention "prev_6" layer 0 %tokens select [(%indices, %indices {(0, 1) -> true, (1, 2) -> true, (2, 3) -> true})] tolerance 0.0625 : !craft.space<[prev_6:1, prev_6:"a", prev_6:"b"]>
    %filled = craft.categorical_mlp "filled_7" layer 0 %prev {none -> "z", 1 -> 1, "a" -> "a", "b" -> "b"} : !craft.space<[filled_7:1, filled_7:"a", filled_7:"b", filled_7:"z"]>
    %again = craft.categorical_attention "again_11" layer 2 %tokens select [(%tokens, %prev EQ)] tolerance 0.0625 term_error 0.0625 : !craft.space<[again_11:1, again_11:"a", again_11:"b"]>
    %share = craft.numerical_attention "share_12" layer 2 %num select [(%tokens, %prev EQ)] tolerance 0.01 magnitude 2.5 term_error 1.0e-05 : !craft.space<[share_12]>
    %pair = craft.sequence_map_mlp "pair_8" layer 4 %filled, %bucket {(1, "lo") -> true, (1, (1, "x")) -> false, ("a", "lo") -> false, ("a", (1, "x")) -> true, ("b", "lo") -> none, ("b", (1, "x")) -> false, ("z", "lo") -> false, ("z", (1, "x")) -> true} : !craft.space<["pair 8":false, "pair 8":true]>
    %c = craft.constant_mlp "c_9" layer 0 fill -2.5 : !craft.space<[c_9]>
    %w = craft.selector_width "w_10" layer 0 select [(%tokens, %indices TRUE)] : !craft.space<[w_10]>
    %d = craft.selector_width "d_11" layer 0 select [(%tokens, %tokens EQ)] direct : !craft.space<[d_11]>
    craft.output %pair : !craft.space<["pair 8":false, "pair 8":true]>
  }
}

// CHECK:      craft.program vocab {1, "a", "b"} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:"a", tokens:"b"]>, %indices: !craft.space<[indices:0, indices:1, indices:2, indices:3]>) {
// CHECK-NEXT:   %hist = craft.selector_width "hist_1" layer 0 select [(%tokens, %tokens EQ)] : !craft.space<[hist_1:1, hist_1:2, hist_1:3, hist_1:4]>
// CHECK-NEXT:   %num = craft.categorical_mlp "num_2" layer 1 %hist {1 -> -0.5, 2 -> 0, 3 -> 2, 4 -> true} : !craft.space<[num_2]>
// CHECK-NEXT:   %frac = craft.numerical_attention "frac_3" layer 2 %num select [(%indices, %indices LEQ), (%tokens, %tokens not EQ)] tolerance 1.0e-05 magnitude 2 : !craft.space<[frac_3]>
// CHECK-NEXT:   %lin = craft.linear_mlp "lin_4" layer 2 %frac, %num factors (1, -0.5) constant 0.25 : !craft.space<[lin_4]>
// CHECK-NEXT:   %bucket = craft.numerical_mlp "bucket_5" layer 3 %lin {-0.75 -> "lo", 0.0 -> none, 2.5 -> (1, "x")} input_error 0.001 : !craft.space<[bucket_5:"lo", bucket_5:(1, "x")]>
// CHECK-NEXT:   %prev = craft.categorical_attention "prev_6" layer 0 %tokens select [(%indices, %indices {(0, 1) -> true, (1, 2) -> true, (2, 3) -> true})] tolerance 0.0625 : !craft.space<[prev_6:1, prev_6:"a", prev_6:"b"]>
// CHECK-NEXT:   %filled = craft.categorical_mlp "filled_7" layer 0 %prev {none -> "z", 1 -> 1, "a" -> "a", "b" -> "b"} : !craft.space<[filled_7:1, filled_7:"a", filled_7:"b", filled_7:"z"]>
// CHECK-NEXT:   %again = craft.categorical_attention "again_11" layer 2 %tokens select [(%tokens, %prev EQ)] tolerance 0.0625 term_error 0.0625 : !craft.space<[again_11:1, again_11:"a", again_11:"b"]>
// CHECK-NEXT:   %share = craft.numerical_attention "share_12" layer 2 %num select [(%tokens, %prev EQ)] tolerance 0.01 magnitude 2.5 term_error 1.0e-05 : !craft.space<[share_12]>
// CHECK-NEXT:   %pair = craft.sequence_map_mlp "pair_8" layer 4 %filled, %bucket {(1, "lo") -> true, (1, (1, "x")) -> false, ("a", "lo") -> false, ("a", (1, "x")) -> true, ("b", "lo") -> none, ("b", (1, "x")) -> false, ("z", "lo") -> false, ("z", (1, "x")) -> true} : !craft.space<["pair 8":false, "pair 8":true]>
// CHECK-NEXT:   %c = craft.constant_mlp "c_9" layer 0 fill -2.5 : !craft.space<[c_9]>
// CHECK-NEXT:   %w = craft.selector_width "w_10" layer 0 select [(%tokens, %indices TRUE)] : !craft.space<[w_10]>
// CHECK-NEXT:   %d = craft.selector_width "d_11" layer 0 select [(%tokens, %tokens EQ)] direct : !craft.space<[d_11]>
// CHECK-NEXT:   craft.output %pair : !craft.space<["pair 8":false, "pair 8":true]>
// CHECK-NEXT: }
