"""Every error a user of tracr-ir can cause derives from `TracrIRError`.

- `ProgramError`: an ill-formed RASP program (e.g. a Map applied to a selector).
- `UnsupportedProgramError`: a RASP program the compiler refuses, naming the node (also a
  `NotImplementedError`, which tracr raises for the programs it cannot compile).
- `ArgumentError`: a bad argument to the compiler (vocab, max_seq_len, BOS or PAD token); also
  a `ValueError`, as in tracr.
- `ValueSetError`: value-set inference failed (too large, unhashable, a raising function).
- `IRError`: malformed or ill-typed IR text or modules (parse and verify diagnostics).
- `PipelineError`: an unknown pass, a bad option, a pass that produced invalid IR.
- `EvaluationError`: a program or module raised while being evaluated on an input.
- `InputError`: a run-time input the model or interpreter cannot take.
- `ModelFileError`: a saved model that is missing, unreadable or inconsistent.
"""

from __future__ import annotations


class TracrIRError(Exception):
    """Base class of every error tracr-ir raises on purpose."""


class ProgramError(TracrIRError, TypeError):
    """An ill-formed RASP program: a node built from operands of the wrong kind."""


class UnsupportedProgramError(TracrIRError, NotImplementedError):
    """The program is valid RASP but cannot be compiled (exactly).

    A `NotImplementedError` too: code written for tracr, which raises that for the programs it
    cannot compile, catches ours."""

    def __init__(self, message: str, label: str | None = None):
        self.label = label
        super().__init__(f"{label}: {message}" if label else message)


class ArgumentError(UnsupportedProgramError, ValueError):
    """A compiler argument that cannot be used: an empty or unhashable vocab, a BOS or PAD
    token in the vocab, a max_seq_len that is not a positive int (a ValueError, as in tracr)."""


class ValueSetError(UnsupportedProgramError):
    """Value-set inference could not give a finite, hashable value set."""


class IRError(TracrIRError):
    """Malformed IR: a parse error or a verifier failure, with its location."""


class PipelineError(TracrIRError):
    """A pass pipeline could not be built or a pass failed."""


class EvaluationError(TracrIRError, ValueError):
    """Evaluating a program or interpreting a module raised on this input."""


class InputError(TracrIRError, ValueError):
    """An input sequence the model or interpreter cannot take."""


class ModelFileError(TracrIRError):
    """A saved model (`CompiledModel.save`, `tracr_ir.load`) that cannot be read or written:
    a missing file, a corrupt safetensors or JSON file, weights that do not fit the model."""
