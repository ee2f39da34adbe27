"""Seeded families of thin-film coating goals, for training and held-out evaluation.

Each family is a kind of coating a lab asks for. ``generate(family, seed)`` draws one goal of
that kind, in the GUIDE's goal JSON, from ``numpy.random.default_rng([seed, family index])``:

=============== ===========================================================================
ar_narrow       R <= 0.001-0.005 (tol 0.002) at one wavelength in 450-950 nm or a 10-40 nm
                band around it; 2-4 layers
ar_broad        R <= 0.005 (tol 0.002; 0.01 with tol 0.003 beyond a 1.6 ratio) from lo =
                400-480 nm to 1.35-1.85 x lo (at most 1000 nm); 4-8 layers (6-8 when wide)
ar_angles       R <= 0.005 (0.01 at 45 deg; tol 0.003) over a 40-200 nm band centred at
                500-850 nm, at 2-3 of 0/15/30/45 deg; 4-8 layers
high_reflector  R >= 0.99 or 0.995 (tol 0.005) over 40-75 % of the quarter-wave stop band
                around 450-900 nm; layers = quarter-wave count + 1-5, within 10-30
longpass        T <= 0.01-0.02 (tol 0.01) on a blocking band 50-80 % of the stop band wide
                below an edge at 520-800 nm, T >= 0.9-0.95 (tol 0.03) on 80-200 nm above it,
                a gap of 4-8 % of the edge between; 12-30 layers
shortpass       longpass mirrored: pass below the edge, block above it
dichroic45      at 45 deg (avg, s or p): R >= 0.95 (tol 0.02) on one side of the edge, T >= 0.9
                (tol 0.03) on the other, gap 6-10 %; 12-30 layers
bandpass        T >= 0.85 (tol 0.05) in a 0.8-2 % band at 500-850 nm, T <= 0.05 (tol 0.02) on
                both sides (gap 1.2-2.2 x the band) out to 0.42 x the stop band; 16-30 layers
notch           T <= 0.02 (tol 0.01) on 30-60 % of the stop band around 540-720 nm, T >= 0.9
                (tol 0.03) over 60-150 nm on each side, 4-8 % beyond the stop band; 12-30 layers
beamsplitter50  R = 0.5 (tol 0.02 or 0.03) over a 60-300 nm band centred at 450-850 nm, at
                0 deg or 45 deg (avg, s or p); 4-12 layers
curve_gaussian  R (baseline 0.02-0.08, peak +0.3-0.7) or T (baseline 0.5-0.65, peak +0.2-0.3)
                = a Gaussian of sigma 8-15 % of a 200-400 nm span; '=' tol 0.02; 12-24 layers
curve_sigmoid   R or T = a sigmoid edge from 0.02-0.08 to 0.85-0.95 (scale 1-2.5 % of the
                edge at 520-780 nm), the reflecting side 40-60 % of the stop band long;
                '=' tol 0.02; 12-30 layers
curve_hidden    R at 0 deg over 150-400 nm (and, half the time, R or T at 30 or 45 deg) = the
                exact spectrum of a random hidden design of the goal's materials, kept in
                ``provenance``, so merit 0 is reachable; '=' tol 0.02; 4-16 layers
=============== ===========================================================================

Every goal uses an air incident medium, a substrate of N-BK7, SiO2 or inline glass (n = 1.52),
2-4 materials (a high- and a low-index one first; library dielectrics or inline H/L/M),
thicknesses in [5, 500] nm, and wavelengths within 400-1000 nm, where every library dielectric
is valid. Band widths come from the materials' quarter-wave stop band, relative width
(4/pi) asin((nH - nL)/(nH + nL)), and layer counts from the quarter-wave stack's peak
reflectance, so goals are hard but solvable. ``split`` makes a fixed train/held-out split and
``goal_hash`` fingerprints a goal's physics for contamination checks.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from domains.photonics import bands, goals, materials, spectra
from domains.photonics.design import Design
from specialist.domain import goal_hash

FAMILIES = ("ar_narrow", "ar_broad", "ar_angles", "high_reflector", "longpass", "shortpass",
            "bandpass", "notch", "dichroic45", "beamsplitter50", "curve_gaussian",
            "curve_sigmoid", "curve_hidden")
_HIGH = ("TiO2", "Ta2O5", "Nb2O5")
_MID = ("HfO2", "Si3N4", "Al2O3")
_LOW = ("SiO2", "MgF2")
_SUBSTRATES = ("N-BK7", "SiO2", {"name": "glass", "n": 1.52})
_WL = (400.0, 1000.0)  # nm; every library dielectric is valid here
_SPLIT_STRIDE = 2 ** 20  # family seeds per split seed; held-out seeds use the upper half
_ENDLESS_SEED = 2 ** 40  # family seeds of the endless sequence start here, far above every split's
_OOD_SEED = 2 ** 41  # family seeds of the out-of-distribution goals
_GRID, _LAYERS = 64, 16  # hidden spectra are computed padded to these sizes: few solver shapes


def generate(family: str, seed: int) -> dict:
    """One goal of a family, fully determined by (family, seed).

    Args:
        family: one of ``FAMILIES``.
        seed: a whole number >= 0.

    Returns:
        The goal JSON, with ``provenance`` {"family", "seed"} (and "hidden_design" for
        curve_hidden).

    Raises:
        ValueError: for an unknown family or a bad seed.
    """
    if family not in _BUILDERS:
        raise ValueError(f"unknown goal family {family!r}; valid: {', '.join(FAMILIES)}")
    if not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"seed is {seed!r}; it must be a whole number >= 0")
    rng = np.random.default_rng([int(seed), FAMILIES.index(family)])
    body = _BUILDERS[family](rng)
    provenance = {"family": family, "seed": int(seed), **body.pop("provenance", {})}
    return {"name": _name(family, int(seed), body["targets"]), "domain": "photonics", **body,
            "provenance": provenance}


def split(n_train: int = 200, n_heldout: int = 60, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """A fixed split into training and held-out goals, cycling through every family.

    Training goals use family seeds counting up from ``seed * 2**20``, held-out goals from
    ``seed * 2**20 + 2**19``, so the two never share a seed; a goal whose ``goal_hash`` was
    already drawn is skipped, so no held-out goal equals a training goal (or another held-out).

    Args:
        n_train: number of training goals.
        n_heldout: number of held-out goals (all families appear once it is >= 13).
        seed: which split, a whole number >= 0.

    Returns:
        (training goals, held-out goals), the same on every run and machine.
    """
    limit = len(FAMILIES) * _SPLIT_STRIDE // 4
    if not (0 <= n_train <= limit and 0 <= n_heldout <= limit and seed >= 0):
        raise ValueError(f"split needs 0 <= n_train, n_heldout <= {limit} and seed >= 0")
    base = int(seed) * _SPLIT_STRIDE
    seen: set[str] = set()
    train = _round_robin(n_train, base, seen)
    return train, _round_robin(n_heldout, base + _SPLIT_STRIDE // 2, seen)


def endless(start: int, count: int) -> list[dict]:
    """Goals ``start`` to ``start + count - 1`` of an endless sequence cycling through every
    family, with family seeds from 2**40 up: apart from the seeds of any split. Half of them
    (all but curve_hidden, whose hidden design is exact only where it was drawn) are moved to
    another part of the spectrum (``rescale``), so the sequence spans UV to near infrared."""
    if not (start >= 0 and count >= 0):
        raise ValueError(f"endless needs start >= 0 and count >= 0, got {start} and {count}")
    out = []
    for i in range(start, start + count):
        family, seed = FAMILIES[i % len(FAMILIES)], _ENDLESS_SEED + i // len(FAMILIES)
        goal = generate(family, seed)
        rng = np.random.default_rng([seed, FAMILIES.index(family), 0x5CA1E])
        if family != "curve_hidden" and rng.random() < 0.5:
            goal = rescale(goal, rng)
        out.append(goal)
    return out


def ood(skipped: tuple[str, ...] = (), per_family: int = 3) -> list[dict]:
    """Goals outside what training sees: ``per_family`` goals of every family but curve_hidden
    moved into the band no pretraining pair or generated goal uses (``bands.OOD_NM``), then
    ``per_family`` held-out goals of each family in ``skipped`` (those a daemon was told to skip).
    Family seeds from 2**41 up: apart from every split and the endless sequence."""
    out = []
    for k in range(per_family):
        for family in FAMILIES:
            if family == "curve_hidden":
                continue
            rng = np.random.default_rng([_OOD_SEED + k, FAMILIES.index(family), 0x00D])
            goal = rescale(generate(family, _OOD_SEED + k), rng, rng.uniform(*bands.OOD_NM))
            out.append({**goal, "provenance": {**goal["provenance"], "ood": "band"}})
    for family in skipped:
        for k in range(per_family):
            goal = generate(family, _OOD_SEED + _SPLIT_STRIDE + k)
            out.append({**goal, "provenance": {**goal["provenance"], "ood": "family"}})
    return out


def rescale(goal: dict, rng: np.random.Generator, reference: float | None = None) -> dict:
    """The goal moved to ``reference`` nm (default: drawn log-uniformly over 280-2200 nm outside
    the band kept for the out-of-distribution check, ``bands.OOD_NM``): wavelengths and the
    thickness range scaled alike; a library material without data over the new window becomes
    an inline one of its index at the old centre, so the physics stays about as hard."""
    wl = [w for t in goal["targets"] for w in np.atleast_1d(t["wavelength_nm"])]
    centre = bands.reference_of(goal["targets"])
    factor = (reference or bands.reference(rng)) / centre
    window = (min(wl) * factor, max(wl) * factor)

    def medium(spec, name):
        if isinstance(spec, dict) or _valid((spec,), window):
            return spec
        n = materials.parse(spec, "families", "materials").nk(np.array([centre]))[0].real
        return {"name": name, "n": round(float(n), 3)}

    targets = []
    for t in goal["targets"]:
        w = t["wavelength_nm"]
        moved = round(w * factor, 1) if not isinstance(w, list) else [round(x * factor, 1) for x in w]
        targets.append({**t, "wavelength_nm": moved})
    lo, hi = goal["thickness_nm"]
    body = {**goal, "substrate": medium(goal["substrate"], "substrate"),
            "materials": [medium(m, f"{m}-like") for m in goal["materials"]],
            "thickness_nm": [lo, round(hi * max(1.0, factor), 1)], "targets": targets,
            "provenance": {**goal["provenance"], "rescaled": round(factor, 4)}}
    return {**body, "name": _name(goal["provenance"]["family"], goal["provenance"]["seed"], targets)}


# --- shared pieces ---------------------------------------------------------------------------

def _round_robin(n: int, first_seed: int, seen: set[str]) -> list[dict]:
    next_seed = dict.fromkeys(FAMILIES, first_seed)
    out = []
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        while True:
            goal = generate(family, next_seed[family])
            next_seed[family] += 1
            digest = goal_hash(goal)
            if digest not in seen:
                break
        seen.add(digest)
        out.append(goal)
    return out


def _name(family: str, seed: int, targets: list[dict]) -> str:
    wl = [w for t in targets for w in np.atleast_1d(t["wavelength_nm"])]
    return f"{family}-seed{seed}-{min(wl):.0f}-{max(wl):.0f}nm"


def _u(rng: np.random.Generator, lo: float, hi: float, digits: int = 1) -> float:
    return round(float(rng.uniform(lo, hi)), digits)


def _i(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A whole number in [lo, hi], both included."""
    return int(rng.integers(lo, hi + 1))


