"""The random decisions behind drawn programs, and the functions they draw.

- `Chooser`: the source of every decision, either hypothesis draws (`DrawChooser`, so
  hypothesis can shrink a program) or a seeded `random.Random` (`RandomChooser`).
- `RandomFunctions`: Map / SequenceMap functions and Select predicates. Each is deterministic
  and total on the values it is drawn for (a lookup table with a fallback, arithmetic mod k,
  or a comparison with a constant), gives at most `MAX_VALUES` hashable values, and carries
  its text in `__doc__` (what `tracr_ir.testing.strategies.describe` prints).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from tracr_ir import rasp
from tracr_ir.values import value_key

MAX_VALUES = 30
"""The largest value set a drawn s-op may have."""

INT_OUTS = (0, 1, 2, 3, 4, 5)
STR_OUTS = ("a", "b", "c", "d", "e")
BOOL_OUTS = (False, True)
TUPLE_OUTS = ((0, "a"), (1, "b"), (0, "b"), (2, "a"))


def value_key(value: Any) -> tuple:
    """A total, process-independent order on values (sets of strings iterate randomly)."""
    return (type(value).__name__, repr(value))


def sorted_values(values: Iterable[Any]) -> list[Any]:
    """`values` in the order of `value_key`."""
    return sorted(values, key=value_key)


def is_number(value: Any) -> bool:
    return type(value) in (int, float, bool)


def is_int(value: Any) -> bool:
    return type(value) in (int, bool)


def orderable(keys: Collection[Any], queries: Collection[Any]) -> bool:
    """Whether every key compares with every query by <, <=, > and >=."""
    try:
        for k in keys:
            for q in queries:
                k < q, k <= q, k > q, k >= q  # noqa: B018
    except TypeError:
        return False
    return True


def described(f: Callable, text: str) -> Callable:
    """`f`, with `text` (what it computes) as its `__doc__`."""
    f.__doc__ = text
    return f


### Choices.


class Chooser:
    """The source of every random decision: hypothesis draws or a `random.Random`."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.integer(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        # Shrinks (towards 0) to False: the simpler program leaves the option out.
        return self.integer(0, 99) >= 100 - percent

    def rng(self) -> random.Random:
        """A generator for bulk content (table entries), seeded by one decision."""
        return random.Random(self.integer(0, 2**20))


class DrawChooser(Chooser):
    def __init__(self, draw: Callable) -> None:
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi))


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)


### Functions.


