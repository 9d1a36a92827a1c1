// RUN: python -c "import sys; print(open(sys.argv[1]).read().split(chr(10) + '// -----' + chr(10))[0])" %s | not tracr-opt -p rasp-infer-values,lower-rasp-to-craft 2>&1 | filecheck %s --check-prefix=SEVERAL
// RUN: python -c "import sys; print(open(sys.argv[1]).read().split(chr(10) + '// -----' + chr(10))[1])" %s | not tracr-opt -p rasp-infer-values,lower-rasp-to-craft 2>&1 | filecheck %s --check-prefix=DEFAULT
// RUN: python -c "import sys; print(open(sys.argv[1]).read().split(chr(10) + '// -----' + chr(10))[2])" %s | not tracr-opt -p rasp-infer-values,lower-rasp-to-craft 2>&1 | filecheck %s --check-prefix=NONE
// RUN: python -c "import sys; print(open(sys.argv[1]).read().split(chr(10) + '// -----' + chr(10))[0])" %s | not tracr-opt -p rasp-infer-values,rasp-prove-facts 2>&1 | filecheck %s --check-prefix=SEVERAL
// RUN: python -c "import sys; print(open(sys.argv[1]).read().split(chr(10) + '// -----' + chr(10))[1])" %s | not tracr-opt -p rasp-infer-values,rasp-prove-facts 2>&1 | filecheck %s --check-prefix=DEFAULT
// RUN: python -c "import sys; print(open(sys.argv[1]).read().split(chr(10) + '// -----' + chr(10))[2])" %s | not tracr-opt -p rasp-infer-values,rasp-prove-facts 2>&1 | filecheck %s --check-prefix=NONE

// Programs that cannot be compiled exactly are refused before any block is built, naming
// the node and the reason.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %all = rasp.select "all_1" %tokens, %tokens TRUE : !rasp.selector
    %agg = rasp.aggregate "agg_2" %all, %tokens default none : !rasp.sop<categorical>
    rasp.output %agg : !rasp.sop<categorical>
  }
}
// SEVERAL: agg_2: a categorical Aggregate must find one value per query, but its selector can select keys holding different values: on input [1, 2] query 0 selects positions [0, 1] holding 1, 2. Make it numerical to average, or narrow the selector

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %one = rasp.map "one_1" %tokens {1 -> 1, 2 -> 0} : !rasp.sop<numerical>
    %lt = rasp.select "lt_2" %indices, %indices LT : !rasp.selector
    %mean = rasp.aggregate "mean_3" %lt, %one default none : !rasp.sop<numerical>
    rasp.output %mean : !rasp.sop<numerical>
  }
}
// DEFAULT: mean_3: a numerical Aggregate that may select nothing needs default 0 (its empty mean is 0), got none

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %prev = rasp.select "prev_1" %indices, %indices {(0, 0) -> false, (0, 1) -> true, (0, 2) -> false, (1, 0) -> false, (1, 1) -> false, (1, 2) -> true, (2, 0) -> false, (2, 1) -> false, (2, 2) -> false} : !rasp.selector
    %last = rasp.aggregate "last_2" %prev, %tokens default none : !rasp.sop<categorical>
    %num = rasp.map "num_3" %last {1 -> 1, 2 -> 0} : !rasp.sop<numerical>
    rasp.output %num : !rasp.sop<numerical>
  }
}
// NONE: num_3: a numerical s-op cannot be None (the zero vector of a number is 0), but its values include none
