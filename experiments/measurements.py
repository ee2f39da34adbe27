"""Measured results against the simulator: a verdict per measurement, a calibration over all.

    judge = Judge(store, domain)                # the lab feed calls it on each new result
    verdict = judge(design_json, measurement)   # {"rms": {"R": ...}, "rms_all": ..., "calibration": 3}
    cal = calibrate(store, domain)              # fit on every stored result; stored as the next version
    made = as_made(domain, goal, latest_calibration(store))   # a goal made in a named process, as made
    recompute(store, domain, cal)               # the active lab goals' best designs under a new calibration

The physics (simulating what was measured, applying and fitting a calibration) is the domain's,
through its LabData capability (``judge(design, measurement, calibration)`` and
``calibrate(results_rows, steps)``); this module keeps the calibrations' versions and applies the
newest.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from specialist.domain import LabData, Process
from specialist.store import Store

_DESIGNS = """SELECT h.key, h.design, h.params_version, h.round, v.merit FROM hypotheses h
              JOIN verdicts v ON v.hypothesis_key = h.key
              WHERE h.goal_hash = ? AND v.merit IS NOT NULL ORDER BY v.merit, h.key LIMIT ?"""


def latest_calibration(store: Store) -> dict | None:
    """The newest stored calibration, or None before the first."""
    rows = store.query("SELECT body FROM calibrations ORDER BY version DESC LIMIT 1")
    return json.loads(rows[0]["body"]) if rows else None


class Judge:
    """Verdicts under the store's current calibration (read at each call, so a new one applies
    at once).

    Args:
        store: where calibrations are kept.
        domain: gives the verdict, ``domain.judge(design, measurement, calibration)``.
    """

    def __init__(self, store: Store, domain: LabData):
        self.store, self.domain = store, _lab_data(domain)

    def __call__(self, design: dict, measurement: dict) -> dict[str, Any]:
        return self.domain.judge(design, measurement, latest_calibration(self.store))


def calibrate(store: Store, domain: LabData, steps: int = 40) -> dict | None:
    """Fit a calibration on every stored result and store it as the next version.

    Args:
        store: holds the results, and receives the calibration.
        domain: fits it, ``domain.calibrate(results_rows, steps)``.
        steps: optimizer iterations.

    Returns:
        The domain's fit, which holds at least "rms_before" and "rms_after" (for photonics also
        "delta_n", "thickness_scale", "stderr", "measurements", "points"), with its "version";
        None (and nothing stored) while there are no results.
    """
    _lab_data(domain)
    rows = list(store.rows("results"))
    if not rows:
        return None
    fitted = domain.calibrate(rows, steps)
    last = store.query("SELECT MAX(version) AS v FROM calibrations")[0]["v"]
    body = {"version": int(last or 0) + 1, **fitted, "results": sorted(r["sha256"] for r in rows)}
    store.put("calibrations", {"version": body["version"], "body": body, "rms_before": body["rms_before"],
                               "rms_after": body["rms_after"]})
    return body


class Made(NamedTuple):
    goal: dict  # the goal to verify and refine with
    detail: dict  # what a verdict records of it: {"calibration": version}, or nothing


def as_made(domain, goal: dict, calibration: dict | None) -> Made:
    """The goal as ``calibration`` (the newest, ``latest_calibration``) says the lab's coater
    makes it, where the domain (Process) attaches one; else the goal itself."""
    made = domain.calibrated(goal, calibration) if calibration and isinstance(domain, Process) else goal
    return Made(made, {"calibration": calibration["version"]}) if made is not goal else Made(goal, {})


def recompute(store: Store, domain, calibration: dict | None, limit: int = 32) -> dict[str, int]:
    """The ``limit`` best distinct designs of every active lab goal made in a process, verified
    again under ``calibration`` and stored as new hypotheses (origin "recalibrated", keyed by the
    calibration's version; the verdicts before it stay as they were).

    Returns:
        {"goals": lab goals recomputed, "verdicts": verdicts written}.
    """
    if not calibration or not isinstance(domain, Process):
        return {"goals": 0, "verdicts": 0}
    records, goals = [], 0
    for row in store.query("SELECT goal_hash, body FROM lab_goals WHERE status = 'active' ORDER BY name"):
        made = as_made(domain, json.loads(row["body"]), calibration)
        if not made.detail:  # names no process
            continue
        seen, picked = set(), []
        for r in store.query(_DESIGNS, (row["goal_hash"], 8 * limit)):
            if r["design"] not in seen and len(picked) < limit:
                seen.add(r["design"])
                picked.append(r)
        verdicts = domain.verify(made.goal, [json.loads(r["design"]) for r in picked])
        for j, (r, verdict) in enumerate(zip(picked, verdicts)):
            key = f"cal{calibration['version']}:{row['goal_hash'][:12]}:{j}"
            records += [("hypotheses", {"key": key, "goal_hash": row["goal_hash"], "design": json.loads(r["design"]),
                                        "params_version": r["params_version"], "round": r["round"],
                                        "origin": "recalibrated"}),
                        ("verdicts", {"hypothesis_key": key, "merit": verdict.get("merit"),
                                      "solved": int(bool(verdict.get("solved"))),
                                      "detail": {**verdict, **made.detail, "recomputed_from": r["key"]}})]
        goals += 1
    store.put_many(records)
    return {"goals": goals, "verdicts": len(records) // 2}


def _lab_data(domain) -> LabData:
    """The domain, if it offers the LabData capability measured results need; else a clear error."""
    if not isinstance(domain, LabData):
        raise TypeError(f"domain '{domain.spec.name}' offers no LabData capability (read_result, judge, "
                        "calibrate), which measured results need")
    return domain
