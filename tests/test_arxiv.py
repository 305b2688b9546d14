"""arXiv searches as sources: new papers matching the query are posts (a new version of a
paper seen before is not), abstracts are checked for withheld details, requests are paced."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from fastapi.testclient import TestClient

from tracker.db import Database
from tracker.errors import DeferredError, UserError
from tracker.poller import poll_sources, select_sources
from tracker.sources.arxiv import MAX_RESULTS, Pacer, arxiv_id, check_query, parse
from tracker.web.app import create_app

from .polling import add_source, events_of, poll
from .sites import Site

QUERY = 'au:example_lab AND abs:"language model"'
WITHHELD = (
    "Owing to the competitive landscape, this paper gives no further details about the "
    "architecture (including model size), hardware, training compute, dataset construction, "
    "training method, or similar."
)


def paper(
    number: str,
    title: str,
    abstract: str = "We describe a model and measure it on many tasks.",
    *,
    version: int = 1,
    authors: tuple[str, ...] = ("Ada Example", "Bo Sample"),
    published: str = "2026-02-27T18:00:00Z",
) -> str:
    """One entry as the arXiv API writes it: the abstract and title hard-wrapped."""
    people = "".join(f"<author><name>{escape(a)}</name></author>" for a in authors)
    wrapped = escape(abstract).replace(". ", ".\n  ")
    return f"""
  <entry>
    <id>http://arxiv.org/abs/{number}v{version}</id>
    <updated>2026-03-02T10:00:00Z</updated>
    <published>{published}</published>
    <title>{escape(title).replace(" ", chr(10) + "  ", 1)}</title>
    <summary>  {wrapped}
</summary>
    {people}
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">12 pages</arxiv:comment>
    <link href="http://arxiv.org/abs/{number}v{version}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{number}v{version}" rel="related"
          type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL"
          scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""


def answer(*entries: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query=x" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=x</title>
  <id>http://arxiv.org/api/q1</id>
  <updated>2026-03-03T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
    >{len(entries)}</opensearch:totalResults>
  {"".join(entries)}
</feed>"""


ERROR_ANSWER = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=au:(</title>
  <id>http://arxiv.org/api/q2</id>
  <entry>
    <id>http://arxiv.org/api/errors#unbalanced_parentheses</id>
    <title>Error</title>
    <summary>unbalanced parentheses in the query</summary>
    <link href="http://arxiv.org/api/errors#unbalanced_parentheses" rel="alternate"
          type="text/html"/>
  </entry>
</feed>"""

FIRST = paper("2602.01111", "A survey of evaluation suites")
SECOND = paper("2602.02222", "Scaling sparse models", authors=("Cy Writer",))


@pytest.fixture
def api(db: Database, site: Site) -> Site:
    """The arXiv API on the local site, and no waiting between requests to it."""
    db.settings.arxiv_api_url = site.url("/api/query")
    db.settings.arxiv_min_interval_seconds = 0
    site.put("/api/query", answer(SECOND, FIRST), content_type="application/atom+xml")
    return site


def add_search(db: Database, query: str = QUERY) -> int:
    return add_source(db, "arxiv", query)


def serve(api: Site, *entries: str) -> None:
    api.put("/api/query", answer(*entries), content_type="application/atom+xml")


# ----------------------------------------------------------------------------- queries


def test_the_search_sent_is_the_query_newest_first(db: Database, api: Site) -> None:
    add_search(db)

    poll(db)

    (request, _response) = api.server.log[-1]
    assert request.path == "/api/query"
    assert request.args.to_dict() == {
        "search_query": QUERY,
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "max_results": str(MAX_RESULTS),
    }


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("   ", "an arXiv query is needed"),
        ("au:smith\nAND abs:x", "contains control characters"),
        ("au:\x1b[31msmith", "contains control characters"),
        ("abs:" + "a" * 1000, "too long: at most 1000 characters"),
    ],
)
def test_a_query_must_be_usable(query: str, error: str) -> None:
    with pytest.raises(UserError, match=error):
        check_query(query)


def test_a_query_is_kept_with_its_spaces_tidied() -> None:
    assert check_query("  au:smith   AND  abs:llm ") == "au:smith AND abs:llm"


