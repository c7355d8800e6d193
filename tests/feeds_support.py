"""Shared by the ICS feed tests: the compiled catalog, feed bodies and parsers of both expanders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from conftest import BUNDLED_DATA
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar, Component

from calendar_service.compiling import Catalog
from calendar_service.loading import load
from calendar_service.model import EventData
from calendar_service.reloading import build
from calendar_service.settings import ServiceSettings

TODAY = date(2026, 1, 15)
LONDON = ZoneInfo("Europe/London")
YEAR_2026 = (date(2026, 1, 1), date(2027, 1, 1))
FEED_NAMES = [feed.name for feed in load(BUNDLED_DATA).settings.feeds]
FEEDS = ["calendar", *FEED_NAMES]
DATE_VALUED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build(ServiceSettings(data_dir=BUNDLED_DATA), TODAY)


@pytest.fixture(scope="module")
def events() -> dict[str, EventData]:
    return {event.id: event.data for event in load(BUNDLED_DATA, today=TODAY).events}


def feed_bytes(catalog: Catalog, name: str) -> bytes:
    return catalog.everything.body if name == "calendar" else catalog.feeds[name].file.body


def every_body(catalog: Catalog) -> Iterator[tuple[str, bytes]]:
    """Every ICS document the catalog serves: the calendar, named feeds and event files."""
    for name in FEEDS:
        yield name, feed_bytes(catalog, name)
    for event_id in catalog.events:
        rendered = catalog.event_file(event_id)
        assert rendered is not None
        yield f"events/{event_id}", rendered.body


def content_lines(body: bytes) -> list[str]:
    """Unfolded content lines."""
    return body.decode("utf-8").replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def vevents(body: bytes) -> list[Component]:
    return list(Calendar.from_ical(body).walk("VEVENT"))


def event_id(component: Component) -> str:
    return str(component["UID"]).split("@", 1)[0]


def instant(value: date | datetime) -> date | datetime:
    """An occurrence's start for comparison: UTC for timed, the date for all-day."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def rie_occurrences(body: bytes, span: tuple[date, date] = YEAR_2026) -> list[tuple[str, ...]]:
    calendar = Calendar.from_ical(body)
    found = recurring_ical_events.of(calendar).between(*span)
    return sorted(
        (
            str(item["UID"]),
            instant(item["DTSTART"].dt).isoformat(),
            instant(item["DTEND"].dt).isoformat(),
        )
        for item in found
    )


def ical_occurrences(body: bytes, span: tuple[date, date] = YEAR_2026) -> list[tuple[str, ...]]:
    calendar = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    found = calendar.timeline_tz(LONDON).overlapping(*span)
    return sorted(
        (str(item.uid), instant(item.dtstart).isoformat(), instant(item.dtend).isoformat())
        for item in found
    )
