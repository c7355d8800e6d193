"""Feeds: headers, conditional GET, HEAD, gzip, filters, errors; in process, and over real
HTTP (uvicorn) where the connection matters: HEAD on a kept-alive connection, 405, preflight."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from conftest import BUNDLED_DATA, HTTP, InProcess, Server
from icalendar import Calendar

from calendar_service.loading import load
from calendar_service.model import EventData

SETTINGS = load(BUNDLED_DATA).settings
FEED_NAMES = [feed.name for feed in SETTINGS.feeds]
FEED_PATHS = ["/calendar.ics", *(f"/feeds/{name}.ics" for name in FEED_NAMES)]


def test_bundled_feeds_are_the_documented_ones() -> None:
    assert FEED_NAMES == [
        "all",
        "schools",
        "practitioners",
        "parents-carers",
        "awareness-days",
        "training",
    ]


def uids(response: httpx.Response) -> set[str]:
    calendar = Calendar.from_ical(response.content)
    return {str(item["UID"]).split("@", 1)[0] for item in calendar.walk("VEVENT")}


def events_by_id() -> dict[str, EventData]:
    return {event.id: event.data for event in load(BUNDLED_DATA).events}


@pytest.mark.parametrize("path", FEED_PATHS)
def test_feed_is_served_with_calendar_and_cache_headers(client: InProcess, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    headers = response.headers
    assert headers["content-type"] == "text/calendar; charset=utf-8"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert datetime.strptime(headers["last-modified"], "%a, %d %b %Y %H:%M:%S GMT")
    assert headers["cache-control"].startswith("public, max-age=")
    assert int(headers["cache-control"].rsplit("=", 1)[1]) > 0
    filename = path.rsplit("/", 1)[1]
    assert headers["content-disposition"] == f'inline; filename="{filename}"'
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")
    assert uids(response)


@pytest.mark.parametrize("path", FEED_PATHS)
def test_feed_answers_304_to_if_none_match(client: InProcess, path: str) -> None:
    etag = client.get(path).headers["etag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


@pytest.mark.parametrize("path", FEED_PATHS)
def test_feed_answers_304_to_if_modified_since(client: InProcess, path: str) -> None:
    modified = client.get(path).headers["last-modified"]
    again = client.get(path, headers={"If-Modified-Since": modified})
    assert again.status_code == 304
    assert again.content == b""
    older = client.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert older.status_code == 200


# Feeds, and routes of each kind that answered HEAD with 405 before issue 9.
HEAD_PATHS = ["/feeds/all.ics", "/", "/healthz", "/api/events", "/docs", "/theme.css?accent=1d70b8"]


@pytest.mark.parametrize("path", HEAD_PATHS)
def test_head_gives_the_headers_and_an_empty_body(server: Server, path: str) -> None:
    identity = {"Accept-Encoding": "identity"}
    with httpx.Client(base_url=server.url, headers=identity, timeout=10) as client:
        full = client.get(path)
        head = client.head(path)
        after = client.get(path)  # the kept-alive connection is still in step
    assert head.status_code == full.status_code == after.status_code == 200
    assert head.content == b""
    assert after.content == full.content
    for name in ("content-type", "etag", "last-modified", "cache-control", "content-disposition"):
        assert head.headers.get(name) == full.headers.get(name)
    assert int(head.headers["content-length"]) == len(full.content)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_405_over_http_is_json_with_allow(server: Server, method: str) -> None:
    response = HTTP.request(method, server.url + "/feeds/all.ics", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["allowed"] == ["GET", "HEAD"]


def test_refused_preflight_over_http_is_json(server: Server) -> None:
    preflight = {"Origin": "https://school.example", "Access-Control-Request-Method": "DELETE"}
    response = HTTP.options(server.url + "/api/events", headers=preflight, timeout=10)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["parameter"] == "Access-Control-Request-Method"


def test_feed_is_gzipped_when_the_client_accepts_it(client: InProcess) -> None:
    plain = client.get("/calendar.ics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = client.get("/calendar.ics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert zipped.content == plain.content  # httpx decompresses
    assert "accept-encoding" in zipped.headers["vary"].lower()


@pytest.mark.parametrize(
    ("query", "audiences", "categories"),
    [
        (
            "audience=schools&audience=parents-carers&category=awareness-day",
            {"schools", "parents-carers"},
            {"awareness-day"},
        ),
        ("audience=schools&audience=parents-carers", {"schools", "parents-carers"}, set()),
        (
            "category=awareness-day&category=awareness-week&audience=practitioners",
            {"practitioners"},
            {"awareness-day", "awareness-week"},
        ),
        ("audience=schools,parents-carers", {"schools", "parents-carers"}, set()),
    ],
)
def test_filter_is_or_within_a_parameter_and_and_across(
    client: InProcess, query: str, audiences: set[str], categories: set[str]
) -> None:
    data = events_by_id()
    served = uids(client.get("/calendar.ics"))  # every current event
    expected = {
        event_id
        for event_id in served
        if (not audiences or audiences & set(data[event_id].audiences))
        and (not categories or data[event_id].category in categories)
    }
    assert expected, "the filter should match something in the bundled data"
    response = client.get("/calendar.ics?" + query)
    assert response.status_code == 200
    assert uids(response) == expected


def test_combined_filter_is_narrower_than_each_part(client: InProcess) -> None:
    both = uids(
        client.get("/calendar.ics?audience=schools&audience=parents-carers&category=awareness-day")
    )
    audiences = uids(client.get("/calendar.ics?audience=schools&audience=parents-carers"))
    category = uids(client.get("/calendar.ics?category=awareness-day"))
    assert both == audiences & category
    assert both < audiences
    assert "time-to-talk-day" in both


def test_unknown_feed_is_404_json_naming_the_feeds(client: InProcess) -> None:
    response = client.get("/feeds/nonsense.ics")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == 404
    assert "nonsense" in error["message"]
    assert error["allowed"] == FEED_NAMES


@pytest.mark.parametrize(
    ("query", "parameter", "allowed"),
    [
        ("audience=governors", "audience", list(SETTINGS.vocabularies.audiences)),
        ("category=seminar", "category", list(SETTINGS.vocabularies.categories)),
        ("theme=weather", "theme", list(SETTINGS.vocabularies.themes)),
        ("online=maybe", "online", ["true", "false"]),
    ],
)
def test_bad_filter_value_is_422_json_listing_allowed_values(
    client: InProcess, query: str, parameter: str, allowed: list[str]
) -> None:
    response = client.get("/calendar.ics?" + query)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["parameter"] == parameter
    assert error["allowed"] == allowed


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/calendar.ics?colour=red", "colour"),
        ("/feeds/all.ics?audience=schools", "audience"),  # a named feed takes no filter
        ("/events/time-to-talk-day.ics?format=json", "format"),
    ],
)
def test_unknown_parameter_is_422_json(client: InProcess, path: str, parameter: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"].startswith("unknown parameter")
    assert error["parameter"] == parameter


def test_single_event_file_is_served(client: InProcess) -> None:
    response = client.get("/events/time-to-talk-day.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="time-to-talk-day.ics"'
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "time-to-talk-day@calendar.durham-scp.org.uk"
    assert str(calendar["X-WR-CALNAME"]) == "Time to Talk Day"
    assert calendar.walk("VTIMEZONE")


def test_unknown_event_is_404_json(client: InProcess) -> None:
    response = client.get("/events/no-such-event.ics")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == 404
    assert "no-such-event" in error["message"]


def test_health_reports_the_snapshot_served(client: InProcess) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    health = response.json()
    assert isinstance(health["version"], str) and len(health["version"]) >= 8
    assert datetime.fromisoformat(health["loaded_at"]).tzinfo is not None
    assert health["events"] == len(load(BUNDLED_DATA).events)
    assert health["last_reload_error"] is None
    assert health["feeds"] == FEED_NAMES


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        (
            "/calendar.ics?audience=schools&category=awareness-day&audience=parents-carers",
            "/calendar.ics?category=awareness-day&audience=parents-carers&audience=schools",
        ),
        ("/calendar.ics?audience=schools,schools", "/calendar.ics?audience=schools"),
        (
            "/api/occurrences?to=2026-02-28&from=2026-02-01&audience=schools",
            "/api/occurrences?audience=schools&from=2026-02-01&to=2026-02-28",
        ),
        ("/api/occurrences?limit=007", "/api/occurrences?limit=7"),
        ("/embed?view=list&audience=schools", "/embed?audience=schools"),
        ("/?audience=schools&category=awareness-day", "/?category=awareness-day&audience=schools"),
    ],
)
def test_non_canonical_filter_url_redirects_permanently_to_the_canonical_one(
    client: InProcess, path: str, canonical: str
) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == canonical
    assert "max-age" in response.headers["cache-control"]
    assert client.get(canonical, follow_redirects=False).status_code == 200


def test_subscribe_page_links_use_the_canonical_feed_url(client: InProcess) -> None:
    page = client.get("/subscribe?category=awareness-day&audience=schools").text
    assert "/calendar.ics?category=awareness-day&amp;audience=schools" in page
