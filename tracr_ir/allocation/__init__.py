"""Placing craft blocks in layers, for `craft-allocate-layers`.

- `tracr_ir.allocation.placement`: what placement needs to know of a block, the windows its
  dependencies leave it, tracr's rule, and the greedy placement;
- `tracr_ir.allocation.solver`: the `solver` strategy (CP-SAT), with the cleaning plan its
  residual stage lays out.
"""
