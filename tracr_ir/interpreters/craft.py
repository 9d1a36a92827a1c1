"""Interpreter of the `craft` dialect: the numpy reference forward of every block, in float32.

`tracr_ir.compiler.interpret(craft_module, xs)` lands here. The program runs on a residual
stream holding every space of every block (`residual_space`): position 0 is BOS (`one` and
`bos` only), position i >= 1 holds `one`, `tokens:xs[i-1]` and `indices:i-1`. The blocks run
one after the other in program order, each adding its update (`craft.blocks.apply_block`:
the actual float32 weights of its construction), so the exactness seen here is the model's.
A batch of inputs of different lengths runs at once, padded and masked
(`interpret_batch`); padded keys never get attention weight.

Decoding: a categorical s-op is the value of its largest coordinate if that exceeds 1/2, else
None; a numerical s-op is its coordinate (a float).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from tracr_ir.craft import blocks as craft_blocks
from tracr_ir.craft.bases import BOS, ONE, Direction, Space, decode_categorical, join
from tracr_ir.dialects import craft
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


def embedding_tables(program: craft.ProgramOp, space: Space) -> tuple[np.ndarray, np.ndarray]:
    """The embedding, as the transformer has it: token rows (the vocab in canonical order, then
    BOS, then PAD) and position rows 0..max_seq_len over `space`. A token writes `one` and
    `tokens:v`, BOS writes `one` and `bos`, PAD nothing; position p >= 1 writes `indices:p-1`.
    """
    tokens, indices = (a.type.space for a in program.block.args)  # type: ignore[attr-defined]
    vocab = program.vocab_values
    token = np.zeros((len(vocab) + 2, len(space)), dtype=np.float32)
    for row, value in enumerate(vocab):
        token[row, space.index(Direction(tokens[0].name, value))] = 1
    token[: len(vocab) + 1, space.index(ONE)] = 1
    token[len(vocab), space.index(BOS)] = 1
    position = np.zeros((program.length + 1, len(space)), dtype=np.float32)
    for p in range(1, program.length + 1):
        position[p, space.index(Direction(indices[0].name, p - 1))] = 1
    return token, position


def embed(program: craft.ProgramOp, space: Space, inputs: Sequence[Sequence[Any]]
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


Trace = Callable[[craft.CraftOp, craft_blocks.Block, Space, np.ndarray, np.ndarray], None]


def run_batch(program: craft.ProgramOp, inputs: Sequence[Sequence[Any]],
              blocks: Blocks | None = None, trace: Trace | None = None
              ) -> tuple[Space, np.ndarray, np.ndarray]:
    """(residual space, final residual `[batch, n + 1, width]`, mask) on the inputs.
    `trace(op, block, space, x, mask)` sees the residual each block reads."""
    inputs = check_inputs(program, inputs)
    if blocks is None:
        blocks = program_blocks(program)
    space = residual_space(program, blocks)
    x, mask = embed(program, space, inputs)
    for op, block in blocks:
        if trace is not None:
            trace(op, block, space, x, mask)
        x = craft_blocks.apply_block(block, space, x, mask, causal=program.is_causal)
    return space, x, mask


def ramp_margins(program: craft.ProgramOp, inputs: Sequence[Sequence[Any]],
                 blocks: Blocks | None = None) -> dict[str, float]:
    """The smallest ramp margin |a| - 1/2 of each MLP (a SelectorWidth's decoding MLP
    included) over the real non-BOS positions of the inputs: how far every thresholded
    decision is from its ramp (in ramp units; > 0 means decided). MLPs without ramps are
    left out."""
    out: dict[str, float] = {}

    def trace(op: craft.CraftOp, block: craft_blocks.Block, space: Space, x: np.ndarray,
              mask: np.ndarray) -> None:
        mlp, kind = block, craft.block_kind(op)
        if kind == "selector_width":
            _, update = craft_blocks.attention_forward(block.attention, space, x, mask,
                                                       program.is_causal)
            x, mlp = x + update, block.mlp
        if kind == "attention" or not mlp.ramps:
            return
        pre, _ = craft_blocks.mlp_forward(mlp, space, x)
        margins = craft_blocks.ramp_margins(mlp, pre)
        real = mask.copy()
        real[:, 0] = False
        out[op.label_text] = float(margins[real].min()) if real.any() else math.inf

    run_batch(program, inputs, blocks, trace)
    return out


def decode(space: Space, x: np.ndarray, value: SSAValue, lengths: Sequence[int]
           ) -> list[list[Any]]:
    """The s-op `value` read from a batch residual `x`, each row cut to its input length."""
    t = value.type
    assert isinstance(t, craft.SpaceType)
    if t.is_numerical:
        column = x[..., space.index(t.space[0])]
        return [[float(v) for v in column[b, 1:n + 1]] for b, n in enumerate(lengths)]
    if not len(t.space):
        return [[None] * n for n in lengths]
    rows = decode_categorical(space, t.space[0].name, x)
    return [rows[b][1:n + 1] for b, n in enumerate(lengths)]


def _chunk_size(program: craft.ProgramOp, blocks: Blocks, space: Space) -> int:
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
    size = _chunk_size(program, blocks, residual_space(program, blocks))
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
    """Every block's decoded result on `xs`, by label."""
    space, x, _ = run_batch(program, [xs])
    return {op.label_text: decode(space, x, op.output, [len(xs)])[0]
            for op in program.block.ops if isinstance(op, craft.CraftOp)}


def run_program(program: craft.ProgramOp, xs: list[Any]) -> list[Any]:
    """Entry point of `tracr_ir.compiler.interpret`."""
    return interpret(program, xs)
