"""Interpreters that run a module of any stage on an input (see `tracr_ir.compiler.interpret`)."""
