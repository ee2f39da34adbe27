"""The designer's analyses of `simulate` and `evaluate`: angle sweeps, per-polarization output,
units, CSV, pictures and tidy tables.

Reflectance and transmittance are checked against the `tmm` package (an independent
transfer-matrix implementation) and against textbook Fresnel values; the rest against the
command's own JSON, computed by other means where it matters (means of s and p, logarithms).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math

import numpy as np
import pytest
import tmm

from domains.photonics import design as design_mod, materials, plots, spectra
from domains.photonics.simulate_command import to_units
from specialist.cli import main

AR4 = {"incident": "air", "substrate": "N-BK7",
       "layers": [{"material": "SiO2", "thickness_nm": 86.4}, {"material": "TiO2", "thickness_nm": 118.0},
                  {"material": "SiO2", "thickness_nm": 31.5}, {"material": "TiO2", "thickness_nm": 12.8}]}
H, L = {"name": "H", "n": 2.35}, {"name": "L", "n": 1.38}
ABSORBER = {"name": "X", "n": 2.0, "k": 0.3}
DESIGNS = [  # dielectric on inline glass; an absorbing layer; a metal; immersion beyond the critical angle
    {"incident": "air", "substrate": {"name": "glass", "n": 1.52},
     "layers": [{"material": m, "thickness_nm": t} for m, t in ((H, 58.5), (L, 99.6)) * 3]},
    {"incident": "air", "substrate": "N-BK7",
     "layers": [{"material": "SiO2", "thickness_nm": 80.0}, {"material": ABSORBER, "thickness_nm": 25.0},
                {"material": H, "thickness_nm": 60.0}]},
    {"incident": "air", "substrate": "N-BK7",
     "layers": [{"material": "Ag", "thickness_nm": 35.0}, {"material": "SiO2", "thickness_nm": 90.0}]},
    {"incident": {"name": "oil", "n": 1.515}, "substrate": {"name": "void", "n": 1.0},
     "layers": [{"material": L, "thickness_nm": 120.0}, {"material": ABSORBER, "thickness_nm": 10.0}]},
]
SWEEP, WAVELENGTHS = "0:75:6", "450:650:5"
PER_POL = ("R_s", "R_p", "T_s", "T_p", "A_s", "A_p")


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def run_json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def refused(capsys, argv) -> str:
    """The one sentence a refused command line prints (exit status 2)."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.endswith(".") and "\n" not in err, err
    return err


@pytest.fixture(scope="module")
def sweep_all(tmp_path_factory):
    """simulate --polarization all over SWEEP for DESIGNS, as JSON (computed once)."""
    path = write(tmp_path_factory.mktemp("sweep"), "designs.json", DESIGNS)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["simulate", path, "--wavelengths", WAVELENGTHS, "--angle", SWEEP,
                     "--polarization", "all", "--json"]) == 0
    return path, json.loads(out.getvalue())


# --- physics against independent computations -------------------------------------------------

def test_angle_sweep_per_polarization_matches_tmm(sweep_all):
    _, docs = sweep_all
    worst = 0.0
    for obj, doc in zip(DESIGNS, docs):
        d = design_mod.parse(obj)
        assert doc["angle_deg"] == np.linspace(0, 75, 6).tolist()
        for w, wl in enumerate(doc["wavelength_nm"]):
            n_list = [complex(m.nk(np.array([wl]))[0]) for m in (d.incident, *(m for m, _ in d.layers), d.substrate)]
            d_list = [np.inf] + [t for _, t in d.layers] + [np.inf]
            for a, angle in enumerate(doc["angle_deg"]):
                for pol in ("s", "p"):
                    ref = tmm.coh_tmm(pol, n_list, d_list, math.radians(angle), wl)
                    got = (doc[f"R_{pol}"][a][w], doc[f"T_{pol}"][a][w], doc[f"A_{pol}"][a][w])
                    want = (ref["R"], ref["T"], 1 - ref["R"] - ref["T"])
                    worst = max(worst, *(abs(g - x) for g, x in zip(got, want)))
    assert worst < 1e-10


