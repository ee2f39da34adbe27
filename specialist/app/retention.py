"""Retention: what a daemon keeps on disk over weeks, and what it lets go.

    tick(cfg, store, logger, time.time())   # the driver's periodic call: runs what is due
    report = compact(store, horizon_s, now)  # rounds older than the horizon, compacted
    handler = log_handler(paths.daemon_log, cfg.retention)   # the daemon log, rotated

Compaction. A round whose hypotheses are all older than ``retention.hypotheses_days`` (counted
back from the newest round, so a daemon stopped for a while keeps its last days) is compacted:
its aggregates are written to ``round_aggregates`` (hypotheses, sampled, valid and solved counts,
goals and goals solved, best and mean best merit, the parameter version, and later how many of
its hypotheses were deleted), then every hypothesis of it is deleted with its verdict except
- each goal's best design (lowest merit, ties by key), its best solved design and its latest
  design (highest round), over all compacted rounds: retrieval, replay, the open-goal count, the
  round schedule's "last worked on" and ``designs`` read the same answers after as before;
- every hypothesis of a lab goal (split "user", or named in ``lab_goals``) and every
  recalibrated one (origin "recalibrated", from a measured result's calibration), forever.
Claims' and measured results' verdicts live in their own tables, which retention never touches.
The store's round invariants hold over ``Store.round_totals`` (stored plus deleted), and
``Store.verified_count`` counts every verdict ever written.

Compaction works through rounds oldest first, ``CHUNK_ROUNDS`` at a time, each chunk in one
transaction that also advances the progress mark (the newest aggregated round): a process killed
at any moment leaves each chunk wholly done or not at all, and running it again does nothing new.
Freed pages go back to the file system (``Store.reclaim``; a store made before schema version 7
cannot switch to that without a full VACUUM, so it refills its free pages instead, and stops
growing rather than shrinking). Champion versions beyond
``retention.keep_champions`` are pruned from MLflow (``tracking.prune_champions``).

Cost: a chunk reads its rounds through the round index and the rows of the goals it touches
through the (goal, round) index; no large table is scanned. Measured: about 0.8 s per chunk of
256 daemon-sized rounds (18,432 hypotheses), so a write from an actor waits at most that long.
"""

from __future__ import annotations

import logging
import logging.handlers
import math
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

from specialist.config import Config, RetentionSection
from specialist.store import Store

log = logging.getLogger("specialist")

DAY_S = 86400.0
CHUNK_ROUNDS = 256  # rounds per transaction: short enough that the actors' writes wait briefly
BUDGET_S = 20.0  # most seconds one tick spends compacting; the rest follows a minute later
RETRY_S = 60.0

_ROUND_TIMES = """SELECT round, MAX(created_at) FROM hypotheses
                  WHERE round BETWEEN ? AND ? AND origin != 'recalibrated' GROUP BY round ORDER BY round"""
_AGGREGATE = """
INSERT INTO round_aggregates (round, hypotheses, sampled, valid, solved, sampled_solved, goals, goals_solved,
    goals_sampled_solved, best_merit, mean_best_merit, params_version, first_at, last_at, removed, compacted_at)
SELECT round, SUM(n), SUM(n_sampled), SUM(n_valid), SUM(n_solved), SUM(n_sampled_solved), COUNT(*),
       SUM(any_solved), SUM(any_sampled_solved), MIN(best), AVG(best), MAX(pv), MIN(first_at), MAX(last_at), 0, ?
FROM (SELECT h.round, COUNT(*) AS n, SUM(h.origin = 'sampled') AS n_sampled, COUNT(v.merit) AS n_valid,
             SUM(v.solved != 0) AS n_solved, SUM(h.origin = 'sampled' AND v.solved != 0) AS n_sampled_solved,
             MAX(v.solved != 0) AS any_solved, MAX(h.origin = 'sampled' AND v.solved != 0) AS any_sampled_solved,
             MIN(v.merit) AS best, MAX(h.params_version) AS pv, MIN(h.created_at) AS first_at,
             MAX(h.created_at) AS last_at
      FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
      WHERE h.round BETWEEN ? AND ? AND h.origin != 'recalibrated'
      GROUP BY h.round, h.goal_hash)
WHERE true GROUP BY round
ON CONFLICT(round) DO NOTHING
"""
# Of the goals the chunk touches, their rows in compacted rounds that no rule keeps.
_DOOMED = """
CREATE TEMP TABLE doomed AS
WITH cand AS (
  SELECT h.key, h.goal_hash, h.round, h.origin, v.merit, v.solved
  FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
  WHERE h.goal_hash IN (SELECT DISTINCT goal_hash FROM hypotheses WHERE round BETWEEN :lo AND :cut)
    AND h.round <= :cut
    AND NOT EXISTS (SELECT 1 FROM goals g WHERE g.hash = h.goal_hash AND g.split = 'user')
    AND NOT EXISTS (SELECT 1 FROM lab_goals l WHERE l.goal_hash = h.goal_hash)),
ranked AS (
  SELECT key, round, origin,
    ROW_NUMBER() OVER (PARTITION BY goal_hash ORDER BY merit IS NULL, merit, key) AS by_merit,
    ROW_NUMBER() OVER (PARTITION BY goal_hash ORDER BY solved = 0, merit IS NULL, merit, key) AS by_solved,
    ROW_NUMBER() OVER (PARTITION BY goal_hash ORDER BY round DESC, key DESC) AS by_round
  FROM cand)
SELECT key, round FROM ranked
WHERE by_merit > 1 AND by_solved > 1 AND by_round > 1 AND origin != 'recalibrated'
  AND EXISTS (SELECT 1 FROM round_aggregates a WHERE a.round = ranked.round)
"""
_COUNT_REMOVED = """UPDATE round_aggregates SET removed = removed + (
                      SELECT COUNT(*) FROM temp.doomed d WHERE d.round = round_aggregates.round)
                    WHERE round IN (SELECT round FROM temp.doomed)"""


