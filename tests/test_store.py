"""The store: WAL mode, idempotent writes, superseding versions, migrations, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest

from specialist import store as store_mod
from specialist.store import Store

PAPER = {"arxiv_id": "2401.00001", "version": 1, "title": "AR coatings", "abstract": "400-700 nm",
         "authors": ["A. Author"], "categories": ["physics.optics"], "published": "2024-01-01",
         "updated": "2024-01-01", "links": ["http://arxiv.org/abs/2401.00001v1"]}
GOAL = {"hash": "g1", "name": "ar", "domain": "photonics", "split": "train", "body": {"targets": []},
        "provenance": {"paper": "2401.00001"}}


@pytest.fixture
def db(tmp_path):
    s = Store(tmp_path / "data" / "store.sqlite")
    yield s
    s.close()


def test_wal_mode_and_schema_version(db):
    assert db._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.schema_version == len(store_mod.MIGRATIONS)


def test_writes_are_idempotent(db):
    assert db.put("papers", PAPER) is True
    assert db.put("papers", PAPER) is False
    assert db.put("goals", GOAL) is True and db.put("goals", GOAL) is False
    hyp = {"key": "h1", "goal_hash": "g1", "design": {"layers": []}, "params_version": 0}
    verdict = {"hypothesis_key": "h1", "merit": 0.5, "solved": 1, "detail": {}}
    for _ in range(3):
        db.put("hypotheses", hyp)
        db.put("verdicts", verdict)
    assert [db.count(t) for t in ("papers", "goals", "hypotheses", "verdicts")] == [1, 1, 1, 1]
    assert db.get("goals", "g1")["provenance"] == {"paper": "2401.00001"}


def test_new_paper_version_replaces_old_but_not_the_reverse(db):
    db.put("papers", PAPER)
    assert db.put("papers", {**PAPER, "version": 2, "title": "AR coatings, revised"}) is True
    assert db.put("papers", {**PAPER, "version": 1, "title": "stale replay"}) is False
    assert db.get("papers", PAPER["arxiv_id"])["title"] == "AR coatings, revised"
    assert db.count("papers") == 1


def test_cursor_moves(db):
    db.put("cursors", {"stream": "arxiv", "position": {"start": 100}})
    db.put("cursors", {"stream": "arxiv", "position": {"start": 200}})
    assert db.get("cursors", "arxiv")["position"] == {"start": 200}


def test_verdict_needs_its_hypothesis(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.put("verdicts", {"hypothesis_key": "missing", "merit": 1.0, "solved": 0, "detail": {}})


def test_migrations_apply_to_an_older_database(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    old = Store(path)
    old.put("papers", PAPER)
    old.close()
    extra = "ALTER TABLE papers ADD COLUMN note TEXT; CREATE TABLE remarks (key TEXT PRIMARY KEY)"
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS + (extra,))
    new = Store(path)
    assert new.schema_version == len(store_mod.MIGRATIONS)
    assert new.get("papers", PAPER["arxiv_id"])["note"] is None and new.count("remarks") == 0
    new.close()


def _writer(path, start, n):
    s = Store(path)
    for i in range(start, start + n):
        s.put("goals", {**GOAL, "hash": f"g{i % 150}"})  # overlapping keys across processes
    s.close()


def test_concurrent_writers_neither_lose_nor_duplicate(tmp_path):
    path = str(tmp_path / "store.sqlite")
    Store(path).close()
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, k * 50, 100)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    s = Store(path)
    assert s.count("goals") == 150
    s.close()
