"""`specialist bench` with the specialist among the methods, its contamination check, and
`specialist propose --json`, on a small data directory made by the in-process loop."""

from __future__ import annotations

import json

import pytest

from domains.photonics import families
from specialist import config
from specialist.app.builders import InProcess
from specialist.paths import Paths
from specialist.cli import main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "data"
    cfg = config.load(None, {"model": {"width": 32, "layers": 1, "heads": 2},
                             "learner": {"batch_size": 8, "pretrain_steps": 0, "steps_per_round": 1},
                             "experiments": {"refine_budget": 0}})
    InProcess(cfg, Paths(path)).step()
    return path


def _goal_files(tmp_path, data_dir):
    train, heldout = families.split(n_train=2, n_heldout=1)
    (tmp_path / "new.json").write_text(json.dumps(heldout[0]))
    (tmp_path / "trained.json").write_text(json.dumps(train[0]))  # a goal the daemon trains on
    return [str(tmp_path / "new.json"), str(tmp_path / "trained.json")]


def test_bench_json_with_the_specialist_and_a_baseline(tmp_path, data_dir, capsys):
    files = _goal_files(tmp_path, data_dir)
    argv = ["bench", *files, "--methods", "specialist,random", "--budgets", "1,30", "--data-dir", str(data_dir),
            "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["results"]) == 2 * 2 * 2
    for r in doc["results"]:
        assert set(r) == {"goal", "method", "budget", "merit", "solved", "evaluations", "seed", "wall_s", "family"}
        assert r["evaluations"] <= r["budget"]
    assert [(s["method"], s["budget"]) for s in doc["summary"]] == [
        ("specialist", 1), ("specialist", 30), ("random", 1), ("random", 30)]
    check = doc["contamination"]
    assert check["goals"] == 2 and check["training_goals"] == 200
    assert check["goals_found_in_training"] == [files[1]] and not check["clean"]


def test_bench_specialist_needs_a_checkpoint_or_weights_to_start_from(tmp_path, capsys):
    files = _goal_files(tmp_path, None)
    (tmp_path / "scratch.toml").write_text('[learner]\nstart_from = "scratch"\n')
    assert main(["bench", files[0], "--methods", "specialist", "--config", str(tmp_path / "scratch.toml"),
                 "--data-dir", str(tmp_path / "none")]) == 2
    assert "holds no checkpoint" in capsys.readouterr().err


def test_bench_over_seeds_reports_the_median_and_each_seed_per_family(tmp_path, capsys):
    argv = ["bench", "--methods", "gradient", "--budgets", "3,12", "--seeds", "0,1,2", "--limit", "3",
            "--by-family", "--data-dir", str(tmp_path / "none"), "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["seeds"] == [0, 1, 2] and len(doc["results"]) == 3 * 2 * 3
    for s in doc["summary"]:
        per = s["per_seed"]
        assert [p["seed"] for p in per] == [0, 1, 2]
        assert s["median_merit"] == sorted(p["median_merit"] for p in per)[1]
    assert {f["family"] for f in doc["by_family"]} == {r["family"] for r in doc["results"]}
    assert len({r["family"] for r in doc["results"]}) == 3


def test_bench_ood_goals_sit_in_the_band_kept_out_or_in_skipped_families(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('[daemon]\nskip_families = "notch"\n')
    argv = ["bench", "--ood", "--methods", "gradient", "--budgets", "3", "--config", str(tmp_path / "c.toml"),
            "--data-dir", str(tmp_path / "none"), "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [r["goal"] for r in doc["results"]]
    assert len(names) == 12 * 3 + 3 and sum(n.startswith("notch") for n in names) == 3 + 3


def test_propose_json_gives_a_verified_design_within_the_budget(tmp_path, data_dir, capsys):
    files = _goal_files(tmp_path, data_dir)
    assert main(["propose", files[0], "--budget", "20", "--data-dir", str(data_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"design", "merit", "solved", "evaluations", "source", "method", "seed", "wall_s"}
    assert doc["evaluations"] <= 20 and doc["method"] == "specialist" and doc["seed"] == 0
    assert doc["source"] in ("sampled", "retrieved", "optimizer start", "refined")
    assert 0 < doc["wall_s"] < 600
    assert main(["evaluate", files[0], _write(tmp_path, doc["design"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["merit"] == pytest.approx(doc["merit"], rel=1e-9)


def _write(tmp_path, design) -> str:
    (tmp_path / "design.json").write_text(json.dumps(design))
    return str(tmp_path / "design.json")
