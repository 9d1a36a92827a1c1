"""RASP values as JSON text, and the datasets' error.

A Parquet column holds one type, but RASP values mix None, bools, ints, floats, strings and
tuples (a program's outputs often do). So every token in `vocab`, `inputs` and `outputs` is
stored as the JSON text of its value: `1`, `1.5`, `"a"`, `true`, `null`, and a tuple as a
JSON array (`[0, "a"]`; RASP values hold no lists, so arrays decode back to tuples).
`tracr_ir.datasets.read` decodes them; other readers use `decode_value` or any JSON parser.
"""

from __future__ import annotations

import json
from typing import Any

from tracr_ir.errors import TracrIRError


class DatasetError(TracrIRError, ValueError):
    """A dataset that cannot be written or read as asked (bad options, a directory holding
    another dataset, a row without a model)."""


def require(module: str) -> None:
    """Import `module` (pyarrow, ray), or say which extra brings it."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise DatasetError(f"datasets need {module}: pip install 'tracr-ir[datasets]'"
                           ) from None


def encode_value(value: Any) -> str:
    """The JSON text of a RASP value (tuples as arrays)."""
    return json.dumps(_plain(value), separators=(",", ":"))


def decode_value(text: str) -> Any:
    """The RASP value of `encode_value`'s text (arrays as tuples)."""
    try:
        return _tuples(json.loads(text))
    except (TypeError, ValueError) as e:
        raise DatasetError(f"not a JSON-encoded value: {text!r} ({e})") from None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise DatasetError(f"{value!r} of type {type(value).__name__} is not a RASP value")


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with the JSON tokens of `vocab`, `inputs` and `outputs` decoded (in place)."""
    if row.get("vocab") is not None:
        row["vocab"] = [decode_value(v) for v in row["vocab"]]
    for name in ("inputs", "outputs"):
        if row.get(name) is not None:
            row[name] = [None if seq is None else [decode_value(v) for v in seq]
                         for seq in row[name]]
    return row
