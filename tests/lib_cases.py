"""tracr's library programs with the vocabularies they are compiled for (shared by tests)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracr_ir import lib, rasp


@dataclass(frozen=True)
class LibCase:
    name: str
    make: Callable[[int], rasp.SOp]  # max_seq_len -> program
    vocab: frozenset
    sort_family: bool = False

    def inputs(self, max_seq_len: int, n: int, seed: int = 0) -> list[list[Any]]:
        """`n` random inputs, a third of them of full length, always including one."""
        rng = random.Random(seed)
        tokens = sorted(self.vocab, key=repr)
        out = []
        for i in range(n):
            length = max_seq_len if i % 3 == 0 else rng.randint(1, max_seq_len)
            out.append([rng.choice(tokens) for _ in range(length)])
        return out


LIB_CASES = [
    LibCase("make_length", lambda n: lib.make_length(), frozenset("abc")),
    LibCase("make_reverse", lambda n: lib.make_reverse(rasp.tokens), frozenset("abc")),
    LibCase("make_hist", lambda n: lib.make_hist(), frozenset("abc")),
    LibCase("make_sort_unique", lambda n: lib.make_sort_unique(rasp.tokens, rasp.tokens),
            frozenset({1, 2, 3, 4, 5}), sort_family=True),
    LibCase("make_sort", lambda n: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n,
                                                 min_key=1),
            frozenset({1, 2, 3, 4, 5}), sort_family=True),
    LibCase("make_sort_freq", lambda n: lib.make_sort_freq(n), frozenset({1, 2, 3}),
            sort_family=True),
    LibCase("make_frac_prevs", lambda n: lib.make_frac_prevs(rasp.tokens == "l"),
            frozenset("hel")),
    LibCase("make_pair_balance", lambda n: lib.make_pair_balance(rasp.tokens, "(", ")"),
            frozenset("()a")),
    LibCase("make_shuffle_dyck", lambda n: lib.make_shuffle_dyck(["()"]), frozenset("()a")),
    LibCase("make_shuffle_dyck2", lambda n: lib.make_shuffle_dyck2(), frozenset("(){}a")),
    LibCase("shift_by", lambda n: lib.shift_by(2, rasp.tokens), frozenset("abc")),
    LibCase("detect_pattern", lambda n: lib.detect_pattern(rasp.tokens, "abc"),
            frozenset("abc")),
    LibCase("make_count_less_freq", lambda n: lib.make_count_less_freq(2), frozenset("abc")),
    LibCase("make_count", lambda n: lib.make_count(rasp.tokens, "a"), frozenset("abc")),
    LibCase("make_nary_sequencemap",
            lambda n: lib.make_nary_sequencemap(lambda x, y, z: x + y - z, rasp.tokens,
                                                rasp.tokens, rasp.indices),
            frozenset({1, 2, 3})),
]

LIB_BY_NAME = {case.name: case for case in LIB_CASES}


def lengths(case: LibCase) -> list[int]:
    """The max_seq_len values each lib program is tested at (the sort family up to 16)."""
    return [5, 10, 16] if case.sort_family else [5, 10, 32]
