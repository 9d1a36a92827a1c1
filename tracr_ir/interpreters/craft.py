"""Interpreter of the `craft` dialect: the numpy reference forward of every block, in float32.

`tracr_ir.compiler.interpret(craft_module, xs)` lands here. The program runs on the residual
its `residual` layout describes (`tracr_ir.dialects.craft_layout`; before the layout pass,
one position per direction of every space of every block, `residual_space`): position 0 is
BOS (`one` and `bos` only), position i >= 1 holds `one`, `tokens:xs[i-1]` and `indices:i-1`.
Once layers are allocated the blocks run by sublayer, as the model runs them: the parts of
one sublayer read the same residual and their updates (`craft.blocks.block_update`: the
actual float32 weights of each construction) are summed, and an MLP sublayer cleans the
positions the layout reuses, so a layout that overwrites a live value computes a wrong
answer here too (and `craft_layout.check_layout` refuses it first). Without layers the
blocks run one after the other in program order.
A batch of inputs of different lengths runs at once, padded and masked
(`interpret_batch`); padded keys never get attention weight.

Decoding: a categorical s-op is the value of its largest coordinate if that exceeds 1/2, else
None; a numerical s-op is its coordinate (a float).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import numpy as np
from xdsl.ir import SSAValue

from tracr_ir.craft import blocks as craft_blocks
from tracr_ir.craft.bases import BOS, ONE, Direction, Space, decode_categorical, join
from tracr_ir.dialects import craft
from tracr_ir.dialects.craft_layout import (RESIDUAL_ATTR, ResidualLayout, block_sublayers,
                                            check_layout, cleaning_mlps, fold_cleaning,
                                            has_layers)
from tracr_ir.inputs import check_input

Blocks = list[tuple[craft.CraftOp, craft_blocks.Block]]


def program_blocks(program: craft.ProgramOp) -> Blocks:
    """Each block op with its block (weights derived now)."""
    return [(op, op.block(program.length)) for op in program.block.ops
            if isinstance(op, craft.CraftOp)]


def block_spaces(block: craft_blocks.Block) -> list[Space]:
    """Every residual space a block reads or writes."""
    if isinstance(block, craft_blocks.MLPBlock):
        return [block.in_space, block.out_space]
    if isinstance(block, craft_blocks.AttentionHead):
        return [block.query_space, block.key_space, block.value_space, block.out_space]
    return block_spaces(block.attention) + block_spaces(block.mlp)


def residual_space(program: craft.ProgramOp, blocks: Blocks) -> Space:
    """`one`, `bos`, the inputs, then every space the blocks touch, in program order."""
    tokens, indices = (a.type.space for a in program.block.args)  # type: ignore[attr-defined]
    return join([ONE, BOS], tokens, indices, *(s for _, b in blocks for s in block_spaces(b)))


def check_inputs(program: craft.ProgramOp, inputs: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Each input as a list, or an `InputError` naming the first bad position."""
    return [check_input(xs, program.vocab_values, program.length) for xs in inputs]