def _pick(rng: np.random.Generator, options: tuple) -> Any:
    choice = options[int(rng.integers(len(options)))]
    return dict(choice) if isinstance(choice, dict) else choice


def _substrate(rng: np.random.Generator, window: tuple[float, float] = _WL) -> Any:
    return _pick(rng, _valid(_SUBSTRATES, window))


def _materials(rng: np.random.Generator, count: int, contrast: bool = True,
               window: tuple[float, float] = _WL) -> list:
    """``count`` materials: a high-index one, a low-index one, then others, each valid over
    ``window`` (nm; inline materials stand in where too few library ones are).

    ``contrast`` keeps the high-index one >= 2.1 (reflectors, edges); without it HfO2 and
    Si3N4 may be the high-index material (AR coatings, beamsplitters).
    """
    highs = _valid(_HIGH if contrast else _HIGH + _MID[:2], window)
    if rng.random() < 0.3 or not highs:  # inline, non-dispersive
        inline = [{"name": "H", "n": _u(rng, 2.1 if contrast else 1.95, 2.4, 3)},
                  {"name": "L", "n": _u(rng, 1.38, 1.48, 3)}, {"name": "M", "n": _u(rng, 1.6, 1.85, 3)}]
        return (inline + [_pick(rng, _valid(_MID, window) or ({"name": "N", "n": 1.7},))])[:count]
    high = _pick(rng, highs)
    low = _pick(rng, _valid(_LOW, window) or ({"name": "L", "n": 1.45},))
    rest = [m for m in _valid(_HIGH + _MID + _LOW, window) if m not in (high, low)]
    return [high, low] + [rest[j] for j in sorted(rng.permutation(len(rest))[:count - 2])]


