"""Semantics of the RASP front end (`tracr_ir.rasp`), construct by construct.

`rasp.evaluate` is the reference every compiler stage is tested against, so these tests pin
down tracr's evaluator behaviour, quirks included.
"""

from __future__ import annotations

import itertools

import pytest

from tracr_ir import rasp
from tracr_ir.errors import EvaluationError, ProgramError, TracrIRError

C = rasp.Comparison


def ev(expr, xs):
    return rasp.evaluate(expr, list(xs))


# ----------------------------------------------------------------------------- primitives


@pytest.mark.parametrize("xs", ["hello", "h", [1, 2], [0.1, 0.2], [], [None, "a"]])
def test_primitives(xs):
    xs = list(xs)
    assert ev(rasp.tokens, xs) == xs
    assert ev(rasp.indices, xs) == list(range(len(xs)))
    assert ev(rasp.length, xs) == [len(xs)] * len(xs)


def test_primitive_labels_and_calling():
    assert [rasp.tokens.label, rasp.indices.label, rasp.length.label] == [
        "tokens", "indices", "length"
    ]
    assert rasp.tokens("ab") == ["a", "b"]  # __call__ evaluates
    assert isinstance(rasp.tokens, rasp.SOp) and isinstance(rasp.tokens, rasp.RASPExpr)
    assert rasp.tokens.children == []


def test_tokens_returns_a_fresh_list():
    xs = [1, 2]
    out = ev(rasp.tokens, xs)
    out.append(3)
    assert xs == [1, 2]


# ----------------------------------------------------------------------------- Map


@pytest.mark.parametrize(
    "f, xs, expected",
    [
        (lambda x: x + "a", "he", ["ha", "ea"]),
        (lambda x: x + 1, [1, 2], [2, 3]),
        (lambda x: x / 2, [0.1, 0.2], [0.05, 0.1]),
        (lambda x: (x, x), [1], [(1, 1)]),
    ],
)
def test_map(f, xs, expected):
    assert ev(rasp.Map(f, rasp.tokens), xs) == expected


def test_map_propagates_none_without_calling_f():
    calls = []
    m = rasp.Map(lambda x: calls.append(x) or x * 10, rasp.ConstantSOp([1, None, 3]))
    assert ev(m, "abc") == [10, None, 30]
    assert calls == [1, 3]


def test_nested_maps_are_composed_into_one():
    inner = rasp.Map(lambda x: x * 2, rasp.tokens)
    outer = rasp.Map(lambda x: x + 3, inner)
    assert outer.inner is rasp.tokens  # one Map of the composed function
    assert outer.f(1) == 5 and ev(outer, [1, 2]) == [5, 7]
    sugar = ((rasp.tokens * 2) + 2) / 2
    assert isinstance(sugar, rasp.Map) and sugar.inner is rasp.tokens
    assert ev(sugar, [1]) == [2]
    # Composition order: f(g(x)), not g(f(x)).
    assert ev(rasp.Map(str, rasp.Map(lambda x: x + 1, rasp.tokens)), [1]) == ["2"]


def test_nested_maps_kept_apart_with_simplify_false():
    inner = rasp.tokens * 2
    outer = rasp.Map(lambda x: x + 2, inner, simplify=False)
    assert outer.inner is inner and outer.children == [inner]
    assert ev(outer, [1]) == [4]


def test_map_composition_drops_the_inner_annotations():
    # As in tracr: the composed Map replaces the inner one, whose name and encoding vanish.
    inner = rasp.numerical(rasp.Map(lambda x: x + 1, rasp.tokens)).named("inner")
    outer = rasp.Map(lambda x: x > 1, inner)
    assert outer.inner is rasp.tokens and rasp.is_categorical(outer)
    assert all(node is not inner for node in rasp.walk(outer))


# ----------------------------------------------------------------------------- SequenceMap & co


@pytest.mark.parametrize(
    "f, xs, expected",
    [
        (lambda x, y: x + y, "he", ["hh", "ee"]),
        (lambda x, y: x * y, [1, 2], [1, 4]),
    ],
)
def test_sequence_map_same_operand(f, xs, expected):
    assert ev(rasp.SequenceMap(f, rasp.tokens, rasp.tokens), xs) == expected