def test_thick_substrate_sweep_per_polarization_matches_tmm_incoherent(tmp_path, capsys):
    obj = {"incident": "air", "substrate": "N-BK7", "substrate_thickness_mm": 1.0,
           "layers": [{"material": ABSORBER, "thickness_nm": 20.0}, {"material": H, "thickness_nm": 70.0}]}
    doc = run_json(capsys, ["simulate", write(tmp_path, "t.json", obj), "--wavelengths", "500:600:2",
                            "--angle", "0:60:3", "--polarization", "all"])
    d = design_mod.parse(obj)
    for w, wl in enumerate(doc["wavelength_nm"]):
        nk = [complex(m.nk(np.array([wl]))[0]) for m in (d.incident, *(m for m, _ in d.layers), d.substrate, d.exit)]
        for a, angle in enumerate(doc["angle_deg"]):
            for pol in ("s", "p"):
                ref = tmm.inc_tmm(pol, nk, [np.inf, 20.0, 70.0, 1e6, np.inf], ["i", "c", "c", "i", "i"],
                                  math.radians(angle), wl)
                assert doc[f"R_{pol}"][a][w] == pytest.approx(ref["R"], abs=1e-10)
                assert doc[f"T_{pol}"][a][w] == pytest.approx(ref["T"], abs=1e-10)


def test_beyond_the_critical_angle_light_is_reflected_or_absorbed(sweep_all):
    doc = sweep_all[1][3]  # oil into void: critical angle asin(1/1.515) = 41.3 deg
    for a, angle in enumerate(doc["angle_deg"]):
        if angle > 42:
            assert np.allclose(doc["T_s"][a], 0, atol=1e-12) and np.allclose(doc["T_p"][a], 0, atol=1e-12)
            assert np.all(np.array(doc["A_s"][a]) > 0)  # the frustrated evanescent wave feeds the absorber


def test_avg_is_the_mean_of_s_and_p_and_matches_single_polarization_runs(sweep_all, capsys):
    path, docs = sweep_all
    base = ["simulate", path, "--wavelengths", WAVELENGTHS, "--angle", SWEEP]
    avg, s, p = (run_json(capsys, base + ["--polarization", pol]) for pol in ("avg", "s", "p"))
    for b, doc in enumerate(docs):
        for q in ("R", "T", "A"):
            mean = (np.array(doc[f"{q}_s"]) + np.array(doc[f"{q}_p"])) / 2
            assert np.allclose(doc[q], mean, rtol=0, atol=1e-15)
            assert np.allclose(avg[b][q], mean, rtol=0, atol=1e-15)
            assert np.array_equal(s[b][q], doc[f"{q}_s"]) and np.array_equal(p[b][q], doc[f"{q}_p"])
        assert not np.allclose(doc["R_s"][-1], doc["R_p"][-1])  # 75 deg: s and p differ


def test_normal_incidence_p_is_s_and_a_bare_surface_is_fresnel(tmp_path, capsys):
    bare = {"incident": "air", "substrate": {"name": "glass", "n": 1.5}, "layers": []}
    doc = run_json(capsys, ["simulate", write(tmp_path, "b.json", bare), "--wavelengths", "550",
                            "--polarization", "all"])
    assert doc["R_s"] == doc["R_p"] and doc["R"][0] == pytest.approx(0.04, abs=1e-15)
    brewster = math.degrees(math.atan(1.5))
    doc = run_json(capsys, ["simulate", write(tmp_path, "b.json", bare), "--wavelengths", "550",
                            "--angle", f"{brewster!r}", "--polarization", "p"])
    assert doc["R"][0] < 1e-20  # Brewster's angle: no p reflection


def test_a_sweep_is_solved_in_one_batch(tmp_path, capsys, monkeypatch):
    calls = []
    real = spectra.run
    monkeypatch.setattr(spectra, "run", lambda packed, wl, angles, pols: calls.append((len(angles), pols))
                        or real(packed, wl, angles, pols))
    path = write(tmp_path, "d.json", [AR4, AR4])
    run_json(capsys, ["simulate", path, "--wavelengths", WAVELENGTHS, "--angle", "0:60:13", "--polarization", "all"])
    assert calls == [(13, ("s", "p"))]


# --- units ------------------------------------------------------------------------------------

