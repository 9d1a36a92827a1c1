"""Our MLPs are no wider than tracr-pypi 1.0.0's for the same program (the `bench` extra).

Both compilers take the same program (rebuilt node for node from tracr's classes,
`tracr_bridge.to_tracr_with_labels`); tracr's widths are read from its craft graph (its
compiler's own steps, before padding), ours from the craft stage. Compared:
- per block: the hidden units of the MLPs we build for an s-op (its own block and the helper
  blocks labelled after it, e.g. a snap) are at most those of tracr's block for it; an s-op
  that `rasp-fuse-maps` fused into its single reader has no block of ours, and its tracr
  block's width counts for the reader (the fused table replaces both);
- per program: our total hidden units are at most tracr's (where every block compares);
- per layer, for the lib programs: our widest MLP layer is at most tracr's (tracr pads every
  layer to it). Random programs are left out of this one: we put more blocks into a layer
  than tracr where we need fewer layers (e.g. 3 layers [9, 1, 1] against tracr's 6 layers
  [8, 5, 3, 3, 2, 2]), which the layer allocator decides, not the constructions.
Programs tracr refuses are skipped, and so are those with a categorical -> numerical map to
values of both signs: tracr's one-neuron relu(f(x)) is wrong there (its issue #24); ours
takes a second neuron for the negative part. A block reading an s-op whose tracr value set
lacks values the s-op can hold is not compared either: tracr's block has no breakpoints for
them and is wrong there (tracr gives a mean of 0/1 values the set {v / n}, without k / n for
k > 1: a map of such a mean has fewer steps in tracr than the function needs).

A categorical Aggregate read by a Select (directly or through Maps and SequenceMaps) is
compared too: an Aggregate's head reads such noisy keys and queries as they are, with a scale
that accounts for their error (`term_error`), as tracr reads them, and a lookup of it passes
the error on (`direct`) with room for its own float32 rounding; so does a SelectorWidth's
snapped decoder, categorical or numerical.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

pytest.importorskip("tracr")
pytest.importorskip("haiku")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import tracr_bridge as tb  # noqa: E402
from lib_cases import LIB_CASES  # noqa: E402
from mlp_width import compare_blocks  # noqa: E402

from tracr_ir import rasp  # noqa: E402
from tracr_ir.compiler import run_pipeline  # noqa: E402
from tracr_ir.dialects import rasp as rasp_dialect  # noqa: E402
from tracr_ir.errors import TracrIRError  # noqa: E402
from tracr_ir.testing import compile_to_stage, describe, program_cases  # noqa: E402


def assert_no_wider(program, vocab, max_seq_len: int, per_layer: bool) -> None:
    blocks = compare_blocks(program, vocab, max_seq_len)
    assert None not in blocks["ours"], "an MLP of ours is for no s-op of the program"
    assert not blocks["wider"], f"blocks wider than tracr's (ours, tracr's): {blocks['wider']}"
    if blocks["short"]:
        return
    our_layers, tracr_layers = blocks["our_layers"], blocks["tracr_layers"]
    assert sum(our_layers) <= sum(tracr_layers), (our_layers, tracr_layers)
    if per_layer:
        assert max(our_layers, default=0) <= max(tracr_layers, default=0), (
            f"widest MLP layer: ours {our_layers}, tracr's {tracr_layers}")


def mixed_sign_numerical_map(program, vocab, max_seq_len: int) -> bool:
    """A map (or sequence map) to a numerical s-op whose values have both signs."""
    module = compile_to_stage(program, vocab, max_seq_len, "rasp")
    for op in module.walk():
        if isinstance(op, (rasp_dialect.MapOp, rasp_dialect.SequenceMapOp)) and (
                op.output.type.is_numerical):
            values = [float(v) for v in op.output.type.value_set or () if v is not None]
            if values and min(values) < 0 < max(values):
                return True
    return False


@pytest.mark.parametrize("max_seq_len", [5, pytest.param(10, marks=pytest.mark.slow)])
@pytest.mark.parametrize("case", LIB_CASES, ids=[c.name for c in LIB_CASES])
def test_lib_programs_no_wider_than_tracr(case, max_seq_len):
    assert_no_wider(case.make(max_seq_len), case.vocab, max_seq_len, per_layer=True)


def check_random(case) -> None:
    try:
        tb.tracr_mlp_block_widths(tb.to_tracr(case.program), case.vocab, case.max_seq_len)
    except Exception:  # noqa: BLE001 - tracr refuses in many ways (asserts, KeyError, ...)
        return
    try:
        if mixed_sign_numerical_map(case.program, case.vocab, case.max_seq_len):
            return
        assert_no_wider(case.program, case.vocab, case.max_seq_len, per_layer=False)
    except TracrIRError:  # refused (not exact): nothing to compare
        return


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(program_cases(full=False, composite_selectors=False))
def test_random_programs_no_wider_than_tracr(case):
    check_random(case)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(program_cases(full=False, composite_selectors=False, max_steps=10))
def test_many_random_programs_no_wider_than_tracr(case):
    check_random(case)


def test_the_one_op_programs_of_issue_12():
    """Over 5 tokens at max_seq_len 5: a categorical Map `x % 3` takes 3 hidden units (one
    per output value, tracr's too), a categorical SequenceMap of tokens and indices 25 (one
    per pair), a numerical `2x` of a numerical Map of tokens 1 (fused into one lookup)."""
    vocab = {0, 1, 2, 3, 4}
    cases = [
        (rasp.categorical(rasp.Map(lambda x: x % 3, rasp.tokens)), 3),
        (rasp.categorical(rasp.SequenceMap(lambda x, i: x + i, rasp.tokens, rasp.indices)), 25),
        (rasp.numerical(rasp.Map(lambda x: 2 * x, rasp.numerical(
            rasp.Map(lambda x: x + 1, rasp.tokens, simplify=False)), simplify=False)), 1),
    ]
    for program, width in cases:
        ours, layers, _ = tb.our_mlp_block_widths(program, vocab, 5,
                                                  [n.label for n in rasp.walk(program)])
        assert ours[program.label] == sum(layers) == width
        assert_no_wider(program, vocab, 5, per_layer=True)


def test_heads_read_noisy_keys_and_queries_without_snapping():
    """A categorical Aggregate's output as a Select's query (directly, and through a direct
    lookup), read by a numerical (read by a Map) and by a categorical Aggregate: no snapping
    MLP (tracr has none), the heads built for the query's error (`term_error`), exact (the
    JAX model against `rasp.evaluate`), and no wider than tracr's per block; with `direct`
    lookups off, the query is snapped. (A mean read at the output's precision still snaps a
    noisy query: its reweighting bound would need the query below float32's floor.)"""
    from tracr_ir.compiler import compile_rasp_to_model
    from tracr_ir.testing import assert_equivalent

    shifted = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == max(q - 1, 0)), rasp.tokens))
    same = rasp.Select(rasp.tokens, shifted, rasp.Comparison.EQ)
    share = rasp.numerical(rasp.Aggregate(same, rasp.numerical(
        rasp.Map(lambda x: 1 if x == "a" else 0, rasp.tokens)), default=0))
    most = rasp.categorical(rasp.Map(lambda x: x > 0.5, share))
    position = rasp.categorical(rasp.Map(lambda x: {"a": 0, "b": 1, "c": 2}[x], shifted))
    picked = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, position, rasp.Comparison.EQ), rasp.tokens))
    vocab = {"a", "b", "c"}
    for program, max_seq_len in ((most, 5), (picked, 4), (most, 10)):
        model = compile_rasp_to_model(program, vocab=vocab, max_seq_len=max_seq_len)
        craft_ir = model.ir["craft"]
        assert "_snap" not in craft_ir and "term_error" in craft_ir, craft_ir
        if max_seq_len < 10:
            assert_equivalent(program, model)  # every input up to max_seq_len
        else:
            assert_equivalent(program, model, [list("abcabcabca"), list("aab"), ["c"] * 10])
        assert_no_wider(program, vocab, max_seq_len, per_layer=True)
    snapped = run_pipeline(compile_to_stage(most, vocab, 5, "rasp"),
                           "lower-rasp-to-craft{direct=false}")
    assert "_snap" in str(snapped) and "term_error" not in str(snapped)


