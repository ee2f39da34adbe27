"""`specialist colour`, `specialist layers` and quarter-wave designs, each checked against an
independent computation: the CIE's published values (normalisations, white point, chromaticities
of the spectrum locus), CIELAB from the CIE formula written out here, analytic flat reflectors,
Fresnel's formula, and quarter-wave thicknesses from the library's indices."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from domains.photonics import colour, design as design_mod, materials, notation
from specialist.cli import main
from specialist.errors import InputError

LIB = materials.library()
GLASS = {"name": "glass", "n": 1.5}  # non-dispersive: R = ((n - 1) / (n + 1))^2 = 0.04 at every wavelength


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def refused(capsys, argv) -> str:
    """The one-sentence error of a command line that must exit with status 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.count("\n") == 0 and "Traceback" not in err
    return err


def cielab(xyz, white):
    """CIE 015:2018 eq. (8.1)-(8.6), written with 6/29 (an independent form of the same formula)."""
    def f(t):
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29
    fx, fy, fz = (f(v / w) for v, w in zip(xyz, white))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


# --- the CIE tables ------------------------------------------------------------------------------

def test_the_tables_reproduce_the_cies_published_normalisations():
    wl, cmf, d65 = colour.tables()
    assert wl[0] == 380 and wl[-1] == 780 and np.all(np.diff(wl) == 5)
    assert cmf[:, 1].max() == 1.0 and wl[np.argmax(cmf[:, 1])] == 555  # ybar = V(lambda), 1 at 555 nm
    assert d65[wl == 560][0] == 100.0  # D65 is relative to 100 at 560 nm
    # CIE_xyz_1931_2deg.csv (DOI 10.25039/CIE.DS.xvudnb9b) states its column sums at 1 nm, 360-830 nm:
    # the 5 nm rows times 5 nm approximate those integrals (the 360-380 and 780-830 nm tails are tiny)
    published = (106.865469489595, 106.8569171011719, 106.892251278636)
    assert 5 * cmf.sum(axis=0) == pytest.approx(published, rel=5e-4)
    # equal-energy white lies at x = y = 1/3: the three functions enclose equal areas by construction
    total = cmf.sum()
    assert (cmf[:, 0].sum() / total, cmf[:, 1].sum() / total) == pytest.approx((1 / 3, 1 / 3), abs=2e-5)


def test_the_d65_white_point_is_the_cies():
    white = colour.white()
    x, y = colour.chromaticity(white)
    assert (round(x, 4), round(y, 4)) == (0.3127, 0.3290)  # CIE 015:2018, D65, 2 degree observer
    assert (round(x, 5), round(y, 5)) == (0.31272, 0.32903)
    assert white == pytest.approx((95.04, 100.0, 108.88), abs=0.005)  # CIE 015:2004 Table T.3 (5 nm sums)


@pytest.mark.parametrize("wavelength, xy", [(520, (0.07430, 0.83380)), (550, (0.30160, 0.69231)),
                                             (600, (0.62704, 0.37249))])
def test_the_spectrum_locus_is_the_cies(wavelength, xy):
    """CIE 1931 chromaticity coordinates of the spectrum locus, 2 degree observer, as the CIE
    publishes them to 5 decimals (CIE 018:2019 Table 6; dataset CIE_cc_1931_2deg.csv, DOI
    10.25039/CIE.DS.mifmy4x4, whose metadata quotes the 550 nm row as a sample)."""
    wl, x, y = colour.spectrum_locus()
    i = int(np.flatnonzero(wl == wavelength)[0])
    assert (x[i], y[i]) == pytest.approx(xy, abs=5e-6)


@pytest.mark.parametrize("xyz", [(41.24, 21.26, 1.93), (95.047, 100.0, 108.883), (18.0, 18.0, 18.0),
                                 (0.5, 0.3, 0.9), (60.0, 80.0, 20.0)])
def test_lab_is_the_cie_formula(xyz):
    white = (95.047, 100.0, 108.883)
    assert colour.lab(np.array(xyz), np.array(white)) == pytest.approx(cielab(xyz, white), abs=1e-10)
    assert colour.lab(np.array(xyz)) == pytest.approx(cielab(xyz, colour.white()), abs=1e-10)


