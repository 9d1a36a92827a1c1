"""The drop-in promise to tracr users, and each deliberate difference from tracr-pypi 1.0.0.

tracr's own test files run against tracr_ir in `test_tracr_suite.py`; this file pins down what
they do not (annotations return copies and leave shared nodes alone, the Aggregate mean, the
errors' classes, PAD-padded inputs, the two causal evaluations, `tracr_ir.compiling`), and
proves that the programs tracr refuses, which tracr's suite expects to be refused, compile
exactly.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import subprocess
import sys

import numpy as np
import pytest

from tracr_ir import causal_eval, compiling, lib, rasp
from tracr_ir.compiler import compile_rasp_to_model
from tracr_ir.errors import (ArgumentError, EvaluationError, InputError, TracrIRError,
                             UnsupportedProgramError, ValueSetError)
from tracr_ir.testing import assert_equivalent

C = rasp.Comparison

# ----------------------------------------------------------------------------- copies

ANNOTATORS = {
    "numerical": rasp.numerical,
    "categorical": rasp.categorical,
    "named": lambda e: e.named("renamed"),
    "annotated": lambda e: e.annotated(note=1),
    "annotate": lambda e: rasp.annotate(e, note=1),
}


def _examples():
    sel = rasp.Select(rasp.tokens, rasp.indices, C.EQ)
    return {
        "tokens": rasp.tokens, "indices": rasp.indices, "length": rasp.length,
        "map": rasp.Map(lambda x: x, rasp.tokens),
        "sequence_map": rasp.SequenceMap(lambda x, y: x, rasp.tokens, rasp.indices),
        "linear_sequence_map": rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 1, 2),
        "full": rasp.Full(1), "aggregate": rasp.Aggregate(sel, rasp.tokens),
        "selector_width": rasp.SelectorWidth(sel), "select": sel,
        "selector_and": rasp.SelectorAnd(sel, sel), "selector_not": rasp.SelectorNot(sel),
    }


@pytest.mark.parametrize("how", list(ANNOTATORS))
@pytest.mark.parametrize("kind", list(_examples()))
def test_annotating_returns_a_copy_and_leaves_the_node_as_it_was(how, kind):
    expr = _examples()[kind]
    if how in ("numerical", "categorical") and isinstance(expr, rasp.Selector):
        return  # selectors have no encoding
    label, name = expr.label, expr.name  # reads (and caches) the id and the default name
    before = dict(expr.annotations)
    new = ANNOTATORS[how](expr)
    assert new is not expr and type(new) is type(expr)
    assert dict(expr.annotations) == before and (expr.label, expr.name) == (label, name)
    assert new.children == expr.children  # the same operand objects
    assert all(a is b for a, b in zip(new.children, expr.children))
    if not isinstance(expr, (rasp.TokensType, rasp.IndicesType, rasp.LengthType)):
        assert new.unique_id != expr.unique_id and new.label != expr.label
    assert rasp.evaluate(new, [1, 0, 2]) == rasp.evaluate(expr, [1, 0, 2])


def test_numerical_tokens_leaves_the_shared_tokens_categorical():
    # tracr's test cases build `rasp.numerical(rasp.tokens)` at import: it must not make the
    # `tokens` of every later program numerical.
    num = rasp.numerical(rasp.tokens)
    assert isinstance(num, rasp.TokensType) and num.label == "tokens"
    assert rasp.is_numerical(num) and rasp.is_categorical(rasp.tokens)
    length = rasp.numerical(lib.length)
    assert rasp.is_numerical(length) and rasp.is_categorical(lib.length)


def test_copies_keep_their_own_annotations():
    m = rasp.Map(lambda x: x + 1, rasp.tokens).named("m")
    c = m.copy()
    assert c.name == "m" and c.unique_id != m.unique_id
    c2 = rasp.numerical(c).named("n")
    assert (m.name, c.name, c2.name) == ("m", "m", "n")
    assert rasp.is_categorical(m) and rasp.is_categorical(c) and rasp.is_numerical(c2)
    with pytest.raises(AttributeError, match="immutable"):
        c.f = None  # a copy is as immutable as its original


def _lib_programs(x, y):
    """Every lib function that takes s-ops, applied to `x` (and `y`)."""
    return [
        lib.make_reverse(x), lib.make_pair_balance(x, "a", "b"), lib.make_sort_unique(x, y),
        lib.make_sort(x, y, max_seq_len=5, min_key=1), lib.make_frac_prevs(x == "a"),
        lib.make_frac_prevs(y), lib.shift_by(1, x), lib.detect_pattern(x, "ab"),
        lib.make_count(x, "a"), lib.make_nary_sequencemap(lambda a, b: a, x, y),
    ]


def test_lib_functions_leave_their_arguments_annotations_alone():
    x = rasp.Map(lambda t: t, rasp.tokens).named("x")
    y = rasp.Map(lambda t: t == "a", rasp.tokens).named("y")
    def snapshot():  # the defaults first: reading them fills them in
        return [(rasp.get_encoding(e), e.name, dict(e.annotations))
                for e in (x, y, rasp.tokens, rasp.indices, lib.length)]

    before = snapshot()
    _lib_programs(x, y)
    lib.make_shuffle_dyck(["ab"]), lib.make_sort_freq(5), lib.make_count_less_freq(2)
    assert snapshot() == before
    # make_frac_prevs averages a numerical copy of its argument, as tracr's does.
    frac = lib.make_frac_prevs(y)
    assert rasp.is_categorical(y) and rasp.is_numerical(frac.sop) and frac.sop is not y


# ----------------------------------------------------------------------------- the mean


@pytest.mark.parametrize("selected, default, expected, kind", [
    ([], 0, 0, int),
    ([], None, None, type(None)),
    ([3], None, 3, int),  # one value: unchanged, an int stays an int
    ([True], None, True, bool),
    (["a"], None, "a", str),
    ([(1, 2)], None, (1, 2), tuple),
    ([2, 2], None, 2.0, float),  # several numbers: their mean, a float
    ([1, 2], None, 1.5, float),
    ([0.5, 1.5], None, 1.0, float),
    ([True, False, 1], None, 2 / 3, float),
])
def test_aggregate_mean_is_tracrs(selected, default, expected, kind):
    got = rasp.aggregate_mean(selected, default)
    assert got == expected and type(got) is kind


@pytest.mark.parametrize("selected", [["a", "a"], ["a", "b"], [1, "a"], [None, 1], [(1,), (1,)]])
def test_several_values_that_are_not_all_numbers_have_no_mean(selected):
    with pytest.raises(EvaluationError) as info:
        rasp.aggregate_mean(selected, None)
    assert isinstance(info.value, ValueError)  # tracr raises ValueError


def test_compiled_categorical_aggregate_of_ints_gives_the_selected_int():
    prev = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - 1)
    program = rasp.Aggregate(prev, rasp.tokens)
    model = compile_rasp_to_model(program, {1, 2, 3}, 4)
    out = model.apply(["BOS", 3, 1, 2]).decoded[1:]
    assert out == rasp.evaluate(program, [3, 1, 2]) == [None, 3, 1]
    assert [type(v) for v in out] == [type(None), int, int]


# ----------------------------------------------------------------------------- errors


def test_refusals_are_not_implemented_errors_and_bad_arguments_value_errors():
    assert issubclass(UnsupportedProgramError, NotImplementedError)
    assert issubclass(ValueSetError, NotImplementedError)
    assert issubclass(ArgumentError, ValueError) and issubclass(ArgumentError, TracrIRError)
    numerical_key = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens))
    refused = rasp.SelectorWidth(rasp.Select(numerical_key, rasp.tokens, C.LT))
    with pytest.raises(NotImplementedError, match="numerical"):
        compiling.compile_rasp_to_model(refused, {1, 2, 3}, 5)
    with pytest.raises(NotImplementedError, match="ConstantSOp"):
        compiling.compile_rasp_to_model(rasp.ConstantSOp([1, 2]), {1, 2}, 2)
    for vocab in ({1, compiling.COMPILER_BOS}, {1, compiling.COMPILER_PAD}):
        with pytest.raises(ValueError, match="vocab"):
            compiling.compile_rasp_to_model(lib.make_hist(), vocab, 5)
    with pytest.raises(ValueError, match="max_seq_len"):
        compiling.compile_rasp_to_model(lib.make_hist(), {1}, 0)


# ----------------------------------------------------------------------------- PAD

PADDED = {
    "make_length": (lambda: lib.make_length(), list("abcd")),
    "make_reverse": (lambda: lib.make_reverse(rasp.tokens), list("abcd")),
    "make_hist": (lambda: lib.make_hist(), list("abcd")),
    "make_frac_prevs": (lambda: lib.make_frac_prevs(rasp.tokens == "a"), list("abcd")),
    "make_sort_unique": (lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), [1, 2, 3, 4]),
}


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("name", list(PADDED))
def test_apply_takes_pad_padded_inputs_like_tracr(name, causal):
    make, vocab = PADDED[name]
    program, bos, pad, n = make(), compiling.COMPILER_BOS, compiling.COMPILER_PAD, 5
    if causal and name in ("make_reverse", "make_sort_unique", "make_hist"):
        return  # not causal programs: rasp-verify-causal refuses them
    model = compiling.compile_rasp_to_model(program, set(vocab), n, causal=causal)
    reference = rasp.evaluate_causal if causal else rasp.evaluate
    rng = np.random.default_rng(0)
    for length in range(1, n + 1):
        xs = [vocab[i] for i in rng.integers(0, len(vocab), length)]
        for n_pad in range(n - length + 1):
            out = model.apply([bos, *xs, *[pad] * n_pad]).decoded
            assert out[0] == bos and out[length + 1:] == [pad] * n_pad
            want = reference(program, xs)
            if rasp.is_numerical(program):
                np.testing.assert_allclose(out[1:length + 1], want, atol=1e-4)
            else:
                assert out[1:length + 1] == want
            assert out == [bos, *model.apply([bos, *xs]).decoded[1:], *[pad] * n_pad]


def test_apply_refuses_pad_before_a_token_and_inputs_longer_than_max_seq_len():
    model = compile_rasp_to_model(lib.make_hist(), {"a", "b"}, 3)
    with pytest.raises(InputError, match="PAD may only end the input"):
        model.apply(["BOS", "a", "PAD", "b"])
    with pytest.raises(InputError, match="max_seq_len 3"):
        model.apply(["BOS", "a", "b", "PAD", "PAD"])
    with pytest.raises(InputError, match="BOS"):
        model.apply(["PAD", "a"])
    assert model.apply(["BOS", "PAD", "PAD"]).decoded == ["BOS", "PAD", "PAD"]


# ----------------------------------------------------------------------------- causal


def test_causal_eval_masks_every_selector_over_the_whole_input():
    everything = rasp.Select(rasp.tokens, rasp.tokens, C.TRUE)
    assert causal_eval.evaluate(everything, "abc") == [
        [True, False, False], [True, True, False], [True, True, True]]
    assert causal_eval.evaluate(~rasp.Select(rasp.tokens, rasp.tokens, C.EQ), "aba") == [
        [False, False, False], [True, False, False], [False, True, False]]
    assert causal_eval.evaluate(rasp.SelectorWidth(everything), "abc") == [1, 2, 3]
    # Everything but selectors sees the whole input.
    assert causal_eval.evaluate(rasp.length, "abc") == [3, 3, 3]
    assert rasp.evaluate_causal(rasp.length, "abc") == [1, 2, 3]


def test_a_causal_model_computes_evaluate_causal_not_causal_eval():
    last = rasp.Select(rasp.indices, rasp.length - 1, C.EQ)  # the last token
    program = rasp.Aggregate(last, rasp.tokens)
    xs = ["a", "b", "c"]
    assert causal_eval.evaluate(program, xs) == [None, None, "c"]
    assert rasp.evaluate_causal(program, xs) == ["a", "b", "c"]
    model = compiling.compile_rasp_to_model(program, {"a", "b", "c"}, 4, causal=True)
    assert model.apply([compiling.COMPILER_BOS, *xs]).decoded[1:] == ["a", "b", "c"]
    assert_equivalent(program, model)  # evaluated causally: the model is causal


# ----------------------------------------------------------------------------- compiling

TRACR_SIGNATURE = [("program", inspect.Parameter.empty), ("vocab", inspect.Parameter.empty),
                   ("max_seq_len", inspect.Parameter.empty), ("causal", False),
                   ("compiler_bos", "compiler_bos"), ("compiler_pad", "compiler_pad"),
                   ("mlp_exactness", 100)]


def test_compiling_has_tracrs_signature_and_defaults():
    params = inspect.signature(compiling.compile_rasp_to_model).parameters.values()
    positional = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == TRACR_SIGNATURE
    # tracr_ir.compile_rasp_to_model takes the same arguments in the same order.
    ours = inspect.signature(compile_rasp_to_model).parameters.values()
    assert [p.name for p in ours if p.kind is p.POSITIONAL_OR_KEYWORD] == [
        name for name, _ in TRACR_SIGNATURE]
    tracr_compiling = pytest.importorskip("tracr.compiler.compiling")
    theirs = inspect.signature(tracr_compiling.compile_rasp_to_model).parameters.values()
    assert [(p.name, p.default) for p in theirs] == TRACR_SIGNATURE
    assert (compiling.COMPILER_BOS, compiling.COMPILER_PAD) == (
        tracr_compiling.COMPILER_BOS, tracr_compiling.COMPILER_PAD)


def test_compiling_takes_tracrs_arguments_positionally_and_ignores_mlp_exactness():
    program = lib.make_frac_prevs(rasp.tokens == "a")
    a = compiling.compile_rasp_to_model(program, {"a", "b"}, 4, True, "S", "P", 1)
    b = compiling.compile_rasp_to_model(program, {"a", "b"}, 4, causal=True, compiler_bos="S",
                                        compiler_pad="P", mlp_exactness=100)
    assert a.weights.causal and a.weights.bos == "S" and a.weights.pad == "P"
    assert a.params.keys() == b.params.keys()
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_a_sequence_map_of_one_sop_with_itself_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.tokens)
    assert any("SequenceMap" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.indices)
    assert not caplog.records


def test_importing_the_drop_in_modules_imports_no_jax_or_haiku():
    code = ("import sys, tracr_ir\nfrom tracr_ir import rasp, lib, causal_eval, compiling\n"
            "bad = [m for m in ('jax', 'haiku') if m in sys.modules]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- tracr refuses

_NUMERIC_COPY = lambda sop: rasp.numerical(rasp.Map(lambda x: x, sop))  # noqa: E731
_ALL = rasp.Select(rasp.tokens, rasp.tokens, C.TRUE)

# The programs of tracr's `test_unsupported_programs_raise_exception` that tracr_ir compiles
# (test_tracr_suite.DIFFERENCES), vocab {1, 2, 3}, max_seq_len 5, built here the same way.
REFUSED_BY_TRACR = {
    "categorical_numerical_aggregate": lambda: rasp.numerical(rasp.Aggregate(_ALL, rasp.tokens)),
    "numerical_numerical_aggregate": lambda: rasp.numerical(
        rasp.Aggregate(_ALL, _NUMERIC_COPY(rasp.tokens), default=0)),
    "aggregate_with_not_None_default": lambda: rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, C.EQ), rasp.tokens, default=1)),
    "numerical_SequenceMap": lambda: rasp.numerical(rasp.SequenceMap(
        lambda x, y: x + y, _NUMERIC_COPY(rasp.indices), _NUMERIC_COPY(rasp.tokens))),
    "categorical_LinearSequenceMap": lambda: rasp.categorical(rasp.LinearSequenceMap(
        rasp.categorical(rasp.indices), rasp.categorical(rasp.tokens), 1, 1)),
    "numerical_tokens": lambda: rasp.numerical(rasp.tokens),
    "numerical_indices": lambda: rasp.numerical(rasp.indices),
}


def test_the_documented_differences_are_these_programs():
    suite = pytest.importorskip("test_tracr_suite")
    listed = suite.DIFFERENCES["rasp_to_transformer_integration_test"]
    assert {t.rsplit("raise_exception_", 1)[1] for t in listed} == set(REFUSED_BY_TRACR)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("name", list(REFUSED_BY_TRACR))
def test_programs_tracr_refuses_compile_exactly(name, causal):
    program = REFUSED_BY_TRACR[name]()
    model = compiling.compile_rasp_to_model(program, {1, 2, 3}, 5, causal=causal)
    inputs = [list(xs) for n in range(1, 6) for xs in itertools.product([1, 2, 3], repeat=n)]
    assert_equivalent(program, model, inputs)  # all 363 inputs, causally if causal
