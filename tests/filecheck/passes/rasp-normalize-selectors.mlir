// RUN: tracr-opt %s -p rasp-infer-values,rasp-normalize-selectors | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-normalize-selectors,rasp-normalize-selectors | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-normalize-selectors | tracr-opt --print-op-generic | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-normalize-selectors | tracr-run - --input "1 2 1" --input "2 2" | filecheck %s --check-prefix=OUT
// RUN: tracr-run %s --input "1 2 1" --input "2 2" | filecheck %s --check-prefix=OUT

// An Or becomes one table term over the product of the s-ops it reads; an And of a negated
// Select and a Select is already a conjunction of terms and stays.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %a = rasp.select "a_1" %tokens, %tokens LT : !rasp.selector
    %b = rasp.select "b_2" %indices, %tokens EQ : !rasp.selector
    %o = rasp.selector_or "o_3" %a, %b : !rasp.selector
    %w = rasp.selector_width "w_4" %o : !rasp.sop<categorical>
    %n = rasp.selector_not "n_5" %a : !rasp.selector
    %x = rasp.selector_and "x_6" %n, %b : !rasp.selector
    %v = rasp.aggregate "v_7" %x, %w default none : !rasp.sop<categorical>
    rasp.output %v : !rasp.sop<categorical>
  }
}

// CHECK:      attributes {refined, facts, normalized}
// CHECK:      %product = rasp.sequence_map "product" %tokens, %indices {(1, 0) -> (1, 0), (1, 1) -> (1, 1), (1, 2) -> (1, 2), (2, 0) -> (2, 0), (2, 1) -> (2, 1), (2, 2) -> (2, 2)} : !rasp.sop<categorical, {(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)}>
// CHECK-NEXT: %o_3_term = rasp.select "o_3_term" %product, %tokens {((1, 0), 1) -> false, ((1, 0), 2) -> true, ((1, 1), 1) -> true, ((1, 1), 2) -> true, ((1, 2), 1) -> false, ((1, 2), 2) -> true, ((2, 0), 1) -> false, ((2, 0), 2) -> false, ((2, 1), 1) -> true, ((2, 1), 2) -> false, ((2, 2), 1) -> false, ((2, 2), 2) -> true} : !rasp.selector
// CHECK-NEXT: %w = rasp.selector_width "w_4" %o_3_term
// CHECK-NEXT: %n = rasp.selector_not "n_5" %a : !rasp.selector
// CHECK-NEXT: %x = rasp.selector_and "x_6" %n, %b : !rasp.selector
// CHECK-NEXT: %v = rasp.aggregate "v_7" %x, %w default none
// CHECK-NOT:  rasp.selector_or

// OUT:      [2, none, 2]
// OUT-NEXT: [none, none]
