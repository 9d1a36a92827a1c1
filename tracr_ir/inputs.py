"""Checks of the token sequences a program or model runs on, shared by every stage.

```python
check_input([1, 2], vocab=[1, 2, 3], max_seq_len=5)   # [1, 2]
check_input([1, 9], vocab=[1, 2, 3], max_seq_len=5)   # InputError: token 9 at position 1 is
                                                      # not in the vocab {1, 2, 3}
```
The interpreters (`tracr_ir.compiler.interpret`, the craft batch interpreter) check inputs
without BOS here; the model's own `encode` (with BOS) words its errors the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracr_ir.errors import InputError
from tracr_ir.values import Value, format_value_set


def check_input(xs: Sequence[Any], vocab: Sequence[Any], max_seq_len: int) -> list[Any]:
    """`xs` as a list, or an `InputError` naming the first bad position."""
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise InputError(f"an input is a sequence of tokens, got {type(xs).__name__}")
    if len(xs) > max_seq_len:
        raise InputError(f"token {xs[max_seq_len]!r} at position {max_seq_len} is past "
                         f"max_seq_len {max_seq_len}: the input has {len(xs)} tokens")
    if not xs:
        raise InputError("the input is empty")
    allowed = set(vocab)
    for i, token in enumerate(xs):
        try:
            known = token in allowed
        except TypeError:
            known = False
        if not known:
            raise InputError(unknown_token(token, i, tuple(vocab)))
    return list(xs)


def unknown_token(token: Any, position: int, vocab: Sequence[Value]) -> str:
    """The message for a token that is not in the vocab (its type named when that is why)."""
    kinds = {type(v).__name__ for v in vocab}
    kind = "" if type(token).__name__ in kinds else f" (a {type(token).__name__})"
    shown = format_value_set(vocab) if len(vocab) <= 12 else (
        format_value_set(vocab[:12])[:-1] + f", ... ({len(vocab)} tokens)}}")
    return f"token {token!r}{kind} at position {position} is not in the vocab {shown}"
