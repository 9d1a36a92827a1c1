// RUN: tracr-opt %s -p rasp-infer-values,rasp-refine-values | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-refine-values,rasp-refine-values | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-refine-values | tracr-opt --print-op-generic | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-refine-values | tracr-run - --input "1 2 2" | filecheck %s --check-prefix=OUT
// RUN: tracr-run %s --input "1 2 2" | filecheck %s --check-prefix=OUT

// A SequenceMap of an s-op with itself sees only equal pairs; `none` goes where an Aggregate
// provably always selects; a LinearSequenceMap x - x holds only 0.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %sum = rasp.sequence_map "sum_1" %tokens, %tokens {(1, 1) -> 2, (1, 2) -> 3, (2, 1) -> 3, (2, 2) -> 4} : !rasp.sop<categorical>
    %prevs = rasp.select "prevs_2" %indices, %indices LEQ : !rasp.selector
    %self = rasp.select "self_8" %indices, %indices EQ : !rasp.selector
    %last = rasp.aggregate "last_3" %self, %sum default none : !rasp.sop<categorical>
    %one = rasp.map "one_4" %tokens {1 -> true, 2 -> false} : !rasp.sop<numerical>
    %zero = rasp.linear_sequence_map "zero_5" %one, %one factors (1, -1) : !rasp.sop<numerical>
    %frac = rasp.aggregate "frac_6" %prevs, %one default 0 : !rasp.sop<numerical>
    %out = rasp.sequence_map "out_7" %last, %tokens {(2, 1) -> 3, (2, 2) -> 4, (3, 1) -> 4, (3, 2) -> 5, (4, 1) -> 5, (4, 2) -> 6} : !rasp.sop<categorical>
    rasp.output %out : !rasp.sop<categorical>
  }
}

// CHECK:      attributes {refined}
// CHECK:      %sum = rasp.sequence_map "sum_1" %tokens, %tokens {(1, 1) -> 2, (2, 2) -> 4} : !rasp.sop<categorical, {2, 4}>
// CHECK:      %last = rasp.aggregate "last_3" %self, %sum default none attributes {always_selects} : !rasp.sop<categorical, {2, 4}>
// CHECK:      %zero = rasp.linear_sequence_map "zero_5" %one, %one factors (1, -1) : !rasp.sop<numerical, {0}>
// CHECK:      %frac = rasp.aggregate "frac_6" %prevs, %one default 0 attributes {always_selects} : !rasp.sop<numerical, {0.0, 0.3333333333333333, 0.5, 0.6666666666666666, 1.0}>
// CHECK:      %out = rasp.sequence_map "out_7" %last, %tokens {(2, 1) -> 3, (2, 2) -> 4, (4, 1) -> 5, (4, 2) -> 6} : !rasp.sop<categorical, {3, 4, 5, 6}>

// OUT: [3, 6, 6]