def _valid(options: tuple, window: tuple[float, float]) -> tuple:
    """The options (library names or inline materials) whose data cover ``window`` nm."""
    def covers(spec) -> bool:
        lo, hi = materials.parse(spec, "families", "materials").valid_nm
        return lo <= window[0] and window[1] <= hi
    return tuple(o for o in options if covers(o))


def _admittances(specs: list, wl: float, angle: float = 0.0, pol: str = "s") -> list[float]:
    """Tilted admittances (free-space units) at ``wl`` for light from air at ``angle`` deg."""
    sin = math.sin(math.radians(angle))
    out = []
    for spec in specs:
        n = float(materials.parse(spec, "families", "materials").nk(np.array([wl]))[0].real)
        cos = math.sqrt(1.0 - (sin / n) ** 2)
        out.append(n * cos if pol == "s" else n / cos)  # "avg": the weaker p reflector
    return out


def _stopband(mats: list, wl: float, angle: float = 0.0, pol: str = "s") -> float:
    """Relative full width (in 1/wavelength) of the widest pair's quarter-wave stop band."""
    eta = _admittances(mats, wl, angle, pol)
    h, l = max(eta), min(eta)
    return 4.0 / math.pi * math.asin((h - l) / (h + l))


def _qw_layers(mats: list, sub: Any, wl: float, r_min: float, angle: float = 0.0,
               pol: str = "s") -> int:
    """Fewest layers (HLH...H) of a quarter-wave stack of the widest pair with peak R >= r_min."""
    eta = _admittances(mats, wl, angle, pol)
    h, l = max(eta), min(eta)
    air, s = _admittances(["air", sub], wl, angle, pol)
    for p in range(100):
        y = (h / l) ** (2 * p) * h * h / s
        if ((y - air) / (y + air)) ** 2 >= r_min:
            return 2 * p + 1
    return 201