# --- colours of designs --------------------------------------------------------------------------

@pytest.mark.parametrize("rho", [0.0, 0.005, 0.04, 0.5, 1.0])
def test_a_flat_reflector_is_grey_of_luminance_100_rho(rho):
    c = colour.describe(np.full(81, rho))
    assert c["Y"] == pytest.approx(100 * rho, abs=1e-9)
    assert (c["x"], c["y"]) == pytest.approx(colour.chromaticity(colour.white()), abs=1e-12)
    L = 116 * rho ** (1 / 3) - 16 if rho > 0.008856 else 903.3 * rho
    assert c["L"] == pytest.approx(L, abs=0.01 if rho <= 0.008856 else 1e-9)  # 903.3: CIE's rounded slope
    assert (c["a"], c["b"]) == pytest.approx((0, 0), abs=1e-9)


def test_colour_of_a_non_dispersive_surface_through_the_command_line(tmp_path, capsys):
    path = write(tmp_path, "bare.json", {"incident": "air", "substrate": GLASS, "layers": []})
    doc = run_json(capsys, ["colour", path, "--json"])
    assert {k: doc[k] for k in ("illuminant", "observer", "angle_deg", "polarization")} == \
        {"illuminant": "D65", "observer": "CIE 1931 2°", "angle_deg": 0.0, "polarization": "avg"}
    white = colour.chromaticity(colour.white())
    for key, rho in (("reflected", 0.04), ("transmitted", 0.96)):
        c = doc[key]
        assert set(c) == {"X", "Y", "Z", "x", "y", "L", "a", "b"}
        assert c["Y"] == pytest.approx(100 * rho, abs=1e-9)
        assert (c["x"], c["y"]) == pytest.approx(white, abs=1e-12)
        assert c["L"] == pytest.approx(116 * rho ** (1 / 3) - 16, abs=1e-9)
        assert (c["a"], c["b"]) == pytest.approx((0, 0), abs=1e-9)
    table = tmp_path / "colour.csv"
    assert main(["colour", path, "--csv", str(table)]) == 0
    rows = list(csv.DictReader(table.open()))
    assert [r["light"] for r in rows] == ["reflected", "transmitted"]
    for r in rows:
        assert {k: float(v) for k, v in r.items() if k != "light"} == pytest.approx(doc[r["light"]], abs=1e-12)


def test_bare_n_bk7_is_nearly_a_grey_four_percent(tmp_path, capsys):
    path = write(tmp_path, "bk7.json", {"incident": "air", "substrate": "N-BK7", "layers": []})
    c = run_json(capsys, ["colour", path, "--json"])["reflected"]
    n = LIB["N-BK7"].nk(np.array([555.0]))[0].real  # Fresnel at the peak of ybar
    rho = ((n - 1) / (n + 1)) ** 2
    assert c["Y"] == pytest.approx(100 * rho, abs=0.03)
    assert c["L"] == pytest.approx(116 * rho ** (1 / 3) - 16, abs=0.1)
    assert abs(c["a"]) < 0.5 and abs(c["b"]) < 1.0  # dispersion tints it faintly blue, no more
    assert math.dist((c["x"], c["y"]), colour.chromaticity(colour.white())) < 0.005


def _dominant(c):
    """(dominant wavelength, excitation purity): where the line from the white point through the
    colour meets the spectrum locus, and how far along it the colour lies."""
    wl, x, y = colour.spectrum_locus()
    wx, wy = colour.chromaticity(colour.white())
    towards = np.angle(((x - wx) + 1j * (y - wy)) / ((c["x"] - wx) + 1j * (c["y"] - wy)))
    i = int(np.argmin(np.abs(towards)))
    return wl[i], math.hypot(c["x"] - wx, c["y"] - wy) / math.hypot(x[i] - wx, y[i] - wy)


