"""Pictures of a compiled model with matplotlib: the residual stream of one input after every
sublayer, and each layer's weight matrices, every residual direction labelled.

```python
fig = residual_figure(model, ["BOS", 3, 1, 2])    # a matplotlib Figure
fig.savefig("residual.png")
for i, fig in enumerate(layer_figures(model)):     # one per layer
    fig.savefig(f"layer_{i}.png")
```
Figures are `matplotlib.figure.Figure`s made without pyplot (no global state, no display).
Sizes grow with the model so that a label always gets a row of its own: 0.15 in per residual
direction at 7 pt, so a 150-direction residual is about 24 in tall (2,400 px at 100 dpi).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["layer_figure", "layer_figures", "residual_figure"]

ROW = 0.15  # inches per labelled row or column
FONT = 7  # points
CHAR = 0.062  # inches per character of a 7 pt label


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _limit(arrays: Sequence[np.ndarray]) -> float:
    """The colour scale's half-range: the largest magnitude (at least 1e-6)."""
    return max([float(np.abs(a).max()) for a in arrays if a.size] + [1e-6])


def _group_lines(ax: Any, labels: Sequence[Any], axis: str) -> None:
    """Thin lines between runs of labels of different s-ops (`tokens:*`, `indices:*`)."""
    names = [getattr(label, "name", str(label)) for label in labels]
    for i in range(1, len(names)):
        if names[i] != names[i - 1]:
            line = ax.axhline if axis == "y" else ax.axvline
            line(i - 0.5, color="#888888", linewidth=0.4)


def _sublayer_titles(model: Any) -> list[str]:
    titles = ["embed"]
    for i, (layer, mlp) in enumerate(zip(model.weights.layers, model.weights.mlps())):
        heads = ", ".join(h.label or f"head {j}" for j, h in enumerate(layer.heads))
        titles.append(f"attn {i}\n{heads or '(no heads)'}")
        titles.append(f"mlp {i}\n{mlp.label or ('(empty)' if not mlp.hidden else '')}")
    return titles


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.fill(line.replace(",", ", "), width, break_long_words=False)
                     for line in text.split("\n"))


def residual_figure(model: Any, seq: Sequence[Any]) -> Any:
    """Heatmaps of the residual stream of `seq` (`["BOS", t1, ...]`): the embedding, then the
    residual after each attention and MLP sublayer, one panel each; rows are the residual
    directions (labelled on both sides), columns the input's tokens."""
    from matplotlib.colors import CenteredNorm

    result = model.apply(seq)
    stages = [result.embeddings, *result.residuals]
    labels = model.residual_names
    n, d = len(seq), len(labels)
    label_width = CHAR * max(len(x) for x in labels) + 0.3
    panel = max(0.9, ROW * n)
    fig = _figure(2 * label_width + len(stages) * (panel + 0.15) + 1.2, ROW * d + 2.2)
    axes = fig.subplots(1, len(stages), sharey=True, squeeze=False)[0]
    norm = CenteredNorm(0, _limit(stages))
    image = None
    chars = max(12, int(panel / CHAR))
    for k, (ax, stage, title) in enumerate(zip(axes, stages, _sublayer_titles(model))):
        image = ax.imshow(stage.T, cmap="RdBu_r", norm=norm, aspect="auto",
                          interpolation="nearest")
        ax.set_title(_wrap(title, chars), fontsize=FONT)
        ax.set_xticks(range(n), [str(t) for t in seq], fontsize=FONT, rotation=90)
        ax.tick_params(axis="y", labelsize=FONT, length=0)
        _group_lines(ax, model.weights.residual, "y")
        if k == len(stages) - 1:
            ax.tick_params(axis="y", labelright=True)
    axes[0].set_yticks(range(d), labels)
    fig.suptitle(f"residual stream of {' '.join(map(str, seq))}  "
                 f"({d} directions, {len(stages) - 1} sublayers)", fontsize=FONT + 2)
    fig.colorbar(image, ax=list(axes), shrink=min(1.0, 6 / max(ROW * d, 1e-6)), pad=0.01)
    return fig


def _nonzero(matrix: np.ndarray, axis: int) -> np.ndarray:
    return np.flatnonzero(np.abs(matrix).sum(axis=axis) > 0)


