"""What the benchmarks and the differential test share about tracr-pypi 1.0.0.

- `TRACR_LIB`: each lib program of `tests/lib_cases.py` built from tracr's own `lib` and
  `rasp` (tracr compiles only its own classes), by case name, as `max_seq_len -> program`.
- `to_tracr(program)`: a `tracr_ir.rasp` program rebuilt node by node from tracr's classes
  (same kinds, functions, predicates, encodings, defaults and names), for random programs;
  `to_tracr_with_labels` also maps each node's label to its tracr node's label.
- `tracr_mlp_block_widths`, `our_mlp_block_widths`: MLP hidden units per s-op and per layer,
  tracr's from its own compiler steps (before padding), ours from the craft stage.
- `compile_tracr`, `tracr_apply`, `tracr_batch`, `tracr_stats`: tracr's compiler and models
  with its conventions: inputs start with the compiler BOS, `decoded[0]` is the BOS, a padded
  batch is right-padded with the PAD id (tracr does not mask it), numerical outputs are floats.
- `outputs_match`: a model's outputs against `rasp.evaluate`.

Importing this module imports tracr (and so jax and haiku).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tracr.compiler import compiling
from tracr.compiler import lib as tlib
from tracr.rasp import rasp as trasp

from tracr_ir import rasp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

BOS, PAD = "BOS", "PAD"
MLP_EXACTNESS = 100  # tracr's default

# ----------------------------------------------------------------------------- lib programs

TRACR_LIB: dict[str, Callable[[int], trasp.SOp]] = {
    "make_length": lambda n: tlib.make_length(),
    "make_reverse": lambda n: tlib.make_reverse(trasp.tokens),
    "make_hist": lambda n: tlib.make_hist(),
    "make_sort_unique": lambda n: tlib.make_sort_unique(trasp.tokens, trasp.tokens),
    "make_sort": lambda n: tlib.make_sort(trasp.tokens, trasp.tokens, max_seq_len=n, min_key=1),
    "make_sort_freq": lambda n: tlib.make_sort_freq(n),
    "make_frac_prevs": lambda n: tlib.make_frac_prevs(trasp.tokens == "l"),
    "make_pair_balance": lambda n: tlib.make_pair_balance(trasp.tokens, "(", ")"),
    "make_shuffle_dyck": lambda n: tlib.make_shuffle_dyck(["()"]),
    "make_shuffle_dyck2": lambda n: tlib.make_shuffle_dyck2(),
    "shift_by": lambda n: tlib.shift_by(2, trasp.tokens),
    "detect_pattern": lambda n: tlib.detect_pattern(trasp.tokens, "abc"),
    "make_count_less_freq": lambda n: tlib.make_count_less_freq(2),
    "make_count": lambda n: tlib.make_count(trasp.tokens, "a"),
    "make_nary_sequencemap": lambda n: tlib.make_nary_sequencemap(
        lambda x, y, z: x + y - z, trasp.tokens, trasp.tokens, trasp.indices),
}

# ----------------------------------------------------------------------------- translation

_SELECTORS = {rasp.SelectorAnd: trasp.SelectorAnd, rasp.SelectorOr: trasp.SelectorOr}


def to_tracr(program: rasp.RASPExpr) -> trasp.RASPExpr:
    """`program` rebuilt from tracr's rasp classes, node for node (shared nodes stay shared).

    Names are copied (tracr's graph keys on `label`, which adds a unique id, so repeated
    names are fine); the encoding annotation is copied onto every s-op.
    """
    return to_tracr_with_labels(program)[0]


def to_tracr_with_labels(program: rasp.RASPExpr) -> tuple[trasp.RASPExpr, dict[str, str]]:
    """`to_tracr(program)` and, for each node, our label -> the label of its tracr node."""
    memo: dict[int, trasp.RASPExpr] = {}
    labels: dict[str, str] = {}
    for node in rasp.walk(program):
        memo[id(node)] = _translate(node, [memo[id(c)] for c in node.children])
        labels[node.label] = memo[id(node)].label
    return memo[id(program)], labels


def _translate(node: rasp.RASPExpr, args: list[trasp.RASPExpr]) -> trasp.RASPExpr:
    if isinstance(node, rasp.TokensType):
        return trasp.tokens
    if isinstance(node, rasp.IndicesType):
        return trasp.indices
    if isinstance(node, rasp.LengthType):
        return trasp.length
    if isinstance(node, rasp.LinearSequenceMap):
        out: trasp.RASPExpr = trasp.LinearSequenceMap(*args, node.fst_fac, node.snd_fac)
    elif isinstance(node, rasp.SequenceMap):
        out = trasp.SequenceMap(node.f, *args)
    elif isinstance(node, rasp.Map):
        out = trasp.Map(node.f, *args, simplify=False)  # ours is already simplified
    elif isinstance(node, rasp.Full):
        out = trasp.Full(node.fill)
    elif isinstance(node, rasp.Select):
        pred = node.predicate
        if isinstance(pred, rasp.Comparison):
            pred = trasp.Comparison[pred.name]
        out = trasp.Select(*args, pred)
    elif isinstance(node, rasp.Aggregate):
        out = trasp.Aggregate(*args, default=node.default)
    elif isinstance(node, rasp.SelectorWidth):
        out = trasp.SelectorWidth(*args)
    elif type(node) in _SELECTORS:
        out = _SELECTORS[type(node)](*args)
    elif isinstance(node, rasp.SelectorNot):
        out = trasp.SelectorNot(*args)
    else:
        raise NotImplementedError(f"no tracr counterpart for {node!r}")
    out = out.named(node.name)
    if isinstance(node, rasp.SOp):
        out = trasp.numerical(out) if rasp.is_numerical(node) else trasp.categorical(out)
    return out


# ----------------------------------------------------------------------------- tracr models


def compile_tracr(program: trasp.SOp, vocab: Any, max_seq_len: int) -> Any:
    return compiling.compile_rasp_to_model(program, set(vocab), max_seq_len, compiler_bos=BOS,
                                           compiler_pad=PAD, mlp_exactness=MLP_EXACTNESS)


def tracr_stats(model: Any) -> dict[str, Any]:
    """Sizes in the terms of our `stats()`: heads and MLP hidden are the per-layer maxima
    (tracr pads every layer to them), mlp_total the unpadded hidden units of all layers
    (`tracr_mlp_widths`), params the haiku parameter count."""
    cfg = model.model_config
    leaves = jax.tree_util.tree_leaves(model.params)
    return {
        "layers": cfg.num_layers,
        "heads": cfg.num_heads,
        "mlp_hidden": cfg.mlp_hidden_size,
        "mlp_total": sum(tracr_mlp_widths(model)),
        "residual": len(model.residual_labels),
        "dense_params": int(sum(x.size for x in leaves)),
        "nonzero_params": int(sum(np.count_nonzero(np.asarray(x)) for x in leaves)),
    }


def tracr_mlp_widths(model: Any) -> list[int]:
    """tracr's hidden units per MLP layer: the columns of its MLP weights that are not
    padding (nonzero in either matrix)."""
    widths = []
    for name, layer in model.params.items():
        if name.endswith("mlp/linear_1"):
            w1 = np.asarray(layer["w"])
            w2 = np.asarray(model.params[name.replace("linear_1", "linear_2")]["w"])
            widths.append(int(((np.abs(w1).sum(axis=0) > 0) | (np.abs(w2).sum(axis=1) > 0)).sum()))
    return widths


def tracr_mlp_block_widths(program, vocab, max_seq_len: int
                 ) -> tuple[dict[str, int], list[int], dict[str, set | None]]:
    """tracr's hidden units per s-op label and per MLP layer, and its value sets (its
    compiler's steps up to the layer allocation)."""
    from tracr.compiler import (basis_inference, craft_graph_to_model, expr_to_craft_graph,
                                nodes, rasp_to_graph)
    from tracr.craft import bases, transformers

    extracted = rasp_to_graph.extract_rasp_graph(program)
    graph = extracted.graph
    basis_inference.infer_bases(graph, extracted.sink, set(vocab), max_seq_len)
    expr_to_craft_graph.add_craft_components_to_rasp_graph(
        graph, bos_dir=bases.BasisDirection("tokens", BOS), mlp_exactness=MLP_EXACTNESS)
    allocation = craft_graph_to_model._allocate_modules_to_layers(graph, extracted.sources)
    values = {label: graph.nodes[label].get(nodes.VALUE_SET) for label in graph.nodes}
    by_label: dict[str, int] = {}
    by_layer: dict[int, int] = {}
    for label, layer in allocation.items():
        block = graph.nodes[label].get(nodes.MODEL_BLOCK)
        parts = block.blocks if isinstance(block, transformers.SeriesWithResiduals) else [block]
        for offset, part in enumerate(parts):
            if isinstance(part, transformers.MLP):
                width = part.fst.output_space.num_dims
                by_label[label] = by_label.get(label, 0) + width
                by_layer[layer + offset] = by_layer.get(layer + offset, 0) + width
    layers = [by_layer.get(i, 0) for i in range(1, max(by_layer, default=0) + 1, 2)]
    return by_label, layers, values


