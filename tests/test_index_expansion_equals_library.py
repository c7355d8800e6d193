"""Compiling expands events itself (index.expand_events): over generated series of every
shape the loader accepts, it gives exactly what recurring-ical-events gives from the
VEVENTs we publish (index.expand), in any window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import BUNDLED_DATA
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from ics_events_support import ZONES, rules
from pydantic import ValidationError

from calendar_service import ics
from calendar_service.index import HORIZON_FUTURE, HORIZON_PAST, expand, expand_events, facts_of
from calendar_service.loading import load
from calendar_service.local_times import check_local_times, rule_clock_problems
from calendar_service.model import (
    CalendarSettings,
    Event,
    EventData,
    Schedule,
    Skipped,
    start_instant,
)
from calendar_service.recurrence import Allowance, check_recurrence, index_reach, judge_recurrence
from calendar_service.series import Series

TODAY = date(2026, 11, 25)
HOUR = timedelta(hours=1)
IDENTITY = ics.Identity("https://calendar.example.org", "calendar.test.example")
PROPERTIES = settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def calendar_settings() -> CalendarSettings:
    return load(BUNDLED_DATA, today=TODAY).settings


def _iso(value: date | datetime) -> str:
    return value.isoformat(timespec="minutes") if isinstance(value, datetime) else value.isoformat()


def valid(raw: dict[str, Any]) -> EventData:
    """The event, if the model accepts it (else the example is rejected)."""
    try:
        return EventData.model_validate(raw)
    except ValidationError:
        assume(False)
        raise


# Strategies are built once, here, not inside series_events for each event: building and
# validating a strategy cost as much as drawing from it.
_NEAR = st.dates(TODAY - timedelta(days=900), TODAY + timedelta(days=900))
_HOURS, _MINUTES = st.integers(0, 23), st.sampled_from([0, 30])
_LENGTHS = {True: st.sampled_from([30, 90, 600, 1500]), False: st.integers(0, 9)}
_EXTRA_DAYS = st.lists(st.integers(1, 700), max_size=2)
_OVERRIDE_STATUSES = st.sampled_from(["cancelled", "provisional", "confirmed"])
_MOVES, _LONGER = st.integers(-40, 40), st.sampled_from([1, 2])


@st.composite
def series_events(draw: st.DrawFn, zone: ZoneInfo) -> Event:
    """A valid event: a rule (or extra dates) from a start it gives, with excluded,
    skipped and overridden occurrences among those it gives, clear of clock changes."""
    near = draw(_NEAR)
    timed = draw(st.booleans())
    begin: date | datetime = near
    if timed:
        hour, minute = draw(_HOURS), draw(_MINUTES)
        begin = datetime.combine(near, time(hour, minute))
    raw: dict[str, Any] = {"id": "series", "title": "Series", "category": "event"}
    raw |= {"audiences": ["schools"], "start": _iso(begin), "recurrence": {}}
    rule = draw(st.none() | rules(near))
    if rule is not None:
        raw["recurrence"]["rule"] = rule
        # A rule the loader refuses as never reaching a match (check_recurrence, assumed away
        # below) is dropped before dateutil is asked: it would walk to the year 9999 to find
        # nothing (8 such examples took 3 of this test's 7 s of CPU).
        assume(valid(raw).recurrence.rule.unreachable(near) is None)  # type: ignore[union-attr]
        found = Series(valid(raw)).after(begin, inclusive=True)
        assume(found is not None)
        assert found is not None
        begin = found
        raw["start"] = _iso(begin)
    drawn = draw(_LENGTHS[timed])
    length = timedelta(minutes=drawn) if timed else timedelta(days=drawn)
    if draw(st.booleans()):
        raw["end"] = _iso(begin + length)
    else:
        length = EventData.model_validate({**raw, "recurrence": None}).duration
    given = []
    if rule is not None:
        series = Series(valid(raw))
        given = series.between(begin, begin + timedelta(days=1500))[:80]
    occurrences = [begin, *given]
    extra = [begin + timedelta(days=days) for days in draw(_EXTRA_DAYS)]
    if rule is None and not extra:
        extra = [begin + timedelta(days=3)]
    extra = sorted(set(extra) - set(occurrences))
    raw["recurrence"]["extra_dates"] = [_iso(value) for value in extra]
    occurrences += extra
    chosen = st.lists(st.sampled_from(occurrences), max_size=3, unique=True)
    excluded = draw(chosen)
    raw["recurrence"]["excluded_dates"] = [_iso(value) for value in excluded]
    kept = [value for value in occurrences if value not in excluded]  # overrides name these
    chosen = st.lists(st.sampled_from(kept or occurrences), max_size=3, unique=True)
    overrides = []
    for occurrence in draw(chosen):
        override: dict[str, Any] = {"occurrence": _iso(occurrence)}
        moved = occurrence
        if draw(st.booleans()):
            unit = timedelta(hours=1) if timed else timedelta(days=1)
            moved = occurrence + unit * draw(_MOVES)
            override["start"] = _iso(moved)
        if draw(st.booleans()):
            override["end"] = _iso(moved + length * draw(_LONGER))
        override["status"] = draw(_OVERRIDE_STATUSES)
        if draw(st.booleans()):
            override["title"] = "Moved"
        overrides.append(override)
    raw["overrides"] = overrides
    data = valid(raw)
    assume(not check_recurrence(data))
    assume(not list(check_local_times(data, zone)))
    assume(not list(rule_clock_problems(data, zone, index_reach(TODAY))))
    skipped = tuple(Skipped(value, "Half term") for value in draw(chosen) if value in given)
    modified = datetime(2026, 1, 1, tzinfo=UTC)
    return Event(data, "events/x.yaml", 1, 0, modified, "0" * 16, Schedule(skipped))


_WINDOW_DAYS = st.dates(TODAY - timedelta(days=1000), TODAY + timedelta(days=1000))
_HALF_HOURS, _WINDOW_HALF_HOURS = st.integers(0, 47), st.integers(0, 48 * 400)
_ZONES = st.sampled_from(ZONES)
_SERIES = {name: st.lists(series_events(ZoneInfo(name)), min_size=1, max_size=3) for name in ZONES}


@st.composite
def windows(draw: st.DrawFn, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The index's horizon, or any window down to the minute, empty ones too."""
    if draw(st.booleans()):
        return (
            datetime.combine(TODAY - HORIZON_PAST, time(), zone),
            datetime.combine(TODAY + HORIZON_FUTURE, time(), zone),
        )
    day = draw(_WINDOW_DAYS)
    start = datetime.combine(day, time(), zone) + timedelta(minutes=30 * draw(_HALF_HOURS))
    return start, start + timedelta(minutes=30 * draw(_WINDOW_HALF_HOURS))


