// RUN: tracr-opt %s | filecheck %s
// RUN: tracr-opt %s | tracr-opt | filecheck %s
// RUN: %roundtrip

// A 2-layer transformer in the custom syntax: a head copying the previous token, an MLP with a
// label and weights that xDSL's own float printer cannot round trip (1000001.0, -0.0), a layer
// without heads and with an MLP of width 0, splats, and a tensor of more than 100 elements
// (hex bytes). The input is written as older versions printed weights (builtin `dense<...>`);
// they parse, are stored sparse and print as their non-zero entries by row and column names
// (residual labels, tokens, positions, hidden units and head dimensions).

builtin.module {
  transformer.model vocab {2, 1} max_seq_len 2 bos "BOS" pad "PAD" causal true
      residual [one, bos, tokens:1, tokens:2, indices:1, indices:2, prev:1, prev:2, "n-th"] {
    transformer.embed
        token = dense<[[1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x9xf32>
        position = dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]]> : tensor<3x9xf32>
    transformer.attention layer 0 {
      head "prev"
          w_q = dense<[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0e+01, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]> : tensor<9x3xf32>
          w_k = dense<[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]> : tensor<9x3xf32>
          w_v = dense<[[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]> : tensor<9x2xf32>
          w_o = dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]]> : tensor<2x9xf32>
    }
    transformer.mlp layer 0 "n"
        w_1 = dense<[[0.0], [0.0], [0.0], [1000001.0], [0.0], [0.0], [0.0], [0.0], [0.0]]> : tensor<9x1xf32>
        b_1 = dense<-0.0> : tensor<1xf32>
        w_2 = dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -5.0e-1]]> : tensor<1x9xf32>
        b_2 = dense<0.000000e+00> : tensor<9xf32>
    transformer.attention layer 1 {}
    transformer.mlp layer 1
        w_1 = dense<> : tensor<9x0xf32>
        b_1 = dense<> : tensor<0xf32>
        w_2 = dense<> : tensor<0x9xf32>
        b_2 = dense<0.0> : tensor<9xf32>
    transformer.unembed categorical [prev:1, prev:2]
  }

// CHECK:      transformer.model vocab {1, 2} max_seq_len 2 bos "BOS" pad "PAD" causal true  // width 9, 2 layers, heads [1, 0], mlp hidden [1, 0]
// CHECK-NEXT:     residual [one, bos, tokens:1, tokens:2, indices:1, indices:2, prev:1, prev:2, "n-th"] {
// CHECK-NEXT:   transformer.embed
// CHECK-NEXT:       token = sparse tensor<4x9xf32> {
// CHECK-NEXT:         1 -> {one = 1.0, tokens:1 = 1.0}
// CHECK-NEXT:         2 -> {one = 1.0, tokens:2 = 1.0}
// CHECK-NEXT:         "BOS" -> {one = 1.0, bos = 1.0}
// CHECK-NEXT:       }
// CHECK-NEXT:       position = sparse tensor<3x9xf32> {
// CHECK-NEXT:         1 -> {indices:1 = 1.0}
// CHECK-NEXT:         2 -> {indices:2 = 1.0}
// CHECK-NEXT:       }
// CHECK-NEXT:   transformer.attention layer 0 {
// CHECK-NEXT:     head "prev"
// CHECK-NEXT:         w_q = sparse tensor<9x3xf32> {
// CHECK-NEXT:           indices:1 -> {0 = 20.0}
// CHECK-NEXT:           indices:2 -> {1 = 20.0}
// CHECK-NEXT:         }
// CHECK-NEXT:         w_k = sparse tensor<9x3xf32> {
// CHECK-NEXT:           bos -> {0 = 1.0}
// CHECK-NEXT:           indices:1 -> {1 = 1.0}
// CHECK-NEXT:           indices:2 -> {2 = 1.0}
// CHECK-NEXT:         }
// CHECK-NEXT:         w_v = sparse tensor<9x2xf32> {
// CHECK-NEXT:           tokens:1 -> {0 = 1.0}
// CHECK-NEXT:           tokens:2 -> {1 = 1.0}
// CHECK-NEXT:         }
// CHECK-NEXT:         w_o = sparse tensor<2x9xf32> {
// CHECK-NEXT:           0 -> {prev:1 = 1.0}
// CHECK-NEXT:           1 -> {prev:2 = 1.0}
// CHECK-NEXT:         }
// CHECK-NEXT:   }
// CHECK-NEXT:   transformer.mlp layer 0 "n"
// CHECK-NEXT:       w_1 = sparse tensor<9x1xf32> {
// CHECK-NEXT:         tokens:2 -> {0 = 1000001.0}
// CHECK-NEXT:       }
// CHECK-NEXT:       b_1 = sparse tensor<1xf32> {0 = -0.0}
// CHECK-NEXT:       w_2 = sparse tensor<1x9xf32> {
// CHECK-NEXT:         0 -> {"n-th" = -0.5}
// CHECK-NEXT:       }
// CHECK-NEXT:       b_2 = sparse tensor<9xf32> {}
// CHECK-NEXT:   transformer.attention layer 1 {}
// CHECK-NEXT:   transformer.mlp layer 1
// CHECK-NEXT:       w_1 = sparse tensor<9x0xf32> {}
// CHECK-NEXT:       b_1 = sparse tensor<0xf32> {}
// CHECK-NEXT:       w_2 = sparse tensor<0x9xf32> {}
// CHECK-NEXT:       b_2 = sparse tensor<9xf32> {}
// CHECK-NEXT:   transformer.unembed categorical [prev:1, prev:2]
// CHECK-NEXT: }

