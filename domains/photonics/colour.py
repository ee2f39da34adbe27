"""The colour of a coating: CIE 1931 XYZ, xyY and CIELAB of its reflected and transmitted light.

    doc = colours(design, angle_deg=0.0, polarization="avg")   # {"reflected": {...}, "transmitted": {...}}

Colorimetry follows CIE 015:2018 (Colorimetry, 4th ed.): illuminant D65, the CIE 1931 2 degree
standard observer, sums over 380-780 nm in 5 nm steps,

    X = k sum S(l) Q(l) xbar(l),  Y = k sum S(l) Q(l) ybar(l),  Z = k sum S(l) Q(l) zbar(l),
    k = 100 / sum S(l) ybar(l),

with S the relative spectral power of D65 and Q the reflectance or transmittance. The white of
CIELAB is the perfect reflecting diffuser under D65 (Q = 1: Y_n = 100), and

    L* = 116 f(Y/Y_n) - 16,  a* = 500 (f(X/X_n) - f(Y/Y_n)),  b* = 200 (f(Y/Y_n) - f(Z/Z_n)),
    f(t) = t^(1/3) for t > (24/116)^3, else (841/108) t + 16/116.

The tables (``data/cie1931_d65.json``) are the CIE's own values, the rows at 380, 385, ..., 780 nm
of the 1 nm tables of:
- xbar, ybar, zbar: CIE 018:2019 The Basis of Physical Photometry, 3rd ed., Table 6, and
  ISO/CIE 11664-1:2019 Colorimetry - Part 1: CIE standard colorimetric observers; dataset
  CIE_xyz_1931_2deg.csv, CIE, Vienna, 2019, DOI 10.25039/CIE.DS.xvudnb9b.
- D65: ISO/CIE 11664-2:2022 Colorimetry - Part 2: CIE standard illuminants, Table B.1 (formerly
  CIE S 014-2); dataset CIE_std_illum_D65.csv, CIE, Vienna, 2019, DOI 10.25039/CIE.DS.hjfjmt59.
Both datasets are published by the CIE under CC BY-SA 4.0 (attribution: International
Commission on Illumination); the data file states this beside the numbers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from domains.photonics import plots, spectra
from domains.photonics.design import Design

_DATA = Path(__file__).with_name("data") / "cie1931_d65.json"
_EPSILON = (24.0 / 116.0) ** 3  # CIE 015:2018: 216/24389 = 0.008856...
_KAPPA = 841.0 / 108.0  # slope of f below _EPSILON: 7.787...
QUANTITIES = ("X", "Y", "Z", "x", "y", "L", "a", "b")


@functools.lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wavelength_W [nm], cmf_Wx3 (xbar, ybar, zbar), d65_W) of the CIE, loaded once."""
    doc = json.loads(_DATA.read_text())
    cmf = np.stack([np.asarray(doc[k], dtype=np.float64) for k in ("xbar", "ybar", "zbar")], axis=1)
    return np.asarray(doc["wavelength_nm"], dtype=np.float64), cmf, np.asarray(doc["D65"], dtype=np.float64)


def tristimulus(q_W: np.ndarray) -> np.ndarray:
    """XYZ (Y = 100 for Q = 1) of a reflectance or transmittance ``q_W`` on ``tables()``' grid under D65."""
    _, cmf, d65 = tables()
    k = 100.0 / np.sum(d65 * cmf[:, 1])
    return k * np.einsum("w,w,wc->c", d65, np.asarray(q_W, dtype=np.float64), cmf)


def white() -> np.ndarray:
    """XYZ of the perfect reflecting diffuser under D65: CIELAB's reference white (Y = 100)."""
    return tristimulus(np.ones(len(tables()[0])))


def chromaticity(xyz: np.ndarray) -> tuple[float, float]:
    """(x, y) of XYZ; for black (X + Y + Z = 0), where they are undefined, the white point's (the
    usual convention, so that output stays finite)."""
    total = float(np.sum(xyz))
    if total <= 0.0:
        xyz, total = white(), float(np.sum(white()))
    return float(xyz[0] / total), float(xyz[1] / total)


def lab(xyz: np.ndarray, white_xyz: np.ndarray | None = None) -> tuple[float, float, float]:
    """CIELAB (L*, a*, b*) of XYZ relative to ``white_xyz`` (default: ``white()``)."""
    t = np.asarray(xyz, dtype=np.float64) / (white() if white_xyz is None else white_xyz)
    f = np.where(t > _EPSILON, np.cbrt(t), _KAPPA * t + 16.0 / 116.0)
    return float(116.0 * f[1] - 16.0), float(500.0 * (f[0] - f[1])), float(200.0 * (f[1] - f[2]))


def describe(q_W: np.ndarray) -> dict[str, float]:
    """{"X", "Y", "Z", "x", "y", "L", "a", "b"} of a reflectance or transmittance on the grid."""
    xyz = tristimulus(q_W)
    x, y = chromaticity(xyz)
    L, a, b = lab(xyz)
    return {"X": float(xyz[0]), "Y": float(xyz[1]), "Z": float(xyz[2]), "x": x, "y": y, "L": L, "a": a, "b": b}


def colours(design: Design, angle_deg: float = 0.0, polarization: str = "avg", source: str = "design") -> dict:
    """The colour of a design's reflected and transmitted light under D65 (module docstring).

    Raises:
        InputError: for a material without data over 380-780 nm, naming ``source`` and the field.
    """
    wl = tables()[0]
    out = spectra.simulate([design], wl, [angle_deg], polarization, [source])
    return {"illuminant": "D65", "observer": "CIE 1931 2°", "angle_deg": float(angle_deg),
            "polarization": polarization, "reflected": describe(out["R"][0, 0]),
            "transmitted": describe(out["T"][0, 0])}


def spectrum_locus() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wavelength_W, x_W, y_W): chromaticities of monochromatic light from the CMFs."""
    wl, cmf, _ = tables()
    total = cmf.sum(axis=1)
    return wl, cmf[:, 0] / total, cmf[:, 1] / total


def plot(doc: dict, path: str, name: str = "") -> None:
    """The CIE 1931 xy chromaticity diagram with the reflected and transmitted colours of ``doc``
    (``colours``) and D65's white point, titled ``name``, written to ``path`` (PNG)."""
    fig, ax = plots.figure(6.0, 6.0)
    wl, x, y = spectrum_locus()
    ax.plot(np.append(x, x[0]), np.append(y, y[0]), color="black", lw=1.0)  # closed by the purple line
    for w in (460, 480, 490, 500, 520, 540, 560, 580, 600, 620, 700):
        i = int(np.argmin(np.abs(wl - w)))
        ax.annotate(f"{w}", (x[i], y[i]), textcoords="offset points", xytext=(4, 2), fontsize=7, color="0.3")
    wx, wy = chromaticity(white())
    ax.plot([wx], [wy], marker="+", color="black", ms=10, ls="none", label=f"D65 white ({wx:.4f}, {wy:.4f})")
    for key, marker, colour in (("reflected", "o", "tab:blue"), ("transmitted", "s", "tab:orange")):
        c = doc[key]
        ax.plot([c["x"]], [c["y"]], marker=marker, color=colour, ls="none",
                label=f"{key} ({c['x']:.4f}, {c['y']:.4f}), Y {c['Y']:.2f}")
    ax.set_xlim(0.0, 0.8)
    ax.set_ylim(0.0, 0.9)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{name}\nCIE 1931 xy, D65, {doc['angle_deg']:g}° ({doc['polarization']})".strip(), fontsize="medium")
    ax.legend(loc="upper right", fontsize=8)
    plots.save(fig, path)
