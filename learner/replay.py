"""Replay for expert iteration: the best verified design of every goal seen so far.

A batch mixes old and new goals uniformly, so a family studied long ago keeps being rehearsed
while new goals arrive. The replay is derived from the store's verdicts, so a restarted learner
rebuilds it exactly instead of checkpointing it.

The same table serves retrieval at test time: ``nearest`` offers the best designs of the goals
whose conditioning is closest to a new goal's, rewritten for it through the tokens.

Contamination guard: a goal whose hash is in ``exclude`` (the held-out goals) is refused and
counted, wherever it comes from.
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
    exclude: frozenset = frozenset()
    best: dict[str, tuple[float, np.ndarray, list[int]]] = field(default_factory=dict)
    goals: dict[str, dict] = field(default_factory=dict)
    refused: set = field(default_factory=set)

    def offer(self, goal_hash: str, goal: dict, design: dict, merit: float) -> bool:
        """Keep ``design`` if it beats the goal's best so far; True if it did."""
        if goal_hash in self.exclude:
            self.refused.add(goal_hash)
            return False
        if goal_hash in self.best and merit >= self.best[goal_hash][0]:
            return False
        cond, tokens = self.domain.encode(goal, design)
        self.best[goal_hash] = (float(merit), cond, tokens)
        self.goals[goal_hash] = goal
        return True

    def sample_keys(self, size: int, rng: np.random.Generator) -> list[str]:
        """``size`` goal hashes drawn uniformly over goals, with replacement."""
        keys = sorted(self.best)
        return [keys[i] for i in rng.integers(0, len(keys), size)]

    def nearest(self, goal: dict, k: int) -> list[dict]:
        """The best designs of the ``k`` goals nearest to ``goal`` (conditioning distance),
        decoded for ``goal``; the goal itself is skipped if held."""
        if not self.best or k <= 0:
            return []
        cond = self.domain.encode(goal)[0]
        keys = [h for h in self.best if self.goals[h] != goal]
        if not keys:
            return []
        dist = ((np.stack([self.best[h][1] for h in keys]) - cond) ** 2).sum(axis=1)
        return [self.domain.decode(goal, self.best[keys[i]][2]) for i in np.argsort(dist)[:k]]

    def load(self, store: Store) -> int:
        """Offer every goal's best verified design in the store; returns the goals held."""
        for row in store.query(_BEST_PER_GOAL):
            self.offer(row["goal_hash"], json.loads(row["goal"]), json.loads(row["design"]), row["merit"])
        return len(self.best)

    def __len__(self) -> int:
        return len(self.best)
