"""The daemon with real processes, a real local Ray cluster and a real MLflow store.

kill -9 at random moments, then a restart: the learner's step continues from the last
checkpoint, the MLflow run continues, and nothing recorded is lost or recorded twice. A killed
experiments actor is restarted and the loop goes on. SIGTERM ends cleanly.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from specialist.benchmarks.feeds import RecordedArxiv, read_entries
from specialist.app import status
from tests.arxiv_server import OPTICS
from tests.test_lab_feed import drop
from specialist.app.tracking import default_uri

pytestmark = pytest.mark.daemon

CONFIG = """
[daemon]
goals_per_round = 2
group = 4
rounds_in_flight = 2
[model]
width = 32
layers = 1
heads = 2
[learner]
batch_size = 8
steps_per_round = 1
checkpoint_every = 2
[experiments]
refine_budget = 0
lab_refine_budget = 0
[evaluation]
every_steps = 6
budgets = "1,4"
samples = 2
retrieved = 1
heldout_goals = 3
baseline = ""
[feeds]
arxiv = false
poll_every_s = 3.0
[tracking]
log_every_s = 1.0
figure_every_s = 5.0
[ray]
num_cpus = 2
get_timeout_s = 120.0
"""
PER_ROUND = 2 * 4  # goals_per_round x group: every hypothesis of a round, and nothing more


@pytest.fixture
def start(tmp_path):
    """Starts daemons on tmp_path/data; any still running when the test ends is killed."""
    procs = []

    def _start() -> subprocess.Popen:
        log = open(tmp_path / "daemon.out", "a")
        procs.append(subprocess.Popen([sys.executable, "-m", "specialist.cli", "run", "--config",
                                       str(tmp_path / "specialist.toml"), "--data-dir", str(tmp_path / "data")],
                                      stdout=log, stderr=subprocess.STDOUT))
        return procs[-1]

    (tmp_path / "specialist.toml").write_text(CONFIG)
    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _wait(predicate, timeout: float, what: str):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _up(data: Path, proc: subprocess.Popen):
    """The status once this process's daemon has written a heartbeat with its actors' pids."""
    def ready():
        assert proc.poll() is None, f"daemon exited with {proc.returncode}"
        if not (data / "store.sqlite").exists():
            return None
        doc = status.read(data)
        actors = doc["metrics"] and doc.get("pid") == proc.pid and _actors(data)
        return doc if actors and all(actors.values()) else None
    return _wait(ready, 180, "the daemon to come up")


def _actors(data: Path) -> dict:
    db = sqlite3.connect(data / "store.sqlite")
    row = db.execute("SELECT position FROM cursors WHERE stream = 'daemon'").fetchone()
    db.close()
    return json.loads(row[0]).get("actors", {}) if row else {}


def _query(data: Path, sql: str):
    db = sqlite3.connect(data / "store.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _check_records(data: Path) -> dict:
    """Invariants of the store after any number of kills; returns the keys it holds."""
    keys = {t: {r[0] for r in _query(data, f"SELECT {k} FROM {t}")}
            for t, k in (("hypotheses", "key"), ("verdicts", "hypothesis_key"), ("goals", "hash"),
                         ("model_versions", "version"))}
    assert keys["hypotheses"] == keys["verdicts"], "a hypothesis without its verdict, or the reverse"
    per_round = dict(_query(data, "SELECT round, COUNT(*) FROM hypotheses GROUP BY round"))
    assert all(n == PER_ROUND for n in per_round.values()), per_round  # no round recorded twice or in part
    assert sorted(per_round) == list(range(len(per_round))), "a gap in the rounds"
    curriculum = _query(data, "SELECT COUNT(*) FROM goals WHERE json_extract(provenance, '$.source') = 'curriculum'")
    assert curriculum[0][0] == 260  # the curriculum, delivered once however often the daemon starts
    return keys


def _last_checkpoint(data: Path) -> int:
    """The newest complete orbax checkpoint (its folder is renamed to the step when complete)."""
    return max(int(p.name) for p in (data / "checkpoints").iterdir() if p.name.isdigit())


def _mlflow_runs(data: Path):
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_uri(data))
    runs = client.search_runs([client.get_experiment_by_name("specialist").experiment_id])
    return client, runs


def test_kill_9_at_random_moments_then_restart_resumes_and_loses_nothing(tmp_path, start):
    data = tmp_path / "data"
    rng = random.Random(7)
    before, run_ids, last_step, steps = {}, set(), 0, []
    for kill in range(5):
        proc = start()
        doc = _up(data, proc)
        assert doc["params_version"] == last_step, "the learner did not resume from the last checkpoint"
        run_ids.add(doc["tracking_run"])
        # the kill lands at a random moment once this session is at work
        _wait(lambda: (_query(data, "SELECT MAX(round) FROM hypotheses")[0][0] or -1) >= doc["round"], 120,
              "a round of this session")
        time.sleep(rng.uniform(0.0, 10.0))
        actors = _actors(data)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # actors outlive their driver by a moment and may finish a write (a checkpoint, say)
        _wait(lambda: not any(psutil.pid_exists(pid) for pid in actors.values() if pid), 60, "the actors to end")
        keys = _check_records(data)
        steps.append(_last_checkpoint(data))
        assert all(before[t] <= keys[t] for t in before), "a record vanished"
        before = keys
        last_step = _last_checkpoint(data)
    proc = start()
    doc = _up(data, proc)
    assert doc["params_version"] == last_step and doc["round"] >= len(_query(data, "SELECT DISTINCT round FROM hypotheses"))
    _wait(lambda: _last_checkpoint(data) > last_step, 120, "a checkpoint beyond the last one")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    _check_records(data)
    assert len(run_ids) == 1
    assert steps == sorted(steps) and steps[-1] > steps[0], f"checkpoint steps at the kills: {steps}"
    recorded = {r[0] for r in _query(data, "SELECT step FROM model_versions")}
    assert last_step in recorded and _last_checkpoint(data) in recorded
    client, runs = _mlflow_runs(data)
    assert [r.info.run_id for r in runs] == list(run_ids) and runs[0].info.status == "FINISHED"
    assert {"solve_rate", "hypotheses_verified_per_s", "learner_loss", "params_version", "goals_open",
            "papers_ingested"} <= set(runs[0].data.metrics)
    assert not status.read(data)["running"]


def test_a_killed_experiments_actor_is_restarted_and_the_loop_goes_on(tmp_path, start):
    """Also: papers from a loopback arXiv and a result dropped in the lab's folder are ingested."""
    data = tmp_path / "data"
    arxiv = RecordedArxiv(read_entries(OPTICS)).__enter__()
    (tmp_path / "specialist.toml").write_text(CONFIG.replace("arxiv = false", f'arxiv.endpoint = "{arxiv.endpoint}"\n'
                                                             "arxiv.delay_s = 0.1"))
    drop(data / "drop", "sample-1")
    proc = start()
    try:
        _up(data, proc)
        _wait(lambda: _query(data, "SELECT COUNT(*) FROM verdicts")[0][0] >= PER_ROUND, 120, "a verified round")
        victim = _actors(data)["experiments-0"]
        os.kill(victim, signal.SIGKILL)
        at_kill = _query(data, "SELECT COUNT(*) FROM verdicts")[0][0]
        _wait(lambda: _actors(data).get("experiments-0") not in (None, victim), 120, "a restarted actor")
        _wait(lambda: _query(data, "SELECT COUNT(*) FROM verdicts")[0][0] >= at_kill + 3 * PER_ROUND, 120,
              "rounds checked after the restart")
        assert proc.poll() is None
        _check_records(data)
        _wait(lambda: _query(data, "SELECT COUNT(*) FROM evaluations")[0][0] >= 1, 120, "a held-out evaluation")
        _wait(lambda: _query(data, "SELECT COUNT(*) FROM papers")[0][0] == len(read_entries(OPTICS)), 60, "papers")
        _wait(lambda: (data / "drop" / "processed" / "sample-1.csv").exists(), 60, "the result filed away")
        _wait(lambda: _query(data, "SELECT COUNT(*) FROM calibrations")[0][0] >= 1, 60, "a calibration")
        assert _query(data, "SELECT COUNT(*) FROM results")[0][0] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        arxiv.__exit__(None, None, None)
    client, runs = _mlflow_runs(data)
    assert {"papers_ingested", "results_ingested", "goals_from_papers", "claims_checked",
            "calibration_rms_after"} <= set(runs[0].data.metrics)
    artifacts = Path(runs[0].info.artifact_uri.removeprefix("file://"))
    assert (artifacts / "figures" / "best_designs.png").exists()
    # held-out evaluations: metrics, the learning curve, and the champion in the model registry
    assert (artifacts / "figures" / "learning_curve.png").exists()
    assert {"heldout_solve_rate_b1", "heldout_median_merit_b4", "heldout_forgetting_mean",
            "champion_version"} <= set(runs[0].data.metrics)
    champion = client.get_model_version_by_alias("specialist-photonics", "champion")
    assert (artifacts / "champion" / f"v{champion.tags['params_version']}" / "params.msgpack").exists()
    assert json.loads((data / "champion" / "meta.json").read_text())["version"] >= int(champion.tags["params_version"])


