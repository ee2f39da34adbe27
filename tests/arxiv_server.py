"""A loopback arXiv API for the feed's tests: recorded entries, real paging, scripted faults.

    with FaultyArxiv(read_entries(OPTICS), faults={1: 503}) as server:
        feed = ArxivFeed(domain, tmp_path / "quarantine", ArxivConfig(endpoint=server.endpoint, ...))
        ...
        server.arrivals      # (monotonic time, query parameters) of every request, in order
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from specialist.benchmarks.feeds import RecordedArxiv, feed_xml

DATA = Path(__file__).resolve().parent / "data" / "arxiv"  # recorded arXiv API responses
OPTICS, SAMPLE = DATA / "arxiv-optics-feed.xml", DATA / "arxiv-sample-atom.xml"


class FaultyArxiv(RecordedArxiv):
    """RecordedArxiv whose answers to chosen requests (numbered from 0) go wrong.

    Args:
        entries: the recorded <entry> elements served.
        faults: per request number, one of: an HTTP status (e.g. 429, 503); ``"timeout"``
            (answer only after ``slow_s`` seconds); ``"empty"`` (a page with no entries but the
            full result count); ``"truncated"`` (the right page cut in half); or bytes, the body.
        slow_s: how long a ``"timeout"`` answer is held back.
        body: if given, the body of every answer without a fault (a recorded response as is).
    """

    def __init__(self, entries: list[Any], faults: dict[int, Any] | None = None, slow_s: float = 1.0,
                 body: bytes | None = None):
        super().__init__(entries)
        self.faults, self.slow_s, self.body = dict(faults or {}), slow_s, body
        self.arrivals: list[tuple[float, dict[str, str]]] = []
        self._arrival_lock = threading.Lock()

    def respond(self, query: dict[str, str]) -> tuple[int, bytes]:
        with self._arrival_lock:  # handler threads run concurrently once a client has timed out
            fault = self.faults.get(len(self.arrivals))
            self.arrivals.append((time.monotonic(), query))
        if isinstance(fault, int):
            return fault, b"Rate exceeded." if fault == 429 else b"Service unavailable."
        if isinstance(fault, bytes):
            return 200, fault
        if fault == "timeout":
            time.sleep(self.slow_s)
        if fault == "empty":
            return 200, feed_xml([], len(self.entries), int(query.get("start", 0)))
        body = self.body if self.body is not None else self.page(query)
        return 200, body[: len(body) // 2] if fault == "truncated" else body

    def gaps(self) -> list[float]:
        """Seconds between the arrivals of consecutive requests."""
        times = [t for t, _ in self.arrivals]
        return [b - a for a, b in zip(times, times[1:])]
