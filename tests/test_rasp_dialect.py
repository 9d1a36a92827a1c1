"""`to_ir`, `rasp-infer-values`, the text round trip, the rasp interpreter and bad input."""

import pytest

from tracr_ir import rasp
from tracr_ir.compiler import interpret, parse_module, print_module, run_pipeline, to_ir
from tracr_ir.errors import (
    EvaluationError,
    InputError,
    IRError,
    PipelineError,
    ProgramError,
    TracrIRError,
    UnsupportedProgramError,
    ValueSetError,
)

VOCAB = {1, 2, 3}


def compiled(program, vocab=VOCAB, max_seq_len=5, spec="rasp-infer-values"):
    return run_pipeline(to_ir(program, vocab, max_seq_len), spec)


def sample_programs():
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same")
    hist = rasp.SelectorWidth(same).named("hist")
    opp = (rasp.length - rasp.indices - 1).named("opp")
    reverse = rasp.Aggregate(rasp.Select(rasp.indices, opp, rasp.Comparison.EQ), rasp.tokens)
    shifted = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1),
                             rasp.tokens)
    frac = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ),
        rasp.numerical(rasp.tokens == 1), default=0))
    balance = rasp.numerical(rasp.LinearSequenceMap(frac, frac, 2, -0.5))
    either = rasp.SelectorOr(same, rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT))
    neither = rasp.SelectorWidth(rasp.SelectorNot(either))
    both = rasp.SelectorWidth(rasp.SelectorAnd(
        same, rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.GT)))
    pairs = rasp.SequenceMap(lambda x, y: (x, y), shifted, hist)
    full = rasp.Full("z") + rasp.Map(str, rasp.tokens)
    return {
        "hist": hist, "reverse": reverse, "shifted": shifted, "frac": frac,
        "balance": balance, "neither": neither, "both": both, "pairs": pairs, "full": full,
        "length": rasp.length,
    }


INPUTS = [[1], [3, 1, 2], [2, 2, 2, 2, 2], [1, 3, 3, 1], [3, 2, 1, 1, 2]]


@pytest.mark.parametrize("name", sorted(sample_programs()))
def test_interpreter_matches_evaluate(name):
    program = sample_programs()[name]
    module = compiled(program)
    before = to_ir(program, VOCAB, 5)
    for xs in INPUTS:
        expected = rasp.evaluate(program, xs)
        assert interpret(module, xs) == expected
        assert interpret(before, xs) == expected  # Python functions, before inference


@pytest.mark.parametrize("name", sorted(sample_programs()))
@pytest.mark.parametrize("generic", [False, True])
def test_text_round_trip(name, generic):
    module = compiled(sample_programs()[name])
    text = print_module(module, generic=generic)
    parsed = parse_module(text)
    assert parsed.is_structurally_equivalent(module)
    assert print_module(parsed, generic=generic) == text
    assert print_module(parsed) == print_module(module)
    # The parsed module runs the same, and inference on it changes nothing.
    assert run_pipeline(parsed.clone(), "rasp-infer-values").is_structurally_equivalent(parsed)
    for xs in INPUTS:
        assert interpret(text, xs) == interpret(module, xs)


def test_labels_and_names_survive_text():
    odd = rasp.Map(lambda x: x, rasp.tokens).named('ünï "quoted" (x) \\ 1')
    module = compiled(odd)
    text = print_module(module)
    assert parse_module(text).is_structurally_equivalent(module)
    assert odd.label in text or "\\22" in text or '\\"' in text


def test_python_functions_cannot_be_parsed_before_inference():
    text = print_module(to_ir(rasp.Map(lambda x: x + 1, rasp.tokens), VOCAB, 3))
    assert 'python<"' in text
    with pytest.raises(IRError, match="Python function cannot be parsed"):
        parse_module(text)


def test_value_sets_and_tables():
    program = rasp.Map(lambda x: 10 // (x - 2), rasp.tokens).named("div")
    module = compiled(program)
    text = print_module(module)
    # 10 // 0 raises ZeroDivisionError: no entry (and no value) for 2, as tracr ignores it.
    assert '{1 -> -10, 3 -> 10} : !rasp.sop<categorical, {-10, 10}>' in text
    assert interpret(module, [1, 3]) == [-10, 10]
    with pytest.raises(EvaluationError, match="div"):
        interpret(module, [1, 2])
    with pytest.raises(ZeroDivisionError):
        rasp.evaluate(program, [1, 2])


def test_none_enters_value_sets_where_an_aggregate_may_select_nothing():
    shifted = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1),
                             rasp.tokens).named("shifted")
    always = rasp.Aggregate(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ),
                            rasp.tokens).named("always")
    text = print_module(compiled(rasp.SequenceMap(lambda a, b: a, shifted, always)))
    assert '"shifted_' in text and "!rasp.sop<categorical, {none, 1, 2, 3}>" in text
    assert '%always = rasp.aggregate "always_' in text
    line = next(line for line in text.splitlines() if "%always =" in line)
    assert line.endswith("!rasp.sop<categorical, {1, 2, 3}>")


def test_numerical_mean_value_set():
    bools = rasp.numerical(rasp.Map(lambda x: x == 1, rasp.tokens))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(rasp.tokens, rasp.tokens,
                                                     rasp.Comparison.TRUE), bools, default=0))
    module = compiled(mean, max_seq_len=3)
    values = module.ops.first.block.last_op.value.type.value_set
    assert set(values) == {0, 1 / 3, 0.5, 2 / 3, 1}


### Bad programs and bad input.