@given(data=st.data())
@PROPERTIES
def test_compiling_expands_as_recurring_ical_events_does(
    calendar_settings: CalendarSettings, data: st.DataObject
) -> None:
    timezone = data.draw(_ZONES)
    chosen = calendar_settings.model_copy(update={"timezone": timezone})
    zone = chosen.zone
    events = data.draw(_SERIES[timezone])
    events = [
        Event(event.data.model_copy(update={"id": f"series-{n}"}), *vars_of(event))
        for n, event in enumerate(events)
    ]
    # As loading gives them: each rule listed over the window compiling asks about.
    listed = {
        event.id: expansion
        for event in events
        if (expansion := judge_recurrence(event.timing, TODAY, Allowance())[1]) is not None
    }
    facts = {event.id: facts_of(event.data, zone) for event in events}
    calendar = Calendar()
    calendar.add_component(ics.vtimezone(timezone, TODAY.year))
    for event in events:
        for component in ics.event_components(event, chosen, IDENTITY):
            calendar.add_component(component)
    start, end = data.draw(windows(zone))
    first = start_instant(events[0].data.start, zone)
    # Also windows at an occurrence's start, and instants (empty windows): what is on then.
    for window in ((start, end), (start, start), (first, first), (first, first + HOUR)):
        library = expand(calendar, *window, zone, "@" + IDENTITY.uid_domain, facts)
        assert expand_events(events, *window, zone, facts) == library, window
        assert expand_events(events, *window, zone, facts, listed) == library, window


def vars_of(event: Event) -> tuple[Any, ...]:
    """An event's fields after its data."""
    return (
        event.source,
        event.line,
        event.sequence,
        event.modified,
        event.content_hash,
        event.schedule,
    )


def test_an_occurrence_moved_onto_another_comes_first_as_in_the_library(
    calendar_settings: CalendarSettings,
) -> None:
    """Moved onto the next day's start, the first day comes before it (its own start was
    earlier), as recurring-ical-events orders them; it once came after (hypothesis found)."""
    zone = calendar_settings.zone
    data = valid(
        {
            "id": "series",
            "title": "Series",
            "category": "event",
            "audiences": ["schools"],
            "start": "2025-01-01",
            "recurrence": {"rule": {"frequency": "daily"}},
            "overrides": [
                {"occurrence": "2025-01-01", "start": "2025-01-02", "status": "cancelled"}
            ],
        }
    )
    event = Event(data, "events/x.yaml", 1, 0, datetime(2026, 1, 1, tzinfo=UTC), "0" * 16)
    calendar = Calendar()
    calendar.add_component(ics.vtimezone(calendar_settings.timezone, TODAY.year))
    for component in ics.event_components(event, calendar_settings, IDENTITY):
        calendar.add_component(component)
    facts = {event.id: facts_of(data, zone)}
    window = (datetime(2024, 12, 30, tzinfo=zone), datetime(2025, 1, 4, tzinfo=zone))
    library = expand(calendar, *window, zone, "@" + IDENTITY.uid_domain, facts)
    assert [o.status.value for o in library[:2]] == ["cancelled", "confirmed"]
    assert expand_events([event], *window, zone, facts) == library
