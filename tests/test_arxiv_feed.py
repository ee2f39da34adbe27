"""The arXiv feed against a loopback arXiv API serving recorded responses (no internet)."""

from __future__ import annotations

import copy
import logging

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from domains.photonics.plugin import PhotonicsDomain
from feeds.arxiv import DEFAULT_QUERY, ArxivConfig, ArxivFeed, parse_page, quarantine
from specialist.benchmarks.feeds import ATOM, read_entries, variant
from feeds.worker import FeedWorker
from specialist.domain import Spec
from specialist.errors import InputError
from specialist.store import Store
from tests.arxiv_server import OPTICS, SAMPLE, FaultyArxiv

N_OPTICS = 29  # entries in the recorded optics feed


class FakeDomain:
    """Finds one goal and one claim in every paper whose abstract mentions a coating."""

    spec = Spec("fake", vocab_size=8, max_tokens=8, cond_dim=4)

    def from_record(self, record: dict) -> dict:
        if "coating" not in record["abstract"].lower():
            return {"goals": [], "claims": [], "measurements": []}
        goal = {"name": f"from-{record['arxiv_id']}", "domain": "fake", "paper": record["arxiv_id"]}
        return {"goals": [goal], "claims": [{"text": record["title"], "goal": goal}], "measurements": []}


class BrokenDomain(FakeDomain):
    def from_record(self, record: dict) -> dict:
        raise RuntimeError("extraction bug")


class Tap:
    """Passes a feed's polls through, remembering every (arxiv_id, version) it delivered."""

    def __init__(self, feed: ArxivFeed):
        self.feed, self.name, self.papers = feed, feed.name, []

    def poll(self, position):
        rows, position = self.feed.poll(position)
        self.papers += [(r["arxiv_id"], r["version"]) for table, r in rows if table == "papers"]
        return rows, position


def make_feed(server, tmp_path, domain=None, **options) -> ArxivFeed:
    config = {"endpoint": server.endpoint, "page_size": 5, "delay_s": 0.02, "timeout_s": 2.0,
              "backoff_s": 0.05, "max_results": 100, **options}
    return ArxivFeed(domain or FakeDomain(), tmp_path / "quarantine" / "arxiv", ArxivConfig(**config))


def ingest(server, tmp_path, polls: int = 1, **options) -> tuple[Store, Tap]:
    store = Store(tmp_path / "store.sqlite")
    tap = Tap(make_feed(server, tmp_path, **options))
    worker = FeedWorker(store, [tap])
    for _ in range(polls):
        worker.poll()
    return store, tap


def ids_of(entries) -> set[str]:
    return {e.findtext(f"{{{ATOM}}}id").rsplit("/abs/", 1)[1].split("v")[0] for e in entries}


def test_a_recorded_response_becomes_a_paper_record(tmp_path):
    with FaultyArxiv([], body=SAMPLE.read_bytes()) as server:
        store, tap = ingest(server, tmp_path)
    paper = store.get("papers", "astro-ph/0601001")
    assert tap.papers == [("astro-ph/0601001", 1)]
    assert paper["title"].startswith("Frequency of Hot Jupiters") and paper["categories"] == ["astro-ph"]
    assert paper["published"] == "2006-01-02T14:57:58Z" and len(paper["authors"]) >= 1
    abstract_page = {"href": "https://arxiv.org/abs/astro-ph/0601001v1", "rel": "alternate", "type": "text/html"}
    assert abstract_page in paper["links"]
    assert store.get("cursors", "arxiv")["position"]["spans"][0]["bottom"] is True


def test_pages_through_the_listing_newest_first_and_then_reads_one_page(tmp_path):
    with FaultyArxiv(read_entries(OPTICS)) as server:
        store, tap = ingest(server, tmp_path, polls=2)
    queries = [q for _, q in server.arrivals]
    assert [q["start"] for q in queries] == ["0", "5", "10", "15", "20", "25", "0"]  # the 2nd poll: one page
    assert {(q["max_results"], q["sortBy"], q["sortOrder"], q["search_query"]) for q in queries} == {
        ("5", "lastUpdatedDate", "descending", DEFAULT_QUERY)}
    assert len(tap.papers) == len(set(tap.papers)) == store.count("papers") == N_OPTICS
    assert store.get("papers", "2402.16265")["version"] == 2 and store.get("papers", "2605.19970")["version"] == 1
    goals = list(store.rows("goals"))
    assert goals and all(g["split"] == "train" and g["provenance"]["source"] == "arxiv" for g in goals)
    claim = next(store.rows("claims"))
    assert claim["verdict"] == "pending" and claim["detail"] == {} and store.get("papers", claim["arxiv_id"])