def _band(center: float, half: float) -> tuple[float, float]:
    """Wavelengths spanning ``center`` +- ``half`` in relative wavenumber."""
    return center / (1.0 + half), center / (1.0 - half)


def _target(quantity: str, wl: tuple[float, float], relation: str, value: Any, tol: float,
            points: int, angle: float = 0.0, pol: str = "avg") -> dict:
    lo, hi = (round(min(max(w, _WL[0]), _WL[1]), 1) for w in wl)
    assert lo <= hi, (lo, hi)
    return {"quantity": quantity, "polarization": pol, "angle_deg": float(angle),
            "wavelength_nm": lo if lo == hi else [lo, hi], "points": 1 if lo == hi else points,
            "relation": relation, "value": value, "tolerance": tol, "weight": 1.0}


def _body(sub: Any, mats: list, max_layers: int, targets: list[dict]) -> dict:
    return {"incident": "air", "substrate": sub, "materials": mats,
            "max_layers": int(min(max(max_layers, 1), 30)), "thickness_nm": [5.0, 500.0],
            "max_total_thickness_nm": None, "targets": targets, "solved_below": 1.0}


def _grid(target: dict) -> np.ndarray:
    lo, hi = target["wavelength_nm"]
    return np.linspace(lo, hi, target["points"])