@pytest.mark.parametrize(
    ("entry_id", "parsed"),
    [
        ("http://arxiv.org/abs/2401.12345v2", ("2401.12345", 2)),
        ("https://arxiv.org/abs/2401.1234v1", ("2401.1234", 1)),
        ("http://arxiv.org/abs/hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("http://arxiv.org/abs/math.GT/0309136", ("math.GT/0309136", None)),
        ("http://arxiv.org/api/errors#bad", None),
        ("https://lab.example/abs/2401.12345v1/extra", None),
    ],
)
def test_arxiv_ids_are_read_without_their_version(
    entry_id: str, parsed: tuple[str, int | None] | None
) -> None:
    assert arxiv_id(entry_id) == parsed


# ------------------------------------------------------------------------------ papers


def test_a_paper_reads_with_its_authors_category_and_version() -> None:
    (entry,) = parse(answer(paper("2602.03333", "Open weights at scale", version=3)).encode())

    assert entry.key == "2602.03333"
    assert entry.title == "Open weights at scale"
    assert entry.link == "http://arxiv.org/abs/2602.03333"
    assert entry.author == "Ada Example et al."
    assert entry.published_at is not None and entry.published_at.isoformat() == (
        "2026-02-27T18:00:00+00:00"
    )
    assert entry.summary() == "We describe a model and measure it on many tasks."
    assert dict(entry.extra) == {
        "arxiv_id": "2602.03333",
        "version": 3,
        "authors": ["Ada Example", "Bo Sample"],
        "primary_category": "cs.CL",
        "pdf_url": "http://arxiv.org/pdf/2602.03333v3",
    }


def test_an_abstract_with_angle_brackets_reads_as_written() -> None:
    bounds = paper("2602.04444", "Bounds", "We show that a < b and c > d.")

    (entry,) = parse(answer(bounds).encode())

    assert entry.summary() == "We show that a < b and c > d."


def test_the_baseline_records_the_papers_and_announces_none(db: Database, api: Site) -> None:
    add_search(db)

    (baselined,) = events_of(db, poll(db))

    assert baselined.kind == "source.baselined"
    assert baselined.data["items"] == 2


def test_a_new_paper_is_a_post_with_its_authors(db: Database, api: Site) -> None:
    add_search(db)
    poll(db)
    serve(api, paper("2603.05555", "A new open model", authors=("Di Newman",)), SECOND, FIRST)

    (post,) = events_of(db, poll(db))

    assert post.kind == "post.published"
    assert post.subject == "http://arxiv.org/abs/2603.05555"
    assert post.url == "http://arxiv.org/abs/2603.05555"
    assert post.title == "A new open model"
    assert post.data["arxiv_id"] == "2603.05555"
    assert post.data["authors"] == ["Di Newman"]
    assert post.data["author"] == "Di Newman"
    assert post.data["primary_category"] == "cs.CL"
    assert post.data["summary"] == "We describe a model and measure it on many tasks."


def test_a_new_version_of_a_paper_seen_before_is_not_announced(db: Database, api: Site) -> None:
    add_search(db)
    poll(db)
    revised = paper("2602.01111", "A survey of evaluation suites (revised)", version=2)
    serve(api, revised, SECOND)

    assert poll(db).event_ids == []


def test_an_abstract_that_withholds_details_is_a_withheld_finding(db: Database, api: Site) -> None:
    add_search(db)
    poll(db)
    closed = paper("2603.06666", "Example-3 technical report", f"We present Example-3. {WITHHELD}")
    serve(api, closed, SECOND, FIRST)

    post, withheld = events_of(db, poll(db))

    assert post.kind == "post.published"
    assert withheld.kind == "disclosure.withheld"
    assert withheld.subject == post.subject
    assert withheld.data["cause"] == "post.published"
    assert withheld.data["dimensions"] == [
        "architecture",
        "model_size",
        "hardware",
        "compute",
        "data",
        "training_method",
    ]


def test_an_error_the_api_answers_fails_the_source_with_its_reason(db: Database, api: Site) -> None:
    add_search(db, "au:(")
    api.put("/api/query", ERROR_ANSWER, content_type="application/atom+xml")

    (result,) = poll_sources(db, select_sources(db, None)).results

    assert result.error == "the arXiv API refused the query: unbalanced parentheses in the query"


def test_an_answer_that_is_no_feed_fails_the_source_clearly(db: Database, api: Site) -> None:
    add_search(db)
    api.put("/api/query", "Service briefly down\n", content_type="text/plain")

    (result,) = poll_sources(db, select_sources(db, None)).results

    assert result.error == "not an arXiv API answer: Service briefly down"


def test_being_asked_too_often_puts_the_source_off(db: Database, api: Site) -> None:
    add_search(db)
    api.put("/api/query", "Rate exceeded.", content_type="text/plain")

    (result,) = poll_sources(db, select_sources(db, None)).results

    assert result.deferred
    assert result.error == "the arXiv API says it is asked too often; retrying later"


# ------------------------------------------------------------------------------ pacing


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_to_one_host_are_kept_apart() -> None:
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)

    for _ in range(3):
        pacer.wait("export.arxiv.org", 3.0)

    assert clock.slept == [3.0, 3.0]


