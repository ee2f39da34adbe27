"""Spectra of designs: packs designs into fixed-shape batches and runs the solver.

Shape legend: B designs, L layers, M materials, A angles, W wavelengths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from domains.photonics import solver
from domains.photonics.design import Design
from domains.photonics.materials import Material
from specialist.errors import InputError

POLARIZATIONS = ("s", "p", "avg")
SIMULATE_POLARIZATIONS = POLARIZATIONS + ("all",)  # all: each polarization beside the average


@dataclass(frozen=True)
class Packed:
    """A batch of designs as solver arrays (numpy); materials are indices into ``nk_MxW``."""

    nk_MxW: np.ndarray
    mats_BxL: np.ndarray
    d_BxL: np.ndarray
    sub_B: np.ndarray
    exit_B: np.ndarray
    sub_mm_B: np.ndarray
    inc: int
    materials: tuple[Material, ...]


def layer_bucket(n_layers: int) -> int:
    """The padded layer count for a design of ``n_layers``: few distinct shapes, few compiles."""
    return max(4, 1 << max(0, n_layers - 1).bit_length())


def pack(designs: Sequence[Design], wavelength_W: np.ndarray, n_layers: int | None = None,
         sources: Sequence[str] | None = None) -> Packed:
    """Index tables for designs sharing one incident medium, padded to ``n_layers`` layers.

    Raises:
        InputError: when a material is asked for outside its valid wavelength range, naming the
            design (``sources``) and the field that uses it.
    """
    table: dict[str, int] = {}
    mats: list[Material] = []

    def index(m: Material) -> int:
        if m.key not in table:
            table[m.key] = len(mats)
            mats.append(m)
        return table[m.key]

    inc = index(designs[0].incident)
    longest = max((len(d.layers) for d in designs), default=0)
    L = layer_bucket(longest) if n_layers is None else n_layers
    if L < longest:
        raise ValueError(f"n_layers={L} is fewer than the {longest} layers of a design")
    mats_BxL = np.zeros((len(designs), L), np.int32)
    d_BxL = np.zeros((len(designs), L), np.float64)
    sub_B, exit_B, sub_mm_B = (np.zeros(len(designs), t) for t in (np.int32, np.int32, np.float64))
    for b, design in enumerate(designs):
        for l, (m, d) in enumerate(design.layers):
            mats_BxL[b, l], d_BxL[b, l] = index(m), d
        sub_B[b] = index(design.substrate)
        exit_B[b] = index(design.exit) if design.exit is not None else sub_B[b]
        sub_mm_B[b] = design.substrate_thickness_mm or 0.0
    nk = np.stack([_nk(m, wavelength_W, designs, sources) for m in mats])
    _lossless_incident(nk[inc], mats[inc], wavelength_W, sources)
    return Packed(nk, mats_BxL, d_BxL, sub_B, exit_B, sub_mm_B, inc, tuple(mats))


def _lossless_incident(nk_W: np.ndarray, m: Material, wavelength_W: np.ndarray,
                       sources: Sequence[str] | None) -> None:
    """The solver's formulas hold for a lossless incident medium only: refuse one that absorbs."""
    if np.any(nk_W.imag > 0):
        w = int(np.argmax(nk_W.imag))
        raise InputError(sources[0] if sources else "design", "incident",
                         f"is '{m.name}', which absorbs (k = {nk_W.imag[w]:.3g} at {wavelength_W[w]:g} nm); "
                         "allowed: a lossless incident medium (k = 0), e.g. air or a glass")


def _nk(m: Material, wavelength_W: np.ndarray, designs: Sequence[Design],
        sources: Sequence[str] | None) -> np.ndarray:
    try:
        return m.nk(wavelength_W)
    except InputError as err:
        for b, design in enumerate(designs):
            for field, used in _fields(design):
                if used.key == m.key:
                    source = sources[b] if sources else "design"
                    raise InputError(source, field, f"is '{m.name}', which {err.problem}") from None
        raise


def _fields(design: Design):
    yield "incident", design.incident
    for i, (m, _) in enumerate(design.layers):
        yield f"layers[{i}].material", m
    yield "substrate", design.substrate
    if design.exit is not None:
        yield "exit", design.exit