def test_percent_and_db_are_conversions_of_the_fractions(tmp_path, capsys):
    path = write(tmp_path, "d.json", AR4)
    base = ["simulate", path, "--wavelengths", WAVELENGTHS, "--angle", "0:60:3"]
    frac = run_json(capsys, base)
    pct = run_json(capsys, base + ["--units", "percent"])
    db = run_json(capsys, base + ["--units", "dB"])
    assert "units" not in frac and pct["units"] == "percent" and db["units"] == "dB"
    for q in ("R", "T"):
        f = np.array(frac[q])
        assert np.allclose(pct[q], f * 100, rtol=1e-14, atol=0)
        assert np.allclose(db[q], [[10 * math.log10(x) for x in row] for row in f], rtol=1e-13, atol=0)


def test_db_of_nothing_is_a_finite_floor(tmp_path, capsys):
    opaque = {"incident": "air", "substrate": "N-BK7",
              "layers": [{"material": {"name": "M", "n": 1.0, "k": 5.0}, "thickness_nm": 1e5}]}
    doc = run_json(capsys, ["simulate", write(tmp_path, "d.json", opaque), "--wavelengths", "550", "--units", "dB"])
    assert doc["T"] == [-300.0]  # exp(-4 pi k d / lambda) underflows to 0
    assert to_units(np.array([0.0, 1e-40, 1e-3, 1.0]), "dB").tolist() == [-300.0, -300.0, -30.0, 0.0]
    assert to_units(np.array([0.004, 1.0]), "percent").tolist() == [0.4, 100.0]


# --- the JSON contract and the CSV --------------------------------------------------------------

def test_default_json_contract_is_unchanged(tmp_path, capsys):
    one = run_json(capsys, ["simulate", write(tmp_path, "d.json", AR4), "--wavelengths", WAVELENGTHS])
    assert list(one) == ["wavelength_nm", "R", "T", "A"] and len(one["R"]) == 5 and isinstance(one["R"][0], float)
    many = run_json(capsys, ["simulate", write(tmp_path, "l.json", [AR4, AR4]), "--angle", "30"])
    assert isinstance(many, list) and [list(d) for d in many] == [["wavelength_nm", "R", "T", "A"]] * 2


def test_sweep_and_all_shapes(sweep_all):
    doc = sweep_all[1][0]
    assert set(doc) == {"wavelength_nm", "angle_deg", "R", "T", "A", *PER_POL}
    assert all(np.shape(doc[k]) == (6, 5) for k in ("R", "T", "A", *PER_POL))


def test_csv_is_long_format_with_a_row_per_design_angle_and_wavelength(tmp_path, capsys, sweep_all):
    path, docs = sweep_all
    out = tmp_path / "s.csv"
    assert main(["simulate", path, "--wavelengths", WAVELENGTHS, "--angle", SWEEP, "--polarization", "all",
                 "--units", "percent", "--csv", str(out)]) == 0
    assert f"CSV written to {out}" in capsys.readouterr().out
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["design", "angle_deg", "wavelength_nm", "R", "T", "A", *PER_POL]
    assert len(rows) == 1 + len(DESIGNS) * 6 * 5
    design, angle, wl, *values = rows[1 + 1 * 30 + 2 * 5 + 3]  # design 1, angle 2, wavelength 3
    assert (design, float(angle), float(wl)) == (f"{path}[1]", 30.0, 600.0)
    assert np.allclose([float(v) for v in values], [docs[1][k][2][3] * 100 for k in ("R", "T", "A", *PER_POL)],
                       rtol=1e-14)
    plain = tmp_path / "p.csv"
    assert main(["simulate", write(tmp_path, "d.json", AR4), "--wavelengths", WAVELENGTHS, "--csv", str(plain)]) == 0
    rows = list(csv.reader(plain.open()))
    assert rows[0] == ["design", "angle_deg", "wavelength_nm", "R", "T", "A"] and len(rows) == 6


# --- pictures -----------------------------------------------------------------------------------

