"""Fuzzing of the IR text: random and mutated texts (`tracr_ir.testing.fuzz`) given to the
parser and to `tracr-opt` get a diagnostic, never an unhandled Python exception.

The default profile runs 2,500 cases through the parser and the first 1,500 of them through
`tracr-opt` (about 45 s); `HYPOTHESIS_PROFILE=slow` runs 20,000 through each. A failure names
the case; replay it alone with
`python -m tracr_ir.testing.fuzz_run CASE --salt SALT`.
"""

import os

import pytest

from tracr_ir.testing.fuzz import Case, cases
from tracr_ir.testing.fuzz_run import REST_OF_PIPELINE, opt_failure, parse_failure

SLOW = os.environ.get("HYPOTHESIS_PROFILE") == "slow"
N_PARSE = 20_000 if SLOW else 2_500
N_OPT = 20_000 if SLOW else 1_500  # a case costs ~4x more in tracr-opt (passes, printing)
CHUNKS = 8  # the cases run in chunks, so that pytest-xdist spreads them over workers
SALT = "tracr-ir"


def chunk(i: int, n: int) -> list[Case]:
    """The i-th of `CHUNKS` chunks of the first `n` cases."""
    size = -(-n // CHUNKS)
    start = i * size
    return list(cases(max(0, min(size, n - start)), start=start, salt=SALT))


def report(failures: list[tuple[Case, str]]) -> str:
    shown = []
    for case, failure in failures[:3]:
        shown.append(f"case {case.index} (seed {case.seed.name}, salt {SALT!r}; replay: python "
                     f"-m tracr_ir.testing.fuzz_run {case.index} --salt {SALT})\n"
                     f"--- text ---\n{case.text}\n--- failure ---\n{failure}")
    return f"{len(failures)} fuzz case(s) failed:\n\n" + "\n\n".join(shown)


@pytest.mark.parametrize("i", range(CHUNKS))
def test_parser_gives_diagnostics(i):
    failures = [(case, f) for case in chunk(i, N_PARSE) if (f := parse_failure(case.text))]
    assert not failures, report(failures)


@pytest.mark.parametrize("i", range(CHUNKS))
def test_tracr_opt_gives_diagnostics(i, tmp_path):
    path = tmp_path / "case.mlir"
    failures = [(case, f) for case in chunk(i, N_OPT)
                if (f := opt_failure(case.text, REST_OF_PIPELINE[case.seed.stage], path))]
    assert not failures, report(failures)
