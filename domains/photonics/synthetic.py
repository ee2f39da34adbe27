"""Simulator-made training pairs for the "spectrum" phase: random designs and goals they meet.

Each pair is (goal JSON, design JSON). Pairs come in groups of GROUP sharing a reference
wavelength lambda_ref, drawn log-uniformly over ``bands.REF_NM``, and a window of wavelengths
evenly spaced around it. Each
design is drawn in quarter waves at lambda_ref (1 to 64 layers of 2-4 materials valid over the
window, from three generators: free optical thicknesses, jittered quarter-wave stacks with a few
spacers, thin antireflection-like stacks); its exact spectra at normal incidence and at one
oblique angle come from one batched solver call per group, and the goal is written in hindsight
from them, so the design meets it (merit 0):
- an '=' curve of R or T over a window, sometimes with a second view at the oblique angle;
- or one to three bands with a '<=' bound (where the quantity is low) or a '>=' bound (where it
  is high) just beyond the design's own extreme, as the families' coatings ask.
No goal's own reference wavelength (the geometric centre of its targets) lies in OOD_NM, the
band kept for the out-of-distribution check. Tolerances, weights, layer limits, thickness ranges and total-thickness caps vary, each one
loose enough for the design. Different designs can meet one goal, so the model learns a
distribution, not one answer per spectrum. Targets sit on nodes of the group's grid, so their
values are exact.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from domains.photonics import bands, design as design_mod, families, goals as goals_mod, materials, spectra
from specialist.errors import InputError

GROUP, POINTS, MAX_LAYERS = 16, 64, 64
OOD_NM = bands.OOD_NM
_OBLIQUE = (15.0, 30.0, 45.0, 60.0)


def pairs(seed: int, count: int) -> list[tuple[dict, dict]]:
    """``count`` (goal, design) pairs, fully determined by ``seed``."""
    rng = np.random.default_rng([int(seed), 0x5EC7])
    out: list[tuple[dict, dict]] = []
    while len(out) < count:
        out += _group(rng, f"synthetic-{seed}-{len(out) // GROUP}")
    return out[:count]


def _group(rng: np.random.Generator, name: str) -> list[tuple[dict, dict]]:
    """GROUP pairs on one wavelength window."""
    ref = bands.reference(rng)
    half = min(rng.uniform(0.08, 0.42), 1.0 - 200.0 / ref)  # no deeper than 200 nm into the UV
    step = round(2.0 * half * ref / (POINTS - 1), 2)
    grid = round(ref * (1.0 - half), 1) + step * np.arange(POINTS)  # evenly spaced: targets sit on nodes
    window = (float(grid[0]), float(grid[-1]))
    angles = (0.0, float(rng.choice(_OBLIQUE)))
    stacks = [_stack(rng, ref, window) for _ in range(GROUP)]
    designs = [design_mod.parse(d, "synthetic") for _, d in stacks]
    R, T = _spectra(designs, grid, angles, MAX_LAYERS)
    out = []
    for b, (mats, design) in enumerate(stacks):
        targets = _targets_outside_ood(rng, {"R": R[b], "T": T[b]}, grid, angles)
        if targets is None:
            continue
        n = len(design["layers"])
        thick = [layer["thickness_nm"] for layer in design["layers"]]
        hi = max(500.0, round(500.0 * ref / 700.0), math.ceil(max(thick)))
        total = sum(thick)
        goal = {"name": f"{name}-{b}", "domain": "photonics", "incident": "air",
                "substrate": design["substrate"], "materials": mats,
                "max_layers": min(MAX_LAYERS, n + int(rng.integers(0, 9))),
                "thickness_nm": [min(5.0, min(thick)), float(hi)],
                "max_total_thickness_nm": round(total * rng.uniform(1.02, 1.6), 1) if rng.random() < 0.2 else None,
                "targets": targets, "solved_below": 1.0}
        out.append((goal, design))
    return out


def _spectra(designs: list, grid: np.ndarray, angles: tuple, n_layers: int) -> tuple[np.ndarray, np.ndarray]:
    """(R, T), each B x A x 2 (s, p) x W, of parsed designs in one solver call, padded to
    ``n_layers`` layers and to a power-of-two material table so the compiled shapes are few."""
    packed = spectra.pack(designs, grid, n_layers=n_layers)
    # Inline materials make the table's length vary; padding it keeps the compiled shapes few.
    rows = max(64, 1 << (len(packed.nk_MxW) - 1).bit_length())
    nk = np.concatenate([packed.nk_MxW, np.ones((rows - len(packed.nk_MxW), len(grid)), complex)])
    return spectra.run(dataclasses.replace(packed, nk_MxW=nk), grid, angles, ("s", "p"))


def _targets_outside_ood(rng: np.random.Generator, spectra_: dict, grid: np.ndarray, angles: tuple):
    """``_targets`` whose own reference wavelength lies outside OOD_NM, drawn up to 8 times;
    None if every draw centres in that band."""
    for _ in range(8):
        targets = _targets(rng, spectra_, grid, angles)
        if not OOD_NM[0] <= bands.reference_of(targets) <= OOD_NM[1]:
            return targets
    return None


def _stack(rng: np.random.Generator, ref: float, window: tuple[float, float]) -> tuple[list, dict]:
    """(materials, design JSON) from one of three generators, thicknesses in quarter waves at ref."""
    mats = families._materials(rng, int(rng.integers(2, 5)), contrast=bool(rng.random() < 0.6), window=window)
    index = np.array([_index(m, ref) for m in mats])
    kind = rng.random()
    if kind < 0.4:  # free: any materials, optical thicknesses anywhere in 0.15-2.5 quarter waves
        n = int(rng.integers(1, 41)) if rng.random() < 0.85 else int(rng.integers(41, MAX_LAYERS + 1))
        order = _alternating(rng, len(mats), n)
        quarters = rng.uniform(0.15, 2.5, n)
    elif kind < 0.8:  # a quarter-wave stack of the first two materials, jittered, with a few spacers
        n = int(rng.integers(3, 31)) if rng.random() < 0.8 else int(rng.integers(31, MAX_LAYERS + 1))
        order = np.arange(n) % 2 if rng.random() < 0.5 else 1 - np.arange(n) % 2
        spread = rng.uniform(0, 0.25)
        quarters = rng.uniform(0.8, 1.25) * rng.uniform(1 - spread, 1 + spread, n)
        quarters = np.where(rng.random(n) < 0.15, 2 * quarters, quarters)
    else:  # antireflection-like: few thin layers
        n = int(rng.integers(1, 9))
        order = _alternating(rng, len(mats), n)
        quarters = rng.uniform(0.1, 1.3, n)
    thick = quarters * ref / (4.0 * index[order])
    layers = [{"material": mats[m], "thickness_nm": round(float(max(t, 2.0)), 2)} for m, t in zip(order, thick)]
    return mats, {"incident": "air", "substrate": families._substrate(rng, window), "layers": layers}


def _alternating(rng: np.random.Generator, n_mat: int, n: int) -> np.ndarray:
    """``n`` material indices with no two neighbours alike."""
    order = [int(rng.integers(n_mat))]
    for _ in range(n - 1):
        order.append((order[-1] + int(rng.integers(1, n_mat))) % n_mat)
    return np.array(order)


def _index(spec, wl: float) -> float:
    return float(materials.parse(spec, "synthetic", "materials").nk(np.array([wl]))[0].real)


def _targets(rng: np.random.Generator, spectra_: dict, grid: np.ndarray, angles: tuple) -> list[dict]:
    """Targets the design's spectra (each A x 2 x W on ``grid`` at ``angles``) meet."""
    def target(quantity, i, j, relation, tol, angle):
        return _target(rng, spectra_, grid, angles, quantity, i, j, relation, tol, angle)
    if rng.random() < 0.4:
        i, j = _window(rng, 16)
        tol = float(rng.choice([0.01, 0.02, 0.03]))
        out = [target("R" if rng.random() < 0.7 else "T", i, j, "=", tol, 0)]
        if rng.random() < 0.3:
            out.append(target(str(rng.choice(["R", "T"])), i, j, "=", tol, 1))
        return out
    out, edges = [], np.sort(rng.choice(np.arange(1, POINTS), size=5, replace=False))
    angle = 1 if rng.random() < 0.25 else 0
    for k in range(int(rng.integers(1, 4))):
        i, j = int(edges[k]), int(edges[k + 1]) - 1
        i, j = (i, i) if rng.random() < 0.15 or j < i else (i, j)
        q = str(rng.choice(["R", "T"]))
        tol = float(rng.choice([0.002, 0.005, 0.01, 0.02, 0.03]))
        out.append(target(q, i, j, None, tol, angle))
    return out


