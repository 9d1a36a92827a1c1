// RUN: tracr-opt %s -p rasp-infer-values,rasp-refine-values | filecheck %s
// RUN: tracr-opt %s -p "rasp-infer-values,rasp-refine-values{decide_budget=1}" | filecheck %s --check-prefix=BUDGET
// RUN: not tracr-opt %s -p rasp-infer-values,rasp-prove-facts 2>&1 | filecheck %s --check-prefix=REFUSED

// 3^8 inputs of length 8 are too many to try all, and no rule covers keys that read the
// tokens: the selectors are decided per length, query position and token
// (tracr_ir.analysis.decide). `own` keys hold the position whatever the token: every query
// selects itself, proven. `unless3` keys hold -1 under a 3: query 0 of input [3] selects
// nothing, and the refusal shows that input.

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 8 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %own = rasp.sequence_map "own_1" %tokens, %indices {(1, 0) -> 0, (1, 1) -> 1, (1, 2) -> 2, (1, 3) -> 3, (1, 4) -> 4, (1, 5) -> 5, (1, 6) -> 6, (1, 7) -> 7, (2, 0) -> 0, (2, 1) -> 1, (2, 2) -> 2, (2, 3) -> 3, (2, 4) -> 4, (2, 5) -> 5, (2, 6) -> 6, (2, 7) -> 7, (3, 0) -> 0, (3, 1) -> 1, (3, 2) -> 2, (3, 3) -> 3, (3, 4) -> 4, (3, 5) -> 5, (3, 6) -> 6, (3, 7) -> 7} : !rasp.sop<categorical>
    %sel = rasp.select "sel_2" %own, %indices EQ : !rasp.selector
    %agg = rasp.aggregate "agg_3" %sel, %tokens default none : !rasp.sop<categorical>
    %unless3 = rasp.sequence_map "unless3_4" %tokens, %indices {(1, 0) -> 0, (1, 1) -> 1, (1, 2) -> 2, (1, 3) -> 3, (1, 4) -> 4, (1, 5) -> 5, (1, 6) -> 6, (1, 7) -> 7, (2, 0) -> 0, (2, 1) -> 1, (2, 2) -> 2, (2, 3) -> 3, (2, 4) -> 4, (2, 5) -> 5, (2, 6) -> 6, (2, 7) -> 7, (3, 0) -> -1, (3, 1) -> -1, (3, 2) -> -1, (3, 3) -> -1, (3, 4) -> -1, (3, 5) -> -1, (3, 6) -> -1, (3, 7) -> -1} : !rasp.sop<categorical>
    %sel3 = rasp.select "sel3_5" %unless3, %indices EQ : !rasp.selector
    %agg3 = rasp.aggregate "agg3_6" %sel3, %agg default none : !rasp.sop<categorical>
    %num = rasp.map "num_7" %agg3 {1 -> 1, 2 -> 0, 3 -> 0} : !rasp.sop<numerical>
    rasp.output %num : !rasp.sop<numerical>
  }
}

// CHECK:      %agg = rasp.aggregate "agg_3" %sel, %tokens default none attributes {always_selects} : !rasp.sop<categorical, {1, 2, 3}>
// CHECK:      %agg3 = rasp.aggregate "agg3_6" %sel3, %agg default none : !rasp.sop<categorical, {none, 1, 2, 3}>

// BUDGET:     %agg = rasp.aggregate "agg_3" %sel, %tokens default none : !rasp.sop<categorical, {none, 1, 2, 3}>

// REFUSED:    num_7: a numerical s-op cannot be None {{.*}} on input [3] it is None at position 0 (agg3_6 selects nothing for query 0)
