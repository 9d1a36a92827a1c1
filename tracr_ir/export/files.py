"""Saved models: the weights as safetensors, a small JSON beside them, and the transformer IR.

```python
save_model(model.weights, model.ir, "sort.mlir")   # sort.mlir, sort.safetensors, sort.json
op, stages = read_model("sort.mlir")               # a verified transformer.model, stage IR
```
`CompiledModel.save` and `tracr_ir.load` call these; docs/formats.md describes the files.

- `NAME.safetensors`: every weight as a float32 tensor named as
  `tracr_ir.interpreters.transformer.param_arrays` names it (`token_embed`, `pos_embed`,
  `layer_0/attn/head_0/w_q`, ..., `layer_0/mlp/b_2`); its metadata holds
  `{"format": "tracr-ir.model"}`.
- `NAME.json`: what the numbers mean: the model-level settings (vocab, BOS, PAD,
  max_seq_len, causal), the residual labels, the output's encoding and labels, each layer's
  head and MLP labels, and the IR text of the stages before the transformer one. Values and
  labels are written as the IR writes them (`1`, `"a"`, `(1, 2)`, `tokens:1`).
- `NAME.mlir` (the path given): the transformer IR text, as `tracr-run` and `tracr-opt` read.

A path whose `.safetensors` sibling does not exist is read as transformer IR text alone (the
files earlier versions wrote).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracr_ir.errors import IRError, ModelFileError
from tracr_ir.model import MLP, Head, Label, Layer, ModelWeights, Output
from tracr_ir.values import format_value

FORMAT = "tracr-ir.model"
VERSION = 1
_SIBLINGS = (".safetensors", ".json")


@dataclass(frozen=True)
class ModelFiles:
    """The three files of a saved model."""

    ir: Path
    weights: Path
    config: Path

    @staticmethod
    def of(path: str | Path) -> ModelFiles:
        """The files of the model saved at `path` (its IR text, or either sibling)."""
        path = Path(path)
        ir = path.with_suffix(".mlir") if path.suffix in _SIBLINGS else path
        return ModelFiles(ir, ir.with_suffix(".safetensors"), ir.with_suffix(".json"))


### Model-level settings: the one place they are written and read.


def settings_of(w: ModelWeights) -> dict[str, Any]:
    """The JSON of the settings that are not weights or labels; `layer_norm` (`{"eps": ...,
    "output_scale": ...}`) only for weights that carry a LayerNorm."""
    settings = {"vocab": [format_value(v) for v in w.vocab], "bos": w.bos, "pad": w.pad,
                "max_seq_len": w.max_seq_len, "causal": w.causal}
    norm = getattr(w, "layer_norm", None)
    if norm is not None:
        settings["layer_norm"] = {"eps": float(norm.eps),
                                  "output_scale": float(norm.output_scale)}
    return settings


def settings_arguments(settings: Mapping[str, Any], parse: Any) -> dict[str, Any]:
    """`ModelWeights` keyword arguments from `settings_of`'s JSON (`parse` reads IR values)."""
    arguments = {"vocab": [parse(v) for v in settings["vocab"]], "bos": settings["bos"],
                 "pad": settings["pad"], "max_seq_len": settings["max_seq_len"],
                 "causal": settings["causal"]}
    if settings.get("layer_norm") is not None:
        from tracr_ir.model import LayerNorm  # type: ignore[attr-defined]

        arguments["layer_norm"] = LayerNorm(**settings["layer_norm"])
    return arguments


### Writing.


