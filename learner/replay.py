"""Replay for expert iteration: the best verified design of every goal seen so far.

A batch mixes old and new goals uniformly, so a family studied long ago keeps being rehearsed
while new goals arrive. The replay is derived from the store's verdicts, so a restarted learner
rebuilds it exactly instead of checkpointing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from specialist.domain import Domain
from specialist.store import Store

_BEST_PER_GOAL = """
    SELECT h.goal_hash, g.body AS goal, h.design, v.merit
    FROM verdicts v JOIN hypotheses h ON h.key = v.hypothesis_key JOIN goals g ON g.hash = h.goal_hash
    WHERE v.merit IS NOT NULL AND g.split = 'train'
      AND v.merit = (SELECT MIN(v2.merit) FROM verdicts v2 JOIN hypotheses h2 ON h2.key = v2.hypothesis_key
                     WHERE h2.goal_hash = h.goal_hash)
"""


@dataclass
class Replay:
    """Best (merit, conditioning, tokens) per goal hash."""

    domain: Domain
    best: dict[str, tuple[float, np.ndarray, list[int]]] = field(default_factory=dict)

    def offer(self, goal_hash: str, goal: dict, design: dict, merit: float) -> bool:
        """Keep ``design`` if it beats the goal's best so far; True if it did."""
        if goal_hash in self.best and merit >= self.best[goal_hash][0]:
            return False
        cond, tokens = self.domain.encode(goal, design)
        self.best[goal_hash] = (float(merit), cond, tokens)
        return True

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
        """``size`` targets drawn uniformly over goals, with replacement: (cond_BxC, tokens)."""
        keys = sorted(self.best)
        picks = rng.integers(0, len(keys), size)
        rows = [self.best[keys[i]] for i in picks]
        return np.stack([r[1] for r in rows]), [r[2] for r in rows]

    def load(self, store: Store) -> int:
        """Offer every goal's best verified design in the store; returns the goals held."""
        for row in store.query(_BEST_PER_GOAL):
            self.offer(row["goal_hash"], json.loads(row["goal"]), json.loads(row["design"]), row["merit"])
        return len(self.best)

    def __len__(self) -> int:
        return len(self.best)
