"""The feed worker: polls each feed from its stored position, writes what it yields, then runs
the checks that follow new records.

    worker = FeedWorker(store, [CurriculumFeed(domain, seed), ArxivFeed(...), LabFeed(...)],
                        after=[check_claims, calibrate])
    report = worker.poll()          # Polled(new={feed: records written}, errors={feed: sentence}, after={...})
    worker.poll("curriculum")       # only the feeds whose name starts with "curriculum"

A feed is any object with ``name`` and ``poll(position) -> (rows, new_position)``, where rows
are (table, record) pairs for the store. The records and the new position are written in one
transaction, so a feed interrupted anywhere neither skips nor repeats what it delivers. A feed
that ``Settles`` is called after that commit (the lab feed files away what is stored); a feed
that ``Reports`` its last failure has it passed on.

Each step in ``after`` is called as ``step(new)`` with the records written per feed, and returns
a dict merged into the report's ``after`` (e.g. claims checked, a new calibration).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

from specialist.core import Polled
from specialist.store import Store


class Feed(Protocol):
    """A source of records, read from a position that only the feed interprets."""

    name: str

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], Any]:
        """(records for the store, the position after them); ``position`` is None the first time."""


@runtime_checkable
class Settles(Protocol):
    """A feed that files things away once its records are committed (the lab's drop folder)."""

    def settle(self, position: Any) -> Any:
        """Act on what ``position`` lists as committed; returns the position to store instead."""


@runtime_checkable
class Reports(Protocol):
    """A feed that keeps its last failure as one sentence (None after a clean poll)."""

    last_error: str | None


class FeedWorker:
    def __init__(self, store: Store, feeds: list[Feed], after: list[Callable[[dict], dict]] = ()):
        self.store, self.feeds, self.after = store, feeds, list(after)

    def poll(self, only: str = "") -> Polled:
        """Poll the feeds (those whose name starts with ``only``), then the steps that follow."""
        new, errors = {}, {}
        for feed in (f for f in self.feeds if f.name.startswith(only)):
            stored = self.store.get("cursors", feed.name)
            rows, position = feed.poll(None if stored is None else stored["position"])
            new[feed.name] = self.store.put_many(rows + [("cursors", {"stream": feed.name,
                                                                      "position": position})]) - 1
            if isinstance(feed, Settles):
                self.store.put("cursors", {"stream": feed.name, "position": feed.settle(position)})
            if isinstance(feed, Reports) and feed.last_error:
                errors[feed.name] = feed.last_error
        after: dict[str, Any] = {}
        for step in self.after:
            after.update(step(new))
        return Polled(new, errors, after)
