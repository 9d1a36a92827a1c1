// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers | filecheck %s
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers{strategy=solver}' | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers | filecheck %s --check-prefix=GREEDY
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers{strategy=solver}' | filecheck %s --check-prefix=SOLVER
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers,craft-layout-residual{reuse=false}' | filecheck %s --check-prefix=LAYOUT
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers,craft-layout-residual{reuse=false},lower-craft-to-transformer' | filecheck %s --check-prefix=MODEL
// RUN: tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers{strategy=solver},craft-layout-residual,lower-craft-to-transformer' | filecheck %s --check-prefix=SOLVED-MODEL
// RUN: tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers,craft-layout-residual,lower-craft-to-transformer | tracr-run - --input "3 1 2" --input "2 3" | filecheck %s --check-prefix=OUT
// RUN: not tracr-opt %s -p rasp-infer-values,lower-rasp-to-craft,lower-craft-to-transformer 2>&1 | filecheck %s --check-prefix=ORDER
// RUN: not tracr-opt %s -p 'rasp-infer-values,lower-rasp-to-craft,craft-allocate-layers{strategy=magic}' 2>&1 | filecheck %s --check-prefix=STRATEGY

// Layers: a SelectorWidth is attention + MLP in layer 0; the aggregate reading it is the next
// attention (layer 1); the map after it the MLP of layer 1; parity (indices only) could run in
// layer 0, 1 or 2: greedy balances it into layer 1 (MLP widths [7, 5, 6], not [9, 3, 6] as
// placing it as early as possible would give; tracr's rule puts it in layer 0).

builtin.module {
  rasp.program vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %smaller = rasp.select "smaller_1" %tokens, %tokens LT : !rasp.selector
    %target_pos = rasp.selector_width "target_pos_2" %smaller : !rasp.sop<categorical>
    %select = rasp.select "select_3" %target_pos, %indices EQ : !rasp.selector
    %sort = rasp.aggregate "sort_4" %select, %tokens default none : !rasp.sop<categorical>
    %double = rasp.map "double_5" %sort {1 -> 2, 2 -> 4, 3 -> 6} : !rasp.sop<categorical>
    %parity = rasp.map "parity_6" %indices {0 -> 0, 1 -> 1, 2 -> 0} : !rasp.sop<categorical>
    %sum = rasp.sequence_map "sum_7" %double, %parity {(2, 0) -> 2, (2, 1) -> 3, (4, 0) -> 4, (4, 1) -> 5, (6, 0) -> 6, (6, 1) -> 7} : !rasp.sop<categorical>
    rasp.output %sum : !rasp.sop<categorical>
  }
}

// CHECK:      %target_pos = craft.selector_width "target_pos_2" layer 0
// CHECK:      %sort = craft.categorical_attention "sort_4" layer 1
// CHECK:      %double = craft.categorical_mlp "double_5" layer 1
// CHECK:      %parity = craft.categorical_mlp "parity_6" layer {{[01]}}
// CHECK:      %sum = craft.sequence_map_mlp "sum_7" layer 2

// GREEDY:     attributes {proven_optimal = ["layers"]}
// GREEDY:     %parity = craft.categorical_mlp "parity_6" layer 1
// The solver records its cleaning plan's layout (21 positions, the peak of live directions).
// SOLVER:     attributes {residual = #craft.residual<[one, bos, {{.*}} | sum_7:{{.*}}]>, proven_optimal = ["layers", "residual", "heads", "mlp_hidden"]}

// LAYOUT:     residual = #craft.residual<[one, bos, tokens:1, tokens:2, tokens:3, indices:0, indices:1, indices:2, target_pos_2_share, target_pos_2:0, target_pos_2:1, target_pos_2:2, target_pos_2:3, sort_4:1, sort_4:2, sort_4:3, double_5:2, double_5:4, double_5:6, parity_6:0, parity_6:1, sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]>

// MODEL:      transformer.model vocab {1, 2, 3} max_seq_len 3 bos "BOS" pad "PAD" causal false  // width 27, 3 layers, heads [1, 1, 0], mlp hidden [7, 5, 6]
// MODEL:      transformer.attention layer 0 {
// MODEL-NEXT:   head "target_pos_2_attn"
// MODEL:      transformer.mlp layer 0 "target_pos_2_mlp"
// MODEL:      transformer.attention layer 1 {
// MODEL-NEXT:   head "sort_4"
// MODEL:      transformer.mlp layer 1 "double_5,parity_6"
// MODEL:      transformer.attention layer 2 {}
// MODEL:      transformer.mlp layer 2 "sum_7"
// MODEL:      transformer.unembed categorical [sum_7:2, sum_7:3, sum_7:4, sum_7:5, sum_7:6, sum_7:7]

// The solver's placement, with reuse: 21 positions instead of 27 (the width of the solver's
// plan, proven optimal), MLPs of 7 hidden units at most.
// SOLVED-MODEL: transformer.model {{.*}} // width 21, 3 layers, heads [1, 1, 0], mlp hidden [7, 7, 6]
// SOLVED-MODEL: attributes {proven_optimal = ["layers", "residual", "heads", "mlp_hidden"], residual_history = ["one", "bos", "tokens:1 | sum_7:{{[2-7]}}",

// sort([3, 1, 2]) = [1, 2, 3]; doubled plus index parity.
// OUT:        [2, 5, 6]
// OUT-NEXT:   [4, 7]

// ORDER:      tracr-opt: error: lower-craft-to-transformer needs craft-layout-residual first
// STRATEGY:   unknown strategy 'magic'
