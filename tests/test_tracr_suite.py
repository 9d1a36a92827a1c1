"""tracr-pypi 1.0.0's own test files, run against tracr_ir (the drop-in promise).

Each of tracr's test files below is loaded from the installed tracr-pypi package (none of its
code is in this repository) in a subprocess of its own, where tracr's modules that a tracr user
imports are aliased to ours before anything imports them:

    tracr.rasp.rasp             -> tracr_ir.rasp
    tracr.rasp.causal_eval      -> tracr_ir.causal_eval
    tracr.compiler.compiling    -> tracr_ir.compiling
    tracr.compiler.lib          -> tracr_ir.lib

so `from tracr.rasp import rasp` in a test file (and in tracr's `test_cases`, which builds the
programs) gives `tracr_ir.rasp`. The subprocess runs the file's tests with unittest (they are
absltest cases) and reports each test's outcome as JSON; the test here requires every test to
pass except `DIFFERENCES`, each a deliberate difference documented in README.md ("Drop-in for
tracr"), and checks that tracr's own compiler was never imported.

Run one file by hand: `python tests/test_tracr_suite.py rasp_to_transformer_integration_test`.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import unittest
from pathlib import Path

# tracr's module -> ours, as a tracr user's `from tracr.X import Y` would be ported.
ALIASES = {
    "tracr.rasp.rasp": "tracr_ir.rasp",
    "tracr.rasp.causal_eval": "tracr_ir.causal_eval",
    "tracr.compiler.compiling": "tracr_ir.compiling",
    "tracr.compiler.lib": "tracr_ir.lib",
}

# tracr's test files (modules of the installed tracr-pypi) and how many tests each holds.
FILES = {
    "rasp_test": ("tracr.rasp.rasp_test", 5354),
    "causal_eval_test": ("tracr.rasp.causal_eval_test", 2),
    "lib_test": ("tracr.compiler.lib_test", 54),
    "rasp_to_transformer_integration_test": (
        "tracr.compiler.rasp_to_transformer_integration_test", 77),
}

_REFUSED = ("tracr refuses it (NotImplementedError); tracr_ir compiles it exactly "
            "(tests/test_dropin.py::test_programs_tracr_refuses_compile_exactly)")
_UNSUPPORTED = "CompilerIntegrationTest.test_unsupported_programs_raise_exception_"

# Tests of tracr's that fail on purpose: test id -> why.
DIFFERENCES: dict[str, dict[str, str]] = {
    "rasp_to_transformer_integration_test": {
        _UNSUPPORTED + name: _REFUSED
        for name in (
            "categorical_numerical_aggregate",  # a numerical mean of categorical tokens
            "numerical_numerical_aggregate",  # the mean of numbers 1..3, not only 0/1
            "aggregate_with_not_None_default",  # the default is never used: always one key
            "numerical_SequenceMap",  # a SequenceMap of numerical inputs
            "categorical_LinearSequenceMap",  # a LinearSequenceMap of categorical inputs
            "numerical_tokens",  # a numerical copy of tokens: an identity Map
            "numerical_indices",  # a numerical copy of indices: an identity Map
        )
    },
}

# tracr's own compiler: none of it may be imported while its tests run against ours.
_TRACR_COMPILER = ("tracr.compiler.assemble", "tracr.compiler.basis_inference",
                   "tracr.compiler.craft_graph_to_model", "tracr.compiler.expr_to_craft_graph")


### The subprocess: alias, load one tracr test module, run it, report.


def install_aliases() -> None:
    """Make tracr's user-facing modules ours, before tracr's packages are imported."""
    for theirs, ours in ALIASES.items():
        sys.modules[theirs] = importlib.import_module(ours)
    for theirs in ALIASES:  # `from tracr.rasp import rasp` also reads the package attribute
        package, _, name = theirs.rpartition(".")
        setattr(importlib.import_module(package), name, sys.modules[theirs])


class _Recorder(unittest.TestResult):
    """Each test's outcome by id (`Class.test_name`); a failing subtest fails its test."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, dict[str, str]] = {}

    @staticmethod
    def _id(test: unittest.TestCase) -> str:
        # Not `test.id()`: absl's parameterized tests append their arguments' reprs to it.
        return f"{type(test).__name__}.{test._testMethodName}"

    def _set(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        key = self._id(test)
        if self.outcomes.get(key, {}).get("outcome") in ("failed", "error"):
            return  # a failed subtest already decided
        self.outcomes[key] = {"outcome": outcome, "detail": detail[-2000:]}

    def addSuccess(self, test):  # noqa: N802 (unittest's names)
        self._set(test, "passed")

    def addFailure(self, test, err):  # noqa: N802
        self._set(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test, err):  # noqa: N802
        self._set(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):  # noqa: N802
        self._set(test, "skipped", reason)

    def addSubTest(self, test, subtest, err):  # noqa: N802
        if err is not None:
            what = "failed" if issubclass(err[0], test.failureException) else "error"
            key = self._id(test)
            self.outcomes[key] = {"outcome": what, "detail": f"{subtest.id()}: "
                                  + self._exc_info_to_string(err, test)[-2000:]}


def run_file(name: str) -> dict:
    """Run tracr's test file `name` against tracr_ir; its outcomes and what was imported."""
    install_aliases()
    module = importlib.import_module(FILES[name][0])
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = _Recorder()
    start = time.perf_counter()
    suite.run(result)
    return {
        "outcomes": result.outcomes,
        "seconds": time.perf_counter() - start,
        "rasp": getattr(module, "rasp", None).__name__ if hasattr(module, "rasp") else None,
        "tracr_compiler_imported": sorted(m for m in _TRACR_COMPILER if m in sys.modules),
    }


if __name__ == "__main__":
    report = run_file(sys.argv[1])
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(report))
    counts: dict[str, int] = {}
    for outcome in report["outcomes"].values():
        counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
    for test, outcome in sorted(report["outcomes"].items()):
        if outcome["outcome"] != "passed":
            print(f"{outcome['outcome'].upper()} {test}")
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
          f"in {report['seconds']:.1f}s")
    sys.exit(0)


### The tests.

import pytest  # noqa: E402

pytest.importorskip("tracr", reason="tracr-pypi is not installed (the `test` extra has it)")
pytest.importorskip("haiku", reason="dm-haiku is not installed (the `test` extra has it)")
pytest.importorskip("absl.testing", reason="absl-py is not installed (the `test` extra has it)")


@pytest.mark.parametrize("name", list(FILES))
def test_tracr_test_file_passes_except_documented_differences(name, tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, __file__, name, str(out)], capture_output=True,
                          text=True, timeout=900, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-5000:]
    report = json.loads(out.read_text())
    outcomes = report["outcomes"]
    assert report["tracr_compiler_imported"] == [], "tracr's own compiler ran, not ours"
    assert report["rasp"] == "tracr_ir.rasp"
    assert len(outcomes) == FILES[name][1], "tracr's file does not hold the tests it should"

    expected = DIFFERENCES.get(name, {})
    unexpected = {t: o for t, o in outcomes.items() if o["outcome"] != "passed"
                  and t not in expected}
    assert not unexpected, "\n\n".join(f"{t}: {o['outcome']}\n{o['detail']}"
                                       for t, o in sorted(unexpected.items()))
    # A documented difference that now passes should leave the list (and the README).
    now_passing = sorted(t for t in expected if outcomes.get(t, {}).get("outcome") == "passed")
    assert not now_passing, f"listed as differences but passing: {now_passing}"
    assert set(expected) <= set(outcomes), "a listed difference is not one of tracr's tests"
