"""Compiled models in researchers' formats: TransformerLens (`to_transformer_lens`) and
safetensors files (`save_model`, `load_model`; `CompiledModel.save` and `tracr_ir.load`).

Importing this package imports numpy only; torch and transformer-lens (the `export` extra)
are imported when a TransformerLens model is built.
"""

from tracr_ir.export.lens import (ExportError, normalization, tl_attention_mask, tl_config,
                                  tl_state_dict, tl_tokens, to_transformer_lens)

__all__ = ["ExportError", "normalization", "tl_attention_mask", "tl_config", "tl_state_dict",
           "tl_tokens", "to_transformer_lens"]
