// A stable sort of a sequence with repeats, with the op of the user's dialect `myr`:
// position i goes to slot smaller(i) + seen(i), where smaller counts the smaller tokens and
// seen = myr.running_count the equal tokens at or before i ([3, 1, 2, 1] -> [1, 1, 2, 3]).
//
//   tracr-opt --load-pass-plugin examples/custom_lowering/myr.py \
//       examples/custom_lowering/stable_sort.mlir \
//       -p rasp-infer-values,rasp-refine-values,rasp-prove-facts,rasp-normalize-selectors,rasp-annotate-precision,lower-rasp-to-craft
//
// prints the craft program below (tests/test_custom_lowering_example.py checks it with
// filecheck and runs it on every input against the rasp interpreter).

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %lt = rasp.select "lt_1" %tokens, %tokens LT : !rasp.selector
    %smaller = rasp.selector_width "smaller_2" %lt : !rasp.sop<categorical>
    %seen = myr.running_count "seen_3" %tokens : !rasp.sop<categorical>
    %target = rasp.linear_sequence_map "target_4" %smaller, %seen factors (1, 1) : !rasp.sop<categorical>
    %slot = rasp.map "slot_5" %indices {0 -> 1, 1 -> 2, 2 -> 3, 3 -> 4} : !rasp.sop<categorical>
    %at = rasp.select "at_6" %target, %slot EQ : !rasp.selector
    %sorted = rasp.aggregate "sorted_7" %at, %tokens default none : !rasp.sop<categorical>
    rasp.output %sorted : !rasp.sop<categorical>
  }
}

// The running count is one selector_width block: two terms, an And of (tokens EQ) and
// (indices LEQ); no myr op is left.
// CHECK:      craft.program vocab {1, 2, 3} max_seq_len 4
// CHECK-NEXT:   %smaller = craft.selector_width "smaller_2" select [(%tokens, %tokens LT)]
// CHECK-NEXT:   %seen = craft.selector_width "seen_3" select [(%tokens, %tokens EQ), (%indices, %indices LEQ)] : !craft.space<[seen_3:1, seen_3:2, seen_3:3, seen_3:4]>
// CHECK-NEXT:   %target = craft.sequence_map_mlp "target_4" %smaller, %seen {(0, 1) -> 1,
// CHECK-NEXT:   %slot = craft.categorical_mlp "slot_5" %indices {0 -> 1, 1 -> 2, 2 -> 3, 3 -> 4}
// CHECK-NEXT:   %sorted = craft.categorical_attention "sorted_7" %tokens select [(%target, %slot EQ)]
// CHECK-NEXT:   craft.output %sorted
// CHECK-NOT:  myr.
