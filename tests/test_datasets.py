"""Datasets of compiled programs (`tracr_ir.datasets`, `tracr-dataset`): rows, determinism,
resuming, refusals, models rebuilt from rows, the CLI, and the Ray engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")

from tracr_ir import datasets  # noqa: E402
from tracr_ir.compiler import DEFAULT_PIPELINE  # noqa: E402
from tracr_ir.datasets.program import compile_row  # noqa: E402
from tracr_ir.datasets.shards import shard_path, write_shard  # noqa: E402

OPTIONS = datasets.DatasetOptions(n=12, seed=3, shard_size=5, max_nodes=12)
# Refuses the programs with a SequenceMap over more than 8 argument pairs.
SMALL_TABLES = DEFAULT_PIPELINE.replace("lower-rasp-to-craft", "lower-rasp-to-craft{max_table=8}")


def content(rows: list[dict]) -> list[dict]:
    """The rows without their compile time, the one column that may differ between runs."""
    return [{k: v for k, v in row.items() if k != "compile_seconds"} for row in rows]


@pytest.fixture(scope="module")
def local_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "data"
    summary = datasets.generate(out, OPTIONS, engine="local", workers=2, progress=None)
    assert summary.computed == 12 and summary.written_shards == 3
    return out


def test_local_engine_gives_one_row_per_program(local_dataset: Path) -> None:
    rows = list(datasets.read(local_dataset))
    assert [row["index"] for row in rows] == list(range(12))
    assert len(datasets.shard_files(local_dataset)) == 3
    assert {row["status"] for row in rows} == {"compiled"}
    row = rows[0]
    assert row["vocab"] == [1, 2, 3] and row["max_seq_len"] == 5
    assert row["seed"] == datasets.program_seed(3, 0)
    assert row["rasp_ir"].startswith("builtin.module {\n  rasp.program vocab {1, 2, 3}")
    assert "transformer.model" in row["transformer_ir"]
    assert row["stats"]["layers"] >= 1 and row["residual_labels"][:2] == ["one", "bos"]
    assert len(row["inputs"]) == 4 and len(row["inputs"][0]) == 5  # the first at full length
    assert [len(ys) for ys in row["outputs"]] == [len(xs) for xs in row["inputs"]]
    assert row["output_encoding"] in ("categorical", "numerical")
    labels = [e["label"] for e in row["encodings"]]  # every s-op, the output last
    assert len(set(labels)) == len(labels) and f'"{labels[-1]}"' in row["rasp_ir"]
    assert row["source"] and row["compile_seconds"] > 0


def test_same_seed_same_rows_with_other_workers(local_dataset: Path, tmp_path: Path) -> None:
    again = datasets.generate(tmp_path / "again", OPTIONS, workers=1, progress=None)
    assert again.rows == 12
    assert content(list(datasets.read(tmp_path / "again"))) == \
        content(list(datasets.read(local_dataset)))
    # In-process (a worker that made other programs first) gives the same row too.
    compile_row(OPTIONS, 7)
    row, _ = compile_row(OPTIONS, 4)
    stored = list(datasets.read(local_dataset, decode=False))[4]
    assert content([row]) == content([stored])


def test_rerun_computes_only_missing_shards(local_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    for path in [*datasets.shard_files(local_dataset), local_dataset / "dataset.json"]:
        (out / path.name).write_bytes(path.read_bytes())
    shard_path(out, 1).unlink()  # lost in a crash
    (out / "part-00001.parquet.tmp123").write_bytes(b"half a shard")
    summary = datasets.generate(out, OPTIONS, workers=2, progress=None)
    assert (summary.computed, summary.skipped_shards, summary.written_shards) == (5, 2, 1)
    assert not list(out.glob("*.tmp*"))
    assert content(list(datasets.read(out))) == content(list(datasets.read(local_dataset)))
    start = time.monotonic()
    summary = datasets.generate(out, OPTIONS, workers=2, progress=None)
    assert summary.computed == 0 and summary.skipped_shards == 3
    assert time.monotonic() - start < 2.0  # no worker is started
    with pytest.raises(datasets.DatasetError, match="other options: seed 3 .asked 4"):
        datasets.generate(out, datasets.DatasetOptions(n=12, seed=4, shard_size=5,
                                                       max_nodes=12), progress=None)


def test_refused_programs_become_rows(tmp_path: Path) -> None:
    options = datasets.DatasetOptions(n=6, seed=1, pipeline=SMALL_TABLES)
    rows = [compile_row(options, i)[0] for i in range(6)]
    refused = [row for row in rows if row["status"] == "refused"]
    assert refused and len(refused) < 6
    for row in refused:
        assert row["error_type"] == "UnsupportedProgramError"
        assert "above max_table=8" in row["error_message"]
        assert row["stats"] is None and row["transformer_ir"] is None
        assert row["source"] and row["outputs"]  # the program and its semantics are kept
    write_shard(tmp_path, 0, refused)  # a shard of refused rows only keeps the schema
    (tmp_path / "dataset.json").write_text(
        '{"format": "tracr-ir-dataset", "version": 1, "options": %s}'
        % __import__("json").dumps(options.to_json()))
    [first, *_] = datasets.read(tmp_path)
    assert first["status"] == "refused" and first["stats"] is None
    with pytest.raises(datasets.DatasetError, match="has no model .refused, "
                                                    "UnsupportedProgramError"):
        datasets.model(first)
    summary = datasets.summarize(tmp_path)
    assert summary.refused == {"UnsupportedProgramError": len(refused)}


def test_models_rebuilt_from_rows_reproduce_their_examples(local_dataset: Path) -> None:
    for row in datasets.read(local_dataset):
        model = datasets.model(row)
        datasets.check_row(row, model)
        assert model.stats()["params"] == row["stats"]["params"]
    row["outputs"][0] = ["x"] * len(row["outputs"][0])  # a row the model does not reproduce
    with pytest.raises(datasets.DatasetError, match="on input"):
        datasets.check_row(row, model)


def test_schema_lists_every_column() -> None:
    from tracr_ir.datasets.schema import COLUMNS

    assert tuple(datasets.schema().names) == COLUMNS
    assert tuple(compile_row(datasets.DatasetOptions(n=1), 0)[0]) == COLUMNS


def test_values_round_trip_through_json() -> None:
    for value in (None, True, 0, 1.0, -2.5, "a", (0, "b"), ((1, 2), ()), float("inf")):
        back = datasets.decode_value(datasets.encode_value(value))
        assert back == value and type(back) is type(value)
    with pytest.raises(datasets.DatasetError):
        datasets.encode_value([1])


def test_bad_options_are_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(datasets.DatasetError, match="max_nodes .2. is below min_nodes"):
        datasets.DatasetOptions(n=1, min_nodes=3, max_nodes=2)
    with pytest.raises(datasets.DatasetError, match="vocab"):
        datasets.DatasetOptions(n=1, vocab=())
    with pytest.raises(datasets.DatasetError, match="unknown engine"):
        datasets.generate(tmp_path, datasets.DatasetOptions(n=1), engine="spark")
    with pytest.raises(datasets.DatasetError, match="not a tracr-ir dataset"):
        list(datasets.read(tmp_path / "nowhere"))


def test_cli_end_to_end(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "tracr-dataset"  # the installed entry point
    tool = [str(script)] if script.exists() else [sys.executable, "-m",
                                                   "tracr_ir.tools.dataset"]
    out = tmp_path / "cli"
    args = ["--n", "6", "--seed", "1", "--out", str(out), "--workers", "2", "--shard-size",
            "3", "--vocab", "a,b", "--max-seq-len", "4", "--nodes", "4-8"]
    done = subprocess.run([*tool, *args, "--check"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "rows 6: compiled 6" in done.stdout
    assert "check: 6 models rebuilt from their rows reproduce their examples" in done.stdout
    assert "[6/6]" in done.stderr and "programs/s" in done.stderr
    rows = list(datasets.read(out))
    assert len(rows) == 6 and rows[0]["vocab"] == ["a", "b"]
    again = subprocess.run([*tool, *args, "--quiet"], capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 0 and "0 programs" in again.stdout and not again.stderr
    bad = subprocess.run([*tool, *args[:-2], "--nodes", "9-3"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1
    assert "tracr-dataset: error: max_nodes (3) is below min_nodes (9)" in bad.stderr


@pytest.mark.ray
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # ray.init forks and execs
def test_ray_engine_gives_the_local_rows(local_dataset: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    if os.environ.get("RAY_ADDRESS"):
        pytest.skip("RAY_ADDRESS is set: this test starts its own local cluster")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        summary = datasets.generate(tmp_path / "ray", OPTIONS, engine="ray", workers=2,
                                    progress=None)
        assert ray.is_initialized()  # a cluster started by the caller is left running
    finally:
        ray.shutdown()
    assert summary.rows == 12 and len(summary.worker_max_rss_mb) >= 1
    assert content(list(datasets.read(tmp_path / "ray"))) == \
        content(list(datasets.read(local_dataset)))