def test_a_direct_sequence_map_of_a_head_output_takes_a_margin():
    """A sequence map of an Aggregate read by a mean's selector: its need (about 3e-6 at
    max_seq_len 10) over the other operand's 10 values would be below float32's reach, so
    it used to snap (200 units against tracr's 100). A head's output exceeds 1 only by its
    float32 rounding, which a `margin` on the neurons absorbs (error e1 + e2 + margin), so it
    is direct: no wider than tracr's, exact; the margin prints, parses and is checked."""
    from tracr_ir.compiler import compile_rasp_to_model, parse_module
    from tracr_ir.testing import assert_equivalent

    agg = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ), rasp.indices))
    below = rasp.categorical(rasp.SequenceMap(lambda i, a: i < a, rasp.indices, agg))
    share = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, below, lambda k, q: q or k == 0),
        rasp.numerical(rasp.Map(lambda b: 1 if b else 0, below)), default=0))
    program = rasp.categorical(rasp.Map(lambda x: x > 0.3, share))
    model = compile_rasp_to_model(program, {1, 2, 3}, 10)
    text = model.ir["craft"]
    (line,) = [line for line in text.splitlines() if "craft.sequence_map_mlp" in line]
    assert " direct margin " in line, line
    assert_equivalent(program, model, [[1, 2, 3] * 3 + [1], [2] * 10, [3, 1], [1]])
    assert_no_wider(program, {1, 2, 3}, 10, per_layer=True)
    assert parse_module(text).verify() is None
    for bad, message in (("direct margin ", "direct margin -"),
                         ("} direct : !craft.space", "} direct margin 1e-07 : !craft.space")):
        changed = text.replace(bad, message, 1)
        assert changed != text, bad
        with pytest.raises(Exception, match="margin"):
            parse_module(changed).verify()
