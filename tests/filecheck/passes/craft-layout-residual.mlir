// RUN: tracr-opt %s -p 'craft-layout-residual{widen_mlps=true}' | filecheck %s
// RUN: tracr-opt %s -p 'craft-layout-residual{reuse=false}' | filecheck %s --check-prefix=DISJOINT
// RUN: tracr-opt %s -p 'craft-layout-residual{widen_mlps=true}' | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p 'craft-layout-residual{widen_mlps=true},lower-craft-to-transformer' | filecheck %s --check-prefix=MODEL
// RUN: tracr-opt %s -p 'craft-layout-residual{widen_mlps=true},lower-craft-to-transformer' | tracr-run - --input "3 1 2" --input "2 3" | filecheck %s --check-prefix=OUT
// RUN: tracr-opt %s -p craft-layout-residual,lower-craft-to-transformer | filecheck %s --check-prefix=CAPPED
// RUN: tracr-opt %s -p craft-layout-residual,lower-craft-to-transformer | tracr-run - --input "3 1 2" --input "2 3" | filecheck %s --check-prefix=OUT

// Residual reuse (widen_mlps=true: wherever the peak allows): tokens and indices are last read in layer 1 (sort_4's value and
// selector), so layer 1's MLP cleans them and sum_7 (written in layer 2's MLP) takes their
// positions; the SelectorWidth's share is read in layer 0 only, and double_5 (layer 1) reuses
// it. 20 positions (the peak of live directions, plus one and bos) instead of 27.

builtin.module {
  craft.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !craft.space<[tokens:1, tokens:2, tokens:3]>, %indices: !craft.space<[indices:0, indices:1, indices:2]>) {
    %target_pos = craft.selector_width "target_pos_2" layer 0 select [(%tokens, %tokens LT)] : !craft.space<[target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3]>
    %sort = craft.categorical_attention "sort_4" layer 1 %tokens select [(%target_pos, %indices EQ)] tolerance 0.0625 : !craft.space<[sort_4:1, sort_4:2, sort_4:3]>
    %double = craft.categorical_mlp "double_5" layer 1 %sort {1 -> 2, 2 -> 4, 3 -> 6} : !craft.space<[double_5:2, double_5:4, double_5:6]>
    %parity = craft.categorical_mlp "parity_6" layer 0 %indices {0 -> 0, 1 -> 1, 2 -> 0} : !craft.space<[parity_6:0, parity_6:1]>
    %sum = craft.sequence_map_mlp "sum_7" layer 2 %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
    craft.output %sum : !craft.space<[sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>
  }
}

// CHECK:      residual = #craft.residual<[one, bos, tokens:1 | sum_7:2, tokens:2 | sum_7:3, tokens:3 | sum_7:4, indices:0 | sum_7:5, indices:1 | sum_7:6, indices:2 | sum_7:7, target_pos_2_share | double_5:6, target_pos_2:0,
// DISJOINT:   residual = #craft.residual<[one, bos, tokens:1, tokens:2, tokens:3, indices:0, indices:1, indices:2, target_pos_2_share, target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3, parity_6:0, parity_6:1, sort_4:1, sort_4:2, sort_4:3, double_5:2, double_5:4, double_5:6, sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>

// The cleaning units (one per cleaned direction: one-hots and the share are never negative)
// sit in the MLP of the layer that frees them; the model's labels name what each position
// holds at the end.
// MODEL:      // width 20, 3 layers, heads [1, 1, 0], mlp hidden [12, 12, 12]
// MODEL-NEXT: residual [one, bos, sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7, double_5:6, target_pos_2:0,
// MODEL:      transformer.mlp layer 0 "target_pos_2_mlp,parity_6,clean"
// MODEL:      transformer.mlp layer 1 "double_5,clean"
// MODEL:      transformer.unembed categorical [sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]

// The default reuses a position only where its cleaning keeps the layer's MLP no wider than
// the widest layer's (12, sum_7's): here every cleaning fits, so the same 20 positions and
// the MLP width of the layout without reuse.
// CAPPED:      // width 20, 3 layers, heads [1, 1, 0], mlp hidden [12, 12, 12]
// CAPPED:      transformer.mlp layer 0 "target_pos_2_mlp,parity_6,clean"
// CAPPED:      transformer.mlp layer 1 "double_5,clean"

// OUT:        [2, 5, 6]
// OUT-NEXT:   [4, 7]
