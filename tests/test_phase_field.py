"""Phase, group delay and field profile against tmm 0.2.0, closed forms and the command line.

Conventions checked here (see domains/photonics/analysis.py): exp(-iwt) as in tmm, amplitudes of
the tangential fields, so r_p = -r_p(tmm) and t_p = t_p(tmm) cos(theta_sub) / cos(theta_0).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from domains.photonics import analysis, design
from specialist.cli import main

tmm = pytest.importorskip("tmm")

C = analysis.C_NM_PER_FS
WL7 = np.linspace(420.0, 780.0, 7)  # one grid shared by most tests: each solver shape compiles once
H, L = {"name": "H", "n": 2.35}, {"name": "L", "n": 1.46}
QW = {"incident": "air", "substrate": {"name": "glass", "n": 1.52},
      "layers": [{"material": m, "thickness_nm": 550 / (4 * m["n"])} for m in [H, L] * 4 + [H]]}
METAL = {"incident": "air", "substrate": "N-BK7",
         "layers": [{"material": "HfO2", "thickness_nm": 120.0}, {"material": "SiO2", "thickness_nm": 200.0},
                    {"material": "Ag", "thickness_nm": 20.0}, {"material": "SiO2", "thickness_nm": 90.0}]}
INLINE_CR = {"incident": {"name": "oil", "n": 1.33}, "substrate": {"name": "sub", "n": 1.7, "k": 0.02},
             "layers": [{"material": H, "thickness_nm": 85.0}, {"material": "Cr", "thickness_nm": 8.0},
                        {"material": L, "thickness_nm": 310.0}]}


def stack(d: design.Design, wl: float):
    """tmm's n_list and d_list of a design at one wavelength."""
    media = [d.incident] + [m for m, _ in d.layers] + [d.substrate]
    return [m.nk(np.array([wl]))[0] for m in media], [np.inf] + [t for _, t in d.layers] + [np.inf]


def tmm_rt(d: design.Design, pol: str, angle: float, wl: float):
    """tmm's r and t mapped to the tangential-field convention."""
    o = tmm.coh_tmm(pol, *stack(d, wl), np.radians(angle), wl)
    if pol == "s":
        return o["r"], o["t"]
    th = o["th_list"]
    return -o["r"], o["t"] * np.cos(th[-1]) / np.cos(th[0])