# --- antireflection --------------------------------------------------------------------------

def _ar_narrow(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3), contrast=False)
    center = _u(rng, 450, 950)
    half = 0.0 if rng.random() < 0.3 else _u(rng, 5, 20)
    value = _pick(rng, (0.001, 0.0025, 0.005))
    target = _target("R", (center - half, center + half), "<=", value, 0.002, 21)
    return _body(sub, mats, _i(rng, 2, 4), [target])


def _ar_broad(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 4), contrast=False)
    lo, ratio = _u(rng, 400, 480), float(rng.uniform(1.35, 1.85))
    wide = ratio > 1.6
    target = _target("R", (lo, lo * ratio), "<=", 0.01 if wide else 0.005,
                     0.003 if wide else 0.002, _i(rng, 31, 61))
    return _body(sub, mats, _i(rng, 6 if wide else 4, 8), [target])


def _ar_angles(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 4), contrast=False)
    angles = sorted(rng.choice([0, 15, 30, 45], size=_i(rng, 2, 3), replace=False).tolist())
    center, half, points = _u(rng, 500, 850), _u(rng, 20, 100), _i(rng, 21, 41)
    targets = [_target("R", (center - half, center + half), "<=", 0.01 if a >= 45 else 0.005,
                       0.003, points, angle=a) for a in angles]
    return _body(sub, mats, _i(rng, 4, 8), targets)


# --- reflectors and filters ------------------------------------------------------------------

