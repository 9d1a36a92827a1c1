"""The rows' columns: their names (`COLUMNS`) and the Parquet schema (`schema()`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

#: Every column, in order (`schema()` gives their types).
COLUMNS = ("index", "seed", "status", "error_type", "error_message", "n_nodes", "source",
           "rasp_ir", "vocab", "max_seq_len", "compiler_bos", "output_encoding", "encodings",
           "stats", "transformer_ir", "residual_labels", "inputs", "outputs", "compile_seconds")

#: Columns whose tokens are JSON text (`tracr_ir.datasets.values`): `list<string>` and
#: `list<list<string>>`.
VALUE_COLUMNS = ("vocab", "inputs", "outputs")

STATS_FIELDS = ("layers", "heads", "mlp_hidden", "residual", "params", "nonzero_params",
                "dense_params", "heads_per_layer", "mlp_hidden_per_layer")


def schema() -> pa.Schema:
    """The Arrow schema of every shard (so that shards of refused rows only, whose model
    columns are all null, have the same types)."""
    import pyarrow as pa

    tokens = pa.list_(pa.string())
    stats = pa.struct([
        *[(name, pa.int64()) for name in STATS_FIELDS[:7]],
        *[(name, pa.list_(pa.int64())) for name in STATS_FIELDS[7:]],
    ])
    encodings = pa.list_(pa.struct([("label", pa.string()), ("encoding", pa.string())]))
    return pa.schema([
        ("index", pa.int64()),               # the program's number in the dataset
        ("seed", pa.int64()),                # program_seed(dataset seed, index)
        ("status", pa.string()),             # compiled | refused | mismatch | failed
        ("error_type", pa.string()),         # the exception class, if not compiled
        ("error_message", pa.string()),
        ("n_nodes", pa.int64()),             # len(rasp.walk(program))
        ("source", pa.string()),             # tracr_ir.testing.strategies.describe(program)
        ("rasp_ir", pa.string()),            # the rasp IR after rasp-infer-values
        ("vocab", tokens),
        ("max_seq_len", pa.int64()),
        ("compiler_bos", pa.string()),
        ("output_encoding", pa.string()),    # categorical | numerical
        ("encodings", encodings),            # every s-op of the program, operands first
        ("stats", stats),                    # CompiledModel.stats()
        ("transformer_ir", pa.string()),     # the weights: tracr_ir.backends.jax.build(text)
        ("residual_labels", pa.list_(pa.string())),
        ("inputs", pa.list_(tokens)),        # without BOS
        ("outputs", pa.list_(tokens)),       # rasp.evaluate on each input
        ("compile_seconds", pa.float64()),
    ])


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema())
