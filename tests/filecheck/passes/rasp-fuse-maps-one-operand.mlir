// RUN: tracr-opt %s -p rasp-infer-values,rasp-fuse-maps | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-fuse-maps | tracr-run - --input "1 2 1" --input "2" | filecheck %s --check-prefix=OUT
// RUN: tracr-run %s --input "1 2 1" --input "2" | filecheck %s --check-prefix=OUT

// A sequence_map whose table ignores one operand is a map of the other: %first ignores %flip
// (its second operand), %second ignores %indices (its first). %both reads both, and %maybe
// ignores %prev, which may be none (the sequence map gives none there): both are kept. The
// map %second then fuses with %flip, its only reader's operand.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %flip = rasp.map "flip_1" %tokens {1 -> 2, 2 -> 1} : !rasp.sop<categorical>
    %first = rasp.sequence_map "first_2" %indices, %flip {(0, 1) -> 10, (0, 2) -> 10, (1, 1) -> 11, (1, 2) -> 11, (2, 1) -> 12, (2, 2) -> 12} : !rasp.sop<categorical>
    %second = rasp.sequence_map "second_3" %indices, %flip {(0, 1) -> 1, (0, 2) -> 0, (1, 1) -> 1, (1, 2) -> 0, (2, 1) -> 1, (2, 2) -> 0} : !rasp.sop<numerical>
    %both = rasp.sequence_map "both_4" %first, %tokens {(10, 1) -> 0, (10, 2) -> 1, (11, 1) -> 1, (11, 2) -> 0, (12, 1) -> 0, (12, 2) -> 0} : !rasp.sop<numerical>
    %back = rasp.select "back_5" %indices, %indices {(0, 0) -> false, (0, 1) -> true, (0, 2) -> false, (1, 0) -> false, (1, 1) -> false, (1, 2) -> true, (2, 0) -> false, (2, 1) -> false, (2, 2) -> false} : !rasp.selector
    %prev = rasp.aggregate "prev_6" %back, %tokens default none : !rasp.sop<categorical>
    %maybe = rasp.sequence_map "maybe_7" %indices, %prev {(0, 1) -> 0, (0, 2) -> 0, (1, 1) -> 1, (1, 2) -> 1, (2, 1) -> 2, (2, 2) -> 2} : !rasp.sop<numerical>
    %sum = rasp.linear_sequence_map "sum_8" %second, %both factors (1, 1) : !rasp.sop<numerical>
    %out = rasp.linear_sequence_map "out_9" %sum, %maybe factors (1, 10) : !rasp.sop<numerical>
    rasp.output %out : !rasp.sop<numerical>
  }
}

// CHECK:      rasp.program
// CHECK-NEXT:   %first = rasp.map "first_2" %indices {0 -> 10, 1 -> 11, 2 -> 12} : !rasp.sop<categorical, {10, 11, 12}>
// CHECK-NEXT:   %second = rasp.map "second_3" %tokens {1 -> 0, 2 -> 1} : !rasp.sop<numerical, {0, 1}>
// CHECK-NEXT:   %both = rasp.sequence_map "both_4" %first, %tokens
// CHECK:        %maybe = rasp.sequence_map "maybe_7" %indices, %prev

// OUT:      [none, 11, 20]
// OUT-NEXT: [none]
