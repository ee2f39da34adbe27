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
from contextlib import contextmanager
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
    # What a round's hypotheses came to, written when retention compacts the round (specialist.app.
    # retention): its counts, solve rates and merits over every hypothesis it checked (recalibrated
    # ones aside), and how many of its hypotheses (each with its verdict) were deleted since.
    """
    CREATE TABLE round_aggregates (round INTEGER PRIMARY KEY, hypotheses INTEGER NOT NULL,
        sampled INTEGER NOT NULL, valid INTEGER NOT NULL, solved INTEGER NOT NULL,
        sampled_solved INTEGER NOT NULL, goals INTEGER NOT NULL, goals_solved INTEGER NOT NULL,
        goals_sampled_solved INTEGER NOT NULL, best_merit REAL, mean_best_merit REAL,
        params_version INTEGER, first_at REAL NOT NULL, last_at REAL NOT NULL,
        removed INTEGER NOT NULL DEFAULT 0, compacted_at REAL NOT NULL);
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
    "round_aggregates": ("round", None, "compacted_at"),
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
        self.timeout_s = timeout_s
        if self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
            # A new file: pages freed by deletions can be handed back (``reclaim``). Only a file
            # without tables can switch; an existing store keeps its mode (see ``reclaim``).
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
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

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE) on the store's connection, for statements
        ``put`` does not cover: committed when the block ends, rolled back if it raises, so a
        process killed inside it leaves the store as it was."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def verified_count(self) -> int:
        """Verdicts ever written: those stored plus those retention deleted from compacted rounds."""
        removed = self._db.execute("SELECT COALESCE(SUM(removed), 0) FROM round_aggregates").fetchone()[0]
        return self.count("verdicts") + int(removed)

    def round_totals(self) -> dict[int, int]:
        """Hypotheses written per round: those stored plus those retention deleted, so a round
        stays complete however much of it was compacted."""
        totals = {int(r): int(n) for r, n in self.query("SELECT round, COUNT(*) FROM hypotheses GROUP BY round")}
        for r, n in self.query("SELECT round, removed FROM round_aggregates WHERE removed > 0"):
            totals[int(r)] = totals.get(int(r), 0) + int(n)
        return totals

    def reclaim(self, wait_s: float = 2.0) -> int:
        """Hand the pages that deletions freed back to the file system and truncate the write-ahead
        log; returns the pages handed back.

        A store created with auto_vacuum INCREMENTAL (every store first created at schema version 7 or
        later) shrinks.
        An older one cannot switch without a full ``VACUUM``, which needs the daemon stopped and
        room for a copy; it keeps its free pages and fills them with new rows first, so it stops
        growing instead of shrinking. The log is truncated unless a reader holds it for more than
        ``wait_s`` seconds (then on a later call).
        """
        freed = 0
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # 2: INCREMENTAL
            freed = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
            # a page per step, and execute() stops at the first one: executescript steps to the end
            self._db.executescript("PRAGMA incremental_vacuum;")
        self._db.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError:  # busy: the log is reused as it is
            pass
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        return freed

    def evaluations(self) -> list[dict[str, Any]]:
        """Every held-out evaluation's report, oldest version first."""
        return [json.loads(r["report"]) for r in self.query("SELECT report FROM evaluations ORDER BY version")]

    def close(self) -> None:
        self._db.close()


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    return {k: json.loads(row[k]) if k in _JSON_COLUMNS and row[k] is not None else row[k]
            for k in row.keys()}
