// RUN: tracr-opt %s -p rasp-infer-values,rasp-annotate-precision | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-annotate-precision | tracr-opt --print-op-generic | tracr-opt | filecheck %s
// RUN: tracr-opt %s -p rasp-infer-values,rasp-annotate-precision,lower-rasp-to-craft | filecheck %s --check-prefix=CRAFT

// make_frac_prevs: the numerical output needs 5e-05; the mean passes half of it to the
// values it averages; a selector's keys and queries are read as exact one-hots (1/16 before
// a snapping MLP); the Full only used as a Select key is not read.

builtin.module {
  rasp.program vocab {"x", "y"} max_seq_len 5 bos "BOS" pad "PAD" causal false (%tokens: !rasp.sop<categorical>, %indices: !rasp.sop<categorical>) {
    %bools = rasp.map "bools_1" %tokens {"x" -> true, "y" -> false} : !rasp.sop<numerical>
    %prevs = rasp.select "prevs_2" %indices, %indices LEQ : !rasp.selector
    %frac = rasp.aggregate "frac_prevs_3" %prevs, %bools default 0 : !rasp.sop<numerical>
    %two = rasp.full "two_4" 2 : !rasp.sop<categorical>
    %at = rasp.select "at_5" %two, %indices EQ : !rasp.selector
    %w = rasp.selector_width "w_6" %at : !rasp.sop<categorical>
    %out = rasp.sequence_map "out_7" %frac, %w {(0.0, 0) -> 0.0} : !rasp.sop<numerical>
    rasp.output %frac : !rasp.sop<numerical>
  }
}

// CHECK:      attributes {refined, facts, normalized, annotated}
// CHECK:      %bools = rasp.map "bools_1" %tokens {"x" -> true, "y" -> false} attributes {needs = #rasp.needs<numerical 2.5e-05>}
// CHECK:      %frac = rasp.aggregate "frac_prevs_3" %prevs, %bools default 0 attributes {always_selects, needs = #rasp.needs<numerical 5.0e-05>}
// CHECK:      %two = rasp.full "two_4" 2 : !rasp.sop<categorical, {2}>
// CHECK:      %w = rasp.selector_width "w_6" %{{.*}} : !rasp.sop<categorical, {0, 1, 2, 3, 4, 5}>

// CRAFT:      %bools = craft.categorical_mlp "bools_1" %tokens {"x" -> true, "y" -> false} direct : !craft.space<[bools_1]>
// CRAFT-NEXT: %frac = craft.numerical_attention "frac_prevs_3" %bools select [(%indices, %indices LEQ)] tolerance 4.952316284179688e-05 magnitude 1.01 : !craft.space<[frac_prevs_3]>
// CRAFT-NEXT: craft.output %frac
