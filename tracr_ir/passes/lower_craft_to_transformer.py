"""`lower-craft-to-transformer`: dense weights over the residual stream, layer by layer.

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
  (constants come from the `one` direction), so b_1 = b_2 = 0. A layer's MLP also holds the
  cleaning units of the positions the layout reuses after it (`craft_layout.cleaning_mlp`).
- A residual position shared by several directions (`#craft.residual<[..., x:1 | y, ...]>`)
  is one coordinate; every block is placed at its directions' positions, and the model's
  residual labels name what each position holds at the end (its last occupant). The
  `proven_optimal` attribute of the allocation is copied to the model.
- The embedding is the craft interpreter's (`interpreters.craft.embedding_tables`): `one`
  and `tokens:v` for a token, `one` and `bos` for BOS, `indices:(p-1)` at position p >= 1,
  nothing for PAD (padded keys are masked at run time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from tracr_ir.craft import blocks as craft_blocks
from tracr_ir.craft.bases import Space
from tracr_ir.dialects import craft, transformer
from tracr_ir.dialects.craft_exactness import verify_exactness
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualLayout, cleaning_mlp,
                                            cleanings, occupants)
from tracr_ir.errors import PipelineError
from tracr_ir.interpreters.craft import embedding_tables
from tracr_ir.interpreters.transformer import MLP, Head, Label, Layer, Output
from tracr_ir.passes.craft_allocate_layers import OPTIMAL_ATTR


def _placed(space: ResidualLayout, part: Space, matrix: np.ndarray, axis: int) -> np.ndarray:
    """`matrix` with its `axis` (rows 0, columns 1) spread over the residual at `part`'s
    positions (a direction without a position, read by no block, is dropped)."""
    shape = list(matrix.shape)
    shape[axis] = len(space)
    out = np.zeros(shape)
    keep, index = space.placement(part)
    if axis == 0:
        out[index, :] = matrix[keep, :]
    else:
        out[:, index] = matrix[:, keep]
    return out


def _projection(space: ResidualLayout, part: Space) -> np.ndarray:
    """P [len(space), len(part)]: reads `part`'s coordinates out of the residual."""
    return _placed(space, part, np.eye(len(part)), axis=0)


def lower_head(head: craft_blocks.AttentionHead, space: ResidualLayout) -> Head:
    if len(head.query_space) <= len(head.key_space):
        w_q, w_k = _projection(space, head.query_space), _placed(space, head.key_space,
                                                                 head.w_qk.T, axis=0)
    else:
        w_q, w_k = _placed(space, head.query_space, head.w_qk, 0), _projection(space,
                                                                               head.key_space)
    if len(head.value_space) <= len(head.out_space):
        w_v = _projection(space, head.value_space)
        w_o = _placed(space, head.out_space, head.w_ov, axis=1)
    else:
        w_v = _placed(space, head.value_space, head.w_ov, axis=0)
        w_o = _projection(space, head.out_space).T
    return Head(w_q, w_k, w_v, w_o, label=head.label)


def lower_mlps(mlps: Sequence[craft_blocks.MLPBlock], space: ResidualLayout) -> MLP | None:
    if not mlps:
        return None
    w_1 = np.concatenate([_placed(space, m.in_space, m.w1, axis=0) for m in mlps], axis=1)
    w_2 = np.concatenate([_placed(space, m.out_space, m.w2, axis=1) for m in mlps], axis=0)
    label = ",".join(m.label for m in mlps if m.label)
    return MLP(w_1, np.zeros(w_1.shape[1]), w_2, np.zeros(len(space)), label=label)


def lower_program(program: craft.ProgramOp) -> ModuleOp:
    if RESIDUAL_ATTR not in program.attributes:
        raise PipelineError("lower-craft-to-transformer needs craft-layout-residual first")
    verify_exactness(program)
    space = ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    placed: dict[int, tuple[list[Head], list[craft_blocks.MLPBlock]]] = {}
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
    ops = [op for op in program.block.ops if isinstance(op, craft.CraftOp)]
    for layer, directions in cleanings(occupants(program, ops), space).items():
        placed.setdefault(layer, ([], []))[1].append(cleaning_mlp(directions))
    n_layers = max(placed, default=-1) + 1
    layers = [
        Layer(placed.get(l, ([], []))[0], lower_mlps(placed.get(l, ([], []))[1], space))
        for l in range(n_layers)
    ]
    out_space = program.output.value.type.space  # type: ignore[attr-defined]
    kind = "numerical" if program.output.value.type.is_numerical else "categorical"  # type: ignore[attr-defined]
    token, position = embedding_tables(program, space)
    module = transformer.build_model(
        program.vocab.data, program.length, [Label.of(d) for d in space.final], token,
        position, layers, Output(kind, tuple(Label.of(d) for d in out_space)),
        bos=program.bos.data, pad=program.pad.data, causal=program.is_causal,
    )
    if OPTIMAL_ATTR in program.attributes:
        module.body.block.first_op.attributes[OPTIMAL_ATTR] = program.attributes[OPTIMAL_ATTR]
    return module


@dataclass(frozen=True)
class LowerCraftToTransformer(ModulePass):
    """Replace each `craft.program` by a `transformer.model` (see the module docstring)."""

    name = "lower-craft-to-transformer"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in list(op.walk()):
            if isinstance(program, craft.ProgramOp):
                model = lower_program(program).body.block.first_op
                assert model is not None
                model.detach()
                Rewriter.replace_op(program, model)
