"""The RASP expression language: s-ops and selectors, their operators and simplifications.

Every node is a `RASPExpr` with `children` (its operands) and annotations (`name`, and for an
s-op its `encoding`, whose defaults `tracr_ir.rasp.encoding` provides). Nodes are immutable
once built, their arguments checked (`ProgramError`). As in tracr, `named`, `annotated` and
`annotate` return an annotated copy (`expr.copy()`: same operands, a new unique id) and leave
`expr` as it was. `expr(xs)` evaluates the node with the reference semantics of
`tracr_ir.rasp.semantics`.
"""

from __future__ import annotations

import abc
import copy as _copy
import enum
import functools
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, Union

from tracr_ir.errors import EvaluationError, ProgramError

Value = Union[None, int, float, str, bool, tuple]
NumericValue = Union[int, float]
SelectorValue = list[list[bool]]
VT = TypeVar("VT")
ExprT = TypeVar("ExprT", bound="RASPExpr")

_NAME_KEY = "name"
_LOG = logging.getLogger("tracr_ir.rasp")
_ENCODING_KEY = "encoding"


class Annotator(Protocol):
    def __call__(self, expr: RASPExpr) -> Any:
        """The default annotation of `expr`."""


# Default annotations, computed lazily the first time a key is read (as in tracr).
DEFAULT_ANNOTATORS: dict[str, Annotator] = {}


class _Annotations(Mapping[str, Any]):
    """An expression's annotations: read-only, with lazily filled defaults."""

    def __init__(self, expr: RASPExpr, **kwargs: Any):
        self._expr = expr
        self._inner: dict[str, Any] = dict(kwargs)

    def __getitem__(self, key: str) -> Any:
        if key not in self._inner:
            if key not in DEFAULT_ANNOTATORS:
                known = set(self._inner) | set(DEFAULT_ANNOTATORS)
                raise KeyError(f"no annotation '{key}'; known keys: {sorted(known)}")
            self._inner[key] = DEFAULT_ANNOTATORS[key](self._expr)
        return self._inner[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)


class RASPExpr(abc.ABC):
    """A RASP expression: an s-op (sequence -> sequence) or a selector (sequence -> matrix)."""

    _ids = itertools.count(1)
    _frozen = False
    # What `expr(xs)` runs: `tracr_ir.rasp.semantics.evaluate`, which sets itself here. The
    # evaluator dispatches on every node type, so it is defined after them, in a module that
    # imports this one (and `tracr_ir.rasp` always imports both).
    _evaluate: ClassVar[Callable[[RASPExpr, Sequence[Value]], Any]]

    def __init__(self) -> None:
        self._annotations: Mapping[str, Any] = _Annotations(self)

    def __setattr__(self, key: str, value: Any) -> None:
        if self._frozen and key not in ("_annotations", "annotations"):
            raise AttributeError(f"RASP nodes are immutable: cannot set '{key}' on {self.label}")
        object.__setattr__(self, key, value)

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def __call__(self, xs: Sequence[Value]) -> Any:
        return RASPExpr._evaluate(self, xs)

    @property
    def annotations(self) -> Mapping[str, Any]:
        return self._annotations

    @annotations.setter
    def annotations(self, annotations: Mapping[str, Any]) -> None:
        self._annotations = _Annotations(self, **annotations)

    @property
    def name(self) -> str:
        return self.annotations[_NAME_KEY]

    @property
    @abc.abstractmethod
    def children(self) -> Sequence[RASPExpr]:
        """The direct dependencies of this expression."""

    @functools.cached_property
    def unique_id(self) -> int:
        return next(self._ids)

    @property
    def label(self) -> str:
        """A label unique among all expressions: the name and a unique id."""
        return f"{self.name}_{self.unique_id}"

    def copy(self: ExprT) -> ExprT:
        """A shallow copy with a new unique id: the same operands, function and annotations
        (which the copy then replaces on its own)."""
        new = _copy.copy(self)
        new.__dict__.pop("unique_id", None)  # the cached id of `self`: the copy draws its own
        object.__setattr__(new, "_annotations", _Annotations(new, **self._annotations._inner))
        return new

    def named(self: ExprT, name: str) -> ExprT:
        """A copy named `name` (the node itself keeps its name)."""
        return annotate(self, name=name)

    def annotated(self: ExprT, **annotations: Any) -> ExprT:
        """A copy with `annotations` added (the node itself keeps its own)."""
        return annotate(self, **annotations)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    __hash__ = object.__hash__


