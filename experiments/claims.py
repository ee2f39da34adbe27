"""Checking claims found in papers: does the stated design give the stated performance?

    result = check(domain, claim, budget=300)          # {"verdict", "numbers"}
    counts = check_pending(domain, store, limit=8)     # pending rows of table claims, checked

Verdicts:
  consistent      the stated design, simulated, meets the stated bound; or, with only materials
                  and a layer count stated, the domain's optimizer met it within that count.
  inconsistent    the stated design misses the stated bound by more than the goal's tolerance,
                  read in either layer order (papers list stacks from either side).
  not checkable   nothing concrete to simulate, or the optimizer did not meet the bound:
                  failing to find a design is no proof that none exists.

A claim is {"key", "arxiv_id", "text", "goal", "design", "materials", "layers"}, its goal
carrying the sentence's statistic ("average", "bound") in ``provenance``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from specialist.domain import ClaimCheck, Domain, Optimizer
from specialist.store import Store

CONSISTENT, INCONSISTENT, NOT_CHECKABLE = "consistent", "inconsistent", "not checkable"


def check(domain: Domain, claim: dict, budget: int = 300, seed: int = 0) -> dict[str, Any]:
    """The verdict on one claim.

    Args:
        domain: the domain whose verifier does the checking, with its ClaimCheck figures and its
            Optimizer where it offers them.
        claim: a claim dict as ``from_record`` returns it.
        budget: evaluations the optimizer may spend when no thicknesses are stated.
        seed: the optimizer's seed.

    Returns:
        {"verdict": "consistent" | "inconsistent" | "not checkable", "numbers": {...}} with the
        merit and simulated figures behind the verdict, or the reason it could not be reached.
    """
    goal = claim.get("goal")
    if not isinstance(goal, dict):
        return _result(NOT_CHECKABLE, reason="the claim states no performance")
    if isinstance(claim.get("design"), dict):
        return _check_design(domain, goal, claim["design"])
    if claim.get("layers") and claim.get("materials"):
        return _check_reachable(domain, goal, claim, budget, seed)
    return _result(NOT_CHECKABLE, reason="neither a full design nor materials with a layer count is stated")


def check_pending(domain: Domain, store: Store, limit: int = 8, budget: int = 300) -> dict[str, int]:
    """Check up to ``limit`` claims whose verdict is "pending" and write their verdicts back.

    Returns:
        {"checked": how many were checked, "inconsistent": how many of them were}.
    """
    rows = list(itertools.islice(store.rows("claims", "verdict = ?", (json.dumps("pending"),)), limit))
    records, inconsistent = [], 0
    for row in rows:
        try:
            result = check(domain, row["body"], budget)
        except (ValueError, KeyError, TypeError) as err:  # a malformed claim must not stop the rest
            result = _result(NOT_CHECKABLE, reason=f"the check failed: {err}")
        inconsistent += result["verdict"] == INCONSISTENT
        records.append(("claims", {"key": row["key"], "arxiv_id": row["arxiv_id"], "body": row["body"],
                                   "verdict": result["verdict"], "detail": result["numbers"]}))
    if records:
        store.put_many(records)
    return {"checked": len(records), "inconsistent": inconsistent}


def _check_design(domain: Domain, goal: dict, design: dict) -> dict[str, Any]:
    """Simulate the stated design in both layer orders; the better reading decides."""
    relaxed = _admitting(goal, design)
    readings = []
    for order, layers in (("as written", design["layers"]), ("reversed", design["layers"][::-1])):
        d = {**design, "layers": layers}
        verdict = domain.verify(relaxed, [d])[0]
        if "merit" not in verdict:
            return _result(NOT_CHECKABLE, reason=f"the stated design is rejected: {verdict.get('rejected')}")
        figures = domain.claim_figures(relaxed, d) if isinstance(domain, ClaimCheck) else []
        met = all(f["met"] for f in figures) if figures else verdict["merit"] <= goal.get("solved_below", 1.0)
        readings.append({"order": order, "merit": float(verdict["merit"]), "met": met, "simulated": figures})
    best = min(readings, key=lambda r: (not r["met"], r["merit"]))
    return _result(CONSISTENT if best["met"] else INCONSISTENT, **best)


def _admitting(goal: dict, design: dict) -> dict:
    """The claim's goal with its design constraints widened to the stated design: the claim is
    about the spectrum, and the design is what it states, not a proposal to be held to limits."""
    materials: list = []
    for layer in design["layers"]:
        if layer["material"] not in materials:
            materials.append(layer["material"])
    thickest = max(layer["thickness_nm"] for layer in design["layers"])
    hi = goal.get("thickness_nm", [0, 1000])[1]
    return {**goal, "materials": materials,
            "substrate": design.get("substrate", goal["substrate"]), "incident": design.get("incident", "air"),
            "max_layers": max(goal.get("max_layers", 1), len(design["layers"])),
            "thickness_nm": [0, max(hi, thickest)]}


def _check_reachable(domain: Domain, goal: dict, claim: dict, budget: int, seed: int) -> dict[str, Any]:
    """Materials and a layer count without thicknesses: search for a design that meets the bound."""
    if not isinstance(domain, Optimizer):
        return _result(NOT_CHECKABLE, reason="the domain offers no optimizer to search the stated stack")
    goal_names = [m if isinstance(m, str) else m.get("name") for m in goal.get("materials", [])]
    if list(claim["materials"]) != goal_names:
        return _result(NOT_CHECKABLE, reason=f"materials {claim['materials']} are not all in the library "
                       "(or not valid over the band)")
    found = domain.optimize({**goal, "max_layers": int(claim["layers"])}, "gradient", budget, seed)
    numbers = {"merit": found["merit"], "evaluations": found["evaluations"], "design": found["design"],
               "layers": int(claim["layers"])}
    if found["solved"]:
        return _result(CONSISTENT, **numbers)
    return _result(NOT_CHECKABLE, reason="the optimizer did not meet the stated bound within the budget",
                   **numbers)


def _result(verdict: str, **numbers: Any) -> dict[str, Any]:
    return {"verdict": verdict, "numbers": numbers}
