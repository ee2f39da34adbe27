"""The merit of designs against a goal, batched, jitted and differentiable in the thicknesses.

    merit = sqrt( sum_i w_i (violation_i / tolerance_i)^2 / sum_i w_i )

over every target point i, with violation max(0, Q - value) for "<=", max(0, value - Q) for
">=" and |Q - value| for "=". Shape legend: B designs, L layers, A angles, P target points,
W wavelengths (the union of the targets' grids).

Material indices for ``mats_BxL`` refer to the goal's material list (0 = goal.materials[0]).

A goal with ``robustness`` is scored as the mean merit of its made copies (``Made``): the same
runs, drawn once from its seed by ``errors``, for every design, so the merit stays a smooth,
deterministic function of the thicknesses and the gradient search optimizes it as it is. A goal
with a ``calibration`` is scored as the calibrated coater makes its designs (film indices offset,
thicknesses scaled), on top of any robustness. ``quantities`` and ``detail`` stay as designed.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from domains.photonics import calibration, solver
from domains.photonics.design import Design
from domains.photonics.goals import Goal
from domains.photonics.spectra import layer_bucket

GRADIENT_COST = 3  # budget of one merit with its thickness gradient; a merit alone costs 1 (GUIDE)

_MEDIA = 3  # table rows before the goal's materials: incident, substrate, exit
_QUANTITY = {"R": (1.0, 0.0, 0.0), "T": (0.0, 1.0, 0.0), "A": (-1.0, -1.0, 1.0)}  # Q = a R + b T + c


def _bucket(n: int, smallest: int = 1) -> int:
    """The power of two >= n (at least ``smallest``): padded sizes share compiled functions."""
    return max(smallest, 1 << max(n - 1, 0).bit_length())


class Evaluator:
    """Scores batches of designs for one goal.

    The goal's data (media tables, wavelengths, target points) are padded to power-of-two sizes
    and passed as arrays to functions compiled once per process, so goals of similar size share
    one compilation instead of compiling their own.

    Args:
        goal: the goal.
        n_layers: padded layer count; defaults to a bucket holding ``goal.max_layers``.
    """

    def __init__(self, goal: Goal, n_layers: int | None = None):
        self.goal = goal
        self.n_layers = n_layers or layer_bucket(goal.max_layers)
        self.wavelength_W = np.unique(np.concatenate([t.grid() for t in goal.targets]))
        self.angles_A = sorted({t.angle_deg for t in goal.targets})
        self.pols = _pols(goal)
        media = [goal.incident, goal.substrate, goal.exit or goal.substrate]
        self.nk_MxW = np.stack([m.nk(self.wavelength_W, goal.name) for m in media + list(goal.materials)])
        self._problem = self._padded()
        self._static = {"pols": self.pols, "thick": goal.substrate_thickness_mm is not None}
        self._made = _made(goal, self.n_layers)

    def _padded(self) -> dict[str, jnp.ndarray]:
        """The goal as arrays: M, W, A and P padded (repeated rows; points of weight 0)."""
        M, W, A = self.nk_MxW.shape[0], len(self.wavelength_W), len(self.angles_A)
        nk = np.pad(self.nk_MxW, ((0, _bucket(M, 8) - M), (0, _bucket(W, 32) - W)), mode="edge")
        wl = np.pad(self.wavelength_W, (0, nk.shape[1] - W), mode="edge")
        sin_A = np.sin(np.radians(np.pad(np.asarray(self.angles_A, float), (0, _bucket(A) - A), mode="edge")))
        rows = []
        for t in self.goal.targets:
            a = self.angles_A.index(t.angle_deg)
            polw = _pol_weights(t, self.pols)
            for w, v in zip(t.grid(), t.value):
                rows.append((a, int(np.searchsorted(self.wavelength_W, w)), polw, _QUANTITY[t.quantity],
                             t.relation == "<=", t.relation == ">=", v, t.tolerance, t.weight))
        pad = _bucket(len(rows), 32) - len(rows)
        rows += [(0, 0, [0.0] * len(self.pols), (0.0, 0.0, 0.0), False, False, 0.0, 1.0, 0.0)] * pad
        names = ("a", "w", "polw", "q", "le", "ge", "value", "tol", "weight")
        out = {k: jnp.asarray(np.asarray(col)) for k, col in zip(names, zip(*rows))}
        out.update(nk=jnp.asarray(nk), wl=jnp.asarray(wl), sin_A=jnp.asarray(sin_A),
                   sub_mm=jnp.asarray(self.goal.substrate_thickness_mm or 0.0, jnp.float64))
        return out

    def merit(self, mats_BxL, d_BxL):
        """merit_B of each design (as made: a robust goal's, the mean over its made copies)."""
        if self._made is not None:
            return self._made.merits(mats_BxL, d_BxL).mean(axis=1)
        return self.plain_merit(mats_BxL, d_BxL)

    def plain_merit(self, mats_BxL, d_BxL):
        """merit_B of each design as designed, robustness aside."""
        return _rows(_merit, self._problem, mats_BxL, d_BxL, self._static)

    def quantities(self, mats_BxL, d_BxL):
        """Q at every (padded) target point, B x P."""
        return _rows(_quantities, self._problem, mats_BxL, d_BxL, self._static)

    def value_and_grad(self, mats_BxL, d_BxL):
        """(merit_B, dmerit/dd_BxL): each design's merit and its gradient in its thicknesses."""
        if self._made is not None:
            return self._made.value_and_grad(mats_BxL, d_BxL)
        return _rows(_value_and_grad, self._problem, mats_BxL, d_BxL, self._static)

    def _violations(self, q_BxP):
        return _violations(self._problem, q_BxP)

    def encode(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """(mats_BxL, d_BxL) for designs whose materials are the goal's."""
        index = {m.key: i for i, m in enumerate(self.goal.materials)}
        mats = np.zeros((len(designs), self.n_layers), np.int32)
        d = np.zeros((len(designs), self.n_layers))
        for b, design in enumerate(designs):
            for l, (m, t) in enumerate(design.layers):
                mats[b, l], d[b, l] = index[m.key], t
        return mats, d

    def decode(self, mats_L: np.ndarray, d_L: np.ndarray) -> Design:
        """A design from one row of indices and thicknesses; zero-thickness layers dropped."""
        layers = [(self.goal.materials[int(m)], float(t)) for m, t in zip(mats_L, d_L) if t > 0]
        return self.goal.design(layers)

    def score(self, designs: Sequence[Design]) -> list[dict]:
        """Merit and solved flag of each design, or the hard constraint it breaks."""
        out: list[dict] = [{} for _ in designs]
        ok = []
        for b, design in enumerate(designs):
            why = self.goal.violation(design)
            out[b] = {"rejected": why} if why else {}
            if not why:
                ok.append(b)
        if ok:
            merits = np.asarray(self.merit(*map(jnp.asarray, self.encode([designs[b] for b in ok]))))
            for b, m in zip(ok, merits):
                out[b] = {"merit": float(m), "solved": bool(m <= self.goal.solved_below)}
        return out

    def detail(self, design: Design) -> list[dict]:
        """Per target: its own merit term, the worst violation, and Q on its grid."""
        mats, d = map(jnp.asarray, self.encode([design]))
        q = np.asarray(self.quantities(mats, d))[0]
        v = np.asarray(self._violations(q[None]))[0]
        out, start = [], 0
        for t in self.goal.targets:
            sl = slice(start, start + t.points)
            start += t.points
            out.append({"quantity": t.quantity, "polarization": t.polarization, "angle_deg": t.angle_deg,
                        "relation": t.relation, "wavelength_nm": t.grid().tolist(), "values": q[sl].tolist(),
                        "merit": float(np.sqrt(np.mean(v[sl] ** 2))),
                        "worst_violation": float(np.max(v[sl]) * t.tolerance)})
        return out


def _made(goal: Goal, n_layers: int) -> "Made | None":
    """How a goal's designs are scored when made: its robustness's copies (else one copy), each
    through its calibration's corrections; None for a goal asking neither."""
    r, cal = goal.robustness, goal.calibration
    if r is None and cal is None:
        return None
    K = len(goal.materials)
    factor, dn = errors(r.seed, r.runs, K, n_layers, r.thickness_pct, r.index_sigma) if r is not None else \
        (np.ones((1, n_layers)), np.zeros((1, K)))
    if cal is not None:
        factor, dn = factor * cal.thickness_scale, dn + np.array([cal.offset(m) for m in goal.materials])
    return Made(goal, n_layers, factor, dn)


def errors(seed: int, runs: int, materials: int, layers: int, thickness_pct: float,
           index_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(factor_RxL, dn_RxK): the manufacturing errors of ``runs`` made copies.

    Run r draws z = default_rng([seed, r]).standard_normal(K + L) (K materials, L layers): film
    material k's real index is off by index_sigma * z[k], shared by all its layers; layer l's
    thickness is multiplied by 1 + thickness_pct / 100 * z[K + l] (floored at 0 where used).
    A run's first draws do not depend on L, so a design of fewer layers takes the first columns.
    """
    z = np.stack([np.random.default_rng([int(seed), r]).standard_normal(materials + layers) for r in range(runs)])
    return 1.0 + thickness_pct / 100.0 * z[:, materials:], index_sigma * z[:, :materials]


class Made:
    """Designs as made with given errors: every design's R copies scored in one solver call.

    Args:
        goal: the goal (its materials are the ones offset).
        n_layers: padded layer count of the designs given.
        factor_RxL, dn_RxK: per run, each layer's thickness factor and each material's index
            offset (``errors``).
    """

    def __init__(self, goal: Goal, n_layers: int, factor_RxL: np.ndarray, dn_RxK: np.ndarray):
        self.K, self.R = len(goal.materials), len(factor_RxL)
        self.factor_RxL = jnp.asarray(factor_RxL[:, :n_layers])
        films = tuple(calibration.shift(m, x) for row in dn_RxK for m, x in zip(goal.materials, row))
        self.ev = Evaluator(dataclasses.replace(goal, materials=films, robustness=None, calibration=None), n_layers)

    def _copies(self, mats_BxL, d_BxL):
        B, L = np.shape(mats_BxL)
        mats = jnp.asarray(mats_BxL)[:, None, :] + self.K * jnp.arange(self.R, dtype=jnp.int32)[None, :, None]
        d = jnp.maximum(0.0, jnp.asarray(d_BxL, jnp.float64)[:, None, :] * self.factor_RxL[None])
        return mats.reshape(B * self.R, L), d.reshape(B * self.R, L)

    def merits(self, mats_BxL, d_BxL):
        """merit_BxR: each design's made copies."""
        return self.ev.plain_merit(*self._copies(mats_BxL, d_BxL)).reshape(len(mats_BxL), self.R)

    def value_and_grad(self, mats_BxL, d_BxL):
        """(mean merit_B over the copies, its gradient in the designed thicknesses)."""
        B = len(mats_BxL)
        mats, d = self._copies(mats_BxL, d_BxL)
        merit_BR, grad_BR = self.ev.value_and_grad(mats, d)
        live = d.reshape(B, self.R, -1) > 0  # a copy's layer floored at 0 passes no gradient back
        grad = (grad_BR.reshape(B, self.R, -1) * self.factor_RxL[None] * live).mean(axis=1)
        return merit_BR.reshape(B, self.R).mean(axis=1), grad


def _rows(fn, problem, mats_BxL, d_BxL, static):
    """``fn`` on the batch padded to a power-of-two row count (empty stacks), cut back to B rows."""
    B = len(mats_BxL)
    pad = _bucket(B, 4) - B
    if pad:
        mats_BxL = jnp.concatenate([jnp.asarray(mats_BxL), jnp.zeros((pad, mats_BxL.shape[1]), jnp.int32)])
        d_BxL = jnp.concatenate([jnp.asarray(d_BxL, jnp.float64), jnp.zeros((pad, d_BxL.shape[1]))])
    out = fn(problem, mats_BxL, d_BxL, **static)
    return jax.tree_util.tree_map(lambda x: x[:B], out)


def _spectra(p, mats_BxL, d_BxL, pols, thick):
    B = mats_BxL.shape[0]
    args = (p["nk"], p["wl"], p["sin_A"], 0, mats_BxL + _MEDIA, d_BxL, jnp.ones(B, jnp.int32))
    if not thick:
        return solver.coherent(*args, pols=pols)
    return solver.incoherent(*args, jnp.broadcast_to(p["sub_mm"], (B,)), jnp.full(B, 2, jnp.int32), pols=pols)


@partial(jax.jit, static_argnames=("pols", "thick"))
def _quantities(p, mats_BxL, d_BxL, pols, thick):
    R, T = _spectra(p, mats_BxL, d_BxL, pols, thick)
    r_BxP = jnp.einsum("bpk,pk->bp", R[:, p["a"], :, p["w"]].transpose(1, 0, 2), p["polw"])
    t_BxP = jnp.einsum("bpk,pk->bp", T[:, p["a"], :, p["w"]].transpose(1, 0, 2), p["polw"])
    return p["q"][:, 0] * r_BxP + p["q"][:, 1] * t_BxP + p["q"][:, 2]


def _violations(p, q_BxP):
    excess = q_BxP - p["value"]
    v = jnp.where(p["le"], jnp.maximum(excess, 0.0),
                  jnp.where(p["ge"], jnp.maximum(-excess, 0.0), jnp.abs(excess))) / p["tol"]
    # A quantity that is not finite (a spectrum that overflowed) meets no target: max(NaN, 0) may
    # be 0, and a NaN merit reads as met below, so it would count as solved.
    return jnp.where(jnp.isfinite(q_BxP), v, jnp.inf)


def _merit_of(p, mats_BxL, d_BxL, pols, thick):
    v = _violations(p, _quantities(p, mats_BxL, d_BxL, pols, thick))
    # padding points (weight 0) count for nothing, even where their quantity is not finite
    mean_B = jnp.sum(jnp.where(p["weight"] > 0, p["weight"] * v * v, 0.0), axis=1) / jnp.sum(p["weight"])
    # sqrt's derivative is infinite at 0, where the mean's is 0 (no point violates): the product
    # would be NaN for a design that meets every target. The merit's gradient there is 0.
    met_B = mean_B > 0
    return jnp.where(met_B, jnp.sqrt(jnp.where(met_B, mean_B, 1.0)), 0.0)


_merit = jax.jit(_merit_of, static_argnames=("pols", "thick"))


def _sum_and_merits(d_BxL, p, mats_BxL, pols, thick):
    merit_B = _merit_of(p, mats_BxL, d_BxL, pols, thick)
    return merit_B.sum(), merit_B


@partial(jax.jit, static_argnames=("pols", "thick"))
def _value_and_grad(p, mats_BxL, d_BxL, pols, thick):
    # d(sum of merits)/d(thickness): each design's gradient is its own merit's gradient.
    (_, merit_B), grad_BxL = jax.value_and_grad(_sum_and_merits, has_aux=True)(d_BxL, p, mats_BxL, pols, thick)
    return merit_B, grad_BxL


def _pols(goal: Goal) -> tuple[str, ...]:
    needed = set()
    for t in goal.targets:
        if t.angle_deg == 0:
            needed.add("s")  # s and p coincide at normal incidence
        else:
            needed |= {"s", "p"} if t.polarization == "avg" else {t.polarization}
    return tuple(p for p in solver.POLARIZATIONS if p in needed)


def _pol_weights(t, pols: tuple[str, ...]) -> list[float]:
    if t.angle_deg == 0:
        return [1.0 if p == "s" else 0.0 for p in pols]
    if t.polarization == "avg":
        return [0.5 for _ in pols]
    return [1.0 if p == t.polarization else 0.0 for p in pols]
