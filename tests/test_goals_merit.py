"""Goals: validation with clear errors, hard constraints, and the merit function as defined."""

from __future__ import annotations

import numpy as np
import pytest
import tmm

from domains.photonics import design, goals, materials, merit
from specialist.errors import InputError

GOAL = {"name": "g", "incident": "air", "substrate": "N-BK7", "materials": ["SiO2", "TiO2", {"name": "L", "n": 1.38}],
        "max_layers": 4, "thickness_nm": [5, 300], "max_total_thickness_nm": 500,
        "targets": [{"quantity": "R", "wavelength_nm": [450, 650], "points": 5, "relation": "<=", "value": 0.01, "tolerance": 0.002},
                    {"quantity": "T", "polarization": "p", "angle_deg": 30, "wavelength_nm": 550, "relation": ">=",
                     "value": 0.99, "tolerance": 0.005, "weight": 3.0},
                    {"quantity": "A", "wavelength_nm": [500, 600], "points": 3, "relation": "=", "value": [0.0, 0.01, 0.0],
                     "tolerance": 0.01, "weight": 0.5}]}


def _design(layers):
    return design.parse({"incident": "air", "substrate": "N-BK7",
                         "layers": [{"material": m, "thickness_nm": t} for m, t in layers]},
                        known={"L": materials.inline("L", 1.38)})


def _tmm_quantity(layers, target, wl):
    lib = materials.library()
    nk = [1.0] + [(1.38 if m == "L" else lib[m].nk(np.array([wl]))[0]) for m, _ in layers] + [lib["N-BK7"].nk(np.array([wl]))[0]]
    d = [np.inf] + [t for _, t in layers] + [np.inf]
    pols = ["s", "p"] if target.polarization == "avg" else [target.polarization]
    res = [tmm.coh_tmm(p, nk, d, np.radians(target.angle_deg), wl) for p in pols]
    R, T = np.mean([r["R"] for r in res]), np.mean([r["T"] for r in res])
    return {"R": R, "T": T, "A": 1 - R - T}[target.quantity]


def test_merit_matches_the_definition_computed_with_tmm():
    goal = goals.parse(GOAL, "g.json")
    layers = [("L", 95.0), ("TiO2", 40.0), ("SiO2", 20.0)]
    num = den = 0.0
    for t in goal.targets:
        for wl, v in zip(t.grid(), t.value):
            q = _tmm_quantity(layers, t, wl)
            viol = {"<=": max(0, q - v), ">=": max(0, v - q), "=": abs(q - v)}[t.relation]
            num += t.weight * (viol / t.tolerance) ** 2
            den += t.weight
    score = merit.Evaluator(goal).score([_design(layers)])[0]
    assert score["merit"] == pytest.approx(np.sqrt(num / den), rel=1e-9)
    assert score["solved"] == (score["merit"] <= 1.0)


def test_merit_gradient_matches_finite_differences():
    ev = merit.Evaluator(goals.parse(GOAL, "g.json"))
    mats, d = ev.encode([_design([("L", 95.0), ("TiO2", 40.0), ("SiO2", 20.0)])])
    value, grad = ev.value_and_grad(mats, d)
    for layer in range(3):
        step = np.zeros_like(d)
        step[0, layer] = 1e-4
        fd = (ev.merit(mats, d + step) - ev.merit(mats, d - step)) / 2e-4
        assert float(grad[0, layer]) == pytest.approx(float(fd[0]), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("layers, reason", [
    ([("TiO2", 2.0)], "outside [5, 300]"),
    ([("TiO2", 50.0)] * 5, "exceed max_layers = 4"),
    ([("TiO2", 290.0), ("SiO2", 290.0)], "exceeds max_total_thickness_nm = 500"),
    ([("Ag", 20.0)], "'Ag' is not among the goal's materials"),
])
def test_hard_constraints_reject_with_a_reason(layers, reason):
    goal = goals.parse(GOAL, "g.json")
    d = design.parse({"incident": "air", "substrate": "N-BK7",
                      "layers": [{"material": m, "thickness_nm": t} for m, t in layers]})
    assert reason in goal.violation(d)
    assert merit.Evaluator(goal).score([d])[0] == {"rejected": goal.violation(d)}


@pytest.mark.parametrize("patch, field", [
    ({"targets": []}, "targets"),
    ({"materials": ["SiO2", "Kryptonite"]}, "materials[1]"),
    ({"thickness_nm": [300, 5]}, "thickness_nm"),
    ({"solved_below": -1}, "solved_below"),
    ({"colour": "blue"}, "colour"),
    ({"targets": [{**GOAL["targets"][0], "quantity": "Q"}]}, "targets[0].quantity"),
    ({"targets": [{**GOAL["targets"][0], "polarization": "x"}]}, "targets[0].polarization"),
    ({"targets": [{**GOAL["targets"][0], "angle_deg": 95}]}, "targets[0].angle_deg"),
    ({"targets": [{**GOAL["targets"][0], "value": [0.1, 0.2]}]}, "targets[0].value"),
    ({"targets": [{**GOAL["targets"][0], "tolerance": 0}]}, "targets[0].tolerance"),
    ({"incident": {"name": "murk", "n": 1.0, "k": 0.1}}, "incident"),
])
def test_bad_goal_names_the_field(patch, field):
    with pytest.raises(InputError) as err:
        goals.parse({**GOAL, **patch}, "goal.json")
    assert err.value.field == field and str(err.value).startswith(f"goal.json: field '{field}'")


def test_goal_wavelengths_outside_material_range_name_the_goal():
    bad = {**GOAL, "targets": [{**GOAL["targets"][0], "wavelength_nm": [250, 650]}]}
    with pytest.raises(InputError, match="250 nm"):
        merit.Evaluator(goals.parse(bad, "goal.json"))


def test_padding_does_not_change_merit():
    goal = goals.parse(GOAL, "g.json")
    d = [_design([("L", 95.0), ("TiO2", 40.0)])]
    small, large = merit.Evaluator(goal, n_layers=4), merit.Evaluator(goal, n_layers=16)
    assert np.array_equal(small.merit(*small.encode(d)), large.merit(*large.encode(d)))
