// RUN: tracr-opt %s -p rasp-infer-values | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values | tracr-opt -p rasp-infer-values | filecheck %s
// RUN: not tracr-opt %s -p 'rasp-infer-values{max_values=4}' 2>&1 | filecheck %s --check-prefix=LIMIT
// RUN: not tracr-opt %s -p 'rasp-infer-values{max_values=3}' 2>&1 | filecheck %s --check-prefix=INPUTS

// Value sets flow from vocab and max_seq_len through every op; None appears where an
// Aggregate may select nothing and flows through maps.

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %all = rasp.select "all_1" %tokens, %tokens TRUE : !rasp.selector
    %length = rasp.selector_width "length_2" %all : !rasp.sop<categorical>
    %same = rasp.select "same_3" %tokens, %tokens EQ : !rasp.selector
    %hist = rasp.selector_width "hist_4" %same : !rasp.sop<categorical>
    %lt = rasp.select "lt_5" %tokens, %tokens LT : !rasp.selector
    %smaller = rasp.selector_width "smaller_6" %lt : !rasp.sop<categorical>
    %double = rasp.map "double_7" %tokens {1 -> 2, 2 -> 4, 3 -> 6} : !rasp.sop<categorical>
    %sel = rasp.select "sel_8" %indices, %smaller EQ : !rasp.selector
    %sorted = rasp.aggregate "sorted_9" %sel, %double default none : !rasp.sop<categorical>
    %plus = rasp.sequence_map "plus_10" %sorted, %hist {(2, 1) -> 3, (2, 2) -> 4, (2, 3) -> 5, (2, 4) -> 6, (4, 1) -> 5, (4, 2) -> 6, (4, 3) -> 7, (4, 4) -> 8, (6, 1) -> 7, (6, 2) -> 8, (6, 3) -> 9, (6, 4) -> 10} : !rasp.sop<categorical>
    %one = rasp.map "one_11" %tokens {1 -> true, 2 -> false, 3 -> false} : !rasp.sop<numerical>
    %prevs = rasp.select "prevs_12" %indices, %indices LEQ : !rasp.selector
    %frac = rasp.aggregate "frac_13" %prevs, %one default 0 : !rasp.sop<numerical>
    %bal = rasp.linear_sequence_map "bal_14" %one, %one factors (1, -1) : !rasp.sop<numerical>
    rasp.output %plus : !rasp.sop<categorical>
  }
}

// CHECK:      (%tokens: !rasp.sop<categorical, {1, 2, 3}>, %indices: !rasp.sop<categorical, {0, 1, 2, 3}>)
// CHECK:      %length = rasp.selector_width "length_2" %all : !rasp.sop<categorical, {1, 2, 3, 4}>
// CHECK:      %hist = rasp.selector_width "hist_4" %same : !rasp.sop<categorical, {1, 2, 3, 4}>
// CHECK:      %smaller = rasp.selector_width "smaller_6" %lt : !rasp.sop<categorical, {0, 1, 2, 3, 4}>
// CHECK:      %double = rasp.map "double_7" %tokens {1 -> 2, 2 -> 4, 3 -> 6} : !rasp.sop<categorical, {2, 4, 6}>
// CHECK:      %sorted = rasp.aggregate "sorted_9" %sel, %double default none : !rasp.sop<categorical, {none, 2, 4, 6}>
// CHECK:      %plus = rasp.sequence_map "plus_10" {{.*}} : !rasp.sop<categorical, {none, 3, 4, 5, 6, 7, 8, 9, 10}>
// CHECK:      %one = rasp.map "one_11" %tokens {1 -> true, 2 -> false, 3 -> false} : !rasp.sop<numerical, {false, true}>
// CHECK:      %frac = rasp.aggregate "frac_13" %prevs, %one default 0 : !rasp.sop<numerical, {0.0, 0.25, 0.3333333333333333, 0.5, 0.6666666666666666, 0.75, 1.0}>
// CHECK:      %bal = rasp.linear_sequence_map "bal_14" %one, %one factors (1, -1) : !rasp.sop<numerical, {0}>
// CHECK:      rasp.output %plus : !rasp.sop<categorical, {none, 3, 4, 5, 6, 7, 8, 9, 10}>

// LIMIT: tracr-opt: error: smaller_6: value set of 5 values is above the limit of 4 (rasp-infer-values{max_values=...})
// INPUTS: tracr-opt: error: max_seq_len 4 gives more positions than the limit of 3 values (rasp-infer-values{max_values=...})
