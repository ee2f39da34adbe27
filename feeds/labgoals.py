"""The lab's own goals: submitted by name, worked on in every round until withdrawn.

    lab = LabGoals(store, domain, seed)
    report = lab.submit([("mirror.json", goal)], by="ana")   # `specialist submit`
    lab.withdraw("mirror")                                     # `specialist withdraw`
    tasks = active(store)                  # the round schedule's lab slots (core.Task per goal)
    rows = designs(store, "mirror")        # `specialist designs`: best design so far and its history
    feed = GoalsFeed(data_dir / "goals", lab, by="drop folder")     # the drop folder, as a feed

A lab goal is a goal JSON of the daemon's domain, named by its ``name`` (else its file's stem):
letters, digits, ``.``, ``_`` and ``-``, at most 64. It is checked by the domain (``encode``)
before anything is stored, and refused when it is one of the goals the specialist is measured on
(held-out and validation: lab goals never leak into those checks), when its name is taken by an
active lab goal, or when the same goal is already active under another name. It is stored as a
``goals`` row of split "user" (provenance "lab", who, when, from which file) with a ``lab_goals``
row holding its state; a withdrawn name may be submitted again.

The ``goals/`` drop folder (``GoalsFeed``) keeps the results folder's rules (``feeds.lab``):
files being written are left alone, a good goal file moves to ``processed/`` once its rows are
committed, a bad one to ``quarantine/`` beside its one-sentence reason; a file whose content an
active lab goal came from (its move failed after the commit) is filed away, not stored again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feeds.curriculum import kept_out
from feeds.lab import DropFolder, PARTNER_WAIT_S, SETTLE_S
from specialist.core import Task
from specialist.domain import Domain, goal_hash
from specialist.errors import InputError
from specialist.store import Store

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"

# A lab goal's verdicts under its current calibration: the newest one its verdicts name (for a
# goal made in a process), or all of them (for a goal that names none).
_CURRENT = """(? IS NULL OR json_extract(v.detail, '$.calibration') = ?)"""
_NEWEST = """SELECT MAX(json_extract(v.detail, '$.calibration')) FROM hypotheses h
             JOIN verdicts v ON v.hypothesis_key = h.key WHERE h.goal_hash = ?"""
_HISTORY = f"""
SELECT h.key, h.round, h.origin, h.params_version, h.created_at, h.design, v.merit, v.solved
FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
WHERE h.goal_hash = ? AND v.merit IS NOT NULL AND {_CURRENT} ORDER BY h.round, h.key
"""
_BEST = f"""
SELECT h.design, v.merit, v.solved FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
WHERE h.goal_hash = ? AND v.merit IS NOT NULL AND {_CURRENT} ORDER BY v.merit, h.key LIMIT 1
"""


class LabGoals:
    """Submitting and withdrawing lab goals in a store, checked by the daemon's domain.

    Args:
        store: where lab goals live.
        domain: the daemon's domain; a goal must encode (the domain's own checks).
        seed: the curriculum's seed, naming the held-out goals a lab goal may not be.
    """

    def __init__(self, store: Store, domain: Domain, seed: int):
        self.store, self.domain, self.seed = store, domain, seed
        self._kept_out: set[str] | None = None

    def submit(self, items: list[tuple[str, Any]], by: str) -> dict:
        """Check and store goals, all good ones in one transaction.

        Args:
            items: (source, goal JSON) pairs; the source (a file name) names errors and is kept
                in the provenance.
            by: who submits them.

        Returns:
            {"goals": [{"source", "name", "status": "submitted" | "rejected", "hash" | "error"}],
            "submitted", "rejected"}.
        """
        entries, rows, batch = [], [], {}
        for source, goal in items:
            try:
                found = self.rows(goal, source, by, batch)
            except InputError as err:
                entries.append({"source": source, "status": "rejected", "error": str(err)})
                continue
            rows += found
            name, digest = found[-1][1]["name"], found[-1][1]["goal_hash"]
            entries.append({"source": source, "name": name, "status": "submitted", "hash": digest})
        self.store.put_many(rows)
        return {"goals": entries, "submitted": sum(e["status"] == "submitted" for e in entries),
                "rejected": sum(e["status"] == "rejected" for e in entries)}

    def rows(self, goal: Any, source: str, by: str, batch: dict[str, str], **provenance) -> list[tuple[str, dict]]:
        """The store rows of one submitted goal, or an InputError saying why it is refused.

        ``batch`` (name -> hash) holds the goals accepted so far in the same transaction; the
        goal is added to it. ``provenance`` adds to the goal's provenance (e.g. its file's hash)."""
        if not isinstance(goal, dict):
            raise InputError(source, "", "is not a goal; allowed: one goal JSON object")
        own = self.domain.spec.name
        if goal.get("domain", own) != own:
            raise InputError(source, "domain", f"is {json.dumps(goal.get('domain'))}; allowed: \"{own}\", the "
                             "daemon's domain")
        name = goal.get("name") or Path(source).stem
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise InputError(source, "name", f"is {json.dumps(name)}; allowed: {_NAME_RULE}")
        goal = {**goal, "name": name}
        try:  # the domain's own checks: what the model reads, and what the simulator needs
            self.domain.encode(goal)
            self.domain.verify(goal, [])
        except InputError as err:
            raise err.within(source) from None
        digest = goal_hash(goal)
        if digest in self._measured_on():
            raise InputError(source, "", "is one of the goals the specialist is measured on (held-out or "
                             "validation); a lab goal must differ from them in some target or limit")
        self._free(name, digest, source, batch)
        batch[name] = digest
        now = time.time()
        provenance = {"source": "lab", "submitted_by": by, "submitted_at": now, "file": source, **provenance}
        body = {**goal, "name": name, "provenance": {**(goal.get("provenance") or {}), **provenance}}
        return [("goals", {"hash": digest, "name": name, "domain": own, "split": "user", "body": body,
                           "provenance": provenance}),
                ("lab_goals", {"name": name, "goal_hash": digest, "body": body, "status": "active",
                               "provenance": provenance, "submitted_at": now, "withdrawn_at": None})]

    def withdraw(self, name: str) -> dict:
        """Stop working on a lab goal; its designs and history stay. Returns its row."""
        row = self.store.get("lab_goals", name)
        if row is None:
            names = [r["name"] for r in self.store.rows("lab_goals", "status = 'active'")]
            raise InputError(name, "", "is not a lab goal; allowed: the name of an active lab goal ("
                             + (", ".join(sorted(names)) or "none is active") + ")")
        if row["status"] == "withdrawn":
            raise InputError(name, "", f"was already withdrawn at {_when(row['withdrawn_at'])}; nothing changed")
        row = {**row, "status": "withdrawn", "withdrawn_at": time.time()}
        row.pop("updated_at", None)
        self.store.put("lab_goals", row)
        return row

    def _free(self, name: str, digest: str, source: str, batch: dict[str, str]) -> None:
        """Refuse a name taken by an active lab goal and a goal already active under another name."""
        held = {r["name"]: (r["goal_hash"], r["submitted_at"])
                for r in self.store.rows("lab_goals", "status = 'active'")}
        held.update({n: (h, None) for n, h in batch.items()})
        if name in held:
            same, since = held[name][0] == digest, held[name][1]
            when = f" since {_when(since)}" if since else " in this submission"
            raise InputError(source, "name", f"is \"{name}\", the name of an active lab goal{when}" + (
                " with these targets; nothing stored" if same else
                " with other targets; allowed: another name, or withdraw it first (specialist withdraw "
                f"{name})"))
        for other, (h, _) in held.items():
            if h == digest:
                raise InputError(source, "", f"is the same goal as the active lab goal '{other}'; nothing stored")

    def _measured_on(self) -> set[str]:
        if self._kept_out is None:
            self._kept_out = kept_out(self.domain, self.seed)
        return self._kept_out


class GoalsFeed(DropFolder):
    """The lab goals' drop folder as a feed: each settled ``NAME.json`` submitted by ``by``."""

    def __init__(self, drop_dir: str | Path, lab: LabGoals, by: str = "drop folder", name: str = "lab-goals",
                 settle_s: float = SETTLE_S, partner_wait_s: float = PARTNER_WAIT_S, batch: int = 64):
        super().__init__(drop_dir, settle_s, partner_wait_s, batch)
        self.lab, self.by, self.name = lab, by, name
        self._batch: dict[str, str] = {}

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], dict]:
        self._batch = {}
        return super().poll(position)

    def _take(self, files: list[Path]) -> list[tuple[str, dict]] | None:
        path = files[0]
        try:
            if path.suffix != ".json":
                raise InputError(path.name, "", "is not a goal file; allowed: NAME.json holding one goal")
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if self._stored(sha):
                return []  # stored by a poll whose move failed: filed away now
            try:
                goal = json.loads(data.decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise InputError(path.name, "", f"is not valid JSON ({err})") from None
            return self.lab.rows(goal, path.name, self.by, self._batch, sha256=sha)
        except InputError as err:
            self._quarantine(files, str(err))
            return None


    def _stored(self, sha: str) -> bool:
        """Whether an active lab goal came from a file with this content."""
        return bool(self.lab.store.query("SELECT 1 FROM lab_goals WHERE status = 'active' AND "
                                         "json_extract(provenance, '$.sha256') = ?", (sha,)))


def active(store: Store) -> list[Task]:
    """The active lab goals as Tasks, oldest submission first."""
    rows = store.query("SELECT goal_hash, body FROM lab_goals WHERE status = 'active' ORDER BY submitted_at, name")
    return [Task(r["goal_hash"], json.loads(r["body"])) for r in rows]


def best_merits(store: Store) -> dict[str, tuple[float, bool]]:
    """Per active lab goal with a verified design: (best merit, whether that design solves it)."""
    out = {}
    for t in active(store):
        found = _best(store, t.goal_hash)
        if found:
            out[t.goal["name"]] = (float(found["merit"]), bool(found["solved"]))
    return out


def best_design(store: Store, goal_hash_: str) -> tuple[dict, float] | None:
    """A goal's best verified design and its merit (None before any)."""
    found = _best(store, goal_hash_)
    return (json.loads(found["design"]), float(found["merit"])) if found else None


def calibration_of(store: Store, goal_hash_: str) -> int | None:
    """The calibration a goal's designs are judged under now: the newest its verdicts name."""
    return store.query(_NEWEST, (goal_hash_,))[0][0]


def _best(store: Store, goal_hash_: str):
    version = calibration_of(store, goal_hash_)
    rows = store.query(_BEST, (goal_hash_, version, version))
    return rows[0] if rows else None


def designs(store: Store, name: str | None = None) -> list[dict]:
    """Per lab goal (``name``'s alone, if given): its state, the best design so far and the
    history of its improvements (merit over time, which parameter version found it, sampled,
    refined or recalibrated), judged under its current calibration (``calibration_of``). Active
    goals first, then by submission."""
    where = ("name = ?", (name,)) if name else ("", ())
    goals = sorted(store.rows("lab_goals", *where), key=lambda r: (r["status"] != "active", r["submitted_at"]))
    if name and not goals:
        known = [r["name"] for r in store.rows("lab_goals")]
        raise InputError(name, "", "is not a lab goal; allowed: " + (", ".join(sorted(known)) or "none submitted yet"))
    out = []
    for g in goals:
        history, best, count = [], None, 0
        version = calibration_of(store, g["goal_hash"])
        for r in store.query(_HISTORY, (g["goal_hash"], version, version)):
            count += 1
            if best is None or r["merit"] < best["merit"]:
                best = {"merit": float(r["merit"]), "solved": bool(r["solved"]), "params_version": r["params_version"],
                        "origin": r["origin"], "round": r["round"], "at": r["created_at"], "hypothesis": r["key"],
                        "design": json.loads(r["design"])}
                history.append({k: best[k] for k in ("at", "merit", "solved", "params_version", "origin", "round")})
        out.append({"name": g["name"], "status": g["status"], "hash": g["goal_hash"], "calibration": version,
                     "submitted_by": g["provenance"].get("submitted_by"), "submitted_at": g["submitted_at"],
                     "withdrawn_at": g["withdrawn_at"], "designs_verified": count, "best": best,
                     "history": history, "goal": g["body"]})
    return out


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
