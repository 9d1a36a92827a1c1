"""tracr's `compiling` module, for code ported from `tracr.compiler.compiling`.

```python
from tracr_ir import compiling, lib, rasp
model = compiling.compile_rasp_to_model(lib.make_hist(), {"a", "b"}, max_seq_len=5)
model.apply([compiling.COMPILER_BOS, "a", "b", "a"]).decoded   # ["compiler_bos", 2, 1, 2]
```

`compile_rasp_to_model` takes tracr's arguments in tracr's order with tracr's defaults (BOS
`"compiler_bos"`, PAD `"compiler_pad"`) and is `tracr_ir.compiler.compile_rasp_to_model`
otherwise: a program it cannot compile exactly raises `UnsupportedProgramError` (a
`NotImplementedError`, like tracr's refusals), a BOS or PAD token in the vocab an
`ArgumentError` (a `ValueError`, like tracr's). `mlp_exactness` is accepted and unused: tracr
scales its MLPs' discretisation by it, while every constant here is derived from the value set
of the MLP's input (docs/exactness.md), so there is nothing to tune.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tracr_ir import compiler
from tracr_ir.rasp import SOp

if TYPE_CHECKING:
    from tracr_ir.backends.jax import CompiledModel

__all__ = ["COMPILER_BOS", "COMPILER_PAD", "compile_rasp_to_model"]

COMPILER_BOS = "compiler_bos"
COMPILER_PAD = "compiler_pad"


def compile_rasp_to_model(
    program: SOp,
    vocab: Iterable[Any],
    max_seq_len: int,
    causal: bool = False,
    compiler_bos: str = COMPILER_BOS,
    compiler_pad: str = COMPILER_PAD,
    mlp_exactness: int = 100,
    *,
    allocator: str = "greedy",
    pipeline: str | None = None,
    print_ir_after_all: bool = False,
) -> CompiledModel:
    """Compile `program` for inputs `[compiler_bos, t1, ..., tn]` with n <= `max_seq_len`
    tokens from `vocab` (right-padded with `compiler_pad` if wanted); with `causal`, position
    i sees only the tokens up to i. `allocator`, `pipeline` and `print_ir_after_all` are
    `tracr_ir.compiler.compile_rasp_to_model`'s."""
    return compiler.compile_rasp_to_model(
        program, vocab, max_seq_len, causal=causal, compiler_bos=compiler_bos,
        compiler_pad=compiler_pad, mlp_exactness=mlp_exactness, allocator=allocator,
        pipeline=pipeline, print_ir_after_all=print_ir_after_all)
