"""How the specialist reads a goal and writes a design: conditioning vector and tokens.

Everything is relative to the goal's *reference wavelength* lambda_ref, the geometric centre of
its targets' wavelengths, so a 1064 nm mirror reads like a 532 nm one scaled by two, as the
physics of thin films (thickness over wavelength) says it should:

- Tokens: per layer from the incident side, a material token (index into the goal's material
  list, first K_MAX) and a thickness token, then END. Thickness is optical thickness in quarter
  waves at lambda_ref, q = d |N(lambda_ref)| / (lambda_ref / 4), in N_BINS bins of 1/BINS_PER_QW
  from 0 to Q_MAX quarter waves (1/64 of a quarter wave: about 1 nm for TiO2 at 550 nm); a
  design is decoded at bin centres, clipped into the goal's thickness range (the bins holding
  the range's ends decode to the ends). Up to L_MAX layers.
- Conditioning (float32, COND_DIM): on GRID_POINTS wavelengths spaced evenly in log wavelength
  over lambda_ref / r .. lambda_ref * r (r covers the goal's span, at least R_MIN), per slot
  (quantity R/T/A x angle bucket 0, up to 30, beyond 30 deg), the channels: presence of a "<=",
  ">=" and "=" target, its value, tolerance (log), weight, angle, and s / p polarization flags;
  then n and k of each material slot, n of the substrate and of the incident medium at five
  wavelengths across the grid; then scalars: max_layers, thickness range over lambda_ref, the
  total-thickness cap, log lambda_ref, log r, the number of materials, the solved threshold and
  whether the substrate is thick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from domains.photonics import goals as goals_mod
from specialist.domain import END

K_MAX, L_MAX = 8, 64
Q_MAX, BINS_PER_QW = 8, 64
N_BINS = Q_MAX * BINS_PER_QW
GRID_POINTS, R_MIN = 64, 1.15
MAT0 = END + 1  # first id after the reserved PAD, BOS, END
BIN0 = MAT0 + K_MAX
VOCAB = BIN0 + N_BINS
MAX_TOKENS = 2 * L_MAX + 1
_CHANNELS = 9  # "<=", ">=", "=", value, tolerance, weight, angle, s, p
_SLOTS = [(q, b) for q in ("R", "T", "A") for b in range(3)]
_REL = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # material wavelengths: lambda_ref * r ** _REL
_SCALARS = 11
COND_DIM = len(_SLOTS) * _CHANNELS * GRID_POINTS + (2 * K_MAX + 2) * len(_REL) + _SCALARS


@dataclass(frozen=True)
class Frame:
    """A goal's reference: lambda_ref [nm], half-span ratio r, and each material's |N| there."""

    ref_nm: float
    ratio: float
    index: tuple[float, ...]  # |N(lambda_ref)| per goal material

    def quarter_nm(self, i: int) -> float:
        """A quarter wave of material ``i`` at lambda_ref, in nm."""
        return self.ref_nm / (4.0 * self.index[i])


def frame(g: goals_mod.Goal) -> Frame:
    """The goal's reference wavelength, span and material indices."""
    wl = [w for t in g.targets for w in t.wavelength_nm]
    lo, hi = min(wl), max(wl)
    ref = math.sqrt(lo * hi)
    ratio = max(R_MIN, math.sqrt(hi / lo) * 1.04)
    index = tuple(max(float(abs(_nk(m, np.array([ref]))[0])), 0.05) for m in g.materials)
    return Frame(ref, ratio, index)


def tokens(g: goals_mod.Goal, f: Frame, design) -> list[int]:
    """A parsed design's tokens (layers of materials outside the first K_MAX are skipped)."""
    slot = {m.key: i for i, m in enumerate(g.materials[:K_MAX])}
    out = []
    for m, d in design.layers[:L_MAX]:
        if m.key not in slot:
            continue
        i = slot[m.key]
        b = int(np.clip(np.floor(d / f.quarter_nm(i) * BINS_PER_QW), 0, N_BINS - 1))
        out += [MAT0 + i, BIN0 + b]
    return out + [END]


