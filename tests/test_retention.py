"""Retention: compaction keeps exactly what it should, checked against a plain-Python reading of the
same rows; it is idempotent and crash-safe; champion pruning against a real MLflow store; the
[retention] section; the rotated log; the simulated month levels off."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from feeds import labgoals
from specialist import config
from specialist.app import retention, schedule, status
from specialist.errors import InputError
from specialist.store import Store

REPO = Path(__file__).parent.parent
DAY = 86400.0
T0 = 1.7e9
ROUNDS, SLOTS, PER_SLOT = 30, 3, 4  # a round every half day: 15 days
HORIZON = 7 * DAY
NOW = T0 + (ROUNDS - 1) * DAY / 2  # the newest round's time: rounds 0..14 are older than the horizon
TRAIN = [f"g{i}" for i in range(6)]
LAB, LAB_TRAIN = "lab", "g-lab-too"  # a lab goal; a training goal also submitted as a lab goal


def _goal(h: str, split: str) -> tuple[str, dict]:
    body = {"name": h, "targets": [{"value": 0.1}], "max_layers": 4, "provenance": {"family": "fam"}}
    return ("goals", {"hash": h, "name": h, "domain": "toy", "split": split, "body": body,
                      "provenance": {"source": "test"}, "created_at": T0})


def _lab_row(name: str, h: str) -> tuple[str, dict]:
    body = {"name": name, "targets": [{"value": 0.1}], "provenance": {"source": "lab"}}
    return ("lab_goals", {"name": name, "goal_hash": h, "body": body, "status": "active",
                          "provenance": {"source": "lab", "submitted_by": "test"}, "submitted_at": T0,
                          "withdrawn_at": None, "updated_at": T0})


def _round(r: int, rng: np.random.Generator, start: int = 0) -> list[tuple[str, dict]]:
    """A round as the experiments write it: per slot, sampled designs then a refined one."""
    t = T0 + r * DAY / 2
    goals = list(rng.choice(TRAIN, SLOTS - 1, replace=False)) + [LAB if r % 3 == 0 else LAB_TRAIN]
    out = []
    for slot, g in enumerate(goals):
        for j in range(PER_SLOT):
            key = f"{r}:{slot}:{g[:12]}:{j}"
            merit = None if rng.random() < 0.15 else round(float(rng.uniform(0.0, 1.0)), 6)
            solved = int(merit is not None and merit < 0.25)
            design = {"layers": [start + r, slot, j], "note": "x" * 600}  # about a design's size
            out += [("hypotheses", {"key": key, "goal_hash": g, "design": design,
                                    "params_version": 2 * r, "round": r,
                                    "origin": "sampled" if j < PER_SLOT - 1 else "refined", "created_at": t}),
                    ("verdicts", {"hypothesis_key": key, "merit": merit, "solved": solved,
                                  "detail": {"merit": merit, "solved": bool(solved)}, "verified_at": t})]
    return out


def _fill(path: Path, seed: int = 0) -> Store:
    store = Store(path)
    rng = np.random.default_rng(seed)
    store.put_many([_goal(h, "train") for h in TRAIN + [LAB_TRAIN]] + [_goal(LAB, "user"), _lab_row(LAB, LAB),
                                                                       _lab_row("also", LAB_TRAIN)])
    for r in range(ROUNDS):
        store.put_many(_round(r, rng))
    # a lab goal's design verified again under a calibration: the original's round, written later
    store.put_many([("hypotheses", {"key": "cal1:lab:0", "goal_hash": LAB, "design": {"layers": [1]},
                                    "params_version": 0, "round": 3, "origin": "recalibrated",
                                    "created_at": T0 + 10 * DAY}),
                    ("verdicts", {"hypothesis_key": "cal1:lab:0", "merit": 0.5, "solved": 0,
                                  "detail": {"calibration": 1}, "verified_at": T0 + 10 * DAY}),
                    ("claims", {"key": "c1", "arxiv_id": "2401.00001", "body": {"text": "R < 0.5%"},
                                "verdict": "inconsistent", "detail": {"merit": 3.0}, "checked_at": T0}),
                    ("results", {"sha256": "s1", "name": "sample-1", "sample_id": "1", "design": {"layers": []},
                                 "measurement": {"R": [0.1]}, "verdict": {"rms_all": 0.01}, "ingested_at": T0})])
    return store


@pytest.fixture
def store(tmp_path):
    s = _fill(tmp_path / "store.sqlite")
    yield s
    s.close()


def _rows(path: Path) -> list[dict]:
    """Every hypothesis with its verdict, read with plain sqlite3."""
    db = sqlite3.connect(path)
    cols = ["key", "goal", "round", "origin", "pv", "created", "merit", "solved"]
    rows = [dict(zip(cols, r)) for r in db.execute(
        "SELECT h.key, h.goal_hash, h.round, h.origin, h.params_version, h.created_at, v.merit, v.solved "
        "FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key")]
    db.close()
    return rows


def _dump(path: Path) -> dict:
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    out = {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in tables}
    db.close()
    return out


def _expected(rows: list[dict]) -> tuple[set, dict]:
    """The keys compaction must keep and the aggregates it must write, by the rules in plain Python."""
    newest = max(r["created"] for r in rows if r["round"] == max(x["round"] for x in rows))
    cutoff = min(NOW, newest) - HORIZON
    by_round = defaultdict(list)
    for r in rows:
        if r["origin"] != "recalibrated":
            by_round[r["round"]].append(r)
    compacted = set()
    for rnd in sorted(by_round):
        if max(x["created"] for x in by_round[rnd]) >= cutoff:
            break
        compacted.add(rnd)
    protected = {LAB, LAB_TRAIN}
    keep = {r["key"] for r in rows if r["round"] not in compacted or r["goal"] in protected
            or r["origin"] == "recalibrated"}
    per_goal = defaultdict(list)
    for r in rows:
        if r["round"] in compacted and r["goal"] not in protected and r["origin"] != "recalibrated":
            per_goal[r["goal"]].append(r)
    for group in per_goal.values():
        keep.add(min(group, key=lambda r: (r["merit"] is None, r["merit"] or 0.0, r["key"]))["key"])
        keep.add(min(group, key=lambda r: (r["solved"] == 0, r["merit"] is None, r["merit"] or 0.0, r["key"]))["key"])
        keep.add(max(group, key=lambda r: (r["round"], r["key"]))["key"])
    aggregates = {}
    for rnd in compacted:
        rs = by_round[rnd]
        goals = defaultdict(list)
        for r in rs:
            goals[r["goal"]].append(r)
        bests = [min(x["merit"] for x in g if x["merit"] is not None) for g in goals.values()
                 if any(x["merit"] is not None for x in g)]
        aggregates[rnd] = {
            "hypotheses": len(rs), "sampled": sum(r["origin"] == "sampled" for r in rs),
            "valid": sum(r["merit"] is not None for r in rs), "solved": sum(r["solved"] for r in rs),
            "sampled_solved": sum(r["solved"] for r in rs if r["origin"] == "sampled"), "goals": len(goals),
            "goals_solved": sum(any(x["solved"] for x in g) for g in goals.values()),
            "goals_sampled_solved": sum(any(x["solved"] and x["origin"] == "sampled" for x in g)
                                        for g in goals.values()),
            "best_merit": min(bests) if bests else None, "mean_best_merit": float(np.mean(bests)) if bests else None,
            "params_version": max(r["pv"] for r in rs), "first_at": min(r["created"] for r in rs),
            "last_at": max(r["created"] for r in rs),
            "removed": sum(r["key"] not in keep for r in rs)}
    return keep, aggregates


def _readers(store: Store) -> dict:
    """What the daemon's readers answer: replay and retrieval, the schedule, lab designs, status."""
    from experiments.worker import _BEST_KNOWN
    from learner.replay import _BEST_PER_GOAL

    goals = schedule.train_goals(store)
    return {"replay": sorted(tuple(r) for r in store.query(_BEST_PER_GOAL)),
            "best_known": {g: [tuple(r) for r in store.query(_BEST_KNOWN, (g,))] for g in TRAIN + [LAB_TRAIN]},
            "last_round": dict(zip(goals.hashes, goals.last.tolist())), "next_round": schedule.next_round(store),
            "designs": labgoals.designs(store), "open_goals": store.query(status._OPEN_GOALS)[0][0],
            "verified": store.verified_count(), "round_totals": store.round_totals()}


