"""`specialist propose --method/--seed/--plot`, `bench --out DIR`, and `daemon.skip_families`
checked against the domain's families. Merits are recomputed with the `tmm` package (an
independent transfer-matrix code) from the designs the commands print or write."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tmm

from specialist import config, domain as domains
from specialist.app import figures
from specialist.cli import design_files, main

# non-dispersive media only, so that tmm needs nothing of the material library
GOAL = {"name": "ar 550/green?", "domain": "photonics", "incident": {"name": "air", "n": 1.0},
        "substrate": {"name": "glass", "n": 1.52}, "materials": [{"name": "H", "n": 2.35}, {"name": "L", "n": 1.38}],
        "max_layers": 4, "thickness_nm": [10, 300], "max_total_thickness_nm": None,
        "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": [500, 600],
                     "points": 21, "relation": "<=", "value": 0.002, "tolerance": 0.002, "weight": 1.0}],
        "solved_below": 1.0}
METHODS = domains.load("photonics").methods


def tmm_R(design: dict, wavelength_nm) -> np.ndarray:
    """Normal-incidence reflectance of a design with inline (n, k) media, by tmm."""
    n = [1.0] + [complex(layer["material"]["n"], layer["material"].get("k", 0.0)) for layer in design["layers"]] + [1.52]
    d = [np.inf] + [layer["thickness_nm"] for layer in design["layers"]] + [np.inf]
    return np.array([tmm.coh_tmm("s", n, d, 0.0, float(lam))["R"] for lam in wavelength_nm])


def tmm_merit(goal: dict, design: dict) -> float:
    """The GUIDE's merit for the goal's one '<=' target: RMS of violation / tolerance."""
    (t,) = goal["targets"]
    R = tmm_R(design, np.linspace(*t["wavelength_nm"], t["points"]))
    return float(np.sqrt(np.mean((np.maximum(0.0, R - t["value"]) / t["tolerance"]) ** 2)))


def _goal_file(tmp_path, name="goal.json", goal=GOAL) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(goal))
    return str(path)


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


# --- propose --method ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_propose_with_each_optimizer_gives_the_contract_and_the_merit_tmm_finds(tmp_path, capsys, method):
    argv = ["propose", _goal_file(tmp_path), "--method", method, "--budget", "20", "--seed", "3",
            "--data-dir", str(tmp_path / "none"), "--json"]
    doc = _json(capsys, argv)
    assert {"design", "merit", "solved", "evaluations"} <= set(doc) and doc["method"] == method and doc["seed"] == 3
    assert 1 <= doc["evaluations"] <= 20 and math.isfinite(doc["merit"])
    assert doc["merit"] == pytest.approx(tmm_merit(GOAL, doc["design"]), rel=1e-6, abs=1e-9)
    assert doc["solved"] == (doc["merit"] <= GOAL["solved_below"])
    assert not (tmp_path / "none").exists()  # an optimizer reads no data directory
    assert _json(capsys, argv)["design"] == doc["design"]  # the seed fixes the search


def test_propose_prints_the_method_figures_and_the_layers_with_their_total(tmp_path, capsys):
    assert main(["propose", _goal_file(tmp_path), "--method", "random", "--budget", "10", "--out",
                 str(tmp_path / "d.json"), "--data-dir", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    design = json.loads((tmp_path / "d.json").read_text())
    assert out.startswith("random: merit ") and "after 10 evaluations in" in out
    assert "thickness nm" in out and "total" in out
    assert f"{sum(layer['thickness_nm'] for layer in design['layers']):.2f}" in out
    assert f"{len(design['layers'])} layer" in out


def test_propose_with_a_method_the_domain_lacks_names_the_allowed_ones(tmp_path, capsys):
    assert main(["propose", _goal_file(tmp_path), "--method", "nope", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --method:") and "'nope'" in err and err.count("\n") == 0
    assert all(m in err for m in ("specialist", *METHODS))


def test_propose_by_the_shipped_weights_on_a_missing_data_dir_creates_nothing(tmp_path, capsys):
    typo = tmp_path / "TYPO"
    doc = _json(capsys, ["propose", _goal_file(tmp_path), "--budget", "20", "--data-dir", str(typo), "--json"])
    assert doc["method"] == "specialist" and doc["evaluations"] <= 20 and math.isfinite(doc["merit"])
    assert doc["merit"] == pytest.approx(tmm_merit(GOAL, doc["design"]), rel=1e-6, abs=1e-9)
    assert not typo.exists()


# --- propose --plot ------------------------------------------------------------------------------

def test_propose_plot_draws_the_design_tmm_computes_against_the_goal(tmp_path, capsys, monkeypatch):
    drawn = []
    draw = figures.designs_against_goals
    monkeypatch.setattr(figures, "designs_against_goals", lambda items: drawn.append(items) or draw(items))
    png = tmp_path / "fig.png"
    doc = _json(capsys, ["propose", _goal_file(tmp_path), "--method", "random", "--budget", "10", "--plot", str(png),
                         "--data-dir", str(tmp_path / "none"), "--json"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "fig.png.tmp").exists()
    ((title, series),) = drawn[0]
    assert "random" in title
    (goal,) = [s for s in series if s["kind"] == "goal"]
    (mine,) = [s for s in series if s["kind"] == "design"]
    assert np.allclose(goal["y"], 0.002) and np.allclose(mine["x"], np.linspace(500, 600, 21))
    assert np.allclose(mine["y"], tmm_R(doc["design"], mine["x"]), atol=1e-9)


@pytest.mark.parametrize("where, expected", [("fig.jpg", "ending in .png"), ("no/such/fig.png", "writable folder")])
def test_propose_plot_refuses_a_path_it_cannot_write_before_any_search(tmp_path, capsys, where, expected):
    assert main(["propose", _goal_file(tmp_path), "--method", "random", "--budget", "10", "--plot",
                 str(tmp_path / where), "--data-dir", str(tmp_path / "none")]) == 2
    out, err = capsys.readouterr()
    assert not out and err.startswith("error: --plot:") and expected in err and err.count("\n") == 1


# --- bench --out ---------------------------------------------------------------------------------

def test_bench_out_writes_each_methods_best_design_per_goal_and_an_index(tmp_path, capsys):
    other = {**GOAL, "targets": [{**GOAL["targets"][0], "wavelength_nm": [450, 520]}]}
    files = [_goal_file(tmp_path, "my goal (v2).json"), _goal_file(tmp_path, "other.json", other)]
    out = tmp_path / "designs"
    doc = _json(capsys, ["bench", *files, "--methods", "random,gradient", "--budgets", "6,12", "--out", str(out),
                         "--data-dir", str(tmp_path / "none"), "--json"])
    assert doc["out"]["designs"] == 4
    index = json.loads((out / "index.json").read_text())["designs"]
    assert [(e["goal"], e["method"]) for e in index] == [(f, m) for f in files for m in ("random", "gradient")]
    assert {e["folder"] for e in index} == {"my_goal_v2", "other"}
    for e in index:
        rows = [r for r in doc["results"] if r["goal"] == e["goal"] and r["method"] == e["method"]]
        assert e["merit"] == min(r["merit"] for r in rows)
        design = json.loads((out / e["file"]).read_text())
        goal = GOAL if e["folder"] == "my_goal_v2" else other
        assert e["file"] == f"{e['folder']}/{e['method']}.json"
        assert e["merit"] == pytest.approx(tmm_merit(goal, design), rel=1e-6, abs=1e-9)


def test_bench_out_refuses_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    assert main(["bench", _goal_file(tmp_path), "--methods", "random", "--budgets", "5", "--out",
                 str(tmp_path / "taken"), "--data-dir", str(tmp_path / "none")]) == 2
    assert "--out" in capsys.readouterr().err and (tmp_path / "taken").read_text() == "x"


def test_bench_tables_say_how_many_rows_they_show(tmp_path, capsys):
    assert main(["bench", _goal_file(tmp_path), "--methods", "random", "--budgets", "5,10",
                 "--data-dir", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "all 1 rows" in out and "all 2 rows" in out


def test_design_files_names_are_safe_unique_and_mapped(tmp_path):
    best = design_files.Best()
    design = {"incident": "air", "substrate": "glass", "layers": []}
    for goal, merit, found in (("a/b c", 2.0, design), ("A/B:C", 1.0, None), ("a/b c", 1.0, {**design, "x": 1}),
                               ("../..", 3.0, design)):
        best.keep({"goal": goal, "method": "m/1", "budget": 1, "merit": merit, "solved": False,
                   "evaluations": 1}, found)
    summary = design_files.write(tmp_path, best)
    index = json.loads((tmp_path / "index.json").read_text())["designs"]
    assert [(e["goal"], e["folder"], e["file"]) for e in index] == [
        ("a/b c", "a_b_c", "a_b_c/m_1.json"), ("A/B:C", "A_B_C-2", None), ("../..", "goal", "goal/m_1.json")]
    assert json.loads((tmp_path / "a_b_c" / "m_1.json").read_text())["x"] == 1  # the lower merit
    assert index[1]["merit"] is None and summary["designs"] == 2 and summary["without_design"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_b_c", "goal", "index.json"]


# --- daemon.skip_families ------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["bench", "--methods", "random", "--budgets", "5", "--limit", "1"],
                                  ["run", "--seconds", "1"]])
def test_an_unknown_skipped_family_is_refused_naming_the_file_field_and_families(tmp_path, capsys, argv):
    path = tmp_path / "c.toml"
    path.write_text('[daemon]\nskip_families = "notch, notches"\n')
    data = tmp_path / "data"
    assert main([*argv, "--config", str(path), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: field 'daemon.skip_families'") and "'notches'" in err
    assert "'notch'" not in err and "ar_broad" in err and err.count("\n") == 0
    assert not data.exists()


def test_the_domain_names_every_family_its_goals_carry():
    d = domains.load("photonics")
    train, heldout = d.curriculum(0)
    seen = {domains.family(g) for g in train + heldout + d.generate(0, 40) + d.validation_goals()}
    assert seen <= set(d.families) and "paper" in d.families
    config.check_families(config.load(None, {"daemon": {"skip_families": ",".join(d.families)}}), d.families, "c")
    assert d.ood_goals(("paper",)) == d.ood_goals(())  # papers have no held-out goals to add
