"""A dataset directory: `dataset.json` (the options) and one Parquet file per shard.

```
DIR/dataset.json            {"format": "tracr-ir-dataset", "version": 1, "options": {...}}
DIR/part-00000.parquet      rows 0 .. shard_size-1
DIR/part-00001.parquet      ...
```
Each shard is written to `part-NNNNN.parquet.tmp` and renamed (atomic on POSIX), so a shard
file is complete or absent; a rerun keeps the complete ones and deletes leftover `.tmp`s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tracr_ir.datasets.options import FORMAT_VERSION, DatasetOptions
from tracr_ir.datasets.schema import to_table
from tracr_ir.datasets.values import DatasetError, decode_row, require

META = "dataset.json"
_FORMAT = "tracr-ir-dataset"


def shard_path(out: Path, shard: int) -> Path:
    return out / f"part-{shard:05d}.parquet"


def prepare(out: Path, options: DatasetOptions) -> None:
    """Create `out` for `options`, or check that the dataset already there has them."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    meta = out / META
    if meta.exists():
        saved = load_options(out)
        if saved != options:
            diff = [f"{k} {v!r} (asked {options.to_json()[k]!r})"
                    for k, v in saved.to_json().items() if options.to_json()[k] != v]
            raise DatasetError(f"{out} holds a dataset with other options: "
                               f"{'; '.join(diff)}; use another directory or the same options")
    else:
        if any(out.glob("part-*.parquet")):
            raise DatasetError(f"{out} holds shards but no {META}: not a tracr-ir dataset")
        _write_atomic(meta, json.dumps({"format": _FORMAT, "version": FORMAT_VERSION,
                                        "options": options.to_json()}, indent=1).encode())
    for stale in out.glob("part-*.parquet.tmp*"):
        stale.unlink()


def load_options(out: Path) -> DatasetOptions:
    """The options of the dataset in `out`."""
    try:
        data = json.loads((out / META).read_text())
    except FileNotFoundError:
        raise DatasetError(f"{out} is not a tracr-ir dataset (no {META})") from None
    except ValueError as e:
        raise DatasetError(f"{out / META} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise DatasetError(f"{out / META} does not describe a tracr-ir dataset")
    if data.get("version") != FORMAT_VERSION:
        raise DatasetError(f"{out} has dataset format version {data.get('version')}; this "
                           f"tracr-ir reads version {FORMAT_VERSION}")
    return DatasetOptions.from_json(data["options"])


def finished(out: Path, options: DatasetOptions) -> set[int]:
    """The shards of `out` already written completely (their row count checked)."""
    import pyarrow.parquet as pq

    done = set()
    for shard in range(options.n_shards):
        path = shard_path(out, shard)
        if not path.exists():
            continue
        try:
            rows = pq.read_metadata(path).num_rows
        except Exception:  # noqa: BLE001 - an unreadable file is recomputed
            rows = -1
        if rows == len(options.shard_range(shard)):
            done.add(shard)
        else:
            path.unlink()
    return done


def write_shard(out: Path, shard: int, rows: Sequence[dict[str, Any]]) -> int:
    """Write one shard atomically; returns its size in bytes."""
    import pyarrow.parquet as pq

    path = shard_path(out, shard)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    pq.write_table(to_table(list(rows)), tmp, compression="zstd")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path.stat().st_size


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def shard_files(out: str | Path) -> list[Path]:
    """The shard files of the dataset in `out`, in row order."""
    out = Path(out)
    load_options(out)
    return sorted(out.glob("part-*.parquet"))


def read(out: str | Path, columns: Sequence[str] | None = None,
         decode: bool = True) -> Iterator[dict[str, Any]]:
    """The rows of the dataset in `out` as dicts, in index order.

    `columns` selects columns (default: all). With `decode` (the default) the tokens of
    `vocab`, `inputs` and `outputs` are Python values; else their JSON text, as stored.
    """
    require("pyarrow")
    import pyarrow.parquet as pq

    for path in shard_files(out):
        try:
            table = pq.read_table(path, columns=list(columns) if columns else None)
        except (OSError, ValueError, KeyError) as e:
            raise DatasetError(f"cannot read {path}: {e}") from None
        for row in table.to_pylist():
            yield decode_row(row) if decode else row