def test_compaction_keeps_exactly_what_the_rules_say(store, tmp_path):
    path = tmp_path / "store.sqlite"
    before_rows, before_readers = _rows(path), _readers(store)
    keep, aggregates = _expected(before_rows)
    report = retention.compact(store, HORIZON, NOW)
    assert report["rounds"] == len(aggregates) == 15 and report["through"] == 14
    assert report["removed"] == len(before_rows) - len(keep) > 0
    assert {r["key"] for r in _rows(path)} == keep
    assert {r[0] for r in store.query("SELECT key FROM hypotheses")} == keep  # no hypothesis without its verdict
    stored = {r["round"]: {k: r[k] for k in aggregates[0]} for r in store.rows("round_aggregates")}
    assert stored.keys() == aggregates.keys()
    for rnd, want in aggregates.items():
        assert stored[rnd] == pytest.approx(want), rnd
    assert _readers(store) == before_readers  # hypotheses_verified included: it counts the compacted ones
    assert store.verified_count() == len(before_rows) and store.count("verdicts") < len(before_rows)
    totals = store.round_totals()  # complete and gap-free; round 3 also holds the recalibrated design
    assert totals == {r: SLOTS * PER_SLOT + (r == 3) for r in range(ROUNDS)}
    assert store.count("claims") == 1 and store.count("results") == 1