def test_sequence_map_argument_order():
    sm = rasp.SequenceMap(lambda x, y: x - y, rasp.length, rasp.indices)
    assert ev(sm, [7, 7, 7]) == [3, 2, 1]
    assert sm.children == [rasp.length, rasp.indices]


def test_sequence_map_is_none_if_either_operand_is():
    a = rasp.ConstantSOp([1, None, 3, None])
    b = rasp.ConstantSOp([10, 20, None, None])
    called = []
    sm = rasp.SequenceMap(lambda x, y: called.append((x, y)) or x + y, a, b)
    assert ev(sm, "abcd") == [11, None, None, None]
    assert called == [(1, 10)]


@pytest.mark.parametrize(
    "fst_fac, snd_fac, expected", [(1, 1, [2, 4]), (1, -1, [0, 0]), (1, -2, [-1, -2]),
                                   (0.5, 0, [0.5, 1.0])]
)
def test_linear_sequence_map(fst_fac, snd_fac, expected):
    lsm = rasp.LinearSequenceMap(rasp.tokens, rasp.tokens, fst_fac, snd_fac)
    assert isinstance(lsm, rasp.SequenceMap)
    assert (lsm.fst_fac, lsm.snd_fac) == (fst_fac, snd_fac)
    assert ev(lsm, [1, 2]) == expected


def test_linear_sequence_map_of_different_operands_and_none():
    lsm = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 2, -1)
    assert ev(lsm, [5, 5, 5]) == [10, 9, 8]
    lsm = rasp.LinearSequenceMap(rasp.ConstantSOp([1, None]), rasp.indices, 1, 1)
    assert ev(lsm, "ab") == [1, None]


@pytest.mark.parametrize("fill", [1, "a", None, (1, 2), 0.5])
def test_full(fill):
    assert ev(rasp.Full(fill), "abc") == [fill] * 3
    assert ev(rasp.Full(fill), "") == []


def test_constant_sop_checks_its_length():
    assert ev(rasp.ConstantSOp([1, 2, 3]), "abc") == [1, 2, 3]
    # tracr's wording, which tracr's tests match (a ValueError, as there).
    with pytest.raises(ValueError, match=r"Constant len 3 doesn't match input len 4"):
        ev(rasp.ConstantSOp([1, 2, 3]), "abcd")
    assert ev(rasp.ConstantSOp([1, 2, 3], check_length=False), "abcd") == [1, 2, 3]
    with pytest.raises(EvaluationError, match=r"Constant len 1 doesn't match input len 2"):
        ev(rasp.ConstantSelector([[True]]), "ab")
    assert ev(rasp.ConstantSelector([[True, False], [False, True]]), "ab") == [
        [True, False], [False, True]
    ]


# ----------------------------------------------------------------------------- Select


@pytest.mark.parametrize(
    "comparison, expected",
    [
        (C.EQ, [[True, False], [False, True]]),
        (C.LT, [[False, False], [True, False]]),
        (C.LEQ, [[True, False], [True, True]]),
        (C.GT, [[False, True], [False, False]]),
        (C.GEQ, [[True, True], [False, True]]),
        (C.NEQ, [[False, True], [True, False]]),
        (C.TRUE, [[True, True], [True, True]]),
        (C.FALSE, [[False, False], [False, False]]),
    ],
)
def test_select_every_comparison(comparison, expected):
    # Row q, column k: does query q attend to key k, i.e. comparison(key=k, query=q)?
    assert ev(rasp.Select(rasp.tokens, rasp.tokens, comparison), [0, 1]) == expected


def test_comparison_is_called_key_first():
    assert C.LT(1, 2) is True and C.LT(2, 1) is False
    sel = rasp.Select(rasp.indices, rasp.Full(1), C.LT)  # keys < 1
    assert ev(sel, "abc") == [[True, False, False]] * 3


def test_select_with_a_lambda_predicate():
    seen = []

    def pred(key, query):
        seen.append((key, query))
        return query == key + 1

    sel = rasp.Select(rasp.indices, rasp.indices, pred)
    assert ev(sel, "abc") == [
        [False, False, False],
        [True, False, False],
        [False, True, False],
    ]
    assert (0, 1) in seen and (1, 0) in seen
    # Truthy results are turned into bools.
    sel = rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: k * q)
    assert ev(sel, [0, 2]) == [[False, False], [False, True]]


