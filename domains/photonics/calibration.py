"""Calibration of the simulator to measured spectra: film index offsets and run thickness scales.

    cal = fit([(design, measurement), ...])       # Design objects with their measurement dicts
    R = predict(design, measurement, cal)["R"]    # the calibrated simulation of one measurement
    film = apply(design, cal, run="run-7")        # a calibrated Design, for any other simulation

A measurement dict holds ``wavelength_nm``, ``R`` and/or ``T`` (fractions), ``angle_deg``,
``polarization`` ("s", "p" or "avg") and ``run`` (the deposition run).

Model: a deposited film's index is the library's plus a constant Δn per material name (real
part only: dispersion and k are kept), and a deposition run scales every layer it made by one
factor (rate or tooling error). Only layer materials are corrected; the incident medium and the
substrate are bulk media whose catalogue indices are trusted, and correcting them too would trade
off against the films' Δn. Materials and runs absent from a calibration are left as they are.

Fit: L-BFGS (optax) on the mean squared difference over every measured point, with exact
gradients through the transfer-matrix solver. Measurements are padded to fixed shapes (counts of
measurements, wavelengths, layers, materials and parameters rounded up to powers of two) so that
one compiled program serves every fit of a similar size.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Sequence

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from domains.photonics import solver, spectra
from domains.photonics.design import Design
from domains.photonics.materials import Material

QUANTITIES = ("R", "T")
_POL_WEIGHTS = {"s": (1.0, 0.0), "p": (0.0, 1.0), "avg": (0.5, 0.5)}
_OPT = optax.lbfgs()


@dataclasses.dataclass(frozen=True)
class ShiftedMaterial(Material):
    """A material whose real index is offset by ``delta_n`` at every wavelength."""

    delta_n: float = 0.0

    def nk(self, wavelength_nm: np.ndarray, where: str = "") -> np.ndarray:
        return super().nk(wavelength_nm, where) + self.delta_n


def shift(m: Material, delta_n: float) -> ShiftedMaterial:
    """``m`` with its real index raised by ``delta_n`` (offsets of a shifted material add up)."""
    total = getattr(m, "delta_n", 0.0) + float(delta_n)
    base = m.key.split("+dn:")[0]
    return ShiftedMaterial(m.name, m.reference, m.valid_nm, m.model, key=f"{base}+dn:{total!r}",
                           delta_n=total)


def apply(design: Design, calibration: dict | None, run: str | None = None) -> Design:
    """The design as the calibration says it was really made.

    Args:
        design: a parsed design.
        calibration: a calibration (see ``fit``), or None for the design unchanged.
        run: the deposition run that made it; thicknesses are scaled by that run's factor.
    """
    if not calibration:
        return design
    delta_n = calibration.get("delta_n", {})
    scale = calibration.get("thickness_scale", {}).get(run, 1.0) if run is not None else 1.0
    layers = tuple((shift(m, delta_n[m.name]) if m.name in delta_n else m, d * scale)
                   for m, d in design.layers)
    return dataclasses.replace(design, layers=layers)


def predict(design: Design, measurement: dict, calibration: dict | None = None) -> dict[str, np.ndarray]:
    """The simulated R and/or T (those the measurement holds) at the measured wavelengths."""
    d = apply(design, calibration, measurement.get("run"))
    out = spectra.simulate([d], np.asarray(measurement["wavelength_nm"], dtype=np.float64),
                           [float(measurement.get("angle_deg", 0.0))], measurement.get("polarization", "avg"))
    return {q: out[q][0, 0] for q in QUANTITIES if q in measurement}


def fit(measured: Sequence[tuple[Design, dict]], steps: int = 40) -> dict:
    """Δn per layer material and a thickness scale per run that best explain the measurements.

    Args:
        measured: (design, measurement) pairs; the measurement's ``run`` groups samples made
            together (a missing run counts as a run of its own).
        steps: L-BFGS iterations (each with its line search).

    Returns:
        {"delta_n": {material: Δn}, "thickness_scale": {run: factor}, "stderr": {"delta_n": ...,
        "thickness_scale": ...}, "rms_before", "rms_after", "measurements", "points"}; standard
        errors are the Gauss-Newton ones, σ² (JᵀJ)⁻¹ with σ estimated from the residuals.
    """
    if not measured:
        raise ValueError("fit needs at least one measurement")
    runs = [m.get("run") or f"#{i}" for i, (_, m) in enumerate(measured)]
    names = sorted({mat.name for d, _ in measured for mat, _ in d.layers})
    run_names = sorted(set(runs))
    data = _pack(measured, runs, names, run_names)
    params = {"delta_n": jnp.zeros(_bucket(len(names), 4)), "log_scale": jnp.zeros(_bucket(len(run_names), 4))}
    params, trace = _minimise(params, data, steps)
    res, jac = (np.asarray(a) for a in _jacobian(params, data))
    used = np.concatenate([np.arange(len(names)), len(params["delta_n"]) + np.arange(len(run_names))])
    stderr = _stderr(res, jac[:, used])
    n_points = int(sum(float(g["mask"].sum()) for g in data.values() if g is not None))
    scale = np.exp(np.asarray(params["log_scale"]))
    return {"delta_n": {n: float(params["delta_n"][i]) for i, n in enumerate(names)},
            "thickness_scale": {r: float(scale[i]) for i, r in enumerate(run_names)},
            "stderr": {"delta_n": {n: float(stderr[i]) for i, n in enumerate(names)},
                       "thickness_scale": {r: float(scale[i] * stderr[len(names) + i])
                                           for i, r in enumerate(run_names)}},
            "rms_before": float(np.sqrt(trace[0])),  # the loss at the start: no correction
            "rms_after": float(np.sqrt(np.sum(res ** 2) / n_points)),
            "measurements": len(measured), "points": n_points}


def _stderr(res: np.ndarray, jac: np.ndarray) -> np.ndarray:
    rows = np.any(jac != 0, axis=1) | (res != 0)  # padding contributes neither residual nor slope
    dof = max(1, int(rows.sum()) - jac.shape[1])
    sigma2 = float(np.sum(res ** 2)) / dof
    return np.sqrt(np.maximum(np.diag(np.linalg.pinv(jac.T @ jac)) * sigma2, 0.0))


def _bucket(n: int, least: int) -> int:
    return max(least, 1 << max(0, n - 1).bit_length())


def _pack(measured, runs, names, run_names) -> dict:
    """Padded arrays per substrate treatment: {"coherent": group or None, "incoherent": ...}."""
    zero = {"delta_n": {n: 0.0 for n in names}}  # layer films get table slots apart from the substrate
    designs = [apply(d, zero) for d, _ in measured]
    L = spectra.layer_bucket(max(len(d.layers) for d in designs))
    W = _bucket(max(len(m["wavelength_nm"]) for _, m in measured), 16)
    packs = [spectra.pack([d], np.asarray(m["wavelength_nm"], np.float64), n_layers=L)
             for d, (_, m) in zip(designs, measured)]
    M = _bucket(max(len(p.materials) for p in packs), 8)
    groups: dict[str, list[dict]] = {"coherent": [], "incoherent": []}
    for p, (_, m), run in zip(packs, measured, runs):
        kind = "incoherent" if p.sub_mm_B[0] > 0 else "coherent"
        # the Δn table is padded to _bucket(len(names), 4) entries, then one constant 0 follows
        groups[kind].append(_row(p, m, names.index, _bucket(len(names), 4), run_names.index(run), M, W))
    return {k: _stack(rows) if rows else None for k, rows in groups.items()}


def _row(p: spectra.Packed, m: dict, name_index, n_names: int, run: int, M: int, W: int) -> dict:
    """One measurement's arrays; padded wavelengths repeat the last one and are masked out."""
    w = len(m["wavelength_nm"])
    nk = np.repeat(p.nk_MxW[:1], M, axis=0)  # unused rows: a copy of the incident medium, harmless
    nk[: len(p.materials)] = p.nk_MxW
    slot = np.full(M, n_names, np.int32)  # entry n_names, after the padded Δn table: a constant 0
    for i, mat in enumerate(p.materials):
        if isinstance(mat, ShiftedMaterial):
            slot[i] = name_index(mat.name)
    target, mask = np.zeros((2, W)), np.zeros((2, W))
    for qi, q in enumerate(QUANTITIES):
        if q in m:
            target[qi, :w], mask[qi, :w] = m[q], 1.0
    return {"nk": np.pad(nk, ((0, 0), (0, W - w)), mode="edge"),
            "wl": np.pad(np.asarray(m["wavelength_nm"], np.float64), (0, W - w), mode="edge"),
            "sin": np.sin(np.radians(float(m.get("angle_deg", 0.0)))), "inc": p.inc,
            "mats": p.mats_BxL[0], "d": p.d_BxL[0], "sub": p.sub_B[0], "exit": p.exit_B[0],
            "sub_mm": p.sub_mm_B[0], "slot": slot, "run": run,
            "pol_w": np.array(_POL_WEIGHTS[m.get("polarization", "avg")]), "target": target, "mask": mask}


