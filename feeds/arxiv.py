"""The arXiv feed: papers matching a query, newest first, with the goals and claims they state.

    feed = ArxivFeed(domain, quarantine=data_dir / "quarantine" / "arxiv")
    rows, position = feed.poll(position)     # via FeedWorker: rows and position in one transaction

The position says which stretches of the listing are delivered, so a restart neither misses nor
repeats a paper and a poll only reads what is new plus a bounded piece of the backlog:

    {"query": "...", "sort_by": "lastUpdatedDate", "since": "",
     "spans": [{"hi": "2026-05-26T00:00:00Z", "hi_ids": ["2605.26502"],
                "lo": "2024-07-01T00:00:00Z", "end": 10, "bottom": false}, ...]}

A span covers every paper whose sort time t has lo <= t < hi, and the papers ``hi_ids`` at hi
(later arrivals with the same time stay new). ``end`` is the offset just below the span when it
was last read: new papers only push it down, so a poll jumps there instead of paging through the
span. ``bottom`` marks a span that reaches the end of the listing. A new version carries a newer
time, so it counts as new and its record replaces the older one in the store.

The module is longer than the house limit: the strict reader, the client and the cursor share
one contract (a position covers exactly what was delivered) and are checked side by side.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import arxiv
import requests
from arxiv._feed import FeedHeader, ParsedFeed
from lxml import etree

from specialist.config import ArxivConfig
from specialist.domain import Domain, goal_hash
from specialist.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_QUERY = ArxivConfig.query  # the configuration's [feeds.arxiv] is the one source of defaults
_ATOM, _OPENSEARCH = "{http://www.w3.org/2005/Atom}", "{http://a9.com/-/spec/opensearch/1.1/}"
_ID = re.compile(r"arxiv\.org/abs/(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$", re.ASCII)
_RETRYABLE = {429, 500, 502, 503, 504}
_SORT_FIELD = {"lastUpdatedDate": "updated", "submittedDate": "published"}


class BrokenResponse(InputError):
    """An arXiv response that cannot be read; ``body`` keeps it for the quarantine."""

    def __init__(self, err: InputError, body: bytes):
        super().__init__(err.source, err.field, err.problem)
        self.body = body


def parse_page(body: bytes, source: str) -> tuple[int, list[dict]]:
    """(total results of the query, paper records) of one arXiv API response.

    Records are {"arxiv_id" (no version), "version", "title", "abstract", "authors",
    "categories", "published", "updated", "links"}, times as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

    Raises:
        InputError: the body is not well-formed XML, not an Atom feed, lacks the result count,
            or an entry lacks an arXiv id, title, abstract or valid time stamp.
    """
    try:  # a fresh parser per call: lxml parsers must not be shared between threads
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, ValueError) as err:
        raise InputError(source, "", f"is not well-formed XML ({err})") from None
    if root.getroottree().docinfo.doctype:  # Atom never needs a DTD; refusing one rules out entity tricks
        raise InputError(source, "", "declares a DTD, which an arXiv Atom feed never does")
    if root.tag != f"{_ATOM}feed":
        raise InputError(source, "", f"has root element {root.tag!r}; an arXiv API response is an Atom <feed>")
    total = (root.findtext(f"{_OPENSEARCH}totalResults") or "").strip()
    if not (total.isascii() and total.isdigit()):
        raise InputError(source, "opensearch:totalResults", f"is {total!r}; expected a whole number")
    return int(total), [_paper(e, source, f"entry[{i}]") for i, e in enumerate(root.iterfind(f"{_ATOM}entry"))]


def _paper(entry: Any, source: str, where: str) -> dict:
    def text(tag: str) -> str | None:
        node = entry.find(_ATOM + tag)
        return None if node is None else " ".join("".join(node.itertext()).split())

    match = _ID.search(text("id") or "")
    if match is None:
        if "api/errors" in (text("id") or ""):
            raise InputError(source, f"{where}.id", f"is an arXiv API error: {text('summary')}")
        raise InputError(source, f"{where}.id", f"is {text('id')!r}; expected an arxiv.org/abs/ link")
    for tag in ("title", "summary"):
        if not text(tag):
            raise InputError(source, f"{where}.{tag}", "is missing or empty")
    return {"arxiv_id": match.group(1), "version": int(match.group(2) or 1), "title": text("title"),
            "abstract": text("summary"),
            "authors": [" ".join((a.findtext(f"{_ATOM}name") or "").split()) for a in entry.iterfind(f"{_ATOM}author")],
            "categories": [c.get("term", "") for c in entry.iterfind(f"{_ATOM}category")],
            "published": _timestamp(text("published"), source, f"{where}.published"),
            "updated": _timestamp(text("updated"), source, f"{where}.updated"),
            "links": [{k: v for k, v in link.attrib.items() if k in ("href", "rel", "type", "title")}
                      for link in entry.iterfind(f"{_ATOM}link")]}


def _timestamp(value: str | None, source: str, field_: str) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``: fixed width, so text order is time order."""
    try:
        t = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
        t = (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InputError(source, field_, f"is {value!r}; expected an ISO 8601 time like 2024-05-01T12:00:00Z") from None
    return t.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def quarantine(folder: Path, body: bytes, reason: str) -> Path:
    """Save a response that could not be read, with ``<name>.reason.txt`` beside it; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{hashlib.sha256(body).hexdigest()[:12]}"
    (folder / f"{stem}.xml").write_bytes(body)
    (folder / f"{stem}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return folder / f"{stem}.xml"


class ArxivClient(arxiv.Client):
    """arxiv.Client with its own endpoint, rate limit, timeout, backoff and strict parsing.

    The library pages; this class fetches and parses each page. Its results are paper records
    (see ``parse_page``) rather than ``arxiv.Result``, read strictly so nothing broken slips in.
    """

    def __init__(self, config: ArxivConfig):
        super().__init__(page_size=config.page_size, delay_seconds=config.delay_s, num_retries=config.retries)
        self.config, self.total = config, 0
        self.query_url_format = config.endpoint + "?{}"  # per instance, so a loopback server can stand in
        self._not_before = 0.0  # monotonic time before which no request starts

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> ParsedFeed:
        start = int(parse_qs(urlsplit(url).query).get("start", ["0"])[0])
        for attempt in range(self.config.empty_retries + 1):
            body = self._get(url)
            try:
                total, papers = parse_page(body, url)
            except InputError as err:
                raise BrokenResponse(err, body) from None
            # The API now and then answers a page in the middle with nothing; asking again helps.
            if papers or (first_page and total <= start):
                break
            log.info("arXiv answered an empty page at start=%d (try %d); asking again", start, attempt + 1)
        if papers:  # an empty page's count is not trusted (it is often 0)
            self.total = total
        return ParsedFeed(header=FeedHeader(total_results=total), results=papers)

    def _get(self, url: str) -> bytes:
        """The body of a 200 answer, after backing off from 429/5xx answers, timeouts and drops."""
        for attempt in range(self.config.retries + 1):
            time.sleep(max(0.0, self._not_before - time.monotonic()))
            wait = self.config.delay_s
            try:
                resp = self._session.get(url, timeout=self.config.timeout_s,
                                         headers={"user-agent": f"specialist (arxiv.py {arxiv.__version__})"})
                if resp.status_code == 200:
                    return resp.content
                failure: Exception = arxiv.HTTPError(url, attempt, resp.status_code)
                if resp.status_code not in _RETRYABLE:
                    raise failure
                wait = max(wait, self._backoff(attempt, resp.headers.get("Retry-After")))
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                failure, wait = err, max(wait, self._backoff(attempt, None))
            finally:
                self._not_before = time.monotonic() + wait
            log.info("arXiv request failed (%s); try %d of %d", failure, attempt + 1, self.config.retries + 1)
        raise failure

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        seconds = (retry_after or "").strip()
        if seconds.isascii() and seconds.isdigit():  # the server knows best, within reason
            return min(float(seconds), 600.0)
        return min(self.config.backoff_s * 2**attempt, 600.0)


@dataclass
class _Run:
    """One stretch of the listing read in a poll, from offset ``start`` down.

    ``expect`` is the low stamp of the span a jump meant to land in: landing below it means
    papers were withdrawn meanwhile, and the run starts again further up.
    """

    start: int
    expect: str | None = None
    rows: list = field(default_factory=list)
    hi: str | None = None
    hi_ids: list[str] = field(default_factory=list)
    lo: str | None = None
    read: int = 0  # entries committed: the next unread one is at start + read
    bottom: bool = False

    def __post_init__(self):
        self.expect = self.expect if self.start else None  # from the top there is nothing to check

    def span(self) -> dict | None:
        return None if self.hi is None else {"hi": self.hi, "hi_ids": self.hi_ids, "lo": self.lo,
                                              "end": self.start + self.read, "bottom": self.bottom}


class ArxivFeed:
    """Papers from the arXiv API with the goals and claims the domain finds in them.

    Args:
        domain: turns a paper into goals and claims (``from_record``).
        quarantine: folder for responses that cannot be read, e.g. ``<data-dir>/quarantine/arxiv``.
        config: query, endpoint, paging, rate limit and retries.
        name: the stream name, which keys the stored position.
    """

    def __init__(self, domain: Domain, quarantine: str | Path, config: ArxivConfig = ArxivConfig(),
                 name: str = "arxiv"):
        self.domain, self.quarantine, self.config, self.name = domain, Path(quarantine), config, name
        self.client = ArxivClient(config)
        self.search = arxiv.Search(query=config.query, max_results=None, sort_order=arxiv.SortOrder.Descending,
                                   sort_by=arxiv.SortCriterion(config.sort_by))
        self.key = _SORT_FIELD[config.sort_by]
        self.since = _timestamp(config.since, "arxiv config", "since") if config.since else ""
        self.last_error: str | None = None

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], Any]:
        """New papers with their goals and claims, and the position after them.

        Never raises for a failed or broken response: the error is logged (a broken body is
        quarantined) and the poll keeps the time stamps it read completely before it.
        """
        spans, runs, jumped, delivered = self._spans(position), [_Run(0)], set(), set()
        self.last_error = None
        try:
            while (run := self._read(runs[-1], spans, jumped, delivered,
                                     self.config.max_results - sum(r.read for r in runs))) is not None:
                runs.append(run)
        except (InputError, arxiv.ArxivError, requests.RequestException) as err:
            self._failed(err, sum(table == "papers" for r in runs for table, _ in r.rows))
        spans = _merge(spans + [s for r in runs if (s := r.span())])
        return [row for r in runs for row in r.rows], {"query": self.config.query, "sort_by": self.config.sort_by,
                                                       "since": self.since, "spans": spans}

    def _spans(self, position: Any) -> list[dict]:
        if not position:
            return []
        if (position.get("query"), position.get("sort_by")) != (self.config.query, self.config.sort_by):
            log.warning("arXiv feed '%s': the query or sort order changed; reading the listing afresh", self.name)
            return []
        if position.get("since") != self.since:  # the backlog may now reach further back
            return [{**s, "bottom": False} for s in position["spans"]]
        return position["spans"]

    def _read(self, run: _Run, spans: list[dict], jumped: set, delivered: set, budget: int) -> _Run | None:
        """Read one run; the next run (past a span already delivered), or None when the poll is done.

        Papers are committed a time stamp at a time: only the first paper with an older stamp
        shows that a stamp is complete, so a run never ends in the middle of one.
        """
        group: list[dict] = []
        for paper in self.client.results(self.search, offset=run.start):
            t = paper[self.key]
            if run.expect is not None:  # the first paper after a jump shows where it landed
                if t < run.expect:
                    return _Run(max(0, run.start - self.config.page_size), run.expect)
                run.expect = None
            if self.since and t < self.since:
                break
            if group and t != group[0][self.key]:
                self._commit(run, group, spans, delivered)
                if run.read >= budget:
                    return None
                if (inside := self._inside(spans, jumped, group[0][self.key])) is not None:
                    return None if inside["bottom"] else _Run(max(0, inside["end"] - 1), inside["lo"])
                group = []
            group.append(paper)
        else:  # the listing ran out: at its end, or on pages that stayed empty (a stamp may be cut)
            if run.expect is not None:
                return _Run(max(0, run.start - self.config.page_size), run.expect)
            if run.start + run.read + len(group) < self.client.total:
                return None
        self._commit(run, group, spans, delivered)
        run.bottom = True
        return None

    def _commit(self, run: _Run, group: list[dict], spans: list[dict], delivered: set) -> None:
        if not group:
            return
        t = group[0][self.key]
        if run.hi is None:
            run.hi, run.hi_ids = t, sorted(p["arxiv_id"] for p in group)
        run.lo, run.read = t, run.read + len(group)
        for paper in group:
            if paper["arxiv_id"] not in delivered and not _covered(spans, t, paper["arxiv_id"]):
                delivered.add(paper["arxiv_id"])
                run.rows += self._rows(paper)

    @staticmethod
    def _inside(spans: list[dict], jumped: set, t: str) -> dict | None:
        """The span not yet jumped whose inside holds stamp t (its end is worth jumping to)."""
        for i, s in enumerate(spans):
            if i not in jumped and s["lo"] < t < s["hi"]:
                jumped.add(i)
                return s
        return None

    def _rows(self, paper: dict) -> list[tuple[str, dict]]:
        try:
            return paper_rows(self.domain, paper)
        except Exception as err:  # a domain's extraction bug must not keep the paper itself out
            log.warning("arXiv feed '%s': goals and claims of %s are skipped, as %s.from_record failed: %r",
                        self.name, paper["arxiv_id"], type(self.domain).__name__, err)
            return [("papers", paper)]

    def _failed(self, err: Exception, kept: int) -> None:
        saved = ""
        if isinstance(err, BrokenResponse):
            try:
                saved = f" (saved to {quarantine(self.quarantine, err.body, str(err))})"
            except OSError as why:
                saved = f" (could not be saved: {why})"
        if isinstance(err, requests.RequestException):  # its text is a long URL; say what to check
            err = (f"{self.config.endpoint} could not be reached ({_root_cause(err)}); check the network or "
                   "feeds.arxiv.endpoint")
        self.last_error = f"{str(err).rstrip('.')}{saved}; this poll keeps the {kept} papers read before it."
        log.error("arXiv feed '%s': %s", self.name, self.last_error)


def _root_cause(err: BaseException) -> str:
    """The name of the innermost error behind a failed request (e.g. NameResolutionError)."""
    for _ in range(8):
        inner = getattr(err, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in err.args if isinstance(a, BaseException)), None) or err.__cause__
        if not isinstance(inner, BaseException):
            break
        err = inner
    return type(err).__name__


def paper_rows(domain: Domain, paper: dict) -> list[tuple[str, dict]]:
    """Store rows of a paper record (see ``parse_page``): the paper, then the training goals and
    the claims (to be checked) that the domain finds in it."""
    rows: list[tuple[str, dict]] = [("papers", paper)]
    ref = {"source": "arxiv", "arxiv_id": paper["arxiv_id"], "version": paper["version"]}
    found = domain.from_record({"kind": "paper", **paper})
    rows += [("goals", {"hash": goal_hash(g), "name": g.get("name", ""), "domain": domain.spec.name,
                        "split": "train", "body": g, "provenance": ref}) for g in found.get("goals", [])]
    rows += [("claims", {"key": c.get("key") or _claim_key(paper, c), "arxiv_id": paper["arxiv_id"],
                         "body": c, "verdict": "pending", "detail": {}}) for c in found.get("claims", [])]
    return rows


def _covered(spans: list[dict], t: str, arxiv_id: str) -> bool:
    return any(s["lo"] <= t < s["hi"] or (t == s["hi"] and arxiv_id in s["hi_ids"]) for s in spans)


def _merge(spans: list[dict]) -> list[dict]:
    """Spans joined where they overlap or touch (a span's lowest stamp is always complete)."""
    merged: list[dict] = []
    for s in sorted(spans, key=lambda s: s["hi"], reverse=True):
        a = merged[-1] if merged else None
        if a is None or s["hi"] < a["lo"]:
            merged.append(dict(s))
            continue
        if s["hi"] == a["hi"]:
            a["hi_ids"] = sorted(set(a["hi_ids"]) | set(s["hi_ids"]))
        if s["lo"] < a["lo"]:
            a.update(lo=s["lo"], end=s["end"], bottom=s["bottom"])
        elif s["lo"] == a["lo"]:  # the later reading of the same end is the truer offset
            a.update(end=max(a["end"], s["end"]), bottom=a["bottom"] or s["bottom"])
    return merged


def _claim_key(paper: dict, claim: dict) -> str:
    """A stable key for a claim that came without one: the paper and the claim's content."""
    text = json.dumps(claim, sort_keys=True, default=str)
    return hashlib.sha256(f"{paper['arxiv_id']}\n{text}".encode()).hexdigest()[:16]
