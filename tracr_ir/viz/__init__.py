"""Pictures of compiled models: residual streams, weights, the program graph.

```python
from tracr_ir import viz
viz.residual_figure(model, ["BOS", 3, 1, 2]).savefig("residual.png")
viz.layer_figure(model, 0).savefig("layer_0.png")
print(viz.program_dot(model))                        # Graphviz DOT text
viz.write_plots(model, ["BOS", 3, 1, 2], "plots/")   # all of them (`tracr-compile --plot`)
```
The figures need matplotlib (the `viz` extra), imported when one is drawn; the DOT text needs
nothing, and is rendered to SVG when graphviz's `dot` is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracr_ir.errors import TracrIRError
from tracr_ir.viz.graph import program_dot, render_svg

__all__ = ["layer_figure", "layer_figures", "program_dot", "render_svg", "residual_figure",
           "write_plots"]


def _plots() -> Any:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise TracrIRError("pictures need matplotlib: pip install 'tracr-ir[viz]'") from None
    from tracr_ir.viz import plots

    return plots


def residual_figure(model: Any, seq: Sequence[Any]) -> Any:
    """The residual stream of `seq` after every sublayer (`tracr_ir.viz.plots`)."""
    return _plots().residual_figure(model, seq)


def layer_figure(model: Any, layer_index: int) -> Any:
    """Layer `layer_index`'s weight matrices, labelled (`tracr_ir.viz.plots`)."""
    return _plots().layer_figure(model, layer_index)


def layer_figures(model: Any) -> list[Any]:
    """`layer_figure` of every layer."""
    return _plots().layer_figures(model)


def write_plots(model: Any, seq: Sequence[Any], directory: str | Path, dpi: int = 100
                ) -> list[Path]:
    """Write `residual.png` (of `seq`), `layer_<i>.png` for each layer, `program.dot` (when
    the model knows its rasp stage) and `program.svg` (when `dot` is installed) into
    `directory`; return the paths written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "residual.png"]
    residual_figure(model, seq).savefig(written[0], dpi=dpi)
    for i, fig in enumerate(layer_figures(model)):
        written.append(out / f"layer_{i}.png")
        fig.savefig(written[-1], dpi=dpi)
    if "rasp" in getattr(model, "ir", {}):
        text = program_dot(model)
        written.append(out / "program.dot")
        written[-1].write_text(text)
        svg = render_svg(text, out / "program.svg")
        if svg is not None:
            written.append(svg)
    return written
