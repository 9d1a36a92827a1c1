"""Pictures: the residual heatmaps hold the model's residuals under legible labels (checked on
the rendered text boxes, 155 directions included), the layer weights, the program graph as
DOT (and SVG through `dot`), and `tracr-compile --plot`."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tracr_ir import compile_rasp_to_model, lib, rasp, viz

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def sort_model():
    return compile_rasp_to_model(lib.make_sort_unique(rasp.tokens, rasp.tokens), [1, 2, 3, 4], 4)


@pytest.fixture(scope="module")
def wide_model():  # 155 residual directions
    return compile_rasp_to_model(lib.make_sort_freq(10), [1, 2, 3, 4, 5], 10)


def _boxes(fig, labels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return [label.get_window_extent(renderer) for label in labels if label.get_text()]


def _assert_apart(boxes, axis: str):
    """Consecutive tick labels do not overlap (one row or column each)."""
    lo, hi = ("y0", "y1") if axis == "y" else ("x0", "x1")
    spans = sorted((getattr(b, lo), getattr(b, hi)) for b in boxes)
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 <= b0 + 0.5, f"tick labels overlap: {(a0, a1)} and {(b0, b1)}"


def test_residual_figure_shows_the_residuals_labelled(sort_model):
    seq = ["BOS", 3, 1, 4, 2]
    fig = viz.residual_figure(sort_model, seq)
    result = sort_model.apply(seq)
    stages = [result.embeddings, *result.residuals]
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"][: len(stages)]
    assert len(panels) == len(stages) == 1 + 2 * len(sort_model.weights.layers)
    for ax, stage in zip(panels, stages):
        np.testing.assert_array_equal(ax.images[0].get_array(), stage.T)
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(t) for t in seq]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == sort_model.residual_labels
    output = sort_model.weights.output.labels[0].name  # labels are numbered per process
    assert output in panels[3].get_title()  # the attention of layer 1 and its head


@pytest.mark.parametrize("model_name", ["sort_model", "wide_model"])
def test_labels_are_legible(request, model_name):
    model = request.getfixturevalue(model_name)
    seq = ["BOS", *[model.weights.vocab[i % len(model.weights.vocab)]
                    for i in range(model.weights.max_seq_len)]]
    fig = viz.residual_figure(model, seq)
    first = fig.axes[0]
    assert len(first.get_yticklabels()) == model.weights.d_model
    assert min(t.get_fontsize() for t in first.get_yticklabels()) >= 7
    _assert_apart(_boxes(fig, first.get_yticklabels()), "y")
    _assert_apart(_boxes(fig, first.get_xticklabels()), "x")
    for i in range(len(model.weights.layers) if model_name == "sort_model" else 1):
        layer = viz.layer_figure(model, i)
        for ax in layer.axes:
            if ax.images:
                _assert_apart(_boxes(layer, ax.get_yticklabels()), "y")
                _assert_apart(_boxes(layer, ax.get_xticklabels()), "x")


def test_layer_figure_holds_each_heads_circuits(sort_model):
    w = sort_model.weights
    fig = viz.layer_figure(sort_model, 1)
    head = w.layers[1].heads[0]
    qk = head.w_q @ head.w_k.T
    panels = [ax for ax in fig.axes if ax.images and "W_QK" in ax.get_title()]
    assert len(panels) == len(w.layers[1].heads) == 1
    rows = [t.get_text() for t in panels[0].get_yticklabels()]
    cols = [t.get_text() for t in panels[0].get_xticklabels()]
    index = {label: i for i, label in enumerate(sort_model.residual_labels)}
    expected = qk[np.ix_([index[r] for r in rows], [index[c] for c in cols])]
    np.testing.assert_array_equal(panels[0].images[0].get_array(), expected)
    assert np.abs(qk).sum() == np.abs(expected).sum()  # only all-zero rows/columns left out


def test_program_dot(sort_model):
    from tracr_ir.compiler import parse_module, stage_op
    from tracr_ir.dialects.rasp import OutputOp

    program = stage_op(parse_module(sort_model.ir["rasp"]))
    ops = [op for op in program.body.block.ops if not isinstance(op, OutputOp)]
    output = sort_model.weights.output.labels[0].name
    text = viz.program_dot(sort_model)
    nodes = re.findall(r'^  "([^"]+)" \[label=', text, re.M)
    assert nodes == ["tokens", "indices", *(op.label.data for op in ops)]
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)";', text, re.M)
    assert len(edges) == sum(len(op.operands) for op in ops)
    assert (ops[-2].label.data, output) in edges  # the select the aggregate reads
    assert f'"{output}" [peripheries=2];' in text  # the output
    assert "layer 1 attention" in text and "selector_width" in text
    alone = viz.program_dot(sort_model.ir["rasp"])  # rasp IR text: no placements known
    assert "layer" not in alone and re.findall(r'^  "([^"]+)" \[label=', alone, re.M) == nodes


def test_render_svg_runs_dot(tmp_path):
    fake = tmp_path / "dot"  # stands in for graphviz: records its arguments, writes the file
    fake.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n"
                    "cat > /dev/null; echo '<svg/>' > \"$3\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = viz.render_svg("digraph { a -> b }", tmp_path / "g.svg", dot=str(fake))
    assert out == tmp_path / "g.svg" and out.read_text() == "<svg/>\n"
    assert (tmp_path / "args").read_text().split() == ["-Tsvg", "-o", str(out)]
    old = os.environ["PATH"]
    try:
        os.environ["PATH"] = str(tmp_path / "nowhere")
        assert viz.render_svg("digraph {}", tmp_path / "h.svg") is None
    finally:
        os.environ["PATH"] = old


@pytest.mark.skipif(not __import__("shutil").which("dot"), reason="graphviz is not installed")
def test_render_svg_with_graphviz(sort_model, tmp_path):
    svg = viz.render_svg(viz.program_dot(sort_model), tmp_path / "p.svg")
    output = sort_model.weights.output.labels[0].name
    assert "<svg" in svg.read_text() and output in svg.read_text()


def test_tracr_compile_plot(tmp_path):
    root = Path(__file__).parent.parent
    out = subprocess.run([sys.executable, "-m", "tracr_ir.tools.compile",
                          "examples/programs.py:frac_prevs", "--vocab", "x,a,b",
                          "--max-seq-len", "4", "--plot", str(tmp_path / "plots"),
                          "--plot-input", "x a x"], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = {p.name for p in (tmp_path / "plots").iterdir()}
    assert {"residual.png", "layer_0.png", "layer_1.png", "program.dot"} <= names
    assert (tmp_path / "plots" / "residual.png").read_bytes()[:4] == b"\x89PNG"
    assert "frac_prevs" in (tmp_path / "plots" / "program.dot").read_text()
    bad = subprocess.run([sys.executable, "-m", "tracr_ir.tools.compile",
                          "examples/programs.py:frac_prevs", "--vocab", "x", "--max-seq-len",
                          "2", "--emit", "rasp", "--plot", str(tmp_path)], cwd=root,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--plot draws the compiled model" in bad.stderr