def _high_reflector(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    center, value = _u(rng, 450, 900), _pick(rng, (0.99, 0.995))
    half = _stopband(mats, center) / 2 * rng.uniform(0.4, 0.75)
    layers = _qw_layers(mats, sub, center, 1 - (1 - value) / 4) + _i(rng, 1, 5)
    target = _target("R", _band(center, half), ">=", value, 0.005, _i(rng, 31, 61))
    return _body(sub, mats, max(layers, 10), [target])


def _edge_bands(rng: np.random.Generator, mats: list, long_pass: bool, gap: tuple, angle: float,
                pol: str) -> tuple[float, tuple, tuple]:
    """(edge, blocking band, passing band) of an edge filter; the blocking band fits the stop band."""
    edge = _u(rng, 520, 800)
    half_gap = edge * rng.uniform(*gap) / 2
    block = edge * _stopband(mats, edge, angle, pol) * rng.uniform(0.5, 0.8)
    width = rng.uniform(80, 200)
    below, above = edge - half_gap, edge + half_gap
    if long_pass:
        return edge, (below - block, below), (above, above + width)
    return edge, (above, above + block), (below - width, below)


def _edge_filter(rng: np.random.Generator, long_pass: bool) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    edge, block, passing = _edge_bands(rng, mats, long_pass, (0.04, 0.08), 0.0, "s")
    points = _i(rng, 31, 51)
    targets = [_target("T", block, "<=", _pick(rng, (0.01, 0.02)), 0.01, points),
               _target("T", passing, ">=", _pick(rng, (0.9, 0.95)), 0.03, points)]
    layers = _qw_layers(mats, sub, edge, 0.999) + _i(rng, 2, 8)
    return _body(sub, mats, max(layers, 12), targets)


def _dichroic45(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    pol, long_pass = _pick(rng, ("avg", "s", "p")), bool(rng.random() < 0.5)
    edge, block, passing = _edge_bands(rng, mats, long_pass, (0.06, 0.1), 45.0, pol)
    points = _i(rng, 31, 51)
    targets = [_target("R", block, ">=", 0.95, 0.02, points, 45.0, pol),
               _target("T", passing, ">=", 0.9, 0.03, points, 45.0, pol)]
    layers = _qw_layers(mats, sub, edge, 0.995, 45.0, pol) + _i(rng, 2, 8)
    return _body(sub, mats, max(layers, 12), targets)


def _bandpass(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    c = _u(rng, 500, 850)
    room = 0.42 * _stopband(mats, c) * c  # the blocking bands end inside the mirrors' stop band
    half = c * rng.uniform(0.004, 0.01)
    gap = 2 * half * rng.uniform(1.2, 2.2)
    scale = min(1.0, (room - 0.02 * c) / (half + gap))
    half, gap, points = half * scale, gap * scale, _i(rng, 21, 31)
    targets = [_target("T", (c - half, c + half), ">=", 0.85, 0.05, points),
               _target("T", (c - room, c - half - gap), "<=", 0.05, 0.02, points),
               _target("T", (c + half + gap, c + room), "<=", 0.05, 0.02, points)]
    layers = 2 * _qw_layers(mats, sub, c, 0.98) + _i(rng, 2, 6)
    return _body(sub, mats, max(layers, 16), targets)


def _notch(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    c = _u(rng, 540, 720)
    f = _stopband(mats, c)
    inner = f / 2 + rng.uniform(0.04, 0.08)  # the passing bands start beyond the stop band
    left, right = c / (1 + inner), c / (1 - inner)
    points = _i(rng, 31, 51)
    targets = [_target("T", _band(c, f / 2 * rng.uniform(0.3, 0.6)), "<=", 0.02, 0.01, points),
               _target("T", (left - rng.uniform(60, 150), left), ">=", 0.9, 0.03, points),
               _target("T", (right, right + rng.uniform(60, 150)), ">=", 0.9, 0.03, points)]
    layers = _qw_layers(mats, sub, c, 0.99) + _i(rng, 2, 8)
    return _body(sub, mats, max(layers, 12), targets)


def _beamsplitter50(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3), contrast=False)
    angle = _pick(rng, (0.0, 45.0))
    pol = "avg" if angle == 0 else _pick(rng, ("avg", "s", "p"))
    center, half = _u(rng, 450, 850), _u(rng, 30, 150)
    target = _target("R", (center - half, center + half), "=", 0.5, _pick(rng, (0.02, 0.03)),
                     _i(rng, 31, 61), angle, pol)
    return _body(sub, mats, _i(rng, 4, 12), [target])


# --- target curves ---------------------------------------------------------------------------

def _curve_gaussian(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    quantity = _pick(rng, ("R", "T"))
    lo = _u(rng, 400, 600)
    target = _target(quantity, (lo, lo + rng.uniform(200, 400)), "=", 0.0, 0.02, _i(rng, 41, 61))
    x = _grid(target)
    span = x[-1] - x[0]
    mu, sigma = rng.uniform(x[0] + 0.3 * span, x[-1] - 0.3 * span), span * rng.uniform(0.08, 0.15)
    base, amp = (rng.uniform(0.02, 0.08), rng.uniform(0.3, 0.7)) if quantity == "R" else \
        (rng.uniform(0.5, 0.65), rng.uniform(0.2, 0.3))
    target["value"] = [round(float(v), 6) for v in base + amp * np.exp(-0.5 * ((x - mu) / sigma) ** 2)]
    return _body(sub, mats, _i(rng, 12, 24), [target])


def _curve_sigmoid(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3))
    quantity, rising = _pick(rng, ("R", "T")), bool(rng.random() < 0.5)
    edge = _u(rng, 520, 780)
    reflect = edge * _stopband(mats, edge) * rng.uniform(0.4, 0.6)
    passing = rng.uniform(80, 200)
    reflect_short = (quantity == "T") == rising  # where R is high
    wl = (edge - reflect, edge + passing) if reflect_short else (edge - passing, edge + reflect)
    target = _target(quantity, wl, "=", 0.0, 0.02, _i(rng, 41, 61))
    x, scale = _grid(target), edge * rng.uniform(0.01, 0.025)
    low, high = rng.uniform(0.02, 0.08), rng.uniform(0.85, 0.95)
    s = 1.0 / (1.0 + np.exp(-(x - edge) / scale))
    target["value"] = [round(float(v), 6) for v in low + (high - low) * (s if rising else 1 - s)]
    layers = _qw_layers(mats, sub, edge, 0.99) + _i(rng, 6, 12)
    return _body(sub, mats, max(layers, 12), [target])


def _curve_hidden(rng: np.random.Generator) -> dict:
    sub, mats = _substrate(rng), _materials(rng, _i(rng, 2, 3), contrast=False)
    lo = _u(rng, 400, 600)
    wl, points = (lo, lo + rng.uniform(150, 400)), _i(rng, 41, 61)
    targets = [_target("R", wl, "=", 0.0, 0.02, points)]
    if rng.random() < 0.5:  # a second view: R or T at an oblique angle
        targets.append(_target(_pick(rng, ("R", "T")), wl, "=", 0.0, 0.02, points,
                               _pick(rng, (30.0, 45.0)), "avg"))
    body = _body(sub, mats, _i(rng, 4, 16), targets)
    goal = goals.parse({"name": "curve_hidden", **body}, "curve_hidden")
    design = _hidden_design(rng, goal)
    for spec, target in zip(targets, goal.targets):
        spec["value"] = _spectrum(design, target)
    body["provenance"] = {"hidden_design": design.to_json()}
    return body


def _hidden_design(rng: np.random.Generator, goal: goals.Goal) -> Design:
    """A random design within the goal's constraints: no two neighbours of one material."""
    n_mat = len(goal.materials)
    count = _i(rng, max(2, goal.max_layers // 2), goal.max_layers)
    index = [int(rng.integers(n_mat))]
    for _ in range(count - 1):
        index.append((index[-1] + _i(rng, 1, n_mat - 1)) % n_mat)
    thickness = [round(float(d), 2) for d in rng.uniform(20.0, 250.0, count)]
    return goal.design([(goal.materials[m], d) for m, d in zip(index, thickness)])


def _spectrum(design: Design, target: goals.Target) -> list[float]:
    """The design's target quantity on the target's grid (rounded to 1e-12: stable across machines)."""
    grid = target.grid()
    padded = np.concatenate([grid, np.full(_GRID - len(grid), grid[-1])])
    packed = spectra.pack([design], padded, n_layers=_LAYERS)
    r, t = spectra.run(packed, padded, (target.angle_deg,), ("s", "p"))  # each 1 x 1 x 2 x W
    pol = slice(None) if target.polarization == "avg" else [("s", "p").index(target.polarization)]
    q = {"R": r, "T": t, "A": 1.0 - r - t}[target.quantity][0, 0, pol].mean(axis=0)
    return [round(float(v), 12) for v in np.clip(q[:len(grid)], 0.0, 1.0)]  # a target is a fraction


_BUILDERS: dict[str, Callable[[np.random.Generator], dict]] = {
    "ar_narrow": _ar_narrow, "ar_broad": _ar_broad, "ar_angles": _ar_angles,
    "high_reflector": _high_reflector, "longpass": lambda rng: _edge_filter(rng, True),
    "shortpass": lambda rng: _edge_filter(rng, False), "bandpass": _bandpass, "notch": _notch,
    "dichroic45": _dichroic45, "beamsplitter50": _beamsplitter50,
    "curve_gaussian": _curve_gaussian, "curve_sigmoid": _curve_sigmoid,
    "curve_hidden": _curve_hidden,
}
