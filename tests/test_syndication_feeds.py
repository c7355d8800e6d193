"""RSS and Atom, read by feedparser (independent of feedgen): upcoming dates, stable GUIDs,
entries dated by revision, absolute links, and the pages that point to them."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from conftest import InProcess

FEEDS = ["all", "schools", "practitioners", "awareness-days"]
UID_DOMAIN = "calendar.durham-scp.org.uk"  # the frozen dataset's calendar.yaml
CALENDAR_NAME = "Durham Safeguarding Children Partnership dates"
KINDS = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


def parsed(client: InProcess, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text[:300]
    result = feedparser.parse(response.content)
    assert not result.bozo, result.get("bozo_exception")
    return result


def occurrences_of(client: InProcess, name: str) -> list[dict[str, Any]]:
    """What the named feed's JSON says it holds, from today on."""
    body = client.get(f"/feeds/{name}.json").json()
    today = date.today().isoformat()
    return [item for item in body["occurrences"] if item["end"][:10] >= today]


def guid(entry: Any) -> str:
    return str(entry.get("guid") or entry.id)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", FEEDS)
def test_named_feeds_parse_and_list_the_upcoming_dates_in_order(
    client: InProcess, name: str, kind: str
) -> None:
    feed = parsed(client, f"/feeds/{name}.{kind}")
    assert feed.version.startswith(kind)
    assert client.get(f"/feeds/{name}.{kind}").headers["content-type"].startswith(KINDS[kind])
    entries = feed.entries
    assert 0 < len(entries) <= 50
    expected = occurrences_of(client, name)[: len(entries)]
    titles = [entry.title for entry in entries]
    assert [title.split(":")[0] for title in titles] == [item["title"] for item in expected]
    for entry in entries:
        assert entry.link.startswith(client.url + "/events/")


@pytest.mark.parametrize("name", FEEDS)
def test_an_entry_is_dated_when_its_event_last_changed_and_titled_with_its_own_date(
    client: InProcess, name: str
) -> None:
    feed = parsed(client, f"/feeds/{name}.atom")
    for entry, item in zip(feed.entries, occurrences_of(client, name), strict=False):
        event = client.get(f"/api/events/{item['event_id']}").json()
        changed = datetime.fromisoformat(event["last_modified"].replace("Z", "+00:00"))
        assert calendar.timegm(entry.updated_parsed) == int(changed.timestamp())
        first = date.fromisoformat(item["start"][:10])
        assert f"{first:%A} {first.day} {first:%B} {first.year}" in entry.title


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_guids_are_the_event_the_occurrence_and_the_uid_domain_and_stable(
    client: InProcess, kind: str
) -> None:
    first = parsed(client, f"/feeds/schools.{kind}")
    again = parsed(client, f"/calendar.{kind}?audience=schools")
    assert [guid(e) for e in first.entries] == [guid(e) for e in again.entries]
    if kind == "rss":
        items = occurrences_of(client, "schools")
        # The JSON's id is the event and the rule's start: a moved date keeps its GUID.
        expected = [f"{item['id']}@{UID_DOMAIN}" for item in items[: len(first.entries)]]
        assert [guid(entry) for entry in first.entries] == expected
    else:
        assert all(guid(entry).startswith("urn:uuid:") for entry in first.entries)
    assert len({guid(e) for e in first.entries}) == len(first.entries)


def test_a_filter_feed_is_named_for_its_filter_and_links_its_page(client: InProcess) -> None:
    feed = parsed(client, "/calendar.rss?audience=schools")
    assert feed.feed.title.endswith("(Schools)")
    assert feed.feed.link == client.url + "/?audience=schools"
    assert parsed(client, "/calendar.atom").feed.title == CALENDAR_NAME


def test_feeds_answer_conditional_requests_and_refuse_unknown_parameters(
    client: InProcess,
) -> None:
    first = client.get("/feeds/schools.rss")
    again = client.get("/feeds/schools.rss", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/calendar.atom?colour=red").status_code == 422
    assert client.get("/feeds/nope.rss").status_code == 404
    redirect = client.get(
        "/calendar.rss?audience=schools&audience=early-years", follow_redirects=False
    )
    assert redirect.status_code == 301


class _Alternates(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "alternate":
            self.found.append(values)


@pytest.mark.parametrize(
    ("page", "feed"),
    [
        ("/", "/calendar.rss"),
        ("/?audience=schools", "/calendar.rss?audience=schools"),
        ("/subscribe", "/calendar.rss"),
        ("/feeds/schools/subscribe", "/feeds/schools.rss"),
        ("/events/time-to-talk-day", "/calendar.rss"),
    ],
)
def test_pages_link_their_feeds_for_readers_to_find(
    client: InProcess, page: str, feed: str
) -> None:
    reader = _Alternates()
    reader.feed(client.get(page).text)
    hrefs = [str(link["href"]) for link in reader.found]
    assert client.url + feed in hrefs
    for link in reader.found:
        href = str(link["href"])
        assert href.startswith(client.url + "/")
        response = client.get(href)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(str(link["type"]))
        assert not feedparser.parse(response.content).bozo


def test_entries_read_the_same_in_rss_and_atom(client: InProcess) -> None:
    rss, atom = parsed(client, "/feeds/all.rss"), parsed(client, "/feeds/all.atom")
    assert [e.title for e in rss.entries] == [e.title for e in atom.entries]
    assert [e.link for e in rss.entries] == [e.link for e in atom.entries]
    now = datetime.now(UTC).timestamp()
    assert all(calendar.timegm(e.published_parsed) <= now for e in rss.entries)
