"""How a design holds up when it is made with errors: a Monte Carlo over made copies.

    report = tolerance(evaluator, design, thickness_pct=1.0, index_sigma=0.01, runs=200, seed=0)

The errors are ``merit.errors``' (the rule a robust goal's merit uses too): run r draws
z = default_rng([seed, r]).standard_normal(K + L), K the goal's materials and L the design's
layers; film material k's real index is off by index_sigma * z[k] (``calibration.shift``),
shared by all its layers, as one deposition would make it; layer l's thickness becomes
max(0, d_l * (1 + thickness_pct / 100 * z[K + l])). The incident medium and the substrate are
bulk media and are left as they are. Each run has its own stream, so the first runs are the same
whatever ``runs`` is.

Copies are scored through the goal's merit (``merit.Made``) in batches of up to CHUNK runs
(padded to a power of two, so the shapes, hence the compiled program, repeat).

    rows = sensitivity(evaluator, design)     # per layer: d(merit)/d(thickness), merit at +-1 %

Per-layer sensitivity is of the goal's merit as ``evaluate`` scores it (a robust goal's: the mean
over its made copies): the derivative in each layer's thickness [per nm] by JAX autodiff
(``merit.Evaluator.value_and_grad``), and the merit when that layer alone is made
SENSITIVITY_PCT percent thicker and thinner (all 2 L perturbed designs scored as one batch).
"""

from __future__ import annotations

import math
import numbers

import jax.numpy as jnp
import numpy as np

from domains.photonics import merit
from domains.photonics.design import Design
from specialist.errors import InputError

CHUNK = 256  # copies scored in one solver call
SENSITIVITY_PCT = 1.0  # the one-layer thickness change the sensitivity table reports
MOST_SENSITIVE = 3  # layers marked as the most sensitive


def tolerance(ev: merit.Evaluator, design: Design, thickness_pct: float = 1.0, index_sigma: float = 0.01,
              runs: int = 200, seed: int = 0) -> dict:
    """Monte Carlo of a design's merit under manufacturing errors (the rule in the module docstring).

    Args:
        ev: the goal's evaluator.
        design: a parsed design; it must keep the goal's hard constraints.
        thickness_pct: standard deviation of each layer's relative thickness error [%], >= 0.
        index_sigma: standard deviation of each film material's real-index offset, >= 0.
        runs: made copies simulated, >= 1.
        seed: seed of the errors, >= 0.

    Returns:
        {"merit" (the design as designed, as ``verify`` scores it), "mean", "std" (population),
        "median", "p90" (90th percentile, linear interpolation), "solved_share" (share of copies
        with merit <= the goal's ``solved_below``), "runs", "thickness_pct", "index_sigma",
        "seed", "merits" (each copy's merit, run by run), "sensitivity" (per layer, ``sensitivity``)
        and "most_sensitive_layers" (``most_sensitive``)}.

    Raises:
        InputError: for an argument out of range, or a design that breaks the goal's limits.
    """
    _check(thickness_pct, index_sigma, runs, seed)
    runs, seed = int(runs), int(seed)
    why = ev.goal.violation(design)
    if why:
        raise InputError("design", "", f"breaks a limit of goal '{ev.goal.name}': {why}")
    mats, d = ev.encode([design])
    nominal = float(ev.plain_merit(jnp.asarray(mats), jnp.asarray(d))[0])
    factor, dn = merit.errors(seed, runs, len(ev.goal.materials), ev.n_layers, thickness_pct, index_sigma)
    size = min(CHUNK, max(4, 1 << (runs - 1).bit_length()))  # powers of two: few shapes, few compiles
    merit_now, rows = sensitivity(ev, design)
    merits = np.concatenate([_scored(ev, mats, d, factor[s:s + size], dn[s:s + size], size)
                             for s in range(0, runs, size)])
    return {"merit": nominal, "mean": float(merits.mean()), "std": float(merits.std()),
            "median": float(np.median(merits)), "p90": float(np.percentile(merits, 90)),
            "solved_share": float(np.mean(merits <= ev.goal.solved_below)), "runs": int(runs),
            "thickness_pct": float(thickness_pct), "index_sigma": float(index_sigma), "seed": int(seed),
            "merits": merits.tolist(), "sensitivity": rows,
            "most_sensitive_layers": most_sensitive(merit_now, rows)}


