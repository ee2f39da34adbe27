"""Exports (design.json, layers.csv, spectrum.csv) and the tolerance Monte Carlo of photonics,
each checked against an independent computation: quarter waves from the library's indices,
spectra from tmm, and perturbed copies rebuilt from the documented draws and scored by verify."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from domains.photonics import design as design_mod, materials
from domains.photonics.plugin import PhotonicsDomain
from specialist.errors import InputError

tmm = pytest.importorskip("tmm")

LIB = materials.library()
INLINE = {"H": 2.35, "L": 1.38}
GOAL = {"name": "exp", "incident": "air", "substrate": "N-BK7",
        "materials": ["SiO2", {"name": "H", "n": INLINE["H"]}, {"name": "L", "n": INLINE["L"]}],
        "max_layers": 8, "thickness_nm": [1, 1000],
        "targets": [{"quantity": "R", "wavelength_nm": [450, 650], "points": 21, "relation": "<=", "value": 0.02,
                     "tolerance": 0.01},
                    {"quantity": "T", "polarization": "p", "angle_deg": 45, "wavelength_nm": [500, 700],
                     "points": 11, "relation": ">=", "value": 0.95, "tolerance": 0.02},
                    {"quantity": "R", "polarization": "avg", "angle_deg": 30, "wavelength_nm": 600,
                     "relation": "<=", "value": 0.05, "tolerance": 0.01}],
        "solved_below": 2.0}
LAYERS = [("H", 60.0), ("SiO2", 95.5), ("L", 120.25), ("H", 30.0), ("SiO2", 80.0)]
REF_NM = math.sqrt(450 * 700)  # geometric centre of the targets' wavelengths


@pytest.fixture(scope="module")
def domain():
    return PhotonicsDomain()


def _design(layers, goal=GOAL):
    return {"incident": goal["incident"], "substrate": goal["substrate"],
            "layers": [{"material": m, "thickness_nm": d} for m, d in layers]}


def _n(name, wl, offsets=None):
    """Complex index of a goal material straight from the library (or its inline n)."""
    if name in INLINE:
        return complex(INLINE[name] + (offsets or {}).get(name, 0.0))
    return complex(LIB[name].nk(np.array([wl]))[0])


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_design_json_is_the_design_contract(domain):
    files = domain.export(GOAL, _design(LAYERS))
    written = json.loads(files["design.json"])
    assert written == design_mod.parse(_design(LAYERS), known={k: materials.inline(k, n) for k, n in INLINE.items()}
                                       ).to_json()
    assert domain.verify(GOAL, [written]) == domain.verify(GOAL, [_design(LAYERS)])


def test_layers_csv_holds_thickness_and_quarter_waves_at_the_reference(domain):
    rows = _rows(domain.export(GOAL, _design(LAYERS))["layers.csv"])
    assert list(rows[0]) == ["layer", "material", "thickness_nm", "optical_thickness_qw", "n_at_reference",
                             "reference_nm"]
    assert [(int(r["layer"]), r["material"]) for r in rows] == [(i + 1, m) for i, (m, _) in enumerate(LAYERS)]
    for r, (m, d) in zip(rows, LAYERS):
        n = _n(m, REF_NM).real
        assert float(r["thickness_nm"]) == pytest.approx(d, abs=1e-4)
        assert float(r["reference_nm"]) == pytest.approx(REF_NM, abs=1e-4)
        assert float(r["n_at_reference"]) == pytest.approx(n, abs=1e-6)
        assert float(r["optical_thickness_qw"]) == pytest.approx(n * d / (REF_NM / 4), abs=1e-6)


def test_a_quarter_wave_stack_at_the_reference_reads_one_quarter_wave_per_layer(domain):
    stack = [(m, REF_NM / (4 * _n(m, REF_NM).real)) for m in ("H", "SiO2", "L", "SiO2")]
    rows = _rows(domain.export(GOAL, _design(stack))["layers.csv"])
    assert [float(r["optical_thickness_qw"]) for r in rows] == [1.0] * 4


def _tmm_rt(layers, wl, angle, pols):
    n = [1.0] + [_n(m, wl) for m, _ in layers] + [_n("N-BK7", wl)]
    d = [np.inf] + [t for _, t in layers] + [np.inf]
    out = [tmm.coh_tmm(p, n, d, math.radians(angle), wl) for p in pols]
    return np.mean([o["R"] for o in out]), np.mean([o["T"] for o in out])


def test_spectrum_csv_matches_tmm_and_spans_the_targets(domain):
    rows = _rows(domain.export(GOAL, _design(LAYERS))["spectrum.csv"])
    assert list(rows[0]) == ["wavelength_nm", "R_0deg", "T_0deg", "R_30deg_avg", "T_30deg_avg", "R_45deg_p", "T_45deg_p"]
    wl = np.array([float(r["wavelength_nm"]) for r in rows])
    assert len(rows) == 401 and wl[0] == pytest.approx(450 * 0.9) and wl[-1] == pytest.approx(700 * 1.1)
    columns = {"0deg": (0, "s"), "30deg_avg": (30, "sp"), "45deg_p": (45, "p")}
    for i in (0, 97, 200, 333, 400):
        for name, (angle, pols) in columns.items():
            R, T = _tmm_rt(LAYERS, wl[i], angle, pols)
            assert float(rows[i][f"R_{name}"]) == pytest.approx(R, abs=1e-8)
            assert float(rows[i][f"T_{name}"]) == pytest.approx(T, abs=1e-8)
            assert float(rows[i][f"R_{name}"]) + float(rows[i][f"T_{name}"]) == pytest.approx(1.0, abs=1e-9)


def test_spectrum_is_clipped_to_where_the_materials_have_data(domain):
    goal = {**GOAL, "targets": [{"quantity": "R", "wavelength_nm": [320, 1600], "points": 5, "relation": "<=",
                                 "value": 0.1}]}
    wl = [float(r["wavelength_nm"]) for r in _rows(domain.export(goal, _design(LAYERS, goal))["spectrum.csv"])]
    assert wl[0] == pytest.approx(max(320 * 0.9, LIB["N-BK7"].valid_nm[0]))
    assert wl[-1] == pytest.approx(min(1600 * 1.1, LIB["N-BK7"].valid_nm[1]))


def test_tolerance_without_errors_is_the_nominal_merit(domain):
    report = domain.tolerance(GOAL, _design(LAYERS), thickness_pct=0.0, index_sigma=0.0, runs=16, seed=3)
    (verdict,) = domain.verify(GOAL, [_design(LAYERS)])
    assert report["merit"] == verdict["merit"]
    assert report["mean"] == pytest.approx(verdict["merit"], rel=1e-12) and report["std"] == pytest.approx(0, abs=1e-12)
    assert report["merits"] == pytest.approx([verdict["merit"]] * 16, rel=1e-12)
    assert report["solved_share"] == float(verdict["solved"])


def _made_copy(layers, thickness_pct, index_sigma, runs, seed, r, goal):
    """Run r's goal and design rebuilt from the rule stated in ``tolerance``'s docstring."""
    names = [m if isinstance(m, str) else m["name"] for m in goal["materials"]]
    z = np.random.default_rng([seed, r]).standard_normal(len(names) + len(layers))
    offsets = dict(zip(names, index_sigma * z[:len(names)]))
    mats = [{"name": m["name"], "n": m["n"] + offsets[m["name"]]} if isinstance(m, dict) else m
            for m in goal["materials"]]
    made = [(m, max(0.0, d * (1 + thickness_pct / 100 * z[len(names) + l]))) for l, (m, d) in enumerate(layers)]
    return {**goal, "materials": mats}, _design(made, goal)


@pytest.mark.parametrize("materials_, layers, sigma", [
    ([{"name": "H", "n": 2.35}, {"name": "L", "n": 1.38}], [("H", 60.0), ("L", 95.5), ("H", 120.25), ("L", 30.0)], 0.02),
    (["SiO2", "TiO2"], [("TiO2", 60.0), ("SiO2", 95.5), ("TiO2", 120.25)], 0.0)])
def test_each_run_is_the_documented_made_copy_as_verify_scores_it(domain, materials_, layers, sigma):
    goal = {**GOAL, "materials": materials_}
    report = domain.tolerance(goal, _design(layers, goal), thickness_pct=2.0, index_sigma=sigma, runs=16, seed=5)
    assert len(report["merits"]) == 16 and report["std"] > 0
    for r in (0, 7, 15):
        made_goal, made = _made_copy(layers, 2.0, sigma, 16, 5, r, goal)
        (verdict,) = domain.verify(made_goal, [made])
        assert report["merits"][r] == pytest.approx(verdict["merit"], rel=1e-9)


def test_tolerance_is_seeded_and_summarises_its_runs(domain):
    report = domain.tolerance(GOAL, _design(LAYERS), thickness_pct=3.0, index_sigma=0.03, runs=16, seed=1)
    assert report == domain.tolerance(GOAL, _design(LAYERS), thickness_pct=3.0, index_sigma=0.03, runs=16, seed=1)
    assert report["merits"] != domain.tolerance(GOAL, _design(LAYERS), 3.0, 0.03, 16, seed=2)["merits"]
    merits = np.array(report["merits"])
    assert report["mean"] == pytest.approx(merits.mean()) and report["median"] == pytest.approx(np.median(merits))
    assert report["p90"] == pytest.approx(np.percentile(merits, 90))
    assert 0 <= report["solved_share"] <= 1 and report["solved_share"] == np.mean(merits <= GOAL["solved_below"])
    assert {k: report[k] for k in ("runs", "thickness_pct", "index_sigma", "seed")} == \
        {"runs": 16, "thickness_pct": 3.0, "index_sigma": 0.03, "seed": 1}
    fewer = domain.tolerance(GOAL, _design(LAYERS), thickness_pct=3.0, index_sigma=0.03, runs=5, seed=1)
    assert fewer["merits"] == pytest.approx(report["merits"][:5], rel=1e-12)  # a run's draws do not depend on runs


@pytest.mark.parametrize("kwargs, name", [({"thickness_pct": -1.0}, "thickness_pct"),
                                          ({"index_sigma": -0.01}, "index_sigma"),
                                          ({"index_sigma": float("nan")}, "index_sigma"),
                                          ({"runs": 0}, "runs"), ({"runs": 2.5}, "runs"), ({"seed": -1}, "seed")])
def test_bad_arguments_are_named(domain, kwargs, name):
    with pytest.raises(InputError, match=rf"^{name}: is .*; allowed: "):
        domain.tolerance(GOAL, _design(LAYERS), **kwargs)


def test_a_design_breaking_the_goal_is_refused_with_the_reason(domain):
    with pytest.raises(InputError, match="max_layers = 8"):
        domain.tolerance(GOAL, _design(LAYERS * 2))


# --- a goal asking for robustness ---------------------------------------------------------------

ROBUST = {"thickness_pct": 2.0, "index_sigma": 0.02, "runs": 8, "seed": 4}


def test_a_robust_goals_merit_is_the_mean_of_its_made_copies_as_verify_scores_them(domain):
    plain = {**GOAL, "materials": [{"name": "H", "n": INLINE["H"]}, {"name": "L", "n": INLINE["L"]}]}
    layers = [("H", 60.0), ("L", 95.5), ("H", 120.25), ("L", 30.0)]  # inline films: the rebuild shifts them
    (robust,) = domain.verify({**plain, "robustness": ROBUST}, [_design(layers)])
    copies = []
    for r in range(ROBUST["runs"]):
        made_goal, made = _made_copy(layers, 2.0, 0.02, 8, 4, r, plain)
        copies.append(domain.verify(made_goal, [made])[0]["merit"])
    assert robust["merit"] == pytest.approx(np.mean(copies), rel=1e-9) and np.std(copies) > 0
    report = domain.tolerance(plain, _design(layers), 2.0, 0.02, runs=8, seed=4)  # the same errors
    assert report["mean"] == pytest.approx(robust["merit"], rel=1e-9)
    # the tolerance of a design for a robust goal starts from the merit as designed
    assert domain.tolerance({**plain, "robustness": ROBUST}, _design(layers), 2.0, 0.02, 8, 4)["merit"] == \
        domain.verify(plain, [_design(layers)])[0]["merit"]


def test_a_robust_goal_without_errors_scores_as_the_plain_goal(domain):
    goal = {**GOAL, "robustness": {"thickness_pct": 0, "index_sigma": 0, "runs": 4}}
    designs = [_design(LAYERS), _design(LAYERS[:3])]
    assert [v["merit"] for v in domain.verify(goal, designs)] == pytest.approx(
        [v["merit"] for v in domain.verify(GOAL, designs)], rel=1e-12)


def test_the_robust_merits_gradient_matches_finite_differences(domain):
    from domains.photonics import goals as goals_mod, merit

    ev = merit.Evaluator(goals_mod.parse({**GOAL, "robustness": ROBUST}))
    mats, d = ev.encode([design_mod.parse(_design(LAYERS), "d", ev.goal.inline_materials)])
    value, grad = ev.value_and_grad(mats, d)
    for l in (0, 2, 4):
        step = np.zeros_like(d)
        step[0, l] = 1e-4
        fd = (float(ev.merit(mats, d + step)[0]) - float(ev.merit(mats, d - step)[0])) / 2e-4
        assert float(grad[0, l]) == pytest.approx(fd, rel=1e-5, abs=1e-8)
    assert float(value[0]) == pytest.approx(float(ev.merit(mats, d)[0]), rel=1e-12)


@pytest.mark.parametrize("robustness, field", [({"runs": 1}, "robustness.runs"), ({"thickness_pct": -1},
                         "robustness.thickness_pct"), ({"spread": 1}, "robustness.spread"), (3, "robustness")])
def test_bad_robustness_is_named(domain, robustness, field):
    with pytest.raises(InputError, match=f"field '{field}'"):
        domain.verify({**GOAL, "robustness": robustness}, [_design(LAYERS)])


# --- per-layer sensitivity ----------------------------------------------------------------------

def _tmm_merit(layers, goal=GOAL):
    """The GUIDE's merit of a design, every target point solved by tmm (an independent oracle)."""
    terms = []
    for t in goal["targets"]:
        lo, hi = (t["wavelength_nm"], t["wavelength_nm"]) if np.isscalar(t["wavelength_nm"]) else t["wavelength_nm"]
        angle, pol = t.get("angle_deg", 0), t.get("polarization", "avg")
        pols = "s" if angle == 0 else ("sp" if pol == "avg" else pol)
        for wl in np.linspace(lo, hi, t.get("points", 1)):
            R, T = _tmm_rt(layers, wl, angle, pols)
            q = {"R": R, "T": T, "A": 1 - R - T}[t["quantity"]]
            v = {"<=": max(0.0, q - t["value"]), ">=": max(0.0, t["value"] - q), "=": abs(q - t["value"])}
            terms.append((t.get("weight", 1.0), v[t["relation"]] / t.get("tolerance", 0.01)))
    w, v = np.array(terms).T
    return math.sqrt(np.sum(w * v * v) / np.sum(w))


