"""A design in the files the people who make it use: its JSON, a layer table and its spectrum.

    files = files(goal, ref_nm, design)     # {"design.json": ..., "layers.csv": ..., "spectrum.csv": ...}

- ``design.json``: the design JSON (the GUIDE's design contract), indented.
- ``layers.csv``: one row per layer, in the design's order (layer 1 is next to the incident
  medium, the last one next to the substrate), with the columns
  ``layer,material,thickness_nm,optical_thickness_qw,n_at_reference,reference_nm``: the
  optical thickness is n d / (lambda_ref / 4) with n the real index at the goal's reference
  wavelength lambda_ref (``encoding.frame``: the geometric centre of its targets), repeated on
  every row so that the file stays a plain table.
- ``spectrum.csv``: the simulated spectrum on SPECTRUM_POINTS wavelengths spanning the goal's
  targets widened by MARGIN on each side (lo (1 - MARGIN) to hi (1 + MARGIN)), clipped to where
  every material of the design has data: ``wavelength_nm``, then ``R_<angle>deg_<pol>`` and
  ``T_<angle>deg_<pol>`` for each (angle, polarization) the targets use, in order of angle and
  then s, p, avg (``R_0deg`` and ``T_0deg`` at normal incidence, where s and p coincide).
  Numbers are written to full precision.

The files describe the design itself: one that breaks the goal's limits is still written.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from domains.photonics import solver, spectra
from domains.photonics.design import Design
from domains.photonics.goals import Goal

SPECTRUM_POINTS = 401
MARGIN = 0.10  # share of each end wavelength the spectrum reaches beyond the targets
LAYER_COLUMNS = ("layer", "material", "thickness_nm", "optical_thickness_qw", "n_at_reference", "reference_nm")
_POL_ORDER = ("s", "p", "avg")


def files(goal: Goal, ref_nm: float, design: Design) -> dict[str, str]:
    """The three files of a design for a goal, by suffix (see the module docstring).

    Args:
        goal: the parsed goal (its targets set the spectrum's span and columns).
        ref_nm: the goal's reference wavelength [nm].
        design: the parsed design.
    """
    return {"design.json": json.dumps(design.to_json(), indent=2) + "\n",
            "layers.csv": layers_csv(design, ref_nm),
            "spectrum.csv": spectrum_csv(goal, design)}


def layers_csv(design: Design, ref_nm: float) -> str:
    """The layer table: physical and optical thickness (quarter waves at ``ref_nm``) per layer."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LAYER_COLUMNS)
    for i, (m, d) in enumerate(design.layers, start=1):
        n = float(m.nk(np.array([ref_nm]), "layers.csv")[0].real)
        writer.writerow([i, m.name, f"{d:.4f}", f"{n * d / (ref_nm / 4.0):.6f}", f"{n:.6f}", f"{ref_nm:.4f}"])
    return out.getvalue()


def columns(goal: Goal) -> list[tuple[float, str | None]]:
    """The (angle, polarization) pairs the goal's targets use, sorted; None at normal incidence."""
    pairs = {(t.angle_deg, None if t.angle_deg == 0 else t.polarization) for t in goal.targets}
    return sorted(pairs, key=lambda p: (p[0], -1 if p[1] is None else _POL_ORDER.index(p[1])))


def spectrum_grid(goal: Goal, design: Design) -> np.ndarray:
    """SPECTRUM_POINTS wavelengths [nm] over the targets widened by MARGIN, where every
    material of the design has data."""
    lo = min(t.wavelength_nm[0] for t in goal.targets) * (1.0 - MARGIN)
    hi = max(t.wavelength_nm[1] for t in goal.targets) * (1.0 + MARGIN)
    media = [design.incident, design.substrate, *(m for m, _ in design.layers)]
    media += [design.exit] if design.exit is not None else []
    lo = max([lo] + [m.valid_nm[0] for m in media])
    hi = min([hi] + [m.valid_nm[1] for m in media])
    return np.linspace(lo, hi, SPECTRUM_POINTS)


def spectrum_csv(goal: Goal, design: Design) -> str:
    """R and T of the design at every (angle, polarization) of the goal, on ``spectrum_grid``."""
    wl = spectrum_grid(goal, design)
    pairs = columns(goal)
    angles = sorted({a for a, _ in pairs})
    pols = solver.POLARIZATIONS if any(angles) else ("s",)
    # one solver call for every column: s and p at every angle, averaged below where asked
    R, T = spectra.run(spectra.pack([design], wl, sources=["design"]), wl, angles, pols)
    header, cols = ["wavelength_nm"], [wl]
    for angle, pol in pairs:
        a = angles.index(angle)
        chosen = [pols.index(pol)] if pol in pols else list(range(len(pols)))  # None or avg: the mean
        name = f"{angle:g}deg" + (f"_{pol}" if pol else "")
        header += [f"R_{name}", f"T_{name}"]
        cols += [R[0, a, chosen].mean(axis=0), T[0, a, chosen].mean(axis=0)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([repr(float(x)) for x in row] for row in zip(*cols))
    return out.getvalue()