def _png(path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plots_are_png_files(tmp_path, capsys):
    path = write(tmp_path, "d.json", AR4)
    for name, extra in (("one.png", []), ("sweep.png", ["--angle", "0:60:4", "--polarization", "all"]),
                        ("db.png", ["--units", "dB", "--polarization", "all", "--angle", "45"])):
        assert main(["simulate", path, "--wavelengths", WAVELENGTHS, "--plot", str(tmp_path / name), *extra]) == 0
        assert _png(tmp_path / name) and f"plot written to {tmp_path / name}" in capsys.readouterr().out
    goal = write(tmp_path, "g.json", GOAL)
    doc = run_json(capsys, ["evaluate", goal, path, "--plot", str(tmp_path / "ev.png")])
    assert _png(tmp_path / "ev.png") and doc["rejected"] is None


GOAL = {"name": "ar", "domain": "photonics", "incident": "air", "substrate": "N-BK7",
        "materials": ["SiO2", "TiO2"], "max_layers": 8, "thickness_nm": [5, 300],
        "targets": [
            {"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": [420, 680], "points": 27,
             "relation": "<=", "value": 0.005, "tolerance": 0.002},
            {"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": [700, 720], "points": 3,
             "relation": "=", "value": [0.006, 0.007, 0.008], "tolerance": 0.001},
            {"quantity": "T", "polarization": "s", "angle_deg": 30, "wavelength_nm": [450, 650], "points": 5,
             "relation": ">=", "value": 0.99, "tolerance": 0.005}]}


def test_evaluate_plot_has_a_panel_per_quantity_angle_and_polarization(tmp_path, capsys, monkeypatch):
    drawn = {}
    monkeypatch.setattr(plots, "target_figure", lambda path, panels, title: drawn.update(panels=panels, title=title))
    argv = ["evaluate", write(tmp_path, "g.json", GOAL), write(tmp_path, "d.json", AR4)]
    doc = run_json(capsys, argv + ["--plot", str(tmp_path / "ev.png")])
    panels = drawn["panels"]
    assert [len(items) for _, items in panels] == [2, 1]  # R avg 0 deg (two targets), T s 30 deg
    assert "R, avg" in panels[0][0] and "T, s" in panels[1][0] and "30°" in panels[1][0]
    le, eq = panels[0][1]
    ge = panels[1][1][0]
    assert le["values"] == doc["targets"][0]["values"] and ge["values"] == doc["targets"][2]["values"]
    assert np.all(le["lo"] == -np.inf) and np.all(le["hi"] == 0.005)
    assert np.allclose(eq["lo"], [0.005, 0.006, 0.007]) and np.allclose(eq["hi"], [0.007, 0.008, 0.009])
    assert np.all(ge["lo"] == 0.99) and np.all(ge["hi"] == np.inf)
    assert f"merit {doc['merit']:.4g}" in drawn["title"] and "solved" in drawn["title"]


def test_evaluate_plot_of_a_rejected_design_says_so(tmp_path, capsys):
    thick = {**AR4, "layers": [{"material": "SiO2", "thickness_nm": 400.0}]}
    out = tmp_path / "ev.png"
    argv = ["evaluate", write(tmp_path, "g.json", GOAL), write(tmp_path, "d.json", thick), "--plot", str(out)]
    assert main(argv) == 1
    assert "no plot drawn: the design is rejected" in capsys.readouterr().err and not out.exists()


def test_stack_is_drawn_to_scale_with_a_colour_per_material():
    d = design_mod.parse(AR4)
    fig, ax = plots.figure()
    plots.stack(ax, d)
    heights = [p.get_height() for p in ax.patches][:4]  # the layers, then the substrate band
    assert heights == pytest.approx([86.4, 118.0, 31.5, 12.8], abs=1e-9)
    assert ax.patches[0].get_facecolor() == ax.patches[2].get_facecolor() != ax.patches[1].get_facecolor()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SiO2", "TiO2"]
    assert plots.stack_label(d) == "4 layers SiO2/TiO2, 249 nm"
    seven = design_mod.parse({**AR4, "layers": [{"material": "TiO2", "thickness_nm": 175.0}] * 7})
    assert plots.stack_label(seven) == "7 layers TiO2, 1.23 µm"


# --- refusals and tidy text ------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, expected", [
    ("--angle", "0:95:3", "reaches 95 deg, but angles must be in [0, 90)"),
    ("--angle", "90", "reaches 90 deg"),
    ("--angle", "-5:30:3", "reaches -5 deg"),
    ("--angle", "60:0:3", "start <= stop"),
    ("--angle", "0:60:0", "count from 1 to 1000"),
    ("--angle", "0:60:2.5", "count from 1 to 1000"),
    ("--angle", "0:60", "start:stop:count"),
    ("--angle", "nan", "not finite"),
    ("--units", "kelvin", "allowed: fraction, percent, dB"),
    ("--polarization", "q", "allowed: s, p, avg, all"),
    ("--plot", "out.jpg", "ending in .png"),
    ("--plot", "/nonexistent-folder/out.png", "folder does not exist"),
    ("--csv", "out.txt", "ending in .csv"),
])
def test_bad_options_are_refused_with_one_sentence(tmp_path, capsys, option, value, expected):
    err = refused(capsys, ["simulate", write(tmp_path, "d.json", AR4), option, value])
    assert err.startswith(f"error: {option}: is '{value}'") and expected in err


