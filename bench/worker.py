"""Run a bench script's `--worker` mode in a subprocess with a timeout (tracr's compiles can
run for minutes, and a timed-out one must be killed, not waited for).

The worker prints `ready` once its imports and warm-up are done (not timed), then writes its
result as JSON to the path given as its last argument.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run_worker(script: str, args: list[str], timeout: float) -> dict[str, Any] | None:
    """The worker's JSON result; None if it took over `timeout` s after `ready` (killed);
    `{"error": ...}` with the tail of its stderr if it failed or died."""
    with tempfile.TemporaryDirectory() as tmp:
        out, log = Path(tmp) / "result.json", Path(tmp) / "stderr.txt"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, script, "--worker", *args, str(out)],
                stdout=subprocess.PIPE, stderr=err, text=True,
                env={**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")})
        tail = lambda: log.read_text().strip()[-300:]  # noqa: E731
        try:
            if proc.stdout is None or proc.stdout.readline().strip() != "ready":
                proc.wait()
                return {"error": "worker failed: " + tail()}
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
            if not out.exists():
                return {"error": "worker died: " + tail()}
            return json.loads(out.read_text())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