def annotate(expr: ExprT, **annotations: Any) -> ExprT:
    """A copy of `expr` with `annotations` added (replacing those with the same keys); `expr`
    itself is left as it was."""
    new = expr.copy()
    new.annotations = {**expr.annotations, **annotations}
    return new


def _check_kind(owner: str, role: str, operand: Any, kind: type) -> None:
    if not isinstance(operand, kind):
        what = operand.label if isinstance(operand, RASPExpr) else repr(operand)
        got = "a selector" if isinstance(operand, Selector) else type(operand).__name__
        raise ProgramError(
            f"{owner}: its {role} must be {'an SOp' if kind is SOp else 'a Selector'}, "
            f"got {got} ({what})"
        )


def _check_callable(owner: str, f: Any) -> None:
    if not callable(f) or isinstance(f, RASPExpr):
        raise ProgramError(f"{owner}: its function must be a Python callable, got {f!r}")


### S-ops.


class SOp(RASPExpr):
    """A sequence operation: a function from a sequence to a sequence of the same length."""

    # Operator sugar builds Maps (with a constant) or SequenceMaps (with another SOp).
    def __lt__(self, other: Value) -> SOp:
        return Map(lambda x: x < other, self)

    def __le__(self, other: Value) -> SOp:
        return Map(lambda x: x <= other, self)

    def __eq__(self, other: Value) -> SOp:  # type: ignore[override]
        return Map(lambda x: x == other, self)

    def __ne__(self, other: Value) -> SOp:  # type: ignore[override]
        return Map(lambda x: x != other, self)

    def __gt__(self, other: Value) -> SOp:
        return Map(lambda x: x > other, self)

    def __ge__(self, other: Value) -> SOp:
        return Map(lambda x: x >= other, self)

    def __add__(self, other: SOp | Value) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x + y, self, other)
        return Map(lambda x: x + other, self)

    def __radd__(self, other: SOp | Value) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x + y, other, self)
        return Map(lambda x: other + x, self)

    def __sub__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x - y, self, other)
        return Map(lambda x: x - other, self)

    def __rsub__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x - y, other, self)
        return Map(lambda x: other - x, self)

    def __mul__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x * y, self, other)
        return Map(lambda x: x * other, self)

    def __rmul__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x * y, other, self)
        return Map(lambda x: other * x, self)

    def __truediv__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x / y, self, other)
        return Map(lambda x: x / other, self)

    def __rtruediv__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x / y, other, self)
        return Map(lambda x: other / x, self)

    def __invert__(self) -> SOp:
        return Map(lambda x: not x, self)

    def __and__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x and y, self, other)
        return Map(lambda x: x and other, self)

    def __or__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x or y, self, other)
        return Map(lambda x: x or other, self)

    def __rand__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x and y, other, self)
        return Map(lambda x: other and x, self)

    def __ror__(self, other: SOp | NumericValue) -> SOp:
        if isinstance(other, SOp):
            return SequenceMap(lambda x, y: x or y, other, self)
        return Map(lambda x: x or other, self)

    __hash__ = RASPExpr.__hash__


class _Primitive(SOp):
    """An input of the program; its label is its fixed name."""

    _primitive_name = ""

    def __init__(self) -> None:
        super().__init__()
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return []

    @property
    def label(self) -> str:
        return self._primitive_name

    def __repr__(self) -> str:
        return self._primitive_name


class TokensType(_Primitive):
    """The input tokens."""

    _primitive_name = "tokens"


class IndicesType(_Primitive):
    """The position of each token: 0, 1, ..., n - 1."""

    _primitive_name = "indices"


class LengthType(_Primitive):
    """The length n of the input at every position."""

    _primitive_name = "length"


tokens = TokensType()
indices = IndicesType()
length = LengthType()


class Map(SOp):
    """`f` applied to each element: `Map(lambda x: x + 1, tokens)([1, 2]) == [2, 3]`.

    With `simplify` (the default), a Map of a Map becomes one Map of the composed function.
    """

    def __init__(self, f: Callable[[Value], Value], inner: SOp, simplify: bool = True):
        super().__init__()
        _check_kind("Map", "input", inner, SOp)
        _check_callable("Map", f)
        if simplify and isinstance(inner, Map):
            inner_f = inner.f
            f, inner = (lambda x, f=f: f(inner_f(x))), inner.inner
        self.f = f
        self.inner = inner
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.inner]


