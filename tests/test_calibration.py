"""Calibration against a virtual lab: hidden film index offsets and run thickness errors.

The lab makes random designs (2-12 layers of four library films on N-BK7) in six deposition
runs, each run off in thickness by up to ±3 %, every film off in index by up to ±0.02, and
measures R and T with Gaussian noise (σ = 0.002) at several angles and polarizations. Samples on
a 1 mm substrate (back side included) take a second compiled solver, so only the slow test has them.
"""

from __future__ import annotations

import numpy as np
import pytest

from domains.photonics import calibration, design as design_mod, spectra
from domains.photonics.plugin import PhotonicsDomain
from experiments import measurements
from specialist.domain import Spec
from specialist.store import Store

DOMAIN = PhotonicsDomain()

FILMS = ("TiO2", "SiO2", "Al2O3", "MgF2")
HIDDEN_DN = {"TiO2": 0.018, "SiO2": -0.012, "Al2O3": 0.009, "MgF2": -0.015}
SIGMA = 0.002
WAVELENGTHS = np.linspace(400.0, 800.0, 81)
SETUPS = ((0.0, "avg"), (45.0, "s"), (30.0, "p"))  # (angle, polarization)


def virtual_lab(seed: int, runs: int = 6, per_run: int = 2, thick_every: int = 0) -> tuple[list, dict]:
    """(design JSON, measurement) pairs and the hidden thickness scale of each run; every
    ``thick_every``-th sample (if > 0) is on a 1 mm substrate."""
    rng = np.random.default_rng(seed)
    scales = {f"run-{r}": float(1 + rng.uniform(-0.03, 0.03)) for r in range(runs)}
    samples = []
    for i in range(runs * per_run):
        films = rng.choice(FILMS, int(rng.integers(2, 13)))
        obj = {"incident": "air", "substrate": "N-BK7",
               "layers": [{"material": str(f), "thickness_nm": float(rng.uniform(20, 200))} for f in films]}
        if thick_every and i % thick_every == thick_every - 1:
            obj["substrate_thickness_mm"] = 1.0
        angle, pol = SETUPS[i % len(SETUPS)]
        samples.append((obj, {"wavelength_nm": WAVELENGTHS.tolist(), "angle_deg": angle, "polarization": pol,
                              "run": f"run-{i // per_run}"}))
    hidden = {"delta_n": HIDDEN_DN, "thickness_scale": scales}
    for (angle, pol) in SETUPS:  # one solver call per setup: the truth as made, then noise
        idx = [i for i, (_, m) in enumerate(samples) if (m["angle_deg"], m["polarization"]) == (angle, pol)]
        made = [calibration.apply(design_mod.parse(samples[i][0]), hidden, samples[i][1]["run"]) for i in idx]
        truth = spectra.simulate(made, WAVELENGTHS, [angle], pol)
        for b, i in enumerate(idx):
            for q in ("R", "T"):
                samples[i][1][q] = (truth[q][b, 0] + rng.normal(0.0, SIGMA, WAVELENGTHS.size)).tolist()
    return samples, scales


def stored(samples: list, folder) -> Store:
    store = Store(folder / "store.sqlite")
    store.put_many([("results", {"sha256": f"{i:064x}", "name": f"s{i}.csv", "sample_id": f"s{i}",
                                 "design": obj, "measurement": m, "verdict": {}})
                    for i, (obj, m) in enumerate(samples)])
    return store


@pytest.fixture(scope="module")
def lab_store(tmp_path_factory):
    samples, scales = virtual_lab(seed=7)
    return stored(samples, tmp_path_factory.mktemp("cal")), samples, scales


def test_calibration_recovers_hidden_offsets_and_cuts_rms(lab_store, metrics):
    store, _, scales = lab_store
    cal = measurements.calibrate(store, DOMAIN)
    assert cal["version"] == 1 and cal["measurements"] == 12
    _check_recovered(cal, scales)
    row = store.get("calibrations", 1)
    assert row["rms_before"] == cal["rms_before"] and row["body"]["delta_n"] == cal["delta_n"]
    metrics["calibration delta_n recovered vs hidden"] = {
        n: f"{cal['delta_n'][n]:+.5f} vs {HIDDEN_DN[n]:+.3f} (se {cal['stderr']['delta_n'][n]:.5f})"
        for n in HIDDEN_DN}
    metrics["calibration thickness scale max error"] = max(
        abs(cal["thickness_scale"][r] - s) for r, s in scales.items())
    metrics["calibration rms before -> after"] = f"{cal['rms_before']:.5f} -> {cal['rms_after']:.5f}"


