"""IR text in and out: the context of every tracr-ir dialect, parsing, verifying, printing.

```python
module = parse_module(text)              # parsed and verified, or an IRError with the location
print_module(module)                     # the custom format (generic=True: the generic one)
```
Parsing goes through this project's parser (`tracr_ir.xdsl_fixes.TracrParser`). Re-exported by
`tracr_ir.compiler`.
"""

from __future__ import annotations

import io

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from tracr_ir.errors import IRError
from tracr_ir.universe import all_dialects
from tracr_ir.xdsl_fixes import TracrParser


def make_context() -> Context:
    """A context with builtin and every tracr-ir dialect (loaded lazily)."""
    ctx = Context()
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx


def parse_module(text: str, ctx: Context | None = None, verify: bool = True) -> ModuleOp:
    """Parse (and verify) IR text; errors are `IRError`s with the location."""
    try:
        module = TracrParser(ctx or make_context(), text).parse_module()
    except ParseError as e:
        raise IRError(f"parse error: {e}") from None
    if verify:
        verify_module(module)
    return module


def verify_module(module: Operation, after: str | None = None) -> None:
    """Verify `module`; an invalid one is an `IRError` (naming the pass `after` which it is
    invalid, if given) with the first line of xDSL's message."""
    try:
        module.verify()
    except (VerifyException, DiagnosticException) as e:
        where = f" after pass '{after}'" if after else ""
        raise IRError(f"invalid IR{where}: {str(e).splitlines()[0] if str(e) else e}") from None


def print_module(module: Operation, generic: bool = False) -> str:
    """The IR text of `module`, in the custom format or (`generic`) the generic one."""
    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=generic).print_op(module)
    return stream.getvalue()
