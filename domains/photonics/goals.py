"""Goals ("tasks"): the GUIDE's goal JSON, validated, and design constraints.

    {"name": "ar-visible", "domain": "photonics", "incident": "air", "substrate": "N-BK7",
     "materials": ["SiO2", "TiO2", {"name": "L", "n": 1.38}],
     "max_layers": 10, "thickness_nm": [5, 500], "max_total_thickness_nm": null,
     "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": 0,
                  "wavelength_nm": [400, 700], "points": 61,
                  "relation": "<=", "value": 0.005, "tolerance": 0.002, "weight": 1.0}],
     "solved_below": 1.0}

Optional goal fields: ``substrate_thickness_mm`` and ``exit`` (thick incoherent substrate, as in
a design), and ``robustness`` (ask for a design that holds up when made with errors: its merit
is then the mean over ``runs`` made copies, each layer's thickness off by a normal error of
``thickness_pct`` percent and each film material's index by one normal offset of
``index_sigma``, drawn once from ``seed``; ``Robustness``), ``process`` (the deposition run the
coating will be made in, text) and ``calibration`` (the corrections of the lab's coater to
design for: ``{"version", "delta_n": {material: offset}, "thickness_scale"}``; the daemon fills
it in from the newest calibration for a goal naming a process, see ``plugin.calibrated``); a goal
with a calibration is scored as the calibrated coater would make its designs. Target defaults: polarization "avg", angle_deg 0, points 1 for a single wavelength,
tolerance 0.01, weight 1.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from domains.photonics import materials
from domains.photonics.design import MAX_THICKNESS_NM, Design, material_json
from domains.photonics.materials import Material
from specialist.errors import InputError

QUANTITIES = ("R", "T", "A")
RELATIONS = ("<=", ">=", "=")
TARGET_POLARIZATIONS = ("s", "p", "avg")
_GOAL_KEYS = {"name", "domain", "incident", "substrate", "materials", "max_layers", "thickness_nm",
              "max_total_thickness_nm", "targets", "solved_below", "substrate_thickness_mm", "exit",
              "provenance", "robustness", "process", "calibration"}
_TARGET_KEYS = {"quantity", "polarization", "angle_deg", "wavelength_nm", "points", "relation",
                "value", "tolerance", "weight"}
# The merit divides violations (fractions, at most 1) by the tolerance, squares them and weighs
# them: these bounds keep every term and the weights' sum finite and nonzero in float64 (a
# tolerance of 1e-320 or a weight of 1e308 made the merit infinite or NaN), and are far beyond
# what a lab asks (tolerances 1e-4 to 0.05, weights 0.5 to 2 in the curriculum).
MIN_TOLERANCE = 1e-9
WEIGHTS = (1e-6, 1e6)


@dataclass(frozen=True)
class Target:
    """One spectral requirement on an evenly spaced wavelength grid."""

    quantity: str
    polarization: str
    angle_deg: float
    wavelength_nm: tuple[float, float]
    points: int
    relation: str
    value: tuple[float, ...]  # one value per grid point
    tolerance: float
    weight: float

    def grid(self) -> np.ndarray:
        lo, hi = self.wavelength_nm
        return np.linspace(lo, hi, self.points)


@dataclass(frozen=True)
class Robustness:
    """The manufacturing errors a robust goal's merit is averaged over (module docstring)."""

    thickness_pct: float = 1.0
    index_sigma: float = 0.0
    runs: int = 16
    seed: int = 0


_ROBUSTNESS_KEYS = {"thickness_pct", "index_sigma", "runs", "seed"}


@dataclass(frozen=True)
class Calibration:
    """The coater's corrections a goal is designed for: film index offsets by material name and
    one thickness scale (the goal's deposition run's)."""

    version: int
    delta_n: tuple[tuple[str, float], ...]
    thickness_scale: float

    def offset(self, material: Material) -> float:
        return dict(self.delta_n).get(material.name, 0.0)


_CALIBRATION_KEYS = {"version", "delta_n", "thickness_scale"}