class SequenceMap(SOp):
    """`f` applied to the pair of elements at each position of two s-ops."""

    def __init__(self, f: Callable[[Value, Value], Value], fst: SOp, snd: SOp):
        super().__init__()
        _check_kind("SequenceMap", "first input", fst, SOp)
        _check_kind("SequenceMap", "second input", snd, SOp)
        _check_callable("SequenceMap", f)
        if fst is snd:
            _LOG.warning("SequenceMap of %s with itself: a Map(lambda x: f(x, x), %s) "
                         "computes the same with one operand", fst.label, fst.label)
        self.f = f
        self.fst = fst
        self.snd = snd
        if type(self) is SequenceMap:
            self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.fst, self.snd]


class LinearSequenceMap(SequenceMap):
    """`fst_fac * x + snd_fac * y` at each position."""

    def __init__(self, fst: SOp, snd: SOp, fst_fac: float, snd_fac: float):
        super().__init__(lambda x, y: fst_fac * x + snd_fac * y, fst, snd)
        self.fst_fac = fst_fac
        self.snd_fac = snd_fac
        self._freeze()


class Full(SOp):
    """The constant `fill` at every position."""

    def __init__(self, fill: Value):
        super().__init__()
        self.fill = fill
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return []


class ConstantSOp(SOp):
    """A fixed sequence, for testing evaluation; the compiler refuses it."""

    def __init__(self, value: Sequence[Value], check_length: bool = True):
        super().__init__()
        self.value = value
        self.check_length = check_length
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return []


def sop_not(sop: SOp) -> SOp:
    return Map(lambda t: not t, sop)


### Selectors.


class Predicate(Protocol):
    def __call__(self, key: Value, query: Value) -> bool:
        """Whether the query attends to the key."""


class Comparison(enum.Enum):
    """The comparisons a Select can use; called as `comparison(key, query)`."""

    EQ = "=="
    LT = "<"
    LEQ = "<="
    GT = ">"
    GEQ = ">="
    NEQ = "!="
    TRUE = "True"
    FALSE = "False"

    def __call__(self, key: Value, query: Value) -> bool:
        if key is None:
            raise EvaluationError("key is None!")
        if query is None:
            raise EvaluationError("query is None!")
        return _COMPARISONS[self](key, query)


_COMPARISONS: dict[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.EQ: lambda key, query: key == query,
    Comparison.LT: lambda key, query: key < query,
    Comparison.LEQ: lambda key, query: key <= query,
    Comparison.GT: lambda key, query: key > query,
    Comparison.GEQ: lambda key, query: key >= query,
    Comparison.NEQ: lambda key, query: key != query,
    Comparison.TRUE: lambda key, query: True,
    Comparison.FALSE: lambda key, query: False,
}


class Selector(RASPExpr):
    """A selector: which keys each query attends to (an attention pattern)."""

    def __and__(self, other: Selector) -> Selector:
        return selector_and(self, other)

    def __rand__(self, other: Selector) -> Selector:
        return selector_and(other, self)

    def __or__(self, other: Selector) -> Selector:
        return selector_or(self, other)

    def __ror__(self, other: Selector) -> Selector:
        return selector_or(other, self)

    def __invert__(self) -> Selector:
        return selector_not(self)


class Select(Selector):
    """Query position q attends to key position k iff `predicate(keys[k], queries[q])`."""

    def __init__(self, keys: SOp, queries: SOp, predicate: Predicate):
        super().__init__()
        _check_kind("Select", "keys", keys, SOp)
        _check_kind("Select", "queries", queries, SOp)
        if not callable(predicate) or isinstance(predicate, RASPExpr):
            raise ProgramError(
                f"Select: its predicate must be a Comparison or a callable, got {predicate!r}"
            )
        self.keys = keys
        self.queries = queries
        self.predicate = predicate
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.keys, self.queries]


class ConstantSelector(Selector):
    """A fixed selector matrix, for testing evaluation; the compiler refuses it."""

    def __init__(self, value: SelectorValue, check_length: bool = True):
        super().__init__()
        self.value = value
        self.check_length = check_length
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return []