def layers(g: goals_mod.Goal, f: Frame, toks: Sequence[int]) -> list[tuple]:
    """(material, thickness nm) layers a token sequence describes: reading stops at END, stray
    tokens are skipped, thicknesses are clipped into the goal's range and, where the goal caps
    the total thickness, scaled down to meet the cap."""
    lo, hi = g.thickness_nm
    out, material = [], None
    for tok in toks:
        if tok == END:
            break
        if MAT0 <= tok < BIN0 and tok - MAT0 < len(g.materials):
            material = tok - MAT0
        elif tok >= BIN0 and material is not None and len(out) < g.max_layers:
            unit = f.quarter_nm(material) / BINS_PER_QW
            low, high = (tok - BIN0) * unit, (tok - BIN0 + 1) * unit
            # the bins holding the range's ends decode to the ends, so decoded designs are fixed points
            d = lo if low <= lo < high else hi if low <= hi < high else (low + high) / 2
            out.append((g.materials[material], float(np.clip(d, lo, hi))))
            material = None
    cap = g.max_total_thickness_nm
    total = sum(d for _, d in out)
    if cap is not None and total > cap:
        out = [(m, max(lo, d * cap / total * 0.999)) for m, d in out]
    return [(m, round(d, 2)) for m, d in out]


def condition(g: goals_mod.Goal, f: Frame) -> np.ndarray:
    """The goal's conditioning vector (COND_DIM float32)."""
    grid = f.ref_nm * f.ratio ** np.linspace(-1.0, 1.0, GRID_POINTS)
    spectral = np.zeros((len(_SLOTS), _CHANNELS, GRID_POINTS), np.float32)
    top_weight = max(t.weight for t in g.targets) or 1.0
    for t in g.targets:
        bucket = 0 if t.angle_deg == 0 else 1 if t.angle_deg <= 30 else 2
        row = spectral[_SLOTS.index((t.quantity, bucket))]
        lo, hi = t.wavelength_nm
        inside = (grid >= lo) & (grid <= hi) if hi > lo else np.arange(GRID_POINTS) == np.argmin(np.abs(grid - lo))
        values = np.interp(grid, t.grid(), t.value) if t.points > 1 else np.full(GRID_POINTS, t.value[0])
        row[goals_mod.RELATIONS.index(t.relation), inside] = 1.0
        row[3, inside] = values[inside]
        row[4, inside] = -math.log10(max(t.tolerance, 1e-6)) / 3.0
        row[5, inside] = t.weight / top_weight
        row[6, inside] = t.angle_deg / 90.0
        row[7, inside] = float(t.polarization in ("s", "avg"))
        row[8, inside] = float(t.polarization in ("p", "avg"))
    wl = f.ref_nm * f.ratio ** _REL
    media = np.zeros((2 * K_MAX + 2, len(_REL)), np.float32)
    for i, m in enumerate(g.materials[:K_MAX]):
        nk = _nk(m, wl)
        media[2 * i], media[2 * i + 1] = nk.real / 4.0, nk.imag / 10.0
    media[-2] = _nk(g.substrate, wl).real / 4.0
    media[-1] = _nk(g.incident, wl).real / 4.0
    lo, hi = g.thickness_nm
    cap = g.max_total_thickness_nm
    scalars = [g.max_layers / L_MAX, lo / f.ref_nm, min(hi / f.ref_nm, 4.0), float(cap is not None),
               min((cap or 0.0) / (10.0 * f.ref_nm), 4.0), math.log(f.ref_nm / 700.0), math.log(f.ratio),
               min(len(g.materials), K_MAX) / K_MAX, math.log10(max(g.solved_below, 1e-3)),
               float(g.substrate_thickness_mm is not None), float(len(g.materials) > K_MAX)]
    return np.concatenate([spectral.ravel(), media.ravel(), np.asarray(scalars, np.float32)]).astype(np.float32)


def _nk(m, wl: np.ndarray) -> np.ndarray:
    """Complex index at ``wl``, clipped into the material's valid range."""
    return m.nk(np.clip(wl, *m.valid_nm))
