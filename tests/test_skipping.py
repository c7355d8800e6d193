"""Which days a recurrence skips and the sessions a counted programme holds instead
(skipping.py): hand-derived cases, the England bank holidays, and a property test that a
counted weekly rule holds `count` sessions, none on a skipped day, as its ICS expands."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
import recurring_ical_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from skipping_support import SESSIONS, SKIPPED, TERM_TIME, day

from calendar_service import ics
from calendar_service.loading import load
from calendar_service.model import (
    UNSKIPPED,
    CalendarSettings,
    Event,
    EventData,
    Override,
    TermCalendar,
)
from calendar_service.skipping import SkipProblem, TermDays, schedule, skip_problems

LONDON = ZoneInfo("Europe/London")
IDENTITY = ics.Identity("https://calendar.test.example", "calendar.test.example")


@pytest.fixture(scope="module")
def loaded() -> dict[str, Event]:
    return {event.id: event for event in load(TERM_TIME, today=date(2026, 1, 5)).events}


@pytest.mark.parametrize("event_id", sorted(SESSIONS))
def test_skipped_dates_and_their_reasons_are_the_hand_derived_ones(
    loaded: dict[str, Event], event_id: str
) -> None:
    found = loaded[event_id].schedule
    assert {item.day: item.reason for item in found.skipped} == SKIPPED[event_id]


def test_a_counted_rule_runs_on_to_its_last_held_session(loaded: dict[str, Event]) -> None:
    assert loaded["monday-parents-group"].schedule.until == date(2026, 4, 20)
    assert loaded["friday-play-day"].schedule.until == date(2026, 4, 24)
    rule = loaded["monday-parents-group"].timing.recurrence.rule  # type: ignore[union-attr]
    assert rule is not None and rule.count is None and rule.until == date(2026, 4, 20)


def test_an_until_rule_keeps_its_until_and_just_loses_the_skipped_dates(
    loaded: dict[str, Event],
) -> None:
    event = loaded["tuesday-rhyme-time"]
    assert event.schedule.until is None
    assert event.timing == event.data


def test_an_event_without_skip_is_published_as_written() -> None:
    data = load(TERM_TIME).events[0].data.model_copy(update={"recurrence": None})
    assert UNSKIPPED.published(data) is data


# --- Bank holidays -------------------------------------------------------------------------


def _daily_skipping_bank_holidays(year: int) -> EventData:
    return EventData.model_validate(
        {
            "id": "daily",
            "title": "Daily",
            "category": "event",
            "audiences": ["schools"],
            "start": f"{year}-01-01",
            "recurrence": {
                "rule": {"frequency": "daily", "until": f"{year}-12-31"},
                "skip": {"bank_holidays": True},
            },
        }
    )


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
def test_bank_holidays_skipped_are_the_holidays_package_england_list(year: int) -> None:
    """A daily rule skipping bank holidays skips exactly England's days of the year, as the
    `holidays` package lists them; Scotland's own days (2 January, St Andrew's Day) are held."""
    found = schedule(_daily_skipping_bank_holidays(year), {})
    england = holidays.country_holidays("GB", subdiv="ENG", years=year)
    scotland = holidays.country_holidays("GB", subdiv="SCT", years=year)
    assert {item.day: item.reason for item in found.skipped} == dict(england.items())
    assert set(scotland) - set(england), "Scotland has days England does not"
    assert not {item.day for item in found.skipped} & (set(scotland) - set(england))


# --- Property: counted weekly rules over random term calendars ------------------------------

YEAR_START, YEAR_END = date(2025, 9, 3), date(2026, 7, 22)  # the first and last term days


@st.composite
def term_calendars(draw: st.DrawFn) -> TermCalendar:
    """A school year 2025-26 of three terms with random breaks, half terms and closures."""
    inner = draw(
        st.lists(
            st.integers(10, (YEAR_END - YEAR_START).days - 10), min_size=4, max_size=4, unique=True
        )
    )
    bounds = [0, *sorted(inner), (YEAR_END - YEAR_START).days]
    terms = []
    for number in range(3):
        first = YEAR_START + timedelta(days=bounds[2 * number])
        last = YEAR_START + timedelta(days=bounds[2 * number + 1])
        term: dict[str, object] = {"name": f"Term {number + 1}", "start": first, "end": last}
        if (last - first).days > 10 and draw(st.booleans()):
            offset = draw(st.integers(1, (last - first).days - 9))
            length = draw(st.integers(0, 6))
            start = first + timedelta(days=offset)
            term["half_term"] = {"start": start, "end": start + timedelta(days=length)}
        terms.append(term)
    closures = [
        {"date": YEAR_START + timedelta(days=value), "name": "Closed"}
        for value in draw(st.lists(st.integers(0, bounds[-1]), max_size=3, unique=True))
    ]
    year = {"year": "2025-26", "status": "confirmed", "terms": terms, "closures": closures}
    return TermCalendar.model_validate(
        {
            "name": "Random schools",
            "authority": "Random Council",
            "source": "https://terms.test.example/",
            "checked": "2026-01-01",
            "years": [year],
        }
    )


def holiday_days(calendar: TermCalendar) -> set[date]:
    """School holidays as the spec words them, computed here independently of skipping.py:
    days in the year's span outside every term, every half-term day and closure day."""
    year = calendar.years[0]
    first, last = year.terms[0].start, year.terms[-1].end
    found = set()
    for offset in range((last - first).days + 1):
        value = first + timedelta(days=offset)
        in_term = any(term.start <= value <= term.end for term in year.terms)
        in_half = any(
            term.half_term is not None and term.half_term.start <= value <= term.half_term.end
            for term in year.terms
        )
        if not in_term or in_half:
            found.add(value)
    return found | {closure.date for closure in year.closures}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar=term_calendars(),
    start_offset=st.integers(0, 250),
    count=st.integers(1, 20),
    bank=st.booleans(),
    timed=st.booleans(),
)
def test_counted_weekly_rule_holds_count_sessions_none_skipped_and_its_ics_agrees(
    calendar: TermCalendar, start_offset: int, count: int, bank: bool, timed: bool
) -> None:
    first_day = YEAR_START + timedelta(days=start_offset)
    start: date | datetime = datetime.combine(first_day, time(18, 30)) if timed else first_day
    data = EventData.model_validate(
        {
            "id": "programme",
            "title": "Programme",
            "category": "programme",
            "audiences": ["parents-carers"],
            "start": start.isoformat()[:16],
            "recurrence": {
                "rule": {"frequency": "weekly", "count": count},
                "skip": {"bank_holidays": bank, "school_holidays": "random"},
            },
        }
    )
    skipped_days = holiday_days(calendar)
    if bank:
        skipped_days |= set(holidays.country_holidays("GB", subdiv="ENG", years=[2025, 2026]))
    expected, walked, value = [], [], first_day
    while len(expected) < count and value <= YEAR_END:
        walked.append(value)
        if value not in skipped_days:
            expected.append(value)
        value += timedelta(weeks=1)
    terms = {"random": TermDays.of("random", calendar)}
    if len(expected) < count:  # the sessions would run past the year's term data
        with pytest.raises(SkipProblem, match="no term data for 2026-27"):
            schedule(data, terms)
        return
    found = schedule(data, terms)
    assert len(expected) == count
    assert [item.day for item in found.skipped] == [d for d in walked if d in skipped_days]
    event = Event(data, "events/x.yaml", 1, 0, datetime(2026, 1, 1, tzinfo=LONDON), "0", found)
    from_ics = expand(event)
    assert from_ics == expected
    assert not set(from_ics) & skipped_days


@cache
def calendar_settings() -> CalendarSettings:
    return load(TERM_TIME).settings


def expand(event: Event) -> list[date]:
    """The event's sessions as recurring-ical-events reads its VEVENTs."""
    calendar = Calendar()
    calendar.add_component(ics.vtimezone("Europe/London", 2026))
    for component in ics.event_components(event, calendar_settings(), IDENTITY):
        calendar.add_component(component)
    found = recurring_ical_events.of(calendar).between(date(2025, 1, 1), date(2028, 1, 1))
    return sorted(day(item.start) for item in found)


def test_an_override_of_a_skipped_date_is_refused_naming_why(loaded: dict[str, Event]) -> None:
    event = loaded["monday-parents-group"]
    changed = event.data.model_copy(
        update={
            "overrides": [
                Override(occurrence=datetime(2026, 2, 16, 10), note="Moved"),
                Override(occurrence=datetime(2026, 2, 23, 10), note="Held"),
            ]
        }
    )
    assert skip_problems(changed, event.schedule) == [
        (
            ("overrides", 0, "occurrence"),
            "2026-02-16 10:00:00 is skipped (February half term): there is no session to change",
        )
    ]
