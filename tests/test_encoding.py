"""The photonics representation: tokens in quarter waves at the goal's reference wavelength,
conditioning relative to it, every wavelength range the library covers, 64-layer designs."""

import numpy as np
import pytest

from domains.photonics import encoding, families, synthetic
from domains.photonics.plugin import PhotonicsDomain
from specialist.domain import END, goal_hash

DOMAIN = PhotonicsDomain()


def _goal(lo, hi, materials=("TiO2", "SiO2"), max_layers=10, relation="<=", value=0.01, angle=0.0,
          thickness=(5.0, 500.0), **extra):
    return {"name": f"g{lo}-{hi}", "domain": "photonics", "incident": "air", "substrate": "SiO2",
            "materials": list(materials), "max_layers": max_layers, "thickness_nm": list(thickness),
            "max_total_thickness_nm": None, "solved_below": 1.0,
            "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": angle, "wavelength_nm": [lo, hi],
                         "points": 31, "relation": relation, "value": value, "tolerance": 0.002, "weight": 1.0}],
            **extra}


@pytest.mark.parametrize("lo,hi", [(1040, 1090), (1500, 1600), (300, 360), (400, 700)])
def test_goals_across_the_library_range_are_encodable_and_quarter_waves_decode_to_quarter_waves(lo, hi):
    goal = _goal(lo, hi)
    cond, _ = DOMAIN.encode(goal)
    assert cond.shape == (DOMAIN.spec.cond_dim,) and np.all(np.isfinite(cond))
    ref = np.sqrt(lo * hi)
    qw_bin = encoding.BIN0 + encoding.BINS_PER_QW  # bin [1, 1 + 1/64) quarter waves
    design = DOMAIN.decode(goal, [encoding.MAT0, qw_bin, encoding.MAT0 + 1, qw_bin, END])
    from domains.photonics import materials
    for layer, name in zip(design["layers"], ("TiO2", "SiO2")):
        n = abs(materials.library()[name].nk(np.array([ref]))[0])
        quarter = ref / (4 * n)
        assert quarter <= layer["thickness_nm"] <= quarter * (1 + 1 / 64) + 0.01


def test_a_goal_and_its_copy_at_twice_the_wavelength_read_alike_with_inline_materials():
    mats = [{"name": "H", "n": 2.3}, {"name": "L", "n": 1.45}]
    a, b = _goal(500, 600, mats), _goal(1000, 1200, mats, thickness=(10.0, 1000.0))
    ca, cb = DOMAIN.encode(a)[0], DOMAIN.encode(b)[0]
    spectral = len(encoding._SLOTS) * encoding._CHANNELS * encoding.GRID_POINTS
    assert np.allclose(ca[:spectral], cb[:spectral]) and not np.allclose(ca, cb)  # only log(ref) tells
    tokens = [encoding.MAT0, encoding.BIN0 + 70, encoding.MAT0 + 1, encoding.BIN0 + 40, END]
    la, lb = DOMAIN.decode(a, tokens)["layers"], DOMAIN.decode(b, tokens)["layers"]
    assert [round(2 * x["thickness_nm"], 1) for x in la] == [round(x["thickness_nm"], 1) for x in lb]


def test_the_full_goal_reaches_the_conditioning():
    base = DOMAIN.encode(_goal(500, 600))[0]
    variants = [_goal(500, 600, angle=45.0), _goal(500, 600, max_total_thickness_nm=800.0),
                _goal(500, 600, relation=">=", value=0.9), _goal(500, 600, max_layers=40),
                {**_goal(500, 600), "solved_below": 0.5}]
    t = _goal(500, 600)
    variants += [{**t, "targets": [{**t["targets"][0], "tolerance": 0.02}]},
                 {**t, "targets": [{**t["targets"][0], "polarization": "s", "angle_deg": 20.0}]},
                 {**t, "targets": [t["targets"][0], {**t["targets"][0], "weight": 3.0, "quantity": "T",
                                                      "relation": ">=", "value": 0.5}]}]
    for v in variants:
        assert not np.allclose(DOMAIN.encode(v)[0], base), v


def test_designs_of_64_layers_round_trip_and_respect_the_total_thickness_cap():
    goal = _goal(500, 700, max_layers=64)
    layers = [{"material": "TiO2" if i % 2 else "SiO2", "thickness_nm": 60.0 + i} for i in range(64)]
    design = {"incident": "air", "substrate": "SiO2", "layers": layers}
    _, tokens = DOMAIN.encode(goal, design)
    assert len(tokens) == 129 == DOMAIN.spec.max_tokens
    back = DOMAIN.decode(goal, tokens)
    assert len(back["layers"]) == 64
    assert all(abs(a["thickness_nm"] - b["thickness_nm"]) < 1.2 for a, b in zip(back["layers"], layers))
    capped = {**goal, "max_total_thickness_nm": 2000.0}
    thin = DOMAIN.decode(capped, tokens)
    assert sum(x["thickness_nm"] for x in thin["layers"]) <= 2000.0
    assert "merit" in DOMAIN.verify(capped, [thin])[0]


def test_synthetic_pairs_span_uv_to_near_infrared_and_leave_the_ood_band_out():
    refs = []
    for seed in range(40):
        for goal, design in DOMAIN.synthetic(seed * 7919, 16):
            wl = [w for t in goal["targets"] for w in np.atleast_1d(t["wavelength_nm"])]
            refs.append(np.sqrt(min(wl) * max(wl)))
            assert len(design["layers"]) <= goal["max_layers"] <= 64
    refs = np.array(refs)
    assert refs.min() < 400 and refs.max() > 1600
    lo, hi = synthetic.OOD_NM
    assert not np.any((refs >= lo) & (refs <= hi))


def test_generated_goals_move_across_the_spectrum_and_stay_valid():
    goals = families.endless(0, 52)
    moved = [g for g in goals if "rescaled" in g["provenance"]]
    assert 10 <= len(moved) <= 40
    assert len({goal_hash(g) for g in goals}) == 52
    for g in moved[:8]:
        wl = [w for t in g["targets"] for w in np.atleast_1d(t["wavelength_nm"])]
        ref = np.sqrt(min(wl) * max(wl))
        assert not synthetic.OOD_NM[0] <= ref <= synthetic.OOD_NM[1]
        found = DOMAIN.optimize(g, "gradient", 30)
        assert found["design"] is not None and np.isfinite(found["merit"])


def test_the_held_out_goals_are_unchanged_by_the_generator():
    import hashlib
    import json
    _, heldout = families.split()
    digest = hashlib.sha256(json.dumps(heldout, sort_keys=True).encode()).hexdigest()[:16]
    assert digest == "01ab46c6072c9a4c"
