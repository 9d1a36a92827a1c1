"""From Python: `stable_sort.mlir`, which uses the user op `myr.running_count`, through the
default pipeline to a JAX model, checked against the rasp interpreter on every input.

```sh
python examples/custom_lowering/compile_stable_sort.py
```
"""

from __future__ import annotations

from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

import myr  # noqa: F401 - registers the myr dialect, its value inference, interpreter, lowering
from tracr_ir.backends.jax import CompiledModel, build
from tracr_ir.compiler import DEFAULT_PIPELINE, StageIR, parse_module, run_pipeline
from tracr_ir.testing import assert_equivalent

HERE = Path(__file__).parent


def compile_file(path: Path = HERE / "stable_sort.mlir") -> tuple[ModuleOp, CompiledModel,
                                                                   StageIR]:
    """The rasp module as parsed, the model compiled from it and the IR of each stage."""
    source = parse_module(path.read_text())  # `myr.` ops parse once the dialect is registered
    stages = StageIR()
    module = run_pipeline(source.clone(), DEFAULT_PIPELINE,
                          callback=lambda before, module, after: stages.record(module))
    return source, build(module), stages


def main() -> None:
    source, model, stages = compile_file()
    print(stages["craft"])
    print(model.apply(["BOS", 3, 1, 2, 1]).decoded)  # ['BOS', 1, 1, 2, 3]
    assert_equivalent(source, model)  # every input of length 1 to 4: the model is exact
    print("the model equals the rasp interpreter on every input")


if __name__ == "__main__":
    main()
