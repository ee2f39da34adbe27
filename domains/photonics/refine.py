"""Local refinement of designs: Adam on thicknesses through the solver, and needle insertion.

Used by the gradient baseline and, at test time, by the specialist. Both work on padded rows
(mats_BxL, d_BxL) where a zero thickness marks an absent layer, and both spend budget through a
``Budgeted`` scorer (gradient = 3, spectrum = 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from domains.photonics.merit import GRADIENT_COST

_NEEDLE_CANDIDATES = 64


@jax.jit
def _project(d, mask, lo, hi, total_max):
    """Keep present layers in [lo, hi] and the stack under the total-thickness limit."""
    d = jnp.where(mask, jnp.clip(d, lo, hi), 0.0)
    scale = jnp.minimum(1.0, total_max * (1 - 1e-12) / jnp.maximum(d.sum(axis=1, keepdims=True), 1e-12))
    return jnp.where(mask, jnp.maximum(d * scale, lo), 0.0)


_ADAM = optax.scale_by_adam()


@jax.jit
def _adam_step(d, grad, mask, state, lr, lo, hi, total_max):
    """One projected Adam step on the present layers (compiled once per batch shape)."""
    step, state = _ADAM.update(jnp.where(mask, grad, 0.0), state)
    return _project(d - lr * step, mask, lo, hi, total_max), state


def adam_refine(scorer, mats_BxL: np.ndarray, d_BxL: np.ndarray, steps: int, lr: float = 0.02):
    """Run up to ``steps`` Adam steps on the present layers' thicknesses within the budget.

    The step size is ``lr`` times the goal's thickness range, decayed along a cosine to 5 %.

    Returns:
        (mats_BxL, d_BxL) after the last step (the scorer keeps the best design seen).
    """
    goal = scorer.ev.goal
    lo, hi = goal.thickness_nm
    total_max = goal.max_total_thickness_nm or np.inf
    mask = jnp.asarray(d_BxL > 0)
    schedule = optax.cosine_decay_schedule(lr * (hi - lo), max(steps, 1), alpha=0.05)
    d = jnp.asarray(d_BxL)
    state = _ADAM.init(d)
    for t in range(steps):
        if scorer.left < GRADIENT_COST * len(mats_BxL):
            break
        _, grad = scorer.value_and_grad(mats_BxL, np.asarray(d))
        d, state = _adam_step(d, jnp.asarray(grad), mask, state, float(schedule(t)), lo, hi, total_max)
    return mats_BxL, np.asarray(d)


def needle_insert(scorer, mats_1xL: np.ndarray, d_1xL: np.ndarray, rank: int = 0):
    """Try thin layers of each material inside and between layers; keep the best.

    Args:
        rank: 0 keeps the best candidate, k the (k+1)-th best (to leave a basin that the best
            candidate led back into).

    Returns:
        (mats_1xL, d_1xL) of the chosen grown design, or None when no layer can be added, the
        budget is too small to try, or fewer than ``rank + 1`` candidates exist.
    """
    ev = scorer.ev
    n = int((d_1xL[0] > 0).sum())
    if n + 1 > min(ev.goal.max_layers, ev.n_layers) or scorer.left < 8:
        return None
    cands = _candidates(ev, mats_1xL[0, :n], d_1xL[0, :n])
    if not cands:
        return None
    rng = np.random.default_rng(int(scorer.spent))
    take = min(len(cands), _NEEDLE_CANDIDATES, scorer.left // 4)
    picked = [cands[i] for i in rng.choice(len(cands), take, replace=False)]
    mats = np.zeros((take, ev.n_layers), np.int32)
    d = np.zeros((take, ev.n_layers))
    for b, (m, t) in enumerate(picked):
        mats[b, :len(m)], d[b, :len(t)] = m, t
    merits = scorer.merit(mats, d)
    if rank >= take:
        return None
    b = int(np.argsort(merits)[rank])
    return mats[b:b + 1], d[b:b + 1]


def _candidates(ev, mats_N: np.ndarray, d_N: np.ndarray) -> list[tuple[list, list]]:
    lo, hi = ev.goal.thickness_nm
    needle = max(lo, 2.0)
    limit = min(ev.goal.max_layers, ev.n_layers)
    out = []
    m_list, d_list = mats_N.tolist(), d_N.tolist()
    for k in range(len(ev.goal.materials)):
        for i in range(len(m_list) + 1):  # between layers: one layer more
            if len(m_list) + 1 <= limit:
                out.append((m_list[:i] + [k] + m_list[i:], d_list[:i] + [needle] + d_list[i:]))
        for i, (m, t) in enumerate(zip(m_list, d_list)):  # inside a layer: two more
            if m != k and len(m_list) + 2 <= limit and t >= 2 * lo + 1e-9 and t / 2 >= lo:
                half = t / 2
                out.append((m_list[:i] + [m, k, m] + m_list[i + 1:],
                            d_list[:i] + [half, needle, half] + d_list[i + 1:]))
    total_max = ev.goal.max_total_thickness_nm
    return [c for c in out if total_max is None or sum(c[1]) <= total_max]