def test_select_rows_are_queries_and_columns_keys_for_different_operands():
    sel = rasp.Select(rasp.ConstantSOp([1, 2, 3]), rasp.ConstantSOp([3, 3, 1]), C.EQ)
    assert ev(sel, "abc") == [
        [False, False, True],
        [False, False, True],
        [True, False, False],
    ]


@pytest.mark.parametrize("comparison", list(C))
def test_comparison_raises_on_none(comparison):
    with pytest.raises(EvaluationError, match="key is None"):
        comparison(None, 1)
    with pytest.raises(EvaluationError, match="query is None"):
        comparison(1, None)
    assert isinstance(EvaluationError("x"), ValueError)  # tracr raised ValueError


def test_select_on_none_values_raises_an_error_naming_the_select():
    shifted = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1),
                             rasp.tokens)
    sel = rasp.Select(shifted, shifted, C.EQ).named("sel_on_none")
    with pytest.raises(EvaluationError, match="sel_on_none"):
        ev(sel, "ab")
    # A lambda predicate is just called with the None.
    ok = rasp.Select(shifted, shifted, lambda k, q: k is None)
    assert ev(ok, "ab") == [[True, False], [True, False]]


# ----------------------------------------------------------------------------- SelectorWidth


def test_selector_width():
    assert ev(rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, C.TRUE)), "abc") == [3] * 3
    assert ev(rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, C.EQ)), "abca") == [
        2, 1, 1, 2
    ]
    assert ev(rasp.SelectorWidth(rasp.Select(rasp.indices, rasp.indices, C.LT)), "abc") == [
        0, 1, 2
    ]
    assert ev(rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, C.FALSE)), "ab") == [0, 0]
    out = ev(rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, C.TRUE)), "ab")
    assert all(type(v) is int for v in out)


# ----------------------------------------------------------------------------- Aggregate


@pytest.mark.parametrize(
    "matrix, values, default, expected",
    [
        ([[True, False], [False, True]], ["h", "e"], None, ["h", "e"]),
        ([[False, True], [False, False]], ["h", "e"], None, ["e", None]),
        ([[True, True], [False, True]], [0, 1], 0, [0.5, 1]),
        ([[False, False], [True, True]], [0, 1], 0, [0, 0.5]),
        ([[False, False], [True, True]], [0, 1], None, [None, 0.5]),
        ([[True, True], [True, False]], [True, False], 0, [0.5, 1.0]),
        ([[False, False], [False, True]], ["a", "b"], "z", ["z", "b"]),
    ],
)
def test_aggregate(matrix, values, default, expected):
    agg = rasp.Aggregate(rasp.ConstantSelector(matrix), rasp.ConstantSOp(values), default)
    assert ev(agg, [0, 0]) == expected


def test_aggregate_numerical_mean():
    prevs = rasp.Select(rasp.indices, rasp.indices, C.LEQ)
    agg = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.tokens == 1), default=0))
    assert ev(agg, [1, 0, 1, 1]) == [1.0, 0.5, pytest.approx(2 / 3), 0.75]


def test_aggregate_of_one_selected_value_returns_it_unchanged():
    # tracr-pypi 1.0.0: one selected value is returned as it is (an int stays an int).
    one = rasp.Select(rasp.indices, rasp.indices, C.EQ)
    assert ev(rasp.Aggregate(one, rasp.tokens), ["a", (1, 2), 0.5]) == ["a", (1, 2), 0.5]
    out = ev(rasp.Aggregate(one, rasp.tokens), [3, True])
    assert out == [3, True] and [type(v) for v in out] == [int, bool]


def test_aggregate_default_where_nothing_is_selected():
    none = rasp.Select(rasp.indices, rasp.indices, C.FALSE)
    assert ev(rasp.Aggregate(none, rasp.tokens), "ab") == [None, None]
    assert ev(rasp.Aggregate(none, rasp.tokens, default=0), "ab") == [0, 0]
    assert ev(rasp.Aggregate(none, rasp.tokens, default="x"), "ab") == ["x", "x"]


