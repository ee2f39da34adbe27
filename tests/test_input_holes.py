"""Inputs that used to slip through (issue 14): each is now one sentence naming the file or
option and the field, with exit status 2, and no command prints NaN."""

from __future__ import annotations

import argparse
import json

import pytest

from specialist.cli import io
from specialist.cli.registry import main
from tests.test_cli import DESIGN, GOAL, write


def refused(capsys, argv, *expected) -> str:
    """Run ``argv``; assert exit 2, a one-line sentence holding each of ``expected``, no NaN."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    err = err.strip()
    assert "NaN" not in out and "nan" not in out.lower()
    assert err.startswith("error: ") and err.count("\n") == 0 and err.endswith(".")
    for text in expected:
        assert text in err, err
    return err


# --- 1. designs beyond a thin film's physical bounds ---------------------------------------------

@pytest.mark.parametrize("thickness", [1e100, 1e20, 1e6 + 1])
def test_simulate_refuses_a_layer_thicker_than_1_mm(tmp_path, capsys, thickness):
    design = {**DESIGN, "layers": [{"material": {"name": "H", "n": 2.0}, "thickness_nm": thickness}]}
    path = write(tmp_path, "d.json", design)
    refused(capsys, ["simulate", path, "--wavelengths", "400:700:5", "--json"],
            path, "'layers[0].thickness_nm'", "at most 1000000 nm")


def test_simulate_refuses_more_than_1000_layers(tmp_path, capsys):
    design = {**DESIGN, "layers": [{"material": "SiO2", "thickness_nm": 100.0}] * 10_000}
    path = write(tmp_path, "d.json", design)
    refused(capsys, ["simulate", path, "--wavelengths", "400:700:5", "--json"],
            path, "'layers'", "10000 layers", "at most 1000")


def test_simulate_keeps_a_1_mm_film_finite(tmp_path, capsys):
    design = {**DESIGN, "layers": [{"material": {"name": "H", "n": 2.0}, "thickness_nm": 1e6}]}
    assert main(["simulate", write(tmp_path, "d.json", design), "--wavelengths", "400:700:5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"printed {c}"))
    assert all(abs(a) < 1e-6 for a in doc["A"])  # a lossless film absorbs nothing


def test_emit_never_prints_a_non_finite_number(capsys):
    with pytest.raises(RuntimeError, match="not finite"):
        io.emit(argparse.Namespace(json=True), {"R": [0.1, float("nan")]}, print)
    assert capsys.readouterr().out == ""


# --- 2. and 3. goals ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [50, -1, [0.1] * 60 + [1.5]])
def test_goal_target_value_must_be_a_fraction(tmp_path, capsys, value):
    goal = write(tmp_path, "g.json", {**GOAL, "targets": [{**GOAL["targets"][0], "value": value}]})
    refused(capsys, ["evaluate", goal, write(tmp_path, "d.json", DESIGN)],
            goal, "'targets[0].value'", "fractions in [0, 1], not percent")


def test_goal_refuses_an_absorbing_dispersive_incident_medium(tmp_path, capsys):
    goal = write(tmp_path, "g.json", {**GOAL, "incident": "Ag"})
    refused(capsys, ["evaluate", goal, write(tmp_path, "d.json", {**DESIGN, "incident": "Ag"})],
            goal, "'incident'", "'Ag' absorbs", "lossless")


# --- 4. bench options -----------------------------------------------------------------------------

@pytest.mark.parametrize("tail, option", [(["--limit", "0"], "--limit"), (["--limit=-1"], "--limit"),
                                          (["--seed=-1"], "--seed"), (["--seeds=0,-1"], "--seeds")])
def test_bench_refuses_limits_below_1_and_negative_seeds(tmp_path, capsys, tail, option):
    refused(capsys, ["bench", "--methods", "gradient", "--budgets", "3", *tail,
                     "--data-dir", str(tmp_path / "none")], f"error: {option}", "allowed")


# --- 5. inputs that raised tracebacks -------------------------------------------------------------

def test_deeply_nested_json_is_refused(tmp_path, capsys):
    path = write(tmp_path, "d.json", "[" * 100_000)
    refused(capsys, ["simulate", path], path, "too deeply")


def test_data_dir_naming_a_file_is_refused(tmp_path, capsys):
    path = write(tmp_path, "not-a-dir", "x")
    refused(capsys, ["status", "--data-dir", path], "error: --data-dir", "is a file")


def test_config_that_is_not_utf8_is_refused(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_bytes(b"\xff\xfe[daemon]\x00\x81")
    refused(capsys, ["bench", "--limit", "1", "--config", str(config), "--data-dir", str(tmp_path / "none")],
            str(config), "not UTF-8")


# --- 6. propose reads a data directory, never creates one ----------------------------------------

def test_propose_on_a_missing_data_dir_creates_nothing(tmp_path, capsys):
    typo = tmp_path / "TYPO"
    goal = write(tmp_path, "g.json", GOAL)
    assert main(["propose", goal, "--budget", "2", "--data-dir", str(typo), "--json"]) == 0  # the shipped weights
    assert set(json.loads(capsys.readouterr().out)) >= {"design", "merit"}
    assert not typo.exists()
    import jax  # nor points the compilation cache there (in a warm process nothing new is compiled)
    assert not str(jax.config.jax_compilation_cache_dir or "").startswith(str(typo))


def test_status_json_stays_json_when_a_rolling_figure_is_infinite(tmp_path, capsys):
    from specialist.app import status
    from specialist.store import Store

    store = Store(tmp_path / "store.sqlite")
    store.put("cursors", {"stream": status.CURSOR, "position": {"metrics": {"mean_best_merit": float("inf"),
                                                                            "solve_rate": 0.5}}})
    store.close()
    assert main(["status", "--data-dir", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # strict: Infinity would not parse with the check below
    assert doc["metrics"] == {"mean_best_merit": None, "solve_rate": 0.5}
    assert "Infinity" not in json.dumps(doc)


@pytest.mark.parametrize("toml, field", [
    ("[learner]\nlearning_rate = nan\n", "learner.learning_rate"),
    ("[daemon]\ntemperature = inf\n", "daemon.temperature"),
    ("[daemon]\ngroup = 99999999999999999999\n", "daemon.group"),
    ("[daemon]\ndomain = \"nope\"\n", "daemon.domain"),
    ("[feeds.arxiv]\nsince = \"yesterday\"\n", "feeds.arxiv.since"),
    ("[feeds.arxiv]\nendpoint = \"not a url\"\n", "feeds.arxiv.endpoint"),
])
def test_configuration_values_that_cannot_work_are_refused(tmp_path, capsys, toml, field):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    assert main(["run", "--config", str(path), "--print-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"field '{field}'" in err and str(path) in err


def test_status_of_an_empty_data_directory_says_nothing_runs_and_creates_nothing(tmp_path, capsys):
    assert main(["status", "--data-dir", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["running"] is False and doc["goals"] == 0 and doc["hypotheses_verified"] == 0
    assert not list(tmp_path.iterdir())
    assert main(["status", "--data-dir", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_long_list_of_designs_is_simulated_in_chunks_with_the_same_answer(monkeypatch):
    import numpy as np

    from domains.photonics import design as design_mod, spectra

    designs = [design_mod.parse({"incident": "air", "substrate": "N-BK7",
                                 "layers": [{"material": "TiO2", "thickness_nm": 10.0 + i}]}, "d") for i in range(7)]
    wl = np.linspace(400, 700, 5)
    whole = spectra.simulate(designs, wl)
    calls = []
    real = spectra.run
    monkeypatch.setattr(spectra, "CHUNK", 3)
    monkeypatch.setattr(spectra, "run", lambda packed, *a: calls.append(len(packed.d_BxL)) or real(packed, *a))
    chunked = spectra.simulate(designs, wl)
    assert max(calls) <= 4 and len(calls) == 3  # 3 + 3 + 1 designs (padded to the batch bucket at most)
    assert all(np.array_equal(whole[q], chunked[q]) for q in ("R", "T", "A"))


def test_bench_text_output_has_a_row_per_goal_and_method(tmp_path, capsys):
    goal = write(tmp_path, "g.json", GOAL)
    assert main(["bench", goal, "--methods", "random,gradient", "--budgets", "5,30"]) == 0
    out = capsys.readouterr().out
    assert "per goal (all 2 rows: goal x method)" in out and "random" in out and "gradient" in out and "budget 30" in out


# --- 7. messages that blamed the wrong thing ------------------------------------------------------

@pytest.mark.parametrize("spec", ["inf", "nan", "400:inf:3", "-inf:700:3"])
def test_simulate_refuses_non_finite_wavelengths_naming_the_option(tmp_path, capsys, spec):
    err = refused(capsys, ["simulate", write(tmp_path, "d.json", DESIGN), f"--wavelengths={spec}"],
                  "error: --wavelengths", "not finite", "wavelengths in nm from 1 to 1e6", "start:stop:count")
    assert "incident" not in err


INLINE_DESIGN = {"incident": {"name": "one", "n": 1.0}, "substrate": {"name": "glass", "n": 1.5},
                 "layers": [{"material": {"name": "H", "n": 2.0}, "thickness_nm": 100.0}]}


@pytest.mark.parametrize("tail", [["--wavelengths", "-400:700:3"], ["--wavelengths=-400:700:3"],
                                  ["--wavelengths", "-400"], ["--wavelengths", "-4e2:700:3"]])
def test_simulate_refuses_negative_wavelengths_in_a_sentence(tmp_path, capsys, tail):
    refused(capsys, ["simulate", write(tmp_path, "d.json", DESIGN), *tail, "--json"],
            "error: --wavelengths", "-400 nm", "must be from 1 to 1e6", "start:stop:count")


@pytest.mark.parametrize("spec", ["1e-300", "0.5:700:3", "400:2e6:3", "1e7"])
def test_simulate_refuses_wavelengths_beyond_1_nm_to_1_mm(tmp_path, capsys, spec):
    refused(capsys, ["simulate", write(tmp_path, "d.json", INLINE_DESIGN), f"--wavelengths={spec}", "--json"],
            "error: --wavelengths", "must be from 1 to 1e6")


@pytest.mark.parametrize("incident", ["Ag", {"name": "lossy", "n": 1.5, "k": 0.5}])
@pytest.mark.parametrize("command", ["simulate", "colour", "phase"])
def test_an_absorbing_incident_medium_is_refused_by_every_analysis(tmp_path, capsys, incident, command):
    path = write(tmp_path, "d.json", {**INLINE_DESIGN, "incident": incident})
    refused(capsys, [command, path, "--json"], "error: ", "d.json", "incident", "lossless")


@pytest.mark.parametrize("band, end", [([100, 3000], 100), ([400, 3000], 3000), ([100, 700], 100)])
def test_goal_band_beyond_a_materials_data_names_the_target_and_its_end(tmp_path, capsys, band, end):
    goal = write(tmp_path, "g.json", {**GOAL, "targets": [{**GOAL["targets"][0], "wavelength_nm": band}]})
    err = refused(capsys, ["evaluate", goal, write(tmp_path, "d.json", DESIGN)],
                  f"error: {goal}: field 'targets[0].wavelength_nm' reaches {end} nm, where N-BK7 has no data "
                  "(300-2500 nm)", "allowed: wavelengths inside every material's range")
    assert GOAL["name"] not in err


def test_material_data_error_quotes_the_offending_end():
    import numpy as np

    from domains.photonics import materials

    with pytest.raises(ValueError, match="but 3000 nm was requested"):
        materials.library()["N-BK7"].nk(np.linspace(400, 3000, 61))
    with pytest.raises(ValueError, match="but 100 nm was requested"):
        materials.library()["N-BK7"].nk(np.linspace(100, 3000, 61))


@pytest.mark.parametrize("name, guess", [("Ti02", "TiO2"), ("sio2", "SiO2"), ("TiO", "TiO2"), ("nbk7", "N-BK7")])
def test_unknown_material_close_to_a_known_one_suggests_it(tmp_path, capsys, name, guess):
    design = {**DESIGN, "layers": [{"material": name, "thickness_nm": 100.0}]}
    path = write(tmp_path, "d.json", design)
    refused(capsys, ["simulate", path], path, f"names unknown material '{name}'; did you mean '{guess}'?",
            "known materials: Ag")


def test_unknown_material_far_from_every_known_one_suggests_nothing(tmp_path, capsys):
    path = write(tmp_path, "d.json", {**DESIGN, "layers": [{"material": "Unobtainium", "thickness_nm": 1.0}]})
    assert "did you mean" not in refused(capsys, ["simulate", path], "'Unobtainium'; known materials:")


def test_gradient_starts_fit_a_narrow_thickness_range(tmp_path, capsys):
    """Its thin starts are 20-200 nm cut to the goal's range; a range beside that window is used whole."""
    goal = write(tmp_path, "g.json", {**GOAL, "thickness_nm": [300, 500]})
    assert main(["propose", goal, "--method", "gradient", "--budget", "30", "--json", "--data-dir",
                 str(tmp_path / "d")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all(300 <= layer["thickness_nm"] <= 500 for layer in doc["design"]["layers"])


def test_bench_reports_no_design_as_null_merit(tmp_path, capsys):
    argv = ["bench", write(tmp_path, "g.json", GOAL), "--methods", "gradient", "--budgets", "1", "--data-dir",
            str(tmp_path / "d")]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # strict JSON: no Infinity
    assert doc["results"][0]["merit"] is None and doc["summary"][0]["median_merit"] is None
    assert main(argv) == 0
    assert "inf" not in capsys.readouterr().out
    refused(capsys, [*argv[:2], "--methods", "", "--budgets", "1"], "error: --methods", "comma-separated names")


def test_config_text_round_trips_and_huge_whole_numbers_are_refused(tmp_path, capsys):
    import tomllib

    path = tmp_path / "c.toml"
    path.write_text('[tracking]\nexperiment = "a\\tb\\nc\\u007f\\"q\\\\"\n')
    assert main(["run", "--print-config", "--config", str(path)]) == 0
    assert tomllib.loads(capsys.readouterr().out)["tracking"]["experiment"] == 'a\tb\nc\x7f"q\\'
    path.write_text("[daemon]\ntemperature = 1" + "0" * 400 + "\n")
    refused(capsys, ["run", "--print-config", "--config", str(path)], "c.toml", "daemon.temperature",
            "finite number")
