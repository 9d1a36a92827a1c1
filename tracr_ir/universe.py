"""Every dialect and pass of tracr-ir by name, as lazy factories.

`UNIVERSE` is registered under the `xdsl.universe` entry point, so `xdsl-opt` sees the same
dialects and passes as `tracr-opt`. `register_pass` adds a user's own pass; it then works in
pipeline specs (`run_pipeline`, `compile_rasp_to_model(pipeline=...)`) and in `tracr-opt`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.universe import Universe

PassT = TypeVar("PassT", bound=type[ModulePass])


def _lazy(module: str, name: str) -> Callable[[], Any]:
    """A factory importing `module.name` on first use (keeps `tracr-opt` start-up fast)."""

    def factory() -> Any:
        return getattr(importlib.import_module(module), name)

    return factory


def _builtin_dialect() -> Dialect:
    from xdsl.dialects.builtin import Builtin

    return Builtin


DIALECTS: dict[str, Callable[[], Dialect]] = {
    "rasp": _lazy("tracr_ir.dialects.rasp", "RASP"),
    "craft": _lazy("tracr_ir.dialects.craft", "CRAFT"),
    "transformer": _lazy("tracr_ir.dialects.transformer", "TRANSFORMER"),
}

PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "rasp-infer-values": _lazy("tracr_ir.passes.rasp_infer_values", "RaspInferValues"),
    "rasp-verify-causal": _lazy("tracr_ir.passes.rasp_verify_causal", "RaspVerifyCausal"),
    "rasp-refine-values": _lazy("tracr_ir.passes.rasp_refine_values", "RaspRefineValues"),
    "rasp-fuse-maps": _lazy("tracr_ir.passes.rasp_fuse_maps", "RaspFuseMaps"),
    "rasp-prove-facts": _lazy("tracr_ir.passes.rasp_prove_facts", "RaspProveFacts"),
    "rasp-normalize-selectors": _lazy("tracr_ir.passes.rasp_normalize_selectors",
                                      "RaspNormalizeSelectors"),
    "rasp-annotate-precision": _lazy("tracr_ir.passes.rasp_annotate_precision",
                                     "RaspAnnotatePrecision"),
    "lower-rasp-to-craft": _lazy("tracr_ir.passes.lower_rasp_to_craft", "LowerRaspToCraft"),
    "craft-allocate-layers": _lazy("tracr_ir.passes.craft_allocate_layers",
                                   "CraftAllocateLayers"),
    "craft-verify-exactness": _lazy("tracr_ir.passes.craft_verify_exactness",
                                    "CraftVerifyExactness"),
    "craft-layout-residual": _lazy("tracr_ir.passes.craft_layout_residual",
                                   "CraftLayoutResidual"),
    "lower-craft-to-transformer": _lazy("tracr_ir.passes.lower_craft_to_transformer",
                                        "LowerCraftToTransformer"),
    "craft-layer-norm": _lazy("tracr_ir.passes.craft_layer_norm", "CraftLayerNorm"),
    "transformer-layer-norm": _lazy("tracr_ir.passes.transformer_layer_norm",
                                    "TransformerLayerNorm"),
    "transformer-compress": _lazy("tracr_ir.passes.transformer_compress", "TransformerCompress"),
}


_OWN_PASSES = frozenset(PASSES)
_OWN_DIALECTS = frozenset(DIALECTS)


def register_pass(pass_class: PassT) -> PassT:
    """Class decorator: make a user's `ModulePass` available by its `name` everywhere."""
    name = pass_class.name
    if name in PASSES and PASSES[name]() is not pass_class:
        from tracr_ir.errors import PipelineError

        raise PipelineError(f"a different pass is already registered as '{name}'")
    PASSES[name] = lambda: pass_class
    return pass_class


def unregister_pass(name: str) -> None:
    """Forget a pass `register_pass` added (the project's own passes stay)."""
    if name in PASSES and name not in _OWN_PASSES:
        del PASSES[name]


def register_dialect(name: str, factory: Callable[[], Dialect]) -> None:
    """Make a user's dialect available to `tracr-opt` and the parser."""
    DIALECTS[name] = factory


def unregister_dialect(name: str) -> None:
    """Forget a dialect `register_dialect` added (the project's own dialects stay)."""
    if name in DIALECTS and name not in _OWN_DIALECTS:
        del DIALECTS[name]


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    """This project's dialects plus builtin, which every module needs."""
    return {"builtin": _builtin_dialect, **DIALECTS}


UNIVERSE = Universe(all_dialects=DIALECTS, all_passes=PASSES)