@pytest.mark.parametrize("obj", [METAL, INLINE_CR, QW], ids=["metal", "inline-cr", "qw"])
@pytest.mark.parametrize("pol", ["s", "p"])
def test_amplitudes_match_tmm(obj, pol):
    d = design.parse(obj)
    wl = WL7
    for angle in (0.0, 35.0, 65.0):
        out = analysis.phase(d, wl, angle, pol)
        ref = np.array([tmm_rt(d, pol, angle, w) for w in wl])
        np.testing.assert_allclose(out["r"], ref[:, 0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(out["t"], ref[:, 1], rtol=0, atol=1e-9)
        np.testing.assert_allclose(out["r_phase_deg"], np.degrees(np.angle(ref[:, 0])), atol=1e-7)
        np.testing.assert_allclose(out["R"], np.abs(ref[:, 0]) ** 2, atol=1e-12)


def test_s_and_p_agree_at_normal_incidence():
    d = design.parse(METAL)
    s, p = (analysis.phase(d, WL7, 0.0, pol) for pol in "sp")  # WL7: the shapes compiled above
    for key in ("r", "t", "r_gd_fs", "t_gdd_fs2"):
        np.testing.assert_allclose(s[key], p[key], atol=1e-12)


@pytest.mark.parametrize("pol", ["s", "p"])
def test_group_delay_matches_finite_differences_of_tmm_phase(pol):
    """Dispersive library materials and a metal: 5-point differences of tmm's unwrapped phase in w."""
    d = design.parse({**METAL, "layers": METAL["layers"] * 3})
    wl = np.array([450.0, 532.0, 633.0])
    out = analysis.phase(d, wl, 30.0, pol)
    for i, w0 in enumerate(analysis.omega(wl)):
        h = 3e-4 * w0
        amps = np.array([tmm_rt(d, pol, 30.0, analysis.omega(w0 + k * h)) for k in range(-2, 3)])
        ph = np.unwrap(np.angle(amps), axis=0)
        gd = (-ph[4] + 8 * ph[3] - 8 * ph[1] + ph[0]) / (12 * h)
        gdd = (-ph[4] + 16 * ph[3] - 30 * ph[2] + 16 * ph[1] - ph[0]) / (12 * h * h)
        np.testing.assert_allclose([out["r_gd_fs"][i], out["t_gd_fs"][i]], gd, rtol=1e-6, atol=5e-6)
        np.testing.assert_allclose([out["r_gdd_fs2"][i], out["t_gdd_fs2"][i]], gdd, rtol=1e-5, atol=1e-4)


def test_single_layer_reflection_phase_gd_gdd_closed_form():
    """Airy: r = (r01 + r12 e^{2i delta}) / (1 + r01 r12 e^{2i delta}), delta = w n d / c."""
    n0, n1, n2, d1 = 1.0, 2.1, 1.5, 300.0
    d = design.parse({"incident": "air", "substrate": {"name": "s", "n": n2},
                      "layers": [{"material": {"name": "x", "n": n1}, "thickness_nm": d1}]})
    wl = np.linspace(400.0, 800.0, 41)
    out = analysis.phase(d, wl, 0.0, "s")
    r01, r12 = (n0 - n1) / (n0 + n1), (n1 - n2) / (n1 + n2)
    delta = analysis.omega(wl) * n1 * d1 / C
    e = np.exp(2j * delta)
    np.testing.assert_allclose(out["r"], (r01 + r12 * e) / (1 + r01 * r12 * e), atol=1e-13)

    def g(b, a):  # d arg(a + b e^{2i delta}) / d delta, and its derivative
        den = a * a + b * b + 2 * a * b * np.cos(2 * delta)
        return (2 * (b * b + a * b * np.cos(2 * delta)) / den,
                -4 * a * b * np.sin(2 * delta) * (a * a - b * b) / den ** 2)

    (num1, num2), (den1, den2) = g(r12, r01), g(r01 * r12, 1.0)
    rate = n1 * d1 / C  # d delta / d w [fs]
    np.testing.assert_allclose(out["r_gd_fs"], rate * (num1 - den1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out["r_gdd_fs2"], rate ** 2 * (num2 - den2), rtol=1e-9, atol=1e-10)


def test_quarter_wave_stack_centre_phase_is_180_and_gd_symmetric_in_frequency():
    """(HL)^4 H on glass at its centre: r = (1 - Y)/(1 + Y) < 0, Y = (nH/nL)^8 nH^2/n_s, phase 180 deg."""
    d = design.parse(QW)
    w0 = analysis.omega(550.0)
    x = np.array([0.0, 0.05, 0.1, 0.2])  # 7 frequencies: the shape of WL7
    wl = analysis.omega(np.concatenate([w0 * (1 - x[::-1]), w0 * (1 + x[1:])]))
    out = analysis.phase(d, wl, 0.0, "s")
    centre = len(x) - 1
    y = (2.35 / 1.46) ** 8 * 2.35 ** 2 / 1.52
    assert out["r"][centre].real == pytest.approx((1 - y) / (1 + y), abs=1e-12)
    assert abs(out["r_phase_deg"][centre]) == pytest.approx(180.0, abs=1e-8)
    gd, gdd = out["r_gd_fs"], out["r_gdd_fs2"]
    np.testing.assert_allclose(gd[:centre][::-1], gd[centre + 1:], rtol=1e-10)
    np.testing.assert_allclose(gdd[:centre][::-1], -gdd[centre + 1:], rtol=1e-9, atol=1e-9)
    assert abs(gdd[centre]) < 1e-9 and gd[centre] > 0


def test_bare_dispersive_interface_has_no_group_delay():
    out = analysis.phase(design.parse({"incident": "air", "substrate": "N-BK7", "layers": []}),
                         np.linspace(400, 700, 4))
    np.testing.assert_allclose(out["r_phase_deg"], 180.0)
    np.testing.assert_allclose(np.concatenate([out[k] for k in ("r_gd_fs", "t_gd_fs", "r_gdd_fs2")]), 0, atol=1e-12)


@pytest.mark.parametrize("pol", ["s", "p"])
def test_field_matches_tmm_position_resolved(pol):
    d = design.parse(METAL)
    out = analysis.field(d, 550.0, 50.0, pol, 3.7)
    n_list, d_list = stack(d, 550.0)
    coh = tmm.coh_tmm(pol, n_list, d_list, np.radians(50.0), 550.0)
    for z, value in zip(out["depth_nm"][::3], out["intensity"][::3]):
        layer, dist = tmm.find_in_structure_with_inf(d_list, z) if z >= 0 else (0, z)
        f = tmm.position_resolved(layer, dist, coh)
        assert value == pytest.approx(abs(f["Ex"]) ** 2 + abs(f["Ey"]) ** 2 + abs(f["Ez"]) ** 2, abs=1e-10)
    assert out["R"] == pytest.approx(coh["R"], abs=1e-12) and out["T"] == pytest.approx(coh["T"], abs=1e-12)


def test_field_quarter_wave_front_surface_and_continuity():
    d = design.parse(QW)
    out = analysis.field(d, 550.0, 0.0, "s", 0.5)
    y = (2.35 / 1.46) ** 8 * 2.35 ** 2 / 1.52
    r = (1 - y) / (1 + y)
    at_zero = np.flatnonzero(out["depth_nm"] == 0.0)[0]
    assert out["intensity"][at_zero] == pytest.approx((1 + r) ** 2, rel=1e-9)
    oblique = analysis.field(d, 550.0, 40.0, "s", 0.01)  # s: E is tangential, continuous with its slope
    z, e2 = oblique["depth_nm"], oblique["intensity"]
    for _, start, _ in oblique["layers"][1:]:
        k = np.searchsorted(z, start)
        assert abs(e2[k] - e2[k - 1]) <= abs(e2[k - 1] - e2[k - 2]) + abs(e2[k + 1] - e2[k]) + 1e-9


def test_field_bare_substrate_closed_form():
    """Incident side: |1 + r e^{-2ikz}|^2; substrate: |t|^2 e^{-4 pi k z / lambda} with t = 2 n0 / (n0 + N)."""
    ns = 1.5 + 0.01j
    out = analysis.field(design.parse({"incident": "air", "substrate": {"name": "s", "n": 1.5, "k": 0.01},
                                       "layers": []}), 600.0, 0.0, "p", 2.0)
    z, e2 = out["depth_nm"], out["intensity"]
    r, t = (1 - ns) / (1 + ns), 2 / (1 + ns)
    front = z < 0
    np.testing.assert_allclose(e2[front], np.abs(1 + r * np.exp(-4j * np.pi * z[front] / 600.0)) ** 2, rtol=1e-12)
    np.testing.assert_allclose(e2[~front], np.abs(t) ** 2 * np.exp(-4 * np.pi * 0.01 * z[~front] / 600.0), rtol=1e-12)
    assert out["T"] == pytest.approx(1.5 * abs(t) ** 2, rel=1e-12)  # T = Re(N_s) |t|^2 / n0, n0 = 1


def test_thick_substrate_is_taken_as_semi_infinite():
    semi = analysis.field(design.parse(METAL), 600.0, 20.0, "p", 5.0)
    thick = analysis.field(design.parse({**METAL, "substrate_thickness_mm": 1.0}), 600.0, 20.0, "p", 5.0)
    np.testing.assert_array_equal(semi["intensity"], thick["intensity"])


# --- command line ----------------------------------------------------------------------------

def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def test_phase_cli_json_csv_plot(tmp_path, capsys):
    path, csv, png = write(tmp_path, "qw.json", QW), tmp_path / "p.csv", tmp_path / "p.png"
    assert main(["phase", path, "--wavelengths", "450:650:7", "--angle", "10", "--polarization", "p", "--json",
                 "--csv", str(csv), "--plot", str(png)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"wavelength_nm", "angle_deg", "polarization", "r_phase_deg", "t_phase_deg", "r_gd_fs",
                        "t_gd_fs", "r_gdd_fs2", "t_gdd_fs2", "R", "T"}
    assert doc["angle_deg"] == 10 and doc["polarization"] == "p"
    assert all(len(v) == 7 and np.all(np.isfinite(v)) for k, v in doc.items() if isinstance(v, list))
    assert all(-180 < x <= 180 for x in doc["r_phase_deg"] + doc["t_phase_deg"])
    assert len(csv.read_text().splitlines()) == 8
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["phase", path, "--wavelengths", "550"]) == 0  # one wavelength: exact derivatives still
    text = " ".join(capsys.readouterr().out.split())
    assert "550.0 0.9759 0.0241 180.0 90.0" in text and "s polarization, 0 deg incidence, air → 9 layers" in text


def test_phase_cli_undefined_phase_is_null(tmp_path, capsys):
    matched = {"incident": "air", "substrate": "air", "layers": []}
    assert main(["phase", write(tmp_path, "m.json", matched), "--wavelengths", "500:600:3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["r_phase_deg"] == [None] * 3 and doc["t_phase_deg"] == [0.0] * 3 and doc["R"] == [0.0] * 3


def test_field_cli_json_csv_plot(tmp_path, capsys):
    path, csv, png = write(tmp_path, "qw.json", QW), tmp_path / "f.csv", tmp_path / "f.png"
    assert main(["field", path, "--wavelength", "550", "--step", "2", "--json", "--csv", str(csv),
                 "--plot", str(png)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"wavelength_nm", "angle_deg", "polarization", "depth_nm", "intensity", "layers", "R", "T"}
    assert doc["depth_nm"][0] == -100 and doc["depth_nm"][-1] > doc["layers"][-1]["end_nm"] + 98
    assert len(doc["layers"]) == 9 and doc["layers"][0] == {"material": "H", "start_nm": 0.0,
                                                            "end_nm": pytest.approx(550 / 9.4)}
    assert np.all(np.isfinite(doc["intensity"])) and len(doc["intensity"]) == len(doc["depth_nm"])
    assert len(csv.read_text().splitlines()) == len(doc["depth_nm"]) + 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["field", path, "--wavelength", "550", "--step", "5"]) == 0
    assert "peak" in capsys.readouterr().out


@pytest.mark.parametrize("argv, option", [
    (["phase", "{bk7}", "--wavelengths", "100:200:3"], "layers[0].material"),
    (["phase", "{bk7}", "--wavelengths", "-5:500:3"], "--wavelengths"),
    (["phase", "{bk7}", "--angle", "95"], "--angle"),
    (["phase", "{bk7}", "--plot", "x.jpg"], "--plot"),
    (["field", "{bk7}", "--wavelength", "-550"], "--wavelength"),
    (["field", "{bk7}", "--wavelength", "5000"], "substrate"),
    (["field", "{bk7}", "--wavelength", "550", "--step", "0"], "--step"),
    (["field", "{bk7}", "--wavelength", "550", "--step", "-1"], "--step"),
    (["field", "{bk7}", "--wavelength", "550", "--step", "1e-5"], "--step"),
])
def test_bad_input_exits_2_with_one_sentence(tmp_path, capsys, argv, option):
    path = write(tmp_path, "bk7.json", {"incident": "air", "substrate": "N-BK7",
                                        "layers": [{"material": "SiO2", "thickness_nm": 100.0}]})
    assert main([a.replace("{bk7}", path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and option in err