@dataclass(frozen=True)
class Goal:
    """A validated goal; ``raw`` keeps the JSON it came from."""

    name: str
    incident: Material
    substrate: Material
    materials: tuple[Material, ...]
    max_layers: int
    thickness_nm: tuple[float, float]
    max_total_thickness_nm: float | None
    targets: tuple[Target, ...]
    solved_below: float
    substrate_thickness_mm: float | None
    exit: Material | None
    raw: dict
    robustness: Robustness | None = None
    calibration: Calibration | None = None

    @property
    def inline_materials(self) -> dict[str, Material]:
        """The goal's inline materials by name, so that designs may name them."""
        return {m.name: m for m in self.materials if not m.from_library}

    def design(self, layers: list[tuple[Material, float]]) -> Design:
        """A design for this goal's media from (material, thickness) layers."""
        return Design(self.incident, self.substrate, tuple(layers), self.substrate_thickness_mm,
                      self.exit)

    def violation(self, design: Design) -> str | None:
        """Why ``design`` breaks a hard constraint of this goal, or None if it keeps them all."""
        allowed = {m.key for m in self.materials}
        if design.incident.key != self.incident.key or design.substrate.key != self.substrate.key:
            return (f"incident and substrate must be the goal's ({self.incident.name}, "
                    f"{self.substrate.name})")
        if len(design.layers) > self.max_layers:
            return f"{len(design.layers)} layers exceed max_layers = {self.max_layers}"
        lo, hi = self.thickness_nm
        for i, (m, d) in enumerate(design.layers):
            if m.key not in allowed:
                return (f"layers[{i}].material '{m.name}' is not among the goal's materials "
                        f"({', '.join(x.name for x in self.materials)})")
            if not lo <= d <= hi:
                return f"layers[{i}].thickness_nm = {d:g} is outside [{lo:g}, {hi:g}] nm"
        total = design.total_thickness_nm
        if self.max_total_thickness_nm is not None and total > self.max_total_thickness_nm:
            return f"total thickness {total:g} nm exceeds max_total_thickness_nm = {self.max_total_thickness_nm:g}"
        return None


def parse(obj: Any, source: str = "goal") -> Goal:
    """Validate a goal JSON object.

    Raises:
        InputError: naming ``source`` and the offending field, with what is allowed.
    """
    if not isinstance(obj, dict):
        raise InputError(source, "", "must hold a JSON object (a goal)")
    unknown = set(obj) - _GOAL_KEYS
    if unknown:
        raise InputError(source, sorted(unknown)[0], f"is not a goal field; allowed: {', '.join(sorted(_GOAL_KEYS))}")
    if obj.get("domain", "photonics") != "photonics":
        raise InputError(source, "domain", f"is {obj['domain']!r}; this parser reads photonics goals")
    for key in ("name", "substrate", "materials", "targets"):
        if key not in obj:
            raise InputError(source, key, "is missing")
    if not isinstance(obj["name"], str) or not obj["name"]:
        raise InputError(source, "name", "must be a non-empty string")
    mats = obj["materials"]
    if not isinstance(mats, list) or not mats:
        raise InputError(source, "materials", "must be a non-empty list of material names or inline materials")
    targets = obj["targets"]
    if not isinstance(targets, list) or not targets:
        raise InputError(source, "targets", "must be a non-empty list of targets")
    thick = obj.get("substrate_thickness_mm")
    if thick is not None and not (_number(thick) and thick > 0):
        raise InputError(source, "substrate_thickness_mm", f"is {thick!r}; it must be a number > 0 (mm) or absent")
    goal = Goal(
        name=obj["name"],
        incident=_lossless(materials.parse(obj.get("incident", "air"), source, "incident"), source),
        substrate=materials.parse(obj["substrate"], source, "substrate"),
        materials=tuple(materials.parse(m, source, f"materials[{i}]") for i, m in enumerate(mats)),
        max_layers=_int(obj.get("max_layers", 20), source, "max_layers", 1, 200),
        thickness_nm=_range(obj.get("thickness_nm", [0, 1000]), source, "thickness_nm", 0.0, MAX_THICKNESS_NM),
        max_total_thickness_nm=_optional_positive(obj.get("max_total_thickness_nm"), source),
        targets=tuple(_target(t, source, f"targets[{i}]") for i, t in enumerate(targets)),
        solved_below=_positive(obj.get("solved_below", 1.0), source, "solved_below"),
        substrate_thickness_mm=None if thick is None else float(thick),
        exit=None if thick is None else materials.parse(obj.get("exit", "air"), source, "exit"),
        raw=obj, robustness=_robustness(obj.get("robustness"), source),
        calibration=_calibration(obj, source))
    _within_data(goal, source)
    _lossless_over(goal.incident, goal.targets, source)
    return goal