def sensitivity(ev: merit.Evaluator, design: Design) -> tuple[float, list[dict]]:
    """The goal's merit (as ``evaluate`` scores it) and, per layer (1 = next to the incident
    medium), {"layer", "material", "thickness_nm", "dmerit_dnm" (d merit / d thickness per nm, by
    autodiff), "merit_plus_1pct", "merit_minus_1pct" (the merit with that layer alone
    SENSITIVITY_PCT percent thicker, thinner)}. The design must keep the goal's limits."""
    L = len(design.layers)
    mats, d = ev.encode([design])
    value, grad = ev.value_and_grad(jnp.asarray(mats), jnp.asarray(d))
    if L == 0:
        return float(np.asarray(value)[0]), []
    step = np.zeros((2 * L, d.shape[1]))
    step[np.arange(L), np.arange(L)] = SENSITIVITY_PCT / 100.0
    step[L + np.arange(L), np.arange(L)] = -SENSITIVITY_PCT / 100.0
    perturbed = d * (1.0 + step)  # row l: layer l thicker; row L + l: layer l thinner
    scored = np.asarray(ev.merit(jnp.asarray(np.repeat(mats, 2 * L, axis=0)), jnp.asarray(perturbed)))
    grad_L = np.asarray(grad)[0, :L]
    return float(np.asarray(value)[0]), [
        {"layer": l + 1, "material": m.name, "thickness_nm": float(t), "dmerit_dnm": float(grad_L[l]),
         "merit_plus_1pct": float(scored[l]), "merit_minus_1pct": float(scored[L + l])}
        for l, (m, t) in enumerate(design.layers)]


def most_sensitive(merit_now: float, rows: list[dict], count: int = MOST_SENSITIVE) -> list[int]:
    """The (at most ``count``) layers whose +-1 % change moves the merit from ``merit_now`` the
    most, most first; a layer that moves it not at all is never listed."""
    moved = {r["layer"]: max(abs(r["merit_plus_1pct"] - merit_now), abs(r["merit_minus_1pct"] - merit_now))
             for r in rows}
    ranked = sorted(moved, key=lambda layer: -moved[layer])
    return [layer for layer in ranked[:count] if moved[layer] > 0]


def _scored(ev: merit.Evaluator, mats_1xL, d_1xL, factor_CxL, dn_CxK, size: int) -> np.ndarray:
    """Merits of up to ``size`` runs; a short last batch is padded with runs made without error."""
    n = len(factor_CxL)
    factor = np.ones((size, factor_CxL.shape[1]))
    factor[:n] = factor_CxL
    dn = np.zeros((size, dn_CxK.shape[1]))
    dn[:n] = dn_CxK
    return np.asarray(merit.Made(ev.goal, ev.n_layers, factor, dn).merits(mats_1xL, d_1xL))[0, :n]


def _check(thickness_pct, index_sigma, runs, seed) -> None:
    for name, x, unit in (("thickness_pct", thickness_pct, "percent of each layer's thickness"),
                          ("index_sigma", index_sigma, "refractive index units")):
        if not (_real(x) and x >= 0):
            raise InputError(name, "", f"is {x!r}; allowed: a finite number >= 0 ({unit})")
    if not (_whole(runs) and runs >= 1):
        raise InputError("runs", "", f"is {runs!r}; allowed: a whole number >= 1")
    if not (_whole(seed) and seed >= 0):
        raise InputError("seed", "", f"is {seed!r}; allowed: a whole number >= 0")


def _real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _whole(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)
