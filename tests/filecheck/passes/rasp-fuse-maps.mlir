// RUN: tracr-opt --load-pass-plugin %S/../../../examples/custom_pass/rasp_fuse_maps.py %s -p rasp-infer-values,rasp-fuse-maps | filecheck %s
// RUN: not tracr-opt %s -p rasp-fuse-maps 2>&1 | filecheck %s --check-prefix=UNLOADED

// The tutorial pass: a chain map -> map -> sequence_map -> map becomes one sequence_map whose
// table is the composition; a map to none stays none.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %a = rasp.map "a_1" %tokens {1 -> 2, 2 -> 3} : !rasp.sop<categorical>
    %b = rasp.map "b_2" %a {2 -> 20, 3 -> 30} : !rasp.sop<categorical>
    %c = rasp.sequence_map "c_3" %b, %indices {(20, 0) -> 0, (20, 1) -> 1, (20, 2) -> 2, (30, 0) -> 3, (30, 1) -> 4, (30, 2) -> 5} : !rasp.sop<categorical>
    %d = rasp.map "d_4" %c {0 -> none, 1 -> 1, 2 -> 2, 3 -> 3, 4 -> 4, 5 -> 5} : !rasp.sop<categorical>
    rasp.output %d : !rasp.sop<categorical>
  }
}

// CHECK:      rasp.program
// CHECK-NEXT:   %d = rasp.sequence_map "d_4" %tokens, %indices {(1, 0) -> none, (1, 1) -> 1, (1, 2) -> 2, (2, 0) -> 3, (2, 1) -> 4, (2, 2) -> 5} : !rasp.sop<categorical, {none, 1, 2, 3, 4, 5}>
// CHECK-NEXT:   rasp.output %d

// UNLOADED: tracr-opt: error: bad pass pipeline 'rasp-fuse-maps': Unrecognized passes: ['rasp-fuse-maps']
