// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft | filecheck %s
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft{direct=false}' | filecheck %s --check-prefix=SNAPPED
// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft | tracr-run - --input "1 2 1 2 2" --input "2 1" | filecheck %s --check-prefix=OUT
// RUN: tracr-run %s --input "1 2 1 2 2" --input "2 1" | filecheck %s --check-prefix=OUT

// A categorical SelectorWidth whose keys and queries are a categorical Aggregate (the token
// one position back, the first token at position 0): its snapped decoder reads the head's
// output as it is, with the l1 error it carries as `term_error` (tracr reads it unsnapped
// too); the Aggregate's head is built within that error. Without direct constructions the
// keys and queries are snapped first (an identity MLP, two hidden units per value).

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 5 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %back = rasp.select "back_1" %indices, %indices {(0, 0) -> true, (0, 1) -> true, (0, 2) -> false, (0, 3) -> false, (0, 4) -> false, (1, 0) -> false, (1, 1) -> false, (1, 2) -> true, (1, 3) -> false, (1, 4) -> false, (2, 0) -> false, (2, 1) -> false, (2, 2) -> false, (2, 3) -> true, (2, 4) -> false, (3, 0) -> false, (3, 1) -> false, (3, 2) -> false, (3, 3) -> false, (3, 4) -> true, (4, 0) -> false, (4, 1) -> false, (4, 2) -> false, (4, 3) -> false, (4, 4) -> false} : !rasp.selector
    %prev = rasp.aggregate "prev_2" %back, %tokens default none : !rasp.sop<categorical>
    %below = rasp.select "below_3" %prev, %prev LT : !rasp.selector
    %count = rasp.selector_width "count_4" %below : !rasp.sop<categorical>
    rasp.output %count : !rasp.sop<categorical>
  }
}

// CHECK:      %prev = craft.categorical_attention "prev_2" %tokens select [(%indices, %indices {{.*}})] tolerance [[TOL:.*]] : !craft.space<[prev_2:1, prev_2:2]>
// CHECK-NEXT: %count = craft.selector_width "count_4" select [(%prev, %prev LT)] term_error [[TOL]] : !craft.space<[count_4:0, {{.*}}]>
// CHECK-NEXT: craft.output %count

// SNAPPED:      %prev_2_snap = craft.categorical_mlp "prev_2_snap" %prev {1 -> 1, 2 -> 2}
// SNAPPED-NEXT: %count = craft.selector_width "count_4" select [(%prev_2_snap, %prev_2_snap LT)] : !craft.space

// OUT:      [0, 0, 3, 0, 3]
// OUT-NEXT: [0, 0]
