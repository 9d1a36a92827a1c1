"""Deciding whether a selector can select nothing: for every length, position and token.

`EmptyRows.decide(selector)` answers "is there an input and a query position whose selector
row is empty?" on any input space, not only on the small ones `witness.Exhaustive` tries.

The s-ops the selector's Selects read as keys and queries are split in two kinds:
- *local* s-ops, whose value at position i of a length-n input is a function of the token
  at i alone (with i and n fixed): `tokens`, `indices`, s-ops of the positions only (`length`,
  `Map(lambda n: n - 1, length)`, ... run on the interpreter at each length), and Maps,
  SequenceMaps, LinearSequenceMaps and Fulls of local s-ops (through their tables);
- *free* s-ops (Aggregates, SelectorWidths of token selectors, ...), over-approximated by
  the values they can hold at length n: a SelectorWidth holds 0..n (1..n when its selector
  always selects), a Map of a free s-op the image of its input's values, anything else its
  value set.

A position's *state* is its token and one value of each free s-op. The row of query q is
empty iff q's state does not select itself and every other position k has a state that q's
query values do not select; the positions share nothing but the length, so for each length n
and query state this is decided position by position (grouping positions whose key values
are the same set). No candidate at any length is a proof that the selector always selects.
A candidate is an input (the tokens of the chosen states) that the rasp interpreter then
runs: a row that is empty there is a witness. A candidate that is not one (a free s-op's
values were over-approximated) costs 1/`MAX_CANDIDATES` of the budget and the search goes
on; without a witness in the end the selector is undecided, and the decision names the
over-approximated s-ops. The work (states and predicate evaluations) is bounded by a budget;
running out of it decides nothing, and the decision says so.

`EmptyRows.one_value(selector, value)` decides the same way whether a query can select two
positions holding different values of `value`: for each length, query position and query
state, the values each other position can hold under a key the query selects (the query's
own position only with its own state); two positions with different values are a candidate.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import Operation, SSAValue

from tracr_ir.analysis.selectors import normal_form
from tracr_ir.analysis.witness import UNDEFINED, ancestors
from tracr_ir.dialects import rasp
from tracr_ir.errors import UnsupportedProgramError
from tracr_ir.interpreters.rasp import run_ops

#: Default bound on the work of one decision (states built plus predicate evaluations):
#: `rasp-refine-values{decide_budget=N}`, `rasp-prove-facts{decide_budget=N}`.
DECIDE_BUDGET = 2_000_000

#: Candidates the over-approximation may produce that turn out not to be witnesses before
#: the decision gives up (they count as spent budget).
MAX_CANDIDATES = 64

_UNDEF = object()  # the evaluator raises here: the program is undefined on such an input

# A cell: the values an s-op holds at one position, (False, v) for every token, or
# (True, (v_0, ..., v_{V-1})) for each token of the vocabulary.
Cell = tuple[bool, Any]


class OutOfBudget(Exception):
    pass


@dataclass
class Decision:
    """`selects`: True (proven: every query selects a key on every input), False (a witness:
    `witnesses` holds inputs with an empty row, each with its query position) or None (not
    decided: `reason` says why)."""

    selects: bool | None
    witnesses: list[tuple[list[Any], int]] = field(default_factory=list)
    reason: str = ""


def _apply1(f: Callable[[Any], Any], cell: Cell) -> Cell:
    def one(x: Any) -> Any:
        if x is _UNDEF or x is None:
            return x
        return f(x)
    varies, v = cell
    return (True, tuple(one(x) for x in v)) if varies else (False, one(v))


def _apply2(f: Callable[[Any, Any], Any], a: Cell, b: Cell, size: int) -> Cell:
    def one(x: Any, y: Any) -> Any:
        if x is _UNDEF or y is _UNDEF:
            return _UNDEF
        if x is None or y is None:
            return None
        return f(x, y)
    if not a[0] and not b[0]:
        return (False, one(a[1], b[1]))
    xs = a[1] if a[0] else (a[1],) * size
    ys = b[1] if b[0] else (b[1],) * size
    return (True, tuple(one(x, y) for x, y in zip(xs, ys)))


def _lookup(table: dict) -> Callable[..., Any]:
    return lambda *key: table.get(key if len(key) > 1 else key[0], _UNDEF)


class EmptyRows:
    """Decisions for the selectors of one program (see the module docstring); memoised.

    `position_only(v)`, `always_selects(sel)` and `predicate(select_op)` come from
    `tracr_ir.analysis.facts.ProgramFacts`."""

    def __init__(self, program: rasp.ProgramOp, position_only: Callable[[SSAValue], bool],
                 always_selects: Callable[[SSAValue], bool],
                 predicate: Callable[[rasp.SelectOp], Callable[[Any, Any], bool]],
                 budget: int = DECIDE_BUDGET):
        self.program, self.position_only = program, position_only
        self.always_selects, self.predicate, self.budget = always_selects, predicate, budget
        self.vocab = list(program.vocab_values)
        self.memo: dict[tuple[SSAValue, Any], Decision] = {}
        self._cells: dict[tuple[SSAValue, int], list[Cell] | None] = {}
        self._spent = 0

    def decide(self, selector: SSAValue, want: int = 1) -> Decision:
        """Whether `selector` always selects; up to `want` witnesses when it does not."""
        key = (selector, want)
        if key not in self.memo:
            self.memo[key] = self._within_budget(lambda: self._decide(selector, want))
        return self.memo[key]

    def _within_budget(self, decide: Callable[[], Decision]) -> Decision:
        """`decide()` with a budget of its own (a decision may start another one: the
        SelectorWidth it reads may need it), or why it decided nothing."""
        outer, self._spent = self._spent, 0
        try:
            return decide()
        except OutOfBudget:
            return Decision(None, reason=(
                f"deciding it ran out of its budget of {self.budget:,} steps "
                "(raise it with rasp-refine-values{decide_budget=N} and "
                "rasp-prove-facts{decide_budget=N})"))
        except UnsupportedProgramError as e:
            return Decision(None, reason=f"it cannot be decided: {e}")
        finally:
            self._spent = outer

    def _spend(self, n: int) -> None:
        self._spent += n
        if self._spent > self.budget:
            raise OutOfBudget

    # Values at each position.

    def cells(self, v: SSAValue, n: int) -> list[Cell] | None:
        """`v`'s cell at each position of a length-n input, None for a free s-op."""
        key = (v, n)
        if key not in self._cells:
            self._cells[key] = self._local(v, n)
        return self._cells[key]

    def _local(self, v: SSAValue, n: int) -> list[Cell] | None:
        program, size = self.program, len(self.vocab)
        if v is program.tokens:
            return [(True, tuple(self.vocab))] * n
        if v is program.indices:
            return [(False, i) for i in range(n)]
        op = v.owner
        if isinstance(op, rasp.FullOp):
            return [(False, op.fill.data)] * n
        if self.position_only(v):
            return [(False, x) for x in self._run_positions(v, n)]
        self._spend(n)
        if isinstance(op, rasp.MapOp) and op.table is not None:
            inner = self.cells(op.input, n)
            if inner is None:
                return None
            f = _lookup(op.table.as_dict())
            done: dict[int, Cell] = {}  # positions often share one cell (tokens)
            for c in inner:
                if id(c) not in done:
                    done[id(c)] = _apply1(f, c)
            return [done[id(c)] for c in inner]
        if isinstance(op, (rasp.SequenceMapOp, rasp.LinearSequenceMapOp)):
            fst, snd = self.cells(op.fst, n), self.cells(op.snd, n)
            if fst is None or snd is None:
                return None
            if isinstance(op, rasp.SequenceMapOp):
                if op.table is None:
                    return None
                f = _lookup(op.table.as_dict())
            else:
                a, b = op.fst_fac.data, op.snd_fac.data
                f = lambda x, y: a * x + b * y  # noqa: E731
            pairs: dict[tuple[int, int], Cell] = {}
            out = []
            for c, d in zip(fst, snd):
                if (id(c), id(d)) not in pairs:
                    pairs[id(c), id(d)] = _apply2(f, c, d, size)
                out.append(pairs[id(c), id(d)])
            return out
        return None

    def _run_positions(self, v: SSAValue, n: int) -> list[Any]:
        owner = v.owner
        before = ancestors(owner) | {owner} if isinstance(owner, Operation) else set()
        ops = [o for o in self.program.block.ops if o in before]
        try:
            return list(run_ops(self.program, ops, [self.vocab[0]] * n)[v])
        except UNDEFINED:
            return [_UNDEF] * n

    def domain(self, v: SSAValue, n: int) -> list[Any]:
        """The values a free s-op can hold at a position of a length-n input (a superset)."""
        op = v.owner
        declared = list(v.type.value_set or ())  # type: ignore[attr-defined]
        if isinstance(op, rasp.SelectorWidthOp):
            low = 1 if self.always_selects(op.selector) else 0
            return [x for x in declared if type(x) is int and low <= x <= n]
        if isinstance(op, rasp.MapOp) and op.table is not None:
            table = op.table.as_dict()
            inner = self.cells(op.input, n)
            xs = (self.domain(op.input, n) if inner is None else
                  [x for varies, c in inner for x in (c if varies else (c,))])
            return list(dict.fromkeys(None if x is None else table.get(x, _UNDEF)
                                      for x in xs if x is not _UNDEF))
        return declared

    # The decisions.

    def _decide(self, selector: SSAValue, want: int) -> Decision:
        selection = _Selection(selector, self.predicate)
        witnesses: list[tuple[list[Any], int]] = []
        candidates = 0
        for n in range(1, self.program.length + 1):
            for xs, q in self._empty_rows(selection, n):
                if self._row_empty(selector, xs, q):
                    witnesses.append((xs, q))
                    if len(witnesses) >= want:
                        return Decision(False, witnesses)
                    break  # the next witness at another length
                candidates += 1
                self._spend(self.budget // MAX_CANDIDATES)
        if witnesses:
            return Decision(False, witnesses)
        return self._undecided(selection.operands, candidates, "a query might select nothing")

    def _undecided(self, operands: list[SSAValue], candidates: int, what: str) -> Decision:
        if not candidates:
            return Decision(True)
        free = sorted({_label(v) for v in operands if self.cells(v, 1) is None})
        return Decision(None, reason=(
            f"deciding it over-approximates the values of {', '.join(free) or 'its keys'} "
            f"and none of the {candidates} inputs where {what} is one"))

    def one_value(self, selector: SSAValue, value: SSAValue) -> Decision:
        """Whether every query's selected keys hold one value of `value` on every input
        (`selects`), else an input (and query) where they do not, or why it is undecided."""
        key = (selector, value)
        if key not in self.memo:
            self.memo[key] = self._within_budget(lambda: self._one_value(selector, value))
        return self.memo[key]

    def _one_value(self, selector: SSAValue, value: SSAValue) -> Decision:
        selection = _Selection(selector, self.predicate, value)
        candidates = 0
        for n in range(2, self.program.length + 1):
            for xs, q in self._mixed_rows(selection, n):
                if self._row_mixed(selector, value, xs, q):
                    return Decision(False, [(xs, q)])
                candidates += 1
                self._spend(self.budget // MAX_CANDIDATES)
        return self._undecided(selection.operands, candidates,
                               "a query might select different values")

    def _states(self, operands: list[SSAValue], n: int) -> list[dict[tuple, int]]:
        """Per position of a length-n input: each vector of `operands`' values it can hold
        (with a token giving it)."""
        cells = {v: self.cells(v, n) for v in operands}
        free = [v for v in operands if cells[v] is None]
        assignments: list[tuple] = [()]
        for d in (self.domain(v, n) for v in free):
            assignments = [(*a, x) for a in assignments for x in d]
            self._spend(len(assignments))
        index = {v: i for i, v in enumerate(free)}

        def vector(i: int, token: int, assignment: tuple) -> tuple | None:
            values = []
            for v in operands:
                if v in index:
                    values.append(assignment[index[v]])
                    continue
                varies, c = cells[v][i]  # type: ignore[index]
                x = c[token] if varies else c
                if x is _UNDEF:
                    return None
                values.append(x)
            return tuple(values)

        states: list[dict[tuple, int]] = []
        for i in range(n):
            varies = any(cells[v] is not None and cells[v][i][0]  # type: ignore[index]
                         for v in operands)
            tokens = range(len(self.vocab)) if varies else range(1)
            seen: dict[tuple, int] = {}
            for t in tokens:
                for a in assignments:
                    vec = vector(i, t, a)
                    if vec is not None:
                        seen.setdefault(vec, t)
            self._spend(len(tokens) * len(assignments))
            states.append(seen)
        return states

    def _empty_rows(self, selection: _Selection, n: int):
        """Inputs of length n (with a query position) whose row may be empty."""
        states = self._states(selection.operands, n)
        selected = selection.selected
        groups: dict[frozenset, list[int]] = {}
        for i, seen in enumerate(states):
            groups.setdefault(frozenset(seen), []).append(i)
        unselected: dict[tuple[int, tuple], tuple | None] = {}

        def avoid(group: frozenset, qv: tuple) -> tuple | None:
            key = (id(group), qv)
            if key not in unselected:
                self._spend(len(group))
                unselected[key] = next((kv for kv in group if not selected(kv, qv)), None)
            return unselected[key]

        for q in range(n):
            for qv, token in states[q].items():
                self._spend(1)
                if selected(qv, qv):
                    continue
                chosen: dict[int, int] = {q: token}
                for group, members in groups.items():
                    others = [k for k in members if k != q]
                    if not others:
                        continue
                    kv = avoid(group, qv)
                    if kv is None:
                        break
                    chosen.update((k, states[k][kv]) for k in others)
                else:
                    yield [self.vocab[chosen[i]] for i in range(n)], q

    def _mixed_rows(self, selection: _Selection, n: int):
        """Inputs of length n (with a query position) whose row may select two positions
        holding different values: positions k1 != k2 and values u1 != u2 that the query's
        keys can select there."""
        states = self._states(selection.operands, n)
        selected, at = selection.selected, selection.value_at
        groups: dict[frozenset, list[int]] = {}
        for i, seen in enumerate(states):
            groups.setdefault(frozenset(seen), []).append(i)
        reachable: dict[tuple[int, tuple], dict[Any, tuple]] = {}

        def values(group: frozenset, qv: tuple) -> dict[Any, tuple]:
            key = (id(group), qv)
            if key not in reachable:
                self._spend(len(group))
                found: dict[Any, tuple] = {}
                for kv in group:
                    if selected(kv, qv):
                        found.setdefault(_hashable(kv[at]), kv)
                reachable[key] = found
            return reachable[key]

        for q in range(n):
            for qv, token in states[q].items():
                self._spend(1)
                where: dict[Any, list[tuple[int, tuple]]] = {}  # value -> 2 positions
                if selected(qv, qv):
                    where[_hashable(qv[at])] = [(q, qv)]
                for group, members in groups.items():
                    for u, kv in values(group, qv).items():
                        found = where.setdefault(u, [])
                        found.extend((k, kv) for k in members[:3] if k != q)
                        del found[2:]
                pick = next(((a, b) for u1, u2 in itertools.combinations(where, 2)
                             for a in where[u1] for b in where[u2] if a[0] != b[0]), None)
                if pick is None:
                    continue
                tokens = {k: next(iter(states[k].values())) for k in range(n)}
                tokens[q] = token
                tokens.update((k, states[k][kv]) for k, kv in pick if k != q)
                yield [self.vocab[tokens[i]] for i in range(n)], q

    def _row_mixed(self, selector: SSAValue, value: SSAValue, xs: list[Any], q: int
                   ) -> bool:
        before: set[Operation] = set()
        for v in (selector, value):
            if isinstance(v.owner, Operation):
                before |= ancestors(v.owner) | {v.owner}
        ops = [o for o in self.program.block.ops if o in before]
        try:
            env = run_ops(self.program, ops, xs)
        except UNDEFINED:
            return False
        held = {_hashable(x) for x, s in zip(env[value], env[selector][q]) if s}
        return len(held) > 1

    def _row_empty(self, selector: SSAValue, xs: list[Any], q: int) -> bool:
        owner = selector.owner
        before = ancestors(owner) | {owner} if isinstance(owner, Operation) else set()
        ops = [o for o in self.program.block.ops if o in before]
        try:
            rows = run_ops(self.program, ops, xs)[selector]
        except UNDEFINED:
            return False
        return not any(rows[q])


class _Selection:
    """A selector's Selects over one vector of values per position (`operands`: their keys,
    queries and, when given, a value s-op at `value_at`); `selected(key_vector,
    query_vector)` evaluates the selector."""

    def __init__(self, selector: SSAValue, predicate: Callable, value: SSAValue | None = None):
        formula = normal_form(selector)
        truth = _selects(formula)
        literals = _literal_ops(formula)
        extra = [value] if value is not None else []
        self.operands = list(dict.fromkeys(
            [v for op in literals for v in (op.keys, op.queries)] + extra))
        position = {v: i for i, v in enumerate(self.operands)}
        self.value_at = position[value] if value is not None else -1
        preds = [(op, predicate(op), position[op.keys], position[op.queries])
                 for op in literals]
        self.selected = lambda kv, qv: truth({op: p(kv[k], qv[q]) for op, p, k, q in preds})


def _hashable(x: Any) -> Any:
    """None apart from every other value (so a selected None differs from a value)."""
    return ("none",) if x is None else x


def _label(v: SSAValue) -> str:
    op = v.owner
    label = op.properties.get("label") if isinstance(op, Operation) else None
    return label.data if label is not None else (v.name_hint or "?")  # type: ignore


def _literal_ops(formula: tuple) -> list[rasp.SelectOp]:
    if formula[0] == "lit":
        return [formula[1]]
    return list(dict.fromkeys(op for f in formula[1] for op in _literal_ops(f)))


def _selects(formula: tuple) -> Callable[[dict], bool]:
    """The formula as a function of each Select's truth value."""
    if formula[0] == "lit":
        op, negated = formula[1], formula[2]
        return lambda truth: truth[op] != negated
    parts = [_selects(f) for f in formula[1]]
    if formula[0] == "and":
        return lambda truth: all(p(truth) for p in parts)
    return lambda truth: any(p(truth) for p in parts)
