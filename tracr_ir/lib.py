"""tracr's library of RASP programs, with the same names, signatures and node structure.

Every function builds the same graph of Map / SequenceMap / Select / Aggregate nodes (with the
same encodings, defaults and names) as its tracr namesake, so that compiled sizes can be compared
one for one. Evaluate them with `rasp.evaluate(program, xs)` or `program(xs)`.

Programs in the first group need the whole input (non-causal); `make_frac_prevs`, `shift_by`,
`detect_pattern`, `make_count_less_freq`, `make_count` and `make_nary_sequencemap` also make sense
under causal evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracr_ir import rasp
from tracr_ir.errors import ProgramError


class PatternError(ProgramError, ValueError):
    """`detect_pattern` was given an empty pattern (a ValueError, as in tracr)."""


### Programs that need the whole input.


def make_length() -> rasp.SOp:
    """The input length at every position, counted by a selector that selects everything.

    `make_length()("abcd") == [4, 4, 4, 4]` (ints: a SelectorWidth counts).
    """
    select_all = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    return rasp.SelectorWidth(select_all.named("all_true_selector")).named("length")


# One shared node, as in tracr: programs below that need the length all use this one.
length = make_length()


def make_reverse(sop: rasp.SOp) -> rasp.SOp:
    """`sop` read back to front: `make_reverse(rasp.tokens)("abc") == ["c", "b", "a"]`."""
    opp_idx = (length - rasp.indices).named("opp_idx")
    opp_idx = (opp_idx - 1).named("opp_idx-1")
    flip = rasp.Select(rasp.indices, opp_idx, rasp.Comparison.EQ).named("reverse_selector")
    return rasp.Aggregate(flip, sop).named("reverse")


def make_pair_balance(sop: rasp.SOp, open_token: str, close_token: str) -> rasp.SOp:
    """Share of `open_token` minus share of `close_token` among the positions so far.

    Balanced parentheses give a result that never goes negative and ends at 0:
    `make_pair_balance(rasp.tokens, "(", ")")("a()b(c))")`
    is `[0, 1/2, 0, 0, 1/5, 1/6, 0, -1/8]`.
    """
    bools_open = rasp.numerical(sop == open_token).named("bools_open")
    opens = rasp.numerical(make_frac_prevs(bools_open)).named("opens")
    bools_close = rasp.numerical(sop == close_token).named("bools_close")
    closes = rasp.numerical(make_frac_prevs(bools_close)).named("closes")
    balance = rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1))
    return balance.named("pair_balance")


def make_shuffle_dyck(pairs: list[str]) -> rasp.SOp:
    """Whether the input is balanced for every bracket pair in `pairs` ("()", "{}", ...),
    each pair on its own (a shuffle of Dyck languages); the same answer at every position.

    `make_shuffle_dyck(["()", "{}"])("({)}")` is truthy everywhere (`[True] * 4`);
    on `"(){)}"` it is falsy everywhere (`[0.0] * 5`).
    """
    if len(pairs) < 1:
        raise ProgramError("make_shuffle_dyck: needs at least one pair of brackets")
    balances = []
    for pair in pairs:
        if len(pair) != 2:
            raise ProgramError(f"make_shuffle_dyck: {pair!r} is not an open/close pair")
        opener, closer = pair
        bal = make_pair_balance(rasp.tokens, open_token=opener, close_token=closer)
        balances.append(bal.named(f"balance_{pair}"))

    # Negative somewhere (for any pair): closed more than opened.
    any_negative = balances[0] < 0
    for bal in balances[1:]:
        any_negative = any_negative | (bal < 0)
    any_negative = rasp.numerical(rasp.Map(lambda x: x, any_negative)).named("any_negative")
    select_all = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    has_neg = rasp.Aggregate(select_all.named("select_all"), any_negative, default=0)
    has_neg = rasp.numerical(has_neg).named("has_neg")

    # Zero at the last position (for every pair): everything opened was closed.
    all_zero = balances[0] == 0
    for bal in balances[1:]:
        all_zero = all_zero & (bal == 0)
    select_last = rasp.Select(rasp.indices, length - 1, rasp.Comparison.EQ).named("select_last")
    last_zero = rasp.Aggregate(select_last, all_zero).named("last_zero")

    not_has_neg = (~has_neg).named("not_has_neg")
    return (last_zero & not_has_neg).named("shuffle_dyck")


def make_shuffle_dyck2() -> rasp.SOp:
    """`make_shuffle_dyck(["()", "{}"])`, named "shuffle_dyck2"."""
    return make_shuffle_dyck(pairs=["()", "{}"]).named("shuffle_dyck2")


def make_hist() -> rasp.SOp:
    """How often each position's token occurs in the input.

    `make_hist()("abac") == [2, 1, 2, 1]`.
    """
    same_tok = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same_tok")
    return rasp.SelectorWidth(same_tok).named("hist")


def make_sort_unique(vals: rasp.SOp, keys: rasp.SOp) -> rasp.SOp:
    """`vals` ordered by ascending `keys`, which must all differ.

    The value with `i` smaller keys goes to position `i`:
    `make_sort_unique(rasp.tokens, rasp.tokens)([2, 4, 3, 1]) == [1, 2, 3, 4]`.
    """
    smaller = rasp.Select(keys, keys, rasp.Comparison.LT).named("smaller")
    target_pos = rasp.SelectorWidth(smaller).named("target_pos")
    sel_new = rasp.Select(target_pos, rasp.indices, rasp.Comparison.EQ)
    return rasp.Aggregate(sel_new, vals).named("sort")


def make_sort(vals: rasp.SOp, keys: rasp.SOp, *, max_seq_len: int, min_key: float) -> rasp.SOp:
    """`vals` ordered by ascending numeric `keys`, ties kept in input order.

    Ties are broken by adding `min_key * index / max_seq_len` to each key, which keeps the
    order of distinct keys only if they differ by at least `min_key` (despite its name, the
    smallest gap between keys, e.g. 1 for integers):
    `make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)([2, 4, 1, 2]) == [1, 2, 2, 4]`.
    """
    keys = rasp.SequenceMap(lambda key, i: key + min_key * i / max_seq_len, keys, rasp.indices)
    return make_sort_unique(vals, keys)


def make_sort_freq(max_seq_len: int) -> rasp.SOp:
    """The tokens, most frequent first; equally frequent tokens keep their input order.

    `make_sort_freq(max_seq_len=5)([2, 4, 2, 1]) == [2, 2, 4, 1]`.
    """
    hist = -1 * make_hist().named("hist")
    return make_sort(rasp.tokens, hist, max_seq_len=max_seq_len, min_key=1).named("sort_freq")


### Programs that also make sense under causal evaluation.


def make_frac_prevs(bools: rasp.SOp) -> rasp.SOp:
    """The share of positions up to and including this one where `bools` is true.

    `make_frac_prevs(rasp.tokens == "l")("hello") == [0, 0, 1/3, 1/2, 2/5]`.
    The Aggregate reads a numerical copy of `bools`; `bools` itself keeps its encoding.
    """
    bools = rasp.numerical(bools)
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, bools, default=0)).named("frac_prevs")


def shift_by(offset: int, /, sop: rasp.SOp) -> rasp.SOp:
    """`sop` moved `offset` positions to the right, None where nothing moves in.

    `shift_by(1, rasp.tokens)("abcd") == [None, "a", "b", "c"]`.
    """
    select_off_by_offset = rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + offset)
    shifted = rasp.Aggregate(select_off_by_offset, sop, default=None)
    return shifted.named(f"shift_by({offset})")


def detect_pattern(sop: rasp.SOp, pattern: Sequence[rasp.Value]) -> rasp.SOp:
    """True where `pattern` ends at this position of `sop`; the first `len(pattern) - 1`
    positions are None (there is nothing to look back on).

    `detect_pattern(rasp.tokens, "abc")("abcabc") == [None, None, True, False, False, True]`.
    """
    if len(pattern) < 1:
        raise PatternError(f"detect_pattern: the pattern must not be empty, got {pattern!r}")
    # detectors[j]: the pattern's j-th element from the end was seen j positions back.
    detectors = []
    for back, element in enumerate(reversed(pattern)):
        detector = sop == element
        if back:
            detector = shift_by(back, detector)
        detectors.append(detector)
    found = detectors.pop()
    while detectors:
        found = found & detectors.pop()
    return found.named(f"detect_pattern({pattern})")


def make_count_less_freq(n: int) -> rasp.SOp:
    """How many positions hold a token occurring at most `n` times (tracr's "fewer than n"
    is implemented as `<= n`); the same count at every position.

    `make_count_less_freq(2)("aaabbc") == [3] * 6` (the two b's and the c).
    """
    hist = make_hist().named("hist")
    select_less = rasp.Select(hist, hist, lambda x, y: x <= n).named("select_less")
    return rasp.SelectorWidth(select_less).named("count_less_freq")


def make_count(sop: rasp.SOp, token: rasp.Value) -> rasp.SOp:
    """How many positions of `sop` equal `token`, at every position.

    `make_count(rasp.tokens, "a")("abca") == [2, 2, 2, 2]`.
    """
    return rasp.SelectorWidth(rasp.Select(sop, sop, lambda k, q: k == token)).named(
        f"count_{token}"
    )


def make_nary_sequencemap(f: Callable[..., Any], *sops: rasp.SOp) -> rasp.SOp:
    """`f` applied position-wise to several s-ops: `f(a[i], b[i], c[i], ...)`.

    Binary SequenceMaps gather the operands into tuples, then one Map applies `f`, so the
    tuple-valued intermediates can be large categorical spaces:
    `make_nary_sequencemap(lambda x, y, z: x + y - z, rasp.tokens, rasp.tokens, rasp.indices)`
    gives `[2, 3, 4]` on `[1, 2, 3]`.

    Unlike tracr, the first operand may itself hold tuples, and a single operand works
    (`f` gets its value); the node structure is tracr's.
    """
    if not sops:
        raise ProgramError("make_nary_sequencemap: needs at least one SOp")
    values, *rest = sops
    if not rest:
        return rasp.Map(lambda x: f(x), values)
    for position, sop in enumerate(rest):
        if position == 0:
            gather = lambda x, y: (x, y)  # noqa: E731
        else:
            gather = lambda xs, y: (*xs, y)  # noqa: E731
        values = rasp.SequenceMap(gather, values, sop)
    return rasp.Map(lambda args: f(*args), values)