def _changed(layers, l, d):
    return [(m, d if i == l else t) for i, (m, t) in enumerate(layers)]


def test_sensitivity_gradient_is_the_finite_difference_of_an_independent_merit(domain):
    rows = domain.tolerance(GOAL, _design(LAYERS), runs=4)["sensitivity"]
    assert [(r["layer"], r["material"], r["thickness_nm"]) for r in rows] == \
        [(i + 1, m, d) for i, (m, d) in enumerate(LAYERS)]
    h = 1e-3  # nm: centred differences, error ~ h^2 merit''' (tiny) + roundoff 1e-16 / h
    for l, (_, d) in enumerate(LAYERS):
        fd = (_tmm_merit(_changed(LAYERS, l, d + h)) - _tmm_merit(_changed(LAYERS, l, d - h))) / (2 * h)
        assert rows[l]["dmerit_dnm"] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert max(abs(r["dmerit_dnm"]) for r in rows) > 1e-3  # the check compares numbers that matter


def test_sensitivity_plus_minus_one_percent_are_the_perturbed_designs_merits(domain):
    report = domain.tolerance(GOAL, _design(LAYERS), runs=4)
    nominal = _tmm_merit(LAYERS)
    assert report["merit"] == pytest.approx(nominal, rel=1e-9)
    moved = {}
    for l, (_, d) in enumerate(LAYERS):
        plus, minus = _tmm_merit(_changed(LAYERS, l, 1.01 * d)), _tmm_merit(_changed(LAYERS, l, 0.99 * d))
        assert report["sensitivity"][l]["merit_plus_1pct"] == pytest.approx(plus, rel=1e-9)
        assert report["sensitivity"][l]["merit_minus_1pct"] == pytest.approx(minus, rel=1e-9)
        moved[l + 1] = max(abs(plus - nominal), abs(minus - nominal))
    assert report["most_sensitive_layers"] == sorted(moved, key=lambda k: -moved[k])[:3]


