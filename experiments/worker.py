"""Experiments: verify a round's proposed designs through the domain, refine the best, record all.

    experiments = Experiments(domain, store, refine_budget=60, refine_top=2)
    checked = experiments.check(proposals)     # from Proposer.propose; verdicts now in the store

A goal made in a named process (the domain's Process capability) is verified and refined as the
newest calibration says the coater makes it; its verdicts name that calibration's version.

Every hypothesis of a round and its verdict are written in one transaction under keys made of
the round, the goal's slot and the design's index, so checking the same batch twice (a retried
task, a restarted actor) writes nothing new.
"""

from __future__ import annotations

import json

import numpy as np

from specialist.core import Best, Checked, Group, Proposals
from experiments.measurements import as_made, latest_calibration
from specialist.domain import Curves, Domain, Process
from specialist.store import Store

_BEST_KNOWN = """SELECT h.design FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
                 WHERE h.goal_hash = ? AND v.merit IS NOT NULL ORDER BY v.merit LIMIT 1"""


class Experiments:
    """Batched verification and test-time refinement of proposals."""

    def __init__(self, domain: Domain, store: Store, refine_budget: int, refine_top: int, lab_refine_budget: int = 0):
        self.domain, self.store = domain, store
        self.refine_budget, self.refine_top = refine_budget, refine_top
        self.lab_refine_budget = lab_refine_budget or refine_budget

    def check(self, proposals: Proposals) -> Checked:
        """Verdicts for every proposed design; returns the round's summary, the best design per
        goal (for expert iteration) and each goal's sampled group with its merits (for the
        group-relative policy gradient) and its valid refined designs (for hindsight pairs)."""
        records, best, groups, sampled_solved, sampled_best = [], [], [], [], []
        calibration = latest_calibration(self.store) if isinstance(self.domain, Process) else None  # once a round
        for slot, (task, designs) in enumerate(zip(proposals.tasks, proposals.designs)):
            goal, made = task.goal, as_made(self.domain, task.goal, calibration)
            verdicts = self.domain.verify(made.goal, designs)
            refined = self._refine(task.goal_hash, made.goal, designs, verdicts)
            tried = [(d, v, "sampled") for d, v in zip(designs, verdicts)] + refined
            groups.append(Group(task.goal_hash, goal, designs, [v.get("merit") for v in verdicts],
                                [bool(v.get("solved")) for v in verdicts],
                                refined=[d for d, v, _ in refined if "merit" in v]))
            sampled_solved.append(any(v.get("solved") for v in verdicts))
            sampled_best.append(min((v["merit"] for v in verdicts if "merit" in v), default=np.inf))
            for j, (design, verdict, origin) in enumerate(tried):
                key = f"{proposals.round}:{slot}:{task.goal_hash[:12]}:{j}"
                records += [("hypotheses", {"key": key, "goal_hash": task.goal_hash, "design": design,
                                            "params_version": proposals.version, "round": proposals.round,
                                            "origin": origin}),
                            ("verdicts", {"hypothesis_key": key, "merit": verdict.get("merit"),
                                          "solved": int(bool(verdict.get("solved"))),
                                          "detail": {**verdict, **made.detail}})]
            scored = [(v["merit"], d, bool(v.get("solved"))) for d, v, _ in tried if "merit" in v]
            if scored:
                merit, design, solved = min(scored, key=lambda s: s[0])
                best.append(Best(task.goal_hash, goal, design, merit, solved))
        self.store.put_many(records)
        return Checked(round=proposals.round, version=proposals.version, verified=len(records) // 2,
                       goals=len(proposals.tasks), best=best, groups=groups,
                       solve_rate=float(np.mean([b.solved for b in best])) if best else 0.0,
                       sampled_solve_rate=float(np.mean(sampled_solved)),
                       mean_best_merit=float(np.mean([b.merit for b in best])) if best else float("inf"),
                       median_sampled_merit=float(np.median(sampled_best)))

    def _refine(self, goal_hash: str, goal: dict, designs: list[dict], verdicts: list[dict]) -> list[tuple]:
        """Test-time refinement of the ``refine_top`` best valid samples and of the goal's best
        design known so far (retrieved from the store), as extra hypotheses; a lab goal's
        (provenance source "lab") with ``lab_refine_budget`` evaluations, the lab's own work."""
        ranked = sorted((v["merit"], i) for i, v in enumerate(verdicts) if "merit" in v)[: self.refine_top]
        starts = [designs[i] for _, i in ranked] + self._best_known(goal_hash)
        lab = (goal.get("provenance") or {}).get("source") == "lab"
        budget = self.lab_refine_budget if lab else self.refine_budget
        if not budget or not starts:
            return []
        refined, rverdicts, _ = self.domain.refine(goal, starts, budget)
        return [(d, v, "refined") for d, v in zip(refined, rverdicts)]

    def _best_known(self, goal_hash: str) -> list[dict]:
        rows = self.store.query(_BEST_KNOWN, (goal_hash,))
        return [json.loads(rows[0]["design"])] if rows else []

    def curves(self, goal: dict, design: dict) -> list[dict] | None:
        """The domain's plottable series for a design against its goal (None without Curves)."""
        return self.domain.curves(goal, design) if isinstance(self.domain, Curves) else None
