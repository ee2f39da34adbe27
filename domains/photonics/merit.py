"""The merit of designs against a goal, batched, jitted and differentiable in the thicknesses.

    merit = sqrt( sum_i w_i (violation_i / tolerance_i)^2 / sum_i w_i )

over every target point i, with violation max(0, Q - value) for "<=", max(0, value - Q) for
">=" and |Q - value| for "=". Shape legend: B designs, L layers, A angles, P target points,
W wavelengths (the union of the targets' grids).

Material indices for ``mats_BxL`` refer to the goal's material list (0 = goal.materials[0]).
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from domains.photonics import solver
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
        """merit_B of each design."""
        return _rows(_merit, self._problem, mats_BxL, d_BxL, self._static)

    def quantities(self, mats_BxL, d_BxL):
        """Q at every (padded) target point, B x P."""
        return _rows(_quantities, self._problem, mats_BxL, d_BxL, self._static)

    def value_and_grad(self, mats_BxL, d_BxL):
        """(merit_B, dmerit/dd_BxL): each design's merit and its gradient in its thicknesses."""
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
    return jnp.where(p["le"], jnp.maximum(excess, 0.0),
                     jnp.where(p["ge"], jnp.maximum(-excess, 0.0), jnp.abs(excess))) / p["tol"]


def _merit_of(p, mats_BxL, d_BxL, pols, thick):
    v = _violations(p, _quantities(p, mats_BxL, d_BxL, pols, thick))
    return jnp.sqrt(jnp.sum(p["weight"] * v * v, axis=1) / jnp.sum(p["weight"]))


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
