"""Our hand-written ICS serialisation is icalendar's own output, byte for byte.

`ics` writes VEVENT lines and folds and joins them itself, because building icalendar's
Components and folding their lines a character at a time was most of the cost of compiling
a large calendar. These properties
pin that speed-up to the library over a generated corpus (4-byte UTF-8, backslashes, `^`,
`;`, `,`, newlines, text placed around the 75-octet fold boundary), so the two can never
drift apart, whatever either side changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import BUNDLED_DATA, DATASETS
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, vCalAddress, vText
from icalendar.parser import Contentline
from ics_events_support import events, oracle_vevents

from calendar_service import __version__, ics
from calendar_service.loading import load
from calendar_service.model import CalendarSettings

# Issue 10 renames ics.fold (line folding) to ics.fold_line; either name is the same function.
fold_line: Callable[[str], bytes] = getattr(ics, "fold_line", None) or ics.fold

PINNED = settings(max_examples=200, derandomize=True, deadline=None)
LONDON = ZoneInfo("Europe/London")

# Characters that matter to escaping and folding, and multi-byte ones of every length.
AWKWARD = ["\\", "^", ";", ",", ":", '"', "\n", "\r\n", " ", "é", "€", "\u2013", "😀", "𝄞"]
awkward_text = st.lists(
    st.sampled_from(AWKWARD) | st.characters(codec="utf-8", exclude_categories=("Cs",)),
    max_size=40,
).map("".join)


@st.composite
def near_the_fold(draw: st.DrawFn) -> str:
    """Text with an awkward character placed on or around a fold boundary (74 octets)."""
    padding = draw(st.integers(min_value=66, max_value=80))
    return "x" * padding + draw(st.sampled_from(AWKWARD)) + draw(awkward_text)


texts = st.one_of(awkward_text, near_the_fold(), st.text(max_size=300))


@given(line=texts.map(lambda value: value.replace("\n", "")))
@PINNED
def test_folding_is_icalendars(line: str) -> None:
    assert fold_line(line) == Contentline(line).to_ical()


@pytest.mark.parametrize("awkward", [char for char in AWKWARD if "\n" not in char])
def test_folding_is_icalendars_with_each_awkward_character_at_each_boundary_offset(
    awkward: str,
) -> None:
    """Every placement of the character from just before the first fold to just after it."""
    for prefix in ("", "SUMMARY:", "DESCRIPTION;LANGUAGE=en:"):
        for padding in range(60, 80):
            line = prefix + "x" * padding + awkward + "y" * 80 + awkward * 3 + "z" * 70
            assert fold_line(line) == Contentline(line).to_ical(), (prefix, padding)


def vevent(number: int, summary: str, description: str, location: str, name: str) -> Event:
    """A VEVENT with the TEXT and parameter values our feeds write."""
    event = Event()
    event.add("UID", f"event-{number}@calendar.test.example")
    event.add("DTSTAMP", datetime(2026, 1, 31, 9, 0, tzinfo=ZoneInfo("UTC")))
    event.add("SUMMARY", ics.text(summary))
    event.add("DESCRIPTION", ics.text(description))
    event.add("LOCATION", ics.text(location))
    event.add("CATEGORIES", [summary or "none"])
    event.add("DTSTART", datetime(2026, 3, 3, 18, 30, tzinfo=LONDON) + timedelta(days=number))
    event.add("DTEND", datetime(2026, 3, 3, 20, tzinfo=LONDON) + timedelta(days=number))
    organizer = vCalAddress("mailto:team@example.org")
    organizer.params["CN"] = name
    event.add("ORGANIZER", organizer)
    return event


vevents = st.lists(
    st.builds(vevent, st.integers(0, 400), texts, texts, texts, texts), min_size=1, max_size=4
)


@given(components=vevents)
@PINNED
def test_rendered_components_are_icalendars(components: list[Event]) -> None:
    assert ics.render_components(components) == b"".join(c.to_ical() for c in components)


@pytest.fixture(scope="module")
def calendar_settings() -> CalendarSettings:
    return load(BUNDLED_DATA, today=date(2026, 11, 25)).settings


def whole_calendar(
    settings: CalendarSettings, title: str, description: str, components: list[Event]
) -> Calendar:
    """The feed as icalendar writes it whole: the properties `feed_header` documents."""
    calendar = Calendar()
    calendar.add("PRODID", vText(f"-//{settings.organisation}//calendar-service {__version__}//EN"))
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("NAME", vText(title))
    calendar.add("X-WR-CALNAME", vText(title))
    if description:
        calendar.add("DESCRIPTION", vText(description))
        calendar.add("X-WR-CALDESC", vText(description))
    calendar.add("X-WR-TIMEZONE", vText(settings.timezone))
    refresh = timedelta(hours=settings.refresh_hours)
    calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", f"PT{settings.refresh_hours}H")
    calendar.add_component(ics.vtimezone(settings.timezone, 2026))
    for component in components:
        calendar.add_component(component)
    return calendar


@given(title=texts, description=texts, components=vevents)
@PINNED
def test_assembled_feeds_are_icalendars(
    calendar_settings: CalendarSettings, title: str, description: str, components: list[Event]
) -> None:
    header = ics.feed_header(calendar_settings, title, description)
    timezone = ics.vtimezone(calendar_settings.timezone, 2026).to_ical()
    parts = [ics.render_components([component]) for component in components]
    expected = whole_calendar(calendar_settings, title, description, components).to_ical()
    assert ics.assemble(header, timezone, parts) == expected


@given(generated=st.data())
@settings(max_examples=300, derandomize=True, deadline=None)  # 200 missed a quoting rule
def test_every_event_the_model_allows_renders_as_icalendar_would(
    calendar_settings: CalendarSettings, generated: st.DataObject
) -> None:
    """Our hand-written VEVENTs (all-day and timed, in and out of UTC, rules with UNTIL or
    COUNT, RDATEs, EXDATEs and skipped days, overrides, organisers, awkward text) are the
    bytes icalendar writes for the same properties."""
    event, chosen = generated.draw(events(calendar_settings))
    for identity in IDENTITIES:
        assert ics.render_event(event, chosen, identity) == oracle_vevents(event, chosen, identity)


IDENTITIES = [
    ics.Identity("https://calendar.example.org", "calendar.test.example"),
    ics.Identity("https://example.org/calendar", "a,b;c.example"),
]


@pytest.mark.parametrize(
    "dataset", sorted(path.name for path in DATASETS.iterdir() if (path / "calendar.yaml").exists())
)
def test_every_dataset_event_renders_as_icalendar_would(dataset: str) -> None:
    """The VEVENTs of real events (overrides, RRULEs, RDATEs, organisers) agree too."""
    loaded = load(DATASETS / dataset, today=date(2026, 11, 25))
    for event in loaded.events:
        rendered = ics.render_event(event, loaded.settings, IDENTITIES[0])
        assert rendered == oracle_vevents(event, loaded.settings, IDENTITIES[0])