class SelectorWidth(SOp):
    """The number of keys each query selects."""

    def __init__(self, selector: Selector):
        super().__init__()
        _check_kind("SelectorWidth", "input", selector, Selector)
        self.selector = selector
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.selector]


class _SelectorPair(Selector):
    """A selector combining two selectors element-wise."""

    def __init__(self, fst: Selector, snd: Selector):
        super().__init__()
        _check_kind(type(self).__name__, "first input", fst, Selector)
        _check_kind(type(self).__name__, "second input", snd, Selector)
        self.fst = fst
        self.snd = snd
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.fst, self.snd]


class SelectorAnd(_SelectorPair):
    """Element-wise `and` of two selectors."""


class SelectorOr(_SelectorPair):
    """Element-wise `or` of two selectors."""


class SelectorNot(Selector):
    """Element-wise negation of a selector."""

    def __init__(self, inner: Selector):
        super().__init__()
        _check_kind("SelectorNot", "input", inner, Selector)
        self.inner = inner
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.inner]


def selector_not(inner: Selector, simplify: bool = True) -> Selector:
    """`~inner`; a negated Select becomes a Select of the negated predicate."""
    if simplify and isinstance(inner, Select):
        predicate = inner.predicate
        return Select(inner.keys, inner.queries, lambda k, q: not predicate(k, q))
    return SelectorNot(inner)


def selector_and(fst: Selector, snd: Selector, simplify: bool = True) -> Selector:
    """`fst & snd`; two Selects over common keys and queries merge into one Select."""
    if simplify and isinstance(fst, Select) and isinstance(snd, Select):
        merged = _merge_selects(fst, snd, lambda a, b: a and b)
        if merged is not None:
            return merged
    return SelectorAnd(fst, snd)


def selector_or(fst: Selector, snd: Selector, simplify: bool = True) -> Selector:
    """`fst | snd`; two Selects over common keys and queries merge into one Select."""
    if simplify and isinstance(fst, Select) and isinstance(snd, Select):
        merged = _merge_selects(fst, snd, lambda a, b: a or b)
        if merged is not None:
            return merged
    return SelectorOr(fst, snd)


def _merge_selects(
    fst: Select, snd: Select, combine: Callable[[bool, bool], bool]
) -> Select | None:
    """One Select equivalent to combining `fst` and `snd`, when they share keys and queries.

    A Full key (or query) matches any key (or query) of the other Select: its fill value is
    baked into its own predicate, as tracr does.
    """
    fst_pred, snd_pred = fst.predicate, snd.predicate
    keys = queries = None
    if isinstance(fst.keys, Full):
        keys, fst_pred = snd.keys, (lambda k, q, p=fst_pred, v=fst.keys.fill: p(v, q))
    if isinstance(snd.keys, Full):
        keys, snd_pred = fst.keys, (lambda k, q, p=snd_pred, v=snd.keys.fill: p(v, q))
    if isinstance(fst.queries, Full):
        queries, fst_pred = snd.queries, (lambda k, q, p=fst_pred, v=fst.queries.fill: p(k, v))
    if isinstance(snd.queries, Full):
        queries, snd_pred = fst.queries, (lambda k, q, p=snd_pred, v=snd.queries.fill: p(k, v))
    if fst.keys is snd.keys:
        keys = fst.keys
    if fst.queries is snd.queries:
        queries = fst.queries
    if keys is None or queries is None:
        return None
    return Select(keys, queries, lambda k, q: combine(fst_pred(k, q), snd_pred(k, q)))


class Aggregate(SOp):
    """At each query: the selected value as it is if one key is selected, the mean of the
    selected numbers if several are, `default` if none is (`semantics.aggregate_mean`)."""

    def __init__(self, selector: Selector, sop: SOp, default: Value = None):
        super().__init__()
        _check_kind("Aggregate", "selector", selector, Selector)
        _check_kind("Aggregate", "input", sop, SOp)
        if default is not None and not isinstance(default, (str, float, bool, int)):
            raise ProgramError(f"Aggregate: default must be None, str, float, bool or int, "
                               f"got {default!r}")
        self.selector = selector
        self.sop = sop
        self.default = default
        self._freeze()

    @property
    def children(self) -> Sequence[RASPExpr]:
        return [self.selector, self.sop]