def config_of(w: ModelWeights, stages: Mapping[str, str]) -> dict[str, Any]:
    """The JSON beside the weights."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": settings_of(w),
        "residual": [str(label) for label in w.residual],
        "output": {"encoding": w.output.encoding,
                   "labels": [str(label) for label in w.output.labels],
                   "residual_indices": list(w.output_indices)},
        "layers": [{"heads": [h.label for h in layer.heads], "mlp": mlp.label}
                   for layer, mlp in zip(w.layers, w.mlps())],
        "stages": {name: stages[name] for name in stages if name != "transformer"},
    }


def save_model(w: ModelWeights, stages: Mapping[str, str], path: str | Path,
               ir_text: str, attributes: Mapping[str, list[str]] | None = None) -> ModelFiles:
    """Write `ir_text` at `path` and the weights and JSON beside it (with the model op's
    `attributes`: lists of strings such as `proven_optimal`)."""
    from safetensors.numpy import save_file

    from tracr_ir.interpreters.transformer import param_arrays

    files = ModelFiles.of(path)
    if Path(path).suffix in _SIBLINGS:
        raise ModelFileError(f"{path}: save takes the IR text's path (e.g. model.mlir); the "
                             ".safetensors and .json files are written beside it")
    arrays = {k: np.ascontiguousarray(v) for k, v in param_arrays(w).items()}
    try:
        files.ir.write_text(ir_text + "\n")
        save_file(arrays, str(files.weights), metadata={"format": FORMAT})
        config = config_of(w, stages)
        if attributes:
            config["attributes"] = {k: list(v) for k, v in attributes.items()}
        files.config.write_text(json.dumps(config, indent=1) + "\n")
    except OSError as e:
        raise ModelFileError(f"cannot write the model at {path}: {e}") from None
    return files


### Reading.


def read_model(path: str | Path) -> tuple[Any, dict[str, str]]:
    """The verified `transformer.model` op saved at `path`, and the stages' IR text.

    `path` is the IR text's path or either sibling; without a `.safetensors` sibling the IR
    text alone is read."""
    files = ModelFiles.of(path)
    if not files.weights.exists() and Path(path).suffix not in _SIBLINGS:
        return _read_ir_text(files.ir)
    arrays = _read_safetensors(files.weights)
    config = _read_config(files)
    op = _model_op(files, config, arrays)
    stages = dict(config.get("stages", {}))
    if files.ir.exists():
        stages["transformer"] = _read_text(files.ir).rstrip("\n")
    return op, stages


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: cannot be read ({e})") from None


def _read_ir_text(path: Path) -> tuple[Any, dict[str, str]]:
    from tracr_ir.dialects.program import stage_op
    from tracr_ir.dialects.transformer import ModelOp
    from tracr_ir.ir_text import parse_module

    text = _read_text(path)
    try:
        op = stage_op(parse_module(text))
    except IRError as e:
        raise ModelFileError(f"{path}: not transformer IR text: {e}") from None
    if not isinstance(op, ModelOp):
        raise ModelFileError(f"{path}: holds a {op.name}, not a transformer.model: compile "
                             "the program down to the transformer dialect first")
    return op, {"transformer": text.rstrip("\n")}


def _read_config(files: ModelFiles) -> dict[str, Any]:
    text = _read_text(files.config)
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ModelFileError(f"{files.config}: not JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{files.config}: not a tracr-ir model file (no \"format\": "
                             f"\"{FORMAT}\")")
    if config.get("version") != VERSION:
        raise ModelFileError(f"{files.config}: format version {config.get('version')!r}, "
                             f"this tracr-ir reads version {VERSION}")
    return config


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.exists():
        raise ModelFileError(f"{path}: no such file (the model's weights)")
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(f"{path}: not a safetensors file ({e})") from None
    for name, array in arrays.items():
        if array.dtype != np.float32:
            raise ModelFileError(f"{path}: tensor '{name}' is {array.dtype}, not float32")
    return arrays


def _model_op(files: ModelFiles, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The verified op of the JSON's labels and settings and the safetensors' weights."""
    from xdsl.dialects.builtin import ArrayAttr, StringAttr

    from tracr_ir.dialects.transformer import ModelOp
    from tracr_ir.ir_text import verify_module

    try:
        weights = _weights(config, arrays, files.config)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ModelFileError(f"{files.config}: malformed ({type(e).__name__}: {e})") from None
    expected = set(_tensor_names(config["layers"]))
    if set(arrays) != expected:
        extra, missing = sorted(set(arrays) - expected), sorted(expected - set(arrays))
        raise ModelFileError(f"{files.weights}: tensors do not match {files.config.name} "
                             f"(missing {missing[:3]}, unexpected {extra[:3]})")
    attributes = config.get("attributes", {})
    if not (isinstance(attributes, dict) and all(isinstance(v, list)
                                                 for v in attributes.values())):
        raise ModelFileError(f"{files.config}: malformed (attributes: lists of strings by "
                             "name expected)")
    try:
        op = ModelOp.from_weights(weights)
        for name, values in attributes.items():
            op.attributes[name] = ArrayAttr(StringAttr(str(v)) for v in values)
        verify_module(op)
    except IRError as e:
        raise ModelFileError(f"{files.weights}: weights do not fit the model: {e}") from None
    return op


def _tensor_names(layers: list[dict[str, Any]]) -> list[str]:
    names = ["token_embed", "pos_embed"]
    for i, layer in enumerate(layers):
        names += [f"layer_{i}/attn/head_{j}/{n}" for j in range(len(layer["heads"]))
                  for n in Head.WEIGHTS]
        names += [f"layer_{i}/mlp/{n}" for n in MLP.WEIGHTS]
    return names


def _weights(config: dict[str, Any], arrays: dict[str, np.ndarray], where: Path
             ) -> ModelWeights:
    parse = _IRValues(where)
    layers = []
    for i, layer in enumerate(config["layers"]):
        heads = [Head(*(arrays[f"layer_{i}/attn/head_{j}/{n}"] for n in Head.WEIGHTS),
                      label=str(label)) for j, label in enumerate(layer["heads"])]
        mlp = MLP(*(arrays[f"layer_{i}/mlp/{n}"] for n in MLP.WEIGHTS), label=str(layer["mlp"]))
        layers.append(Layer(heads, mlp))
    output = config["output"]
    return ModelWeights(
        residual=parse.labels(config["residual"]),
        token_embed=arrays["token_embed"], pos_embed=arrays["pos_embed"], layers=layers,
        output=Output(output["encoding"], parse.labels(output["labels"])),
        **settings_arguments(config["model"], parse.value))


class _IRValues:
    """Reads values and residual labels written in IR syntax."""

    def __init__(self, where: Path):
        from tracr_ir.ir_text import make_context

        self.ctx, self.where = make_context(), where

    def _parse(self, text: str, parse: Any, shown: str) -> Any:
        from xdsl.utils.exceptions import ParseError
        from xdsl.utils.mlir_lexer import MLIRTokenKind

        from tracr_ir.xdsl_fixes import TracrParser

        parser = TracrParser(self.ctx, text)
        try:
            result = parse(parser)
            if parser._current_token.kind != MLIRTokenKind.EOF:
                parser.raise_error("unexpected text after it")
        except ParseError as e:
            message = str(e).splitlines()[-1].strip() or "syntax error"
            raise ModelFileError(f"{self.where}: bad IR text {shown!r}: {message}") from None
        return result

    def value(self, text: str) -> Any:
        from tracr_ir.values import parse_value

        return self._parse(str(text), parse_value, str(text))

    def labels(self, texts: list[str]) -> list[Label]:
        from tracr_ir.dialects.transformer import parse_labels

        labels = [self._parse(f"[{text}]", parse_labels, text) for text in map(str, texts)]
        for text, parsed in zip(texts, labels):
            if len(parsed) != 1:
                raise ModelFileError(f"{self.where}: bad IR text {text!r}: not one label")
        return [parsed[0] for parsed in labels]
