"""Named bases of the residual stream.

A `Direction` is one basis vector of the residual stream, named `(name, value)`: a categorical
s-op `x` with values {1, 2} owns the directions `x:1` and `x:2` (one-hot, the zero vector is
None); a numerical s-op owns the single direction `x` (value None) and holds its value there.
A `Space` is an ordered tuple of distinct directions. Blocks read and write spaces; a residual
stream is itself a space, and an array `[..., seq, len(space)]` holds its contents.

Two directions are special and written only by the embedding:
- `ONE` is 1 at every position, the BOS position included (constants enter MLPs through it);
- `BOS` is 1 at position 0 only. The position 0 holds `ONE + BOS` and nothing else in any
  direction a block reads (the embedding must not put `tokens` or `indices` there). MLPs gate
  their constants with `ONE - BOS` and so write exactly zero at the BOS position.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from tracr_ir.values import canonical_values


@dataclass(frozen=True)
class Direction:
    """One basis direction: `name` (the s-op or hidden unit) and an optional `value`."""

    name: str
    value: Hashable = None

    def __repr__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value!r}"


ONE = Direction("one")
BOS = Direction("bos")


def sorted_values(values: Iterable[Any]) -> list[Any]:
    """`values` without duplicates (under `==`, as Python sets) in the canonical order of
    `tracr_ir.values` (the order of the IR's value sets)."""
    return list(canonical_values(values))


@dataclass(frozen=True)
class Space:
    """An ordered tuple of distinct directions."""

    directions: tuple[Direction, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "directions", tuple(self.directions))
        if len(set(self.directions)) != len(self.directions):
            dup = [d for d in self.directions if self.directions.count(d) > 1]
            raise ValueError(f"a space lists a direction twice: {dup[0]!r}")

    @classmethod
    def of(cls, *directions: Direction) -> Space:
        return cls(tuple(directions))

    @classmethod
    def categorical(cls, name: str, values: Iterable[Any]) -> Space:
        """The one-hot directions of a categorical s-op; None has no direction."""
        return cls(tuple(Direction(name, v) for v in sorted_values(values) if v is not None))

    @classmethod
    def numerical(cls, name: str) -> Space:
        return cls((Direction(name),))

    def __len__(self) -> int:
        return len(self.directions)

    def __iter__(self) -> Iterator[Direction]:
        return iter(self.directions)

    def __getitem__(self, i: int) -> Direction:
        return self.directions[i]

    def __contains__(self, d: object) -> bool:
        return d in self._index

    @cached_property
    def _index(self) -> dict[Direction, int]:
        return {d: i for i, d in enumerate(self.directions)}

    def index(self, d: Direction) -> int:
        try:
            return self._index[d]
        except KeyError:
            raise KeyError(f"{d!r} is not a direction of this space") from None

    def indices(self, other: Space | Iterable[Direction]) -> np.ndarray:
        """Positions in this space of the directions of `other` (all must be present)."""
        return np.array([self.index(d) for d in other], dtype=np.int64)

    @property
    def names(self) -> list[str]:
        """Distinct names, in order of first appearance."""
        return list(dict.fromkeys(d.name for d in self.directions))

    def values(self, name: str) -> list[Any]:
        return [d.value for d in self.directions if d.name == name]

    def restrict(self, name: str) -> Space:
        """The sub-space of the directions called `name`."""
        return Space(tuple(d for d in self.directions if d.name == name))

    def vector(self, coefficients: Mapping[Direction, float]) -> np.ndarray:
        out = np.zeros(len(self))
        for d, c in coefficients.items():
            out[self.index(d)] += c
        return out

    def one_hot(self, name: str, value: Any) -> np.ndarray:
        """The encoding of a categorical value; None is the zero vector."""
        out = np.zeros(len(self))
        if value is not None:
            out[self.index(Direction(name, value))] = 1.0
        return out

    def __repr__(self) -> str:
        return f"Space[{', '.join(map(repr, self.directions))}]"


def join(*spaces: Space | Iterable[Direction]) -> Space:
    """The ordered union of `spaces` (first occurrence wins)."""
    return Space(tuple(dict.fromkeys(d for s in spaces for d in s)))


def decode_categorical(space: Space, name: str, vectors: np.ndarray) -> list[Any]:
    """Decodes `[..., len(space)]` rows to the values of `name`: the direction with the largest
    coordinate if it exceeds 1/2, else None (the zero vector). Returns a nested list."""
    sub = space.restrict(name)
    vectors = np.asarray(vectors)
    coords = vectors[..., space.indices(sub)]
    if len(sub) == 0:
        return np.full(coords.shape[:-1], None, dtype=object).tolist()
    best = coords.argmax(axis=-1)
    hot = np.take_along_axis(coords, best[..., None], axis=-1)[..., 0] > 0.5
    values = np.empty(len(sub) + 1, dtype=object)
    values[:-1] = [d.value for d in sub]
    values[-1] = None
    return values[np.where(hot, best, len(sub))].tolist()


def decode_numerical(space: Space, name: str, vectors: np.ndarray) -> np.ndarray:
    """The coordinate of the numerical direction `name` in each row of `vectors`."""
    return np.asarray(vectors)[..., space.index(Direction(name))]


def encode(space: Space, columns: Mapping[str, Sequence[Any]], numerical: Iterable[str] = (),
           bos: bool = True) -> np.ndarray:
    """A residual `[seq, len(space)]` holding the given s-op columns (a test and embedding
    helper). With `bos`, position 0 is the BOS position (`ONE + BOS`) and the columns fill
    positions 1..n; `ONE` (if in `space`) is 1 everywhere."""
    numerical = set(numerical)
    lengths = {len(col) for col in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    offset = 1 if bos else 0
    x = np.zeros((n + offset, len(space)))
    if ONE in space:
        x[:, space.index(ONE)] = 1.0
    if bos:
        x[0, space.index(BOS)] = 1.0
    for name, col in columns.items():
        for i, v in enumerate(col):
            if name in numerical:
                x[i + offset, space.index(Direction(name))] = 0.0 if v is None else float(v)
            elif v is not None:
                x[i + offset, space.index(Direction(name, v))] = 1.0
    return x
