// RUN: tracr-opt %s -p rasp-infer-values,rasp-fuse-maps | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-fuse-maps | tracr-run - --input "1 2 1" --input "2" | filecheck %s --check-prefix=OUT
// RUN: tracr-run %s --input "1 2 1" --input "2" | filecheck %s --check-prefix=OUT

// A map of a map and a map of a sequence_map become one op with the composed table (a map to
// none stays none; the outer map is not called on none). %kept is read twice, so the maps
// reading it are not fused into it; %num keeps the outer op's numerical encoding.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %a = rasp.map "a_1" %tokens {1 -> 2, 2 -> 3} : !rasp.sop<categorical>
    %b = rasp.map "b_2" %a {2 -> 20, 3 -> none} : !rasp.sop<categorical>
    %c = rasp.map "c_3" %b {20 -> 200} : !rasp.sop<categorical>
    %s = rasp.sequence_map "s_4" %tokens, %indices {(1, 0) -> 0, (1, 1) -> 1, (1, 2) -> 2, (2, 0) -> 3, (2, 1) -> 4, (2, 2) -> 5} : !rasp.sop<categorical>
    %num = rasp.map "num_5" %s {0 -> 0, 1 -> 0.5, 2 -> 1, 3 -> 1.5, 4 -> 2, 5 -> 2.5} : !rasp.sop<numerical>
    %kept = rasp.map "kept_6" %tokens {1 -> 1, 2 -> 0} : !rasp.sop<categorical>
    %x = rasp.map "x_7" %kept {0 -> 5, 1 -> 6} : !rasp.sop<categorical>
    %y = rasp.sequence_map "y_8" %x, %kept {(5, 0) -> 1, (5, 1) -> 2, (6, 0) -> 3, (6, 1) -> 4} : !rasp.sop<categorical>
    %z = rasp.sequence_map "z_9" %c, %y {(200, 1) -> 1, (200, 2) -> 2, (200, 3) -> 3, (200, 4) -> 4} : !rasp.sop<categorical>
    %out = rasp.linear_sequence_map "out_10" %num, %z factors (1, 1) : !rasp.sop<numerical>
    rasp.output %out : !rasp.sop<numerical>
  }
}

// CHECK:      rasp.program
// CHECK-NEXT:   %c = rasp.map "c_3" %tokens {1 -> 200, 2 -> none} : !rasp.sop<categorical, {none, 200}>
// CHECK-NEXT:   %num = rasp.sequence_map "num_5" %tokens, %indices {(1, 0) -> 0, (1, 1) -> 0.5, (1, 2) -> 1, (2, 0) -> 1.5, (2, 1) -> 2, (2, 2) -> 2.5} : !rasp.sop<numerical, {0, 0.5, 1, 1.5, 2, 2.5}>
// CHECK-NEXT:   %kept = rasp.map "kept_6" %tokens {1 -> 1, 2 -> 0}
// CHECK-NEXT:   %x = rasp.map "x_7" %kept {0 -> 5, 1 -> 6}
// CHECK-NEXT:   %y = rasp.sequence_map "y_8" %x, %kept
// CHECK-NEXT:   %z = rasp.sequence_map "z_9" %c, %y
// CHECK-NEXT:   %out = rasp.linear_sequence_map "out_10" %num, %z

// OUT:      [4, none, 5]
// OUT-NEXT: [none]