def our_mlp_block_widths(program, vocab, max_seq_len: int,
                         labels) -> tuple[dict[str, int], list[int], set[str | None]]:
    """Our hidden units per s-op label (an MLP counts for the longest label its own label
    equals or extends with `_`; under None if there is none) and per layer. A snap (the
    identity MLP `<x>_snap` that makes a noisy `x` exact for a selector) counts for the
    s-ops whose blocks read it (a SelectorWidth, or an Aggregate's head), for each of them:
    it is part of how they compute their function, which tracr computes from `x` as it is.
    Also the labels that have any craft op (heads included): the s-ops our model computes."""
    from tracr_ir.dialects import craft
    from tracr_ir.testing import compile_to_stage

    module = compile_to_stage(program, vocab, max_seq_len, "craft")
    by_label = dict.fromkeys(labels, 0)
    by_layer: dict[int, int] = {}
    live: set[str | None] = set()

    def owner(label: str) -> str | None:
        own = [t for t in labels if label == t or label.startswith(f"{t}_")]
        return max(own, key=len) if own else None  # None: a helper named otherwise

    for op in module.walk():
        if isinstance(op, craft.CraftOp):
            live.add(owner(op.label_text))
        if not isinstance(op, craft.CraftOp) or craft.block_kind(op) == "attention":
            continue
        block = op.block(max_seq_len)
        width = len((block.mlp if craft.block_kind(op) == "selector_width" else block)
                    .hidden_space)
        readers = {use.operation for use in op.output.uses
                   if isinstance(use.operation, craft.CraftOp)}
        if op.label_text.endswith("_snap") and readers:
            for key in {owner(r.label_text) for r in readers}:
                by_label[key] = by_label.get(key, 0) + width
        else:
            key = owner(op.label_text)
            by_label[key] = by_label.get(key, 0) + width
        by_layer[op.layer_index] = by_layer.get(op.layer_index, 0) + width
    return by_label, [by_layer.get(i, 0) for i in range(max(by_layer, default=-1) + 1)], live