def test_sensitivity_of_a_robust_goal_is_of_its_merit_as_verify_scores_it(domain):
    goal = {**GOAL, "materials": [{"name": "H", "n": INLINE["H"]}, {"name": "L", "n": INLINE["L"]}],
            "robustness": ROBUST}
    layers = [("H", 60.0), ("L", 95.5), ("H", 120.25), ("L", 30.0)]
    rows = domain.tolerance(goal, _design(layers), runs=4)["sensitivity"]
    h = 1e-3
    for l, (_, d) in enumerate(layers):
        plus, minus, up, down = (domain.verify(goal, [_design(_changed(layers, l, x))])[0]["merit"]
                                 for x in (d + h, d - h, 1.01 * d, 0.99 * d))
        assert rows[l]["dmerit_dnm"] == pytest.approx((plus - minus) / (2 * h), rel=1e-5, abs=1e-9)
        assert (rows[l]["merit_plus_1pct"], rows[l]["merit_minus_1pct"]) == pytest.approx((up, down), rel=1e-9)


def test_tolerance_command_prints_the_sensitivity_table(tmp_path, capsys):
    from specialist.cli import main

    goal, design = tmp_path / "g.json", tmp_path / "d.json"
    goal.write_text(json.dumps(GOAL))
    design.write_text(json.dumps(_design(LAYERS)))
    assert main(["tolerance", str(goal), str(design), "--runs", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [set(r) for r in report["sensitivity"]] == [{"layer", "material", "thickness_nm", "dmerit_dnm",
                                                         "merit_plus_1pct", "merit_minus_1pct"}] * len(LAYERS)
    assert len(report["most_sensitive_layers"]) == 3
    assert main(["tolerance", str(goal), str(design), "--runs", "4"]) == 0
    out = capsys.readouterr().out
    assert "per-layer sensitivity" in out and "dmerit/dnm" in out
    first = report["most_sensitive_layers"][0]
    assert any(line.split("│")[1].strip() == str(first) and "* 1" in line for line in out.splitlines() if "│" in line)


def test_a_design_meeting_every_target_has_zero_gradient_not_nan(tmp_path, capsys):
    """The merit is sqrt of a mean that is 0 where no point violates: the gradient there is 0."""
    from specialist.cli import main

    goal = {**GOAL, "targets": [{**t, "value": 1.0, "relation": "<="} for t in GOAL["targets"] if t["quantity"] == "R"]}
    files = {"g.json": goal, "d.json": _design(LAYERS)}
    for name, doc in files.items():
        (tmp_path / name).write_text(json.dumps(doc))
    args = [str(tmp_path / "g.json"), str(tmp_path / "d.json"), "--runs", "8"]
    assert main(["tolerance", *args, "--json", "--csv", str(tmp_path / "s.csv"), "--plot", str(tmp_path / "t.png")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["merit"] == 0.0 and report["solved_share"] == 1.0
    assert [r["dmerit_dnm"] for r in report["sensitivity"]] == [0.0] * len(LAYERS)
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "layer,material,thickness_nm,dmerit_dnm,merit_plus_1pct,merit_minus_1pct"
    assert len(rows) == 1 + len(LAYERS) and "nan" not in "".join(rows)
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
