"""Values print and parse back equal (and of the same type); value sets are canonical."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracr_ir.compiler import make_context
from tracr_ir.dialects.rasp import TableAttr, ValueAttr, ValueSetAttr
from tracr_ir.errors import ValueSetError
from tracr_ir.values import canonical_values, format_value

from xdsl.parser import Parser

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
values = st.recursive(scalars, lambda inner: st.tuples(inner) | st.lists(inner, max_size=3).map(tuple),
                      max_leaves=8)


def same(a, b) -> bool:
    """Equal and of the same type, recursively (1 vs 1.0 vs True differ here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a == 0.0:
        return math.copysign(1, a) == math.copysign(1, b)
    return a == b


def parse_attr(text: str):
    return Parser(make_context(), text).parse_attribute()


@settings(max_examples=300, deadline=None)
@given(values)
def test_value_round_trip(value):
    attr = ValueAttr(value)
    parsed = parse_attr(str(attr))
    assert same(parsed.data, value), (format_value(value), parsed.data)
    assert parsed == attr


@settings(max_examples=100, deadline=None)
@given(st.lists(values, max_size=8))
def test_value_set_round_trip_is_canonical(items):
    attr = ValueSetAttr.from_values(items)
    assert set(attr.data) == set(items)
    assert parse_attr(str(attr)) == attr
    # Order and duplicates of the input do not matter.
    assert ValueSetAttr.from_values(list(reversed(items)) + items) == attr


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(values, values, max_size=6))
def test_table_round_trip(entries):
    attr = TableAttr.from_dict(entries)
    parsed = parse_attr(str(attr))
    assert parsed.as_dict() == entries


@pytest.mark.parametrize(
    "value, text",
    [(None, "none"), (True, "true"), (1, "1"), (1.5, "1.5"), (1e20, "1.0e+20"), (-0.0, "-0.0"),
     (math.inf, "inf"), (-math.inf, "-inf"), ("a", '"a"'), ((1, "a"), '(1, "a")'),
     ((7,), "(7)"), ((), "()"), ('q"\\\n', '"q\\"\\\\\\n"')],
)
def test_value_text(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("bad", [float("nan"), [1, 2], {1}, object()])
def test_non_values_are_refused(bad):
    with pytest.raises(ValueSetError):
        canonical_values([bad], where="node_1")