// A head wider than 100 weights written as hex bytes, decoded bit for bit; non-zero splats
// print as splats.

  transformer.model vocab {"a"} max_seq_len 1 bos "BOS" pad "PAD" causal false residual [one, x:none, "y z":(1, "b"), w, u, v] attributes {note = "hex"} {
    transformer.embed token = dense<1.0> : tensor<3x6xf32> position = dense<0.0> : tensor<2x6xf32>
    transformer.attention layer 0 {
      head "wide" w_q = dense<0.25> : tensor<6x17xf32> w_k = dense<"0x0000803F0000004000004040000080400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"> : tensor<6x17xf32> w_v = dense<> : tensor<6x0xf32> w_o = dense<> : tensor<0x6xf32>
      head "" w_q = dense<> : tensor<6x0xf32> w_k = dense<> : tensor<6x0xf32> w_v = dense<[[1.0], [0.0], [0.0], [0.0], [0.0], [0.0]]> : tensor<6x1xf32> w_o = dense<[[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]]> : tensor<1x6xf32>
    }
    transformer.mlp layer 0 w_1 = dense<> : tensor<6x0xf32> b_1 = dense<> : tensor<0xf32> w_2 = dense<> : tensor<0x6xf32> b_2 = dense<0.0> : tensor<6xf32>
    transformer.unembed numerical [u]
  }
}

// CHECK:      transformer.model vocab {"a"} max_seq_len 1 bos "BOS" pad "PAD" causal false  // width 6, 1 layer, heads [2], mlp hidden [0]
// CHECK-NEXT:     residual [one, x:none, "y z":(1, "b"), w, u, v] attributes {note = "hex"} {
// CHECK-NEXT:   transformer.embed
// CHECK-NEXT:       token = dense<1.0> : tensor<3x6xf32>
// CHECK-NEXT:       position = sparse tensor<2x6xf32> {}
// CHECK-NEXT:   transformer.attention layer 0 {
// CHECK-NEXT:     head "wide"
// CHECK-NEXT:         w_q = dense<0.25> : tensor<6x17xf32>
// CHECK-NEXT:         w_k = sparse tensor<6x17xf32> {
// CHECK-NEXT:           one -> {0 = 1.0, 1 = 2.0, 2 = 3.0, 3 = 4.0}
// CHECK-NEXT:         }
// CHECK-NEXT:         w_v = sparse tensor<6x0xf32> {}
// CHECK-NEXT:         w_o = sparse tensor<0x6xf32> {}
// CHECK-NEXT:     head ""
// CHECK-NEXT:         w_q = sparse tensor<6x0xf32> {}
// CHECK-NEXT:         w_k = sparse tensor<6x0xf32> {}
// CHECK-NEXT:         w_v = sparse tensor<6x1xf32> {
// CHECK-NEXT:           one -> {0 = 1.0}
// CHECK-NEXT:         }
// CHECK-NEXT:         w_o = sparse tensor<1x6xf32> {
// CHECK-NEXT:           0 -> {u = 1.0}
// CHECK-NEXT:         }
// CHECK-NEXT:   }
// CHECK-NEXT:   transformer.mlp layer 0
// CHECK-NEXT:       w_1 = sparse tensor<6x0xf32> {}
// CHECK-NEXT:       b_1 = sparse tensor<0xf32> {}
// CHECK-NEXT:       w_2 = sparse tensor<0x6xf32> {}
// CHECK-NEXT:       b_2 = sparse tensor<6xf32> {}
// CHECK-NEXT:   transformer.unembed numerical [u]
// CHECK-NEXT: }
