"""tracr-ir: compile RASP programs into transformer weights through xDSL dialects.

```python
from tracr_ir import rasp, lib
from tracr_ir.compiler import to_ir, run_pipeline, interpret
module = run_pipeline(to_ir(lib.make_hist(), vocab={"a", "b"}, max_seq_len=5),
                      "rasp-infer-values")
interpret(module, ["a", "b", "a"])   # [2, 1, 2] == rasp.evaluate(lib.make_hist(), ...)
```
"""

from tracr_ir import errors, rasp
from tracr_ir.universe import register_dialect, register_pass

__all__ = ["errors", "lib", "rasp", "register_dialect", "register_pass"]


def __getattr__(name: str):
    # `lib` builds module-level programs on import: load it on first use.
    if name == "lib":
        import importlib

        return importlib.import_module("tracr_ir.lib")
    raise AttributeError(f"module 'tracr_ir' has no attribute '{name}'")