class RandomFunctions:
    """Functions and predicates drawn with a `Chooser`: the kind by one decision, the content
    (table entries, constants) from a generator seeded by another."""

    def __init__(self, chooser: Chooser) -> None:
        self.ch = chooser

    def outputs(self, r: random.Random, numeric: bool) -> list[Any]:
        """A few output values of one kind: ints and bools, or (`not numeric`) also strings
        or tuples."""
        pools = [INT_OUTS, BOOL_OUTS] if numeric else [INT_OUTS, STR_OUTS, BOOL_OUTS,
                                                        TUPLE_OUTS]
        pool = r.choice(pools)
        return r.sample(pool, r.randint(1, min(4, len(pool))))

    def table(self, keys: Iterable[Any], outs: Sequence[Any], r: random.Random) -> dict:
        """A lookup table from `keys` to outputs drawn from `outs`."""
        return {k: r.choice(outs) for k in sorted_values(keys)}

    def unary(self, values: frozenset, numeric_out: bool = False,
              binary: bool = False) -> tuple[Callable, frozenset, bool]:
        """A function on `values`: (f, its image, whether the image is exactly 0/1 ints)."""
        r = self.ch.rng()
        family = self.ch.choice(("table", "compare", "mod", "round", "identity"))
        vals = sorted_values(values)
        f = None
        if family == "compare" and vals:
            c = r.choice(vals)
            op = r.choice(("==", "<", ">=") if orderable(vals, [c]) else ("==", "!="))
            f = {"==": lambda x, c=c: x == c, "!=": lambda x, c=c: x != c,
                 "<": lambda x, c=c: x < c, ">=": lambda x, c=c: x >= c}[op]
            f = described(f, f"x {op} {c!r}")
        elif family == "mod" and not binary and all(is_int(v) for v in vals):
            a, b, k = r.randint(1, 3), r.randint(0, 3), r.randint(2, 5)
            f = described(lambda x, a=a, b=b, k=k: (a * x + b) % k, f"({a}x + {b}) mod {k}")
        elif family == "round" and not binary and all(is_number(v) for v in vals):
            m, k = r.randint(1, 4), r.randint(2, 5)
            f = described(lambda x, m=m, k=k: int(x * m) % k, f"int(x * {m}) mod {k}")
        elif family == "identity" and not binary and (not numeric_out or all(
                is_number(v) for v in vals)):
            f = described(lambda x: x, "x")
        if f is not None:
            image = self.image(f, [(v,) for v in vals])
            if image is not None and (not numeric_out or all(is_number(v) for v in image)):
                return f, image, family == "compare"
        outs = [0, 1] if binary else self.outputs(r, numeric_out)
        table = self.table(vals, outs, r)
        default = outs[0]
        f = described(lambda x, t=table, d=default: t.get(x, d), f"table {table}")
        return f, frozenset(table.values()) or frozenset([default]), binary

    def binary_fn(self, values: frozenset) -> tuple[Callable, frozenset, bool]:
        """A function on `values` whose image is ints/bools 0 and 1 only."""
        return self.unary(values, numeric_out=True, binary=True)

    def pairwise(self, fst: frozenset, snd: frozenset) -> tuple[Callable, frozenset]:
        """A function on the pairs of `fst` x `snd`: (f, its image)."""
        r = self.ch.rng()
        family = self.ch.choice(("table", "arith", "pair", "compare", "first"))
        a, b = sorted_values(fst), sorted_values(snd)
        pairs = [(x, y) for x in a for y in b]
        f = None
        if family == "arith" and all(is_int(v) for v in a + b):
            k = r.randint(2, 6)
            if r.random() < 0.5:
                f = described(lambda x, y, k=k: (x + y) % k, f"(x + y) mod {k}")
            else:
                f = described(lambda x, y, k=k: (x * y) % k, f"(x * y) mod {k}")
        elif family == "pair":
            f = described(lambda x, y: (x, y), "(x, y)")
        elif family == "compare":
            if orderable(a, b) and r.random() < 0.5:
                f = described(lambda x, y: x < y, "x < y")
            else:
                f = described(lambda x, y: x == y, "x == y")
        elif family == "first":
            f = described(lambda x, y: x, "x")
        if f is not None:
            image = self.image(f, pairs)
            if image is not None:
                return f, image
        outs = self.outputs(r, numeric=False)
        table = self.table(pairs, outs, r)
        f = described(lambda x, y, t=table, d=outs[0]: t.get((x, y), d), f"table {table}")
        return f, frozenset(table.values()) or frozenset([outs[0]])

    @staticmethod
    def image(f: Callable, args: Iterable[tuple]) -> frozenset | None:
        """The values of `f` on `args`, or None if it raises or gives above `MAX_VALUES`."""
        try:
            image = frozenset(f(*a) for a in args)
        except Exception:  # noqa: BLE001 - any failure means "use a table instead"
            return None
        return image if len(image) <= MAX_VALUES else None

    def predicate(self, keys: frozenset, queries: frozenset) -> Any:
        """A Select predicate on `keys` x `queries`: a `Comparison` (ordering ones only on
        values Python can order) or, 30% of the time, a described lambda."""
        comparisons = [c for c in rasp.Comparison
                       if c in (rasp.Comparison.EQ, rasp.Comparison.NEQ, rasp.Comparison.TRUE,
                                rasp.Comparison.FALSE) or orderable(keys, queries)]
        if not self.ch.chance(30):
            return self.ch.choice(comparisons)
        r = self.ch.rng()
        family = self.ch.choice(("subset", "shift", "equal"))
        pairs = [(k, q) for k in sorted_values(keys) for q in sorted_values(queries)]
        if family == "shift" and all(is_int(v) for v in keys | queries):
            c = r.randint(-2, 2)
            return described(lambda k, q, c=c: q == k + c, f"q == k + {c}")
        if family == "equal":
            return described(lambda k, q: k == q, "k == q")
        chosen = frozenset(p for p in pairs if r.random() < 0.5)
        shown = ("{" + ", ".join(repr(p) for p in sorted(chosen, key=value_key)) + "}"
                 if chosen else "set()")  # in value order: the same text in every process
        return described(lambda k, q, s=chosen: (k, q) in s, f"(k, q) in {shown}")
