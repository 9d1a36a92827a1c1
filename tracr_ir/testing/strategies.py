"""Random well-formed RASP programs, for property tests and benchmarks.

- `programs(...)`: a hypothesis strategy drawing RASP programs over every construct.
- `inputs_for(program, vocab, max_seq_len)`: a strategy drawing input sequences for them.
- `program_cases(...)`: both at once, with the vocabulary and length drawn too.
- `random_program(rng, n_nodes, vocab, max_seq_len)`: a seeded plain-Python generator of a
  program of about `n_nodes` nodes (for compile-time benchmarks).
- `describe(program)`: the program as text, one node a line, with its functions.

Every drawn program evaluates without raising on every input over `vocab` of length 1 to
`max_seq_len`, and is meant to be compilable exactly:

- each Map / SequenceMap function is deterministic and total (a lookup table with a fallback,
  arithmetic mod k, or a comparison with a constant) and gives at most a few hashable values;
  every value set stays at most `MAX_VALUES` large;
- Select keys and queries are categorical s-ops that are never None, and the ordering
  comparisons (LT, LEQ, GT, GEQ) are only used on values that Python can order;
- a categorical Aggregate selects at most one position (`Select(indices, q, k == g(q))`,
  optionally and-ed with any selector) or averages equal ints/bools
  (`Select(x, x, EQ)` over a function of `x`); its default is None;
- a numerical Aggregate averages a numerical s-op holding ints/bools 0 and 1, default 0;
- non-linear SequenceMaps and selector operands are categorical, LinearSequenceMaps numerical,
  numerical s-ops are never None (as tracr's compiler requires).

The program's nodes are drawn one after another from a pool that starts with `tokens` and
`indices`; at the end, every node that nothing uses yet is folded into the output by a
balanced tree of categorical SequenceMaps, so every drawn node is part of the program
(`tracr_ir.testing.program_builder`; its functions and predicates come from
`tracr_ir.testing.random_functions`).
"""


from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Collection
from typing import Any

from hypothesis import strategies as st

from tracr_ir import rasp
from tracr_ir.testing.program_builder import ProgramBuilder
from tracr_ir.testing.random_functions import (MAX_VALUES, DrawChooser, RandomChooser,
                                               sorted_values)

__all__ = [
    "MAX_VALUES",
    "Case",
    "describe",
    "inputs_for",
    "program_cases",
    "programs",
    "random_program",
]


@st.composite
def programs(
    draw: Callable,
    max_depth: int = 4,
    vocab: Collection[Any] = frozenset({1, 2, 3}),
    max_seq_len: int = 5,
    numerical: bool = True,
    max_steps: int = 6,
    composite_selectors: bool = True,
    full: bool = True,
) -> rasp.SOp:
    """A random well-formed RASP program (an SOp) over `vocab` and inputs up to `max_seq_len`.

    Args:
      max_depth: how many s-ops may be stacked on each other before the final fold (a Map of
        a Map of tokens has depth 2; `tokens`, `indices` and `Full` have depth 0). The fold of
        unused nodes adds at most ceil(log2(k)) + 1 more levels of SequenceMaps.
      vocab: the token values (hashable; any mix of int, str, bool, float, tuple).
      max_seq_len: the longest input; sets the value sets of indices and counts.
      numerical: also draw numerical s-ops (numerical Maps and Fulls, numerical Aggregates,
        LinearSequenceMaps, numerical SelectorWidths). False gives categorical programs only.
      max_steps: draws between 1 and this many construct steps (each adds one s-op and the
        selectors and helper Maps it needs).
      composite_selectors: also draw SelectorAnd / SelectorOr / SelectorNot (and the `&`, `|`,
        `~` operators). tracr itself compiles none of them; False gives Selects only.
      full: also draw `Full` s-ops (tracr does not compile them either).
    """
    builder = ProgramBuilder(DrawChooser(draw), vocab, max_seq_len, max_depth=max_depth,
                       numerical=numerical, composite_selectors=composite_selectors, full=full)
    for _ in range(draw(st.integers(1, max_steps))):
        builder.step()
    return builder.finish()


def inputs_for(program: Any = None, vocab: Collection[Any] | None = None,
               max_seq_len: int | None = None, min_len: int = 1) -> st.SearchStrategy:
    """Input sequences (lists, without BOS) of length `min_len` to `max_seq_len` over `vocab`;
    about half of them have the full length `max_seq_len`.

    `program` is what the inputs are for: a module or its IR text at any stage, or a
    `CompiledModel` (vocab and max_seq_len default to its own), or a RASP program (give both).
    """
    if program is not None and (vocab is None or max_seq_len is None):
        if isinstance(program, rasp.RASPExpr):
            raise TypeError("inputs_for a RASP program needs its vocab and max_seq_len")
        from tracr_ir.testing.equivalence import input_spec

        own_vocab, own_length, _ = input_spec(program)
        vocab = own_vocab if vocab is None else vocab
        max_seq_len = own_length if max_seq_len is None else max_seq_len
    if vocab is None or max_seq_len is None:
        raise TypeError("inputs_for needs a module or model, or vocab and max_seq_len")
    tokens = st.sampled_from(sorted_values(vocab))
    return st.one_of(
        st.lists(tokens, min_size=max_seq_len, max_size=max_seq_len),
        st.lists(tokens, min_size=min_len, max_size=max_seq_len),
    )


