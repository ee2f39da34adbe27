"""Measured results against the simulator: a verdict per measurement, a calibration over all.

    judge = Judge(store, domain)                # the lab feed calls it on each new result
    verdict = judge(design_json, measurement)   # {"rms": {"R": ...}, "rms_all": ..., "calibration": 3}
    cal = calibrate(store, domain)              # fit on every stored result; stored as the next version

The physics (simulating what was measured, applying and fitting a calibration) is the domain's,
through its LabData capability (``judge(design, measurement, calibration)`` and
``calibrate(results_rows, steps)``); this module keeps the calibrations' versions and applies the
newest.
"""

from __future__ import annotations

import json
from typing import Any

from specialist.domain import LabData
from specialist.store import Store


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
    body = {"version": int(last or 0) + 1, **fitted}
    store.put("calibrations", {"version": body["version"], "body": body, "rms_before": body["rms_before"],
                               "rms_after": body["rms_after"]})
    return body


def _lab_data(domain) -> LabData:
    """The domain, if it offers the LabData capability measured results need; else a clear error."""
    if not isinstance(domain, LabData):
        raise TypeError(f"domain '{domain.spec.name}' offers no LabData capability (read_result, judge, "
                        "calibrate), which measured results need")
    return domain
