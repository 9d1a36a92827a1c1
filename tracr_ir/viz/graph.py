"""The program graph as Graphviz DOT text, from the rasp (and craft) IR of a compilation.

```python
text = program_dot(model)          # or a rasp module / its IR text
render_svg(text, "program.svg")    # with graphviz's `dot` when installed, else None
```
One node per s-op and selector, labelled with its RASP label, its op and encoding (and the
value set when short); `tokens` and `indices` are the inputs, the output has a double border.
When the craft stage is known each block's node also says where it runs (`layer 1 MLP`).
No third-party package is needed for the text.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tracr_ir.errors import IRError, TracrIRError

__all__ = ["program_dot", "render_svg"]

_COLORS = {"attention": "#dbe9f6", "MLP": "#fde3c8", "attention + MLP": "#e6dcf2",
           "input": "#e6e6e6", "selector": "#ffffff"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _module(source: Any, stage: str) -> Any:
    """The `stage` module of a model (its `ir`), a module or IR text; None if unknown."""
    from tracr_ir.ir_text import parse_module

    ir = getattr(source, "ir", None)
    if ir is not None:
        if stage not in ir:
            return None
        source = ir[stage]
    return parse_module(source) if isinstance(source, str) else source


def _placements(source: Any) -> dict[str, str]:
    """Label -> `layer N attention|MLP` from the craft stage (empty when not known)."""
    from tracr_ir.dialects.craft_base import CraftOp
    from tracr_ir.dialects.program import stage_op

    craft = _module(source, "craft") if getattr(source, "ir", None) is not None else None
    if craft is None:
        return {}
    where = {}
    for op in stage_op(craft).body.block.ops:
        if isinstance(op, CraftOp) and op.layer_index is not None:
            kind = "MLP" if op.name.endswith("_mlp") else "attention"
            if op.name == "craft.selector_width":
                kind = "attention + MLP"
            where[op.label.data] = f"layer {op.layer_index} {kind}"
    return where


def program_dot(source: Any, max_values: int = 6) -> str:
    """DOT text of the program graph of a `CompiledModel` (its rasp and craft stage IR), a
    rasp module, or rasp IR text."""
    from tracr_ir.dialects import rasp
    from tracr_ir.dialects.program import stage_op
    from tracr_ir.values import format_value_set

    module = _module(source, "rasp")
    if module is None:
        raise TracrIRError("the model has no rasp stage IR to draw (it was built from "
                           "transformer IR alone)")
    program = stage_op(module)
    if not isinstance(program, rasp.ProgramOp):
        raise IRError(f"program_dot draws a rasp.program, got {program.name}")
    where = _placements(source)
    lines = ["digraph program {", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
             '  edge [color="#555555"];']
    names: dict[Any, str] = {}
    for arg, name in zip(program.body.block.args, ("tokens", "indices")):
        names[arg] = name
        lines.append(f"  {_quote(name)} [label={_quote(name)}, fillcolor=\"{_COLORS['input']}\"];")
    output = None
    for op in program.body.block.ops:
        if isinstance(op, rasp.OutputOp):
            output = names.get(op.operands[0])
            continue
        label = op.label.data
        names[op.results[0]] = label
        kind = op.name.split(".", 1)[1]
        result = op.results[0].type
        text = [label, kind]
        if isinstance(result, rasp.SOpType):
            text[1] += f" · {result.encoding.data}"
            values = result.value_set
            if values is not None and len(values) <= max_values:
                text.append(format_value_set(values))
        elif getattr(op, "comparison", None) is not None:
            text[1] += f" {op.comparison.data.value}"
        place = where.get(label)
        if place:
            text.append(place)
        color = _COLORS["selector"] if isinstance(result, rasp.SelectorType) else "#ffffff"
        if place:
            color = _COLORS[place.split(" ", 2)[2]]
        shape = ", shape=ellipse" if isinstance(result, rasp.SelectorType) else ""
        lines.append(f"  {_quote(label)} [label={_quote(chr(10).join(text))}, "
                     f"fillcolor=\"{color}\"{shape}];")
        for operand in op.operands:
            lines.append(f"  {_quote(names[operand])} -> {_quote(label)};")
    if output is not None:
        lines.append(f"  {_quote(output)} [peripheries=2];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot_text: str, path: str | Path, dot: str | None = None) -> Path | None:
    """Render DOT text to an SVG file with graphviz's `dot`; None (nothing written) when
    `dot` is not installed."""
    dot = dot or shutil.which("dot")
    if dot is None:
        return None
    result = subprocess.run([dot, "-Tsvg", "-o", str(path)], input=dot_text, text=True,
                            capture_output=True)
    if result.returncode != 0:
        raise TracrIRError(f"dot failed ({result.returncode}): {result.stderr.strip()}")
    return Path(path)
