"""The curriculum feed: a domain's built-in training and held-out goals, entered into the store."""

from __future__ import annotations

from typing import Any

from specialist.domain import Domain, goal_hash


class CurriculumFeed:
    """Yields the domain's curriculum once; its position records that it was delivered."""

    def __init__(self, domain: Domain, seed: int):
        self.domain, self.seed = domain, seed
        self.name = f"curriculum:{domain.spec.name}:{seed}"

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], Any]:
        if position == "delivered":
            return [], position
        train, heldout = self.domain.curriculum(self.seed)
        provenance = {"source": "curriculum", "domain": self.domain.spec.name, "seed": self.seed}
        rows = [("goals", {"hash": goal_hash(g), "name": g.get("name", ""), "domain": self.domain.spec.name,
                           "split": split, "body": g, "provenance": provenance})
                for split, goals in (("train", train), ("heldout", heldout)) for g in goals]
        return rows, "delivered"
