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
        "seed", "merits" (each copy's merit, run by run)}.

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
    merits = np.concatenate([_scored(ev, mats, d, factor[s:s + size], dn[s:s + size], size)
                             for s in range(0, runs, size)])
    return {"merit": nominal, "mean": float(merits.mean()), "std": float(merits.std()),
            "median": float(np.median(merits)), "p90": float(np.percentile(merits, 90)),
            "solved_share": float(np.mean(merits <= ev.goal.solved_below)), "runs": int(runs),
            "thickness_pct": float(thickness_pct), "index_sigma": float(index_sigma), "seed": int(seed),
            "merits": merits.tolist()}


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