def test_aggregate_of_several_strings_raises():
    every = rasp.Select(rasp.indices, rasp.indices, C.TRUE)
    agg = rasp.Aggregate(every, rasp.tokens).named("bad_agg")
    with pytest.raises(EvaluationError, match="bad_agg"):
        ev(agg, "ab")
    assert ev(agg, "a") == ["a"]  # one selected string is fine
    with pytest.raises(EvaluationError):  # numbers mixed with anything else have no mean
        ev(rasp.Aggregate(every, rasp.tokens), [1, "a"])
    # Several ints, bools or floats are averaged (tracr's rule), into a float.
    out = ev(rasp.Aggregate(every, rasp.tokens), [2, 2])
    assert out == [2.0, 2.0] and type(out[0]) is float
    assert ev(rasp.Aggregate(every, rasp.tokens), [0.5, 1.5]) == [1.0, 1.0]
    assert ev(rasp.Aggregate(every, rasp.tokens), [True, 0.5, 0]) == [0.5, 0.5, 0.5]


def test_aggregate_default_must_be_a_simple_value():
    sel = rasp.Select(rasp.indices, rasp.indices, C.EQ)
    with pytest.raises(ProgramError):
        rasp.Aggregate(sel, rasp.tokens, default=[1])


# ----------------------------------------------------------------------------- selector algebra


def _sel(keys, queries, comparison):
    return rasp.Select(keys, queries, comparison)


def test_selector_and_or_not_evaluate_elementwise():
    lt = _sel(rasp.indices, rasp.tokens, C.LT)
    eq = _sel(rasp.tokens, rasp.indices, C.EQ)
    xs = [0, 2, 1]
    a, b = ev(lt, xs), ev(eq, xs)
    both = ev(rasp.SelectorAnd(lt, eq), xs)
    either = ev(rasp.SelectorOr(lt, eq), xs)
    neither = ev(rasp.SelectorNot(lt), xs)
    for i, j in itertools.product(range(3), repeat=2):
        assert both[i][j] == (a[i][j] and b[i][j])
        assert either[i][j] == (a[i][j] or b[i][j])
        assert neither[i][j] == (not a[i][j])


def test_operators_on_selects_with_common_operands_simplify_to_one_select():
    geq = _sel(rasp.tokens, rasp.indices, C.GEQ)
    leq = _sel(rasp.tokens, rasp.indices, C.LEQ)
    for combined, op in [(geq & leq, "and"), (geq | leq, "or"), (~geq, "not")]:
        assert isinstance(combined, rasp.Select), op
        assert combined.keys is rasp.tokens and combined.queries is rasp.indices
    xs = [2, 0, 1, 3]
    assert ev(geq & leq, xs) == ev(_sel(rasp.tokens, rasp.indices, C.EQ), xs)
    assert ev(geq | leq, xs) == ev(_sel(rasp.tokens, rasp.indices, C.TRUE), xs)
    assert ev(~geq, xs) == ev(_sel(rasp.tokens, rasp.indices, C.LT), xs)


def test_selector_operators_without_common_operands_build_combinators():
    fst = _sel(rasp.tokens, rasp.indices, C.GEQ)
    snd = _sel(rasp.indices, rasp.tokens, C.LEQ)
    assert isinstance(fst & snd, rasp.SelectorAnd)
    assert isinstance(fst | snd, rasp.SelectorOr)
    assert isinstance(~rasp.SelectorAnd(fst, snd), rasp.SelectorNot)
    assert isinstance(rasp.selector_and(fst, fst, simplify=False), rasp.SelectorAnd)
    assert isinstance(rasp.selector_or(fst, fst, simplify=False), rasp.SelectorOr)
    assert isinstance(rasp.selector_not(fst, simplify=False), rasp.SelectorNot)


def test_full_keys_or_queries_match_any_operand_when_simplifying():
    sel = rasp.selector_and(
        _sel(rasp.Full(1), rasp.indices, C.GEQ), _sel(rasp.tokens, rasp.indices, C.LEQ)
    )
    assert isinstance(sel, rasp.Select)
    assert sel.keys is rasp.tokens and sel.queries is rasp.indices
    sel = rasp.selector_or(
        _sel(rasp.tokens, rasp.indices, C.GEQ), _sel(rasp.tokens, rasp.Full(1), C.LEQ)
    )
    assert isinstance(sel, rasp.Select)
    assert sel.keys is rasp.tokens and sel.queries is rasp.indices


_OPERANDS = (rasp.tokens, rasp.indices, rasp.Full(1))


