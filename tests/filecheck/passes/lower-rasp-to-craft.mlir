// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft | tracr-opt --print-op-generic | tracr-opt | filecheck %s
// RUN: tracr-run %s --input "3 1 2 1" --input "2" --input "1 1 1 1" | filecheck %s --check-prefix=OUT
// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft | tracr-run - --input "3 1 2 1" --input "2" --input "1 1 1 1" | filecheck %s --check-prefix=OUT
// RUN: not tracr-opt %s -p lower-rasp-to-craft 2>&1 | filecheck %s --check-prefix=UNINFERRED

// Every kind of rasp op to craft blocks: a selector width and a sort (its selector becomes the
// head's term), a numerical mean and an affine map of it (linear_mlp), a discretising map
// whose table keeps only the keys next to a change, an Or of Selects over different s-ops (a
// product s-op, then one term with the whole formula), an Aggregate with a default (a lookup
// with a `none` entry after the head), sequence maps. The craft stage runs like the rasp one.

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %lt = rasp.select "lt_1" %tokens, %tokens LT : !rasp.selector
    %smaller = rasp.selector_width "smaller_2" %lt : !rasp.sop<categorical>
    %target = rasp.select "target_3" %smaller, %indices EQ : !rasp.selector
    %sort = rasp.aggregate "sort_4" %target, %tokens default none : !rasp.sop<categorical>
    %is_one = rasp.map "is_one_5" %tokens {1 -> true, 2 -> false, 3 -> false} : !rasp.sop<numerical>
    %prevs = rasp.select "prevs_6" %indices, %indices LEQ : !rasp.selector
    %frac = rasp.aggregate "frac_7" %prevs, %is_one default 0 : !rasp.sop<numerical>
    %centred = rasp.map "centred_8" %frac {0.0 -> -0.5, 0.25 -> -0.25, 0.3333333333333333 -> -0.16666666666666669, 0.5 -> 0.0, 0.6666666666666666 -> 0.16666666666666663, 0.75 -> 0.25, 1.0 -> 0.5} : !rasp.sop<numerical>
    %half = rasp.map "half_9" %centred {-0.5 -> "low", -0.25 -> "low", -0.16666666666666669 -> "low", 0.0 -> "mid", 0.16666666666666663 -> "high", 0.25 -> "high", 0.5 -> "high"} : !rasp.sop<categorical>
    %same = rasp.select "same_10" %tokens, %tokens EQ : !rasp.selector
    %near = rasp.select "near_11" %indices, %indices {(0, 0) -> true, (0, 1) -> true, (0, 2) -> false, (0, 3) -> false, (1, 0) -> true, (1, 1) -> true, (1, 2) -> true, (1, 3) -> false, (2, 0) -> false, (2, 1) -> true, (2, 2) -> true, (2, 3) -> true, (3, 0) -> false, (3, 1) -> false, (3, 2) -> true, (3, 3) -> true} : !rasp.selector
    %either = rasp.selector_or "either_12" %same, %near : !rasp.selector
    %count = rasp.selector_width "count_13" %either : !rasp.sop<categorical>
    %prev = rasp.select "prev_14" %indices, %indices {(0, 0) -> false, (0, 1) -> true, (0, 2) -> false, (0, 3) -> false, (1, 0) -> false, (1, 1) -> false, (1, 2) -> true, (1, 3) -> false, (2, 0) -> false, (2, 1) -> false, (2, 2) -> false, (2, 3) -> true, (3, 0) -> false, (3, 1) -> false, (3, 2) -> false, (3, 3) -> false} : !rasp.selector
    %shifted = rasp.aggregate "shifted_15" %prev, %half default "start" : !rasp.sop<categorical>
    %pair = rasp.sequence_map "pair_16" %sort, %shifted {(1, "high") -> 1, (1, "low") -> 1, (1, "mid") -> 1, (1, "start") -> 0, (2, "high") -> 2, (2, "low") -> 2, (2, "mid") -> 2, (2, "start") -> 0, (3, "high") -> 3, (3, "low") -> 3, (3, "mid") -> 3, (3, "start") -> 0} : !rasp.sop<categorical>
    %out = rasp.sequence_map "out_17" %pair, %count {(0, 1) -> 0, (0, 2) -> 0, (0, 3) -> 0, (0, 4) -> 0, (1, 1) -> 1, (1, 2) -> 2, (1, 3) -> 3, (1, 4) -> 4, (2, 1) -> 2, (2, 2) -> 4, (2, 3) -> 6, (2, 4) -> 8, (3, 1) -> 3, (3, 2) -> 6, (3, 3) -> 9, (3, 4) -> 12} : !rasp.sop<categorical>
    rasp.output %out : !rasp.sop<categorical>
  }
}

