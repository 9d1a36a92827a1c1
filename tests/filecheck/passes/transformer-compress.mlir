// RUN: tracr-opt %s -p transformer-compress | filecheck %s
// RUN: tracr-opt %s -p transformer-compress | tracr-run - --input "x y x" --input "y" | filecheck %s --check-prefix=SAME
// RUN: tracr-run %s --input "x y x" --input "y" | filecheck %s --check-prefix=SAME
// RUN: tracr-opt %s -p transformer-compress --print-op-generic | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p transformer-compress,transformer-compress | filecheck %s --check-prefix=TWICE
// RUN: tracr-opt %s -p "transformer-compress{span=weights}" | filecheck %s --check-prefix=WEIGHTS
// RUN: tracr-opt %s -p "transformer-compress{method=learned dim=5 steps=50 restarts=1 progress=false}" | filecheck %s --check-prefix=LEARNED
// RUN: not tracr-opt %s -p "transformer-compress{method=learned}" 2>&1 | filecheck %s --check-prefix=NODIM
// RUN: not tracr-opt %s -p "transformer-compress{method=squeeze}" 2>&1 | filecheck %s --check-prefix=METHOD

// lib.make_frac_prevs(rasp.tokens == "x") over {x, y} at max_seq_len 3 (`tracr-compile
// examples/programs.py:frac_prevs --vocab x,y --max-seq-len 3 --emit transformer`). The
// lossless compression keeps what the sublayers read of the residuals they see on the 14
// inputs: the head reads `map_2` as `tokens:x` (equal wherever it is read, so the MLP writing
// map_2 writes nothing any more) and `indices:2` as `one - bos - indices:0 - indices:1`.
// The outputs stay exactly those of the uncompressed model.

builtin.module {
  transformer.model vocab {"x", "y"} max_seq_len 3 bos "BOS" pad "PAD" causal false  // width 9, 2 layers, heads [0, 1], mlp hidden [2, 0]
      residual [one, bos, tokens:"x", tokens:"y", indices:0, indices:1, indices:2, map_2, frac_prevs_3] {
    transformer.embed
        token = dense<[[1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x9xf32>
        position = dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]]> : tensor<4x9xf32>
    transformer.attention layer 0 {}
    transformer.mlp layer 0 "map_2"
        w_1 = dense<[[-0.5, -1.5], [0.5, 1.5], [2.0, 2.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]> : tensor<9x2xf32>
        b_1 = dense<0.0> : tensor<2xf32>
        w_2 = dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0]]> : tensor<2x9xf32>
        b_2 = dense<0.0> : tensor<9xf32>
    transformer.attention layer 1 {
      head "frac_prevs_3"
          w_q = dense<[[0.0, 0.0, 0.0, 11.549525], [0.0, 0.0, 0.0, 23.09905], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [23.09905, 0.0, 0.0, 0.0], [23.09905, 23.09905, 0.0, 0.0], [23.09905, 23.09905, 23.09905, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<9x4xf32>
          w_k = dense<[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<9x4xf32>
          w_v = dense<[[0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [1.0], [0.0]]> : tensor<9x1xf32>
          w_o = dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]]> : tensor<1x9xf32>
    }
    transformer.mlp layer 1
        w_1 = dense<> : tensor<9x0xf32>
        b_1 = dense<> : tensor<0xf32>
        w_2 = dense<> : tensor<0x9xf32>
        b_2 = dense<0.0> : tensor<9xf32>
    transformer.unembed numerical [frac_prevs_3]
  }
}

// CHECK:      transformer.model vocab {"x", "y"} max_seq_len 3 bos "BOS" pad "PAD" causal false  // width 6, 2 layers, heads [0, 1], mlp hidden [2, 0]
// CHECK-NEXT:   residual [one, bos, tokens:"x", indices:0, indices:1, frac_prevs_3] attributes {compressed = {method = "lossless", width = 6 : i64, original_width = 9 : i64, span = "the span of the residual entering each sublayer over every input (14)", inputs = "every input (14)", checked = 14 : i64, exact = 14 : i64, tol = 1.000000e-04 : f64, max_error = 0.000000e+00 : f64}} {
// CHECK:        transformer.mlp layer 0 "map_2"
// CHECK:          w_2 = sparse tensor<2x6xf32> {}
// CHECK:        head "frac_prevs_3"
// CHECK-NEXT:     w_q = sparse tensor<6x4xf32> {
// CHECK-NEXT:       one -> {0 = 23.09905, 1 = 23.09905, 2 = 23.09905, 3 = 11.549525}
// CHECK-NEXT:       bos -> {0 = -23.09905, 1 = -23.09905, 2 = -23.09905, 3 = 23.09905}
// CHECK-NEXT:       indices:0 -> {1 = -23.09905, 2 = -23.09905}
// CHECK-NEXT:       indices:1 -> {2 = -23.09905}
// CHECK-NEXT:     }
// CHECK-NEXT:     w_k = sparse tensor<6x4xf32> {
// CHECK-NEXT:       one -> {2 = 1.0}
// CHECK-NEXT:       bos -> {2 = -1.0, 3 = 1.0}
// CHECK-NEXT:       indices:0 -> {0 = 1.0, 2 = -1.0}
// CHECK-NEXT:       indices:1 -> {1 = 1.0, 2 = -1.0}
// CHECK-NEXT:     }
// CHECK-NEXT:     w_v = sparse tensor<6x1xf32> {
// CHECK-NEXT:       tokens:"x" -> {0 = 1.0}
// CHECK-NEXT:     }
// CHECK-NEXT:     w_o = sparse tensor<1x6xf32> {
// CHECK-NEXT:       0 -> {frac_prevs_3 = 1.0}
// CHECK-NEXT:     }
// CHECK:        transformer.unembed numerical [frac_prevs_3]

// SAME:       [0.9999903440475464, 0.499997615814209, 0.6666645407676697]
// SAME-NEXT:  [0.0]

// TWICE:      residual [one, bos, tokens:"x", indices:0, indices:1, frac_prevs_3] attributes {compressed = {method = "lossless", width = 6 : i64, original_width = 6 : i64,

// WEIGHTS:    residual [one, bos, tokens:"x", indices:0, indices:1, map_2, frac_prevs_3] attributes {compressed = {method = "lossless", width = 7 : i64, original_width = 9 : i64, span = "an upper bound on the span entering each sublayer, from the weights: the embeddings and what each sublayer can write", inputs = "every input (14)", checked = 14 : i64, exact = 14 : i64,

// LEARNED:    // width 5, 2 layers
// LEARNED-NEXT: residual [frac_prevs_3, compressed:0, compressed:1, compressed:2, compressed:3] attributes {compressed = {method = "learned", width = 5 : i64, original_width = 9 : i64, span = "learned, untied, from the lossless 6-dimensional residual cut to 5", inputs = "every input (14)", checked = 14 : i64,
// LEARNED-SAME: lossless_width = 6 : i64, tied = false, steps = 50 : i64, restarts = 1 : i64, seed = 0 : i64,
// LEARNED:    transformer.unembed numerical [frac_prevs_3]

// NODIM:      tracr-opt: error: transformer-compress{method=learned} needs dim=N, the width of the compressed residual
// METHOD:     tracr-opt: error: transformer-compress: unknown method 'squeeze' (choose lossless or learned)