@pytest.mark.parametrize("combine", [rasp.selector_and, rasp.selector_or])
def test_simplified_and_or_agree_with_unsimplified(combine):
    xs = [0, 1, 2, 3]
    for fk, fq, sk, sq in itertools.product(_OPERANDS, repeat=4):
        for fp, sp in itertools.product(list(C), repeat=2):
            fst, snd = _sel(fk, fq, fp), _sel(sk, sq, sp)
            simplified = combine(fst, snd)
            plain = combine(fst, snd, simplify=False)
            assert ev(simplified, xs) == ev(plain, xs), (fk, fq, fp, sk, sq, sp)


def test_simplified_not_agrees_with_unsimplified():
    for keys, queries, comparison in itertools.product(_OPERANDS, _OPERANDS, list(C)):
        sel = _sel(keys, queries, comparison)
        assert ev(~sel, [0, 2, 1]) == ev(rasp.SelectorNot(sel), [0, 2, 1])


# ----------------------------------------------------------------------------- operator sugar


@pytest.mark.parametrize(
    "build, xs, expected",
    [
        (lambda t: t == 1, [0, 1, 2], [False, True, False]),
        (lambda t: t != 1, [0, 1, 2], [True, False, True]),
        (lambda t: t < 1, [0, 1, 2], [True, False, False]),
        (lambda t: t <= 1, [0, 1, 2], [True, True, False]),
        (lambda t: t > 1, [0, 1, 2], [False, False, True]),
        (lambda t: t >= 1, [0, 1, 2], [False, True, True]),
        (lambda t: 1 < t, [0, 1, 2], [False, False, True]),  # reflected to t > 1
        (lambda t: t + 1, [0, 1, 2], [1, 2, 3]),
        (lambda t: "x" + t, ["a", "b"], ["xa", "xb"]),  # radd keeps the order
        (lambda t: t + "x", ["a", "b"], ["ax", "bx"]),
        (lambda t: t - 1, [0, 1, 2], [-1, 0, 1]),
        (lambda t: 10 - t, [0, 1, 2], [10, 9, 8]),  # rsub
        (lambda t: t * 3, [0, 1, 2], [0, 3, 6]),
        (lambda t: 3 * t, [0, 1, 2], [0, 3, 6]),
        (lambda t: t / 2, [1, 2], [0.5, 1.0]),
        (lambda t: 2 / t, [1, 2], [2.0, 1.0]),
        (lambda t: ~t, [True, False], [False, True]),
        (lambda t: t & True, [True, False], [True, False]),
        (lambda t: t & False, [True, False], [False, False]),
        (lambda t: t | True, [True, False], [True, True]),
        (lambda t: t | False, [True, False], [True, False]),
        (lambda t: True & t, [True, False], [True, False]),
        (lambda t: False | t, [True, False], [True, False]),
        (lambda t: t & 0, [3, 0], [0, 0]),  # `x and c`: Python's and, not a bitwise and
        (lambda t: t | 5, [3, 0], [3, 5]),  # `x or c`
        (lambda t: 5 | t, [3, 0], [3, 5]),  # reflected `or` is still `x or c`, as in tracr
    ],
)
def test_operator_sugar_with_constants(build, xs, expected):
    sop = build(rasp.tokens)
    assert isinstance(sop, rasp.Map) and sop.inner is rasp.tokens
    assert ev(sop, xs) == expected


def test_operator_sugar_between_sops():
    xs = [0, 1, 2]
    cases = [
        (rasp.tokens + rasp.indices, [0, 2, 4]),
        (rasp.length - 1 - rasp.indices, [2, 1, 0]),
        (rasp.length - rasp.indices, [3, 2, 1]),
        (rasp.length * rasp.length, [9, 9, 9]),
        (rasp.indices / rasp.length, [0, 1 / 3, 2 / 3]),
    ]
    for sop, expected in cases:
        assert ev(sop, xs) == pytest.approx(expected)
    diff = rasp.length - rasp.indices
    assert isinstance(diff, rasp.SequenceMap)
    assert diff.fst is rasp.length and diff.snd is rasp.indices
    a = rasp.ConstantSOp([True, True, False, False])
    b = rasp.ConstantSOp([True, False, True, False])
    assert ev(a & b, "abcd") == [True, False, False, False]
    assert ev(a | b, "abcd") == [True, True, True, False]
    sop_equality = rasp.tokens == rasp.indices  # == builds a Map, even with an SOp
    assert isinstance(sop_equality, rasp.Map)


