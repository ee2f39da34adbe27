"""`specialist pretrain`: the spectrum phase alone, resumable, and the daemon's loop starts from it."""

from __future__ import annotations

import json

import pytest

from specialist import config
from specialist.app.builders import InProcess
from specialist.cli import main
from specialist.paths import Paths

CONFIG = """
[model]
width = 32
layers = 1
heads = 2
[learner]
batch_size = 8
checkpoint_every = 2
pretrain_steps = 4
[experiments]
refine_budget = 0
[daemon]
goals_per_round = 2
group = 2
[feeds.arxiv]
enabled = false
"""


def _pretrain(capsys, tmp_path, *options) -> dict:
    assert main(["pretrain", "--config", str(tmp_path / "c.toml"), "--data-dir", str(tmp_path / "data"),
                 "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def test_pretrain_runs_to_the_configured_steps_resumes_and_hands_over_to_the_loop(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG)
    first = _pretrain(capsys, tmp_path)
    assert (first["step_start"], first["step"], first["steps"], first["checkpoint"]) == (0, 4, 4, 4)
    assert first["examples"] == 4 * 8 and first["examples_per_s"] > 0 and first["loss"] > 0
    more = _pretrain(capsys, tmp_path, "--steps", "2")  # resumes from its checkpoint
    assert (more["step_start"], more["step"], more["examples"]) == (4, 6, 16)
    done = _pretrain(capsys, tmp_path)  # the configured phase is over: nothing to do
    assert (done["steps"], done["step"], done["loss"]) == (0, 6, None)
    run = InProcess(config.load(str(tmp_path / "c.toml")), Paths(tmp_path / "data"))
    assert run.learner.step == 6 and not run.learner.pretraining and run.proposer.version == 6


def test_pretrain_stops_at_its_time_limit(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG.replace("pretrain_steps = 4", "pretrain_steps = 100000"))
    doc = _pretrain(capsys, tmp_path, "--seconds", "0.01")
    assert 1 <= doc["steps"] <= 10 and doc["checkpoint"] == doc["step"]  # one chunk at most, then saved


@pytest.mark.parametrize("option, value", [("--steps", "0"), ("--seconds", "-1")])
def test_bad_options_are_one_sentence(tmp_path, capsys, option, value):
    assert main(["pretrain", "--data-dir", str(tmp_path / "data"), option, value]) == 2
    assert option in capsys.readouterr().err


def test_pairs_made_by_worker_processes_train_exactly_as_pairs_made_here(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG)
    here = _pretrain(capsys, tmp_path, "--steps", "3")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "c.toml").write_text(CONFIG)
    there = _pretrain(capsys, tmp_path / "w", "--steps", "3", "--workers", "2")
    assert there["workers"] == 2 and there["examples"] == here["examples"]
    assert there["loss"] == pytest.approx(here["loss"], rel=1e-5)  # the same pairs, seeded by the step


def test_shipped_weights_carry_their_provenance_and_a_new_daemon_starts_from_them(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG)
    doc = _pretrain(capsys, tmp_path, "--steps", "3", "--ship", str(tmp_path / "ship"))
    meta = json.loads((tmp_path / "ship" / "meta.json").read_text())
    p = meta["provenance"]
    assert doc["shipped"] == str(tmp_path / "ship") and p["steps"] == 3 and p["examples_seen"] == 24
    assert p["command"].startswith("specialist pretrain") and "--ship" in p["command"] and p["seed"] == 0
    assert p["heldout_check"]["heldout_goals"] == 60 and p["heldout_check"]["training_goals_matching_heldout"] == 0
    assert len(p["heldout_check"]["heldout_digest"]) == 64

    fresh = tmp_path / "fresh.toml"
    fresh.write_text(CONFIG.replace("pretrain_steps = 4", f'pretrain_steps = 4\nstart_from = "{tmp_path / "ship"}"'))
    run = InProcess(config.load(str(fresh)), Paths(tmp_path / "fresh-data"))
    assert run.learner.step == 3 and run.learner.started_from["steps"] == 3
    shipped = run.learner.learner.state.params
    import jax
    import numpy as np
    from flax import serialization
    from learner.train import abstract_state
    saved = serialization.from_bytes(abstract_state(run.learner.learner.model_cfg).params,
                                     (tmp_path / "ship" / "params.msgpack").read_bytes())
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(shipped),
                                                    jax.tree_util.tree_leaves(saved)))
    scratch = tmp_path / "scratch.toml"
    scratch.write_text(CONFIG.replace("pretrain_steps = 4", 'pretrain_steps = 4\nstart_from = "scratch"'))
    assert InProcess(config.load(str(scratch)), Paths(tmp_path / "scratch-data")).learner.step == 0


def test_start_from_a_folder_without_weights_is_one_sentence(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG.replace("pretrain_steps = 4", f'pretrain_steps = 4\nstart_from = "{tmp_path}"'))
    assert main(["pretrain", "--config", str(tmp_path / "c.toml"), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "learner.start_from" in err and "holds no weights" in err