def test_keeps_the_rate_limit_between_requests_and_polls(tmp_path):
    with FaultyArxiv(read_entries(OPTICS)) as server:
        ingest(server, tmp_path, polls=2, delay_s=0.2, page_size=10)
    assert len(server.arrivals) == 4 and min(server.gaps()) >= 0.2


@pytest.mark.parametrize("fault", [429, 503, "timeout"])
def test_backs_off_and_succeeds_after(fault, tmp_path):
    with FaultyArxiv(read_entries(OPTICS), faults={1: fault}, slow_s=1.0) as server:
        store, tap = ingest(server, tmp_path, timeout_s=0.3, backoff_s=0.15)
        assert tap.feed.last_error is None
    assert store.count("papers") == N_OPTICS and len(server.arrivals) == 7
    assert server.gaps()[1] >= 0.15  # the backoff, not just the rate limit
    assert server.arrivals[1][1]["start"] == server.arrivals[2][1]["start"] == "5"


def test_an_empty_page_in_the_middle_is_asked_again(tmp_path):
    with FaultyArxiv(read_entries(OPTICS), faults={2: "empty", 3: "empty"}) as server:
        store, _ = ingest(server, tmp_path)
    assert store.count("papers") == N_OPTICS and [q["start"] for _, q in server.arrivals][2:5] == ["10"] * 3


def test_pages_that_stay_empty_end_the_poll_without_losing_the_rest(tmp_path):
    with FaultyArxiv(read_entries(OPTICS), faults={i: "empty" for i in range(2, 6)}) as server:
        store, tap = ingest(server, tmp_path, empty_retries=3)
        first = len(tap.papers)
        FeedWorker(store, [tap]).poll()  # the empty page was not taken as the listing's end
    assert 5 <= first <= 10
    assert len(set(tap.papers)) == len(tap.papers) and store.count("papers") == N_OPTICS


@pytest.mark.parametrize("fault", ["truncated", b"<html>Gateway error</html>", 503])
def test_a_broken_answer_keeps_what_was_read_and_the_next_poll_the_rest(fault, tmp_path, caplog):
    faults = {i: fault for i in range(2, 2 + (5 if fault == 503 else 1))}
    with FaultyArxiv(read_entries(OPTICS), faults=faults) as server:
        store, tap = ingest(server, tmp_path, retries=2)
        error, first = tap.feed.last_error, list(tap.papers)
        FeedWorker(store, [tap]).poll()
    assert 5 <= len(first) <= 10 and error.endswith(f"this poll keeps the {len(first)} papers read before it.")
    assert len(set(tap.papers)) == len(tap.papers) == store.count("papers") == N_OPTICS
    saved = sorted(p.name for p in (tmp_path / "quarantine" / "arxiv").glob("*"))
    if fault == 503:
        assert saved == [] and "HTTP 503" in error
    else:
        assert len(saved) == 2 and saved[0] == saved[1].replace(".xml", ".reason.txt")
        body, reason = [(tmp_path / "quarantine" / "arxiv" / name) for name in reversed(saved)]
        assert str(body) in error and body.read_bytes() == (fault if isinstance(fault, bytes) else body.read_bytes())
        assert reason.read_text().count("\n") == 1 and "start=10" in reason.read_text()
        assert ("not well-formed XML" if fault == "truncated" else "is an Atom <feed>") in reason.read_text()
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_a_restart_resumes_with_every_paper_exactly_once(tmp_path):
    entries = read_entries(OPTICS)
    with FaultyArxiv(entries) as server:
        store, before = ingest(server, tmp_path, max_results=10, page_size=4)
        assert 10 <= len(before.papers) <= 12  # bounded: a poll only finishes the stamp it is in
        seen = {i for i, _ in before.papers}
        [revised] = [e for e in entries if "2603.23061" in e.findtext(f"{{{ATOM}}}id")]
        [unread] = [e for e in entries if "1905.02333" in e.findtext(f"{{{ATOM}}}id")]
        assert "2603.23061" in seen and "1905.02333" not in seen
        server.entries = [e for e in entries if e is not revised and e is not unread] + [
            variant(revised, "2603.23061v2", "2027-01-10T00:00:00Z", title="Revised"),
            variant(unread, "1905.02333v3", "2027-01-05T00:00:00Z")] + [
            variant(entries[0], f"2701.0000{k}v1", f"2027-01-0{k}T12:00:00Z") for k in range(1, 4)]
        # The daemon restarts: a new feed object, whose position comes back from the store.
        after = Tap(make_feed(server, tmp_path, max_results=10, page_size=4))
        worker = FeedWorker(Store(tmp_path / "store.sqlite"), [after])
        for _ in range(5):
            worker.poll()
    delivered = before.papers + after.papers
    assert len(delivered) == len(set(delivered)) == N_OPTICS + 3 + 1
    assert {i for i, _ in delivered} == ids_of(entries) | {"2701.00001", "2701.00002", "2701.00003"}
    assert ("2603.23061", 1) in before.papers and ("2603.23061", 2) in after.papers
    assert [v for i, v in delivered if i == "1905.02333"] == [3]
    assert store.get("papers", "2603.23061")["title"] == "Revised" and store.count("papers") == N_OPTICS + 3