# ----------------------------------------------------------------------------- names and labels


def test_default_names():
    sel = _sel(rasp.tokens, rasp.indices, C.EQ)
    examples = {
        "map": rasp.Map(lambda x: x, rasp.tokens),
        "sequence_map": rasp.SequenceMap(lambda x, y: x, rasp.tokens, rasp.indices),
        "linear_sequence_map": rasp.LinearSequenceMap(rasp.tokens, rasp.tokens, 1, 2),
        "full": rasp.Full(1),
        "constant_sop": rasp.ConstantSOp([1]),
        "aggregate": rasp.Aggregate(sel, rasp.tokens),
        "selector_width": rasp.SelectorWidth(sel),
        "select": sel,
        "selector_and": rasp.SelectorAnd(sel, sel),
        "selector_or": rasp.SelectorOr(sel, sel),
        "selector_not": rasp.SelectorNot(sel),
        "constant_selector": rasp.ConstantSelector([[True]]),
    }
    for name, expr in examples.items():
        assert expr.name == name
        assert expr.label == f"{name}_{expr.unique_id}"


def test_named_sets_the_name_and_labels_stay_unique():
    a = rasp.Map(lambda x: x, rasp.tokens).named("same")
    b = rasp.Map(lambda x: x, rasp.tokens).named("same")
    assert a.name == b.name == "same"
    assert a.label != b.label and a.label.startswith("same_")
    other = a.named("other")  # a copy, as in tracr: `a` keeps its name
    assert other is not a and (other.name, a.name) == ("other", "same")
    assert other.unique_id != a.unique_id and other.f is a.f and other.inner is a.inner
    assert a.unique_id == a.unique_id  # stable
    c = rasp.Full(0).annotated(name="n", note=3)
    assert c.name == "n" and c.annotations["note"] == 3


def test_annotations_are_read_only_and_reject_unknown_keys():
    sop = rasp.Map(lambda x: x, rasp.tokens)
    with pytest.raises(TypeError):
        sop.annotations["name"] = "x"  # type: ignore[index]
    with pytest.raises(KeyError):
        sop.annotations["nope"]


# ----------------------------------------------------------------------------- encodings


def test_encodings():
    sop = rasp.Map(lambda x: x, rasp.tokens)
    assert rasp.is_categorical(sop) and not rasp.is_numerical(sop)  # default
    assert rasp.get_encoding(sop) is rasp.Encoding.CATEGORICAL
    num = rasp.numerical(sop)  # a numerical copy; `sop` stays categorical
    assert num is not sop and rasp.is_numerical(num) and not rasp.is_categorical(num)
    assert rasp.is_categorical(sop)
    assert rasp.is_categorical(rasp.categorical(num)) and rasp.is_numerical(num)
    numerical_named = rasp.numerical(rasp.Full(1)).named("x")
    assert rasp.is_numerical(numerical_named)  # naming keeps other annotations


def test_selectors_have_no_encoding():
    sel = _sel(rasp.tokens, rasp.tokens, C.EQ)
    with pytest.raises(ProgramError, match="selector"):
        rasp.get_encoding(sel)
    with pytest.raises(ProgramError):
        rasp.is_numerical(sel)


# ----------------------------------------------------------------------------- immutability


@pytest.mark.parametrize(
    "expr, attr",
    [
        (rasp.Map(lambda x: x, rasp.tokens), "f"),
        (rasp.Map(lambda x: x, rasp.tokens), "inner"),
        (rasp.SequenceMap(lambda x, y: x, rasp.tokens, rasp.indices), "fst"),
        (rasp.LinearSequenceMap(rasp.tokens, rasp.tokens, 1, 1), "fst_fac"),
        (rasp.Full(1), "fill"),
        (rasp.Select(rasp.tokens, rasp.tokens, C.EQ), "predicate"),
        (rasp.Aggregate(rasp.Select(rasp.tokens, rasp.tokens, C.EQ), rasp.tokens), "default"),
        (rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, C.EQ)), "selector"),
        (rasp.tokens, "anything"),
    ],
)
def test_nodes_are_immutable(expr, attr):
    with pytest.raises(AttributeError, match="immutable"):
        setattr(expr, attr, None)


# ----------------------------------------------------------------------------- ill-formed programs