@pytest.mark.parametrize("centre", [470, 530, 590])
def test_a_quarter_wave_stack_reflects_its_centre_hue_more_saturated_with_more_pairs(centre):
    def reflected(pairs):
        obj = notation.from_formula(f"(HL)^{pairs} H", {"H": 1.65, "L": 1.45}, centre, "air", {"name": "g", "n": 1.52})
        return colour.colours(design_mod.parse(obj))["reflected"]
    few, many = _dominant(reflected(5)), _dominant(reflected(20))
    assert abs(many[0] - centre) <= 15  # the narrow reflection band sets the hue
    assert many[1] > 0.45 and many[1] > few[1] + 0.02  # saturated, and more so with more pairs


def test_colour_plot_and_angle(tmp_path, capsys):
    path = write(tmp_path, "qw.json", {"incident": "air", "substrate": "N-BK7", "reference_nm": 550,
                                       "layers": [{"material": m, "qwot": 1} for m in ("TiO2", "SiO2") * 2]})
    assert main(["colour", path, "--angle", "30", "--polarization", "s", "--plot", str(tmp_path / "xy.png")]) == 0
    out = capsys.readouterr().out
    assert "30° (s)" in out and "L*" in out and (tmp_path / "xy.png").stat().st_size > 10_000
    assert "x 0.3127, y 0.3290" in out


def test_colour_errors_are_one_sentence(tmp_path, capsys):
    path = write(tmp_path, "x.json", {"incident": "air", "substrate": "N-BK7",
                                      "layers": [{"material": "TiO3", "thickness_nm": 50}]})
    assert "field 'layers[0].material' names unknown material 'TiO3'" in refused(capsys, ["colour", path])
    good = write(tmp_path, "d.json", {"incident": "air", "substrate": "N-BK7", "layers": []})
    assert "--angle" in refused(capsys, ["colour", good, "--angle", "95"])
    assert "--plot" in refused(capsys, ["colour", good, "--plot", str(tmp_path / "xy.jpg")])


# --- quarter waves in designs --------------------------------------------------------------------

def test_qwot_layers_become_quarter_wave_thicknesses():
    obj = {"incident": "air", "substrate": "N-BK7", "reference_nm": 600,
           "layers": [{"material": "TiO2", "qwot": 1.0}, {"material": "SiO2", "qwot": 2.5},
                      {"material": {"name": "H", "n": 2.0}, "qwot": 0}, {"material": "SiO2", "thickness_nm": 12.5}]}
    d = design_mod.parse(obj, "d.json")
    n = [LIB[m].nk(np.array([600.0]))[0].real for m in ("TiO2", "SiO2")]
    assert [t for _, t in d.layers] == pytest.approx([600 / (4 * n[0]), 2.5 * 600 / (4 * n[1]), 0.0, 12.5], rel=1e-14)
    assert all(set(layer) == {"material", "thickness_nm"} for layer in d.to_json()["layers"])


@pytest.mark.parametrize("obj, field", [
    ({"layers": [{"material": "TiO2", "qwot": 1}]}, "reference_nm"),
    ({"reference_nm": 550, "layers": [{"material": "TiO2", "qwot": 1, "thickness_nm": 50}]}, "layers[0]"),
    ({"reference_nm": 550, "layers": [{"material": "TiO2"}]}, "layers[0]"),
    ({"reference_nm": 550, "layers": [{"material": "TiO2", "thickness_nm": 5}, {"material": "TiO2", "qwot": -1}]},
     "layers[1].qwot"),
    ({"reference_nm": 550, "layers": [{"material": "TiO2", "qwot": float("inf")}]}, "layers[0].qwot"),
    ({"reference_nm": 550, "layers": [{"material": "TiO2", "qwot": "1"}]}, "layers[0].qwot"),
    ({"reference_nm": 550, "layers": [{"material": "SiO2", "qwot": 1e5}]}, "layers[0].qwot"),  # > 1 mm
    ({"reference_nm": 250, "layers": [{"material": "TiO2", "qwot": 1}]}, "layers[0].qwot"),  # no TiO2 data
    ({"reference_nm": -550, "layers": []}, "reference_nm"),
    ({"reference_nm": True, "layers": []}, "reference_nm")])
def test_bad_quarter_wave_layers_are_named(obj, field):
    with pytest.raises(InputError, match=rf"^d\.json: field '{re.escape(field)}' "):
        design_mod.parse({"incident": "air", "substrate": "N-BK7", **obj}, "d.json")


