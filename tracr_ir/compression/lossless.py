"""The lossless compression: the smallest residual that every sublayer can still read exactly.

Sublayer l sees residuals in a subspace X_l (the *span*: of the residual entering it on
every input, or an upper bound computed from the weights) and reads them through
functionals, the columns of a matrix F_l: every head's query side `W_Q W_K^T` and key side
`W_K W_Q^T` (over keys and queries in X_l), value side `W_V W_O`, the MLP's `W_1`, and at the
end the output coordinates. An embedding E [d, r] is lossless when on every X_l the
functionals x E determine x F_l, i.e. col(B_l F_l) lies in col(B_l E) for an orthonormal
basis B_l of X_l; then sublayer l reads x' D_l with D_l = (B_l E)^+ B_l and computes what it
computed before, up to float32 rounding.

Numerically: a span keeps the directions whose singular value is above 1e-9 of the largest
(tiny directions are real: softmax leakage that a later ramp reads; dropping those at 1e-7
breaks `make_reverse`); a read functional is covered when its part outside what E shows is
below `tol` (1e-6) of its norm, counting only directions E shows with singular value above
`cond` (0.01), so that D_l never amplifies rounding by more than 100.

E is found by removing directions while the condition holds: first residual axes, one at a
time, latest written first (so that the compressed residual keeps labels where it can: for
`make_frac_prevs` it is `one, bos, tokens:x, indices:0-3, frac_prevs`: the head reads `map`
as `tokens:x`, equal to it wherever it is read, and `indices:4` as `one - bos - indices:0 -
... - indices:3`), then any direction of what is left (`_drop_direction`). Each output gets
a column equal to it on the final span, named after it, so the unembedding reads it as
before.

```python
basis = lossless_basis(w, site_spans(w, sites, rtol=1e-9))   # E, the D_l, the labels
small = project(w, basis.embed, basis.reads, basis.labels)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracr_ir.compression.common import Sites, fresh_labels, read_matrices
from tracr_ir.model import Label, ModelWeights

__all__ = ["LosslessBasis", "lossless_basis", "orthonormal_rows", "site_spans"]

### Spans.


def orthonormal_rows(rows: np.ndarray, rtol: float) -> np.ndarray:
    """An orthonormal basis `[q, d]` of the row space of `rows`, directions whose singular
    value is below `rtol` times the largest dropped (float32 rounding, not a direction)."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        return np.zeros((0, rows.shape[-1]))
    if rows.shape[0] > rows.shape[1]:  # the same singular values and vectors, much faster
        rows = np.linalg.qr(rows, mode="r")
    _, s, vt = np.linalg.svd(rows, full_matrices=False)
    if not len(s) or s[0] == 0:
        return np.zeros((0, rows.shape[-1]))
    return vt[s > rtol * s[0]]


def _distinct(rows: np.ndarray) -> np.ndarray:
    """The distinct rows (compared as bytes: fast where `np.unique(axis=0)` sorts slowly)."""
    a = np.ascontiguousarray(rows)
    if not a.size:
        return a
    _, index = np.unique(a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel(),
                         return_index=True)
    return a[np.sort(index)]


