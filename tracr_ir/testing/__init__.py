"""Testing toolkit: property-test programs, modules and passes against the RASP evaluator.

- Strategies: `programs(...)` (random RASP programs), `inputs_for(program, vocab,
  max_seq_len)`, `program_cases(...)` (a program with its vocab, length and inputs) and
  `modules(stage=...)` (verified modules at the `to_ir`, `rasp`, `craft` or `transformer`
  stage).
- `assert_equivalent(a, b, inputs)`: two RASP programs, modules, IR texts or models agree.
- `check_pass(pass_or_spec, stage=..., examples=N)`: a pass keeps every drawn module's meaning;
  a failure is shrunk and reported as IR text before and after the pass plus the input.
- `assert_round_trip(module)`: a module prints and parses back to itself.

Importing this package imports hypothesis; `import tracr_ir` does not.
"""

from tracr_ir.testing.checks import STAGES, PassCheck, check_pass, compile_to_stage, modules
from tracr_ir.testing.equivalence import assert_equivalent, input_sample, outputs_equal, run
from tracr_ir.testing.roundtrip import assert_round_trip
from tracr_ir.testing.strategies import (Case, describe, inputs_for, program_cases, programs,
                                         random_program)

__all__ = [
    "STAGES",
    "Case",
    "PassCheck",
    "assert_equivalent",
    "assert_round_trip",
    "check_pass",
    "compile_to_stage",
    "describe",
    "input_sample",
    "inputs_for",
    "modules",
    "outputs_equal",
    "program_cases",
    "programs",
    "random_program",
    "run",
]
