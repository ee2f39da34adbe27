"""A thin-film design: the GUIDE's design JSON, parsed and validated.

    {"incident": "air", "substrate": "N-BK7",
     "layers": [{"material": "TiO2", "thickness_nm": 104.2}, ...],
     "substrate_thickness_mm": 1.0, "exit": "air"}      # the last two optional

Layers are listed from the incident side towards the substrate. Without
``substrate_thickness_mm`` the substrate is semi-infinite; with it, the substrate is treated
incoherently with an uncoated back surface into ``exit`` (default air).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from domains.photonics import materials
from domains.photonics.materials import Material
from specialist.errors import InputError

_KEYS = {"incident", "substrate", "layers", "substrate_thickness_mm", "exit"}

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
    return Design(
        incident=materials.parse(obj.get("incident", "air"), source, "incident", known),
        substrate=materials.parse(obj["substrate"], source, "substrate", known),
        layers=tuple(_layer(layer, source, f"layers[{i}]", known) for i, layer in enumerate(layers)),
        substrate_thickness_mm=None if thick is None else float(thick),
        exit=None if thick is None else materials.parse(obj.get("exit", "air"), source, "exit", known))


def _layer(obj: Any, source: str, where: str, known) -> tuple[Material, float]:
    if not isinstance(obj, dict) or set(obj) != {"material", "thickness_nm"}:
        raise InputError(source, where, "must be an object with exactly the keys material and thickness_nm")
    d = obj["thickness_nm"]
    if not (_finite(d) and 0 <= d <= MAX_THICKNESS_NM):
        raise InputError(source, f"{where}.thickness_nm", f"is {d!r}; a thickness must be a finite number >= 0 and "
                         f"at most {MAX_THICKNESS_NM:.0f} nm (1 mm, the thickest thin film)")
    return materials.parse(obj["material"], source, f"{where}.material", known), float(d)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
