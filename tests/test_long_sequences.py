"""Long sequences and large vocabularies: every lib program compiles exactly at max_seq_len 64
(`make test-slow`: all of them through the JAX model on 60 random inputs, a third of full
length; the default suite: the rasp stage at 64 of the four that value inference used to
refuse, and a large-vocabulary `make_hist`). `bench/long_sequences.py` measures the same
programs against tracr-pypi."""

from __future__ import annotations

import pytest

from tracr_ir import compile_rasp_to_model, lib, rasp
from tracr_ir.compiler import print_module, run_pipeline, to_ir
from tracr_ir.testing import outputs_equal

from lib_cases import LIB_BY_NAME, LIB_CASES

# The four lib programs whose value sets (or tables) exceeded the limits at max_seq_len 64.
CORRELATED = ["make_sort_freq", "make_pair_balance", "make_shuffle_dyck", "make_shuffle_dyck2"]
RASP_STAGE = "rasp-infer-values,rasp-refine-values,rasp-prove-facts,rasp-normalize-selectors"


@pytest.mark.parametrize("name", CORRELATED)
def test_rasp_stage_at_64_is_within_the_limits(name):
    case = LIB_BY_NAME[name]
    module = to_ir(case.make(64), case.vocab, 64)
    run_pipeline(module, RASP_STAGE)  # default max_values and max_table
    assert len(print_module(module).encode()) < 2_000_000


def test_hist_over_a_large_vocabulary_keeps_its_comparison():
    # The comparison is checked by type, never tabulated (25 million pairs).
    module = to_ir(lib.make_hist(), set(range(5000)), 8)
    run_pipeline(module, RASP_STAGE)
    assert "rasp.select \"same_tok" in (text := print_module(module)) and " EQ " in text


@pytest.mark.slow
def test_hist_over_5000_tokens_compiles_exactly():
    vocab = range(5000)
    model = compile_rasp_to_model(lib.make_hist(), set(vocab), 10)
    inputs = [[4999, 0, 4999], [7] * 10, [i * 499 % 5000 for i in range(10)]]
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert out[1:] == rasp.evaluate(lib.make_hist(), xs)


@pytest.mark.slow
@pytest.mark.parametrize("case", LIB_CASES, ids=[c.name for c in LIB_CASES])
def test_every_lib_program_is_exact_at_64(case):
    program = case.make(64)
    model = compile_rasp_to_model(program, case.vocab, 64)
    inputs = case.inputs(64, 60, seed=1)
    for xs, out in zip(inputs, model.apply_batch([["BOS", *xs] for xs in inputs])):
        assert outputs_equal(out[1:], rasp.evaluate(program, xs)), xs