def test_time_already_passed_counts_towards_the_interval() -> None:
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    pacer.wait("export.arxiv.org", 3.0)
    clock.now += 2.0

    pacer.wait("export.arxiv.org", 3.0)

    assert clock.slept == [pytest.approx(1.0)]


def test_other_hosts_do_not_wait_for_each_other() -> None:
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)

    pacer.wait("export.arxiv.org", 3.0)
    pacer.wait("127.0.0.1", 3.0)

    assert clock.slept == []


def test_a_turn_too_far_away_puts_the_request_off_without_booking_it() -> None:
    clock = Clock()
    # Booked in advance: each request takes the next turn, none has been made yet.
    pacer = Pacer(clock, lambda seconds: None)
    for _ in range(2):  # turns at 100 and 103; the next is at 106
        pacer.wait("export.arxiv.org", 3.0, max_wait=5.0)

    with pytest.raises(DeferredError) as raised:
        pacer.wait("export.arxiv.org", 3.0, max_wait=5.0)

    assert raised.value.retry_after == pytest.approx(6.0)
    assert "one request every 3s" in str(raised.value)
    clock.now += 6.0
    pacer.wait("export.arxiv.org", 3.0, max_wait=5.0)  # its turn now: no error


# ----------------------------------------------------------------- commands and lists


def test_cli_adds_an_arxiv_search(cli) -> None:
    added = cli("sources", "add", "arxiv", QUERY, "--name", "Example Lab papers", "--json")

    source = json.loads(added.stdout)
    assert added.code == 0
    assert (source["kind"], source["target"]) == ("arxiv", QUERY)
    assert source["name"] == "Example Lab papers"
    assert source["every_seconds"] == 3600


@pytest.mark.parametrize(
    "args",
    [
        ("sources", "add", "arxiv", " "),
        ("sources", "add", "arxiv", "au:x\x07"),
    ],
)
def test_cli_refuses_an_unusable_query(cli, args: tuple[str, ...]) -> None:
    refused = cli(*args)

    assert refused.code == 2
    assert "arXiv query" in refused.stderr and "Traceback" not in refused.stderr


def test_the_same_search_twice_is_refused(cli) -> None:
    assert cli("sources", "add", "arxiv", QUERY).code == 0
    again = cli("sources", "add", "arxiv", f"  {QUERY} ")

    assert again.code == 2 and "already watching" in again.stderr


def test_an_arxiv_search_goes_through_the_watch_list(cli, tmp_path: Path) -> None:
    cli("sources", "add", "arxiv", QUERY, "--every", "6h")
    exported = cli("sources", "export").stdout
    (tmp_path / "list.toml").write_text(exported)
    cli("sources", "remove", "1")

    imported = cli("sources", "import", str(tmp_path / "list.toml"), "--json")

    assert 'kind = "arxiv"' in exported
    assert f"target = {json.dumps(QUERY)}" in exported
    (source,) = json.loads(imported.stdout)["added"]
    assert (source["kind"], source["target"], source["every_seconds"]) == (
        "arxiv",
        QUERY,
        6 * 3600,
    )


def test_the_api_adds_an_arxiv_search(db: Database) -> None:
    app = create_app(db.settings, db=db, token="t0ken-for-tests")
    with TestClient(app) as client:
        created = client.post(
            "/api/sources",
            json={"kind": "arxiv", "target": QUERY},
            headers={"Authorization": "Bearer t0ken-for-tests"},
        )

    assert created.status_code == 201
    assert (created.json()["kind"], created.json()["target"]) == ("arxiv", QUERY)
