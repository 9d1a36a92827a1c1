"""tracr-ir: compile RASP programs into transformer weights through xDSL dialects.

```python
from tracr_ir import rasp, lib, compile_rasp_to_model
model = compile_rasp_to_model(lib.make_hist(), vocab={"a", "b"}, max_seq_len=5)
model.apply(["BOS", "a", "b", "a"]).decoded   # ["BOS", 2, 1, 2]
```
"""

from tracr_ir import errors, rasp
from tracr_ir.universe import register_dialect, register_pass

__all__ = ["causal_eval", "compile_rasp_to_model", "compiling", "errors", "lib", "load", "rasp",
           "register_dialect", "register_pass"]


def __getattr__(name: str):
    # Loaded on first use: `lib` builds programs on import, the compiler pulls in xDSL and
    # `load` JAX, none of which `import tracr_ir` should pay for.
    import importlib

    if name in ("lib", "causal_eval", "compiling"):  # tracr's module names, for drop-in use
        return importlib.import_module(f"tracr_ir.{name}")
    if name == "compile_rasp_to_model":
        return importlib.import_module("tracr_ir.compiler").compile_rasp_to_model
    if name == "load":
        return importlib.import_module("tracr_ir.backends.jax").load
    raise AttributeError(f"module 'tracr_ir' has no attribute '{name}'")