def tracr_apply(model: Any, xs: Sequence[Any],
                forward: Callable[[Any], Any] | None = None) -> list[Any]:
    """tracr's `apply` on `[BOS, *xs]`, without the BOS position. With `forward` (from
    `tracr_forward`), the same computation jitted: a batch of one, decoded as `apply` does."""
    if forward is None:
        return list(model.apply([BOS, *xs]).decoded[1:])
    return tracr_batch(model, [xs], forward)[0]


def tracr_batch_ids(model: Any, inputs: Sequence[Sequence[Any]]) -> np.ndarray:
    """Token ids `[batch, longest + 1]`: BOS first, right-padded with tracr's PAD id."""
    enc = model.input_encoder
    rows = [enc.encode([BOS, *xs]) for xs in inputs]
    n = max(map(len, rows))
    return np.array([r + [enc.pad_encoding] * (n - len(r)) for r in rows], dtype=np.int32)


def tracr_forward(model: Any) -> Callable[[Any], Any]:
    """The jitted haiku forward (all its outputs, as `model.forward` returns them)."""
    fwd = jax.jit(model.forward)
    return lambda ids: fwd(model.params, jnp.asarray(ids))


def tracr_batch(model: Any, inputs: Sequence[Sequence[Any]],
                forward: Callable[[Any], Any] | None = None) -> list[list[Any]]:
    """Outputs of one right-padded batch (tracr does not mask the padding)."""
    forward = forward or tracr_forward(model)
    out = np.asarray(forward(tracr_batch_ids(model, inputs)).unembedded_output).tolist()
    decode = model.output_encoder.decode if model.output_encoder else (lambda r: r)
    return [list(decode(row))[1: len(xs) + 1] for row, xs in zip(out, inputs)]


# ----------------------------------------------------------------------------- checking


def _close(a: Any, b: Any, numerical: bool, tol: float) -> bool:
    if numerical and a is not None and b is not None:
        try:
            return math.isclose(float(a), float(b), rel_tol=0, abs_tol=tol)
        except (TypeError, ValueError):
            return False
    return a == b and (a is None) == (b is None)


def outputs_match(got: Sequence[Any], want: Sequence[Any], numerical: bool, tol: float = 1e-4,
                  skip_none: bool = False) -> tuple[bool, int, int, float]:
    """(whole sequence right, positions right, positions compared, max numerical error).

    `skip_none` ignores positions where `want` is None (tracr cannot output None); without
    it a None must be decoded as None.
    """
    ok = n = 0
    err = 0.0
    if len(got) != len(want):
        return False, 0, len(want), math.inf
    for a, b in zip(got, want):
        if b is None and skip_none:
            continue
        n += 1
        ok += _close(a, b, numerical, tol)
        if numerical and a is not None and b is not None:
            try:
                err = max(err, abs(float(a) - float(b)))
            except (TypeError, ValueError):
                err = math.inf
    return ok == n, ok, n, err