def to_json(goal: Goal) -> dict:
    """The goal's JSON (as given, with materials normalized)."""
    out = dict(goal.raw)
    out["materials"] = [material_json(m) for m in goal.materials]
    return out


def _target(obj: Any, source: str, where: str) -> Target:
    if not isinstance(obj, dict):
        raise InputError(source, where, "must be an object with quantity, wavelength_nm, relation and value")
    unknown = set(obj) - _TARGET_KEYS
    if unknown:
        raise InputError(source, f"{where}.{sorted(unknown)[0]}", f"is not a target field; allowed: {', '.join(sorted(_TARGET_KEYS))}")
    for key in ("quantity", "wavelength_nm", "relation", "value"):
        if key not in obj:
            raise InputError(source, f"{where}.{key}", "is missing")
    quantity = _choice(obj["quantity"], QUANTITIES, source, f"{where}.quantity")
    pol = _choice(obj.get("polarization", "avg"), TARGET_POLARIZATIONS, source, f"{where}.polarization")
    relation = _choice(obj["relation"], RELATIONS, source, f"{where}.relation")
    angle = obj.get("angle_deg", 0.0)
    if not (_number(angle) and 0 <= angle < 90):
        raise InputError(source, f"{where}.angle_deg", f"is {angle!r}; allowed: a number in [0, 90)")
    wl = obj["wavelength_nm"]
    if _number(wl):
        wl = [wl, wl]
    lo, hi = _range(wl, source, f"{where}.wavelength_nm", 1e-9)
    default_points = 1 if lo == hi else 31
    points = _int(obj.get("points", default_points), source, f"{where}.points", 1, 10000)
    if lo == hi and points != 1:
        raise InputError(source, f"{where}.points", f"is {points}; a single wavelength has 1 point")
    return Target(quantity, pol, float(angle), (lo, hi), points, relation,
                  _values(obj["value"], points, source, f"{where}.value"),
                  _bounded(obj.get("tolerance", 0.01), source, f"{where}.tolerance", MIN_TOLERANCE, math.inf),
                  _bounded(obj.get("weight", 1.0), source, f"{where}.weight", *WEIGHTS))


def _robustness(obj: Any, source: str) -> Robustness | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise InputError(source, "robustness", "must be an object with thickness_pct, index_sigma, runs and seed "
                         "(each optional) or absent")
    unknown = set(obj) - _ROBUSTNESS_KEYS
    if unknown:
        raise InputError(source, f"robustness.{sorted(unknown)[0]}", "is not a robustness field; allowed: "
                         + ", ".join(sorted(_ROBUSTNESS_KEYS)))
    out = Robustness()
    for key in ("thickness_pct", "index_sigma"):
        x = obj.get(key, getattr(out, key))
        if not (_number(x) and 0 <= x <= (20 if key == "thickness_pct" else 0.5)):
            raise InputError(source, f"robustness.{key}", f"is {x!r}; allowed: a number from 0 to "
                             + ("20 (percent)" if key == "thickness_pct" else "0.5"))
    return Robustness(float(obj.get("thickness_pct", out.thickness_pct)), float(obj.get("index_sigma", out.index_sigma)),
                      _int(obj.get("runs", out.runs), source, "robustness.runs", 2, 64),
                      _int(obj.get("seed", out.seed), source, "robustness.seed", 0, 2**31 - 1))


def _calibration(obj: dict, source: str) -> Calibration | None:
    process = obj.get("process")
    if process is not None and not (isinstance(process, str) and 1 <= len(process.strip()) <= 200):
        raise InputError(source, "process", f"is {process!r}; allowed: the deposition run's name, text of 1 to 200 "
                         "characters")
    cal = obj.get("calibration")
    if cal is None:
        return None
    if not isinstance(cal, dict) or set(cal) - _CALIBRATION_KEYS:
        raise InputError(source, "calibration", "must be an object with version, delta_n ({material: offset}) and "
                         "thickness_scale, or absent")
    delta = cal.get("delta_n", {})
    if not (isinstance(delta, dict) and all(isinstance(k, str) and _number(v) and abs(v) <= 1 for k, v in delta.items())):
        raise InputError(source, "calibration.delta_n", "must map material names to index offsets from -1 to 1")
    scale = cal.get("thickness_scale", 1.0)
    if not (_number(scale) and 0.5 <= scale <= 2):
        raise InputError(source, "calibration.thickness_scale", f"is {scale!r}; allowed: a number from 0.5 to 2")
    return Calibration(_int(cal.get("version", 0), source, "calibration.version", 0, 2**31 - 1),
                       tuple(sorted((k, float(v)) for k, v in delta.items())), float(scale))


