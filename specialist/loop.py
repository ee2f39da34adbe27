"""One round of the loop, in process: propose a group of designs per goal, verify, learn.

The daemon's actors run the same three stages apart; this module composes them directly, for
tests and for measuring what the distributed version costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from learner import Learner
from specialist.domain import Domain
from specialist.proposer import sample


@dataclass
class Replay:
    """The best verified design per goal so far (expert-iteration targets)."""

    best: dict[str, tuple[float, dict]] = field(default_factory=dict)

    def offer(self, goal: dict, design: dict, merit: float) -> bool:
        name = goal["name"]
        if name not in self.best or merit < self.best[name][0]:
            self.best[name] = (merit, design)
            return True
        return False


def propose(domain: Domain, learner: Learner, goals: list[dict], group: int, key, temperature=1.0):
    """``group`` decoded designs per goal, sampled from the learner's current parameters."""
    cond = np.stack([domain.encode(g)[0] for g in goals])
    cond_BxC = np.repeat(cond, group, axis=0)
    tokens = np.asarray(sample(learner.state.params, learner.model_cfg, cond_BxC, key, temperature))
    return [[domain.decode(g, tokens[i * group + j].tolist()) for j in range(group)]
            for i, g in enumerate(goals)]


def run_round(domain: Domain, learner: Learner, replay: Replay, goals: list[dict], key,
              group: int = 8, refine_budget: int = 0, train_steps: int = 1) -> dict:
    """Propose, verify (and refine), keep the best per goal, train on the replay's targets."""
    proposals = propose(domain, learner, goals, group, key)
    solved, merits = [], []
    for goal, designs in zip(goals, proposals):
        verdicts = domain.verify(goal, designs)
        scored = [(v["merit"], d) for v, d in zip(verdicts, designs) if "merit" in v]
        if refine_budget and scored:
            refined, rv, _ = domain.refine(goal, [min(scored, key=lambda x: x[0])[1]], refine_budget)
            scored += [(v["merit"], d) for v, d in zip(rv, refined) if "merit" in v]
        if scored:
            merit, design = min(scored, key=lambda x: x[0])
            replay.offer(goal, design, merit)
            merits.append(merit)
            solved.append(any(v.get("solved") for v in verdicts))
    targets = [(g, replay.best[g["name"]][1]) for g in goals if g["name"] in replay.best]
    losses = []
    if targets:
        cond = np.stack([domain.encode(g)[0] for g, _ in targets])
        tokens = [domain.encode(g, d)[1] for g, d in targets]
        losses = [learner.update(cond, tokens)["loss"] for _ in range(train_steps)]
    return {"solve_rate": float(np.mean(solved)) if solved else 0.0,
            "mean_best_merit": float(np.mean(merits)) if merits else float("inf"),
            "loss": losses[-1] if losses else float("nan")}


def keys(seed: int):
    """An endless stream of PRNG keys from one seed."""
    key = jax.random.key(seed)
    while True:
        key, sub = jax.random.split(key)
        yield sub
