"""The library programs on concrete inputs, with outputs checked by hand (many are the
examples of tracr's docstrings and test cases), plus brute-force Python references."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from tracr_ir import lib, rasp
from tracr_ir.errors import ProgramError

approx = pytest.approx


def ev(program, xs):
    return rasp.evaluate(program, list(xs))


# ----------------------------------------------------------------------------- length, reverse


@pytest.mark.parametrize("xs, n", [("abcdefg", 7), ("a", 1), ([1, 2], 2), ([], 0)])
def test_length(xs, n):
    assert ev(lib.make_length(), xs) == [n] * len(xs)
    assert ev(lib.length, xs) == [n] * len(xs)


def test_length_structure_and_shared_module_node():
    prog = lib.make_length()
    assert isinstance(prog, rasp.SelectorWidth) and prog.name == "length"
    sel = prog.selector
    assert isinstance(sel, rasp.Select) and sel.name == "all_true_selector"
    assert sel.predicate is rasp.Comparison.TRUE and sel.keys is rasp.tokens
    assert rasp.is_categorical(prog)
    # make_reverse and make_shuffle_dyck use the one module-level `length` node, as tracr does.
    reverse_nodes = rasp.walk(lib.make_reverse(rasp.tokens))
    assert any(node is lib.length for node in reverse_nodes)


@pytest.mark.parametrize(
    "xs, expected",
    [("abcd", "dcba"), ("abc", "cba"), ("ad", "da"), ("c", "c"), ("Hello", "olleH")],
)
def test_reverse(xs, expected):
    assert ev(lib.make_reverse(rasp.tokens), xs) == list(expected)


def test_reverse_of_an_ints_sop_gives_ints():
    # An Aggregate returns the one selected value as it is (tracr-pypi 1.0.0's mean).
    out = ev(lib.make_reverse(rasp.indices), "abc")
    assert out == [2, 1, 0] and all(type(v) is int for v in out)


# ----------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    "xs, expected", [("abac", [2, 1, 2, 1]), ("aaaa", [4] * 4), ("abc", [1, 1, 1])]
)
def test_hist(xs, expected):
    assert ev(lib.make_hist(), xs) == expected


@pytest.mark.parametrize(
    "n, xs, expected",
    [
        (2, "aaabbc", [3] * 6),  # b, b, c occur at most twice
        (2, "aacbbc", [6] * 6),
        (1, "aaabbc", [1] * 6),  # only c occurs once
        (0, "abc", [0] * 3),
        (3, "aaab", [4] * 4),  # "fewer than n" is really "at most n"
    ],
)
def test_count_less_freq(n, xs, expected):
    assert ev(lib.make_count_less_freq(n), xs) == expected


def test_count_less_freq_numerical_encoding_evaluates_the_same():
    prog = rasp.numerical(lib.make_count_less_freq(n=2))
    assert ev(prog, "aaabbc") == [3] * 6


@pytest.mark.parametrize(
    "xs, expected",
    [("aaabbc", [3] * 6), ("cabc", [1] * 4), ("bbc", [0] * 3)],
)
def test_count(xs, expected):
    prog = lib.make_count(rasp.tokens, "a")
    assert prog.name == "count_a"
    assert ev(prog, xs) == expected


# ----------------------------------------------------------------------------- sorting


@pytest.mark.parametrize(
    "xs, expected", [([2, 4, 3, 1], [1, 2, 3, 4]), ([3], [3]), ([5, 1], [1, 5])]
)
def test_sort_unique(xs, expected):
    assert ev(lib.make_sort_unique(rasp.tokens, rasp.tokens), xs) == expected


def test_sort_unique_by_other_keys():
    prog = lib.make_sort_unique(vals=rasp.tokens, keys=1 - rasp.indices)
    assert ev(prog, "abcd") == list("dcba")


def test_sort_unique_with_duplicate_keys_averages_them_and_leaves_a_gap():
    # Both 2s have one smaller key: position 1 gets their mean, position 2 gets nothing.
    assert ev(lib.make_sort_unique(rasp.tokens, rasp.tokens), [2, 1, 2]) == [1, 2, None]


@pytest.mark.parametrize(
    "xs, expected",
    [([2, 4, 3, 1], [1, 2, 3, 4]), ([2, 4, 1, 2], [1, 2, 2, 4]), ([3, 3, 3], [3, 3, 3])],
)
def test_sort(xs, expected):
    prog = lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)
    assert ev(prog, xs) == expected


def test_sort_keeps_input_order_for_ties():
    prog = lib.make_sort(rasp.tokens, rasp.indices * 0, max_seq_len=5, min_key=1)
    assert ev(prog, "bca") == list("bca")
    prog = lib.make_sort(vals=rasp.tokens, keys=1 - rasp.indices, max_seq_len=5, min_key=1)
    assert ev(prog, "abcd") == list("dcba")


def test_sort_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        lib.make_sort(rasp.tokens, rasp.tokens, 5, 1)  # type: ignore[misc]


@pytest.mark.parametrize(
    "xs, expected",
    [
        ([2, 4, 2, 1], [2, 2, 4, 1]),
        ([1, 2, 3], [1, 2, 3]),
        ([3, 1, 1, 3, 1], [1, 1, 1, 3, 3]),
    ],
)
def test_sort_freq(xs, expected):
    prog = lib.make_sort_freq(max_seq_len=5)
    assert prog.name == "sort_freq"
    assert ev(prog, xs) == expected


def test_sorts_match_python_sorted():
    rng = random.Random(0)
    sort = lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=8, min_key=1)
    freq = lib.make_sort_freq(max_seq_len=8)
    for _ in range(50):
        xs = [rng.randint(0, 4) for _ in range(rng.randint(1, 8))]
        assert ev(sort, xs) == sorted(xs)
        counts = Counter(xs)
        by_freq = [x for _, x in sorted(enumerate(xs), key=lambda p: (-counts[p[1]], p[0]))]
        assert ev(freq, xs) == by_freq


# ----------------------------------------------------------------------------- balances


def test_frac_prevs():
    bools = rasp.tokens == "l"
    prog = lib.make_frac_prevs(bools)
    # It averages a numerical copy of its input and leaves the input as it was (as tracr).
    assert rasp.is_numerical(prog) and rasp.is_numerical(prog.sop) and rasp.is_categorical(bools)
    assert isinstance(prog, rasp.Aggregate) and prog.default == 0
    assert ev(prog, "hello") == approx([0, 0, 1 / 3, 1 / 2, 2 / 5])
    assert ev(lib.make_frac_prevs(rasp.tokens == ")"), "a()b(c))") == approx(
        [0, 0, 1 / 3, 1 / 4, 1 / 5, 1 / 6, 2 / 7, 3 / 8]
    )


def test_pair_balance():
    prog = lib.make_pair_balance(rasp.tokens, "(", ")")
    assert isinstance(prog, rasp.LinearSequenceMap) and rasp.is_numerical(prog)
    assert (prog.fst_fac, prog.snd_fac) == (1, -1)
    assert [prog.fst.name, prog.snd.name] == ["opens", "closes"]
    expected = [0, 1 / 2, 0, 0, 1 / 5, 1 / 6, 0, -1 / 8]
    assert ev(prog, "a()b(c))") == approx(expected)


@pytest.mark.parametrize(
    "xs, balanced",
    [("({)}", True), ("(){)}", False), ("{}(", False), ("", None), ("()", True), (")(", False)],
)
def test_shuffle_dyck2(xs, balanced):
    prog = lib.make_shuffle_dyck2()
    assert prog.name == "shuffle_dyck2"
    out = ev(prog, xs)
    if balanced is not None:
        assert out == [int(balanced)] * len(xs)
        # The evaluator returns True on success but 0.0 or False on failure (see the report).
        assert all(bool(v) is balanced for v in out)


@pytest.mark.parametrize(
    "xs, balanced",
    [("({)[}]", True), ("(){)}", False), ("{}[(]", False), ("([{}])", True)],
)
def test_shuffle_dyck3(xs, balanced):
    out = ev(lib.make_shuffle_dyck(pairs=["()", "{}", "[]"]), xs)
    assert out == [int(balanced)] * len(xs)


def test_shuffle_dyck_matches_a_counter_reference():
    prog = lib.make_shuffle_dyck(["()", "{}"])
    for n in range(1, 6):
        for xs in itertools.product("(){}", repeat=n):
            ok = True
            for opener, closer in ("()", "{}"):
                depth = 0
                for tok in xs:
                    depth += (tok == opener) - (tok == closer)
                    ok &= depth >= 0
                ok &= depth == 0
            assert ev(prog, xs) == [int(ok)] * n, xs


def test_shuffle_dyck_rejects_bad_pairs():
    with pytest.raises(ProgramError):
        lib.make_shuffle_dyck([])
    with pytest.raises(ProgramError):
        lib.make_shuffle_dyck(["("])


# ----------------------------------------------------------------------------- shifting, patterns


@pytest.mark.parametrize(
    "offset, expected",
    [(1, [None, "a", "b", "c"]), (2, [None, None, "a", "b"]), (0, list("abcd")), (4, [None] * 4)],
)
def test_shift_by(offset, expected):
    prog = lib.shift_by(offset, rasp.tokens)
    assert prog.name == f"shift_by({offset})"
    assert isinstance(prog, rasp.Aggregate) and prog.default is None
    assert ev(prog, "abcd") == expected


@pytest.mark.parametrize(
    "pattern, xs, expected",
    [
        ("a", "bacd", [False, True, False, False]),
        ("ab", "aaba", [None, False, True, False]),
        ("ab", "abaa", [None, True, False, False]),
        ("ab", "aaaa", [None, False, False, False]),
        ("abc", "abcabc", [None, None, True, False, False, True]),
        ("abc", "ab", [None, None]),
    ],
)
def test_detect_pattern(pattern, xs, expected):
    prog = lib.detect_pattern(rasp.tokens, pattern)
    assert prog.name == f"detect_pattern({pattern})"
    out = ev(prog, xs)
    assert out == expected
    assert [v is None for v in out] == [v is None for v in expected]


def test_detect_pattern_on_numbers():
    prog = lib.detect_pattern(rasp.tokens, [1, 2])
    assert ev(prog, [2, 1, 2, 2, 1, 2]) == [None, False, True, False, False, True]


def test_detect_pattern_empty_raises_a_value_error():
    with pytest.raises(ProgramError):
        lib.detect_pattern(rasp.tokens, "")
    with pytest.raises(ValueError):
        lib.detect_pattern(rasp.tokens, [])


# ----------------------------------------------------------------------------- n-ary maps


def test_nary_sequencemap():
    prog = lib.make_nary_sequencemap(
        lambda x, y, z: x + y - z, rasp.tokens, rasp.tokens, rasp.indices
    )
    assert ev(prog, [1, 2, 3]) == [2, 3, 4]
    prog = lib.make_nary_sequencemap(
        lambda x, y, z: x * y / z, rasp.indices, rasp.indices, rasp.tokens
    )
    assert ev(prog, [1, 2, 3]) == approx([0, 1 / 2, 4 / 3])


def test_nary_sequencemap_structure_is_binary_sequencemaps_then_a_map():
    a, b, c, d = (rasp.Map(lambda x, k=k: x + k, rasp.tokens) for k in range(4))
    prog = lib.make_nary_sequencemap(lambda *xs: xs, a, b, c, d)
    assert isinstance(prog, rasp.Map)
    inner = prog.inner
    assert isinstance(inner, rasp.SequenceMap) and inner.snd is d
    assert inner.fst.snd is c and inner.fst.fst.fst is a and inner.fst.fst.snd is b
    assert ev(prog, [10]) == [(10, 11, 12, 13)]
    # The intermediate holds the tuples themselves.
    assert ev(inner.fst, [10]) == [(10, 11, 12)]


def test_nary_sequencemap_with_tuple_values_and_one_operand():
    pairs = rasp.SequenceMap(lambda x, y: (x, y), rasp.tokens, rasp.indices)
    prog = lib.make_nary_sequencemap(lambda p, i: (p, i), pairs, rasp.indices)
    assert ev(prog, ["a"]) == [(("a", 0), 0)]
    single = lib.make_nary_sequencemap(lambda x: x * 2, rasp.tokens)
    assert ev(single, [1, 2]) == [2, 4]
    with pytest.raises(ProgramError):
        lib.make_nary_sequencemap(lambda: 0)


def test_nary_sequencemap_propagates_none():
    shifted = lib.shift_by(1, rasp.tokens)
    prog = lib.make_nary_sequencemap(lambda x, y: x + y, rasp.tokens, shifted)
    assert ev(prog, "abc") == [None, "ba", "cb"]
