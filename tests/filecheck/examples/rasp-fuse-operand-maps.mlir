// RUN: tracr-opt --load-pass-plugin %S/../../../examples/custom_pass/rasp_fuse_operand_maps.py %s -p rasp-infer-values,rasp-fuse-operand-maps | filecheck %s
// RUN: tracr-opt --load-pass-plugin %S/../../../examples/custom_pass/rasp_fuse_operand_maps.py %s -p rasp-infer-values,rasp-fuse-maps,rasp-fuse-operand-maps | filecheck %s --check-prefix=BOTH
// RUN: not tracr-opt %s -p rasp-fuse-operand-maps 2>&1 | filecheck %s --check-prefix=UNLOADED

// The tutorial pass: the single-use maps a sequence_map reads move into its table, a chain
// of them too (a map to none makes the pair none). With the built-in rasp-fuse-maps first, the map of the
// sequence_map joins too: the whole chain is one sequence_map.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %a = rasp.map "a_1" %tokens {1 -> 2, 2 -> 3} : !rasp.sop<categorical>
    %b = rasp.map "b_2" %a {2 -> 20, 3 -> 30} : !rasp.sop<categorical>
    %i = rasp.map "i_3" %indices {0 -> none, 1 -> 1, 2 -> 2} : !rasp.sop<categorical>
    %c = rasp.sequence_map "c_4" %b, %i {(20, 1) -> 1, (20, 2) -> 2, (30, 1) -> 4, (30, 2) -> 5} : !rasp.sop<categorical>
    %d = rasp.map "d_5" %c {1 -> 1, 2 -> 2, 4 -> 4, 5 -> none} : !rasp.sop<categorical>
    rasp.output %d : !rasp.sop<categorical>
  }
}

// CHECK:      rasp.program
// CHECK-NEXT:   %c = rasp.sequence_map "c_4" %tokens, %indices {(1, 0) -> none, (1, 1) -> 1, (1, 2) -> 2, (2, 0) -> none, (2, 1) -> 4, (2, 2) -> 5}
// CHECK-NEXT:   %d = rasp.map "d_5" %c {1 -> 1, 2 -> 2, 4 -> 4, 5 -> none}

// BOTH:      rasp.program
// BOTH-NEXT:   %d = rasp.sequence_map "d_5" %tokens, %indices {(1, 0) -> none, (1, 1) -> 1, (1, 2) -> 2, (2, 0) -> none, (2, 1) -> 4, (2, 2) -> none} : !rasp.sop<categorical, {none, 1, 2, 4}>
// BOTH-NEXT:   rasp.output %d

// UNLOADED: tracr-opt: error: bad pass pipeline 'rasp-fuse-operand-maps': Unrecognized passes: ['rasp-fuse-operand-maps']