// CHECK:      craft.program vocab {1, 2, 3} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2, indices:3]>) {
// CHECK-NEXT:   %smaller = craft.selector_width "smaller_2" select [(%tokens, %tokens LT)] : !craft.space<[smaller_2:0, smaller_2:1, smaller_2:2, smaller_2:3, smaller_2:4]>
// CHECK-NEXT:   %sort = craft.categorical_attention "sort_4" %tokens select [(%smaller, %indices EQ)] tolerance 0.007812311403452665 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
// CHECK-NEXT:   %is_one = craft.categorical_mlp "is_one_5" %tokens {1 -> true, 2 -> false, 3 -> false} direct : !craft.space<[is_one_5]>
// CHECK-NEXT:   %frac = craft.numerical_attention "frac_7" %is_one select [(%indices, %indices LEQ)] tolerance {{.*}} magnitude {{.*}} : !craft.space<[frac_7]>
// CHECK-NEXT:   %centred = craft.linear_mlp "centred_8" %frac factors (1.0) constant -0.5 : !craft.space<[centred_8]>
// CHECK-NEXT:   %half = craft.numerical_mlp "half_9" %centred {-0.5 -> "low", -0.16666666666666669 -> "low", 0.0 -> "mid", 0.16666666666666663 -> "high", 0.5 -> "high"} input_error {{.*}} : !craft.space<[half_9:"high", half_9:"low", half_9:"mid"]>
// CHECK-NEXT:   %product = craft.sequence_map_mlp "product" %tokens, %indices {(1, 0) -> (1, 0), {{.*}}, (3, 3) -> (3, 3)} direct : !craft.space<[product:(1, 0), {{.*}}, product:(3, 3)]>
// CHECK-NEXT:   %count = craft.selector_width "count_13" select [(%product, %product {((1, 0), (1, 0)) -> true, ((1, 0), (1, 1)) -> true, ((1, 0), (1, 2)) -> true, {{.*}}})] : !craft.space<[count_13:1, count_13:2, count_13:3, count_13:4]>
// CHECK-NEXT:   %shifted_15_raw = craft.categorical_attention "shifted_15_raw" %half select [(%indices, %indices {(0, 1) -> true, (1, 2) -> true, (2, 3) -> true})] tolerance 0.0019530778508631663 : !craft.space<[shifted_15_raw:"high", shifted_15_raw:"low", shifted_15_raw:"mid"]>
// CHECK-NEXT:   %shifted = craft.categorical_mlp "shifted_15" %shifted_15_raw {none -> "start", "high" -> "high", "low" -> "low", "mid" -> "mid"} : !craft.space<[shifted_15:"high", shifted_15:"low", shifted_15:"mid", shifted_15:"start"]>
// CHECK-NEXT:   %pair = craft.sequence_map_mlp "pair_16" %sort, %shifted {{.*}} : !craft.space<[pair_16:0, pair_16:1, pair_16:2, pair_16:3]>
// CHECK-NEXT:   %out = craft.sequence_map_mlp "out_17" %pair, %count {{.*}} direct : !craft.space<[out_17:0, out_17:1, out_17:2, out_17:3, out_17:4, out_17:6, out_17:8, out_17:9, out_17:12]>
// CHECK-NEXT:   craft.output %out : !craft.space<[out_17:0, out_17:1, out_17:2, out_17:3, out_17:4, out_17:6, out_17:8, out_17:9, out_17:12]>
// CHECK-NEXT: }

// OUT:      [0, none, 6, 9]
// OUT-NEXT: [0]
// OUT-NEXT: [0, none, none, none]

// UNINFERRED: tracr-opt: error: the program's inputs: lower-rasp-to-craft needs value sets and tables: run rasp-infer-values first
