// RUN: tracr-opt %s --split-input-file --verify-diagnostics --parsing-diagnostics | filecheck %s

// Ill-typed or malformed rasp IR gives a diagnostic that names the problem.

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<numerical>, %indices: !rasp.sop<categorical>) {
    %s = rasp.select "s_1" %tokens, %indices EQ : !rasp.selector
    %w = rasp.selector_width "w_2" %s : !rasp.sop<categorical>
    rasp.output %w : !rasp.sop<categorical>
  }
}
// CHECK: rasp.select 's_1': its keys must be categorical, got a numerical s-op

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %tokens {1 -> 5} : !rasp.sop<categorical, {1, 2}>
    rasp.output %m : !rasp.sop<categorical, {1, 2}>
  }
}
// CHECK: rasp.map 'm_1': table entry 1 -> 5 is outside the result's value set

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %tokens {1 -> "a"} : !rasp.sop<numerical, {"a"}>
    rasp.output %m : !rasp.sop<numerical, {"a"}>
  }
}
// CHECK: a numerical s-op holds numbers only, not "a"

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "same" %tokens {1 -> 1} : !rasp.sop<categorical>
    %n = rasp.map "same" %m {1 -> 1} : !rasp.sop<categorical>
    rasp.output %n : !rasp.sop<categorical>
  }
}
// CHECK: two ops have the label 'same'

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %tokens {1 -> 1, 1 -> 2} : !rasp.sop<categorical>
    rasp.output %m : !rasp.sop<categorical>
  }
}
// CHECK: a table has two entries for the same argument

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %tokens python<"<lambda>"> : !rasp.sop<categorical>
    rasp.output %m : !rasp.sop<categorical>
  }
}
// CHECK: a Python function cannot be parsed from text

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %later {1 -> 1} : !rasp.sop<categorical>
    rasp.output %m : !rasp.sop<categorical>
  }
}
// CHECK: use of undefined value %later

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "1" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %m = rasp.map "m_1" %tokens {1 -> 1} : !rasp.sop<whatever>
    rasp.output %m : !rasp.sop<categorical>
  }
}
// CHECK: (an s-op encoding)

// -----

builtin.module {
  rasp.program vocab {1, 2} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical, {1, 3}>, %indices: !rasp.sop<categorical>) {
    rasp.output %tokens : !rasp.sop<categorical, {1, 3}>
  }
}
// CHECK: the tokens' value set must be the program's vocab