def test_design_errors_through_the_command_line(tmp_path, capsys):
    path = write(tmp_path, "d.json", {"substrate": "N-BK7", "layers": [{"material": "TiO2", "qwot": 1}]})
    assert "field 'reference_nm' is missing" in refused(capsys, ["layers", path])
    both = write(tmp_path, "b.json", {"substrate": "N-BK7", "reference_nm": 550,
                                      "layers": [{"material": "TiO2", "qwot": 1, "thickness_nm": 9}]})
    assert "field 'layers[0]'" in refused(capsys, ["colour", both])


# --- the layer table -----------------------------------------------------------------------------

def test_layer_table_against_the_library_indices(tmp_path, capsys):
    layers = [("TiO2", 60.0), ("SiO2", 95.5), ("MgF2", 120.25)]
    path = write(tmp_path, "d.json", {"incident": "air", "substrate": "N-BK7",
                                      "layers": [{"material": m, "thickness_nm": d} for m, d in layers]})
    doc = run_json(capsys, ["layers", path, "--reference", "633", "--json", "--csv", str(tmp_path / "l.csv")])
    assert doc["reference_nm"] == 633 and (doc["incident"], doc["substrate"]) == ("air", "N-BK7")
    for row, (m, d) in zip(doc["layers"], layers):
        nk = LIB[m].nk(np.array([633.0]))[0]
        numbers = {k: v for k, v in row.items() if k not in ("layer", "material")}
        assert numbers == pytest.approx({"n": nk.real, "k": nk.imag, "thickness_nm": d,
                                         "optical_thickness_nm": nk.real * d, "qwot": 4 * nk.real * d / 633},
                                        rel=1e-12)
    assert [(r["layer"], r["material"]) for r in doc["layers"]] == [(1, "TiO2"), (2, "SiO2"), (3, "MgF2")]
    assert doc["total_thickness_nm"] == pytest.approx(sum(d for _, d in layers))
    assert doc["total_optical_thickness_nm"] == pytest.approx(sum(r["optical_thickness_nm"] for r in doc["layers"]))
    rows = list(csv.DictReader(open(tmp_path / "l.csv")))
    assert list(rows[0]) == ["layer", "material", "n", "k", "thickness_nm", "optical_thickness_nm", "qwot"]
    assert [float(r["qwot"]) for r in rows] == pytest.approx([r["qwot"] for r in doc["layers"]], rel=1e-15)


def test_layer_table_defaults_to_the_designs_reference_and_draws_the_stack(tmp_path, capsys):
    path = write(tmp_path, "d.json", {"incident": "air", "substrate": "N-BK7", "reference_nm": 600,
                                      "layers": [{"material": "TiO2", "qwot": 1}, {"material": "SiO2", "qwot": 3}]})
    doc = run_json(capsys, ["layers", path, "--json"])
    assert doc["reference_nm"] == 600 and [r["qwot"] for r in doc["layers"]] == pytest.approx([1, 3], rel=1e-14)
    assert main(["layers", path, "--plot", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert "QWOT" in out and "3.0000" in out and (tmp_path / "s.png").stat().st_size > 5_000


def test_a_reference_outside_the_data_is_refused(tmp_path, capsys):
    path = write(tmp_path, "d.json", {"incident": "air", "substrate": "N-BK7",
                                      "layers": [{"material": "TiO2", "thickness_nm": 50}]})
    err = refused(capsys, ["layers", path, "--reference", "250"])
    assert "--reference" in err and "TiO2" in err and "300-1690 nm" in err
    assert "--reference" in refused(capsys, ["layers", path, "--reference", "nan"])


# --- the classic notation ------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ("(HL)^3 H", [("H", 1), ("L", 1)] * 3 + [("H", 1)]),
    ("H 2L H", [("H", 1), ("L", 2), ("H", 1)]),
    ("(HL)^2 (LH)^2", [("H", 1), ("L", 1), ("H", 1), ("L", 2), ("H", 1), ("L", 1), ("H", 1)]),
    ("0.5L H 0.5L", [("L", 0.5), ("H", 1), ("L", 0.5)]),
    ("((HL)^2 M)^2", [("H", 1), ("L", 1), ("H", 1), ("L", 1), ("M", 1)] * 2),
    ("H^3 L", [("H", 3), ("L", 1)]),
    ("  ( H L ) ^ 2  ", [("H", 1), ("L", 1)] * 2)])