def test_withdrawn_papers_do_not_make_the_next_poll_skip_any(tmp_path):
    entries = read_entries(OPTICS)
    with FaultyArxiv(entries) as server:
        store, tap = ingest(server, tmp_path, max_results=10, page_size=4)
        gone = set(entries[2:5])  # among those read: the next jump lands too low and steps back
        server.entries = [e for e in entries if e not in gone]
        for _ in range(3):
            FeedWorker(store, [tap]).poll()
    assert len(tap.papers) == len(set(tap.papers)) == store.count("papers") == N_OPTICS


class MemoryListing:
    """Stands in for the client: the listing is a dict of papers, served newest first."""

    def __init__(self):
        self.papers, self.total, self.added = {}, 0, 0

    def add(self, t: int, arxiv_id: str | None = None, version: int = 1) -> None:
        self.added += 1  # ids are never reused, even after a withdrawal
        arxiv_id = arxiv_id or f"2401.{self.added:05d}"
        stamp = f"2024-01-01T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z"
        self.papers[arxiv_id] = {"arxiv_id": arxiv_id, "version": version, "updated": stamp, "t": t,
                                 "title": arxiv_id, "abstract": "a coating"}

    def results(self, search, offset: int = 0):
        listing = sorted(self.papers.values(), key=lambda p: p["updated"], reverse=True)
        self.total = len(listing)
        return iter(listing[offset:])


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.integers(0, 99), max_size=40), st.integers(1, 6),
       st.lists(st.tuples(st.sampled_from(["poll", "new", "revise", "withdraw"]), st.integers(0, 999)), max_size=25))
def test_every_version_is_delivered_once_whatever_happens_between_polls(stamps, page_size, events):
    listing, clock, delivered, position = MemoryListing(), 100, [], None
    feed = ArxivFeed(FakeDomain(), "unused", ArxivConfig(page_size=page_size))
    feed.client = listing
    for t in stamps:  # the backlog, ties included
        listing.add(t)
    for event, n in events + [("poll", 10**6), ("poll", 10**6)]:
        ids = sorted(listing.papers)
        if event == "poll":
            feed.config = ArxivConfig(page_size=page_size, max_results=1 + n % 12 if n < 10**6 else n)
            rows, position = feed.poll(position)
            delivered += [(r["arxiv_id"], r["version"]) for table, r in rows if table == "papers"]
        elif event == "new":
            clock += n % 3  # 0: the same stamp as the newest paper
            listing.add(clock)
        elif ids and event == "revise":  # a new version is always later than the one it replaces
            old = listing.papers[ids[n % len(ids)]]
            clock = max(clock + n % 2, old["t"] + 1)
            listing.add(clock, old["arxiv_id"], old["version"] + 1)
        elif ids:
            del listing.papers[ids[n % len(ids)]]
    assert len(delivered) == len(set(delivered))
    assert {(p["arxiv_id"], p["version"]) for p in listing.papers.values()} <= set(delivered)


def test_a_failing_domain_leaves_the_papers_in(tmp_path, caplog):
    with FaultyArxiv(read_entries(OPTICS)) as server:
        store, _ = ingest(server, tmp_path, domain=BrokenDomain())
    assert store.count("papers") == N_OPTICS and store.count("goals") == 0
    assert "from_record failed" in caplog.text


def test_config_names_the_field_at_fault():
    with pytest.raises(InputError, match="page_size"):
        ArxivConfig(page_size=500)


# --- fuzzing the parser: every broken body is refused with one sentence and quarantined ----------

_BODY = OPTICS.read_bytes()
_ROOT = etree.fromstring(_BODY)
_REQUIRED = ["id", "title", "summary", "updated", "published"]


