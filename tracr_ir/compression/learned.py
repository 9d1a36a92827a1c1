"""The learned compression (Tracr paper, section 5): the compiled weights frozen, a smaller
residual learned.

The compressed model of width N embeds the residual with E [d, N] (x' = x E, and every
sublayer writes through E) and sublayer l reads x' D_l. *Tied*: one W, D_l = W^T, as in the
paper. *Untied*: E and a D_l per sublayer (the transformer dialect has the read weights of
each sublayer anyway, so this costs nothing at run time). The output coordinates are columns
of x' named after the output labels, so the unembedding reads them as in any model.

Training (optax Adam, cosine-decayed learning rate, full batch over the inputs) minimises

    output_weight * mean |x'_out - y|^2  +  sum over sublayers of mean |(x' D_l - x_l) R_l|^2

where x_l is the original residual entering sublayer l and R_l the weights it reads with
(every head's W_Q, W_K, W_V; the MLP's W_1): the error of each sublayer's input as the
sublayer sees it, in its own units (a ramp's pre-activation, a logit). It starts from the
lossless solution truncated to N (its principal directions over the inputs, the output
columns kept; D_l by least squares), and each restart after the first perturbs that start.
The parameters with the smallest largest output error seen so far (then the smallest loss)
are kept across restarts. JAX and optax are imported here only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracr_ir.compression.common import Sites, read_matrices
from tracr_ir.compression.lossless import LosslessBasis
from tracr_ir.model import ModelWeights

__all__ = ["Training", "learn", "stderr_progress", "truncated_start"]


@dataclass(frozen=True, eq=False)
class Training:
    """What `learn` found: E, the read maps, and the loss and largest output error of the
    starting point and of the result (on the training inputs, in the JAX forward)."""

    embed: np.ndarray
    reads: list[np.ndarray]
    initial_loss: float
    initial_error: float
    loss: float
    error: float
    restarts: int
    steps: int


def truncated_start(w: ModelWeights, sites: Sites, basis: LosslessBasis, width: int,
                    tied: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The lossless E cut to `width` columns: the output columns, then the principal
    directions of the rest over every sublayer's inputs; D_l by least squares on what each
    sublayer reads (tied: E orthonormalised, D_l = E^T)."""
    k = len(w.output.labels)
    if width < k:
        raise ValueError(f"width {width} is below the {k} output coordinates")
    rows = np.concatenate([sites.rows(s) for s in range(len(sites.inputs) + 1)])
    rows = rows.astype(np.float64)
    outputs = [basis.labels.index(label) for label in w.output.labels]
    rest = np.delete(basis.embed, outputs, axis=1)
    if rest.shape[1] and width > k:
        _, _, vt = np.linalg.svd(rows @ rest, full_matrices=False)
        rest = rest @ vt[: width - k].T
    else:
        rest = rest[:, :0]
    embed = np.concatenate([basis.embed[:, outputs], rest], axis=1)
    if tied:
        q, r = np.linalg.qr(embed)
        embed = q * np.sign(np.diag(r))[None, :]
        return embed, [embed.T for _ in sites.inputs]
    reads = []
    for s in range(len(sites.inputs)):
        x = sites.rows(s).astype(np.float64)
        read = np.concatenate([m.astype(np.float64) for m in read_matrices(w, s)], axis=1) \
            if read_matrices(w, s) else np.zeros((w.d_model, 0))
        if not read.shape[1]:
            reads.append(np.zeros((width, w.d_model)))
            continue
        a = x @ embed
        target = x @ read
        # min |a D read - target|: D = a^+ target read^+ (D of least norm)
        reads.append(np.linalg.pinv(a, rcond=1e-9) @ target @ np.linalg.pinv(read, rcond=1e-9))
    return embed, reads


