"""What a daemon is doing: the driver's rolling report, and ``specialist status`` read from the store.

The driver adds each checked round to a ``Report`` and writes its metrics to the tracking run
and, with a heartbeat, to the store's cursor "daemon"; ``read`` needs only the data directory.
"""

from __future__ import annotations

import fcntl
import math
import time
from collections import deque
from pathlib import Path

import numpy as np

from feeds import labgoals
from specialist.core import Best, Checked, Learned
from specialist.paths import Paths
from specialist.store import Store

CURSOR = "daemon"
_OPEN_GOALS = """
    SELECT COUNT(*) FROM goals g WHERE g.split = 'train' AND NOT EXISTS (
        SELECT 1 FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
        WHERE h.goal_hash = g.hash AND v.solved = 1)
"""


class Report:
    """Rolling figures over the last ``window`` checked rounds, plus counts from the store."""

    def __init__(self, store: Store, window: int = 25):
        self.store, self.window = store, deque(maxlen=window)
        self.rounds, self.best = 0, {}
        self.learner: Learned | None = None  # the learner's last report

    def add(self, checked: Checked) -> None:
        self.window.append((time.time(), checked))
        self.rounds += 1
        for b in checked.best:
            if b.goal_hash not in self.best or b.merit < self.best[b.goal_hash].merit:
                self.best[b.goal_hash] = b

    def metrics(self) -> dict[str, float]:
        out = {"papers_ingested": self.store.count("papers"), "results_ingested": self.store.count("results"),
               "goals_open": int(self.store.query(_OPEN_GOALS)[0][0]),
               "goals_train": self.store.count("goals", "split = 'train'"),
               "hypotheses_verified": self.store.count("verdicts"), "rounds_checked": self.rounds,
               **feed_metrics(self.store)}
        if self.learner:
            out.update(learner_loss=self.learner.loss, replay_goals=self.learner.replay_goals,
                       pretraining=float(self.learner.phase == "spectrum"),
                       contaminated_goals_refused=self.learner.contaminated_refused,
                       hindsight_rows=self.learner.hindsight_rows)
        if self.window:
            results = [r for _, r in self.window]
            for key in ("solve_rate", "sampled_solve_rate", "mean_best_merit", "median_sampled_merit"):
                out[key] = float(np.mean([getattr(r, key) for r in results]))
            span = self.window[-1][0] - self.window[0][0]
            if span > 0:
                out["hypotheses_verified_per_s"] = sum(r.verified for r in results[1:]) / span
        return out

    def best_designs(self, n: int) -> list[Best]:
        """The best design so far of the first ``n`` goals (by hash): the same goals each refresh."""
        return [self.best[h] for h in sorted(self.best)[:n]]


class LabWatch:
    """The lab goals' best merits as the driver last saw them.

        watch = LabWatch(store)
        improved, lines = watch.update()   # {name: (merit, solved)} improved since; log lines

    A line is due when a lab goal is first solved, or when its best merit falls below ``MARKED``
    times the merit last announced (its first verified design is announced too).
    """

    MARKED = 0.5

    def __init__(self, store: Store):
        self.store = store
        self.seen = labgoals.best_merits(store)  # a restart announces nothing already known
        self.announced = dict(self.seen)

    def update(self) -> tuple[dict[str, tuple[float, bool]], list[str]]:
        now = labgoals.best_merits(self.store)
        improved = {n: v for n, v in now.items() if n not in self.seen or v[0] < self.seen[n][0]}
        lines = []
        for name, (merit, solved) in improved.items():
            before = self.announced.get(name)
            if before is None or (solved and not before[1]) or merit < self.MARKED * before[0]:
                what = ("first solved" if solved and (before is None or not before[1]) else
                        "first verified design" if before is None else f"improved from {before[0]:.4g}")
                lines.append(f"lab goal {name}: {what}, best merit {merit:.4g}")
                self.announced[name] = (merit, solved)
        self.seen.update(now)
        return improved, lines

    def metrics(self) -> dict[str, float]:
        """``lab_<name>_best_merit`` per active lab goal with a verified design."""
        return {f"lab_{name}_best_merit": merit for name, (merit, _) in self.seen.items()}


def lab_summary(store: Store) -> list[dict]:
    """Per active lab goal: its name, best merit so far and whether it is solved."""
    best = labgoals.best_merits(store)
    return [{"name": t.goal["name"], "best_merit": best.get(t.goal["name"], (None, False))[0],
             "solved": best.get(t.goal["name"], (None, False))[1]} for t in labgoals.active(store)]


def feed_metrics(store: Store) -> dict[str, float]:
    """What the feeds brought: goals from papers, claims and their checks, the calibration."""
    verdicts = dict(store.query("SELECT verdict, COUNT(*) FROM claims GROUP BY verdict"))
    out = {"goals_from_papers": store.count("goals", "json_extract(provenance, '$.source') = 'arxiv'"),
           "claims_found": sum(verdicts.values()),
           "claims_checked": sum(n for v, n in verdicts.items() if v != '"pending"'),
           "claims_inconsistent": verdicts.get('"inconsistent"', 0)}
    last = store.query("SELECT version, rms_before, rms_after FROM calibrations ORDER BY version DESC LIMIT 1")
    if last:
        out.update(calibration_version=last[0][0], calibration_rms_before=last[0][1],
                   calibration_rms_after=last[0][2])
    return out


def read(data_dir: str | Path) -> dict:
    """The status document of the daemon whose data directory is ``data_dir``."""
    paths = Paths(data_dir)
    store = Store(paths.store)
    try:
        cursor = store.get("cursors", CURSOR)
        beat = cursor["position"] if cursor else {}
        last = store.query("SELECT MAX(step) FROM model_versions")[0][0]
        # a rolling figure may be infinite (a round with no valid design): JSON has no such number
        metrics = {k: v if not isinstance(v, float) or math.isfinite(v) else None
                   for k, v in beat.get("metrics", {}).items()}
        return {"running": _locked(paths.lock), "data_dir": str(paths.data_dir),
                "papers": store.count("papers"), "results": store.count("results"),
                "goals": store.count("goals"), "goals_open": int(store.query(_OPEN_GOALS)[0][0]),
                "hypotheses_verified": store.count("verdicts"),
                "params_version": beat.get("params_version", last),
                "last_checkpoint_step": last, "solve_rate": metrics.get("solve_rate"),
                "round": beat.get("round"), "pid": beat.get("pid"), "host": beat.get("host"),
                "heartbeat_age_s": None if "heartbeat" not in beat else round(time.time() - beat["heartbeat"], 1),
                "tracking_run": beat.get("run_id"), "feeds": feed_metrics(store), "metrics": metrics,
                "lab_goals": lab_summary(store)}
    finally:
        store.close()


def empty(data_dir: str | Path) -> dict:
    """The status document of a data directory no daemon has used: nothing runs, nothing is stored."""
    return {"running": False, "data_dir": str(Paths(data_dir).data_dir), "papers": 0, "results": 0, "goals": 0,
            "goals_open": 0, "hypotheses_verified": 0, "params_version": None, "last_checkpoint_step": None,
            "solve_rate": None, "round": None, "pid": None, "host": None, "heartbeat_age_s": None,
            "tracking_run": None, "feeds": {}, "metrics": {}, "lab_goals": []}


def _locked(path: Path) -> bool:
    """True while a daemon holds the data directory's lock (``path``)."""
    if not path.exists():
        return False
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