def compact(store: Store, horizon_s: float, now: float | None = None, budget_s: float | None = None,
            chunk_rounds: int = CHUNK_ROUNDS, fault: Any = None) -> dict[str, Any]:
    """Compact every round older than ``horizon_s`` (see the module docstring).

    Args:
        store: the daemon's store.
        horizon_s: seconds of complete history kept, counted back from the newest round (or from
            ``now``, if earlier).
        now: the clock (seconds since the epoch); default the time now.
        budget_s: stop after the chunk that passes this many seconds (None: finish).
        chunk_rounds: rounds per transaction.
        fault: test hook, called inside each transaction after its deletions.

    Returns:
        {"rounds": rounds aggregated, "removed": hypotheses deleted (each with its verdict),
        "through": newest compacted round or None, "pending": whether rounds older than the
        horizon are left for a later call}.
    """
    now = time.time() if now is None else now
    start, out = time.monotonic(), {"rounds": 0, "removed": 0, "through": None, "pending": False}
    cutoff = _cutoff(store, horizon_s, now)
    lo = _first_open_round(store)
    while cutoff is not None and lo is not None:
        with store.transaction() as db:
            cut = _chunk_end(db, lo, cutoff, chunk_rounds)
            if cut is None:
                break
            rounds, removed = _compact_chunk(db, lo, cut, now, fault)
        out.update(rounds=out["rounds"] + rounds, removed=out["removed"] + removed, through=cut)
        lo = _next_round(store, cut + 1)
        if lo is not None and budget_s is not None and time.monotonic() - start > budget_s:
            out["pending"] = True
            break
    return out


def _cutoff(store: Store, horizon_s: float, now: float) -> float | None:
    """Rounds whose every hypothesis is older than this are compacted; None on an empty store."""
    newest = store.query("SELECT MAX(created_at) FROM hypotheses WHERE round = (SELECT MAX(round) FROM hypotheses)")
    return None if newest[0][0] is None else min(now, float(newest[0][0])) - horizon_s


def _first_open_round(store: Store) -> int | None:
    """The oldest round not compacted yet that holds hypotheses (None: none)."""
    done = store.query("SELECT MAX(round) FROM round_aggregates")[0][0]
    return _next_round(store, 0 if done is None else int(done) + 1)


def _next_round(store: Store, at_least: int) -> int | None:
    """The first round from ``at_least`` on that a check wrote (recalibrated rows keep the round
    of the design they recompute)."""
    found = store.query("SELECT MIN(round) FROM hypotheses WHERE round >= ? AND origin != 'recalibrated'",
                        (at_least,))[0][0]
    return None if found is None else int(found)


def _chunk_end(db: sqlite3.Connection, lo: int, cutoff: float, chunk_rounds: int) -> int | None:
    """The newest round of the ``chunk_rounds`` from ``lo`` such that it and every round before it
    are wholly older than ``cutoff``; None when round ``lo`` is not."""
    cut = None
    for round_, newest in db.execute(_ROUND_TIMES, (lo, lo + chunk_rounds - 1)).fetchall():
        if newest >= cutoff:
            break
        cut = round_
    return cut


