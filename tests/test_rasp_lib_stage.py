"""Every lib program at the rasp stage (after rasp-infer-values) equals `rasp.evaluate`."""

import pytest

from tracr_ir import rasp
from tracr_ir.compiler import interpret, run_pipeline, to_ir

from lib_cases import LIB_CASES, lengths

PARAMS = [(case, n) for case in LIB_CASES for n in lengths(case)]


@pytest.mark.parametrize("case, max_seq_len", PARAMS,
                         ids=[f"{c.name}-{n}" for c, n in PARAMS])
def test_lib_program_rasp_stage(case, max_seq_len):
    program = case.make(max_seq_len)
    module = run_pipeline(to_ir(program, case.vocab, max_seq_len), "rasp-infer-values")
    for xs in case.inputs(max_seq_len, 40):
        assert interpret(module, xs) == rasp.evaluate(program, xs), xs
