"""One URL builder: every path relative unless asked, every absolute URL under base_url.

Dataset `tests/datasets/series-until-in-summer/` (base_url https://calendar.test.example),
served in-process to a client on another host, which must never show in what is published.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from calendar_service import export, ics
from calendar_service.compiling import Catalog
from calendar_service.query import Filter
from calendar_service.settings import ServiceSettings
from calendar_service.urls import Urls

DATASET = Path(__file__).resolve().parent / "datasets" / "series-until-in-summer"
BASE = "https://calendar.test.example"
REQUEST_HOST = "request-host.invalid"
TODAY = date(2026, 3, 1)
URLS = Urls(BASE)
SCHOOLS = Filter(audience=("schools",), online=True)


def _service(data_dir: Path, **options: object) -> tuple[FastAPI, Catalog]:
    settings = ServiceSettings(data_dir=data_dir, watch=False, **options)  # type: ignore[arg-type]
    try:  # the service object, once the web layer has one
        from calendar_service.web.service import CalendarService  # type: ignore[import-not-found]
    except ImportError:
        from calendar_service.reloading import LiveCatalog
        from calendar_service.web.app import create_app

        live = LiveCatalog(settings, today=lambda: TODAY)
        return create_app(live), live.current
    service = CalendarService.open(settings, today=lambda: TODAY)
    return service.app(), service.snapshot.catalog


def _bodies(app: FastAPI, paths: list[str]) -> dict[str, str]:
    async def fetch() -> dict[str, str]:
        transport = httpx.ASGITransport(app=app)
        base = f"http://{REQUEST_HOST}"
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            found = {}
            for path in paths:
                response = await client.get(path, follow_redirects=True)
                assert response.status_code == 200, (path, response.text[:200])
                found[path] = response.text.replace("\r\n ", "")  # ICS lines unfolded
            return found

    return asyncio.run(fetch())


# --- Each method, relative or absolute on purpose ---------------------------------------------

RELATIVE: list[tuple[Callable[[Urls], str], str]] = [
    (lambda u: u.home(), "/"),
    (lambda u: u.home(Filter(status=())), "/"),
    (lambda u: u.home(SCHOOLS), "/?audience=schools&online=true"),
    (lambda u: u.subscribe(Filter()), "/subscribe"),
    (lambda u: u.subscribe(SCHOOLS), "/subscribe?audience=schools&online=true"),
    (lambda u: u.calendar(Filter()), "/calendar.ics"),
    (lambda u: u.calendar(SCHOOLS), "/calendar.ics?audience=schools&online=true"),
    (lambda u: u.named_feed("all", ".ics"), "/feeds/all.ics"),
    (lambda u: u.named_feed("all", ".json"), "/feeds/all.json"),
    (lambda u: u.named_feed("all", "/subscribe"), "/feeds/all/subscribe"),
    (lambda u: u.named_feed("all", "/embed"), "/feeds/all/embed"),
    (lambda u: u.event("drop-in"), "/events/drop-in"),
    (lambda u: u.event_ics("drop-in"), "/events/drop-in.ics"),
    (lambda u: u.embed(Filter()), "/embed"),
    (
        lambda u: u.embed(SCHOOLS, [("month", "2026-12")]),
        "/embed?audience=schools&online=true&month=2026-12",
    ),
    (lambda u: u.embed_script(), "/embed.js"),
    (lambda u: u.theme_css("1d70b8"), "/theme.css?accent=1d70b8"),
]


@pytest.mark.parametrize(("build", "expected"), RELATIVE, ids=[e for _b, e in RELATIVE])
def test_every_url_method_gives_a_relative_path(
    build: Callable[[Urls], str], expected: str
) -> None:
    assert build(URLS) == expected
    assert URLS.absolute(build(URLS)) == BASE + expected


def test_home_keeps_the_status_but_feed_and_subscribe_urls_do_not() -> None:
    from calendar_service.model import Status

    query = Filter(tag=("drop-in",), status=(Status.CANCELLED,))
    assert URLS.home(query) == "/?tag=drop-in&status=cancelled"
    assert URLS.subscribe(query) == "/subscribe?tag=drop-in"
    assert URLS.calendar(query) == "/calendar.ics?tag=drop-in"


def test_identity_gives_the_url_builder_of_its_base() -> None:
    identity = ics.Identity(base_url=BASE, uid_domain="calendar.test.example")
    assert identity.urls == URLS
    assert identity.event_page("drop-in") == f"{BASE}/events/drop-in"


# --- Every output -------------------------------------------------------------------------------

PUBLISHED = [
    "/",
    "/?audience=parents-carers",
    "/subscribe?audience=parents-carers",
    "/embed?view=month&month=2026-03&accent=1d70b8",
    "/embed",
    "/feeds/all/subscribe",
    "/feeds/all/embed",
    "/feeds/all.ics",
    "/feeds/all.json",
    "/calendar.ics",
    "/events/weekly-evening-drop-in",
    "/events/weekly-evening-drop-in.ics",
    "/api/events",
    "/api/occurrences?from=2026-03-01&to=2026-04-30",
]
OURS = re.compile(r"https?://[^\s\"'<>\\]+?/(?:events|feeds|subscribe|calendar\.ics|embed)")


@pytest.fixture(scope="module")
def published() -> dict[str, str]:
    app, _catalog = _service(DATASET)
    return _bodies(app, PUBLISHED)


@pytest.mark.parametrize("path", PUBLISHED)
def test_no_output_names_a_base_other_than_base_url(published: dict[str, str], path: str) -> None:
    body = published[path]
    assert REQUEST_HOST not in body
    for found in OURS.findall(body):
        assert found.startswith(BASE + "/"), found


def test_a_base_url_setting_replaces_the_one_in_calendar_yaml() -> None:
    app, _catalog = _service(DATASET, base_url="https://elsewhere.test.example/")
    bodies = _bodies(app, ["/events/weekly-evening-drop-in.ics", "/api/events", "/subscribe"])
    for path, body in bodies.items():
        assert BASE not in body, path
        assert "https://elsewhere.test.example/events/" in body or "/calendar.ics" in body, path


def test_links_read_away_from_the_site_are_absolute_and_navigation_is_relative(
    published: dict[str, str],
) -> None:
    subscribe = published["/subscribe?audience=parents-carers"]
    assert f'"{BASE}/calendar.ics?audience=parents-carers"' in subscribe
    assert 'href="/?audience=parents-carers">Back to the events' in subscribe
    month = published["/embed?view=month&month=2026-03&accent=1d70b8"]
    assert 'href="/theme.css?accent=1d70b8"' in month
    assert 'href="/embed?view=month&amp;accent=1d70b8&amp;month=2026-02"' in month
    assert f'href="{BASE}/subscribe"' in month
    assert f'href="{BASE}/events/weekly-evening-drop-in"' in month
    page = published["/events/weekly-evening-drop-in"]
    assert 'href="/events/weekly-evening-drop-in.ics"' in page
    assert f'"url": "{BASE}/events/weekly-evening-drop-in"' in page
    event = published["/api/events"]
    assert f'"event_ics":"{BASE}/events/weekly-evening-drop-in.ics"' in event


def test_the_export_lists_relative_urls() -> None:
    _app, catalog = _service(DATASET)
    listed = list(export.urls(catalog))
    assert all(url.startswith("/") and not url.startswith("//") for url in listed)
    assert {"/", "/calendar.ics", "/feeds/all/embed", "/events/weekly-awareness-day.ics"} <= set(
        listed
    )


# --- VTIMEZONE --------------------------------------------------------------------------------


def test_each_vtimezone_call_gives_its_own_component() -> None:
    first = ics.vtimezone("Europe/London", 2026)
    second = ics.vtimezone("Europe/London", 2026)
    assert first is not second
    assert first.to_ical() == second.to_ical()
    first.add("X-CHANGED", "yes")
    assert b"X-CHANGED" not in ics.vtimezone("Europe/London", 2026).to_ical()
