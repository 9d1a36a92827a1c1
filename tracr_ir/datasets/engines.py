"""Where rows are computed: local worker processes, or Ray tasks.

An engine maps `compile_row(options, i)` over indices and yields each result as it finishes,
in any order, with at most `in_flight` programs submitted at once (so a dataset of millions
of programs never holds millions of pending tasks).

- `LocalEngine(workers)`: a `concurrent.futures.ProcessPoolExecutor` of fresh (spawned)
  processes: forking a process that has imported JAX is unsafe.
- `RayEngine(workers)`: one Ray task per program (`num_cpus=1`). `ray.init()` connects to
  the cluster in `RAY_ADDRESS` if it is set (`auto`: the one `ray start` started on this
  machine), else starts a local one of its own with `workers` CPUs and no dashboard; a
  cluster started here is shut down at the end, one already connected to
  (`ray.is_initialized()`) is left as it was. The cluster's workers must be able to import
  `tracr_ir` (install it there, or pass a `runtime_env` in `ray_init`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from tracr_ir.datasets.options import DatasetOptions
from tracr_ir.datasets.program import WorkerInfo, compile_row
from tracr_ir.datasets.values import DatasetError, require

Result = tuple[dict[str, Any], WorkerInfo]
ENGINES = ("local", "ray")


class Engine(Protocol):
    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: Any) -> None: ...

    def run(self, options: DatasetOptions, indices: Iterable[int]) -> Iterator[Result]:
        """`compile_row(options, i)` for each index, as they finish."""


def make_engine(name: str, workers: int, ray_init: dict[str, Any] | None = None) -> Engine:
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise DatasetError(f"workers must be a positive int, got {workers!r}")
    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(workers, ray_init)
    raise DatasetError(f"unknown engine '{name}' (choose {' or '.join(ENGINES)})")


class LocalEngine:
    def __init__(self, workers: int) -> None:
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            raise DatasetError("the local engine was started while a spawned worker imported "
                               "the main script: put the call under "
                               "`if __name__ == '__main__':`")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalEngine:
        self._pool = ProcessPoolExecutor(self.workers,
                                         mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, options: DatasetOptions, indices: Iterable[int]) -> Iterator[Result]:
        if self._pool is None:
            raise DatasetError("LocalEngine.run needs the engine entered (a with block)")
        pool = self._pool
        todo = iter(indices)
        pending: set[Future] = set()
        limit = 4 * self.workers
        while True:
            for index in todo:
                pending.add(pool.submit(compile_row, options, index))
                if len(pending) >= limit:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise DatasetError(
                        "a worker process died (out of memory? or a script that starts the "
                        "local engine outside `if __name__ == '__main__':`, which spawned "
                        "workers re-run); the shards written so far are kept: rerun to resume"
                    ) from None
                yield result


class RayEngine:
    def __init__(self, workers: int, ray_init: dict[str, Any] | None = None) -> None:
        require("ray")
        self.workers = workers
        self.ray_init = dict(ray_init or {})
        self._started = False
        self._remote: Any = None

    def __enter__(self) -> RayEngine:
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False}
            if not os.environ.get("RAY_ADDRESS"):  # a cluster of our own, even if
                kwargs.update(address="local", num_cpus=self.workers)  # `ray start` ran
            ray.init(**{**kwargs, **self.ray_init})
            self._started = True
        self._remote = ray.remote(num_cpus=1, max_retries=2)(compile_row)
        return self

    def __exit__(self, *exc: Any) -> None:
        import ray

        if self._started:
            ray.shutdown()
            self._started = False

    def run(self, options: DatasetOptions, indices: Iterable[int]) -> Iterator[Result]:
        import ray

        if self._remote is None:
            raise DatasetError("RayEngine.run needs the engine entered (a with block)")
        todo = iter(indices)
        options_ref = ray.put(options)
        pending: list[Any] = []
        limit = 2 * self.workers
        while True:
            for index in todo:
                pending.append(self._remote.remote(options_ref, index))
                if len(pending) >= limit:
                    break
            if not pending:
                return
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
