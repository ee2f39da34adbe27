"""The store: one SQLite file (WAL mode), the system of record of a daemon.

Papers, result files, goals with provenance, hypotheses, verdicts, model versions and stream
cursors. Every table has a natural unique key, and writes are idempotent: writing a record
again (a replayed message, a restart) changes nothing, except where a newer version of the same
record is meant to replace the old one (a paper's new arXiv version, a cursor's position).

The schema is versioned: ``MIGRATIONS[i]`` takes a database from version i to i + 1, and opening
a store applies whatever is pending, each migration in its own transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE papers (arxiv_id TEXT PRIMARY KEY, version INTEGER NOT NULL, title TEXT NOT NULL,
        abstract TEXT NOT NULL, authors TEXT NOT NULL, categories TEXT NOT NULL,
        published TEXT, updated TEXT, links TEXT NOT NULL, ingested_at REAL NOT NULL);
    CREATE TABLE results (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, sample_id TEXT,
        design TEXT NOT NULL, measurement TEXT NOT NULL, ingested_at REAL NOT NULL);
    CREATE TABLE goals (hash TEXT PRIMARY KEY, name TEXT NOT NULL, domain TEXT NOT NULL,
        split TEXT NOT NULL CHECK (split IN ('train', 'heldout', 'user')), body TEXT NOT NULL,
        provenance TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE hypotheses (key TEXT PRIMARY KEY, goal_hash TEXT NOT NULL REFERENCES goals(hash),
        design TEXT NOT NULL, params_version INTEGER NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE verdicts (hypothesis_key TEXT PRIMARY KEY REFERENCES hypotheses(key),
        merit REAL, solved INTEGER NOT NULL, detail TEXT NOT NULL, verified_at REAL NOT NULL);
    CREATE TABLE model_versions (version INTEGER PRIMARY KEY, step INTEGER NOT NULL,
        checkpoint TEXT NOT NULL, metrics TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE cursors (stream TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at REAL NOT NULL);
    CREATE INDEX hypotheses_goal ON hypotheses(goal_hash);
    """,
    # Which round proposed a hypothesis and how (sampled by the model, or refined from a sample).
    """
    ALTER TABLE hypotheses ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE hypotheses ADD COLUMN origin TEXT NOT NULL DEFAULT 'sampled';
    CREATE INDEX hypotheses_round ON hypotheses(round);
    """,
    # Held-out evaluations of parameter versions, with the promotion gate's decision.
    """
    CREATE TABLE evaluations (version INTEGER PRIMARY KEY, report TEXT NOT NULL, created_at REAL NOT NULL);
    """,
    # Feeds: claims found in papers with their checks, measurements' verdicts, calibrations.
    """
    CREATE TABLE claims (key TEXT PRIMARY KEY, arxiv_id TEXT NOT NULL, body TEXT NOT NULL,
        verdict TEXT NOT NULL, detail TEXT NOT NULL, checked_at REAL NOT NULL);
    ALTER TABLE results ADD COLUMN verdict TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE calibrations (version INTEGER PRIMARY KEY, body TEXT NOT NULL, rms_before REAL NOT NULL,
        rms_after REAL NOT NULL, created_at REAL NOT NULL);
    """,
    # Hypotheses by goal and round, so the round schedule reads each goal's last round from the
    # index alone (it also serves every lookup by goal the old index served).
    """
    CREATE INDEX hypotheses_goal_round ON hypotheses(goal_hash, round);
    DROP INDEX hypotheses_goal;
    """,
    # The lab's own goals: submitted by name, worked on in every round until withdrawn.
    """
    CREATE TABLE lab_goals (name TEXT PRIMARY KEY, goal_hash TEXT NOT NULL REFERENCES goals(hash),
        body TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn')),
        provenance TEXT NOT NULL, submitted_at REAL NOT NULL, withdrawn_at REAL, updated_at REAL NOT NULL);
    """,
)

