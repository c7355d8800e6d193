"""The link builders: the served address, the base's precedence, subscribe and add links.

Links are read back with urllib (an independent parser), never compared as whole strings.
Dataset: tests/datasets/partnership-2026, and a copy of it without `base_url`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from base_url_support import data_without_base_url
from conftest import BUNDLED_DATA

from calendar_service import links
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.model import Occurrence
from calendar_service.urls import BaseUrlMissing, choose_base, served_url

TODAY = date(2026, 11, 20)
FEED = "https://calendar.example.org/calendar.ics?audience=schools"
NAME = "Dates for schools"
OUTLOOK_HOSTS = {"personal": "outlook.live.com", "work": "outlook.office.com"}


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("localhost", 9000, "http://localhost:9000"),
        ("192.0.2.7", 80, "http://192.0.2.7:80"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),  # every interface: this machine's address
        ("::", 8000, "http://[::1]:8000"),
        ("::1", 4100, "http://[::1]:4100"),
    ],
)
def test_the_served_address_is_one_a_browser_can_open(host: str, port: int, expected: str) -> None:
    assert served_url(host, port) == expected


@pytest.mark.parametrize(
    ("configured", "calendar_yaml", "served", "expected"),
    [
        ("https://a.example/", "https://b.example", "http://127.0.0.1:9", "https://a.example"),
        (None, "https://b.example/", "http://127.0.0.1:9", "https://b.example"),
        (None, None, "http://127.0.0.1:9", "http://127.0.0.1:9"),
        ("https://a.example", None, None, "https://a.example"),
    ],
)
def test_a_configured_base_wins_then_calendar_yaml_then_the_address_served(
    configured: str | None, calendar_yaml: str | None, served: str | None, expected: str
) -> None:
    assert choose_base(configured, calendar_yaml, served) == expected


def test_no_base_at_all_is_refused_naming_the_ways_to_give_one() -> None:
    with pytest.raises(BaseUrlMissing, match="--base-url, CALENDAR_BASE_URL or base_url"):
        choose_base(None, None, None)


def test_compiling_without_a_base_url_uses_the_served_address(tmp_path: Path) -> None:
    loaded = load(data_without_base_url(tmp_path), today=TODAY)
    served = "http://127.0.0.1:41234"
    catalog = compile_catalog(loaded, served_url=served, today=TODAY)
    assert catalog.identity.base_url == served
    unfolded = catalog.everything.body.replace(b"\r\n ", b"")
    assert f"Details: {served}/events/".encode() in unfolded
    with pytest.raises(BaseUrlMissing):
        compile_catalog(loaded, today=TODAY)


def test_calendar_yaml_base_url_wins_over_the_served_address() -> None:
    catalog = compile_catalog(load(BUNDLED_DATA), served_url="http://127.0.0.1:1", today=TODAY)
    assert catalog.identity.base_url == "http://127.0.0.1:8000"  # the frozen dataset's


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, strict_parsing=True)


def test_subscribe_links_offer_every_kind_of_account() -> None:
    found = links.SubscribeLinks.of(FEED, NAME)
    assert found.feed == FEED
    assert found.webcal == "webcal://calendar.example.org/calendar.ics?audience=schools"
    google = urlsplit(found.google)
    assert (google.scheme, google.hostname, google.path) == (
        "https",
        "calendar.google.com",
        "/calendar/r",
    )
    assert _query(found.google) == {"cid": [found.webcal]}
    for account, url in (("personal", found.outlook_personal), ("work", found.outlook_work)):
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname) == ("https", OUTLOOK_HOSTS[account])
        assert parts.path == "/calendar/0/addfromweb"
        assert _query(url) == {"url": [FEED], "name": [NAME]}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return compile_catalog(load(BUNDLED_DATA), today=TODAY)


def _first(catalog: Catalog, all_day: bool) -> Occurrence:
    return next(item for item in catalog.index.occurrences if item.all_day is all_day)


@pytest.mark.parametrize("account", ["personal", "work"])
@pytest.mark.parametrize("all_day", [True, False], ids=["all-day", "timed"])
def test_outlook_adds_one_occurrence_on_the_account_kinds_host(
    catalog: Catalog, account: links.OutlookAccount, all_day: bool
) -> None:
    occurrence = _first(catalog, all_day)
    event = catalog.events[occurrence.event_id].event.data
    add = links.AddLinks.of(event, catalog.identity, catalog.settings.timezone)
    url = add.outlook(occurrence, account)
    parts = urlsplit(url)
    assert (parts.hostname, parts.path) == (OUTLOOK_HOSTS[account], "/calendar/0/deeplink/compose")
    query = _query(url)
    assert query["rru"] == ["addevent"] and query["subject"] == [occurrence.title]
    assert query["allday"] == ["true" if all_day else "false"]
    assert catalog.identity.event_page(event.id) in query["body"][0]
    if all_day:
        assert query["startdt"] == [occurrence.start.isoformat()]
    else:
        assert isinstance(occurrence.start, datetime)
        start = datetime.fromisoformat(query["startdt"][0])
        assert query["startdt"][0].endswith("Z") and start == occurrence.start


def test_the_api_outlook_link_stays_the_work_one(catalog: Catalog) -> None:
    occurrence = _first(catalog, True)
    event = catalog.events[occurrence.event_id].event.data
    add = links.AddLinks.of(event, catalog.identity, catalog.settings.timezone)
    assert add.outlook(occurrence) == add.outlook(occurrence, "work")