def run(packed: Packed, wavelength_W: np.ndarray, angles_deg: Sequence[float],
        pols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(R, T) of shape B x A x P x W for a packed batch."""
    sin_A = np.sin(np.radians(np.asarray(angles_deg, dtype=np.float64)))
    args = (jnp.asarray(packed.nk_MxW), jnp.asarray(wavelength_W), jnp.asarray(sin_A), packed.inc,
            jnp.asarray(packed.mats_BxL), jnp.asarray(packed.d_BxL), jnp.asarray(packed.sub_B))
    if np.any(packed.sub_mm_B > 0):
        R, T = solver.incoherent_jit(*args, jnp.asarray(packed.sub_mm_B),
                                     jnp.asarray(packed.exit_B), pols=pols)
    else:
        R, T = solver.coherent_jit(*args, pols=pols)
    return np.asarray(R), np.asarray(T)


def solver_pols(polarization: str, angles_deg: Sequence[float]) -> tuple[str, ...]:
    """The polarizations the solver must compute; at normal incidence s and p coincide."""
    if polarization in ("avg", "all"):
        return ("s",) if all(a == 0 for a in angles_deg) else ("s", "p")
    return (polarization,)


CHUNK = 1024  # designs per solver call of ``simulate``: a long list is solved piece by piece
POINTS = 1024 * 4096  # design x angle x wavelength points per solver call: bounds memory of sweeps


def simulate(designs: Sequence[Design], wavelength_W: np.ndarray,
             angles_deg: Sequence[float] = (0.0,), polarization: str = "avg",
             sources: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """R, T and A (each B x A x W) of designs, computed in as few batches as their media allow.

    ``polarization`` is s, p, avg (the mean of s and p), or all: the average R, T and A with
    R_s, R_p, T_s, T_p, A_s and A_p beside them (at normal incidence p is s).

    Designs are grouped by incident medium and by substrate treatment (semi-infinite or thick);
    each group is solved in calls of at most ``CHUNK`` designs (fewer for long sweeps, at most
    ``POINTS`` design-angle-wavelength points), so memory stays bounded however long the list.
    """
    if polarization not in SIMULATE_POLARIZATIONS:
        raise InputError("--polarization", "", f"is '{polarization}'; allowed: s, p, avg, all")
    wl = np.asarray(wavelength_W, dtype=np.float64)
    pols = solver_pols(polarization, angles_deg)
    R_BxAxPxW = np.zeros((len(designs), len(angles_deg), len(pols), len(wl)))
    T_BxAxPxW = np.zeros_like(R_BxAxPxW)
    per_call = max(1, min(CHUNK, POINTS // max(1, len(angles_deg) * len(wl))))
    groups: dict[tuple, list[int]] = {}
    for b, d in enumerate(designs):
        groups.setdefault((d.incident.key, d.substrate_thickness_mm is not None), []).append(b)
    for members in groups.values():
        for start in range(0, len(members), per_call):
            idx = members[start:start + per_call]
            # A long list's last call is padded to the others' size: one compiled shape, not two.
            batch = idx + idx[:1] * (per_call - len(idx)) if len(members) > per_call else idx
            sub_sources = [sources[b] for b in batch] if sources else None
            packed = pack([designs[b] for b in batch], wl, sources=sub_sources)
            r, t = run(packed, wl, angles_deg, pols)
            R_BxAxPxW[idx], T_BxAxPxW[idx] = r[:len(idx)], t[:len(idx)]
    return _results(R_BxAxPxW, T_BxAxPxW, polarization, pols)


def _results(R_BxAxPxW: np.ndarray, T_BxAxPxW: np.ndarray, polarization: str,
             pols: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The polarization average (and with ``all``, each polarization) as B x A x W arrays."""
    R, T = R_BxAxPxW.mean(axis=2), T_BxAxPxW.mean(axis=2)
    out = {"R": R, "T": T, "A": 1.0 - R - T}
    if polarization == "all":
        for pol in ("s", "p"):
            i = pols.index(pol) if pol in pols else 0  # normal incidence: p is s
            r, t = R_BxAxPxW[:, :, i], T_BxAxPxW[:, :, i]
            out.update({f"R_{pol}": r, f"T_{pol}": t, f"A_{pol}": 1.0 - r - t})
    return out
