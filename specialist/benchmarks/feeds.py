"""How fast the arXiv feed ingests: a recorded feed served from loopback, read by the real feed.

    python -m specialist.benchmarks.feeds [FEED.xml] [--copies 100] [--page-size 100] [--json]

The feed's entries (``--copies`` times, each copy under new ids and slightly older time stamps,
so there is enough to time) are served page by page by ``RecordedArxiv``; an ``ArxivFeed`` with
the real arxiv client and the default configuration's domain (photonics) reads them into a
fresh store through ``FeedWorker``, without the rate-limit delay (against arXiv itself that
delay is the whole cost).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from feeds.arxiv import ArxivFeed
from feeds.worker import FeedWorker
from specialist.config import ArxivConfig, Config
from specialist.domain import load
from specialist.errors import InputError
from specialist.paths import Paths
from specialist.store import Store

ATOM = "http://www.w3.org/2005/Atom"
_NS = (f'xmlns="{ATOM}" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
       'xmlns:arxiv="http://arxiv.org/schemas/atom"')
# A recorded arXiv API response kept with the tests.
DEFAULT_FEED = Path(__file__).resolve().parents[2] / "tests" / "data" / "arxiv" / "arxiv-optics-feed.xml"


def read_entries(path: str | Path) -> list[Any]:
    """The <entry> elements of a recorded arXiv API response."""
    return etree.parse(str(path)).getroot().findall(f"{{{ATOM}}}entry")


def variant(entry: Any, arxiv_id: str, updated: str, title: str | None = None) -> Any:
    """A copy of an entry under another id (with version, e.g. ``2401.00001v2``) and update time."""
    e = copy.deepcopy(entry)
    e.find(f"{{{ATOM}}}id").text = f"http://arxiv.org/abs/{arxiv_id}"
    e.find(f"{{{ATOM}}}updated").text = updated
    if title is not None:
        e.find(f"{{{ATOM}}}title").text = title
    return e


def feed_xml(entries: list[Any], total: int, start: int) -> bytes:
    """An arXiv API response holding ``entries``, one page of ``total`` results from ``start``."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    head = (f"<?xml version='1.0' encoding='UTF-8'?>\n<feed {_NS}>\n<id>http://arxiv.org/api/loopback</id>"
            f"<title>arXiv Query (recorded)</title><updated>{now}</updated>"
            f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
            f"<opensearch:totalResults>{total}</opensearch:totalResults>"
            f"<opensearch:startIndex>{start}</opensearch:startIndex>\n")
    return head.encode() + b"".join(etree.tostring(e) for e in entries) + b"</feed>\n"


class RecordedArxiv:
    """A loopback stand-in for the arXiv query API, serving recorded entries.

    Pages follow ``start`` and ``max_results``, and the listing is sorted as ``sortBy`` and
    ``sortOrder`` ask, so paging is real; ``search_query`` is ignored (every entry matches).
    ``entries`` may be changed between requests, as new papers arrive. Use it as a context
    manager; ``endpoint`` is the URL to give ``ArxivConfig``.
    """

    def __init__(self, entries: list[Any]):
        self.entries, self.requests = list(entries), 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True  # a handler still sleeping must not hold up shutdown
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/query"

    def __enter__(self) -> "RecordedArxiv":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, query: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, body) for one request's query parameters; subclasses add faults here."""
        return 200, self.page(query)

    def page(self, query: dict[str, str]) -> bytes:
        """The page of the sorted listing the query asks for."""
        start, size = int(query.get("start", 0)), int(query.get("max_results", 10))
        tag = f"{{{ATOM}}}{'published' if query.get('sortBy') == 'submittedDate' else 'updated'}"
        listing = sorted(self.entries, key=lambda e: e.findtext(tag), reverse=query.get("sortOrder") != "ascending")
        return feed_xml(listing[start:start + size], len(listing), start)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        owner: RecordedArxiv = self.server.owner  # type: ignore[attr-defined]
        owner._count()
        status, body = owner.respond({k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()})
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/atom+xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting (its timeout); nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass  # one line per request would drown the benchmark's output


def replicate(entries: list[Any], copies: int) -> list[Any]:
    """The entries, plus ``copies - 1`` copies under new ids, each copy k minutes older."""
    out = list(entries)
    for k in range(1, copies):
        for i, e in enumerate(entries):
            updated = datetime.fromisoformat(e.findtext(f"{{{ATOM}}}updated").replace("Z", "+00:00"))
            stamp = (updated - timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append(variant(e, f"{k:04d}.{i:05d}v1", stamp))  # 0001.x: before any real new-style id
    return out


def measure(path: Path, copies: int, page_size: int) -> dict:
    """Serve ``path``'s entries and ingest them all; the counts, time and rate."""
    entries, domain = replicate(read_entries(path), copies), load(Config().daemon.domain)
    with RecordedArxiv(entries) as server, tempfile.TemporaryDirectory() as tmp:
        store = Store(Paths(tmp).store)
        config = ArxivConfig(endpoint=server.endpoint, delay_s=0.0, page_size=page_size,
                             max_results=len(entries) + 1)
        feed = ArxivFeed(domain, Path(tmp) / "quarantine", config)
        worker = FeedWorker(store, [feed])
        t0 = time.perf_counter()
        while worker.poll().new[feed.name]:  # until a poll finds nothing new
            pass
        seconds = time.perf_counter() - t0
        counts = {t: store.count(t) for t in ("papers", "goals", "claims")}
        store.close()
    return {**counts, "requests": server.requests, "seconds": seconds, "papers_per_s": counts["papers"] / seconds,
            "feed": str(path), "copies": copies, "page_size": page_size, "errors": feed.last_error}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.feeds", description=__doc__.split("\n\n")[0])
    p.add_argument("feed", nargs="?", default=str(DEFAULT_FEED), help=f"recorded arXiv feed (default {DEFAULT_FEED})")
    p.add_argument("--copies", type=int, default=100, help="times the feed's entries are served (default 100)")
    p.add_argument("--page-size", type=int, default=100, help="results per request, 1 to 100 (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    path = Path(args.feed)
    if not path.is_file():
        print(InputError(str(path), "", "is not a file; give a recorded arXiv API response (Atom XML)"),
              file=sys.stderr)
        return 2
    try:
        r = measure(path, max(1, args.copies), args.page_size)
    except InputError as err:
        print(err, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(r))
    else:
        print(f"ingested {r['papers']} papers, {r['goals']} goals, {r['claims']} claims in {r['seconds']:.2f} s "
              f"({r['requests']} requests of up to {r['page_size']} results, no rate-limit delay): "
              f"{r['papers_per_s']:.0f} papers/s")
        if r["errors"]:
            print(f"error: {r['errors']}", file=sys.stderr)
    return 0 if not r["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