def test_ill_formed_programs_name_the_node():
    select = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("sel")
    with pytest.raises(ProgramError, match="sel_"):
        rasp.Map(lambda x: x, select)
    with pytest.raises(ProgramError, match="predicate"):
        rasp.Select(rasp.tokens, rasp.tokens, "EQUALS")
    with pytest.raises(UnsupportedProgramError, match="a program must be an SOp"):
        to_ir(select, VOCAB, 3)


def test_unsupported_nodes_are_refused_by_label():
    const = rasp.ConstantSOp([1, 2, 3]).named("const")
    with pytest.raises(UnsupportedProgramError, match=r"const_\d+: ConstantSOp"):
        to_ir(rasp.Map(lambda x: x, const), VOCAB, 3)
    numeric_key = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("num")
    sel = rasp.Select(numeric_key, rasp.tokens, rasp.Comparison.EQ).named("numsel")
    with pytest.raises(UnsupportedProgramError, match=r"numsel_\d+.*num_\d+ is numerical"):
        to_ir(rasp.SelectorWidth(sel), VOCAB, 3)


@pytest.mark.parametrize(
    "fn, match",
    [(lambda x: [x], "not a RASP value"), (lambda x: {"a": x}, "not a RASP value"),
     (lambda x: x + "a", "TypeError"), (lambda x: float("nan"), "NaN")],
)
def test_bad_map_functions_are_value_set_errors(fn, match):
    program = rasp.Map(fn, rasp.tokens).named("bad")
    with pytest.raises(ValueSetError, match=rf"bad_\d+.*{match}|{match}.*bad_\d+"):
        compiled(program)


def test_value_set_bound_is_configurable():
    program = rasp.SequenceMap(lambda x, y: x * 10 + y, rasp.tokens, rasp.indices).named("big")
    compiled(program, max_seq_len=8)
    with pytest.raises(ValueSetError, match=r"big_\d+: value set of 24 values is above"):
        compiled(program, max_seq_len=8, spec="rasp-infer-values{max_values=20}")
    with pytest.raises(ValueSetError, match=r"big_\d+: tabulating"):
        compiled(program, max_seq_len=8, spec="rasp-infer-values{max_table=10}")


@pytest.mark.parametrize(
    "vocab, kwargs, match",
    [(set(), {}, "vocab is empty"), ({1, "BOS"}, {}, "also in the vocab"),
     ({None, 1}, {}, "None cannot be a token"), ({1}, {"max_seq_len": 0}, "max_seq_len"),
     ({1}, {"compiler_pad": "BOS"}, "both"), ([[1]], {}, "unhashable|not a RASP value")],
)
def test_bad_compile_arguments(vocab, kwargs, match):
    args = {"max_seq_len": 3, **kwargs}
    with pytest.raises(UnsupportedProgramError, match=match):
        to_ir(rasp.tokens, vocab, **args)


def test_bad_pipelines():
    module = to_ir(rasp.tokens, VOCAB, 3)
    with pytest.raises(PipelineError, match="nope"):
        run_pipeline(module, "nope")
    with pytest.raises(PipelineError):
        run_pipeline(module, "rasp-infer-values{no_such_option=1}")


def test_malformed_ir_gives_located_diagnostics():
    good = print_module(compiled(sample_programs()["hist"]))
    with pytest.raises(IRError, match=r":\d+:\d+"):
        parse_module(good.replace("EQ :", "BOGUS :"))
    with pytest.raises(IRError, match="undefined value"):
        parse_module(good.replace("%same = ", "%renamed = "))
    with pytest.raises(IRError, match=r":\d+:\d+"):
        parse_module(good[: len(good) // 2])


def test_interpreter_input_errors():
    module = compiled(sample_programs()["hist"])
    with pytest.raises(InputError, match="token 7 at position 1"):
        interpret(module, [1, 7])
    with pytest.raises(InputError, match="token 1 at position 5 is past max_seq_len 5: the input has 6 tokens"):
        interpret(module, [1] * 6)
    with pytest.raises(InputError):
        interpret(module, "123")
    assert issubclass(InputError, TracrIRError)


def test_a_sequence_map_ignoring_an_operand_becomes_a_map_only_when_it_does():
    """`rasp-fuse-maps` turns `lambda x, y: x` into a Map of x, keeps a map whose outputs
    differ only in type (True and 1 are equal to Python, not to a reader), and keeps one
    whose ignored operand may be None; the program means the same either way."""
    from tracr_ir.passes.rasp_fuse_maps import one_operand_table

    assert one_operand_table({(0, 0): True, (0, 1): 1, (1, 0): 2, (1, 1): 2}, (0, 1), (0, 1),
                             0) is None
    assert one_operand_table({(0, 0): 0.0, (0, 1): -0.0}, (0,), (0, 1), 0) is None
    assert one_operand_table({(0, 0): 5, (0, 1): 5, (1, 0): 2, (1, 1): 2}, (0, 1), (0, 1),
                             0) == {0: 5, 1: 2}
    assert one_operand_table({(0, 0): 5, (0, 1): 5}, (0,), (None, 0, 1), 0) is None
    first = rasp.categorical(rasp.SequenceMap(lambda x, y: x, rasp.tokens, rasp.indices))
    typed = rasp.categorical(rasp.SequenceMap(lambda x, y: (x, True if y == 0 else 1),
                                              rasp.tokens, rasp.indices))
    for program, kept in ((first, "rasp.map"), (typed, "rasp.sequence_map")):
        module = run_pipeline(to_ir(program, {1, 2}, 3), "rasp-infer-values,rasp-fuse-maps")
        assert f'{kept} "{program.label}"' in print_module(module)
        for xs in ([1], [2, 1], [1, 2, 2]):
            assert interpret(module, xs) == rasp.evaluate(program, xs)
