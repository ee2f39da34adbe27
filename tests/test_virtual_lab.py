"""The lab's loop with measurements, against a virtual lab whose coater has a hidden error.

The coater deposits TiO2 with its real index 0.05 above the library's and, in run "run-A", every
layer 4 % thin; SiO2 comes out as the library says. The lab submits a goal made in run-A (a
narrow antireflection coating at 520-580 nm). Round 1 designs it for the nominal coater; the lab
makes that design and two single-film witnesses in run-A and measures R and T (400-900 nm, noise
σ = 0.001); the calibration fitted on those results recovers the hidden error; the goal's designs
are judged again under it; round 2 redesigns for the calibrated coater; and the redesign, made by
the same coater, meets the goal better than the first design did.

"Measured merit" below is the goal's merit formula (GUIDE §2) evaluated in this file on the
coating as the hidden coater makes it (``calibration.apply`` with the hidden error, then
``spectra.simulate``), noise-free; the domain's own scoring is only compared with it.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from domains.photonics import calibration, design as design_mod, spectra
from domains.photonics.plugin import PhotonicsDomain
from experiments import measurements
from experiments.worker import Experiments
from feeds import labgoals
from feeds.lab import LabFeed
from feeds.labgoals import LabGoals
from feeds.worker import FeedWorker
from specialist.core import Proposals
from specialist.store import Store

DOMAIN = PhotonicsDomain()
RUN = "run-A"
HIDDEN = {"delta_n": {"TiO2": 0.05}, "thickness_scale": {RUN: 0.96}}  # the coater's truth; SiO2 is exact
SIGMA = 0.001  # measurement noise (fraction), Gaussian
WAVELENGTHS = np.linspace(400.0, 900.0, 101)
REFINE_BUDGET = 400
GOAL = {"name": "vcoat550", "domain": "photonics", "incident": "air", "substrate": "N-BK7",
        "materials": ["SiO2", "TiO2"], "max_layers": 6, "thickness_nm": [5, 500], "process": RUN,
        "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": [520, 580],
                     "points": 13, "relation": "<=", "value": 0.001, "tolerance": 0.001, "weight": 1.0}],
        "solved_below": 1.0}
# Witness samples: one thick film of each material, coated in the same run, so that each film's
# index (fringe contrast) and the run's thickness scale (fringe positions) are told apart.
WITNESSES = {"witness-TiO2": ("TiO2", 220.0), "witness-SiO2": ("SiO2", 320.0)}


def made(design: dict) -> design_mod.Design:
    """The design as the hidden coater makes it in run-A."""
    return calibration.apply(design_mod.parse(design), HIDDEN, RUN)


def measured_merit(goal: dict, design: dict) -> float:
    """The goal's merit (GUIDE §2) of the coating as made, computed here from its spectrum."""
    num = den = 0.0
    for t in goal["targets"]:
        grid = np.linspace(*t["wavelength_nm"], t["points"])
        q = spectra.simulate([made(design)], grid, [t["angle_deg"]], t["polarization"])[t["quantity"]][0, 0]
        excess = q - t["value"]
        violation = {"<=": np.maximum(excess, 0), ">=": np.maximum(-excess, 0), "=": np.abs(excess)}[t["relation"]]
        num += t["weight"] * float(np.sum((violation / t["tolerance"]) ** 2))
        den += t["weight"] * t["points"]
    return float(np.sqrt(num / den))


