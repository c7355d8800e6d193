"""The ICS feeds follow our publishing profile (docs/ics-profile.md): parsing, UIDs, zones."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from conftest import BUNDLED_DATA
from feeds_support import (
    DATE_VALUED,
    FEEDS,
    TODAY,
    content_lines,
    event_id,
    every_body,
    feed_bytes,
    vevents,
)
from feeds_support import catalog as catalog
from feeds_support import events as events
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

from calendar_service.compiling import Catalog
from calendar_service.model import EventData
from calendar_service.reloading import build
from calendar_service.settings import ServiceSettings


@pytest.mark.parametrize("name", FEEDS)
def test_feed_parses_with_icalendar_and_with_ical(catalog: Catalog, name: str) -> None:
    body = feed_bytes(catalog, name)
    parsed = Calendar.from_ical(body)
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert len(strict.events) == len(list(parsed.walk("VEVENT")))
    assert len(strict.timezones) == 1


def test_event_files_parse_with_icalendar_and_with_ical(catalog: Catalog) -> None:
    for name, body in every_body(catalog):
        parsed = Calendar.from_ical(body)
        strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
        assert strict.events, name
        assert len(strict.events) == len(list(parsed.walk("VEVENT"))), name


def test_full_feed_holds_every_current_event(catalog: Catalog) -> None:
    uids = {str(item["UID"]) for item in vevents(catalog.everything.body)}
    expected = {
        catalog.identity.uid(event_id)
        for event_id, entry in catalog.events.items()
        if entry.current
    }
    assert uids == expected
    assert "time-to-talk-day@calendar.durham-scp.org.uk" in uids


@pytest.mark.parametrize("name", FEEDS)
def test_uids_are_unique_and_overrides_share_their_series_uid(catalog: Catalog, name: str) -> None:
    components = vevents(feed_bytes(catalog, name))
    masters = [str(item["UID"]) for item in components if "RECURRENCE-ID" not in item]
    assert len(masters) == len(set(masters))
    overrides = [
        (str(item["UID"]), item["RECURRENCE-ID"].to_ical())
        for item in components
        if "RECURRENCE-ID" in item
    ]
    assert len(overrides) == len(set(overrides))
    assert {uid for uid, _ in overrides} <= set(masters)
    assert all(re.fullmatch(r"[a-z0-9-]+@calendar\.durham-scp\.org\.uk", uid) for uid in masters)


def test_uids_are_identical_across_separate_loads_and_deployments(catalog: Catalog) -> None:
    again = build(ServiceSettings(data_dir=BUNDLED_DATA), TODAY)
    elsewhere = build(
        ServiceSettings(data_dir=BUNDLED_DATA, base_url="https://calendar.example.org"), TODAY
    )
    for name in FEEDS:
        first = [str(item["UID"]) for item in vevents(feed_bytes(catalog, name))]
        assert first == [str(item["UID"]) for item in vevents(feed_bytes(again, name))]
        assert first == [str(item["UID"]) for item in vevents(feed_bytes(elsewhere, name))]
    assert feed_bytes(catalog, "all") == feed_bytes(again, "all")


@pytest.mark.parametrize("name", FEEDS)
def test_every_tzid_used_has_a_vtimezone_written_with_rrules(catalog: Catalog, name: str) -> None:
    body = feed_bytes(catalog, name)
    lines = content_lines(body)
    used = set()
    in_event = False
    for line in lines:
        in_event = line == "BEGIN:VEVENT" or (in_event and line != "END:VEVENT")
        head = line.split(":", 1)[0]
        used.update(re.findall(r";TZID=([^;:]+)", head))
        prop = head.split(";", 1)[0]
        if in_event and prop in DATE_VALUED and "VALUE=DATE" not in head:
            assert "TZID=" in head, f"timed {prop} without a TZID: {line}"
    calendar = Calendar.from_ical(body)
    timezones = {str(zone["TZID"]): zone for zone in calendar.walk("VTIMEZONE")}
    assert used <= set(timezones)
    assert set(timezones) == {"Europe/London"}
    if name in ("calendar", "all", "training"):  # feeds with timed events
        assert used == {"Europe/London"}
    for zone in timezones.values():
        blocks = zone.walk("DAYLIGHT") + zone.walk("STANDARD")
        assert len(blocks) == 2
        for block in blocks:
            assert "RRULE" in block
            assert "RDATE" not in block
    # British Summer Time: from the last Sunday of March to the last Sunday of October.
    (summer,) = timezones["Europe/London"].walk("DAYLIGHT")
    (winter,) = timezones["Europe/London"].walk("STANDARD")
    assert summer["RRULE"]["BYMONTH"] == [3] and summer["RRULE"]["BYDAY"] == ["-1SU"]
    assert winter["RRULE"]["BYMONTH"] == [10] and winter["RRULE"]["BYDAY"] == ["-1SU"]
    assert "X-WR-TIMEZONE:Europe/London" in lines


def test_all_day_event_end_is_exclusive(catalog: Catalog, events: dict[str, EventData]) -> None:
    checked = 0
    for component in vevents(catalog.everything.body):
        start = component["DTSTART"].dt
        if isinstance(start, datetime):
            continue
        data = events[event_id(component)]
        assert isinstance(data.start, date)
        series_days = ((data.end or data.start) - data.start).days + 1
        if "RECURRENCE-ID" in component:
            occurrence = component["RECURRENCE-ID"].dt
            override = next(item for item in data.overrides if item.occurrence == occurrence)
            assert start == (override.start or occurrence)
            last = override.end or (start + timedelta(days=series_days - 1))
        else:
            assert start == data.start
            last = data.end or data.start
        assert isinstance(last, date)
        assert component["DTEND"].dt == last + timedelta(days=1)
        assert component["DTEND"].params.get("VALUE") == "DATE"
        checked += 1
    assert checked >= 5


def test_one_day_event_ends_the_next_day(catalog: Catalog) -> None:
    body = catalog.everything.body
    talk = next(item for item in vevents(body) if event_id(item) == "time-to-talk-day")
    assert talk["DTSTART"].dt == date(2025, 2, 6)
    assert talk["DTEND"].dt == talk["DTSTART"].dt + timedelta(days=1)
    (block,) = [
        block
        for block in body.decode().split("BEGIN:VEVENT\r\n")
        if "UID:time-to-talk-day@" in block
    ]
    assert "DTSTART;VALUE=DATE:20250206" in block
    assert "DTEND;VALUE=DATE:20250207" in block


@pytest.mark.parametrize("name", FEEDS)
def test_feed_lines_end_in_crlf_only(catalog: Catalog, name: str) -> None:
    body = feed_bytes(catalog, name)
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert b"\r" not in body.replace(b"\r\n", b"")


def test_no_line_is_longer_than_75_octets(catalog: Catalog) -> None:
    for name, body in every_body(catalog):
        for line in body.split(b"\r\n"):
            assert len(line) <= 75, f"{name}: {line!r}"
            line.decode("utf-8")  # folding never splits a UTF-8 sequence


@pytest.mark.parametrize("name", FEEDS)
def test_feed_has_publishing_properties(catalog: Catalog, name: str) -> None:
    calendar = Calendar.from_ical(feed_bytes(catalog, name))
    title = catalog.settings.name if name == "calendar" else catalog.feeds[name].definition.title
    assert calendar["VERSION"] == "2.0"
    assert str(calendar["PRODID"]).startswith(f"-//{catalog.settings.organisation}//")
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert str(calendar["NAME"]) == title
    assert str(calendar["X-WR-CALNAME"]) == title
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=catalog.settings.refresh_hours)
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert str(calendar["X-PUBLISHED-TTL"]) == f"PT{catalog.settings.refresh_hours}H"


def test_awareness_days_are_transparent_and_programmes_opaque(
    catalog: Catalog, events: dict[str, EventData]
) -> None:
    categories = catalog.settings.vocabularies.categories
    seen = set()
    for component in vevents(catalog.everything.body):
        category = events[event_id(component)].category
        seen.add(category)
        expected = "TRANSPARENT" if categories[category].transparent else "OPAQUE"
        assert component["TRANSP"] == expected, event_id(component)
    assert {"awareness-day", "awareness-week", "programme"} <= seen
    talk = next(
        item for item in vevents(catalog.everything.body) if event_id(item) == "time-to-talk-day"
    )
    assert talk["TRANSP"] == "TRANSPARENT"