def site_spans(w: ModelWeights, sites: Sites | None, rtol: float) -> list[np.ndarray]:
    """B_l for each sublayer and the final residual (`len(w.layers) * 2 + 1` bases).

    With `sites`, the span of the residuals computed on the inputs; without, an upper bound
    from the weights: the embeddings of every (token, position) pair, then each sublayer adds
    the row space of what it can write (W_O of every head; W_2 and b_2)."""
    n = 2 * len(w.layers)
    if sites is not None:
        return [orthonormal_rows(_distinct(sites.rows(s)), rtol) for s in range(n + 1)]
    ids = w.token_ids
    rows = [w.token_embed[ids[w.bos]] + w.pos_embed[0]]
    rows += [w.token_embed[ids[t]] + w.pos_embed[p] for t in w.vocab
             for p in range(1, w.max_seq_len + 1)]
    spans = []
    for site in range(n + 1):
        basis = orthonormal_rows(np.array(rows), rtol)
        spans.append(basis)
        rows = list(basis)
        if site < n:
            layer = w.layers[site // 2]
            if site % 2 == 0:
                rows += [r for h in layer.heads for r in h.w_o]
            else:
                mlp = w.mlps()[site // 2]
                rows += [*mlp.w_2, mlp.b_2]
    return spans


def site_functionals(w: ModelWeights, site: int, basis: np.ndarray) -> np.ndarray:
    """F_l `[d, m]`: what sublayer `site` reads of residuals in the span `basis` (the final
    site reads the output coordinates)."""
    d = w.d_model
    if site == 2 * len(w.layers):
        return np.eye(d)[:, list(w.output_indices)]
    columns = []
    if site % 2 == 0:
        for h in w.layers[site // 2].heads:
            q, k = h.w_q.astype(np.float64), h.w_k.astype(np.float64)
            columns += [q @ (k.T @ basis.T), k @ (q.T @ basis.T),
                        h.w_v.astype(np.float64) @ h.w_o.astype(np.float64)]
    else:
        columns += [m.astype(np.float64) for m in read_matrices(w, site)]
    return np.concatenate(columns, axis=1) if columns else np.zeros((d, 0))


### Choosing E.


@dataclass(frozen=True, eq=False)
class _Site:
    basis: np.ndarray  # B_l [q, d]
    needed: np.ndarray  # B_l F_l [q, m], each functional scaled to norm 1


def _visible(seen: np.ndarray, cond: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray]:
    """(U, S, V) of the directions of `seen` = B_l C with singular value above `cond` (what
    the columns show of the span well enough to read it back), and V of the others."""
    u, s, vt = np.linalg.svd(seen, full_matrices=True)
    k = int((s > cond).sum())
    return u[:, :k], s[:k], vt[:k].T, vt[k:].T


def _covered(sites: Sequence[_Site], columns: np.ndarray, tol: float, cond: float) -> bool:
    """Whether every site's needed functionals lie (within `tol`) in what `columns` [d, c]
    show of its span."""
    for site in sites:
        if not site.needed.shape[1]:
            continue
        u = _visible(site.basis @ columns, cond)[0]
        rest = site.needed - u @ (u.T @ site.needed)
        if np.abs(rest).max(initial=0.0) > tol:
            return False
    return True


def _null(a: np.ndarray, tol: float) -> np.ndarray:
    """An orthonormal basis `[n, k]` of the null space of `a` [m, n]."""
    _, s, vt = np.linalg.svd(a) if a.size else (None, np.zeros(0), np.eye(a.shape[1]))
    rank = int((s > tol * max(1.0, s[0] if len(s) else 0.0)).sum())
    return vt[rank:].T


def _drop_direction(sites: Sequence[_Site], columns: np.ndarray, tol: float, cond: float,
                    rng: np.random.Generator) -> np.ndarray | None:
    """A subspace of col(`columns`) of one dimension less that still covers every site, as
    new columns, or None when there is none.

    In coefficients y of the columns, site l cannot see K_l (ker B_l C) and needs the
    preimage V_l of its functionals. Removing the hyperplane phi^perp keeps site l covered
    iff phi is not orthogonal to K_l, or phi is orthogonal to V_l. Starting from every phi,
    restrict to V_l^perp for every site whose K_l^perp holds all candidates, until nothing
    changes; a random phi of what is left works."""
    c = columns.shape[1]
    kernels, preimages = [], []
    for site in sites:
        u, s, v, kernel = _visible(site.basis @ columns, cond)
        solved = v @ ((u.T @ site.needed) / s[:, None])
        kernels.append(kernel)
        preimages.append(np.concatenate([kernel, solved], axis=1))
    phi = np.eye(c)  # its columns span the candidates
    changed = True
    while changed and phi.shape[1]:
        changed = False
        for kernel, preimage in zip(kernels, preimages):
            if kernel.shape[1] and np.abs(kernel.T @ phi).max(initial=0.0) > tol:
                continue  # a generic candidate sees the kernel
            if np.abs(preimage.T @ phi).max(initial=0.0) <= tol:
                continue  # every candidate is orthogonal to what the site needs
            phi = phi @ _null(preimage.T @ phi, tol)
            changed = True
    if not phi.shape[1]:
        return None
    f = phi @ rng.standard_normal(phi.shape[1])
    f /= np.linalg.norm(f)
    keep = [i for i in range(c) if abs(f[i]) <= tol]
    mixed = [i for i in range(c) if abs(f[i]) > tol]
    rest = _null(f[mixed][None, :], tol)  # [len(mixed), len(mixed) - 1]
    new = np.concatenate([columns[:, keep], columns[:, mixed] @ rest], axis=1)
    return new if _covered(sites, new, tol, cond) else None


@dataclass(frozen=True, eq=False)
class LosslessBasis:
    """E `[d, r]`, the read map D_l `[r, d]` of every sublayer, the labels of the r
    coordinates, and how many of them are original residual axes."""

    embed: np.ndarray
    reads: list[np.ndarray]
    labels: list[Label]
    axes: int

    @property
    def width(self) -> int:
        return self.embed.shape[1]


def lossless_basis(w: ModelWeights, spans: Sequence[np.ndarray], tol: float = 1e-6,
                   cond: float = 1e-2, seed: int = 0) -> LosslessBasis:
    """The lossless E for the sites' `spans` (see the module docstring): every functional a
    site reads is within `tol` (relative to its norm) of one its compressed residual shows
    with singular values above `cond`."""
    d = w.d_model
    sites, functionals = [], []
    for site, basis in enumerate(spans):
        f = site_functionals(w, site, basis)
        norms = np.linalg.norm(f, axis=0)
        f = f[:, norms > 0] / norms[norms > 0]
        functionals.append(f)
        sites.append(_Site(basis, basis @ f))
    outputs = list(w.output_indices)
    # Axes anything reads: latest first, the output axes last (kept if they can be).
    read = np.abs(np.concatenate(functionals, axis=1)).max(axis=1, initial=0.0) > 0
    axes = [i for i in range(d) if read[i] or i in outputs]
    order = [i for i in reversed(axes) if i not in outputs] + outputs
    kept = set(axes)
    for axis in order:
        trial = sorted(kept - {axis})
        if _covered(sites, np.eye(d)[:, trial], tol, cond):
            kept.discard(axis)
    columns = np.eye(d)[:, sorted(kept)]
    rng = np.random.default_rng(seed)
    while columns.shape[1] and (
            smaller := _drop_direction(sites, columns, tol, cond, rng)) is not None:
        columns = smaller
    embed, labels, axes_kept = _name_columns(w, columns, spans[-1], tol)
    reads = []
    for basis in spans[:-1]:
        u, s, v, _ = _visible(basis @ embed, cond)
        reads.append(v @ ((u.T @ basis) / s[:, None]))
    return LosslessBasis(embed, reads, labels, axes_kept)


def _name_columns(w: ModelWeights, columns: np.ndarray, final: np.ndarray,
                  tol: float) -> tuple[np.ndarray, list[Label], int]:
    """The columns as E: each output label gets a column equal to it on the final span,
    named after it (its axis if that is a column); columns that are residual axes keep their
    label and order, before the others, named `compressed:i`."""
    d = w.d_model
    axis_of = {}
    for j in range(columns.shape[1]):
        nonzero = np.flatnonzero(np.abs(columns[:, j]) > tol)
        if len(nonzero) == 1 and abs(columns[nonzero[0], j] - 1) <= tol:
            axis_of[j] = int(nonzero[0])
    named: dict[int, Label] = {}  # column -> output label
    extra = []  # (column vector, output label) of outputs that are not an axis column
    for i, label in zip(w.output_indices, w.output.labels):
        hit = [j for j, axis in axis_of.items() if axis == i]
        if hit:
            named[hit[0]] = label
            continue
        unit = np.eye(d)[:, i]
        y = np.linalg.lstsq(final @ columns, final @ unit, rcond=None)[0]
        extra.append((columns @ y, label))
    # Every output's column (even if the outputs are dependent), then axes, then the rest.
    basis: list[tuple[np.ndarray, Label | None, int]] = [
        *((columns[:, j], label, axis_of[j]) for j, label in named.items()),
        *((v, label, -1) for v, label in extra)]
    rank = np.linalg.matrix_rank(np.array([v for v, _, _ in basis]).T, tol) if basis else 0
    for j in sorted(range(columns.shape[1]), key=lambda j: (j not in axis_of, j)):
        if j in named:
            continue
        trial = np.array([v for v, _, _ in basis] + [columns[:, j]]).T
        if np.linalg.matrix_rank(trial, tol) > rank:
            rank += 1
            axis = axis_of.get(j, -1)
            basis.append((columns[:, j], named.get(j, w.residual[axis] if axis >= 0 else None),
                          axis))
    order = sorted(range(len(basis)), key=lambda i: (basis[i][2] < 0, basis[i][2],
                                                     basis[i][1] is None))
    unnamed = iter(fresh_labels(w.output.labels, sum(x is None for _, x, _ in basis),
                                w.residual))
    labels = [basis[i][1] or next(unnamed) for i in order]
    embed = np.array([basis[i][0] for i in order]).T if basis else np.zeros((d, 0))
    return embed, labels, sum(basis[i][2] >= 0 for i in order)
