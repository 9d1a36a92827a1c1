"""Label numbering: `fresh_labels()` numbers the nodes made inside it from 1.

A node's label is its name and a process-wide counter (`map_12`, numbered when the label is
first read), so the labels (and the IR) of a program depend on what the process did before::

    with rasp.fresh_labels():
        program = lib.make_length()   # length_1, as in a fresh process
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

from tracr_ir.rasp.expr import RASPExpr


@contextlib.contextmanager
def fresh_labels(start: int = 1) -> Iterator[None]:
    """Number the labels first read inside the block from `start`; the process-wide numbering
    goes on afterwards where it was. Labels numbered inside may repeat ones numbered outside,
    so do not mix nodes from both in one program."""
    saved = RASPExpr._ids
    RASPExpr._ids = itertools.count(start)
    try:
        yield
    finally:
        RASPExpr._ids = saved
