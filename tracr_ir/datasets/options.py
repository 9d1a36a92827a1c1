"""What a dataset holds (`DatasetOptions`), its errors, and each program's seed.

The options fix every row: the same options give the same rows on any engine with any number
of workers, because program `i` is drawn from `program_seed(seed, i)` alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tracr_ir.datasets.values import DatasetError, decode_value, encode_value
from tracr_ir.errors import TracrIRError
from tracr_ir.values import canonical_values

#: Bumped when the rows' columns or content change.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DatasetOptions:
    """The content of a dataset: `n` programs drawn from `seed`, in shards of `shard_size`.

    Programs are `tracr_ir.testing.strategies.random_program(rng, k, vocab, max_seq_len, ...)`
    with `k` drawn from `min_nodes..max_nodes`; each row has `n_examples` inputs (the first of
    length `max_seq_len`) with their outputs. `pipeline` replaces the default pass spec (it
    must end in the transformer dialect).
    """

    n: int
    seed: int = 0
    vocab: tuple[Any, ...] = (1, 2, 3)
    max_seq_len: int = 5
    min_nodes: int = 4
    max_nodes: int = 16
    n_examples: int = 4
    shard_size: int = 100
    numerical: bool = True
    composite_selectors: bool = True
    full: bool = True
    compiler_bos: str = "BOS"
    compiler_pad: str = "PAD"
    pipeline: str | None = None

    def __post_init__(self) -> None:
        for name in ("n", "seed", "max_seq_len", "min_nodes", "max_nodes", "n_examples",
                     "shard_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise DatasetError(f"{name} must be an int, got {value!r}")
        _at_least("n", self.n, 0)
        _at_least("seed", self.seed, 0)
        _at_least("max_seq_len", self.max_seq_len, 1)
        _at_least("min_nodes", self.min_nodes, 1)
        _at_least("n_examples", self.n_examples, 0)
        _at_least("shard_size", self.shard_size, 1)
        if self.max_nodes < self.min_nodes:
            raise DatasetError(f"max_nodes ({self.max_nodes}) is below min_nodes "
                               f"({self.min_nodes})")
        if isinstance(self.vocab, (str, bytes)) or not isinstance(self.vocab, Iterable):
            raise DatasetError(f"vocab must be a collection of tokens, got {self.vocab!r}")
        try:
            vocab = canonical_values(self.vocab, where="vocab")
        except (TracrIRError, TypeError) as e:
            raise DatasetError(f"bad vocab: {e}") from None
        if not vocab or None in vocab:
            raise DatasetError(f"vocab must hold at least one token and no None, got "
                               f"{list(self.vocab)!r}")
        object.__setattr__(self, "vocab", tuple(vocab))  # canonical: sorted, no duplicates

    @property
    def n_shards(self) -> int:
        return -(-self.n // self.shard_size)

    def shard_range(self, shard: int) -> range:
        """The program indices of shard number `shard`."""
        start = shard * self.shard_size
        return range(start, min(start + self.shard_size, self.n))

    def to_json(self) -> dict[str, Any]:
        """The options as JSON data (the vocab as its tokens' JSON encodings)."""
        data = dataclasses.asdict(self)
        data["vocab"] = [encode_value(v) for v in self.vocab]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatasetOptions:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise DatasetError(f"unknown dataset options {unknown}")
        return cls(**{**data, "vocab": tuple(decode_value(v) for v in data["vocab"])})


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise DatasetError(f"{name} must be at least {low}, got {value}")


def program_seed(seed: int, index: int) -> int:
    """The seed of program `index` of a dataset drawn with `seed` (63 bits of a SHA-256), so
    that neither the engine nor the order in which workers take programs changes a row."""
    digest = hashlib.sha256(f"tracr-ir-dataset:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
