// RUN: tracr-opt %s -p rasp-infer-values | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values | tracr-opt | filecheck %s

// Operands computed from one source are inferred together: `opens - closes` (the fractions
// of "(" and of ")" over two equal causal selectors) sees only the pairs (a/m, b/m) with
// a + b <= m, so 1/6 (= 2/3 - 1/2, from the product of the two sets) is not in its set, and
// a SequenceMap of a Map of the tokens with the tokens keeps its table on the pairs
// (f(t), t) only.

builtin.module {
  rasp.program vocab {"(", ")", "a"} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %is_open = rasp.map "is_open_1" %tokens {"(" -> true, ")" -> false, "a" -> false} : !rasp.sop<numerical>
    %is_close = rasp.map "is_close_2" %tokens {"(" -> false, ")" -> true, "a" -> false} : !rasp.sop<numerical>
    %prevs = rasp.select "prevs_3" %indices, %indices LEQ : !rasp.selector
    %opens = rasp.aggregate "opens_4" %prevs, %is_open default 0 : !rasp.sop<numerical>
    %prevs2 = rasp.select "prevs_5" %indices, %indices LEQ : !rasp.selector
    %closes = rasp.aggregate "closes_6" %prevs2, %is_close default 0 : !rasp.sop<numerical>
    %balance = rasp.linear_sequence_map "balance_7" %opens, %closes factors (1, -1) : !rasp.sop<numerical>
    %flags = rasp.map "flags_8" %tokens {"(" -> 1, ")" -> 2, "a" -> 3} : !rasp.sop<categorical>
    %pair = rasp.sequence_map "pair_9" %flags, %tokens {(1, "(") -> 10, (1, ")") -> 11, (1, "a") -> 12, (2, "(") -> 20, (2, ")") -> 21, (2, "a") -> 22, (3, "(") -> 30, (3, ")") -> 31, (3, "a") -> 32} : !rasp.sop<categorical>
    rasp.output %balance : !rasp.sop<numerical>
  }
}

// CHECK:      %balance = rasp.linear_sequence_map "balance_7" %opens, %closes factors (1, -1) : !rasp.sop<numerical, {-1, -0.6666666666666666, -0.5, -0.3333333333333333, 0.0, 0.3333333333333333, 0.5, 0.6666666666666666, 1}>
// CHECK:      %pair = rasp.sequence_map "pair_9" %flags, %tokens {(1, "(") -> 10, (2, ")") -> 21, (3, "a") -> 32} : !rasp.sop<categorical, {10, 21, 32}>