@pytest.mark.slow
def test_calibration_with_thick_substrates(tmp_path):
    samples, scales = virtual_lab(seed=3, thick_every=3)
    _check_recovered(measurements.calibrate(stored(samples, tmp_path), DOMAIN), scales)


def _check_recovered(cal: dict, scales: dict) -> None:
    # Tolerance: 4 Gauss-Newton standard errors (σ²(JᵀJ)⁻¹, σ from the residuals), each of which
    # must itself be small; over ten parameters a 4σ miss by chance has odds of about 1 in 1600.
    for name, hidden in HIDDEN_DN.items():
        err, se = abs(cal["delta_n"][name] - hidden), cal["stderr"]["delta_n"][name]
        assert se < 5e-4 and err <= 4 * se, (name, cal["delta_n"][name], hidden, se)
    for run, hidden in scales.items():
        err, se = abs(cal["thickness_scale"][run] - hidden), cal["stderr"]["thickness_scale"][run]
        assert se < 5e-4 and err <= 4 * se, (run, cal["thickness_scale"][run], hidden, se)
    assert cal["rms_after"] * 5 <= cal["rms_before"]
    assert cal["rms_after"] == pytest.approx(SIGMA, rel=0.1)  # down to the noise, no further


def test_verdicts_apply_the_latest_calibration(lab_store):
    store, samples, _ = lab_store
    if measurements.latest_calibration(store) is None:
        measurements.calibrate(store, DOMAIN)
    again = measurements.calibrate(store, DOMAIN)  # same shapes: no new compilation
    assert again["version"] == measurements.latest_calibration(store)["version"] >= 2
    obj, m = samples[0]
    raw = DOMAIN.judge(obj, m)
    judged = measurements.Judge(store, DOMAIN)(obj, m)
    assert raw["calibration"] is None and judged["calibration"] == again["version"]
    assert judged["rms_all"] == pytest.approx(SIGMA, rel=0.25)
    assert raw["rms_all"] > 3 * judged["rms_all"]
    assert set(judged["rms"]) == {"R", "T"} and judged["points"] == 2 * WAVELENGTHS.size


def test_apply_shifts_layer_index_and_scales_thickness():
    obj = {"incident": "air", "substrate": {"name": "H", "n": 2.0},
           "layers": [{"material": {"name": "H", "n": 2.0}, "thickness_nm": 80.0},
                      {"material": "SiO2", "thickness_nm": 100.0}]}
    cal = {"delta_n": {"H": 0.05}, "thickness_scale": {"r1": 1.1}}
    made = calibration.apply(design_mod.parse(obj), cal, "r1")
    expected = {**obj, "layers": [{"material": {"name": "H2", "n": 2.05}, "thickness_nm": 88.0},
                                  {"material": "SiO2", "thickness_nm": 110.0}]}
    wl = np.linspace(400, 700, 7)
    got = spectra.simulate([made], wl)["R"]
    want = spectra.simulate([design_mod.parse(expected)], wl)["R"]
    np.testing.assert_allclose(got, want, atol=1e-12)  # the substrate of the same name is not shifted
    assert calibration.apply(design_mod.parse(obj), None) == design_mod.parse(obj)
    unknown_run = calibration.apply(design_mod.parse(obj), cal, "r9")
    assert [d for _, d in unknown_run.layers] == [80.0, 100.0]


def test_calibrate_without_results_stores_nothing(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    assert measurements.calibrate(store, DOMAIN) is None
    assert store.count("calibrations") == 0


def test_a_domain_without_measurements_is_named(tmp_path):
    class Plain:
        spec = Spec("plain", vocab_size=4, max_tokens=4, cond_dim=1)

    store = Store(tmp_path / "store.sqlite")
    for call in (lambda: measurements.Judge(store, Plain()), lambda: measurements.calibrate(store, Plain())):
        with pytest.raises(TypeError, match="domain 'plain' offers no"):
            call()