def measure(folder, stem: str, design: dict, rng: np.random.Generator, **links) -> None:
    """Make ``design`` in run-A, measure R and T at normal incidence and drop the result pair."""
    truth = spectra.simulate([made(design)], WAVELENGTHS)
    R, T = (np.clip(truth[q][0, 0] + rng.normal(0.0, SIGMA, WAVELENGTHS.size), 0.0, 1.0) for q in ("R", "T"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{w:.2f},{r:.6f},{t:.6f}\n" for w, r, t in zip(WAVELENGTHS, R, T))
    (folder / f"{stem}.csv").write_text("wavelength_nm,R,T\n" + rows)
    sidecar = {"design": design, "sample_id": stem, "run": RUN, "polarization": "avg", "angle_deg": 0, **links}
    (folder / f"{stem}.json").write_text(json.dumps(sidecar))


def one_round(store: Store, round_: int):
    """A round of the lab goal alone, started from the domain's own starts (no model)."""
    tasks = labgoals.active(store)
    proposals = Proposals(round=round_, version=0, tasks=tasks,
                          designs=[DOMAIN.starts(t.goal, 2) for t in tasks])
    return Experiments(DOMAIN, store, refine_budget=REFINE_BUDGET, refine_top=2).check(proposals)


def verdicts(store: Store, goal_hash: str) -> dict[str, tuple]:
    """hypothesis key -> (origin, merit, detail JSON) of every verdict of the goal."""
    return {r["key"]: (r["origin"], r["merit"], r["detail"]) for r in store.query(
        "SELECT h.key, h.origin, v.merit, v.detail FROM hypotheses h JOIN verdicts v "
        "ON v.hypothesis_key = h.key WHERE h.goal_hash = ?", (goal_hash,))}


def test_calibrated_redesign_beats_the_nominal_design_as_made(tmp_path, metrics):
    start = time.perf_counter()
    store = Store(tmp_path / "store.sqlite")
    report = LabGoals(store, DOMAIN, seed=0).submit([("vcoat550.json", GOAL)], by="lab")
    assert report["submitted"] == 1, report
    goal_hash = report["goals"][0]["hash"]

    # Round 1: no calibration yet, so the goal is designed for the nominal coater.
    one_round(store, 1)
    first_verdicts = verdicts(store, goal_hash)
    assert first_verdicts and all("calibration" not in json.loads(d) for _, _, d in first_verdicts.values())
    row = labgoals.designs(store, GOAL["name"])[0]
    assert row["calibration"] is None
    first, first_predicted = row["best"]["design"], row["best"]["merit"]

    # The lab makes it and two witnesses in run-A, measures them, and drops the results.
    rng = np.random.default_rng(20240607)
    drop = tmp_path / "drop"
    measure(drop, "vcoat550-1", first, rng, lab_goal=GOAL["name"], hypothesis=row["best"]["hypothesis"])
    for stem, (film, nm) in WITNESSES.items():
        measure(drop, stem, {"incident": "air", "substrate": "N-BK7",
                             "layers": [{"material": film, "thickness_nm": nm}]}, rng)
    feed = LabFeed(drop, DOMAIN.read_result, measurements.Judge(store, DOMAIN), settle_s=0, partner_wait_s=0)
    assert FeedWorker(store, [feed]).poll().new == {"lab": 3}
    results = list(store.rows("results"))
    ours = [r for r in results if r["measurement"].get("lab_goal") == GOAL["name"]]
    assert len(ours) == 1 and ours[0]["measurement"]["hypothesis"] == row["best"]["hypothesis"]
    assert ours[0]["measurement"]["run"] == RUN and ours[0]["verdict"]["calibration"] is None

    cal = measurements.calibrate(store, DOMAIN, steps=60)
    assert cal["version"] == 1 and cal["measurements"] == 3
    assert cal["results"] == sorted(r["sha256"] for r in results)
    assert store.get("calibrations", 1)["body"]["results"] == cal["results"]
    # Recovered within 4 Gauss-Newton standard errors (σ²(JᵀJ)⁻¹, σ from the residuals; over 3
    # parameters a 4σ miss by chance has odds of about 1 in 5000), each of which must itself be
    # small next to the error it measures: below 0.001, 2 % of the TiO2 offset and 2.5 % of the
    # run's 4 % thickness error.
    se = cal["stderr"]
    for what, got, want, err in (("dn TiO2", cal["delta_n"]["TiO2"], 0.05, se["delta_n"]["TiO2"]),
                                 ("dn SiO2", cal["delta_n"]["SiO2"], 0.0, se["delta_n"]["SiO2"]),
                                 (f"scale {RUN}", cal["thickness_scale"][RUN], 0.96, se["thickness_scale"][RUN])):
        assert err < 1e-3 and abs(got - want) <= 4 * err, (what, got, want, err)
    assert cal["rms_after"] == pytest.approx(SIGMA, rel=0.2) and cal["rms_before"] > 5 * cal["rms_after"]

    # The goal's designs judged again under the calibration; round 1's verdicts stay as they were.
    assert measurements.recompute(store, DOMAIN, cal)["goals"] == 1
    after = verdicts(store, goal_hash)
    assert {k: after[k] for k in first_verdicts} == first_verdicts
    again = {k: v for k, v in after.items() if k not in first_verdicts}
    assert again and all(o == "recalibrated" and json.loads(d)["calibration"] == 1 for o, _, d in again.values())
    row = labgoals.designs(store, GOAL["name"])[0]
    assert row["calibration"] == 1 and row["best"]["origin"] == "recalibrated"
    assert row["best"]["merit"] > 2 * first_predicted  # the calibration says the coater spoils it

    # Round 2: designed and refined for the calibrated coater.
    one_round(store, 2)
    second_verdicts = {k: v for k, v in verdicts(store, goal_hash).items() if k.startswith("2:")}
    assert second_verdicts and all(json.loads(d)["calibration"] == 1 for _, _, d in second_verdicts.values())
    row = labgoals.designs(store, GOAL["name"])[0]
    assert row["calibration"] == 1 and row["best"]["round"] == 2
    redesign, redesign_predicted = row["best"]["design"], row["best"]["merit"]

    # Both made by the hidden coater and checked against the original goal.
    merit_first, merit_redesign = measured_merit(GOAL, first), measured_merit(GOAL, redesign)
    hidden_goal = {**GOAL, "calibration": {"version": 0, "delta_n": HIDDEN["delta_n"], "thickness_scale": 0.96}}
    assert [v["merit"] for v in DOMAIN.verify(hidden_goal, [first, redesign])] == pytest.approx(
        [merit_first, merit_redesign], rel=1e-6)  # the domain's made-coater scoring is the same physics
    print(f"\nmeasured merit as made: first design {merit_first:.3f} (designed for {first_predicted:.3f}), "
          f"redesign {merit_redesign:.3f} (predicted {redesign_predicted:.3f}); recovered "
          f"dn(TiO2) {cal['delta_n']['TiO2']:+.4f}, dn(SiO2) {cal['delta_n']['SiO2']:+.4f}, "
          f"scale({RUN}) {cal['thickness_scale'][RUN]:.4f}; {time.perf_counter() - start:.1f} s")
    metrics["virtual lab measured merit, first -> redesign"] = f"{merit_first:.3f} -> {merit_redesign:.3f}"
    assert merit_first > 2 * first_predicted  # the hidden error matters for this goal
    assert merit_redesign < 0.5 * merit_first  # the point of the loop
    # The calibrated simulator foretells the made coating: the fitted error is the hidden one.
    assert redesign_predicted == pytest.approx(merit_redesign, rel=0.1, abs=0.05)
