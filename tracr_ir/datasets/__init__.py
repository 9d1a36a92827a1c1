"""Datasets of compiled programs: (random RASP program, transformer weights) pairs.

```python
from tracr_ir import datasets
options = datasets.DatasetOptions(n=1000, seed=0, vocab=(1, 2, 3), max_seq_len=5)
summary = datasets.generate("data/", options, engine="local", workers=2)  # or "ray"
for row in datasets.read("data/"):
    if row["status"] == "compiled":
        model = datasets.model(row)             # a CompiledModel
        datasets.check_row(row, model)          # it reproduces row["outputs"] on row["inputs"]
```
One Parquet row per program (`tracr_ir.datasets.schema` lists the columns); shards
are written atomically, so a rerun on the same directory computes only the missing ones.
Needs the `datasets` extra (pyarrow, and ray for `engine="ray"`), imported on first use.
"""

from tracr_ir.datasets.options import DatasetOptions, program_seed
from tracr_ir.datasets.rows import check_row, model
from tracr_ir.datasets.runner import Summary, generate, summarize
from tracr_ir.datasets.schema import schema
from tracr_ir.datasets.shards import load_options, read, shard_files
from tracr_ir.datasets.values import DatasetError, decode_value, encode_value

__all__ = [
    "DatasetError", "DatasetOptions", "Summary", "check_row", "decode_value", "encode_value",
    "generate", "load_options", "model", "program_seed", "read", "schema", "shard_files",
    "summarize",
]
