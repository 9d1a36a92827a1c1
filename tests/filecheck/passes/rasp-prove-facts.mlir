// RUN: tracr-opt %s -p rasp-infer-values,rasp-prove-facts | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-prove-facts | tracr-opt --print-op-generic | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p "rasp-infer-values,rasp-prove-facts{decide_budget=1}" | filecheck %s --check-prefix=BUDGET

// A sort by a unique key is proven to pick one value per query by a rule; an Or of token
// equalities by deciding it per length, position and token (tracr_ir.analysis.decide: 3,279
// inputs up to length 7 are too many to try all). Without the budget to decide it, it is
// only tested (no input the witness search tried selects two different values).

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 7 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %lt = rasp.select "lt_1" %tokens, %tokens LT : !rasp.selector
    %pos = rasp.selector_width "pos_2" %lt : !rasp.sop<categorical>
    %sel = rasp.select "sel_3" %pos, %indices EQ : !rasp.selector
    %sort = rasp.aggregate "sort_4" %sel, %tokens default none : !rasp.sop<categorical>
    %eq = rasp.select "eq_5" %tokens, %tokens EQ : !rasp.selector
    %either = rasp.selector_or "either_6" %eq, %eq : !rasp.selector
    %same = rasp.aggregate "same_7" %either, %tokens default none : !rasp.sop<categorical>
    %out = rasp.sequence_map "out_8" %sort, %same {(1, 1) -> 1, (1, 2) -> 2, (1, 3) -> 3, (2, 1) -> 2, (2, 2) -> 4, (2, 3) -> 6, (3, 1) -> 3, (3, 2) -> 6, (3, 3) -> 9} : !rasp.sop<categorical>
    rasp.output %out : !rasp.sop<categorical>
  }
}

// CHECK:      attributes {refined, facts}
// CHECK:      %sort = rasp.aggregate "sort_4" %sel, %tokens default none attributes {one_value = "proven"}
// CHECK:      %same = rasp.aggregate "same_7" %either, %tokens default none attributes {always_selects, one_value = "proven"}

// BUDGET:     %sort = rasp.aggregate "sort_4" %sel, %tokens default none attributes {one_value = "proven"}
// BUDGET:     %same = rasp.aggregate "same_7" %either, %tokens default none attributes {always_selects, one_value = "tested"}

// Refusals (a witness input, a numerical s-op that may be None, ...) are tested in
// lower-rasp-to-craft-refusals.mlir, which runs this pass first.
