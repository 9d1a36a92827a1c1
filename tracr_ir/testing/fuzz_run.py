"""Running fuzz cases (`tracr_ir.testing.fuzz`) through the parser and `tracr-opt`.

A case passes when the answer is a diagnostic: `parse_failure` and `opt_failure` return None,
or else a report of the unhandled exception (with its traceback) to reproduce it. From the
command line:

```
python -m tracr_ir.testing.fuzz_run 1234 [--salt SALT]     # replay case 1234
python -m tracr_ir.testing.fuzz_run --run 20000 --salt s1  # a campaign; prints failing cases
```
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from tracr_ir.testing.fuzz import Case, cases

__all__ = ["REST_OF_PIPELINE", "case_failure", "main", "opt_failure", "parse_failure", "replay"]

# The passes that take a module of each stage to the end of the pipeline (for `tracr-opt`).
REST_OF_PIPELINE: dict[str, str] = {
    "rasp": "rasp-infer-values,rasp-verify-causal,lower-rasp-to-craft,craft-allocate-layers,"
            "craft-layout-residual,lower-craft-to-transformer",
    "craft": "craft-allocate-layers,craft-layout-residual,lower-craft-to-transformer",
    "transformer": "",
}

_LOCATION = re.compile(r"\Aparse error: \S+:\d+:\d+\n")
_PASS_BUG = "invalid IR after pass"  # a pass turned valid IR into invalid IR
_DIAGNOSTIC = re.compile(r"\A(\S+:\d+:\d+: error: |tracr-opt: error: )")


def parse_failure(text: str) -> str | None:
    """None when `tracr_ir.compiler.parse_module(text)` parses and verifies, or raises an
    `IRError` (a parse error carrying its `FILE:LINE:COL`); else what went wrong."""
    from tracr_ir.compiler import parse_module
    from tracr_ir.errors import IRError

    try:
        parse_module(text)
    except IRError as e:
        message = str(e)
        if message.startswith("parse error:") and not _LOCATION.match(message):
            return f"a parse error without a location: {message}"
    except Exception:  # noqa: BLE001 - what the fuzzer looks for
        return traceback.format_exc()
    return None


def opt_failure(text: str, passes: str, path: Path) -> str | None:
    """None when `tracr-opt FILE -p passes` (run in-process on `text` written to `path`)
    exits 0, or 1 with a diagnostic (`FILE:LINE:COL: error: ...` or `tracr-opt: error: ...`,
    but not `invalid IR after pass`: a pass must not break valid IR); else what went wrong,
    with the traceback of a run with `--debug`."""
    from tracr_ir.tools.opt import main

    path.write_text(text, encoding="utf-8")
    args = [str(path), *(["-p", passes] if passes else [])]
    status, _, err = _run_main(main, args)
    if status == 0 or (status == 1 and _DIAGNOSTIC.match(err) and _PASS_BUG not in err):
        return None
    try:
        _run_main(main, [*args, "--debug"])
        trace = "(no exception with --debug)"
    except Exception:  # noqa: BLE001 - the bug being reported
        trace = traceback.format_exc()
    return f"tracr-opt {' '.join(args)} exited {status}:\n{err}\n{trace}"


def _run_main(main: Callable[[list[str]], int], args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 2
    return status, out.getvalue(), err.getvalue()


def case_failure(case: Case, path: Path) -> str | None:
    """The parser's failure on the case, else tracr-opt's (running the rest of the pipeline
    from the case's stage, no pass for a stage of another dialect), else None."""
    passes = REST_OF_PIPELINE.get(case.seed.stage, "")
    return parse_failure(case.text) or opt_failure(case.text, passes, path)


def replay(index: int, salt: str = "tracr-ir") -> str:
    """A report on case `index`: its seed, its text and how it fails (if it does)."""
    case = next(cases(1, index, salt))
    with tempfile.TemporaryDirectory() as tmp:
        failure = case_failure(case, Path(tmp) / f"case{index}.mlir")
    return (f"// case {index}, salt {salt!r}, seed {case.seed.name}\n{case.text}\n"
            f"// {failure or 'a diagnostic or success, as it should be'}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Replay one case, or run `--run N` cases from `--start` and print the failing ones."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tracr_ir.testing.fuzz_run")
    parser.add_argument("case", type=int, nargs="?", help="replay this case")
    parser.add_argument("--salt", default="tracr-ir")
    parser.add_argument("--run", type=int, default=0, metavar="N")
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args(argv)
    if args.case is not None:
        print(replay(args.case, args.salt))
        return 0
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases(args.run, args.start, args.salt):
            if failure := case_failure(case, Path(tmp) / "case.mlir"):
                failed += 1
                print(f"case {case.index} ({case.seed.name}): {failure.strip().splitlines()[-1]}",
                      flush=True)
    print(f"{failed} of {args.run} cases failed")
    return int(failed > 0)


if __name__ == "__main__":
    raise SystemExit(main())
