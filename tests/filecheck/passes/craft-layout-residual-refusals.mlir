// RUN: tracr-opt %s --split-input-file --verify-diagnostics --parsing-diagnostics | filecheck %s

// A residual layout where a block writes into a position whose occupant is still live, or
// that leaves out a direction some block reads, is refused by the craft program's verifier,
// naming the block.

// sort_4 writes in layer 1's attention into tokens' positions, but it reads tokens there.
builtin.module {
  craft.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) attributes {proven_optimal = ["layers"], residual = #craft.residual<[one, bos, tokens:1 | sort_4:1, tokens:2 | sort_4:2, tokens:3 | sort_4:3, indices:0 | sum_7:2, indices:1 | sum_7:3, indices:2 | sum_7:4, target_pos_2_share | sum_7:5, target_pos_2:0 | sum_7:6, target_pos_2:1 | sum_7:7, target_pos_2:2, target_pos_2:3, parity_6:0, parity_6:1, double_5:2, double_5:4, double_5:6]>} {
    %target_pos = craft.selector_width "target_pos_2" layer 0 select [(%tokens, %tokens LT)] : !craft.space<[target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3]>
    %sort = craft.categorical_attention "sort_4" layer 1 %tokens select [(%target_pos, %indices EQ)] tolerance 0.0625 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
    %double = craft.categorical_mlp "double_5" layer 1 %sort {1 -> 2, 2 -> 4, 3 -> 6} : !craft.space<[double_5:2, double_5:4, double_5:6]>
    %parity = craft.categorical_mlp "parity_6" layer 0 %indices {0 -> 0, 1 -> 1, 2 -> 0} : !craft.space<[parity_6:0, parity_6:1]>
    %sum = craft.sequence_map_mlp "sum_7" layer 2 %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
    craft.output %sum : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
  }
}
// CHECK: craft.program: craft.categorical_attention 'sort_4' writes sort_4:1 in the attention of layer 1 into residual position 2, which still holds tokens:1 ('sort_4' reads it in the attention of layer 1 and it is cleaned in the MLP of layer 1): a block may write only positions whose occupant has no readers left and is cleaned

// -----

// parity_6:1 has no position, but sum_7 reads it.
builtin.module {
  craft.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) attributes {proven_optimal = ["layers"], residual = #craft.residual<[one, bos, tokens:1, tokens:2, tokens:3, indices:0, indices:1, indices:2, target_pos_2_share, target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3, parity_6:0, sort_4:1, sort_4:2, sort_4:3, double_5:2, double_5:4, double_5:6, sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>} {
    %target_pos = craft.selector_width "target_pos_2" layer 0 select [(%tokens, %tokens LT)] : !craft.space<[target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3]>
    %sort = craft.categorical_attention "sort_4" layer 1 %tokens select [(%target_pos, %indices EQ)] tolerance 0.0625 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
    %double = craft.categorical_mlp "double_5" layer 1 %sort {1 -> 2, 2 -> 4, 3 -> 6} : !craft.space<[double_5:2, double_5:4, double_5:6]>
    %parity = craft.categorical_mlp "parity_6" layer 0 %indices {0 -> 0, 1 -> 1, 2 -> 0} : !craft.space<[parity_6:0, parity_6:1]>
    %sum = craft.sequence_map_mlp "sum_7" layer 2 %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
    craft.output %sum : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
  }
}
// CHECK: craft.program: the residual layout has no position for parity_6:1, which craft.categorical_mlp 'parity_6' writes and 'sum_7' reads

// -----

