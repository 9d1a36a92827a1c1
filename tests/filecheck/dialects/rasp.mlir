// RUN: tracr-opt %s | filecheck %s
// RUN: tracr-opt %s | tracr-opt | filecheck %s
// RUN: %roundtrip

// Every rasp op and value form in the custom syntax, printed back identically.

builtin.module {
  rasp.program vocab {"a", "b", 1} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical, {1, "a", "b"}>, %indices: !rasp.sop<categorical, {0, 1, 2, 3}>) {
    %eq = rasp.select "eq_1" %tokens, %tokens EQ : !rasp.selector
    %prev = rasp.select "prev_2" %indices, %indices {(0, 0) -> false, (0, 1) -> true, (1, 0) -> false, (1, 1) -> false} : !rasp.selector
    %both = rasp.selector_and "both_3" %eq, %prev : !rasp.selector
    %either = rasp.selector_or "either_4" %eq, %prev : !rasp.selector
    %neither = rasp.selector_not "neither_5" %either : !rasp.selector
    %width = rasp.selector_width "width_6" %neither : !rasp.sop<categorical, {0, 1, 2, 3, 4}>
    %val = rasp.map "val_7" %tokens {1 -> (1, "x"), "a" -> none, "b" -> -2.5} : !rasp.sop<categorical, {none, -2.5, (1, "x")}>
    %num = rasp.map "num_8" %width {0 -> true, 1 -> false, 2 -> 1.0e+20, 3 -> -inf, 4 -> 0} : !rasp.sop<numerical, {-inf, false, true, 1.0e+20}>
    %pair = rasp.sequence_map "pair_9" %tokens, %indices {(1, 0) -> "one\"zero", ("a", 1) -> ()} : !rasp.sop<categorical, {"one\"zero", ()}>
    %lin = rasp.linear_sequence_map "lin_10" %num, %num factors (1, -0.5) : !rasp.sop<numerical>
    %full = rasp.full "full_11" (7) : !rasp.sop<categorical, {(7)}>
    %agg = rasp.aggregate "agg_12" %prev, %val default none : !rasp.sop<categorical, {none, -2.5, (1, "x")}>
    %mean = rasp.aggregate "mean_13" %eq, %num default 0 : !rasp.sop<numerical>
    rasp.output %agg : !rasp.sop<categorical, {none, -2.5, (1, "x")}>
  }
}

// CHECK:      rasp.program vocab {1, "a", "b"} max_seq_len 4 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical, {1, "a", "b"}>, %indices: !rasp.sop<categorical, {0, 1, 2, 3}>) {
// CHECK-NEXT:   %eq = rasp.select "eq_1" %tokens, %tokens EQ : !rasp.selector
// CHECK-NEXT:   %prev = rasp.select "prev_2" %indices, %indices {(0, 0) -> false, (0, 1) -> true, (1, 0) -> false, (1, 1) -> false} : !rasp.selector
// CHECK-NEXT:   %both = rasp.selector_and "both_3" %eq, %prev : !rasp.selector
// CHECK-NEXT:   %either = rasp.selector_or "either_4" %eq, %prev : !rasp.selector
// CHECK-NEXT:   %neither = rasp.selector_not "neither_5" %either : !rasp.selector
// CHECK-NEXT:   %width = rasp.selector_width "width_6" %neither : !rasp.sop<categorical, {0, 1, 2, 3, 4}>
// CHECK-NEXT:   %val = rasp.map "val_7" %tokens {1 -> (1, "x"), "a" -> none, "b" -> -2.5} : !rasp.sop<categorical, {none, -2.5, (1, "x")}>
// CHECK-NEXT:   %num = rasp.map "num_8" %width {0 -> true, 1 -> false, 2 -> 1.0e+20, 3 -> -inf, 4 -> 0} : !rasp.sop<numerical, {-inf, false, true, 1.0e+20}>
// CHECK-NEXT:   %pair = rasp.sequence_map "pair_9" %tokens, %indices {(1, 0) -> "one\"zero", ("a", 1) -> ()} : !rasp.sop<categorical, {"one\"zero", ()}>
// CHECK-NEXT:   %lin = rasp.linear_sequence_map "lin_10" %num, %num factors (1, -0.5) : !rasp.sop<numerical>
// CHECK-NEXT:   %full = rasp.full "full_11" (7) : !rasp.sop<categorical, {(7)}>
// CHECK-NEXT:   %agg = rasp.aggregate "agg_12" %prev, %val default none : !rasp.sop<categorical, {none, -2.5, (1, "x")}>
// CHECK-NEXT:   %mean = rasp.aggregate "mean_13" %eq, %num default 0 : !rasp.sop<numerical>
// CHECK-NEXT:   rasp.output %agg : !rasp.sop<categorical, {none, -2.5, (1, "x")}>
// CHECK-NEXT: }