def test_evaluate_refuses_a_bad_plot_path(tmp_path, capsys):
    err = refused(capsys, ["evaluate", write(tmp_path, "g.json", GOAL), write(tmp_path, "d.json", AR4),
                           "--plot", str(tmp_path / "ev.pdf")])
    assert "--plot" in err and ".png" in err


def test_text_tables_name_the_setup_and_never_print_minus_zero(tmp_path, capsys):
    path = write(tmp_path, "d.json", AR4)
    doc = run_json(capsys, ["simulate", path, "--wavelengths", "400:700:7"])
    assert min(doc["A"]) < 0  # rounding leaves A = 1 - R - T slightly negative: the case to format
    assert main(["simulate", path, "--wavelengths", "400:700:301"]) == 0
    text = capsys.readouterr().out
    assert "-0.000000" not in text and "-0.0000" not in text
    assert "d.json: 4 layers SiO2/TiO2, 249 nm" in text and "air → N-BK7" in text and "0°" in text
    assert "15 of 301 wavelengths shown; mean over all 301: R 0.002818" in text and "avg of s and p" in text
    assert main(["simulate", path, "--wavelengths", "400:700:7", "--angle", "0:60:13", "--units", "percent"]) == 0
    text = capsys.readouterr().out
    assert "-0.0000" not in text and "all 7 wavelengths, 7 of 13 angles shown" in text and "60°" in text


def test_materials_text_has_a_row_count_and_the_reference_below(capsys):
    assert main(["materials", "TiO2", "--wavelengths", "400:700:31"]) == 0
    text = capsys.readouterr().out
    assert "all 31 wavelengths" in text and text.index("reference: ") > text.index("700.0")
    assert main(["materials"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[-1] == f"{len(materials.library())} materials"


def test_evaluate_a_list_scores_each_design_as_one_design_alone(tmp_path, capsys, monkeypatch):
    from domains.photonics import spectra as spectra_mod

    monkeypatch.setattr(spectra_mod, "CHUNK", 2)  # 5 designs: batches of 2, the last one padded
    goal = write(tmp_path, "g.json", GOAL)
    thick = {**AR4, "layers": [{"material": "SiO2", "thickness_nm": 5000.0}]}
    items = [AR4, {**AR4, "layers": AR4["layers"][:2]}, thick, {**AR4, "layers": AR4["layers"][1:]}, AR4]
    many = run_json(capsys, ["evaluate", goal, write(tmp_path, "many.json", items)])
    assert [set(d) for d in many] == [{"merit", "solved", "rejected"}] * len(items)
    for i, item in enumerate(items):
        main(["evaluate", goal, write(tmp_path, f"{i}.json", item), "--json"])
        one = json.loads(capsys.readouterr().out)
        assert (many[i]["merit"], many[i]["solved"], many[i]["rejected"]) == (one["merit"], one["solved"],
                                                                             one["rejected"])
    assert many[2]["rejected"] and many[2]["merit"] is None
    assert len({d["merit"] for d in many if d["merit"] is not None}) >= 2  # different designs, different merits
    assert "empty list" in refused(capsys, ["evaluate", goal, write(tmp_path, "none.json", [])])
    assert "--plot" in refused(capsys, ["evaluate", goal, str(tmp_path / "many.json"), "--plot",
                                        str(tmp_path / "x.png")])