// tokens:1 is read in layer 1 (sort_4's value), so layer 0 cannot clean it.
builtin.module {
  craft.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) attributes {proven_optimal = ["layers"], residual = #craft.residual<[one, bos, tokens:1 clean 0 | sum_7:2, tokens:2 | sum_7:3, tokens:3 | sum_7:4, indices:0 | sum_7:5, indices:1 | sum_7:6, indices:2 | sum_7:7, target_pos_2_share | double_5:6, target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3, parity_6:0, parity_6:1, sort_4:1, sort_4:2, sort_4:3, double_5:2, double_5:4]>} {
    %target_pos = craft.selector_width "target_pos_2" layer 0 select [(%tokens, %tokens LT)] : !craft.space<[target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3]>
    %sort = craft.categorical_attention "sort_4" layer 1 %tokens select [(%target_pos, %indices EQ)] tolerance 0.0625 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
    %double = craft.categorical_mlp "double_5" layer 1 %sort {1 -> 2, 2 -> 4, 3 -> 6} : !craft.space<[double_5:2, double_5:4, double_5:6]>
    %parity = craft.categorical_mlp "parity_6" layer 0 %indices {0 -> 0, 1 -> 1, 2 -> 0} : !craft.space<[parity_6:0, parity_6:1]>
    %sum = craft.sequence_map_mlp "sum_7" layer 2 %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
    craft.output %sum : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
  }
}
// CHECK: craft.program: the residual layout cleans tokens:1 in the MLP of layer 0, before it is free ('sort_4' reads it in the attention of layer 1)

// -----

// The share may be cleaned in any layer before double_5 writes its position in layer 1's
// MLP, but layer 1's MLP runs with it: too late.
builtin.module {
  craft.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) attributes {proven_optimal = ["layers"], residual = #craft.residual<[one, bos, tokens:1 | sum_7:2, tokens:2 | sum_7:3, tokens:3 | sum_7:4, indices:0 | sum_7:5, indices:1 | sum_7:6, indices:2 | sum_7:7, target_pos_2_share clean 1 | double_5:6, target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3, parity_6:0, parity_6:1, sort_4:1, sort_4:2, sort_4:3, double_5:2, double_5:4]>} {
    %target_pos = craft.selector_width "target_pos_2" layer 0 select [(%tokens, %tokens LT)] : !craft.space<[target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3]>
    %sort = craft.categorical_attention "sort_4" layer 1 %tokens select [(%target_pos, %indices EQ)] tolerance 0.0625 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
    %double = craft.categorical_mlp "double_5" layer 1 %sort {1 -> 2, 2 -> 4, 3 -> 6} : !craft.space<[double_5:2, double_5:4, double_5:6]>
    %parity = craft.categorical_mlp "parity_6" layer 0 %indices {0 -> 0, 1 -> 1, 2 -> 0} : !craft.space<[parity_6:0, parity_6:1]>
    %sum = craft.sequence_map_mlp "sum_7" layer 2 %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
    craft.output %sum : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
  }
}
// CHECK: craft.program: craft.categorical_mlp 'double_5' writes double_5:6 in the MLP of layer 1 into residual position 8, which still holds target_pos_2_share ('target_pos_2' reads it in the MLP of layer 0 and it is cleaned in the MLP of layer 1): a block may write only positions whose occupant has no readers left and is cleaned

// -----

// Only an occupant that hands its position on is cleaned.
builtin.module {
  craft.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) attributes {proven_optimal = ["layers"], residual = #craft.residual<[one, bos, tokens:1 | sum_7:2, tokens:2 | sum_7:3, tokens:3 | sum_7:4, indices:0 | sum_7:5, indices:1 | sum_7:6, indices:2 | sum_7:7, target_pos_2_share | double_5:6, target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3, parity_6:0, parity_6:1, sort_4:1, sort_4:2, sort_4:3, double_5:2, double_5:4 clean 2]>} {
    %target_pos = craft.selector_width "target_pos_2" layer 0 select [(%tokens, %tokens LT)] : !craft.space<[target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3]>
    %sort = craft.categorical_attention "sort_4" layer 1 %tokens select [(%target_pos, %indices EQ)] tolerance 0.0625 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
    %double = craft.categorical_mlp "double_5" layer 1 %sort {1 -> 2, 2 -> 4, 3 -> 6} : !craft.space<[double_5:2, double_5:4, double_5:6]>
    %parity = craft.categorical_mlp "parity_6" layer 0 %indices {0 -> 0, 1 -> 1, 2 -> 0} : !craft.space<[parity_6:0, parity_6:1]>
    %sum = craft.sequence_map_mlp "sum_7" layer 2 %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
    craft.output %sum : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
  }
}
// CHECK: craft.program: the residual layout cleans double_5:4 in layer 2, but no later occupant takes its position (only a reused position is cleaned)
