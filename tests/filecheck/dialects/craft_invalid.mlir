// RUN: tracr-opt %s --split-input-file --verify-diagnostics --parsing-diagnostics | filecheck %s

// Ill-typed or malformed craft IR gives a diagnostic that names the problem.

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %m = craft.categorical_mlp "m_1" %tokens {1 -> 5} : !craft.space<[m_1:5]>
    craft.output %m : !craft.space<[m_1:5]>
  }
}
// CHECK: craft.categorical_mlp 'm_1': no table entry for 2

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %m = craft.categorical_mlp "m_1" %tokens {1 -> 5, 2 -> 6} : !craft.space<[m_1:5]>
    craft.output %m : !craft.space<[m_1:5]>
  }
}
// CHECK: craft.categorical_mlp 'm_1': output 6 has no direction in the result

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %n = craft.categorical_mlp "n_1" %tokens {1 -> 0.5, 2 -> 1} : !craft.space<[n_1]>
    %w = craft.selector_width "w_2" select [(%n, %tokens EQ)] : !craft.space<[w_2:0, w_2:1, w_2:2]>
    craft.output %w : !craft.space<[w_2:0, w_2:1, w_2:2]>
  }
}
// CHECK: craft.selector_width 'w_2': selector keys and queries are categorical

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %l = craft.linear_mlp "l_1" %tokens factors (1) constant 0 : !craft.space<[l_1]>
    craft.output %l : !craft.space<[l_1]>
  }
}
// CHECK: craft.linear_mlp 'l_1' reads numerical s-ops

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %a = craft.categorical_attention "a_1" %tokens select [(%indices, %indices EQ)] tolerance 0.25 : !craft.space<[a_1:1]>
    craft.output %a : !craft.space<[a_1:1]>
  }
}
// CHECK: craft.categorical_attention 'a_1': every value needs a direction in the result

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %c = craft.constant_mlp "c_1" fill 1 : !craft.space<[c_1:1, other:2]>
    craft.output %c : !craft.space<[c_1:1, other:2]>
  }
}
// CHECK: an s-op's space has one name: [c_1:1, other:2]

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %c = craft.constant_mlp "c_1" fill 1 : !craft.space<[c_1:none]>
    craft.output %c : !craft.space<[c_1:none]>
  }
}
// CHECK: None has no direction (it is the zero vector)

// -----

// Layers: a head cannot read what the MLP of its own layer writes.
builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %m = craft.categorical_mlp "m_1" layer 0 %tokens {1 -> 1, 2 -> 2} : !craft.space<[m_1:1, m_1:2]>
    %w = craft.selector_width "w_2" layer 0 select [(%m, %tokens EQ)] : !craft.space<[w_2:0, w_2:1, w_2:2]>
    craft.output %w : !craft.space<[w_2:0, w_2:1, w_2:2]>
  }
}
// CHECK: craft.selector_width 'w_2' reads in the attention of layer 0 what 'm_1' writes in the MLP of layer 0: a block must read values written in an earlier sublayer

// -----

// Layers: once one block has a layer, every block has one.
builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %m = craft.categorical_mlp "m_1" layer 0 %tokens {1 -> 1, 2 -> 2} : !craft.space<[m_1:1, m_1:2]>
    %w = craft.selector_width "w_2" select [(%m, %tokens EQ)] : !craft.space<[w_2:0, w_2:1, w_2:2]>
    craft.output %w : !craft.space<[w_2:0, w_2:1, w_2:2]>
  }
}
// CHECK: craft.selector_width 'w_2' has no layer while other blocks have one (craft-allocate-layers places every block)

// -----

builtin.module {
  craft.program vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2]>, %indices: !craft.space<[indices:0, indices:1]>) {
    %w = craft.selector_width "w_1" select [(%tokens, %tokens EQ)] direct : !craft.space<[w_1:0, w_1:1, w_1:2]>
    craft.output %w : !craft.space<[w_1:0, w_1:1, w_1:2]>
  }
}
// CHECK: craft.selector_width 'w_1': a direct width is numerical