def embedding_tables(program: craft.ProgramOp, space: ResidualLayout
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The embedding, as the transformer has it: token rows (the vocab in canonical order, then
    BOS, then PAD) and position rows 0..max_seq_len over the residual positions. A token
    writes `one` and `tokens:v`, BOS writes `one` and `bos`, PAD nothing; position p >= 1
    writes `indices:p-1` (directions without a position, read by no block, are left out).
    """
    tokens, indices = (a.type.space for a in program.block.args)  # type: ignore[attr-defined]
    vocab = program.vocab_values
    token = np.zeros((len(vocab) + 2, len(space)), dtype=np.float32)
    for row, value in enumerate(vocab):
        if (d := Direction(tokens[0].name, value)) in space:
            token[row, space.index(d)] = 1
    token[: len(vocab) + 1, space.index(ONE)] = 1
    token[len(vocab), space.index(BOS)] = 1
    position = np.zeros((program.length + 1, len(space)), dtype=np.float32)
    for p in range(1, program.length + 1):
        if (d := Direction(indices[0].name, p - 1)) in space:
            position[p, space.index(d)] = 1
    return token, position


def embed(program: craft.ProgramOp, space: ResidualLayout, inputs: Sequence[Sequence[Any]]
          ) -> tuple[np.ndarray, np.ndarray]:
    """The residual `[batch, n + 1, width]` (n the longest input, shorter inputs padded with
    PAD) and the mask of real positions `[batch, n + 1]` (BOS included)."""
    token, position = embedding_tables(program, space)
    row = {value: i for i, value in enumerate(program.vocab_values)}
    bos, pad = len(row), len(row) + 1
    n = max(len(xs) for xs in inputs)
    ids = np.full((len(inputs), n + 1), pad)
    ids[:, 0] = bos
    mask = np.zeros((len(inputs), n + 1), dtype=bool)
    for b, xs in enumerate(inputs):
        mask[b, : len(xs) + 1] = True
        ids[b, 1 : len(xs) + 1] = [row[t] for t in xs]
    return token[ids] + position[: n + 1], mask


Part = Union[craft_blocks.MLPBlock, craft_blocks.AttentionHead]
Step = tuple[Optional[int], list[tuple[craft.CraftOp, Part]]]
Trace = Callable[[craft.CraftOp, Part, Space, np.ndarray, np.ndarray], None]


def program_layout(program: craft.ProgramOp, blocks: Blocks) -> ResidualLayout:
    """The program's `residual` layout, or (before `craft-layout-residual`) one position per
    direction of `residual_space`."""
    if RESIDUAL_ATTR in program.attributes:
        return ResidualLayout.of(program.attributes[RESIDUAL_ATTR])
    return ResidualLayout.disjoint(residual_space(program, blocks))


def _parts(op: craft.CraftOp, block: craft_blocks.Block) -> list[tuple[int, Part]]:
    """(sublayer offset, part): a SelectorWidth is its head, then its MLP one sublayer on."""
    if isinstance(block, craft_blocks.SelectorWidthBlock):
        return [(0, block.attention), (1, block.mlp)]
    return [(0, block)]


def steps(blocks: Blocks) -> list[Step]:
    """The blocks' parts grouped by sublayer (every part of a sublayer reads the same
    residual), in sublayer order; without layers, one part per step in program order."""
    if not has_layers([op for op, _ in blocks]):
        return [(None, [(op, part)]) for op, block in blocks for _, part in _parts(op, block)]
    by_sublayer: dict[int, list[tuple[craft.CraftOp, Part]]] = {}
    for op, block in blocks:
        first = block_sublayers(op)[0]
        for offset, part in _parts(op, block):
            by_sublayer.setdefault(first + offset, []).append((op, part))
    last = max(by_sublayer, default=-1)
    return [(s, by_sublayer.get(s, [])) for s in range(last + 1 + (last % 2 == 0))]


def run_batch(program: craft.ProgramOp, inputs: Sequence[Sequence[Any]],
              blocks: Blocks | None = None, trace: Trace | None = None,
              after: Callable[[Step, np.ndarray], None] | None = None
              ) -> tuple[ResidualLayout, np.ndarray, np.ndarray]:
    """(residual layout, final residual `[batch, n + 1, width]`, mask) on the inputs.

    Runs by sublayer once layers are allocated: each part reads the residual as the sublayer
    found it (gathered from its positions in the layout; directions without a position read
    zero and their writes are dropped), the updates are summed, and an MLP sublayer also
    cleans the directions the layout frees there (`craft_layout.cleaning_mlps`, folded into
    the MLPs' own units where they have them: `fold_cleaning`), as the model's units do.
    `trace(op, part, space, x, mask)` sees each part's input over its own spaces;
    `after(step, x)` the residual after each step."""
    inputs = check_inputs(program, inputs)
    if blocks is None:
        blocks = program_blocks(program)
    layout = program_layout(program, blocks)
    ops = [op for op, _ in blocks]
    if layout.shared:
        check_layout(program, ops, layout)
    clean = cleaning_mlps(program, ops, layout)
    x, mask = embed(program, layout, inputs)
    for step in steps(blocks):
        sublayer, parts = step
        rest = None if sublayer is None or sublayer % 2 == 0 else clean.get(sublayer // 2)
        if rest is not None:  # folded into the MLPs' own units where it can, as in the model
            folded, rest = fold_cleaning([p for _, p in parts], rest)
            parts = [(op, p) for (op, _), p in zip(parts, folded)]
        update = np.zeros_like(x)
        for op, part in parts:
            local = join(*block_spaces(part))
            keep, cols = layout.placement(local)
            xl = np.zeros(x.shape[:-1] + (len(local),), dtype=x.dtype)
            xl[..., keep] = x[..., cols]
            if trace is not None:
                trace(op, part, local, xl, mask)
            y = craft_blocks.block_update(part, local, xl, mask, causal=program.is_causal)
            update[..., cols] += y[..., keep]
        if rest is not None:  # writes exactly minus what it reads
            cols = layout.indices(rest.in_space)
            update[..., cols] += craft_blocks.block_update(rest, rest.in_space, x[..., cols])
        x = x + update
        if after is not None:
            after(step, x)
    return layout, x, mask


def ramp_margins(program: craft.ProgramOp, inputs: Sequence[Sequence[Any]],
                 blocks: Blocks | None = None) -> dict[str, float]:
    """The smallest ramp margin |a| - 1/2 of each MLP (a SelectorWidth's decoding MLP
    included) over the real non-BOS positions of the inputs: how far every thresholded
    decision is from its ramp (in ramp units; > 0 means decided). MLPs without ramps are
    left out."""
    out: dict[str, float] = {}

    def trace(op: craft.CraftOp, part: Part, space: Space, x: np.ndarray,
              mask: np.ndarray) -> None:
        if not isinstance(part, craft_blocks.MLPBlock) or not part.ramps:
            return
        pre, _ = craft_blocks.mlp_forward(part, space, x)
        margins = craft_blocks.ramp_margins(part, pre)
        real = mask.copy()
        real[:, 0] = False
        out[op.label_text] = float(margins[real].min()) if real.any() else math.inf

    run_batch(program, inputs, blocks, trace)
    return out


def decode(layout: ResidualLayout | Space, x: np.ndarray, value: SSAValue,
           lengths: Sequence[int]) -> list[list[Any]]:
    """The s-op `value` read from a batch residual `x`, each row cut to its input length."""
    t = value.type
    assert isinstance(t, craft.SpaceType)
    if not len(t.space):
        return [[None] * n for n in lengths]
    x = x[..., layout.indices(t.space)]
    if t.is_numerical:
        return [[float(v) for v in x[b, 1:n + 1, 0]] for b, n in enumerate(lengths)]
    rows = decode_categorical(t.space, t.space[0].name, x)
    return [rows[b][1:n + 1] for b, n in enumerate(lengths)]


def _chunk_size(program: craft.ProgramOp, blocks: Blocks, space: ResidualLayout) -> int:
    """Inputs per padded batch, so that no activation array exceeds ~2^24 floats."""
    widest = max([len(space)] + [b.hidden_size for op, b in blocks
                                 if craft.block_kind(op) == "mlp"]
                 + [b.mlp.hidden_size for op, b in blocks
                    if craft.block_kind(op) == "selector_width"])
    return max(1, (1 << 24) // ((program.length + 1) * widest))


def interpret_batch(program: craft.ProgramOp, inputs: Sequence[Sequence[Any]],
                    blocks: Blocks | None = None) -> list[list[Any]]:
    """The program's output on each input (tokens without BOS), in padded batches."""
    if blocks is None:
        blocks = program_blocks(program)
    size = _chunk_size(program, blocks, program_layout(program, blocks))
    out: list[list[Any]] = []
    for start in range(0, len(inputs), size):
        chunk = inputs[start:start + size]
        space, x, _ = run_batch(program, chunk, blocks)
        out += decode(space, x, program.output.value, [len(xs) for xs in chunk])
    return out


def interpret(program: craft.ProgramOp, xs: Sequence[Any]) -> list[Any]:
    """The program's output on `xs` (tokens without BOS)."""
    return interpret_batch(program, [xs])[0]


def interpret_values(program: craft.ProgramOp, xs: Sequence[Any]) -> dict[str, list[Any]]:
    """Every block's decoded result on `xs`, by label, read right after the step that
    finishes it (a later occupant may hold its positions at the end)."""
    blocks = program_blocks(program)
    layout = program_layout(program, blocks)
    values: dict[str, list[Any]] = {}

    def after(step: Step, x: np.ndarray) -> None:
        for op, part in step[1]:
            if not isinstance(part, craft_blocks.AttentionHead) or \
                    craft.block_kind(op) == "attention":
                values[op.label_text] = decode(layout, x, op.output, [len(xs)])[0]

    run_batch(program, [xs], blocks, after=after)
    return {op.label_text: values[op.label_text] for op, _ in blocks}


def run_program(program: craft.ProgramOp, xs: list[Any]) -> list[Any]:
    """Entry point of `tracr_ir.compiler.interpret`."""
    return interpret(program, xs)
