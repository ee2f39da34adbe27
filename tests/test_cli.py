"""The command line: contracts of --json output, and one-sentence errors with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from specialist.cli import main

DESIGN = {"incident": "air", "substrate": "N-BK7",
          "layers": [{"material": "TiO2", "thickness_nm": 104.2}, {"material": "SiO2", "thickness_nm": 180.0}]}
GOAL = {"name": "ar-visible", "domain": "photonics", "incident": "air", "substrate": "N-BK7",
        "materials": ["SiO2", "TiO2", {"name": "L", "n": 1.38}], "max_layers": 10,
        "thickness_nm": [5, 500], "max_total_thickness_nm": None,
        "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": [400, 700],
                     "points": 61, "relation": "<=", "value": 0.005, "tolerance": 0.002, "weight": 1.0}],
        "solved_below": 1.0}


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_simulate_json_contract(tmp_path, capsys):
    doc = run_json(capsys, ["simulate", write(tmp_path, "d.json", DESIGN), "--wavelengths", "400:700:301", "--json"])
    assert set(doc) == {"wavelength_nm", "R", "T", "A"}
    assert len(doc["R"]) == 301 and doc["wavelength_nm"][0] == 400 and doc["wavelength_nm"][-1] == 700
    assert np.allclose(np.add(doc["R"], doc["T"]) + doc["A"], 1.0)


def test_simulate_list_is_one_document_per_design(tmp_path, capsys):
    bare = {"incident": "air", "substrate": {"name": "glass", "n": 1.52}, "layers": []}
    doc = run_json(capsys, ["simulate", write(tmp_path, "d.json", [DESIGN, bare]), "--wavelengths", "550", "--json"])
    assert isinstance(doc, list) and len(doc) == 2
    assert doc[1]["R"][0] == pytest.approx(((1.52 - 1) / 2.52) ** 2, abs=1e-15)


def test_simulate_angle_and_polarization(tmp_path, capsys):
    path = write(tmp_path, "d.json", DESIGN)
    s = run_json(capsys, ["simulate", path, "--wavelengths", "500:600:3", "--angle", "45", "--polarization", "s", "--json"])
    p = run_json(capsys, ["simulate", path, "--wavelengths", "500:600:3", "--angle", "45", "--polarization", "p", "--json"])
    avg = run_json(capsys, ["simulate", path, "--wavelengths", "500:600:3", "--angle", "45", "--json"])
    assert np.allclose((np.array(s["R"]) + p["R"]) / 2, avg["R"])
    assert not np.allclose(s["R"], p["R"])


def test_evaluate_json_contract(tmp_path, capsys):
    doc = run_json(capsys, ["evaluate", write(tmp_path, "g.json", GOAL), write(tmp_path, "d.json", DESIGN), "--json"])
    assert doc["merit"] > 1 and doc["solved"] is False and doc["rejected"] is None
    assert len(doc["targets"]) == 1 and len(doc["targets"][0]["values"]) == 61


def test_evaluate_accepts_goal_inline_material_by_name(tmp_path, capsys):
    design = {"incident": "air", "substrate": "N-BK7", "layers": [{"material": "L", "thickness_nm": 99.6}]}
    doc = run_json(capsys, ["evaluate", write(tmp_path, "g.json", GOAL), write(tmp_path, "d.json", design), "--json"])
    assert doc["merit"] < 10


def test_evaluate_rejects_a_design_breaking_constraints(tmp_path, capsys):
    design = {"incident": "air", "substrate": "N-BK7", "layers": [{"material": "TiO2", "thickness_nm": 2.0}]}
    assert main(["evaluate", write(tmp_path, "g.json", GOAL), write(tmp_path, "d.json", design), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["merit"] is None and "outside [5, 500]" in doc["rejected"]


def test_materials_json_contract(capsys):
    doc = run_json(capsys, ["materials", "SiO2", "--wavelengths", "400:700:31", "--json"])
    assert set(doc) == {"name", "reference", "valid_nm", "wavelength_nm", "n", "k"}
    assert len(doc["n"]) == 31 and min(doc["k"]) >= 0
    listing = run_json(capsys, ["materials", "--json"])
    assert {"air", "SiO2", "N-BK7", "TiO2", "Ag"} <= {m["name"] for m in listing}
    assert all(set(m) == {"name", "reference", "valid_nm"} for m in listing)


@pytest.mark.parametrize("argv_tail, obj, expected", [
    (["simulate"], {**DESIGN, "layers": [{"material": "Unobtainium", "thickness_nm": 10}]},
     "'layers[0].material' names unknown material 'Unobtainium'; known materials:"),
    (["simulate"], {**DESIGN, "layers": [{"material": "TiO2", "thickness_nm": -5}]},
     "'layers[0].thickness_nm' is -5; a thickness must be a finite number >= 0"),
    (["simulate"], '{"incident": "air", "substrate": "N-BK7", "layers": [{"material": "TiO2", "thickness_nm": NaN}]}',
     "'layers[0].thickness_nm' is nan"),
    (["simulate"], "{not json", "is not valid JSON"),
    (["evaluate_goal"], {**GOAL, "targets": [{**GOAL["targets"][0], "relation": "<"}]},
     "'targets[0].relation' is '<'; allowed: <=, >=, ="),
    (["evaluate_goal"], {**GOAL, "max_layers": 0}, "'max_layers' is 0; allowed: a whole number from 1 to 200"),
    (["evaluate_goal"], "[1, 2", "is not valid JSON"),
])
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, capsys, argv_tail, obj, expected):
    path = write(tmp_path, "bad.json", obj)
    if argv_tail == ["evaluate_goal"]:
        argv = ["evaluate", path, write(tmp_path, "d.json", DESIGN)]
    else:
        argv = ["simulate", path]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: ") and expected in err
    assert err.count("\n") == 0 and err.endswith(".")


def test_wavelength_outside_material_range_names_the_field(tmp_path, capsys):
    assert main(["simulate", write(tmp_path, "d.json", DESIGN), "--wavelengths", "200:700:3"]) == 2
    err = capsys.readouterr().err
    assert "field 'layers[0].material' is 'TiO2'" in err and "300-1690 nm" in err and "200 nm" in err


def test_bad_wavelength_option(tmp_path, capsys):
    assert main(["simulate", write(tmp_path, "d.json", DESIGN), "--wavelengths", "700:400:3"]) == 2
    assert "--wavelengths" in capsys.readouterr().err


def test_help_for_every_command(capsys):
    for cmd in ("simulate", "evaluate", "materials"):
        with pytest.raises(SystemExit) as exit_info:
            main([cmd, "--help"])
        assert exit_info.value.code == 0
        assert "--json" in capsys.readouterr().out


def test_output_piped_into_a_reader_that_stops_is_not_an_error():
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "specialist.cli", "materials", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()  # as `| head -c 10` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err


def test_domain_commands_come_through_the_entry_point_and_a_broken_plugin_is_skipped(monkeypatch):
    from specialist.cli import registry

    assert {"simulate", "evaluate", "materials", "extract"} <= set(registry.plugin_commands())
    assert not {"simulate", "evaluate", "materials", "extract"} & set(registry.COMMANDS)  # none generic

    class Entry:
        def __init__(self, name, load):
            self.name, self.value, self.load = name, f"{name}:COMMANDS", load

    def broken():
        raise ImportError("no module named nowhere")

    clash = {"bench": registry.COMMANDS["bench"]}
    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points", lambda group: list(real(group=group)) +
                        [Entry("broken", broken), Entry("clashing", lambda: clash)])
    with pytest.warns(UserWarning) as caught:
        found = registry.plugin_commands()
        assert main(["materials", "--json"]) == 0  # the command line still works
    assert "simulate" in found and found.get("bench") is None
    assert any("broken" in str(w.message) for w in caught) and any("taken" in str(w.message) for w in caught)
