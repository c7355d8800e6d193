"""One RRULE writer: the JSON API shows the rule the event's ICS carries, byte for byte.

Dataset `tests/datasets/series-until-in-summer/`: a timed weekly Europe/London series until
28 April 2026 (after the clocks go forward, so the end of that day is 22:59:59 UTC), and an
all-day weekly series until 30 April 2026 (a DATE).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calendar_service.settings import ServiceSettings

DATASET = Path(__file__).resolve().parent / "datasets" / "series-until-in-summer"
TODAY = date(2026, 3, 1)


def _app(data_dir: Path) -> FastAPI:
    settings = ServiceSettings(data_dir=data_dir, watch=False)
    try:  # the service object, once the web layer has one
        from calendar_service.web.service import CalendarService  # type: ignore[import-not-found]
    except ImportError:
        from calendar_service.reloading import LiveCatalog
        from calendar_service.web.app import create_app

        return create_app(LiveCatalog(settings, today=lambda: TODAY))
    application: FastAPI = CalendarService.open(settings, today=lambda: TODAY).app()
    return application


@pytest.fixture(scope="module")
def app() -> Iterator[FastAPI]:
    yield _app(DATASET)


def _get(app: FastAPI, path: str) -> httpx.Response:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.invalid") as c:
            return await c.get(path)

    return asyncio.run(fetch())


def _feed_rrule(ics: bytes) -> str:
    """The RRULE value of the one VEVENT in a calendar file, unfolded (not VTIMEZONE's)."""
    event = ics.decode().replace("\r\n ", "").split("BEGIN:VEVENT\r\n", 1)[1]
    lines = event.split("\r\n")
    (rule,) = [line for line in lines if line.startswith("RRULE:")]
    return rule.removeprefix("RRULE:")


def _api_rrule(app: FastAPI, event_id: str) -> Any:
    response = _get(app, f"/api/events/{event_id}")
    assert response.status_code == 200, response.text
    return response.json()["recurrence"]["rrule"]


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("weekly-evening-drop-in", "FREQ=WEEKLY;UNTIL=20260428T225959Z"),
        ("weekly-awareness-day", "FREQ=WEEKLY;UNTIL=20260430"),
    ],
)
def test_api_rrule_is_the_feeds_rrule_with_until_in_utc(
    app: FastAPI, event_id: str, expected: str
) -> None:
    feed = _get(app, f"/events/{event_id}.ics")
    assert feed.status_code == 200
    assert _feed_rrule(feed.content) == expected
    assert _api_rrule(app, event_id) == expected


def test_api_rrule_of_a_series_in_the_named_feed_is_the_same_text(app: FastAPI) -> None:
    feed = _get(app, "/feeds/all.ics").content.decode().replace("\r\n ", "")
    for event_id in ("weekly-evening-drop-in", "weekly-awareness-day"):
        assert f"RRULE:{_api_rrule(app, event_id)}\r\n" in feed