def test_ill_formed_programs_raise_program_errors_naming_the_operand():
    sel = rasp.Select(rasp.tokens, rasp.tokens, C.EQ).named("my_sel")
    sop = rasp.Map(lambda x: x, rasp.tokens).named("my_sop")
    cases = [
        (lambda: rasp.Map(lambda x: x, sel), "my_sel"),
        (lambda: rasp.SequenceMap(lambda x, y: x, sop, sel), "my_sel"),
        (lambda: rasp.LinearSequenceMap(sel, sop, 1, 1), "my_sel"),
        (lambda: rasp.Aggregate(sop, sop), "my_sop"),
        (lambda: rasp.Aggregate(sel, sel), "my_sel"),
        (lambda: rasp.SelectorWidth(sop), "my_sop"),
        (lambda: rasp.Select(sel, sop, C.EQ), "my_sel"),
        (lambda: rasp.SelectorAnd(sel, sop), "my_sop"),
        (lambda: rasp.SelectorOr(sop, sel), "my_sop"),
        (lambda: rasp.SelectorNot(sop), "my_sop"),
        (lambda: sel & sop, "my_sop"),
    ]
    for build, label in cases:
        with pytest.raises(ProgramError, match=label):
            build()
    with pytest.raises(ProgramError):
        rasp.Map(sop, rasp.tokens)  # a node is not a function
    with pytest.raises(ProgramError):
        rasp.Select(rasp.tokens, rasp.tokens, "==")
    with pytest.raises(ProgramError):
        rasp.evaluate("tokens", [1])
    assert issubclass(ProgramError, TracrIRError) and issubclass(ProgramError, TypeError)


def test_unknown_expression_kinds_are_refused_at_evaluation():
    class Mystery(rasp.SOp):
        @property
        def children(self):
            return []

    with pytest.raises(EvaluationError, match="not defined"):
        ev(Mystery(), "a")


# ----------------------------------------------------------------------------- evaluator mechanics


def test_deep_chain_of_sequence_maps_evaluates_without_recursion_error():
    sop = rasp.tokens
    for _ in range(2000):
        sop = rasp.SequenceMap(lambda x, y: x + y, sop, rasp.indices)
    assert ev(sop, [1, 2, 3]) == [1, 2 + 2000, 3 + 4000]
    assert len(rasp.walk(sop)) == 2002


def test_deep_chain_of_unsimplified_maps():
    sop = rasp.tokens
    for _ in range(3000):
        sop = rasp.Map(lambda x: x + 1, sop, simplify=False)
    assert ev(sop, [0]) == [3000]


def test_shared_subexpressions_are_evaluated_once():
    calls = []
    shared = rasp.Map(lambda x: calls.append(x) or x, rasp.tokens)
    copy = rasp.Map(lambda x: x, shared, simplify=False)
    top = rasp.SequenceMap(lambda x, y: x + y, shared, copy)
    assert ev(top, [1, 2]) == [2, 4]
    assert calls == [1, 2]


def test_walk_lists_operands_before_users_once_each():
    sel = rasp.Select(rasp.tokens, rasp.indices, C.EQ)
    agg = rasp.Aggregate(sel, rasp.tokens)
    order = rasp.walk(agg)
    # Positions by identity: `list.index` would use SOp.__eq__, which builds a (truthy) Map.
    pos = {id(node): i for i, node in enumerate(order)}
    assert order[-1] is agg and len(order) == 4
    assert pos[id(sel)] > pos[id(rasp.tokens)] and pos[id(sel)] > pos[id(rasp.indices)]
    assert rasp.indices in [rasp.tokens]  # the trap: `in` falls back to a truthy Map


def test_errors_raised_by_user_functions_propagate():
    bad = rasp.Map(lambda x: 1 / x, rasp.tokens)
    with pytest.raises(ZeroDivisionError):
        ev(bad, [0])


def test_fresh_labels_numbers_from_one_and_restores_the_counter():
    before = rasp.Map(lambda x: x, rasp.tokens).unique_id
    with rasp.fresh_labels():
        first = rasp.Map(lambda x: x + 1, rasp.tokens)
        second = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
        labels = [first.label, second.label]
    after = rasp.Map(lambda x: x, rasp.tokens).unique_id
    assert labels == ["map_1", "selector_width_2"]  # numbered when first read
    assert after == before + 1