def test_formulas_spell_out_quarter_wave_layers(formula, expected):
    names = {"H": "TiO2", "L": "SiO2", "M": "Al2O3"}
    obj = notation.from_formula(formula, names, 550.0, "air", "N-BK7")
    assert obj["reference_nm"] == 550.0 and (obj["incident"], obj["substrate"]) == ("air", "N-BK7")
    want = [(names[x], q * 550 / (4 * LIB[names[x]].nk(np.array([550.0]))[0].real)) for x, q in expected]
    assert [(layer["material"], layer["thickness_nm"]) for layer in obj["layers"]] == \
        [(m, pytest.approx(d, rel=1e-14)) for m, d in want]


def test_formula_through_the_command_line(tmp_path, capsys):
    doc = run_json(capsys, ["layers", "--formula", "(HL)^7 H", "--high", "TiO2", "--low", "SiO2"])
    assert len(doc["layers"]) == 15 and doc["reference_nm"] == 550  # printed: the design itself
    d = design_mod.parse(doc, "printed")
    assert [r["qwot"] for r in notation.layer_table(d, 550.0)["layers"]] == pytest.approx([1.0] * 15, rel=1e-13)
    out = str(tmp_path / "fp.json")
    table = run_json(capsys, ["layers", "--formula", "(HL)^2 2L (HL)^2", "--high", "2.35", "--low", "1.38",
                              "--substrate", "SiO2", "--reference", "600", "--out", out, "--json"])
    written = json.loads(open(out).read())
    assert written["substrate"] == "SiO2" and written["layers"][0]["material"] == {"name": "H", "n": 2.35}
    assert [r["qwot"] for r in table["layers"]] == pytest.approx([1, 1, 1, 3, 1, 1, 1, 1], rel=1e-13)
    assert table["layers"][3]["thickness_nm"] == pytest.approx(3 * 600 / (4 * 1.38), rel=1e-14)


@pytest.mark.parametrize("formula, words", [
    ("(HL^7 H", "never closed"), ("HL)^7", "closes no group"), ("H^", "whole number"), ("H^2.5", "whole number"),
    ("H^0", "^0"), ("^3H", "follows no layer"), ("2(HL)", "not followed by a layer letter"),
    ("0H", "not > 0"), ("HXL", "'X' is not a layer letter"), ("H+L", "'+' is not part"), ("", "no layer"),
    ("()", "empty group"), ("(HL)^600", "more than 1000 layers"), ("((HL)^1000)^1000000000", "more than 1000 layers")])
def test_malformed_formulas_are_refused_with_one_sentence(capsys, formula, words):
    err = refused(capsys, ["layers", "--formula", formula, "--high", "TiO2", "--low", "SiO2"])
    assert err.startswith(f"error: --formula: is '{formula}', which is malformed") and words in err


def test_formula_options_are_checked(tmp_path, capsys):
    assert "--medium: is missing" in refused(capsys, ["layers", "--formula", "HML", "--high", "TiO2", "--low",
                                                     "SiO2"])
    assert "--high" in refused(capsys, ["layers", "--formula", "HL", "--high", "Unobtainium", "--low", "SiO2"])
    assert "--low" in refused(capsys, ["layers", "--formula", "HL", "--high", "TiO2", "--low", "-1.4"])
    err = refused(capsys, ["layers", "--formula", "HL", "--high", "TiO2", "--low", "SiO2", "--reference", "2000"])
    assert "--reference: is 2000 nm" in err and "--high 'TiO2'" in err
    path = write(tmp_path, "d.json", {"substrate": "N-BK7", "layers": []})
    assert "one of them" in refused(capsys, ["layers", path, "--formula", "HL", "--high", "TiO2", "--low", "SiO2"])
    assert "--high: is given without --formula" in refused(capsys, ["layers", path, "--high", "TiO2"])
    assert "DESIGN.json: is missing" in refused(capsys, ["layers"])
