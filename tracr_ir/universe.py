"""Every dialect and pass of tracr-ir by name, as lazy factories.

`UNIVERSE` is registered under the `xdsl.universe` entry point, so `xdsl-opt` sees the same
dialects and passes as `tracr-opt`. `register_pass` adds a user's own pass; it then works in
pipeline specs (`run_pipeline`, `compile_rasp_to_model(pipeline=...)`) and in `tracr-opt`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.universe import Universe

PassT = TypeVar("PassT", bound=type[ModulePass])


def _rasp_dialect() -> Dialect:
    from tracr_ir.dialects.rasp import RASP

    return RASP


def _transformer_dialect() -> Dialect:
    from tracr_ir.dialects.transformer import TRANSFORMER

    return TRANSFORMER


def _builtin_dialect() -> Dialect:
    from xdsl.dialects.builtin import Builtin

    return Builtin


def _rasp_infer_values() -> type[ModulePass]:
    from tracr_ir.passes.rasp_infer_values import RaspInferValues

    return RaspInferValues


DIALECTS: dict[str, Callable[[], Dialect]] = {
    "rasp": _rasp_dialect,
    "transformer": _transformer_dialect,
}

PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "rasp-infer-values": _rasp_infer_values,
}


def register_pass(pass_class: PassT) -> PassT:
    """Class decorator: make a user's `ModulePass` available by its `name` everywhere."""
    name = pass_class.name
    if name in PASSES and PASSES[name]() is not pass_class:
        from tracr_ir.errors import PipelineError

        raise PipelineError(f"a different pass is already registered as '{name}'")
    PASSES[name] = lambda: pass_class
    return pass_class


def register_dialect(name: str, factory: Callable[[], Dialect]) -> None:
    """Make a user's dialect available to `tracr-opt` and the parser."""
    DIALECTS[name] = factory


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    """This project's dialects plus builtin, which every module needs."""
    return {"builtin": _builtin_dialect, **DIALECTS}


UNIVERSE = Universe(all_dialects=DIALECTS, all_passes=PASSES)