def _compact_chunk(db: sqlite3.Connection, lo: int, cut: int, now: float, fault: Any) -> tuple[int, int]:
    """Aggregate rounds lo..cut and delete what no rule keeps; (rounds aggregated, hypotheses deleted)."""
    before = db.execute("SELECT COUNT(*) FROM round_aggregates").fetchone()[0]
    db.execute(_AGGREGATE, (now, lo, cut))
    rounds = db.execute("SELECT COUNT(*) FROM round_aggregates").fetchone()[0] - before
    db.execute("DROP TABLE IF EXISTS temp.doomed")
    db.execute(_DOOMED, {"lo": lo, "cut": cut})
    db.execute(_COUNT_REMOVED)
    db.execute("DELETE FROM verdicts WHERE hypothesis_key IN (SELECT key FROM temp.doomed)")
    removed = db.execute("DELETE FROM hypotheses WHERE key IN (SELECT key FROM temp.doomed)").rowcount
    if fault is not None:
        fault()
    db.execute("DROP TABLE temp.doomed")
    return rounds, removed


def log_handler(path: str | Path, cfg: RetentionSection) -> logging.handlers.RotatingFileHandler:
    """The daemon log's handler: rotated at ``log_max_mb`` MiB, ``log_backups`` old files kept."""
    return logging.handlers.RotatingFileHandler(path, maxBytes=max(1, int(cfg.log_max_mb * 2**20)),
                                                backupCount=cfg.log_backups, encoding="utf-8")


def registry_name(cfg: Config) -> str:
    """The MLflow registered model that promoted versions go to."""
    return cfg.evaluation.registry_name or f"specialist-{cfg.daemon.domain}"


class Retention:
    """When compaction and champion pruning are due: at the first call, then every
    ``every_minutes`` (a minute after a call that left rounds for later).

    Args:
        cfg: the [retention] section.
        store: the daemon's store.
        prune: called with ``keep_champions`` to prune champion versions (None: no pruning).
    """

    def __init__(self, cfg: RetentionSection, store: Store, prune=None):
        self.cfg, self.store, self.prune = cfg, store, prune
        self.next_at = -math.inf

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def run(self, now: float, budget_s: float | None = BUDGET_S) -> dict[str, Any]:
        """Compact, reclaim freed pages and prune champions; returns what was done."""
        report = compact(self.store, self.cfg.hypotheses_days * DAY_S, now, budget_s)
        report["freed_pages"] = self.store.reclaim() if report["removed"] else 0
        if self.prune is not None:
            report["champions_removed"] = self.prune(self.cfg.keep_champions)
        self.next_at = now + (RETRY_S if report["pending"] else self.cfg.every_minutes * 60.0)
        return report


_RUNNING: "weakref.WeakKeyDictionary[Store, Retention]" = weakref.WeakKeyDictionary()


def tick(cfg: Config, store: Store, logger: Any, now: float) -> dict[str, Any] | None:
    """The driver's periodic call: compaction and pruning for ``store`` when due (at the first
    call, then on the schedule); failures are logged and tried again at the next due time.

    Args:
        cfg: the daemon's configuration ([retention], and the registered model's name).
        store: the daemon's store.
        logger: the tracking run (``tracking.MlflowLogger``); its client prunes the champions.
        now: the clock.

    Returns:
        The report of a run, None when nothing was due.
    """
    retention = _RUNNING.get(store)
    if retention is None:
        retention = _RUNNING[store] = Retention(cfg.retention, store, _pruner(cfg, logger))
    if not retention.due(now):
        return None
    try:
        report = retention.run(now)
    except sqlite3.OperationalError as err:  # the store stayed locked: as it was, tried again later
        retention.next_at = now + RETRY_S
        log.warning("retention: compaction skipped: %s", err)
        return None
    if report["removed"] or report.get("champions_removed"):
        log.info("retention: %d rounds compacted (through round %s), %d hypotheses deleted, %d pages freed, "
                 "%d champion versions removed", report["rounds"], report["through"], report["removed"],
                 report["freed_pages"], len(report.get("champions_removed") or []))
    return report


def _pruner(cfg: Config, logger: Any):
    client = getattr(logger, "client", None)
    if client is None:
        return None

    def prune(keep: int) -> list[str]:
        from specialist.app import tracking  # mlflow: imported by the daemon already, not by compaction alone

        try:
            return tracking.prune_champions(client, registry_name(cfg), keep)
        except Exception as err:  # noqa: BLE001 - a tracking server's failure must not stop the daemon
            log.warning("retention: champion versions not pruned: %s", err)
            return []
    return prune
