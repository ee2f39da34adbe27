"""The feed worker: polls each feed from its stored position and writes what it yields.

    worker = FeedWorker(store, [CurriculumFeed(domain, seed), ...])
    counts = worker.poll()          # {feed name: records written}

A feed is any object with ``name`` and ``poll(position) -> (rows, new_position)``, where rows
are (table, record) pairs for the store. The records and the new position are written in one
transaction, so a feed interrupted anywhere neither skips nor repeats what it delivers.
"""

from __future__ import annotations

from typing import Any, Protocol

from specialist.store import Store


class Feed(Protocol):
    """A source of records, read from a position that only the feed interprets."""

    name: str

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], Any]:
        """(records for the store, the position after them); ``position`` is None the first time."""


class FeedWorker:
    def __init__(self, store: Store, feeds: list[Feed]):
        self.store, self.feeds = store, feeds

    def poll(self) -> dict[str, int]:
        counts = {}
        for feed in self.feeds:
            stored = self.store.get("cursors", feed.name)
            rows, position = feed.poll(None if stored is None else stored["position"])
            counts[feed.name] = self.store.put_many(rows + [("cursors", {"stream": feed.name,
                                                                          "position": position})]) - 1
        return counts
