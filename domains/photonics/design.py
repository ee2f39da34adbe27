"""A thin-film design: the GUIDE's design JSON, parsed and validated.

    {"incident": "air", "substrate": "N-BK7",
     "layers": [{"material": "TiO2", "thickness_nm": 104.2}, ...],
     "substrate_thickness_mm": 1.0, "exit": "air"}      # the last two optional

Layers are listed from the incident side towards the substrate. Without
``substrate_thickness_mm`` the substrate is semi-infinite; with it, the substrate is treated
incoherently with an uncoated back surface into ``exit`` (default air).

A layer may give its optical thickness in quarter waves instead, ``{"material": "TiO2",
"qwot": 1.0}``, at the design's ``"reference_nm"`` (required then): it becomes
thickness_nm = qwot * reference_nm / (4 n), n the real part of the material's index at
reference_nm. Each layer gives exactly one of thickness_nm and qwot; the parsed design holds
thicknesses only (``to_json`` writes thickness_nm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from domains.photonics import materials
from domains.photonics.materials import Material
from specialist.errors import InputError

_KEYS = {"incident", "substrate", "layers", "substrate_thickness_mm", "exit", "reference_nm"}

# Physical bounds of a thin-film design. A layer thicker than 1 mm is no thin film (coherent
# interference is meaningless there and the transfer matrices overflow to NaN), and a stack of
# more than 1000 layers is beyond any coater (and beyond float64 accuracy of the matrix product).
# Goals allow at most 200 layers and the families and classic designs stay far below both.
MAX_THICKNESS_NM = 1e6
MAX_LAYERS = 1000


@dataclass(frozen=True)
class Design:
    """A multilayer on a substrate; thicknesses in nm, the substrate's in mm."""

    incident: Material
    substrate: Material
    layers: tuple[tuple[Material, float], ...]
    substrate_thickness_mm: float | None = None
    exit: Material | None = None

    def to_json(self) -> dict:
        """The GUIDE's design JSON for this design."""
        out: dict[str, Any] = {
            "incident": material_json(self.incident), "substrate": material_json(self.substrate),
            "layers": [{"material": material_json(m), "thickness_nm": float(d)}
                       for m, d in self.layers]}
        if self.substrate_thickness_mm is not None:
            out["substrate_thickness_mm"] = self.substrate_thickness_mm
            out["exit"] = material_json(self.exit or materials.library()["air"])
        return out

    @property
    def total_thickness_nm(self) -> float:
        return float(sum(d for _, d in self.layers))


def material_json(m: Material) -> Any:
    """A material as the design JSON writes it: its library name, or its inline form."""
    if m.from_library:
        return m.name
    return {"name": m.name, "n": m.model["n"], "k": m.model.get("k", 0.0)}


def parse(obj: Any, source: str = "design", known: dict[str, Material] | None = None) -> Design:
    """Validate a design JSON object.

    ``known`` resolves material names beyond the library (a goal's inline materials).

    Raises:
        InputError: naming ``source`` and the offending field.
    """
    if not isinstance(obj, dict):
        raise InputError(source, "", "must hold a JSON object with incident, substrate and layers")
    unknown = set(obj) - _KEYS
    if unknown:
        raise InputError(source, sorted(unknown)[0], f"is not a design field; allowed: {', '.join(sorted(_KEYS))}")
    if "substrate" not in obj:
        raise InputError(source, "substrate", "is missing; give a library material name or an inline material")
    layers = obj.get("layers", [])
    if not isinstance(layers, list):
        raise InputError(source, "layers", "must be a list of {\"material\", \"thickness_nm\"} objects")
    if len(layers) > MAX_LAYERS:
        raise InputError(source, "layers", f"has {len(layers)} layers; allowed: at most {MAX_LAYERS}")
    thick = obj.get("substrate_thickness_mm")
    if thick is not None and not (_finite(thick) and thick > 0):
        raise InputError(source, "substrate_thickness_mm", f"is {thick!r}; it must be a number > 0 (mm) or absent")
    ref = _reference(obj, layers, source)
    return Design(
        incident=materials.parse(obj.get("incident", "air"), source, "incident", known),
        substrate=materials.parse(obj["substrate"], source, "substrate", known),
        layers=tuple(_layer(layer, source, f"layers[{i}]", known, ref) for i, layer in enumerate(layers)),
        substrate_thickness_mm=None if thick is None else float(thick),
        exit=None if thick is None else materials.parse(obj.get("exit", "air"), source, "exit", known))


def _reference(obj: dict, layers: list, source: str) -> float | None:
    """The design's reference_nm, checked; required once a layer gives qwot."""
    ref = obj.get("reference_nm")
    if ref is not None and not (_finite(ref) and ref > 0):
        raise InputError(source, "reference_nm", f"is {ref!r}; allowed: a finite wavelength > 0 in nm (e.g. 550)")
    if ref is None:
        for i, layer in enumerate(layers):
            if isinstance(layer, dict) and "qwot" in layer:
                raise InputError(source, "reference_nm", f"is missing, but layers[{i}] gives qwot; allowed: the "
                                 "reference wavelength in nm the quarter waves count at (e.g. \"reference_nm\": 550)")
    return None if ref is None else float(ref)


def _layer(obj: Any, source: str, where: str, known, ref: float | None = None) -> tuple[Material, float]:
    keys = set(obj) if isinstance(obj, dict) else set()
    if keys not in ({"material", "thickness_nm"}, {"material", "qwot"}):
        raise InputError(source, where, "must be an object with the key material and exactly one of thickness_nm "
                         "and qwot (quarter waves at reference_nm)")
    if "qwot" in obj:
        return _from_qwot(obj, source, where, known, ref)
    d = obj["thickness_nm"]
    if not (_finite(d) and 0 <= d <= MAX_THICKNESS_NM):
        raise InputError(source, f"{where}.thickness_nm", f"is {d!r}; a thickness must be a finite number >= 0 and "
                         f"at most {MAX_THICKNESS_NM:.0f} nm (1 mm, the thickest thin film)")
    return materials.parse(obj["material"], source, f"{where}.material", known), float(d)


def _from_qwot(obj: dict, source: str, where: str, known, ref: float) -> tuple[Material, float]:
    """The layer of ``obj["qwot"]`` quarter waves: thickness_nm = qwot * ref / (4 n(ref)), n real."""
    q, field = obj["qwot"], f"{where}.qwot"
    if not (_finite(q) and q >= 0):
        raise InputError(source, field, f"is {q!r}; allowed: a finite number of quarter waves >= 0")
    m = materials.parse(obj["material"], source, f"{where}.material", known)
    try:
        n = float(m.nk(np.array([ref]))[0].real)
    except InputError as err:
        raise InputError(source, field, f"needs the index of '{m.name}' at reference_nm {ref:g} nm; "
                         f"'{m.name}' {err.problem}") from None
    d = q * ref / (4.0 * n)
    if not d <= MAX_THICKNESS_NM:
        raise InputError(source, field, f"is {q!r}, which makes {d:.6g} nm of '{m.name}'; allowed: at most "
                         f"{MAX_THICKNESS_NM:.0f} nm (1 mm, the thickest thin film)")
    return m, float(d)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