# Per table: its key column; for tables whose records may be superseded, the condition under
# which an incoming row replaces the stored one; and the time-stamp column filled on write.
_TABLES = {
    "papers": ("arxiv_id", "excluded.version > papers.version", "ingested_at"),
    "results": ("sha256", None, "ingested_at"),
    "goals": ("hash", None, "created_at"),
    "hypotheses": ("key", None, "created_at"),
    "verdicts": ("hypothesis_key", None, "verified_at"),
    "model_versions": ("version", None, "created_at"),
    "cursors": ("stream", "1", "updated_at"),
    "evaluations": ("version", None, "created_at"),
    # A claim found again in a paper stays as checked; only a verdict replaces it.
    "claims": ("key", "excluded.verdict != '\"pending\"'", "checked_at"),
    "calibrations": ("version", None, "created_at"),
    # A lab goal's row is rewritten on withdrawal and on a later submission under its name
    # (feeds.labgoals decides what is allowed).
    "lab_goals": ("name", "1", "updated_at"),
}
_JSON_COLUMNS = {"authors", "categories", "links", "design", "measurement", "body", "provenance",
                 "detail", "metrics", "position", "report", "verdict"}


class Store:
    """A daemon's SQLite store.

    Args:
        path: the database file; its folder is created if missing.
        timeout_s: how long a writer waits for another process's lock.
    """

    def __init__(self, path: str | Path, timeout_s: float = 30.0):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        # Used from one thread at a time, though not always the one that opened it (actor threads).
        self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, target: int | None = None) -> None:
        """Apply pending migrations up to ``target`` (default: all), each atomically."""
        target = len(MIGRATIONS) if target is None else target
        while self.schema_version < target:
            version = self.schema_version
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self.schema_version == version:  # another process may have migrated meanwhile
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def put(self, table: str, row: dict[str, Any]) -> bool:
        """Write one record idempotently; True if it was new or replaced an older version."""
        return self.put_many([(table, row)]) == 1

    def put_many(self, records: list[tuple[str, dict[str, Any]]]) -> int:
        """Write (table, row) records in one transaction, all or none; how many were new or newer."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            changed = sum(self._put(table, row) for table, row in records)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return changed

    def _put(self, table: str, row: dict[str, Any]) -> bool:
        key, replace_if, stamp = _TABLES[table]
        row = {stamp: time.time(), **row}
        cols = list(row)
        values = [json.dumps(row[c], sort_keys=True) if c in _JSON_COLUMNS else row[c] for c in cols]
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        if replace_if:
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
            sql += f" ON CONFLICT({key}) DO UPDATE SET {updates} WHERE {replace_if}"
        else:
            sql += f" ON CONFLICT({key}) DO NOTHING"
        return self._db.execute(sql, values).rowcount > 0

    def get(self, table: str, key: Any) -> dict[str, Any] | None:
        """One record by its key, JSON columns decoded; None if absent."""
        row = self._db.execute(f"SELECT * FROM {table} WHERE {_TABLES[table][0]} = ?", (key,)).fetchone()
        return None if row is None else _decode(row)

    def rows(self, table: str, where: str = "", params: tuple = ()) -> Iterator[dict[str, Any]]:
        """Records of a table, optionally filtered by an SQL condition with ? parameters."""
        sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
        for row in self._db.execute(sql, params):
            yield _decode(row)

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Rows of a read-only SQL query, undecoded (for joins and aggregates)."""
        return self._db.execute(sql, params).fetchall()

    def count(self, table: str, where: str = "", params: tuple = ()) -> int:
        sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self._db.execute(sql, params).fetchone()[0])

    def evaluations(self) -> list[dict[str, Any]]:
        """Every held-out evaluation's report, oldest version first."""
        return [json.loads(r["report"]) for r in self.query("SELECT report FROM evaluations ORDER BY version")]

    def close(self) -> None:
        self._db.close()


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    return {k: json.loads(row[k]) if k in _JSON_COLUMNS and row[k] is not None else row[k]
            for k in row.keys()}