def _matrices(model: Any, layer_index: int) -> list[tuple[str, np.ndarray, list, list]]:
    """(title, matrix, row labels, column labels) of the layer, rows and columns that are
    all zero left out."""
    w = model.weights
    labels = model.residual_names
    layer, mlp = w.layers[layer_index], w.mlps()[layer_index]
    out = []
    for j, head in enumerate(layer.heads):
        name = head.label or f"head {j}"
        for kind, matrix in (("W_QK = W_Q W_Kᵀ\n(query × key)", head.w_q @ head.w_k.T),
                             ("W_OV = W_V W_O\n(read × written)", head.w_v @ head.w_o)):
            rows, cols = _nonzero(matrix, 1), _nonzero(matrix, 0)
            out.append((f"{name}\n{kind}", matrix[np.ix_(rows, cols)],
                        [labels[i] for i in rows], [labels[i] for i in cols]))
    if mlp.hidden:
        units = [str(u) for u in range(mlp.hidden)]
        rows = _nonzero(mlp.w_1, 1)
        w_in = np.vstack([mlp.w_1[rows], mlp.b_1[None]])
        out.append((f"{mlp.label or 'MLP'}\nW_in, b_in\n(read × hidden)", w_in,
                    [labels[i] for i in rows] + ["b_in"], units))
        cols = np.union1d(_nonzero(mlp.w_2, 0), np.flatnonzero(mlp.b_2))
        w_out = np.hstack([mlp.w_2[:, cols].T, mlp.b_2[cols][:, None]])
        out.append((f"{mlp.label or 'MLP'}\nW_outᵀ, b_out\n(written × hidden)", w_out,
                    [labels[i] for i in cols], units + ["b_out"]))
    return out


def layer_figure(model: Any, layer_index: int) -> Any:
    """Layer `layer_index`'s weights: each head's W_QK and W_OV, the MLP's W_in and W_out
    (with their biases), as labelled heatmaps (one colour scale per matrix)."""
    from matplotlib.colors import CenteredNorm

    matrices = _matrices(model, layer_index)
    if not matrices:
        fig = _figure(4, 1)
        fig.suptitle(f"layer {layer_index}: no heads, empty MLP", fontsize=FONT + 2)
        return fig
    label_chars = max(len(str(x)) for _, _, rows, cols in matrices for x in [*rows, *cols])
    margin = CHAR * label_chars + 0.4
    widths = [max(m.shape[1], 2) for _, m, _, _ in matrices]
    height = ROW * max(m.shape[0] for _, m, _, _ in matrices) + margin + 1.2
    fig = _figure(ROW * sum(widths) + (margin + 0.6) * len(matrices), height)
    axes = fig.subplots(1, len(matrices), squeeze=False,
                        gridspec_kw={"width_ratios": widths})[0]
    for ax, (title, matrix, rows, cols) in zip(axes, matrices):
        image = ax.imshow(matrix, cmap="RdBu_r", norm=CenteredNorm(0, _limit([matrix])),
                          aspect="equal", interpolation="nearest")
        ax.set_title(_wrap(title, max(16, int(ROW * max(matrix.shape[1], 2) / CHAR * 1.3))),
                     fontsize=FONT)
        ax.set_yticks(range(len(rows)), [str(x) for x in rows], fontsize=FONT)
        ax.set_xticks(range(len(cols)), [str(x) for x in cols], fontsize=FONT, rotation=90)
        ax.tick_params(length=0)
        if matrix.shape[1] <= 4:  # too narrow for a colour bar: the values in the cells
            for (r, c), value in np.ndenumerate(matrix):
                if value:
                    ax.text(c, r, f"{value:.3g}", ha="center", va="center", fontsize=FONT - 1,
                            color="white" if abs(value) > _limit([matrix]) / 2 else "black")
        else:
            limit = _limit([matrix])
            bar = fig.colorbar(image, ax=ax, shrink=0.6, pad=0.01, location="bottom",
                               ticks=[-limit, 0, limit], format="%.3g")
            bar.ax.tick_params(labelsize=FONT)
    fig.suptitle(f"layer {layer_index} (rows and columns that are all zero are left out)",
                 fontsize=FONT + 2)
    return fig


def layer_figures(model: Any) -> list[Any]:
    """`layer_figure` of every layer."""
    return [layer_figure(model, i) for i in range(len(model.weights.layers))]
