// RUN: tracr-run %s --input "3 1 2" --input "2 2" | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values | tracr-run - --input "3 1 2" | filecheck %s --check-prefix=INFERRED
// RUN: not tracr-run %s --input "1 7" 2>&1 | filecheck %s --check-prefix=BADTOKEN
// RUN: not tracr-run %s --input "1 1 1 1 1" 2>&1 | filecheck %s --check-prefix=TOOLONG

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %smaller = rasp.select "smaller_1" %tokens, %tokens LT : !rasp.selector
    %target_pos = rasp.selector_width "target_pos_2" %smaller : !rasp.sop<categorical>
    %select = rasp.select "select_3" %target_pos, %indices EQ : !rasp.selector
    %sort = rasp.aggregate "sort_4" %select, %tokens default none : !rasp.sop<categorical>
    rasp.output %sort : !rasp.sop<categorical>
  }
}

// One selected value comes back as it is, two equal ones as their mean (tracr's Aggregate).
// CHECK:      [1, 2, 3]
// CHECK-NEXT: [2.0, none]
// INFERRED:   [1, 2, 3]
// BADTOKEN:   tracr-run: error: token 7 at position 1 is not in the vocab {1, 2, 3}
// TOOLONG:    tracr-run: error: token 1 at position 4 is past max_seq_len 4: the input has 5 tokens
