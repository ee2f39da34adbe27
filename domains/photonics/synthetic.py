"""Simulator-made training pairs for the "spectrum" phase: random designs and goals they meet.

Each pair is (goal JSON, design JSON). The design is drawn at random (1 to 30 layers of 2-4
materials, from three generators: free thicknesses, jittered quarter-wave stacks, thin
antireflection-like stacks); its exact spectrum is computed in one batched solver call, and the
goal is written in hindsight from that spectrum, so the design meets it (merit 0):
- an '=' curve of R or T over a window, sometimes with a second view at an oblique angle;
- or one to three bands with a '<=' bound (where the quantity is low) or a '>=' bound (where it
  is high) just beyond the design's own extreme, as the families' coatings ask.
Different designs can meet one goal, so the model learns a distribution, not one answer per
spectrum. Targets sit on nodes of a fixed grid, so their values are exact.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from domains.photonics import design as design_mod, families, materials, spectra

_GRID = np.linspace(400.0, 1000.0, 64)
_ANGLES = (0.0, 45.0)
_MAX_LAYERS = 30


def pairs(seed: int, count: int) -> list[tuple[dict, dict]]:
    """``count`` (goal, design) pairs, fully determined by ``seed``."""
    rng = np.random.default_rng([int(seed), 0x5EC7])
    stacks = [_stack(rng) for _ in range(count)]
    designs = [design_mod.parse(d, "synthetic") for _, d in stacks]
    packed = spectra.pack(designs, _GRID, n_layers=32)
    # Inline materials make the table's length vary; padding it keeps the compiled shapes few.
    rows = max(64, 1 << (len(packed.nk_MxW) - 1).bit_length())
    nk = np.concatenate([packed.nk_MxW, np.ones((rows - len(packed.nk_MxW), len(_GRID)), complex)])
    packed = dataclasses.replace(packed, nk_MxW=nk)
    R, T = spectra.run(packed, _GRID, _ANGLES, ("s", "p"))  # B x A x 2 x W
    out = []
    for b, (mats, design) in enumerate(stacks):
        targets = _targets(rng, {"R": R[b], "T": T[b]})
        goal = {"name": f"synthetic-{seed}-{b}", "domain": "photonics", "incident": "air",
                "substrate": design["substrate"], "materials": mats,
                "max_layers": min(_MAX_LAYERS, len(design["layers"]) + int(rng.integers(0, 7))),
                "thickness_nm": [5.0, 500.0], "max_total_thickness_nm": None, "targets": targets,
                "solved_below": 1.0}
        out.append((goal, design))
    return out


def _stack(rng: np.random.Generator) -> tuple[list, dict]:
    """(materials, design JSON) from one of three generators."""
    mats = families._materials(rng, int(rng.integers(2, 5)), contrast=bool(rng.random() < 0.6))
    kind = rng.random()
    if kind < 0.4:  # free: any materials, thicknesses anywhere in 20-300 nm
        n = int(rng.integers(1, _MAX_LAYERS + 1))
        order = _alternating(rng, len(mats), n)
        thick = rng.uniform(20.0, 300.0, n)
    elif kind < 0.8:  # a quarter-wave stack of the first two materials, jittered
        n = int(rng.integers(3, _MAX_LAYERS + 1))
        order = np.arange(n) % 2 if rng.random() < 0.5 else 1 - np.arange(n) % 2
        ref = rng.uniform(420.0, 980.0)
        index = np.array([_index(mats[m], ref) for m in order])
        thick = ref / (4 * index) * rng.uniform(1 - rng.uniform(0, 0.25), 1 + rng.uniform(0, 0.25), n)
        thick = np.where(rng.random(n) < 0.15, 2 * thick, thick)  # a few half-wave spacers
    else:  # antireflection-like: few thin layers
        n = int(rng.integers(1, 9))
        order = _alternating(rng, len(mats), n)
        thick = rng.uniform(10.0, 160.0, n)
    layers = [{"material": mats[m], "thickness_nm": round(float(np.clip(t, 5.0, 500.0)), 2)}
              for m, t in zip(order, thick)]
    return mats, {"incident": "air", "substrate": families._substrate(rng), "layers": layers}


def _alternating(rng: np.random.Generator, n_mat: int, n: int) -> np.ndarray:
    """``n`` material indices with no two neighbours alike."""
    order = [int(rng.integers(n_mat))]
    for _ in range(n - 1):
        order.append((order[-1] + int(rng.integers(1, n_mat))) % n_mat)
    return np.array(order)


def _index(spec, wl: float) -> float:
    return float(materials.parse(spec, "synthetic", "materials").nk(np.array([wl]))[0].real)


def _targets(rng: np.random.Generator, spectra_: dict) -> list[dict]:
    """Targets the design's spectra (each A x 2 x W) meet."""
    if rng.random() < 0.4:
        i, j = _window(rng, 16)
        out = [_target(rng, spectra_, "R" if rng.random() < 0.7 else "T", i, j, "=", 0.02, angle=0)]
        if rng.random() < 0.3:
            out.append(_target(rng, spectra_, str(rng.choice(["R", "T"])), i, j, "=", 0.02, angle=1))
        return out
    out, edges = [], np.sort(rng.choice(np.arange(1, len(_GRID)), size=5, replace=False))
    angle = 1 if rng.random() < 0.2 else 0
    for k in range(int(rng.integers(1, 4))):
        i, j = int(edges[k]), int(edges[k + 1]) - 1
        i, j = (i, i) if rng.random() < 0.15 or j < i else (i, j)
        q = str(rng.choice(["R", "T"]))
        tol = float(rng.choice([0.002, 0.005, 0.01, 0.02, 0.03]))
        out.append(_target(rng, spectra_, q, i, j, None, tol, angle))
    return out


def _window(rng: np.random.Generator, shortest: int) -> tuple[int, int]:
    i = int(rng.integers(0, len(_GRID) - shortest))
    return i, int(rng.integers(i + shortest - 1, len(_GRID)))


def _target(rng, spectra_, quantity: str, i: int, j: int, relation, tol: float, angle: int) -> dict:
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
        value = [round(float(v), 6) for v in values] if j > i else round(float(values[0]), 6)
    lo, hi = float(_GRID[i]), float(_GRID[j])
    return {"quantity": quantity, "polarization": pol, "angle_deg": _ANGLES[angle],
            "wavelength_nm": lo if i == j else [lo, hi], "points": j - i + 1, "relation": relation,
            "value": value, "tolerance": tol, "weight": 1.0}
