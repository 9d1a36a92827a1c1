// RUN: tracr-opt %s -p craft-layout-residual | filecheck %s
// RUN: tracr-opt %s -p craft-layout-residual | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p 'craft-layout-residual{reuse=false},lower-craft-to-transformer' | filecheck %s --check-prefix=DISJOINT
// RUN: tracr-opt %s -p craft-layout-residual,lower-craft-to-transformer | filecheck %s --check-prefix=MODEL
// RUN: tracr-opt %s -p craft-layout-residual,lower-craft-to-transformer | tracr-run - --input "( ) a" --input ") (" --input "( ( )" | filecheck %s --check-prefix=OUT
// RUN: tracr-opt %s -p 'craft-layout-residual{reuse=false},lower-craft-to-transformer' | tracr-run - --input "( ) a" --input ") (" --input "( ( )" | filecheck %s --check-prefix=OUT

// Where the cleaning goes (make_shuffle_dyck at max_seq_len 3, layers allocated): the MLPs of
// layers 0 and 2 are the widest (7 hidden units), so a position freed there is cleaned for
// free or later.
// - tokens:"(" and tokens:")" are last read by bools_open_6 and bools_close_9, whose units
//   are relu(tokens:"(") and relu(tokens:")"): those units also write -1 to the tokens'
//   positions (folded; layer 0 stays 7 wide), and map_3 (layer 1) takes them.
// - length_2:2 and length_2:3 are last read by map_3 (layer 1), a direct lookup with the
//   units relu(length_2:v): folded, plus one unit relu(-x) each (a SelectorWidth's ramp
//   outputs are not proven never negative), and map_12 (layer 2) takes them.
// - tokens:"a" and the SelectorWidth's share are last read in layer 0 too, but nothing there
//   has their units, layer 1 is full now and layer 2 the widest: they are cleaned in layer
//   3's MLP (`clean 3`), one unit each (a one-hot and a softmax share are never negative),
//   before shuffle_dyck_18 writes in layer 4.
// 24 positions instead of 30, and the same widest MLP.

builtin.module {
  craft.program vocab {"(", ")", "a"} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:"(", tokens:")", tokens:"a"]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) attributes {proven_optimal = ["layers"]} {
    %length = craft.selector_width "length_2" layer 0 select [(%tokens, %tokens TRUE)] : !craft.space<[length_2:1, length_2:2, length_2:3]>
    %map = craft.categorical_mlp "map_3" layer 1 %length {1 -> 0, 2 -> 1, 3 -> 2} direct : !craft.space<[map_3:0, map_3:1, map_3:2]>
    %bools_open = craft.categorical_mlp "bools_open_6" layer 0 %tokens {"(" -> true, ")" -> false, "a" -> false} direct : !craft.space<[bools_open_6]>
    %opens = craft.numerical_attention "opens_7" layer 1 %bools_open select [(%indices, %indices LEQ)] tolerance 0.037499523162841795 magnitude 1.01 : !craft.space<[opens_7]>
    %bools_close = craft.categorical_mlp "bools_close_9" layer 0 %tokens {"(" -> false, ")" -> true, "a" -> false} direct : !craft.space<[bools_close_9]>
    %closes = craft.numerical_attention "closes_10" layer 1 %bools_close select [(%indices, %indices LEQ)] tolerance 0.037499523162841795 magnitude 1.01 : !craft.space<[closes_10]>
    %balance___ = craft.linear_mlp "balance_()_11" layer 1 %opens, %closes factors (1, -1) constant 0 : !craft.space<["balance_()_11"]>
    %map_1 = craft.numerical_mlp "map_12" layer 2 %balance___ {-1 -> false, -0.3333333333333333 -> false, 0.0 -> true, 0.3333333333333333 -> false, 1 -> false} input_error 0.0750009536743164 : !craft.space<[map_12:false, map_12:true]>
    %last_zero = craft.categorical_attention "last_zero_13" layer 3 %map_1 select [(%indices, %map EQ)] tolerance 0.015625 : !craft.space<[last_zero_13:false, last_zero_13:true]>
    %any_negative = craft.numerical_mlp "any_negative_15" layer 2 %balance___ {-1 -> true, -0.3333333333333333 -> true, 0.0 -> false, 1 -> false} input_error 0.0750009536743164 : !craft.space<[any_negative_15]>
    %has_neg = craft.numerical_attention "has_neg_16" layer 3 %any_negative select [(%indices, %indices TRUE)] tolerance 0.08331443302587552 magnitude 1.01 : !craft.space<[has_neg_16]>
    %not_has_neg = craft.numerical_mlp "not_has_neg_17" layer 3 %has_neg {0.0 -> true, 0.3333333333333333 -> false, 1.0 -> false} input_error 0.08333333333333333 : !craft.space<[not_has_neg_17:false, not_has_neg_17:true]>
    %shuffle_dyck = craft.sequence_map_mlp "shuffle_dyck_18" layer 4 %last_zero, %not_has_neg {(false, false) -> false, (false, true) -> false, (true, false) -> false, (true, true) -> true} direct : !craft.space<[shuffle_dyck_18:false, shuffle_dyck_18:true]>
    craft.output %shuffle_dyck : !craft.space<[shuffle_dyck_18:false, shuffle_dyck_18:true]>
  }
}

// CHECK: residual = #craft.residual<[one, bos, tokens:"(" | map_3:1, tokens:")" | map_3:0, tokens:"a" clean 3 | shuffle_dyck_18:false, indices:0, indices:1, indices:2, length_2_share clean 3 | shuffle_dyck_18:true, length_2:1, length_2:2 | map_12:true, length_2:3 | map_12:false, bools_open_6,

// DISJOINT:   // width 30, 5 layers, heads [1, 2, 0, 2, 0], mlp hidden [7, 5, 7, 3, 4]

// MODEL:      // width 24, 5 layers, heads [1, 2, 0, 2, 0], mlp hidden [7, 7, 7, 5, 4]
// MODEL:      transformer.mlp layer 0 "length_2_mlp,bools_open_6,bools_close_9"
// MODEL:      w_2 = sparse tensor<7x24xf32> {
// MODEL:        5 -> {map_3:1 = -1.0, bools_open_6 = 1.0}
// MODEL-NEXT:   6 -> {map_3:0 = -1.0, bools_close_9 = 1.0}
// MODEL:      transformer.mlp layer 1 "map_3,balance_()_11,clean"
// MODEL:      w_2 = sparse tensor<7x24xf32> {
// MODEL:        1 -> {map_3:1 = 1.0, map_12:true = -1.0}
// MODEL-NEXT:   2 -> {map_12:false = -1.0, map_3:2 = 1.0}
// MODEL:        5 -> {map_12:true = 1.0}
// MODEL-NEXT:   6 -> {map_12:false = 1.0}
// MODEL:      transformer.mlp layer 3 "not_has_neg_17,clean"
// MODEL:      w_2 = sparse tensor<5x24xf32> {
// MODEL:        3 -> {shuffle_dyck_18:false = -1.0}
// MODEL-NEXT:   4 -> {shuffle_dyck_18:true = -1.0}

// OUT:      [true, true, true]
// OUT-NEXT: [false, false]
// OUT-NEXT: [false, false, false]
