"""The material library against published reference values (shared/data/dispersion.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domains.photonics import design, materials, spectra
from specialist.errors import InputError

LIB = materials.library()


def n_at(name, wl_nm):
    return complex(LIB[name].nk(np.array([float(wl_nm)]))[0])


# n at 550 nm as printed in dispersion.md, checked to the printed precision.
@pytest.mark.parametrize("name, n550, tol", [
    ("SiO2", 1.4599, 1e-4), ("N-BK7", 1.5185, 1e-4), ("MgF2", 1.3785, 1e-4),
    ("Al2O3", 1.7705, 1e-4), ("Si3N4", 2.052, 1e-3), ("HfO2", 1.902, 1e-3),
    ("TiO2", 2.164, 1e-3)])
def test_index_at_550nm(name, n550, tol):
    nk = n_at(name, 550)
    assert abs(nk.real - n550) <= tol, nk
    assert nk.imag == 0


@pytest.mark.parametrize("name, values", [
    ("Ta2O5", (2.247, 2.157, 2.124, 2.099)),
    ("Nb2O5", (2.544, 2.360, 2.301, 2.258))])
def test_measured_film_tables(name, values):
    for wl, n in zip((400, 550, 700, 1000), values):
        assert abs(n_at(name, wl).real - n) <= 1e-3, (name, wl, n_at(name, wl))


def test_amorphous_silicon():
    for wl, n, k, tol in ((550, 4.389, 0.771, 1e-3), (700, 4.068, 0.251, 1e-3),
                          (1000, 3.639, 0.0, 1e-3)):
        nk = n_at("a-Si", wl)
        assert abs(nk.real - n) <= tol and abs(nk.imag - k) <= tol, (wl, nk)


# The formulas with the coefficients exactly as dispersion.md prints them (lambda in um), evaluated
# independently of the library's evaluators; the library must reproduce them to rounding.
def _sellmeier1(C1, terms):
    return lambda l: math.sqrt(1 + C1 + sum(B * l * l / (l * l - C * C) for B, C in terms))


def _sellmeier2(C1, terms):
    return lambda l: math.sqrt(1 + C1 + sum(B * l * l / (l * l - C) for B, C in terms))


FORMULAS = {
    "SiO2": _sellmeier1(0, [(0.6961663, 0.0684043), (0.4079426, 0.1162414), (0.8974794, 9.896161)]),
    "N-BK7": _sellmeier2(0, [(1.03961212, 0.00600069867), (0.231792344, 0.0200179144),
                             (1.01046945, 103.560653)]),
    "MgF2": _sellmeier1(0, [(0.48755108, 0.04338408), (0.39875031, 0.09461442),
                            (2.3120353, 23.793604)]),
    "Al2O3": _sellmeier1(0, [(1.023798, 0.06144821), (1.058264, 0.1106997), (5.280792, 17.92656)]),
    "Si3N4": _sellmeier1(0, [(3.0249, 0.1353406), (40314, 1239.842)]),
    "HfO2": lambda l: 1.875 + 6.28e-3 / l ** 2 + 5.80e-4 / l ** 4,
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_formula_materials_follow_published_coefficients(name):
    lo, hi = LIB[name].valid_nm
    wl = np.geomspace(lo, hi, 50)
    got = LIB[name].nk(wl)
    want = np.array([FORMULAS[name](x / 1000) for x in wl])
    assert np.allclose(got.real, want, rtol=1e-13, atol=0)
    assert np.all(got.imag == 0)


@pytest.mark.parametrize("name", sorted(LIB))
def test_every_material_is_documented_and_passive(name):
    m = LIB[name]
    assert m.name == name and isinstance(m.reference, str) and m.reference.strip()
    lo, hi = m.valid_nm
    assert 0 < lo < hi and math.isfinite(hi)
    wl = np.concatenate([np.geomspace(lo, hi, 2001), [lo, hi]])
    nk = m.nk(wl)
    assert nk.shape == wl.shape and nk.dtype == np.complex128
    assert np.all(np.isfinite(nk))
    assert np.all(nk.real > 0), name
    assert np.all(nk.imag >= 0), (name, nk.imag.min())


@pytest.mark.parametrize("name", sorted(LIB))
def test_outside_the_valid_range_is_an_error(name):
    m = LIB[name]
    lo, hi = m.valid_nm
    for bad in (lo * 0.999, hi * 1.001, math.nan):
        with pytest.raises(InputError) as err:
            m.nk(np.array([0.5 * (lo + hi), bad]))
        message = str(err.value)
        assert name in message, message
        assert f"{lo:g}-{hi:g} nm" in message, message


def test_out_of_range_through_simulate_names_the_design_and_field():
    d = design.parse({"incident": "air", "substrate": "N-BK7",
                      "layers": [{"material": "TiO2", "thickness_nm": 50.0}]}, "coat.json")
    with pytest.raises(InputError) as err:
        spectra.simulate([d], np.array([500.0, 2000.0]), sources=["coat.json"])
    message = str(err.value)
    assert "coat.json" in message and "layers[0].material" in message and "TiO2" in message
    assert "300-1690 nm" in message, message


def test_unknown_material_lists_known_names():
    with pytest.raises(InputError) as err:
        materials.parse("Unobtainium", "goal.json", "materials[0]")
    message = str(err.value)
    assert "goal.json" in message and "materials[0]" in message and "Unobtainium" in message
    for name in LIB:
        assert name in message, name


def test_inline_materials():
    m = materials.parse({"name": "H", "n": 2.35, "k": 0.01}, "goal.json", "materials[1]")
    wl = np.array([1.0, 550.0, 1e7])  # non-dispersive and valid at every wavelength
    assert np.array_equal(m.nk(wl), np.full(3, 2.35 + 0.01j))
    assert materials.parse({"name": "L", "n": 1.38}, "g", "m").nk(wl)[0] == 1.38 + 0j
    # Inline and library materials are interchangeable in a design.
    inline_air = design.parse({"incident": {"name": "vac", "n": 1.0}, "substrate": "N-BK7",
                               "layers": [{"material": {"name": "L", "n": 1.38},
                                           "thickness_nm": 99.6}]}, "a")
    lib_air = design.parse({"incident": "air", "substrate": "N-BK7",
                            "layers": [{"material": {"name": "L", "n": 1.38},
                                        "thickness_nm": 99.6}]}, "b")
    wl = np.array([450.0, 550.0, 650.0])
    r1, r2 = (spectra.simulate([d], wl, (0.0, 45.0))["R"] for d in (inline_air, lib_air))
    assert np.allclose(r1, r2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("spec", [
    {"name": "bad", "n": 0.0}, {"name": "bad", "n": -1.5}, {"name": "bad", "n": 1.5, "k": -0.1},
    {"name": "bad", "n": math.nan}, {"name": "bad", "n": math.inf}, {"name": "bad", "n": True},
    {"name": "bad", "n": "1.5"}, {"name": "bad", "n": 1.5, "colour": "red"}, {"n": 1.5},
    42, None, ["SiO2"]])
def test_bad_inline_materials_are_input_errors(spec):
    with pytest.raises(InputError) as err:
        materials.parse(spec, "goal.json", "materials[2]")
    assert "goal.json" in str(err.value) and "materials[2]" in str(err.value)
