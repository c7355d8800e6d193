"""The ICS feeds give the occurrences the data describes, alike in both expanders, with UNTIL."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import recurring_ical_events
from conftest import FIXTURES
from feeds_support import (
    FEEDS,
    LONDON,
    TODAY,
    YEAR_2026,
    content_lines,
    event_id,
    feed_bytes,
    ical_occurrences,
    instant,
    rie_occurrences,
    vevents,
)
from feeds_support import catalog as catalog
from icalendar import Calendar, Component

from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load


def occurrences_2026(catalog: Catalog, wanted: str) -> list[Component]:
    calendar = Calendar.from_ical(catalog.everything.body)
    found = recurring_ical_events.of(calendar).between(*YEAR_2026)
    return sorted(
        (item for item in found if event_id(item) == wanted),
        key=lambda item: instant(item["DTSTART"].dt).isoformat(),
    )


def test_time_to_talk_day_2026_is_the_first_thursday_of_february(catalog: Catalog) -> None:
    (talk,) = occurrences_2026(catalog, "time-to-talk-day")
    assert talk["DTSTART"].dt == date(2026, 2, 5)
    assert talk["DTSTART"].dt.weekday() == 3  # Thursday
    assert talk["DTEND"].dt == date(2026, 2, 6)


def test_moved_occurrence_replaces_the_rules_date(catalog: Catalog) -> None:
    (week,) = occurrences_2026(catalog, "childrens-mental-health-week")
    assert week["DTSTART"].dt == date(2026, 2, 9)
    assert week["DTEND"].dt == date(2026, 2, 16)
    assert week["STATUS"] == "CONFIRMED"


def test_provisional_programme_runs_12_weekly_sessions_at_10_london_time(
    catalog: Catalog,
) -> None:
    sessions = occurrences_2026(catalog, "young-parents-programme-2026-02")
    assert len(sessions) == 12
    starts = [item["DTSTART"].dt for item in sessions]
    assert starts[0] == datetime(2026, 2, 3, 10, 0, tzinfo=LONDON)
    for start, item in zip(starts, sessions, strict=True):
        local = start.astimezone(LONDON)
        assert (local.weekday(), local.time()) == (1, time(10, 0))
        assert item["DTEND"].dt.astimezone(LONDON).time() == time(14, 0)
        assert item["STATUS"] == "TENTATIVE"
    assert [b - a for a, b in itertools.pairwise(starts)] == [timedelta(days=7)] * 11
    # Across the change to summer time the wall clock stays at 10:00; UTC moves.
    assert starts[-1].astimezone(UTC).hour == 9
    assert starts[0].astimezone(UTC).hour == 10


@pytest.mark.parametrize("name", FEEDS)
def test_ical_timeline_gives_the_same_occurrences_as_recurring_ical_events(
    catalog: Catalog, name: str
) -> None:
    body = feed_bytes(catalog, name)
    expected = rie_occurrences(body)
    assert ical_occurrences(body) == expected
    if name in ("calendar", "all"):
        assert len(expected) > 20


@pytest.fixture(scope="module")
def valid_feed() -> bytes:
    loaded = load(FIXTURES / "valid", today=TODAY)
    return compile_catalog(loaded, today=TODAY).everything.body


def test_timed_series_until_is_utc(valid_feed: bytes) -> None:
    lines = content_lines(valid_feed)
    rules = [line for line in lines if line.startswith("RRULE:")]
    # 23:59:59 on the last day, London summer time, is 22:59:59 UTC.
    assert "RRULE:FREQ=WEEKLY;UNTIL=20260428T225959Z" in rules
    drop_in = next(item for item in vevents(valid_feed) if event_id(item) == "weekly-drop-in")
    until = drop_in["RRULE"]["UNTIL"][0]
    assert until.utcoffset() == timedelta(0)
    assert drop_in["DTSTART"].params["TZID"] == "Europe/London"


def test_all_day_series_until_is_a_date(valid_feed: bytes) -> None:
    rules = [line for line in content_lines(valid_feed) if line.startswith("RRULE:")]
    (annual,) = [rule for rule in rules if "FREQ=YEARLY" in rule and "UNTIL" in rule]
    assert re.search(r"(^|;)UNTIL=20281231(;|$)", annual), annual


def test_series_with_until_ends_on_its_last_day_in_both_expanders(valid_feed: bytes) -> None:
    span = (date(2026, 1, 1), date(2031, 1, 1))
    expected = rie_occurrences(valid_feed, span)
    assert ical_occurrences(valid_feed, span) == expected
    drop_in = [start for uid, start, _ in expected if uid.startswith("weekly-drop-in@")]
    assert drop_in == [
        datetime(*day, 18, 30, tzinfo=LONDON).astimezone(UTC).isoformat()
        for day in [
            (2026, 3, 3),
            (2026, 3, 10),
            (2026, 3, 18),  # moved from Tuesday 17
            (2026, 3, 24),
            (2026, 3, 31),
            (2026, 4, 14),  # 7 April is excluded
            (2026, 4, 21),
            (2026, 4, 28),  # the until day itself is included
        ]
    ]
    annual = [start for uid, start, _ in expected if uid.startswith("annual-awareness-day@")]
    assert annual == ["2026-05-14", "2027-05-13", "2028-05-11"]
