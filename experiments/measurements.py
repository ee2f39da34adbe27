"""Measured results against the simulator: a verdict per measurement, a calibration over all.

    judge = Judge(store, domain)                # the lab feed calls it on each new result
    verdict = judge(design_json, measurement)   # {"rms": {"R": ...}, "rms_all": ..., "calibration": 3}
    cal = calibrate(store, domain)              # fit on every stored result; stored as the next version

The physics (simulating what was measured, applying and fitting a calibration) is the domain's,
through its optional members ``judge(design, measurement, calibration)`` and
``calibrate(results_rows, steps)``; this module keeps the calibrations' versions and applies the
newest.
"""

from __future__ import annotations

import json
from typing import Any

from specialist.domain import Domain
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

    def __init__(self, store: Store, domain: Domain):
        self.store, self._judge = store, _member(domain, "judge")

    def __call__(self, design: dict, measurement: dict) -> dict[str, Any]:
        return self._judge(design, measurement, latest_calibration(self.store))


def calibrate(store: Store, domain: Domain, steps: int = 40) -> dict | None:
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
    fit = _member(domain, "calibrate")
    rows = list(store.rows("results"))
    if not rows:
        return None
    fitted = fit(rows, steps)
    last = store.query("SELECT MAX(version) AS v FROM calibrations")[0]["v"]
    body = {"version": int(last or 0) + 1, **fitted}
    store.put("calibrations", {"version": body["version"], "body": body, "rms_before": body["rms_before"],
                               "rms_after": body["rms_after"]})
    return body


def _member(domain: Domain, name: str) -> Any:
    """An optional member of the domain that measurements need, or a clear error naming it."""
    member = getattr(domain, name, None)
    if member is None:
        raise TypeError(f"domain '{domain.spec.name}' offers no {name}(...), which measured results need")
    return member
