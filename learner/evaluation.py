"""Held-out evaluation of parameter versions, forgetting per goal family, the promotion gate.

    evaluation = Evaluation(domain, model_cfg, cfg.evaluation, heldout, store, champion_dir, seed)
    report = evaluation.evaluate(version, params)   # recorded in the store's evaluations table
    if report["promoted"]: ...                      # champion_dir now holds this version

Each evaluation runs the specialist's test-time search (``Proposer.search``: sampled and
retrieved candidates, then refinement) on every held-out goal at each budget, with fixed seeds,
so two versions are compared on the same footing. Retrieval only sees training goals.

Per goal family (a goal's provenance.family, else "all"), at the largest budget:
- forgetting: the best solve rate any earlier evaluation reached minus the current one
  (Chaudhry et al., 2018); reported per family and as the mean and the largest;
- backward transfer: the current solve rate minus the previous evaluation's, averaged over
  families (Lopez-Paz and Ranzato, 2017, applied between consecutive evaluations).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from learner import gate
from learner.checkpoint import save_champion
from learner.replay import Replay
from specialist.config import EvaluationSection, int_list
from specialist.domain import Optimizer, family, goal_hash
from specialist.proposer import Proposer
from specialist.store import Store

CHAMPION = "champion"


class Evaluation:
    """Evaluates versions on the held-out goals and keeps the champion."""

    def __init__(self, domain, model_cfg, cfg: EvaluationSection, heldout: list[dict], store: Store,
                 champion_dir: Path, seed: int = 0):
        self.domain, self.cfg, self.goals, self.store = domain, cfg, heldout, store
        self.champion_dir, self.seed = Path(champion_dir), seed
        self.budgets = int_list(cfg.budgets, "configuration", "evaluation.budgets")
        self.exclude = frozenset(goal_hash(g) for g in heldout)
        self.proposer = Proposer(domain, model_cfg, None, -1, seed, cfg.samples, 1.0)

    def evaluate(self, versioned: tuple, record: bool = True) -> dict:
        """The report of one (version, params), computed once: a repeat returns the stored one.
        ``record=False`` measures without the store or the gate (for experiments)."""
        version, params = versioned
        done = self.store.get("evaluations", version) if record else None
        if done is not None:
            return done["report"]
        start = time.perf_counter()
        self.proposer.params, self.proposer.version = params, version
        retrieval = Replay(self.domain, exclude=self.exclude)
        retrieval.load(self.store)
        results = self.proposer.search(self.goals, self.budgets, self.cfg.samples, retrieval,
                                       self.cfg.retrieved, self.cfg.refine_top, self.seed)
        report = self._report(version, results)
        report["eval_seconds"] = time.perf_counter() - start
        report["retrieval_goals"] = len(retrieval)
        if record:
            self._gate(report, params)
            self.store.put("evaluations", {"version": version, "report": report})
        return report

    def baseline(self, method: str) -> dict | None:
        """A per-goal optimizer's solve rate and median merit on the held-out goals at each
        budget (the learning curve's reference), computed once; None if the domain has none."""
        if not isinstance(self.domain, Optimizer) or not method:
            return None
        stream = f"baseline:{method}:{self.cfg.budgets}"
        cached = self.store.get("cursors", stream)
        if cached is not None:
            return cached["position"]
        out = {}
        for b in self.budgets:
            runs = [self.domain.optimize(g, method, b, self.seed) for g in self.goals]
            merits = [r["merit"] if r["merit"] is not None else np.inf for r in runs]
            out[str(b)] = {"solve_rate": float(np.mean([r["solved"] for r in runs])),
                           "median_merit": float(np.median(merits))}
        self.store.put("cursors", {"stream": stream, "position": {"method": method, "budgets": out}})
        return {"method": method, "budgets": out}

    def _report(self, version: int, results: list[dict]) -> dict:
        top = max(self.budgets)
        report = {"version": version, "goals": len(self.goals), "elapsed_s": self._elapsed(),
                  "budgets": {}, "solved": [bool(r[top]["solved"]) for r in results]}
        for b in self.budgets:
            merits = [r[b]["merit"] if r[b]["merit"] is not None else np.inf for r in results]
            report["budgets"][str(b)] = {"solve_rate": float(np.mean([r[b]["solved"] for r in results])),
                                         "median_merit": float(np.median(merits))}
        families: dict[str, list[bool]] = {}
        for goal, solved in zip(self.goals, report["solved"]):
            families.setdefault(family(goal), []).append(solved)
        report["families"] = {f: float(np.mean(s)) for f, s in families.items()}
        earlier = [e["families"] for e in self.store.evaluations() if e["version"] < version]
        forgetting = {f: max([e.get(f, 0.0) for e in earlier] + [sr]) - sr for f, sr in report["families"].items()}
        report["forgetting"] = forgetting
        report["forgetting_mean"] = float(np.mean(list(forgetting.values())))
        report["forgetting_max"] = float(max(forgetting.values()))
        report["backward_transfer"] = (float(np.mean([sr - earlier[-1].get(f, 0.0)
                                                      for f, sr in report["families"].items()]))
                                       if earlier else 0.0)
        return report

    def _elapsed(self) -> float:
        """Seconds since the daemon's first version was recorded (pretraining included)."""
        first = self.store.query("SELECT MIN(created_at) FROM model_versions")[0][0]
        return time.time() - first if first is not None else 0.0

    def _gate(self, report: dict, params) -> None:
        cursor = self.store.get("cursors", CHAMPION)
        champion = cursor["position"] if cursor else None
        promote, reason = gate.decide(champion["solved"] if champion else None, report["solved"], self.cfg.gate_z)
        report.update(promoted=promote, gate=reason, champion=report["version"] if promote else champion["version"])
        if promote:
            save_champion(self.champion_dir, params, {"version": report["version"], "domain": self.domain.spec.name,
                                                      "model": dataclasses.asdict(self.proposer.cfg)})
            self.store.put("cursors", {"stream": CHAMPION, "position": {"version": report["version"],
                                                                       "solved": report["solved"]}})

