"""A SelectorWidth whose keys and queries carry an l1 error (an Aggregate's output, or a
direct lookup of one) reads them as they are, as tracr does: the snapped decoder's ramps
absorb the share's noise (`term_error` on `craft.selector_width`), so no snapping MLP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tracr_ir import rasp
from tracr_ir.compiler import (compile_rasp_to_model, parse_module, print_module,
                               run_pipeline, to_ir)
from tracr_ir.craft.attention import select_term
from tracr_ir.craft.bases import BOS, ONE, Direction, Space, join
from tracr_ir.craft.blocks import apply_block
from tracr_ir.craft.selector_width import (
    noisy_term_tolerance,
    selector_width,
    share_direction,
    snapped_share_error,
)
from tracr_ir.dialects import craft
from tracr_ir.errors import TracrIRError, UnsupportedProgramError
from tracr_ir.testing import assert_equivalent

KEYS = Space.categorical("k", [0, 1, 2])


@pytest.mark.parametrize("max_seq_len", [1, 5, 10, 32, 64])
@pytest.mark.parametrize("n_terms", [1, 3])
def test_noisy_term_tolerance_keeps_the_share_within_a_quarter_gap(max_seq_len, n_terms):
    L = max_seq_len
    gap = 1 / ((L + 1) * (L + 2))
    e = noisy_term_tolerance(L, n_terms)
    assert e > 0
    assert snapped_share_error(L, n_terms, 0.0) < snapped_share_error(L, n_terms, e) <= gap / 4
    assert snapped_share_error(L, n_terms, 1.6 * e) > gap / 4  # within 3/2 of the largest


def _noisy_residual(space: Space, keys: list[int], error: float) -> np.ndarray:
    """BOS then one position per key, each key's one-hot moved by l1 `error`: half of it
    taken off its own value and half put on the next one (the worst kind: it shifts the
    scores of both)."""
    rows = [space.vector({ONE: 1.0, BOS: 1.0})]
    for k in keys:
        other = (k + 1) % len(KEYS)
        rows.append(space.vector({ONE: 1.0, Direction("k", k): 1.0 - error / 2,
                                  Direction("k", other): error / 2}))
    return np.array(rows, dtype=np.float32)


@pytest.mark.parametrize("max_seq_len", [4, 8])
def test_the_snapped_decoder_is_exact_on_keys_at_their_tolerance(max_seq_len):
    """Every key sequence of length L over 3 values, keys and queries off by the tolerance:
    the categorical width of `key < query` decodes to its one-hot at every position."""
    L = max_seq_len
    term = select_term(KEYS, KEYS, lambda key, query: key < query)
    e = noisy_term_tolerance(L, 1)
    out = Space.categorical("w", range(L + 1))
    block = selector_width([term], out, L, query_l1_error=e, key_l1_error=e, label="w")
    space = join(KEYS, [ONE, BOS, share_direction("w")], out)
    out_index = [space.index(d) for d in out]
    for keys in itertools.product(range(3), repeat=L) if L <= 4 else (
            tuple(np.random.default_rng(0).integers(0, 3, L)) for _ in range(300)):
        x = apply_block(block, space, _noisy_residual(space, list(keys), e))
        for pos, q in enumerate(keys, start=1):
            want = sum(k < q for k in keys)
            got = x[pos, out_index]
            assert np.abs(got - np.eye(L + 1)[want]).max() < 1e-3, (keys, pos, got)
    with pytest.raises(UnsupportedProgramError):
        selector_width([term], out, L, query_l1_error=0.2, key_l1_error=0.2, label="w")


def _previous_token() -> rasp.SOp:
    back = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == max(q - 1, 0))
    return rasp.categorical(rasp.Aggregate(back, rasp.tokens))


@pytest.mark.parametrize("encoding", [rasp.categorical, rasp.numerical])
def test_a_width_of_an_aggregate_has_no_snapping_mlp_and_is_exact(encoding):
    """Keys and queries are the previous token (a head's output): no `_snap` MLP, the
    width's `term_error` is the head's tolerance, exact on every input through the JAX
    model; with direct constructions off, the keys are snapped and the width exact."""
    prev = _previous_token()
    program = encoding(rasp.SelectorWidth(rasp.Select(prev, prev, rasp.Comparison.LT)))
    vocab, L = {1, 2, 3}, 5
    model = compile_rasp_to_model(program, vocab, L)
    module = parse_module(model.ir["craft"])
    (width,) = [op for op in module.walk() if isinstance(op, craft.SelectorWidthOp)]
    assert "_snap" not in model.ir["craft"]
    assert 0 < width.term_error_value <= noisy_term_tolerance(L, 1)
    assert_equivalent(program, model)
    snapped = run_pipeline(to_ir(program, vocab, L),
                           "rasp-infer-values,lower-rasp-to-craft{direct=false}")
    assert "_snap" in print_module(snapped) and "term_error" not in print_module(snapped)
    assert_equivalent(program, snapped)


def test_term_error_round_trips_and_is_checked():
    """The `term_error` prints and parses back; `craft-verify-exactness` refuses a width
    whose `term_error` is below its keys' error, naming it; a direct width has none."""
    prev = _previous_token()
    program = rasp.categorical(rasp.SelectorWidth(rasp.Select(prev, prev, rasp.Comparison.LT)))
    module = run_pipeline(to_ir(program, {1, 2, 3}, 5), "rasp-infer-values,lower-rasp-to-craft")
    text = print_module(module)
    assert print_module(parse_module(text)) == text
    (width,) = [op for op in module.walk() if isinstance(op, craft.SelectorWidthOp)]
    line = next(line for line in text.splitlines() if "craft.selector_width" in line)
    error_text = line.split("term_error ")[1].split(" ")[0]
    tight = text.replace(f"term_error {error_text}", "term_error 1.0e-09")
    with pytest.raises(TracrIRError, match=f"craft.selector_width '{width.label_text}'"):
        run_pipeline(parse_module(tight), "craft-verify-exactness")
    direct = text.replace(f"LT)] term_error {error_text}", f"LT)] direct term_error {error_text}")
    with pytest.raises(Exception, match="a direct width"):
        parse_module(direct).verify()