def _stack(rows: list[dict]) -> dict:
    G = _bucket(len(rows), 4)
    rows = rows + [{**rows[0], "mask": np.zeros_like(rows[0]["mask"])}] * (G - len(rows))
    return {k: jnp.asarray(np.stack([r[k] for r in rows])) for k in rows[0]}


def _spectra_GxQxW(params: dict, g: dict, incoherent: bool) -> jax.Array:
    """Simulated R and T of every padded measurement of a group under the parameters."""
    delta_n = jnp.concatenate([params["delta_n"], jnp.zeros(1)])
    nk = g["nk"] + delta_n[g["slot"]][:, :, None]
    d = g["d"] * jnp.exp(params["log_scale"])[g["run"]][:, None]

    def one(nk, wl, sin, inc, mats, d, sub, sub_mm, exit_):
        args = (nk, wl, sin[None], inc, mats[None], d[None], sub[None])
        if incoherent:
            R, T = solver.incoherent(*args, sub_mm[None], exit_[None], pols=("s", "p"))
        else:
            R, T = solver.coherent(*args, pols=("s", "p"))
        return R[0, 0], T[0, 0]

    R, T = jax.vmap(one)(nk, g["wl"], g["sin"], g["inc"], g["mats"], d, g["sub"], g["sub_mm"], g["exit"])
    w = g["pol_w"][:, :, None]
    return jnp.stack([(R * w).sum(1), (T * w).sum(1)], axis=1)


def _residuals(params: dict, data: dict) -> jax.Array:
    """Masked differences simulated - measured, flattened over every group."""
    parts = [((_spectra_GxQxW(params, g, kind == "incoherent") - g["target"]) * g["mask"]).ravel()
             for kind, g in data.items() if g is not None]
    return jnp.concatenate(parts)


def _loss(params: dict, data: dict) -> jax.Array:
    n = sum(g["mask"].sum() for g in data.values() if g is not None)
    return jnp.sum(_residuals(params, data) ** 2) / n


@partial(jax.jit, static_argnames="steps")
def _minimise(params: dict, data: dict, steps: int):
    loss = partial(_loss, data=data)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry, _):
        p, state = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = _OPT.update(grad, state, p, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(p, updates), state), value

    (params, _), trace = jax.lax.scan(step, (params, _OPT.init(params)), None, length=steps)
    return params, trace


@jax.jit
def _jacobian(params: dict, data: dict):
    """Residuals and their Jacobian with respect to the flattened parameters."""
    flat, unflatten = jax.flatten_util.ravel_pytree(params)
    fun = lambda x: _residuals(unflatten(x), data)
    return fun(flat), jax.jacfwd(fun)(flat)
