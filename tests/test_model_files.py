"""Saved models: safetensors + JSON beside the transformer IR text, bit-exact round trips,
old IR-text files, and every broken file named in a `ModelFileError`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tracr_ir
from tracr_ir import compile_rasp_to_model, lib, rasp
from tracr_ir.errors import ModelFileError
from tracr_ir.export.files import FORMAT, ModelFiles
from tracr_ir.interpreters.transformer import param_arrays


@pytest.fixture(scope="module")
def models():
    return {
        "sort_unique": compile_rasp_to_model(lib.make_sort_unique(rasp.tokens, rasp.tokens),
                                             [1, 2, 3], 4),
        "frac_prevs": compile_rasp_to_model(lib.make_frac_prevs(rasp.tokens == "x"),
                                            ["x", "a", (1, "b"), 2.5], 4, causal=True),
        "shuffle_dyck2": compile_rasp_to_model(lib.make_shuffle_dyck2(),
                                               ["(", ")", "{", "}", "a"], 4),
    }


def _bits(model) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in param_arrays(model.weights).items()}


@pytest.mark.parametrize("name", ["sort_unique", "frac_prevs", "shuffle_dyck2"])
def test_save_writes_safetensors_and_load_is_bit_exact(models, name, tmp_path):
    model = models[name]
    model.save(tmp_path / "m.mlir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.mlir", "m.safetensors"]
    for path in ("m.mlir", "m.safetensors", "m.json"):  # any of the three names it
        loaded = tracr_ir.load(tmp_path / path)
        assert _bits(loaded) == _bits(model)
        w, v = model.weights, loaded.weights
        assert (v.vocab, v.residual, v.output, v.causal, v.max_seq_len, v.bos, v.pad) == (
            w.vocab, w.residual, w.output, w.causal, w.max_seq_len, w.bos, w.pad)
        assert [[h.label for h in x.heads] for x in v.layers] == [
            [h.label for h in x.heads] for x in w.layers]
        assert loaded.residual_labels == model.residual_labels
        assert dict(loaded.ir) == dict(model.ir)  # every stage's IR text
    seq = ["BOS", *list(model.weights.vocab)[:3]]
    assert loaded.apply(seq).decoded == model.apply(seq).decoded


def test_the_files_are_standard(models, tmp_path):
    """safetensors' own reader gets our names and float32 arrays; the JSON says what they
    mean."""
    from safetensors import safe_open

    model = models["frac_prevs"]
    model.save(tmp_path / "frac.mlir")
    with safe_open(str(tmp_path / "frac.safetensors"), "np") as f:
        assert f.metadata() == {"format": FORMAT}
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    assert arrays.keys() == param_arrays(model.weights).keys()
    assert all(a.dtype == np.float32 for a in arrays.values())
    config = json.loads((tmp_path / "frac.json").read_text())
    assert config["model"] == {"vocab": ["2.5", '"a"', '"x"', '(1, "b")'], "bos": "BOS",
                               "pad": "PAD", "max_seq_len": 4, "causal": True}
    assert config["residual"] == model.residual_labels
    assert config["output"]["encoding"] == "numerical"
    assert [model.residual_labels[i] for i in config["output"]["residual_indices"]] == \
        config["output"]["labels"]
    assert set(config["stages"]) == {"rasp", "craft"}
    assert (tmp_path / "frac.mlir").read_text() == model.ir["transformer"] + "\n"


def test_old_ir_text_files_still_load(models, tmp_path):
    model = models["sort_unique"]
    (tmp_path / "old.mlir").write_text(model.ir["transformer"] + "\n")
    loaded = tracr_ir.load(tmp_path / "old.mlir")
    assert _bits(loaded) == _bits(model) and set(loaded.ir) == {"transformer"}


def _broken(models, tmp_path: Path) -> ModelFiles:
    models["sort_unique"].save(tmp_path / "m.mlir")
    return ModelFiles.of(tmp_path / "m.mlir")


def _edit_config(files: ModelFiles, edit) -> None:
    config = json.loads(files.config.read_text())
    edit(config)
    files.config.write_text(json.dumps(config))


@pytest.mark.parametrize("breakage, message", [
    (lambda f: f.ir.unlink() or f.weights.unlink() or f.config.unlink(), "m.mlir: no such file"),
    (lambda f: f.config.unlink(), "m.json: no such file"),
    (lambda f: f.weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}"),
     "m.safetensors: not a safetensors file"),
    (lambda f: f.weights.write_bytes(b"garbage"), "m.safetensors: not a safetensors file"),
    (lambda f: f.config.write_text("{"), "m.json: not JSON"),
    (lambda f: f.config.write_text("[1]"), "m.json: not a tracr-ir model file"),
    (lambda f: _edit_config(f, lambda c: c.update(version=99)), "format version 99"),
    (lambda f: _edit_config(f, lambda c: c["model"].pop("vocab")), "m.json: malformed"),
    (lambda f: _edit_config(f, lambda c: c["residual"].__setitem__(0, "a:(")),
     "m.json: bad IR text 'a:\\('"),
    (lambda f: _edit_config(f, lambda c: c["layers"].pop()), "tensors do not match m.json"),
    (lambda f: _edit_config(f, lambda c: c["residual"].pop()), "weights do not fit the model"),
])
def test_broken_files_are_named(models, tmp_path, breakage, message):
    files = _broken(models, tmp_path)
    breakage(files)
    with pytest.raises(ModelFileError, match=message):
        tracr_ir.load(tmp_path / "m.mlir")


def test_a_wrong_tensor_is_named(models, tmp_path):
    from safetensors.numpy import load_file, save_file

    files = _broken(models, tmp_path)
    arrays = load_file(str(files.weights))
    arrays["pos_embed"] = arrays["pos_embed"][:-1]
    save_file(arrays, str(files.weights))
    with pytest.raises(ModelFileError, match="m.safetensors: weights do not fit the model"):
        tracr_ir.load(files.ir)
    arrays["pos_embed"] = arrays["pos_embed"].astype(np.float64)
    save_file(arrays, str(files.weights))
    with pytest.raises(ModelFileError, match="'pos_embed' is float64"):
        tracr_ir.load(files.ir)


def test_save_refuses_a_sibling_name_and_unwritable_places(models, tmp_path):
    with pytest.raises(ModelFileError, match="save takes the IR text's path"):
        models["sort_unique"].save(tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match="cannot write the model"):
        models["sort_unique"].save(tmp_path / "missing_dir" / "m.mlir")


def test_not_a_transformer_model(tmp_path):
    from tracr_ir.compiler import print_module, to_ir

    (tmp_path / "r.mlir").write_text(print_module(to_ir(rasp.tokens, [1], 2)))
    with pytest.raises(ModelFileError, match="r.mlir: holds a rasp.program"):
        tracr_ir.load(tmp_path / "r.mlir")
    (tmp_path / "bad.mlir").write_text("transformer.model {")
    with pytest.raises(ModelFileError, match="bad.mlir: not transformer IR text"):
        tracr_ir.load(tmp_path / "bad.mlir")


def test_tracr_compile_output_writes_all_three(tmp_path):
    out = tmp_path / "sort.mlir"
    subprocess.run([sys.executable, "-m", "tracr_ir.tools.compile",
                    "examples/programs.py:sort_unique", "--vocab", "1,2,3",
                    "--max-seq-len", "4", "-o", str(out)], check=True,
                   cwd=Path(__file__).parent.parent)
    assert tracr_ir.load(tmp_path / "sort.safetensors").apply(["BOS", 3, 1, 2]).decoded == \
        ["BOS", 1, 2, 3]