def _window(rng: np.random.Generator, shortest: int) -> tuple[int, int]:
    i = int(rng.integers(0, POINTS - shortest))
    return i, int(rng.integers(i + shortest - 1, POINTS))


def _target(rng, spectra_, grid, angles, quantity: str, i: int, j: int, relation, tol: float, angle: int) -> dict:
    """A target on grid nodes i..j; relation None picks '<=' or '>=' from the design's values."""
    pol = "avg" if angle == 0 else str(rng.choice(["avg", "s", "p"]))
    q = spectra_[quantity][angle]
    q = q.mean(axis=0) if pol == "avg" else q[("s", "p").index(pol)]
    values = q[i:j + 1]
    if relation is None:
        margin = float(rng.uniform(0.0, 0.01))
        low = values.max() < 0.5
        relation = "<=" if low else ">="
        value = float(values.max()) + margin if low else float(values.min()) - margin
        # rounded outwards, so the bound never cuts into the design's own values
        value = float(np.clip(round(value, 4) + (1e-4 if low else -1e-4), 0.0, 1.0))
    else:
        values = np.clip(values, 0.0, 1.0)  # a target is a fraction; rounding noise stays inside
        value = [round(float(v), 6) for v in values] if j > i else round(float(values[0]), 6)
    lo, hi = float(grid[i]), float(grid[j])
    weight = float(rng.choice([1.0, 1.0, 1.0, 0.5, 2.0]))
    return {"quantity": quantity, "polarization": pol, "angle_deg": angles[angle],
            "wavelength_nm": lo if i == j else [lo, hi], "points": j - i + 1, "relation": relation,
            "value": value, "tolerance": tol, "weight": weight}


