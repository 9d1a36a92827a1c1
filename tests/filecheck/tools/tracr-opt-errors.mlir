// RUN: not tracr-opt %s 2>&1 | filecheck %s --check-prefix=PARSE
// RUN: sed -e 's/%%nope/%%tokens/' %s | not tracr-opt 2>&1 | filecheck %s --check-prefix=VERIFY
// RUN: sed -e 's/%%nope/%%tokens/' -e 's/{1 -> 5}/{1 -> 1}/' %s | not tracr-opt -p 'nope' 2>&1 | filecheck %s --check-prefix=PASS
// RUN: sed -e 's/%%nope/%%tokens/' -e 's/{1 -> 5}/{1 -> 1}/' %s | not tracr-opt -p 'rasp-infer-values{bogus=1}' 2>&1 | filecheck %s --check-prefix=OPTION

// Errors are diagnostics with a location where there is one, never a Python traceback.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %nope {1 -> 5} : !rasp.sop<categorical, {1, 2}>
    rasp.output %m : !rasp.sop<categorical, {1, 2}>
  }
}

// PARSE:      tracr-opt-errors.mlir:10:25: error: use of undefined value %nope
// PARSE-NEXT: %m = rasp.map "m_1" %nope {1 -> 5}
// PARSE-NOT:  Traceback
// VERIFY:     tracr-opt: error: rasp.map 'm_1': table entry 1 -> 5 is outside the result's value set
// VERIFY-NOT: Traceback
// PASS:       tracr-opt: error: bad pass pipeline 'nope': Unrecognized passes: ['nope']
// OPTION:     tracr-opt: error: bad pass pipeline 'rasp-infer-values{bogus=1}'
// OPTION-NOT: Traceback