def test_compaction_is_idempotent_and_independent_of_the_chunk_size(store, tmp_path):
    path = tmp_path / "store.sqlite"
    retention.compact(store, HORIZON, NOW, chunk_rounds=4)
    once = _dump(path)
    assert retention.compact(store, HORIZON, NOW) == {"rounds": 0, "removed": 0, "through": None, "pending": False}
    assert _dump(path) == once
    other = _fill(tmp_path / "other.sqlite")
    retention.compact(other, HORIZON, NOW, chunk_rounds=256)
    other.close()
    assert _dump(tmp_path / "other.sqlite") == once


def test_later_compactions_drop_an_old_best_once_beaten_and_count_it(store, tmp_path):
    path = tmp_path / "store.sqlite"
    retention.compact(store, HORIZON, NOW)
    rng = np.random.default_rng(5)
    records = []
    for r in range(ROUNDS, ROUNDS + 20):  # ten more days, a better design of every goal among them
        rows = _round(r, rng, start=1000)
        for table, row in rows:
            if table == "verdicts" and row["merit"] is not None:
                row.update(merit=row["merit"] / 1000, solved=1)
        records += rows
    store.put_many(records)
    rows, later = _rows(path), T0 + (ROUNDS + 19) * DAY / 2
    report = retention.compact(store, HORIZON, later)
    assert report["through"] == ROUNDS + 19 - 15 and report["removed"] > 0
    for g in TRAIN:  # one best (also solved, also last) per training goal left in the compacted rounds
        mine = [r for r in _rows(path) if r["goal"] == g and r["round"] <= report["through"]]
        best = min((r for r in rows if r["goal"] == g and r["round"] <= report["through"] and r["merit"] is not None),
                   key=lambda r: r["merit"])
        assert best["key"] in {r["key"] for r in mine} and len(mine) <= 2
    assert store.round_totals() == {r: SLOTS * PER_SLOT + (r == 3) for r in range(ROUNDS + 20)}
    assert store.verified_count() == (ROUNDS + 20) * SLOTS * PER_SLOT + 1


def test_a_failure_inside_the_transaction_changes_nothing(store, tmp_path):
    path = tmp_path / "store.sqlite"
    before = _dump(path)

    def fail():
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        retention.compact(store, HORIZON, NOW, fault=fail)
    second = Store(path)
    assert _dump(path) == before and second.verified_count() == store.verified_count()
    second.close()


