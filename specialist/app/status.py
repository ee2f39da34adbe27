"""What a daemon is doing: the driver's rolling report, and ``specialist status`` read from the store.

The driver adds each checked round to a ``Report`` and writes its metrics to the tracking run
and, with a heartbeat, to the store's cursor "daemon"; ``read`` needs only the data directory,
and adds the disk use of its parts (``disk``). ``check`` turns a status document into the
alive-or-not answer of ``specialist status --check`` for monitoring.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections import deque
from pathlib import Path

import numpy as np

from feeds import labgoals
from specialist.config import Config
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
               "hypotheses_verified": self.store.verified_count(), "rounds_checked": self.rounds,
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
                "hypotheses_verified": store.verified_count(),
                "params_version": beat.get("params_version", last),
                "last_checkpoint_step": last, "solve_rate": metrics.get("solve_rate"),
                "round": beat.get("round"), "pid": beat.get("pid"), "host": beat.get("host"),
                "heartbeat_age_s": None if "heartbeat" not in beat else round(time.time() - beat["heartbeat"], 1),
                "tracking_run": beat.get("run_id"), "feeds": feed_metrics(store), "metrics": metrics,
                "lab_goals": lab_summary(store), "disk": disk(paths)}
    finally:
        store.close()


def empty(data_dir: str | Path) -> dict:
    """The status document of a data directory no daemon has used: nothing runs, nothing is stored."""
    return {"running": False, "data_dir": str(Paths(data_dir).data_dir), "papers": 0, "results": 0, "goals": 0,
            "goals_open": 0, "hypotheses_verified": 0, "params_version": None, "last_checkpoint_step": None,
            "solve_rate": None, "round": None, "pid": None, "host": None, "heartbeat_age_s": None,
            "tracking_run": None, "feeds": {}, "metrics": {}, "lab_goals": [], "disk": disk(Paths(data_dir))}


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


# --- disk use --------------------------------------------------------------------------------

def disk(paths: Paths) -> dict[str, int]:
    """Bytes per part of the data directory (``Paths.disk_parts``), "other" for the rest and "total".

    Sizes are the files' own (``st_size``), walked without following symbolic links (a link counts
    nothing): what deleting the data directory would give back, give or take the blocks' rounding.
    """
    part_of = {path.name: part for part, members in paths.disk_parts.items() for path in members}
    out = dict.fromkeys([*paths.disk_parts, "other"], 0)
    for entry in _entries(paths.data_dir):
        out[part_of.get(entry.name, "other")] += _size(entry)
    out["total"] = sum(out.values())
    return out


def _size(top: os.DirEntry) -> int:
    """Bytes in the file ``top``, or in every file under the folder ``top`` (a stack, not recursion:
    nesting has no limit that Python's stack would share)."""
    total, stack = 0, [top]
    while stack:
        entry = stack.pop()
        try:
            if entry.is_dir(follow_symlinks=False):
                stack.extend(_entries(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:  # removed while walked (an old checkpoint the learner drops): holds nothing now
            continue
    return total


def _entries(folder: str | Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except OSError:  # gone, or not readable by this user: nothing to count
        return []


def size_text(n: int) -> str:
    """Bytes for people, in powers of 1000: "0 B", "812 B", "4.1 kB", "312.4 MB", "1.3 GB"."""
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if round(n / scale, 1) < 1000:  # rounded first: 999,960 B is "1.0 MB", never "1000.0 kB"
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e12:.1f} TB"


# --- the check for monitoring ----------------------------------------------------------------

def default_max_age(cfg: Config) -> float:
    """The oldest heartbeat ``status --check`` accepts unless told: the driver writes one every
    ``tracking.log_every_s`` except while it waits on an actor (a figure's spectra behind a round's
    checks, the learner catching up), and every such wait ends within ``ray.get_timeout_s``. Older
    than one wait and two intervals, the driver is stuck (320 s with the defaults)."""
    return 2 * cfg.tracking.log_every_s + cfg.ray.get_timeout_s


def check(paths: Paths, doc: dict, max_age_s: float) -> dict:
    """Whether the daemon of ``paths`` is alive: {"ok": bool, "reason": one line for people}.

    Alive: a process holds the data directory's lock and the heartbeat it writes to the store is at
    most ``max_age_s`` old. Until a daemon writes its first heartbeat (the store holds none, or an
    earlier run's), it is timed from when it took the lock.

    Args:
        paths: the data directory.
        doc: its status document (``read`` or ``empty``).
        max_age_s: the oldest heartbeat that counts as alive, in seconds.
    """
    if not doc["running"]:
        return {"ok": False, "reason": f"no daemon runs on {paths.data_dir}"}
    pid, started = _holder(paths.lock)
    age, now, limit = doc["heartbeat_age_s"], time.time(), f"(limit {max_age_s:g} s)"
    # the heartbeat is this daemon's when it names its pid and was written after it took the lock
    # (a reused pid holds an older one); 2 s spare the rounding of the age and of file times
    if age is None or doc["pid"] != pid or now - age < started - 2.0:
        since = max(0.0, now - started)
        reason = f"daemon pid {pid or 'unknown'} started {since:.0f} s ago and has written no heartbeat yet {limit}"
        return {"ok": since <= max_age_s, "reason": reason}
    if age > max_age_s:
        return {"ok": False, "reason": f"heartbeat is {age:.0f} s old {limit}: daemon pid {pid} on "
                                       f"{paths.data_dir} holds its lock but has stopped reporting"}
    return {"ok": True, "reason": f"daemon pid {pid} on {paths.data_dir}: heartbeat {age:.0f} s old {limit}"}


def _holder(lock: Path) -> tuple[int | None, float]:
    """The pid the lock file holds (None while unreadable) and when it was written: the daemon's start."""
    try:
        text, started = lock.read_text().strip(), lock.stat().st_mtime
    except OSError:  # removed between the lock test and here: the daemon just ended
        return None, time.time()
    return (int(text) if text.isdigit() else None), started
