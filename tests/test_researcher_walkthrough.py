"""examples/researcher_walkthrough.py runs end to end and shows what it says it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformer_lens")
pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).parent.parent / "examples" / "researcher_walkthrough.py"


def test_walkthrough(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    assert lines["rasp.evaluate"] == "[True, 0.5, 0.6666666666666666, 0.75]"
    decoded = [round(float(x), 4) for x in lines["TransformerLens decodes"].strip("[]").split(",")]
    assert decoded == [1.0, 0.5, 0.6667, 0.75]
    assert lines["query 4 attends to keys"] == "[0.0, 0.25, 0.25, 0.25, 0.25]"
    assert lines["with the pattern patched"] == "[0.0, 0.0, 0.0, 0.0]"
    assert lines["loaded"] == lines["model.apply"]
    written = {p.name for p in tmp_path.iterdir()}
    assert {"residual.png", "layer_0.png", "layer_1.png", "program.dot", "frac_x.mlir",
            "frac_x.safetensors", "frac_x.json"} <= written
