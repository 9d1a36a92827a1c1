"""`generate(out, options)`: compute the missing shards of a dataset and summarise it."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any, TextIO

from tracr_ir.datasets.engines import make_engine
from tracr_ir.datasets.options import DatasetOptions
from tracr_ir.datasets.shards import finished, prepare, read, shard_files, write_shard
from tracr_ir.datasets.values import require


@dataclass(frozen=True)
class Summary:
    """The dataset after a run (`rows` .. `max_params`), and the run itself."""

    rows: int
    compiled: int
    refused: dict[str, int]  # error class -> rows
    mismatched: int
    failed: dict[str, int]
    mean_layers: float
    max_layers: int
    mean_params: float
    max_params: int
    bytes: int  # the shard files on disk
    computed: int = 0  # programs compiled by this run
    skipped_shards: int = 0  # already there
    written_shards: int = 0
    seconds: float = 0.0
    worker_max_rss_mb: dict[int, float] = field(default_factory=dict)  # pid -> peak MB

    @property
    def programs_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())) or "none"
        lines = [
            f"rows {self.rows}: compiled {self.compiled}, refused {sum(self.refused.values())}"
            f" ({refused}), mismatched {self.mismatched}, failed {sum(self.failed.values())}",
            f"models: layers mean {self.mean_layers:.1f} max {self.max_layers}; "
            f"params mean {self.mean_params:.0f} max {self.max_params}; "
            f"{self.bytes / 1e6:.2f} MB of Parquet",
            f"this run: {self.computed} programs in {self.seconds:.1f} s "
            f"({self.programs_per_second:.1f} programs/s), {self.written_shards} shards "
            f"written, {self.skipped_shards} already there",
        ]
        if self.failed:
            lines.append("failed (bugs): " + ", ".join(f"{k} {v}" for k, v in
                                                      sorted(self.failed.items())))
        if self.worker_max_rss_mb:
            peaks = list(self.worker_max_rss_mb.values())
            lines.append(f"workers: {len(peaks)}, peak memory max {max(peaks):.0f} MB, "
                         f"mean {sum(peaks) / len(peaks):.0f} MB")
        return "\n".join(lines)


class Progress:
    """A one-line progress report on a stream: done/total, programs per second, refusals."""

    def __init__(self, total: int, stream: TextIO | None, interval: float = 0.5) -> None:
        self.total, self.stream, self.interval = total, stream, interval
        self.done = self.refused = 0
        self.start = self._last = time.monotonic()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def update(self, row: dict[str, Any]) -> None:
        self.done += 1
        self.refused += row["status"] != "compiled"
        now = time.monotonic()
        if now - self._last >= (self.interval if self.tty else 10.0) or self.done == self.total:
            self._last = now
            self._show(now)

    def _show(self, now: float) -> None:
        if self.stream is None:
            return
        rate = self.done / max(now - self.start, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        line = (f"[{self.done}/{self.total}] {rate:.1f} programs/s, {self.refused} not "
                f"compiled, ~{left:.0f} s left")
        end = "" if self.tty and self.done < self.total else "\n"
        self.stream.write(("\r" if self.tty else "") + line + end)
        self.stream.flush()


def generate(out: str | Path, options: DatasetOptions, engine: str = "local",
             workers: int = 2, progress: TextIO | None = sys.stderr,
             ray_init: dict[str, Any] | None = None,
             on_row: Callable[[dict[str, Any]], None] | None = None) -> Summary:
    """Write the dataset of `options` into `out`, computing only the shards not there yet.

    `engine` is `local` (worker processes) or `ray` (Ray tasks); `workers` how many programs
    compile at once. Progress goes to `progress` (None: quiet). `ray_init` adds arguments to
    `ray.init` (e.g. `runtime_env`) when the ray engine starts or joins a cluster.
    `on_row(row)` is called with each computed row as it arrives (in any order).
    """
    out = Path(out)
    start = time.monotonic()
    require("pyarrow")
    if options.pipeline:
        from tracr_ir.compiler import parse_pipeline

        parse_pipeline(options.pipeline)  # a bad spec is one error, not n refused rows
    engine_runner = make_engine(engine, workers, ray_init)  # checks them before any work
    prepare(out, options)
    done = finished(out, options)
    todo = [s for s in range(options.n_shards) if s not in done]
    indices = [i for s in todo for i in options.shard_range(s)]
    rss: dict[int, float] = {}
    written = 0
    if indices:
        bar = Progress(len(indices), progress)
        waiting = {s: {} for s in todo}  # shard -> index -> row
        shard_of = {i: s for s in todo for i in options.shard_range(s)}
        with engine_runner as runner:
            for row, worker in runner.run(options, indices):
                rss[worker.pid] = max(rss.get(worker.pid, 0.0), worker.max_rss_mb)
                shard = shard_of[row["index"]]
                waiting[shard][row["index"]] = row
                bar.update(row)
                if on_row is not None:
                    on_row(row)
                if len(waiting[shard]) == len(options.shard_range(shard)):
                    rows = waiting.pop(shard)
                    write_shard(out, shard, [rows[i] for i in sorted(rows)])
                    written += 1
    return summarize(out, computed=len(indices), skipped=len(done), written=written,
                     seconds=time.monotonic() - start, rss=rss)


def summarize(out: str | Path, computed: int = 0, skipped: int = 0, written: int = 0,
              seconds: float = 0.0, rss: dict[int, float] | None = None) -> Summary:
    """The `Summary` of the dataset in `out` (the run figures as given)."""
    status: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    layers, params = [], []
    for row in read(out, columns=["status", "error_type", "stats"], decode=False):
        status[row["status"]] += 1
        if row["status"] == "refused":
            refused[row["error_type"]] += 1
        elif row["status"] == "failed":
            failed[row["error_type"]] += 1
        if row["stats"] is not None:
            layers.append(row["stats"]["layers"])
            params.append(row["stats"]["params"])
    return Summary(
        rows=sum(status.values()), compiled=status["compiled"], refused=dict(refused),
        mismatched=status["mismatch"], failed=dict(failed),
        mean_layers=sum(layers) / len(layers) if layers else 0.0,
        max_layers=max(layers, default=0),
        mean_params=sum(params) / len(params) if params else 0.0,
        max_params=max(params, default=0),
        bytes=sum(p.stat().st_size for p in shard_files(out)),
        computed=computed, skipped_shards=skipped, written_shards=written, seconds=seconds,
        worker_max_rss_mb=dict(rss or {}),
    )