def hindsight(goal_json: dict, designs: list[dict], seed: int) -> list[dict | None]:
    """Per design, a goal it meets exactly, written from its own spectrum as ``pairs`` writes
    one; None for a design that is invalid for ``goal_json`` (unreadable, other media, other
    materials, too many layers or too thick in total) or whose every draw of targets centres in
    OOD_NM. A design's layer outside the goal's thickness range widens that range instead.

    The goal keeps the original's media, materials and limits; its targets lie on an evenly
    spaced grid of POINTS wavelengths over the original targets' span (at least +-5 % around its
    centre, within every material's data), at 0 deg and the goal's largest oblique angle (45 deg
    when it has none). Every design's spectra come from one solver call, padded to MAX_LAYERS
    layers (or the next power of two) and GROUP designs (or the next power of two), so the
    compiled shapes are few. The same for a seed.
    """
    g = goals_mod.parse(goal_json, str(goal_json.get("name", "goal")))
    out: list[dict | None] = [None] * len(designs)
    valid: list[tuple[int, design_mod.Design]] = []
    for i, obj in enumerate(designs):
        try:
            d = design_mod.parse(obj, "design", g.inline_materials)
        except InputError:
            continue
        thick = [t for _, t in d.layers]
        lo, hi = g.thickness_nm
        widened = dataclasses.replace(g, thickness_nm=(min([lo, *thick]), max([hi, *thick])))
        if widened.violation(d) is None:
            valid.append((i, g.design(list(d.layers))))  # the goal's media, as its merit reads them
    grid = _hindsight_grid(g)
    if not valid or grid is None:
        return out
    oblique = max((t.angle_deg for t in g.targets), default=0.0)
    angles = (0.0, float(oblique) if oblique > 0 else 45.0)
    batch = [d for _, d in valid]
    batch += [batch[0]] * (max(GROUP, spectra.layer_bucket(len(batch))) - len(batch))  # few batch shapes
    longest = max(len(d.layers) for d in batch)
    R, T = _spectra(batch, grid, angles, max(MAX_LAYERS, spectra.layer_bucket(longest)))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x41D5])
    base = {k: v for k, v in goal_json.items() if k not in ("name", "targets", "provenance")}
    family = (goal_json.get("provenance") or {}).get("family")
    for b, (i, design) in enumerate(valid):
        targets = _targets_outside_ood(rng, {"R": R[b], "T": T[b]}, grid, angles)
        if targets is None:
            continue
        thick = [t for _, t in design.layers]
        lo, hi = g.thickness_nm
        out[i] = {**base, "name": f"hindsight-{g.name}-{i}",
                  "thickness_nm": [min([lo, *thick]), max([hi, *thick])], "targets": targets,
                  "provenance": {"source": "hindsight", "goal": g.name,
                                 **({"family": family} if family is not None else {})}}
    return out


def _hindsight_grid(g: goals_mod.Goal) -> np.ndarray | None:
    """POINTS evenly spaced wavelengths (rounded nodes) over the goal's targets, at least +-5 %
    around their centre, within every material's valid range; None if no such span is left."""
    wl = [w for t in g.targets for w in t.wavelength_nm]
    lo, hi = min(wl), max(wl)
    centre = math.sqrt(lo * hi)
    lo, hi = min(lo, 0.95 * centre), max(hi, 1.05 * centre)
    media = [g.incident, g.substrate, *g.materials, *([g.exit] if g.exit is not None else [])]
    lo = max([lo, *(m.valid_nm[0] for m in media)])
    hi = min([hi, *(m.valid_nm[1] for m in media)])
    start = math.ceil(lo * 10.0) / 10.0
    step = math.floor((hi - start) / (POINTS - 1) * 100.0) / 100.0
    return start + step * np.arange(POINTS) if step > 0 else None
