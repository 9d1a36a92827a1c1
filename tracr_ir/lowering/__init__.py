"""The rasp -> craft seam: what a lowering pattern reads and builds.

- `tracr_ir.lowering.precision`: tolerances, the `needs` annotation and the table helpers
  the per-op precision rules share;
- `tracr_ir.lowering.state`: `LoweringState`, the toolkit a pattern lowers one op with
  (forms of its operands, block builders with their error bounds, fresh labels);
- `tracr_ir.lowering.patterns`: `RaspLowering` (the base of a pattern lowering one op) and
  the default pattern of every rasp op, in an open registry (`register_lowering`).
"""
