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
