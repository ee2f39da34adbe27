"""The material library: complex refractive index N = n + ik of each material.

Convention: N = n + ik with k >= 0 meaning absorption (fields vary as exp(i(kz - wt))). Every
library material comes from a published dispersion formula or measured table and carries its
reference and the wavelength range it is valid for; asking for a wavelength outside that range
is an error, never a silent extrapolation. Inline materials ({"name", "n", "k"}) are
non-dispersive and valid at every wavelength.

The data live in ``data/materials.json``; each entry's ``model`` is one of
  constant      {"n", "k"}
  sellmeier1    n^2 - 1 = C1 + sum B_i L^2 / (L^2 - C_i^2)      (L in um; "C1", "terms": [[B, C], ...])
  sellmeier2    n^2 - 1 = C1 + sum B_i L^2 / (L^2 - C_i)        (C_i already squared)
  cauchy        n = sum_j A_j L^(-2j)                          ("coefficients": [A0, A1, ...])
  table         n, k linearly interpolated in wavelength        ("wavelength_nm", "n", "k")
  lorentz_drude Rakic et al. (1998): eps = 1 - f0 wp^2/(w(w + iG0)) + sum f_j wp^2/(w_j^2 - w^2 - i w G_j)
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specialist.errors import InputError

_DATA = Path(__file__).with_name("data") / "materials.json"
_HC_EV_NM = 1239.8419843320026  # photon energy [eV] times wavelength [nm]
# Bounds of an inline material's index: wider than any library material's (n 0.04 to 4.5, k up to
# 523, the metals far in the infrared), and narrow enough that the transfer matrices stay finite
# (n = 1e-300 or 1e150, or k = 1e300, made the spectra NaN).
INLINE_N = (1e-3, 1e3)
INLINE_K_MAX = 1e3


@dataclass(frozen=True)
class Material:
    """One optical material.

    Attributes:
        name: library name, or the inline material's own name.
        reference: where the numbers come from.
        valid_nm: (lo, hi) wavelengths in nm the data are valid for.
        model: the dispersion model as stored in the library (see module docstring).
    """

    name: str
    reference: str
    valid_nm: tuple[float, float]
    model: dict = field(compare=False, hash=False, repr=False)
    key: str = ""  # identity used to share one index table per batch

    @property
    def from_library(self) -> bool:
        return self.key.startswith("library:")

    def nk(self, wavelength_nm: np.ndarray, where: str = "") -> np.ndarray:
        """Complex index at the given wavelengths [nm]; an InputError outside ``valid_nm``."""
        wl = np.asarray(wavelength_nm, dtype=np.float64)
        lo, hi = self.valid_nm
        bad = (wl < lo) | (wl > hi) | ~np.isfinite(wl)
        if np.any(bad):
            raise InputError(
                where or "material", self.name,
                f"is defined only for {lo:g}-{hi:g} nm ({self.reference}), but "
                f"{_offending_end(wl, lo, hi):g} nm was requested")
        return _EVALUATORS[self.model["kind"]](self.model, wl)


def _offending_end(wl: np.ndarray, lo: float, hi: float) -> float:
    """The wavelength to name for data missing at ``wl``: one that is not finite, else the lowest
    below ``lo``, else the highest above ``hi`` (an end of the request, never a point inside it)."""
    wl = np.asarray(wl, dtype=np.float64).ravel()
    if not np.all(np.isfinite(wl)):
        return float(wl[~np.isfinite(wl)][0])
    return float(wl.min()) if wl.min() < lo else float(wl.max())


def _sellmeier(model: dict, wl_nm: np.ndarray, squared: bool) -> np.ndarray:
    lam2 = (wl_nm / 1000.0) ** 2
    eps = 1.0 + model.get("C1", 0.0) + sum(
        b * lam2 / (lam2 - (c if squared else c * c)) for b, c in model["terms"])
    return np.sqrt(eps).astype(np.complex128)


def _cauchy(model: dict, wl_nm: np.ndarray) -> np.ndarray:
    inv2 = (wl_nm / 1000.0) ** -2
    return sum(a * inv2 ** j for j, a in enumerate(model["coefficients"])).astype(np.complex128)


def _table(model: dict, wl_nm: np.ndarray) -> np.ndarray:
    x = np.asarray(model["wavelength_nm"], dtype=np.float64)
    n = np.interp(wl_nm, x, np.asarray(model["n"], dtype=np.float64))
    k = np.interp(wl_nm, x, np.asarray(model["k"], dtype=np.float64))
    return n + 1j * k


def _lorentz_drude(model: dict, wl_nm: np.ndarray) -> np.ndarray:
    w = _HC_EV_NM / wl_nm
    wp2 = model["omega_p_eV"] ** 2
    f, g, w0 = model["f"], model["gamma_eV"], model["omega_eV"]
    eps = 1.0 - f[0] * wp2 / (w * (w + 1j * g[0]))
    for fj, gj, wj in zip(f[1:], g[1:], w0[1:]):
        eps = eps + fj * wp2 / (wj * wj - w * w - 1j * w * gj)
    return np.sqrt(eps.astype(np.complex128))  # principal root: k >= 0 since Im(eps) >= 0


_EVALUATORS = {
    "constant": lambda m, wl: np.full(wl.shape, complex(m["n"], m.get("k", 0.0))),
    "sellmeier1": lambda m, wl: _sellmeier(m, wl, squared=False),
    "sellmeier2": lambda m, wl: _sellmeier(m, wl, squared=True),
    "cauchy": _cauchy,
    "table": _table,
    "lorentz_drude": _lorentz_drude,
}


@functools.lru_cache(maxsize=1)
def library() -> dict[str, Material]:
    """All library materials by name, loaded once."""
    entries = json.loads(_DATA.read_text())
    return {e["name"]: Material(e["name"], e["reference"], tuple(e["valid_nm"]), e["model"],
                                key=f"library:{e['name']}") for e in entries}


def inline(name: str, n: float, k: float = 0.0) -> Material:
    """A non-dispersive material, valid at every wavelength."""
    return Material(name, "inline (non-dispersive)", (0.0, math.inf),
                    {"kind": "constant", "n": n, "k": k}, key=f"inline:{name}:{n!r}:{k!r}")


def parse(spec: Any, source: str, where: str, known: dict[str, Material] | None = None) -> Material:
    """A material from its JSON form: a library name or {"name", "n", "k"}.

    ``known`` adds names defined elsewhere (a goal's inline materials), found before the library.

    Raises:
        InputError: naming ``source`` and the field ``where`` for an unknown name or a bad
            inline material.
    """
    if isinstance(spec, str):
        found = (known or {}).get(spec) or library().get(spec)
        if found is None:
            names = sorted({**library(), **(known or {})})
            raise InputError(source, where, f"names unknown material '{spec}'; {_did_you_mean(spec, names)}"
                             f"known materials: {', '.join(names)}, or inline "
                             '{"name": ..., "n": ..., "k": ...}')
        return found
    if isinstance(spec, dict) and isinstance(spec.get("name"), str) and "n" in spec:
        extra = set(spec) - {"name", "n", "k"}
        n, k = spec["n"], spec.get("k", 0.0)
        if extra:
            raise InputError(source, where, f"has unknown keys {sorted(extra)}; an inline "
                             "material has only name, n and k")
        if not (_is_number(n) and INLINE_N[0] <= n <= INLINE_N[1] and _is_number(k) and 0 <= k <= INLINE_K_MAX):
            raise InputError(source, where, f"has n={n!r}, k={k!r}; an inline material needs "
                             f"n from {INLINE_N[0]:g} to {INLINE_N[1]:g} and k from 0 to {INLINE_K_MAX:g}")
        return inline(spec["name"], float(n), float(k))
    raise InputError(source, where, f"is {json.dumps(spec)}; a material is a library name or "
                     '{"name": ..., "n": ..., "k": ...}')


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _did_you_mean(name: str, names: list[str]) -> str:
    """"did you mean 'TiO2'? " for a name close to a known one (case-insensitive), else ""."""
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean '{lowered[close[0]]}'? " if close else ""