_VOCABS = (
    frozenset({1, 2, 3}),
    frozenset({"a", "b", "c"}),
    frozenset({0, 1, 2, 3, 4}),
    frozenset({"a", "b", 1, 2}),
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A drawn program with the vocabulary, length bound and inputs it was drawn for."""

    program: rasp.SOp
    vocab: frozenset
    max_seq_len: int
    inputs: list[list[Any]]

    def __repr__(self) -> str:
        return (f"Case(vocab={set(self.vocab)!r}, max_seq_len={self.max_seq_len}, "
                f"inputs={self.inputs!r}, program=\n{describe(self.program)})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # What hypothesis prints for a falsifying example: the program as text.
        printer.text(repr(self))


@st.composite
def program_cases(
    draw: Callable,
    vocab: Collection[Any] | None = None,
    max_seq_len: int | None = None,
    n_inputs: int = 3,
    **program_options: Any,
) -> Case:
    """A `Case`: a program from `programs(**program_options)`, with `vocab` (drawn from a few
    int, str and mixed vocabularies if None), `max_seq_len` (drawn from 1..6 if None) and
    1 to `n_inputs` inputs from `inputs_for`."""
    vocab = frozenset(vocab) if vocab is not None else draw(st.sampled_from(_VOCABS))
    max_seq_len = max_seq_len if max_seq_len is not None else draw(st.integers(1, 6))
    program = draw(programs(vocab=vocab, max_seq_len=max_seq_len, **program_options))
    inputs = draw(st.lists(inputs_for(program, vocab, max_seq_len), min_size=1,
                           max_size=n_inputs))
    return Case(program, vocab, max_seq_len, inputs)


def random_program(
    rng: random.Random | int,
    n_nodes: int,
    vocab: Collection[Any] = frozenset({1, 2, 3}),
    max_seq_len: int = 5,
    *,
    max_depth: int = 8,
    numerical: bool = True,
    composite_selectors: bool = True,
    full: bool = True,
) -> rasp.SOp:
    """A random program of about `n_nodes` nodes (as counted by `len(rasp.walk(program))`,
    selectors, `tokens` and `indices` included), without hypothesis.

    `rng` is a `random.Random` or a seed; the same seed gives the same program. The other
    options are those of `programs`; `max_depth` bounds the drawn nodes (the final fold adds
    about log2 of the number of unused nodes).
    """
    if isinstance(rng, int):
        rng = random.Random(rng)
    builder = ProgramBuilder(RandomChooser(rng), vocab, max_seq_len, max_depth=max_depth,
                       numerical=numerical, composite_selectors=composite_selectors, full=full)
    while True:
        dangling = builder.dangling()
        extra = max(len(dangling) - 1, 0) + sum(builder.info[id(s)].numerical for s in dangling)
        if len(builder.seen) + extra >= n_nodes:
            break
        builder.step()
    return builder.finish()


def describe(program: rasp.RASPExpr) -> str:
    """The program as text: one node a line, operands first, with encodings and functions."""
    lines = []
    for node in rasp.walk(program):
        if isinstance(node, (rasp.TokensType, rasp.IndicesType, rasp.LengthType)):
            continue
        ops = ", ".join(c.label for c in node.children)
        extra = ""
        if isinstance(node, rasp.LinearSequenceMap):
            extra = f" {node.fst_fac}*x + {node.snd_fac}*y"
        elif isinstance(node, (rasp.Map, rasp.SequenceMap)):
            extra = f" f={node.f.__doc__ or getattr(node.f, '__name__', '?')}"
        elif isinstance(node, rasp.Select):
            p = node.predicate
            extra = f" {p.name}" if isinstance(p, rasp.Comparison) else f" {p.__doc__ or '?'}"
        elif isinstance(node, rasp.Full):
            extra = f" {node.fill!r}"
        elif isinstance(node, rasp.Aggregate):
            extra = f" default={node.default!r}"
        enc = ""
        if isinstance(node, rasp.SOp):
            enc = " numerical" if rasp.is_numerical(node) else " categorical"
        lines.append(f"{node.label} = {type(node).__name__}({ops}){enc}{extra}")
    return "\n".join(lines)
