"""Shared command-line helpers: token parsing and one-line diagnostics."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tracr_ir.errors import TracrIRError


def parse_token(text: str, vocab: Iterable[Any] | None = None) -> Any:
    """The vocab element that prints as `text`; else (so that errors show what was meant) an
    int, a float or the text."""
    if vocab is not None:
        for value in vocab:
            if str(value) == text:
                return value
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def import_file(file: Path, module_name: str) -> ModuleType:
    """Import a Python file as `module_name`, with its folder on `sys.path` meanwhile."""
    spec = importlib.util.spec_from_file_location(module_name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def run_tool(name: str, body: Callable[[Sequence[str]], int], argv: Sequence[str] | None) -> int:
    """Run a tool's body; errors become `name: error: message` and exit status 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return body(args)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the boundary between the user and the compiler
        if "--debug" in args:
            raise
        message = str(e).strip() or type(e).__name__
        if not isinstance(e, TracrIRError):
            message = f"{type(e).__name__}: {message}"
        print(f"{name}: error: {message}", file=sys.stderr)
        return 1