def test_lab_goals_submitted_around_a_kill_9_are_all_kept_and_worked_on(tmp_path, start):
    data, template = tmp_path / "data", json.loads((Path(__file__).parents[1] / "docs/lab/longpass-550.json").read_text())
    goals = [{**template, "name": f"lp-{i}", "solved_below": 1.0 + i / 100} for i in range(8)]
    proc = start()
    _up(data, proc)
    (data / "goals").mkdir(exist_ok=True)
    for i, goal in enumerate(goals):  # half by the command, half through the drop folder, meanwhile the kill
        path = tmp_path / f"lp-{i}.json"
        path.write_text(json.dumps(goal))
        if i % 2:
            (data / "goals" / f"lp-{i}.json.part").write_text(json.dumps(goal))
            os.replace(data / "goals" / f"lp-{i}.json.part", data / "goals" / f"lp-{i}.json")
        else:
            subprocess.run([sys.executable, "-m", "specialist.cli", "submit", str(path), "--data-dir", str(data)],
                           check=True, capture_output=True)
        if i == 5:
            actors = _actors(data)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            _wait(lambda: not any(psutil.pid_exists(pid) for pid in actors.values() if pid), 60, "the actors to end")
    proc = start()
    _up(data, proc)
    names = [f"lp-{i}" for i in range(8)]
    worked = lambda: _query(data, "SELECT COUNT(DISTINCT l.name) FROM lab_goals l JOIN hypotheses h "
                                  "ON h.goal_hash = l.goal_hash")[0][0] == 8
    _wait(worked, 180, "every lab goal worked on")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    assert sorted(r[0] for r in _query(data, "SELECT name FROM lab_goals WHERE status = 'active'")) == names
    assert _query(data, "SELECT COUNT(*) FROM goals WHERE split = 'user'")[0][0] == 8  # each stored once
    assert sorted(p.name for p in (data / "goals" / "processed").iterdir()) == [f"lp-{i}.json" for i in (1, 3, 5, 7)]
    assert not list((data / "goals" / "quarantine").iterdir())
    _check_records(data)


def test_an_unreadable_newest_checkpoint_is_set_aside_and_the_daemon_goes_on(tmp_path, start):
    data = tmp_path / "data"
    proc = start()
    _up(data, proc)
    _wait(lambda: len([p for p in (data / "checkpoints").iterdir() if p.name.isdigit()]) >= 3, 180,
          "three checkpoints")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    steps = sorted(int(p.name) for p in (data / "checkpoints").iterdir() if p.name.isdigit())
    newest = data / "checkpoints" / str(steps[-1])
    for f in (f for f in newest.rglob("*") if f.is_file() and f.stat().st_size > 0):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # a disk that lost the end of each file
    proc = start()
    doc = _up(data, proc)
    assert doc["params_version"] == steps[-2], "the learner did not go on from the checkpoint before"
    log = (data / "logs" / "daemon.log").read_text()
    assert f"checkpoint step {steps[-1]}" in log and "could not be read" in log
    assert [p.name.split("-")[1] for p in (data / "unreadable").iterdir()] == [str(steps[-1])]
    _wait(lambda: _last_checkpoint(data) > steps[-1], 180, "a checkpoint beyond the damaged one")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    _check_records(data)