def _values(value: Any, points: int, source: str, where: str) -> tuple[float, ...]:
    if _number(value):
        out = (float(value),) * points
    elif isinstance(value, list) and len(value) == points and all(_number(v) for v in value):
        out = tuple(float(v) for v in value)
    else:
        raise InputError(source, where, f"must be a number or a list of {points} numbers (one per point)")
    bad = [v for v in out if not 0.0 <= v <= 1.0]
    if bad:  # R, T and A are fractions of the incident power
        raise InputError(source, where, f"holds {bad[0]:g}; allowed: fractions in [0, 1], not percent")
    return out


def _lossless(m: Material, source: str) -> Material:
    if m.model["kind"] == "constant" and m.model.get("k", 0.0) > 0:
        raise InputError(source, "incident", f"'{m.name}' absorbs (k > 0); the incident medium must be lossless")
    return m


def _within_data(goal: Goal, source: str) -> None:
    """Every target's wavelengths must lie within the data of every medium and material of the
    goal; the error names the target and the offending end of its band (the lowest wavelength
    below a material's data, else the highest above it)."""
    media = [goal.incident, goal.substrate, *([goal.exit] if goal.exit is not None else []), *goal.materials]
    for i, t in enumerate(goal.targets):
        t_lo, t_hi = t.wavelength_nm
        for m in media:
            lo, hi = m.valid_nm
            if t_lo < lo or t_hi > hi:
                end = t_lo if t_lo < lo else t_hi
                raise InputError(source, f"targets[{i}].wavelength_nm",
                                 f"reaches {end:g} nm, where {m.name} has no data ({lo:g}-{hi:g} nm); "
                                 "allowed: wavelengths inside every material's range")


def _lossless_over(m: Material, targets: tuple[Target, ...], source: str) -> None:
    """A dispersive incident medium must be lossless at every target wavelength too (a constant
    one was checked by ``_lossless``). Called after ``_within_data``: every target wavelength is
    inside the medium's data."""
    for i, t in enumerate(targets):
        wl = t.grid()
        k = np.imag(m.nk(wl, source))
        if np.any(k > 0):
            at = float(wl[np.argmax(k > 0)])
            raise InputError(source, "incident", f"'{m.name}' absorbs (k = {float(k.max()):.3g} > 0) at {at:g} nm, "
                             f"within targets[{i}].wavelength_nm; the incident medium must be lossless")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _choice(x: Any, allowed: tuple[str, ...], source: str, where: str) -> str:
    if x not in allowed:
        raise InputError(source, where, f"is {x!r}; allowed: {', '.join(allowed)}")
    return x


def _int(x: Any, source: str, where: str, lo: int, hi: int) -> int:
    if not (isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi):
        raise InputError(source, where, f"is {x!r}; allowed: a whole number from {lo} to {hi}")
    return x


def _range(x: Any, source: str, where: str, lo_min: float, hi_max: float = math.inf) -> tuple[float, float]:
    if not (isinstance(x, list) and len(x) == 2 and all(_number(v) for v in x)
            and lo_min <= x[0] <= x[1] <= hi_max):
        upper = "" if hi_max == math.inf else f" <= {hi_max:g}"  # a design's layer is at most 1 mm thick
        raise InputError(source, where, f"is {json.dumps(x)}; allowed: [lo, hi] with {lo_min:g} <= lo <= hi{upper}")
    return float(x[0]), float(x[1])


def _positive(x: Any, source: str, where: str) -> float:
    if not (_number(x) and x > 0):
        raise InputError(source, where, f"is {x!r}; allowed: a number > 0")
    return float(x)


def _bounded(x: Any, source: str, where: str, lo: float, hi: float) -> float:
    if not (_number(x) and lo <= x <= hi):
        upper = "" if hi == math.inf else f" and at most {hi:g}"
        raise InputError(source, where, f"is {x!r}; allowed: a number of at least {lo:g}{upper}")
    return float(x)


def _optional_positive(x: Any, source: str) -> float | None:
    return None if x is None else _positive(x, source, "max_total_thickness_nm")
