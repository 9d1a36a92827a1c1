"""One row: draw program `index`, compile it, and describe it (runs in a worker process).

`compile_row(options, index)` never raises for a program: a refusal (any `TracrIRError`)
gives a row with status `refused`, another exception (a bug) status `failed`, and a model
whose transformer interpreter disagrees with `rasp.evaluate` on the row's inputs status
`mismatch`, each with `error_type` and `error_message`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tracr_ir.datasets.options import DatasetOptions, program_seed
from tracr_ir.datasets.schema import COLUMNS, STATS_FIELDS
from tracr_ir.datasets.values import encode_value
from tracr_ir.errors import TracrIRError

#: The tolerance on numerical outputs (that of `tracr_ir.testing.assert_equivalent`).
ABS_TOL = 1e-4


@dataclass(frozen=True)
class WorkerInfo:
    """Where and how a row was made: the worker's pid and its peak resident memory."""

    pid: int
    max_rss_mb: float


def compile_row(options: DatasetOptions, index: int) -> tuple[dict[str, Any], WorkerInfo]:
    """The row of program `index` and the worker that made it."""
    with _fresh_labels():
        row = _row(options, index)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return row, WorkerInfo(os.getpid(), round(rss, 1))


@contextlib.contextmanager
def _fresh_labels() -> Iterator[None]:
    """Number the labels of the nodes made meanwhile from 1, as in a fresh process, and
    keep the front end's style warnings (`SequenceMap of x with itself`) quiet.

    A node's label is its name and a process-wide counter (`map_12`), so without this a
    program's IR would depend on which programs its worker made before it.
    """
    from tracr_ir.rasp import fresh_labels

    log = logging.getLogger("tracr_ir.rasp")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with fresh_labels():
            yield
    finally:
        log.setLevel(level)


def _row(options: DatasetOptions, index: int) -> dict[str, Any]:
    from tracr_ir import rasp
    from tracr_ir.testing.strategies import describe, random_program

    seed = program_seed(options.seed, index)
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(index=index, seed=seed, status="compiled",
               vocab=[encode_value(v) for v in options.vocab],
               max_seq_len=options.max_seq_len, compiler_bos=options.compiler_bos)
    rng = random.Random(seed)
    try:
        n_nodes = rng.randint(options.min_nodes, options.max_nodes)
        program = random_program(rng, n_nodes, options.vocab, options.max_seq_len,
                                 numerical=options.numerical,
                                 composite_selectors=options.composite_selectors,
                                 full=options.full)
        nodes = rasp.walk(program)
        row["n_nodes"] = len(nodes)
        row["encodings"] = [{"label": node.label, "encoding": rasp.get_encoding(node).value}
                            for node in nodes if isinstance(node, rasp.SOp)]
        row["output_encoding"] = rasp.get_encoding(program).value
        row["source"] = describe(program)
        inputs = _inputs(rng, options)
        outputs = [rasp.evaluate(program, xs) for xs in inputs]
        row["inputs"] = [[encode_value(v) for v in xs] for xs in inputs]
        row["outputs"] = [[encode_value(v) for v in ys] for ys in outputs]
    except Exception as e:  # noqa: BLE001 - a generator bug must not stop the dataset
        return _error(row, "failed", e)
    return _compile(row, program, options, inputs, outputs)


def _inputs(rng: random.Random, options: DatasetOptions) -> list[list[Any]]:
    """`n_examples` inputs over the vocab; the first has the full length `max_seq_len`."""
    tokens = list(options.vocab)  # canonical order
    lengths = [options.max_seq_len] + [rng.randint(1, options.max_seq_len)
                                       for _ in range(options.n_examples - 1)]
    return [[rng.choice(tokens) for _ in range(n)] for n in lengths[:options.n_examples]]


def _compile(row: dict[str, Any], program: Any, options: DatasetOptions,
             inputs: list[list[Any]], outputs: list[list[Any]]) -> dict[str, Any]:
    from tracr_ir.backends.jax import build
    from tracr_ir.compiler import default_pipeline, print_module, run_pipeline, to_ir

    captured: dict[str, str] = {}

    def keep_rasp(previous: Any, module: Any, _next: Any) -> None:
        if previous is not None and previous.name == "rasp-infer-values":
            captured["rasp"] = print_module(module)

    start = time.perf_counter()
    try:
        module = to_ir(program, options.vocab, options.max_seq_len, options.compiler_bos,
                       options.compiler_pad)
        run_pipeline(module, options.pipeline or default_pipeline(), callback=keep_rasp)
        model = build(module)
    except Exception as e:  # noqa: BLE001 - refusals (and bugs) become rows
        row["rasp_ir"] = captured.get("rasp")
        return _error(row, "refused" if isinstance(e, TracrIRError) else "failed", e)
    seconds = time.perf_counter() - start
    row["rasp_ir"] = captured.get("rasp")
    try:
        stats = model.stats()
        described = {"compile_seconds": seconds, "transformer_ir": print_module(module),
                     "stats": {name: stats.get(name) for name in STATS_FIELDS},
                     "residual_labels": list(model.residual_labels)}
        mismatch = _first_mismatch(module, inputs, outputs)
    except Exception as e:  # noqa: BLE001 - a bug must not stop the dataset
        return _error(row, "failed", e)
    row.update(described)
    if mismatch:
        row["status"], row["error_type"], row["error_message"] = "mismatch", "Mismatch", mismatch
    return row


def _first_mismatch(module: Any, inputs: list[list[Any]], outputs: list[list[Any]]) -> str:
    """How the model (run by the transformer interpreter, the JAX model's code in numpy)
    differs from `rasp.evaluate` on the row's inputs, or "" if it does not."""
    from tracr_ir.compiler import format_output, interpret
    from tracr_ir.testing.equivalence import outputs_equal

    for xs, want in zip(inputs, outputs):
        try:
            got = interpret(module, xs)
        except TracrIRError as e:
            return f"on input {format_output(xs)} the model raised {type(e).__name__}: {e}"
        if not outputs_equal(got, want, ABS_TOL):
            return (f"on input {format_output(xs)} the model gives {format_output(got)}, "
                    f"rasp.evaluate {format_output(want)}")
    return ""


def _error(row: dict[str, Any], status: str, error: BaseException) -> dict[str, Any]:
    row["status"], row["error_type"] = status, type(error).__name__
    row["error_message"] = (str(error).strip() or type(error).__name__)[:2000]
    return row