def _mutated(entry_index: int, change) -> bytes:
    root = copy.deepcopy(_ROOT)
    change(root.findall(f"{{{ATOM}}}entry")[entry_index % N_OPTICS])
    return etree.tostring(root)


def _without(tag):
    return lambda e: e.remove(e.find(f"{{{ATOM}}}{tag}"))


def _dated(tag, value):
    return lambda e: setattr(e.find(f"{{{ATOM}}}{tag}"), "text", value)


_bad_dates = st.one_of(st.text(alphabet="abcdefxyzT:-+ ./", max_size=30),
                       st.sampled_from(["2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z",
                                        "yesterday", "0001-01-01T00:00:00+05:00", ""]))
MALFORMED = st.one_of(
    st.integers(0, _BODY.rindex(b"</feed>") + 6).map(lambda n: _BODY[:n]),  # truncated
    st.binary(max_size=3000),  # random bytes
    st.text(max_size=500).map(str.encode),
    st.sampled_from([b'xmlns="http://www.w3.org/2005/Atom/"', b'xmlns="urn:not-atom"', b""]).map(
        lambda ns: _BODY.replace(b'xmlns="http://www.w3.org/2005/Atom"', ns, 1)),  # wrong namespace
    st.just(_BODY.replace(b"opensearch/1.1/", b"opensearch/9/")),  # no result count it can read
    st.builds(_mutated, st.integers(0, 100), st.sampled_from(_REQUIRED).map(_without)),  # missing fields
    st.builds(_mutated, st.integers(0, 100),
              st.builds(_dated, st.sampled_from(["updated", "published"]), _bad_dates)),  # bad dates
)


def test_the_recorded_feeds_parse():
    assert len(parse_page(_BODY, "optics")[1]) == N_OPTICS and parse_page(SAMPLE.read_bytes(), "sample")[0] == 1
    (paper,) = parse_page(SAMPLE.read_bytes(), "sample")[1]
    assert paper["version"] == 1 and paper["authors"][0] == "Andrew Gould" and len(paper["authors"]) == 4
    assert "  " not in paper["abstract"]
    assert {"href": "https://arxiv.org/pdf/astro-ph/0601001v1", "rel": "related", "type": "application/pdf",
            "title": "pdf"} in paper["links"]


_FEED_OPEN = (b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
              b"<opensearch:totalResults>1</opensearch:totalResults>")


@pytest.mark.parametrize("body, says", [
    (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa">]><feed>&a;</feed>', "DTD"),
    (_FEED_OPEN + b"<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id><title>Error</title>"
     b"<summary>incorrect id format for 1234</summary></entry></feed>", "arXiv API error: incorrect id format"),
])
def test_entity_tricks_and_api_errors_are_named(body, says):
    with pytest.raises(InputError, match=says) as refused:
        parse_page(body, "feed.xml")
    assert str(refused.value).startswith("feed.xml")


def test_malformed_bodies_are_refused_and_quarantined(tmp_path):
    folder, bodies = tmp_path / "quarantine", []

    @settings(max_examples=600, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(MALFORMED)
    def check(body: bytes):
        with pytest.raises(InputError) as refused:
            parse_page(body, "fuzz.xml")
        sentence = str(refused.value)
        assert sentence.startswith("fuzz.xml") and sentence.endswith(".") and "\n" not in sentence
        saved = quarantine(folder, body, sentence)
        assert saved.read_bytes() == body
        assert saved.with_name(saved.stem + ".reason.txt").read_text() == sentence + "\n"
        bodies.append(body)

    check()
    assert len(bodies) >= 500


def test_throughput_benchmark_ingests_every_served_paper_once():
    from specialist.benchmarks import feeds as throughput

    doc = throughput.measure(throughput.DEFAULT_FEED, copies=3, page_size=40)
    assert doc["papers"] == 3 * N_OPTICS and doc["errors"] is None and doc["papers_per_s"] > 0
    assert doc["requests"] >= 3  # paged, and one more poll that finds nothing new


def test_an_unreachable_endpoint_is_one_short_sentence_naming_it(tmp_path):
    config = ArxivConfig(endpoint="http://127.0.0.1:9/api/query", delay_s=0.0, retries=0, timeout_s=2.0)
    feed = ArxivFeed(PhotonicsDomain(), tmp_path / "quarantine", config)
    rows, _ = feed.poll(None)
    assert rows == [] and feed.last_error.startswith("http://127.0.0.1:9/api/query could not be reached (")
    assert "feeds.arxiv.endpoint" in feed.last_error and len(feed.last_error) < 250, feed.last_error
