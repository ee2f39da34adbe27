"""The curriculum feed: a domain's built-in training and held-out goals, then, for a domain with
the Generator capability, new training goals from its endless sequence at every poll.

    feed = CurriculumFeed(domain, seed, per_poll=26)
    rows, position = feed.poll(None)        # the fixed curriculum (train and held-out)
    rows, position = feed.poll(position)    # then per_poll new training goals each time

The position counts the generated goals delivered, so a restarted daemon goes on where it was.
A generated goal whose physics equals a held-out or a validation goal (Benchmarks) is dropped
by hash, so training never sees what is evaluated on; one equal to a goal already stored is
stored once (goals are keyed by their hash).
"""

from __future__ import annotations

from typing import Any

from specialist.domain import Benchmarks, Domain, Generator, goal_hash

DELIVERED = "delivered"  # the position of a feed that has delivered the fixed curriculum only


class CurriculumFeed:
    """Yields the domain's curriculum once, then ``per_poll`` generated goals per poll."""

    def __init__(self, domain: Domain, seed: int, per_poll: int = 0):
        self.domain, self.seed = domain, seed
        self.per_poll = per_poll if isinstance(domain, Generator) else 0
        self.name = f"curriculum:{domain.spec.name}:{seed}"
        self._kept_out: set[str] | None = None  # held-out and validation hashes, computed when needed

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], Any]:
        if position is None:
            train, heldout = self.domain.curriculum(self.seed)
            return (self._rows("train", train, "curriculum") + self._rows("heldout", heldout, "curriculum"),
                    {"curriculum": DELIVERED, "generated": 0})
        start = 0 if position == DELIVERED else int(position["generated"])
        if not self.per_poll:
            return [], position
        kept_out = self._excluded()
        fresh = [g for g in self.domain.generate(start, self.per_poll) if goal_hash(g) not in kept_out]
        return self._rows("train", fresh, "generator"), {"curriculum": DELIVERED, "generated": start + self.per_poll}

    def _rows(self, split: str, goals: list[dict], source: str) -> list[tuple[str, dict]]:
        provenance = {"source": source, "domain": self.domain.spec.name, "seed": self.seed}
        return [("goals", {"hash": goal_hash(g), "name": g.get("name", ""), "domain": self.domain.spec.name,
                           "split": split, "body": g, "provenance": provenance}) for g in goals]

    def _excluded(self) -> set[str]:
        if self._kept_out is None:
            self._kept_out = kept_out(self.domain, self.seed)
        return self._kept_out


def kept_out(domain: Domain, seed: int) -> set[str]:
    """Hashes of the goals the specialist is measured on, never trained on: the curriculum's
    held-out goals and, for a domain with Benchmarks, its validation goals."""
    goals = domain.curriculum(seed)[1]
    if isinstance(domain, Benchmarks):
        goals = goals + domain.validation_goals()
    return {goal_hash(g) for g in goals}
