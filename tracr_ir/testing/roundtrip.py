"""`assert_round_trip(module)`: a module's text is self-contained at any stage.

Printing (custom and generic form), parsing back and printing again gives the same text and a
structurally equal module. Returns the parsed module so callers can also run it.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from tracr_ir.compiler import parse_module, print_module


def assert_round_trip(module: ModuleOp) -> ModuleOp:
    parsed = module
    for generic in (False, True):
        text = print_module(module, generic=generic)
        parsed = parse_module(text)
        assert parsed.is_structurally_equivalent(module), f"not equal after parsing:\n{text}"
        assert print_module(parsed, generic=generic) == text, "printed text changed"
    return parsed
