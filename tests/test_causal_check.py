"""`rasp-verify-causal` accepts programs a causal model computes exactly, refuses the others."""

import pytest

from tracr_ir import lib, rasp
from tracr_ir.compiler import run_pipeline, to_ir
from tracr_ir.errors import UnsupportedProgramError

SPEC = "rasp-infer-values,rasp-verify-causal"


def check(program, vocab, causal=True):
    return run_pipeline(to_ir(program, vocab, 5, causal=causal), SPEC)


@pytest.mark.parametrize("make, vocab", [
    (lambda: lib.make_frac_prevs(rasp.tokens == "a"), "ab"),
    (lambda: lib.make_pair_balance(rasp.tokens, "(", ")"), "()"),
    (lambda: lib.make_shuffle_dyck(["()"]), "()"),  # length - 1 is only a query: fine
    (lambda: lib.make_length(), "ab"),
    (lambda: lib.make_hist(), "ab"),
    (lambda: lib.shift_by(1, rasp.tokens), "ab"),
    # The query length - indices - 1 is right at the end of each prefix; keys are indices.
    (lambda: lib.make_reverse(rasp.tokens), "ab"),
])
def test_causal_programs_are_accepted(make, vocab):
    check(make(), set(vocab))


@pytest.mark.parametrize("make, vocab, node", [
    # Keys that count over the whole sequence.
    (lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), [1, 2, 3], "sort"),
    # Values that do: the histogram one position back, from a shorter prefix.
    (lambda: lib.shift_by(1, lib.make_hist()), "ab", r"shift_by\(1\)"),
])
def test_forward_looking_programs_are_refused(make, vocab, node):
    with pytest.raises(UnsupportedProgramError, match=rf"{node}_\d+: cannot be compiled causally"):
        check(make(), set(vocab))
    check(make(), set(vocab), causal=False)  # fine when not causal


def test_evaluate_causal_is_prefix_evaluation():
    program = lib.make_length()
    assert rasp.evaluate_causal(program, list("abc")) == [1, 2, 3]