def test_kill_9_mid_compaction_loses_and_duplicates_nothing(store, tmp_path):
    path = tmp_path / "store.sqlite"
    before = _dump(path)
    code = (f"import os, signal\nfrom specialist.store import Store\nfrom specialist.app import retention\n"
            f"retention.compact(Store({str(path)!r}), {HORIZON!r}, {NOW!r}, chunk_rounds=4, "
            f"fault=lambda: os.kill(os.getpid(), signal.SIGKILL))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=120, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    second = Store(path)  # a daemon starting after the kill
    assert _dump(path) == before
    keep, _ = _expected(_rows(path))
    retention.compact(second, HORIZON, NOW)
    assert {r["key"] for r in _rows(path)} == keep
    second.close()


def test_new_stores_hand_freed_pages_back_and_old_ones_keep_their_mode(store, tmp_path):
    assert store.query("PRAGMA auto_vacuum")[0][0] == 2  # INCREMENTAL, set when the file was made
    retention.compact(store, HORIZON, NOW)
    store.query("PRAGMA wal_checkpoint(TRUNCATE)")  # the log emptied into the file, so that sizes compare
    full = (tmp_path / "store.sqlite").stat().st_size
    free = store.query("PRAGMA freelist_count")[0][0]
    assert free > 0 and store.reclaim() == free and store.query("PRAGMA freelist_count")[0][0] == 0
    assert (tmp_path / "store.sqlite").stat().st_size == full - free * store.query("PRAGMA page_size")[0][0]
    old = sqlite3.connect(tmp_path / "old.sqlite")  # a store made before: tables exist, auto_vacuum off
    old.execute("CREATE TABLE legacy (x)")
    old.close()
    reopened = Store(tmp_path / "old.sqlite")
    assert reopened.query("PRAGMA auto_vacuum")[0][0] == 0 and reopened.reclaim() == 0
    reopened.close()


def test_retention_runs_at_start_then_on_its_schedule(store):
    calls = []
    section = config.RetentionSection(hypotheses_days=7.0, every_minutes=60.0, keep_champions=2)
    r = retention.Retention(section, store, prune=lambda keep: calls.append(keep) or [])
    assert r.due(NOW)
    report = r.run(NOW, budget_s=None)
    assert report["rounds"] == 15 and report["freed_pages"] >= 0 and calls == [2]
    assert not r.due(NOW + 59 * 60) and r.due(NOW + 60 * 60)
    cfg = config.Config(retention=section)
    assert retention.tick(cfg, store, object(), NOW)["rounds"] == 0  # a new driver: due at once, nothing left
    assert retention.tick(cfg, store, object(), NOW + 60) is None


def test_prune_champions_keeps_the_newest_the_aliased_and_the_tagged(tmp_path):
    from specialist.app import tracking

    champion = tmp_path / "champion"
    champion.mkdir()
    (champion / "params.msgpack").write_bytes(bytes(64))
    logger = tracking.MlflowLogger("sqlite:///" + str(tmp_path / "mlflow.db"), "specialist", tmp_path / "artifacts")
    client = logger.client
    assert tracking.prune_champions(client, "m", keep=3) == []  # nothing registered yet
    for step in range(1, 9):  # registry versions 1..8, params versions 100..800
        logger.register("m", champion, step * 100)
    client.set_registered_model_alias("m", "champion", "3")  # rolled back by hand to an older one
    client.set_model_version_tag("m", "2", "note", "the paper's figure")
    shared = client.get_model_version("m", "1").source
    client.create_model_version("m", shared)  # version 9, registered by hand on version 1's artifacts
    removed = tracking.prune_champions(client, "m", keep=3)
    assert removed == ["1", "4", "5"]
    left = {v.version for v in client.search_model_versions("name = 'm'")}
    assert {str(v) for v in left} == {"2", "3", "6", "7", "8", "9"}
    runs = tmp_path / "artifacts" / logger.run_id / "artifacts" / "champion"
    assert sorted(p.name for p in runs.iterdir()) == ["v100", "v200", "v300", "v600", "v700", "v800"]
    assert client.get_registered_model("m").aliases == {"champion": 3}
    assert tracking.prune_champions(client, "m", keep=3) == []


def test_the_retention_section_has_defaults_and_refuses_bad_values(tmp_path):
    cfg = config.load()
    r = cfg.retention
    assert (r.keep_champions, r.every_minutes, r.log_max_mb, r.log_backups) == (5, 60.0, 20.0, 5)
    assert r.hypotheses_days > 0 and "[retention]" in config.to_toml(cfg)
    for text, field in (("hypotheses_days = -0.5", "retention.hypotheses_days"),
                        ("every_minutes = 0.0", "retention.every_minutes"),
                        ("log_backups = 0", "retention.log_backups")):
        path = tmp_path / "bad.toml"
        path.write_text(f"[retention]\n{text}\n")
        with pytest.raises(InputError) as err:
            config.load(str(path))
        message = str(err.value)
        assert err.value.field == field and "allowed:" in message
        assert message.startswith(str(path)) and message.endswith(".") and message.count(". ") == 0


def test_the_daemon_log_rotates(tmp_path):
    from specialist.app import daemon
    from specialist.paths import Paths

    paths = Paths(tmp_path)
    paths.logs.mkdir()
    log = logging.getLogger("specialist")
    saved = (log.handlers[:], log.propagate, log.level)
    cfg = config.Config(retention=config.RetentionSection(log_max_mb=1 / 1024, log_backups=2))  # 1 KiB
    try:
        daemon._log_to(paths, cfg)
        for i in range(100):
            log.info("line %d %s", i, "x" * 40)
        for h in log.handlers:
            h.flush()
    finally:
        for h in log.handlers:
            h.close()
        log.handlers[:], log.propagate = saved[0], saved[1]
        log.setLevel(saved[2])
    names = sorted(p.name for p in paths.logs.iterdir())
    assert names == ["daemon.log", "daemon.log.1", "daemon.log.2"]
    assert all(p.stat().st_size <= 1024 for p in paths.logs.iterdir())
    assert "line 99 " in paths.daemon_log.read_text()


def _month(capsys, *extra: str) -> list[dict]:
    from specialist.benchmarks import month

    assert month.main(["--days", "8", "--rounds-per-day", "30", "--hypotheses-days", "2", "--lab-days", "1",
                       "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)["days"]


def test_a_simulated_month_levels_off(capsys):
    days = _month(capsys)
    assert [d["rounds"] for d in days] == [30 * (i + 1) for i in range(8)]
    last = [d["store_mb"] for d in days[-3:]]
    assert max(last) <= 1.10 * min(last), last
    grown = _month(capsys, "--no-retention")
    assert days[-1]["store_mb"] < 0.6 * grown[-1]["store_mb"]
    assert grown[-1]["hypotheses"] == 8 * 30 * 72 and days[-1]["hypotheses"] < 0.4 * grown[-1]["hypotheses"]
