"""`lower-craft-to-transformer`: weights over the residual stream, layer by layer (sparse).

```
craft.program ... attributes {residual = #craft.directions<[one, bos, tokens:1, ...]>} {
  %hist = craft.selector_width "hist_2" layer 0 ...
  %m = craft.categorical_mlp "map_3" layer 1 %hist {...}
  craft.output %m
}
```
becomes
```
transformer.model vocab {...} max_seq_len 5 ... residual [one, bos, tokens:1, ...] {
  transformer.embed token = ... position = ...
  transformer.attention layer 0 { head "hist_2" ... }
  transformer.mlp layer 0 ...      // hist_2's decoding MLP
  transformer.attention layer 1 {}
  transformer.mlp layer 1 ...      // map_3
  transformer.unembed categorical [map_3:1, ...]
}
```

Needs `craft-allocate-layers` and `craft-layout-residual` first, and refuses craft IR that
`craft-verify-exactness` refuses (a block reading a value further off than it accepts, or an
output further off than the program output may be). Each block's weights come from
its construction (`op.block(max_seq_len)`) and are placed at its spaces' rows and columns of
the residual; nothing is rescaled, so the model computes what the craft interpreter computes.
- A head with bilinear `w_qk` [query x key] and `w_ov` [value x out] becomes
  W_Q = P_q w_qk, W_K = P_k (or W_Q = P_q, W_K = P_k w_qk^T when the query space is the
  smaller) and W_V = P_v w_ov, W_O = P_out^T (or W_V = P_v, W_O = w_ov P_out^T), so each head
  is as narrow as its smaller side. The logit scale is inside w_qk.
- The MLPs of one layer are concatenated along the hidden axis; craft MLPs have no biases
  (constants come from the `one` direction), so b_1 = b_2 = 0.
- Weights are built sparse (`#transformer.sparse`: each block's non-zeros at its rows and
  columns), so the pass is linear in the blocks' sizes, not in d_model x width per layer.
  A layer's MLP also holds the
  cleaning units of the positions the layout reuses after it (`craft_layout.cleaning_mlp`),
  folded into the layer's own units relu(+-x) where it has them (`fold_cleaning`).
- A residual position shared by several directions (`#craft.residual<[..., x:1 | y, ...]>`)
  is one coordinate; every block is placed at its directions' positions, and the model's
  residual labels name what each position holds at the end (its last occupant). The
  `proven_optimal` attribute of the allocation is copied to the model, and, where positions
  are shared, `residual_history` lists each position's occupants in order (`indices:2 |
  sum_7:5`), which `CompiledModel.residual_names` and the pictures show.
- The embedding is the craft interpreter's (`interpreters.craft.embedding_tables`): `one`
  and `tokens:v` for a token, `one` and `bos` for BOS, `indices:(p-1)` at position p >= 1,
  nothing for PAD (padded keys are masked at run time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tracr_ir.craft import blocks as craft_blocks
from tracr_ir.craft.bases import Space
from tracr_ir.dialects import craft, transformer
from tracr_ir.dialects.craft_exactness import verify_exactness
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualLayout, cleaning_mlps,
                                            fold_cleaning)
from tracr_ir.errors import PipelineError
from tracr_ir.interpreters.craft import embedding_tables
from tracr_ir.dialects.transformer import HeadAttr, MLPOp, SparseAttr, WeightsAttr
from tracr_ir.model import Label, Output
from tracr_ir.passes.craft_allocate_layers import OPTIMAL_ATTR

HISTORY_ATTR = "residual_history"  # per position, its occupants in order (if any is shared)
LAYER_NORM_PLAN = "layer_norm_plan"  # craft-layer-norm's plan, applied by transformer-layer-norm


def _placed(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray,
            matrix: np.ndarray) -> SparseAttr:
    """A `shape` tensor holding `matrix` at `rows` x `cols` (sparse: only its non-zeros)."""
    r, c = np.meshgrid(rows, cols, indexing="ij")
    return SparseAttr.from_entries(shape, (r, c), matrix)


def lower_head(head: craft_blocks.AttentionHead, space: ResidualLayout) -> HeadAttr:
    """A head placed at its spaces' positions (a direction without a position, read by no
    block, is dropped)."""
    d = len(space)
    (kq, q), (kk, k), (kv, v), (ko, o) = (space.placement(s) for s in (
        head.query_space, head.key_space, head.value_space, head.out_space))
    w_qk, w_ov = head.w_qk[np.ix_(kq, kk)], head.w_ov[np.ix_(kv, ko)]
    n_qk, n_vo = min(len(q), len(k)), min(len(v), len(o))
    at, eye_qk, eye_vo = np.arange, np.eye(n_qk), np.eye(n_vo)
    if len(q) <= len(k):
        w_q, w_k = _placed((d, n_qk), q, at(n_qk), eye_qk), _placed((d, n_qk), k, at(n_qk),
                                                                    w_qk.T)
    else:
        w_q, w_k = _placed((d, n_qk), q, at(n_qk), w_qk), _placed((d, n_qk), k, at(n_qk),
                                                                  eye_qk)
    if len(v) <= len(o):
        w_v, w_o = _placed((d, n_vo), v, at(n_vo), eye_vo), _placed((n_vo, d), at(n_vo), o,
                                                                    w_ov)
    else:
        w_v, w_o = _placed((d, n_vo), v, at(n_vo), head.w_ov), _placed((n_vo, d), at(n_vo), o,
                                                                       eye_vo)
    weights = WeightsAttr.get({"w_q": w_q, "w_k": w_k, "w_v": w_v, "w_o": w_o})
    return HeadAttr(StringAttr(head.label), weights)


def lower_mlps(layer: int, mlps: Sequence[craft_blocks.MLPBlock],
               space: ResidualLayout) -> MLPOp:
    """The MLPs of one layer side by side: each block's hidden units are a column range of
    w_1 (its input space's rows) and a row range of w_2 (its output space's columns)."""
    d, hidden = len(space), sum(m.w1.shape[1] for m in mlps)
    w_1, w_2, start = [], [], 0
    for m in mlps:
        units = np.arange(start, start + m.w1.shape[1])
        keep_in, rows = space.placement(m.in_space)
        keep_out, cols = space.placement(m.out_space)
        w_1.append(_entries((d, hidden), rows, units, m.w1[keep_in, :]))
        w_2.append(_entries((hidden, d), units, cols, m.w2[:, keep_out]))
        start += m.w1.shape[1]
    weights = WeightsAttr.get({
        "w_1": _joined((d, hidden), w_1), "b_1": SparseAttr.from_entries((hidden,), [[]], []),
        "w_2": _joined((hidden, d), w_2), "b_2": SparseAttr.from_entries((d,), [[]], [])})
    label = ",".join(m.label for m in mlps if m.label)
    return MLPOp.create(properties={"layer": IntegerAttr(layer, i64), "label": StringAttr(label),
                                    "weights": weights})


def _entries(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray,
             matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, c = np.meshgrid(rows, cols, indexing="ij")
    return r.reshape(-1), c.reshape(-1), np.asarray(matrix).reshape(-1)


def _joined(shape: tuple[int, int], parts: list[tuple[np.ndarray, ...]]) -> SparseAttr:
    if not parts:
        return SparseAttr.from_entries(shape, [[], []], [])
    r, c, v = (np.concatenate(x) for x in zip(*parts))
    return SparseAttr.from_entries(shape, (r, c), v)


def lower_program(program: craft.ProgramOp) -> transformer.ModelOp:
    if RESIDUAL_ATTR not in program.attributes:
        raise PipelineError("lower-craft-to-transformer needs craft-layout-residual first")
    verify_exactness(program)
    space = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    placed: dict[int, tuple[list[HeadAttr], list[craft_blocks.MLPBlock]]] = {}
    for op in program.block.ops:
        if not isinstance(op, craft.CraftOp):
            continue
        if op.layer_index is None:
            raise PipelineError(
                f"lower-craft-to-transformer needs craft-allocate-layers first "
                f"({op.label_text} has no layer)"
            )
        heads, mlps = placed.setdefault(op.layer_index, ([], []))
        block = op.block(program.length)  # of the type its kind says
        kind = craft.block_kind(op)
        if kind == "selector_width":
            heads.append(lower_head(block.attention, space))
            mlps.append(block.mlp)
        elif kind == "attention":
            heads.append(lower_head(block, space))
        else:
            mlps.append(block)
    blocks = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    for layer, cleaning in cleaning_mlps(program, blocks, space).items():
        heads, mlps = placed.setdefault(layer, ([], []))
        mlps[:], rest = fold_cleaning(mlps, cleaning)
        mlps += [rest] if rest is not None else []
    token, position = embedding_tables(program, space)
    embed = WeightsAttr.get({"token": SparseAttr.from_array(token),
                             "position": SparseAttr.from_array(position)})
    ops: list[Operation] = [transformer.EmbedOp.create(properties={"weights": embed})]
    for layer in range(max(placed, default=-1) + 1):
        heads, mlps = placed.get(layer, ([], []))
        ops += [transformer.AttentionOp(layer, heads), lower_mlps(layer, mlps, space)]
    out_space = program.output.value.type.space  # type: ignore[attr-defined]
    kind = "numerical" if program.output.value.type.is_numerical else "categorical"  # type: ignore[attr-defined]
    ops.append(transformer.UnembedOp(Output(kind, tuple(Label.of(d) for d in out_space))))
    model = transformer.ModelOp(program.vocab_values, program.length, program.bos.data,
                                program.pad.data, program.is_causal,
                                [Label.of(d) for d in space.final], Region(Block(ops)))
    if OPTIMAL_ATTR in program.attributes:
        model.attributes[OPTIMAL_ATTR] = program.attributes[OPTIMAL_ATTR]
    if space.shared:  # what each position holds over time, for pictures and readers
        model.attributes[HISTORY_ATTR] = ArrayAttr(
            StringAttr(" | ".join(str(Label.of(d)) for d in slot)) for slot in space.slots)
    return model


@dataclass(frozen=True)
class LowerCraftToTransformer(ModulePass):
    """Replace each `craft.program` by a `transformer.model` (see the module docstring)."""

    name = "lower-craft-to-transformer"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in list(op.walk()):
            if isinstance(program, craft.ProgramOp):
                model = lower_program(program)
                if LAYER_NORM_PLAN in program.attributes:  # for transformer-layer-norm
                    model.attributes[LAYER_NORM_PLAN] = program.attributes[LAYER_NORM_PLAN]
                Rewriter.replace_op(program, model)