def learn(w: ModelWeights, sites: Sites, ids: np.ndarray, start: tuple[np.ndarray,
          list[np.ndarray]], *, tied: bool, steps: int, restarts: int, lr: float, seed: int,
          residual_weight: float = 1.0, power: int = 16,
          progress: Callable[[str], None] | None = None) -> Training:
    """Train E and the read maps from `start` on the inputs `ids` (their residuals `sites`):
    `restarts` runs of `steps` Adam steps, each with its own cosine-decayed learning rate
    from `lr`; the first from `start`, the others from the best so far, perturbed."""
    import jax
    import jax.numpy as jnp
    import optax

    from tracr_ir.interpreters.transformer import visible_keys

    f32 = jnp.float32
    n_sites = len(sites.inputs)
    mask = jnp.asarray(sites.mask)
    real = mask.at[:, 0].set(False)  # outputs are read at the tokens, not at BOS
    visible = jnp.asarray(visible_keys(sites.mask, w.causal))
    x0 = jnp.asarray(w.token_embed, f32)[jnp.asarray(ids)] + jnp.asarray(
        w.pos_embed, f32)[: ids.shape[1]]
    heads = [[tuple(jnp.asarray(getattr(h, n), f32) for n in ("w_q", "w_k", "w_v", "w_o"))
              for h in layer.heads] for layer in w.layers]
    mlps = [tuple(jnp.asarray(getattr(m, n), f32) for n in ("w_1", "b_1", "w_2", "b_2"))
            for m in w.mlps()]
    reads_w = [jnp.concatenate([jnp.asarray(m, f32) for m in read_matrices(w, s)], axis=1)
               if read_matrices(w, s) else None for s in range(n_sites)]
    targets = [None if r is None else jnp.asarray(sites.inputs[s], f32) @ r
               for s, r in enumerate(reads_w)]
    scales = [None if t is None else  # each sublayer's error relative to what it reads
              jnp.maximum(jnp.where(mask[..., None], t ** 2, 0.0).sum(), 1e-12)
              for t in targets]
    k = len(w.output_indices)
    y = jnp.asarray(sites.final[..., list(w.output_indices)], f32)
    n_out = jnp.maximum(real.sum(), 1)

    def read_maps(params: dict[str, Any]) -> list[Any]:
        return [params["embed"].T] * n_sites if tied else params["reads"]

    def run(params: dict[str, Any], weight: Any) -> tuple[Any, tuple[Any, Any]]:
        """(total loss, (output loss, largest output error))."""
        e, reads = params["embed"], read_maps(params)
        x, residual = x0 @ e, 0.0
        for s in range(n_sites):
            xr = x @ reads[s]
            if reads_w[s] is not None:
                err = jnp.where(mask[..., None], xr @ reads_w[s] - targets[s], 0.0)
                residual = residual + (err ** 2).sum() / scales[s]
            if s % 2 == 0:
                update = jnp.zeros_like(x)
                for w_q, w_k, w_v, w_o in heads[s // 2]:
                    scores = jnp.where(visible, (xr @ w_q) @ jnp.swapaxes(xr @ w_k, -1, -2),
                                       -jnp.inf)
                    update = update + ((jax.nn.softmax(scores, axis=-1) @ (xr @ w_v))
                                       @ w_o) @ e
            else:
                w_1, b_1, w_2, b_2 = mlps[s // 2]
                update = (jax.nn.relu(xr @ w_1 + b_1) @ w_2 + b_2) @ e
            x = x + update
        sq = jnp.where(real[..., None], x[..., :k] - y, 0.0) ** 2
        top = jax.lax.stop_gradient(jnp.maximum(sq.max(), 1e-30))  # no overflow in sq^(p/2)
        high = top * ((((sq / top) ** (power // 2)).sum() / n_out) ** (1 / (power // 2)))
        output = sq.sum() / n_out + high
        return output + weight * residual, (output, jnp.sqrt(sq.max()))

    optimizer = optax.adam(optax.cosine_decay_schedule(lr, max(steps, 1)))
    chunk = max(1, min(steps, 50))

    def one_step(carry: tuple, _: Any) -> tuple:
        params, state, best, t, first = carry
        weight = jnp.where(first, residual_weight * 0.5 * (
            1 + jnp.cos(jnp.pi * jnp.minimum(2 * t / max(steps, 1), 1.0))), 0.0)
        (_, (output, error)), grads = jax.value_and_grad(run, has_aux=True)(params, weight)
        better = jnp.isfinite(output) & (output < best[0])
        best = jax.tree_util.tree_map(lambda new, old: jnp.where(better, new, old),
                                      (output, error, params), best)
        updates, new_state = optimizer.update(grads, state, params)
        finite = jnp.isfinite(output)  # a step that overflowed changes nothing
        params, state = jax.tree_util.tree_map(
            lambda new, old: jnp.where(finite, new, old),
            (optax.apply_updates(params, updates), new_state), (params, state))
        return (params, state, best, t + 1, first), (output, error)

    @jax.jit
    def run_chunk(carry: tuple) -> tuple:
        carry, (outputs, errors) = jax.lax.scan(one_step, carry, None, length=chunk)
        return carry, outputs[-1], errors[-1]

    def as_params(embed: np.ndarray, reads: Sequence[np.ndarray]) -> dict[str, Any]:
        params = {"embed": jnp.asarray(embed, f32)}
        if not tied:
            params["reads"] = [jnp.asarray(r, f32) for r in reads]
        return params

    params = as_params(*start)
    loss0, error0 = (float(v) for v in jax.jit(run)(params, 0.0)[1])
    best = (jnp.asarray(loss0, f32), jnp.asarray(error0, f32), params)
    rng = np.random.default_rng(seed)
    chunks = max(1, steps // chunk)
    for restart in range(restarts):
        if restart:  # from the best so far, perturbed by 1% of each matrix's scale
            params = jax.tree_util.tree_map(
                lambda a: a + jnp.asarray(rng.normal(0.0, 0.01, a.shape), f32)
                * jnp.abs(a).max(), best[2])
        carry = (params, optimizer.init(params), best, jnp.asarray(0.0, f32),
                 jnp.asarray(restart == 0))
        for i in range(chunks):
            carry, output, error = run_chunk(carry)
            if progress is not None and ((i + 1) % max(1, chunks // 10) == 0 or i + 1 == chunks):
                progress(f"restart {restart + 1}/{restarts}, step {(i + 1) * chunk}/{steps}: "
                         f"output loss {float(output):.3g}, largest output error "
                         f"{float(error):.3g} (best so far {float(carry[2][1]):.3g})")
        best = carry[2]
    params = best[2]
    return Training(np.asarray(params["embed"], np.float64),
                    [np.asarray(r, np.float64) for r in read_maps(params)],
                    loss0, error0, float(best[0]), float(best[1]), restarts, steps)


def stderr_progress(message: str) -> None:
    """Progress lines on stderr: `transformer-compress: restart 1/3, step 400/4000: ...`."""
    print(f"transformer-compress: {message}", file=sys.stderr, flush=True)
