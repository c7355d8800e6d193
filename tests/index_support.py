"""Shared by the occurrence-index property tests: vocabularies, strategies and compile helpers."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from conftest import BUNDLED_DATA
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from calendar_service import expansion
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.model import EventData, Occurrence, Vocabularies
from calendar_service.query import Filter
from calendar_service.search import Window, expansion_job

TODAY = date(2026, 1, 15)
LONDON = ZoneInfo("Europe/London")
VOCABULARIES: Vocabularies = load(BUNDLED_DATA, today=TODAY).settings.vocabularies
CATEGORIES = sorted(VOCABULARIES.categories)
AUDIENCES = sorted(VOCABULARIES.audiences)
THEMES = sorted(VOCABULARIES.themes)
TAGS = ["kindness", "young-parents", "mappa", "first-aid", "cafe"]
# Changes of clock in Europe/London: the last Sundays of March and October.
DST_CHANGES = [
    date(2025, 3, 30),
    date(2025, 10, 26),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2027, 3, 28),
    date(2027, 10, 31),
]
WORDS = ["Kindness", "KINDNÉSS", "café", "Cafe", "Straße", "strasse", "naïve", "ﬁrst", "Talk"]
WORDS += ["mental", "Health", "week", "young", "parents", "Zoë", "ZOE", "day"]

PROPERTIES = settings(
    deadline=None,
    max_examples=60,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- Generated events ---------------------------------------------------------------------------


def happens_once_in_london(value: datetime) -> bool:
    """Whether a wall-clock time happens in London exactly once (not in the hour skipped in
    spring nor in the hour repeated in autumn): both readings of it are the same instant."""
    earlier, later = value.replace(tzinfo=LONDON, fold=0), value.replace(tzinfo=LONDON, fold=1)
    return earlier.utcoffset() == later.utcoffset()


def clear_of_clock_changes(start: datetime, length: timedelta) -> bool:
    """Whether an occurrence of a series, from `start` for `length` by the clock, is one the
    loader accepts: its start happens once and no change of the clocks falls inside it, so
    that its length by the clock is its real length (RFC 5545 keeps the real length)."""
    end = start + length
    same_offset = start.replace(tzinfo=LONDON).utcoffset() == end.replace(tzinfo=LONDON).utcoffset()
    return happens_once_in_london(start) and same_offset


# Strategies are built once, here, not inside event_dicts for each event: building and
# validating a strategy cost as much as drawing from it.
_WORD_LISTS = {
    most: st.lists(st.sampled_from(WORDS), min_size=1, max_size=most) for most in (2, 3, 4, 6)
}


def text(draw: st.DrawFn, most: int) -> str:
    return " ".join(draw(_WORD_LISTS[most]))


def series_starts(start: date | datetime, frequency: str | None, count: int) -> list[Any]:
    """The starts a weekly or yearly rule with `count` gives (days kept below the 29th)."""
    if frequency is None:
        return [start]
    if frequency == "weekly":
        return [start + timedelta(weeks=step) for step in range(count)]
    return [start.replace(year=start.year + step) for step in range(count)]


def iso(value: date | datetime) -> str:
    return value.isoformat(timespec="minutes") if isinstance(value, datetime) else str(value)


_KINDS = st.sampled_from(["day", "span", "timed", "timed-dst", "timed-dst"])
_DST_CHANGES = st.sampled_from(DST_CHANGES)
_DAYS_BEFORE_A_CHANGE = st.integers(0, 1)
_DAYS = st.dates(date(2024, 6, 1), date(2028, 6, 28))
_CATEGORIES = st.sampled_from(CATEGORIES)
_AUDIENCES = st.lists(st.sampled_from(AUDIENCES), min_size=1, max_size=3)
_THEMES = st.lists(st.sampled_from(THEMES), max_size=2)
_TAGS = st.lists(st.sampled_from(TAGS), max_size=3)
_STATUSES = st.sampled_from(["confirmed", "provisional"])
_SPAN_DAYS = st.integers(1, 8)  # 2 to 9 days
_CLOCKS = st.sampled_from([time(0, 30), time(1, 0), time(1, 30), time(2, 30), time(10, 0)]) | (
    st.sampled_from([time(23, 30), time(0, 0), time(1, 15), time(1, 45)])
)
_MINUTES = st.sampled_from([30, 45, 60, 90, 180, 240, 24 * 60, 26 * 60])
_FREQUENCIES = st.sampled_from([None, "weekly", "yearly"])
_COUNTS = {"weekly": st.integers(2, 10), "yearly": st.integers(2, 5)}
_ACTIONS = st.sampled_from(["move", "cancel", "provisional"])
_SHIFTS = st.sampled_from([-3, -2, -1, 1, 2, 3])


@st.composite
def event_dicts(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """One event as an editor would write it in YAML, valid by construction."""
    kind = draw(_KINDS)
    if kind == "timed-dst":
        day = draw(_DST_CHANGES) - timedelta(days=draw(_DAYS_BEFORE_A_CHANGE))
    else:
        day = draw(_DAYS)
    day = day.replace(day=min(day.day, 28))
    event: dict[str, Any] = {
        "id": f"event-{number}",
        "title": text(draw, 3),
        "summary": text(draw, 4),
        "description": text(draw, 6),
        "category": draw(_CATEGORIES),
        "audiences": draw(_AUDIENCES),
        "themes": draw(_THEMES),
        "tags": draw(_TAGS),
        "status": draw(_STATUSES),
    }
    if draw(st.booleans()):
        event["organiser"] = {"name": text(draw, 2)}
    if draw(st.booleans()):
        online = draw(st.booleans())
        event["location"] = {"venue": "Family Hub", "online": online}
    start: date | datetime
    if kind == "day":
        start, end = day, None
    elif kind == "span":
        start = day
        end = day + timedelta(days=draw(_SPAN_DAYS))
    else:
        start = datetime.combine(day, draw(_CLOCKS))
        minutes = draw(_MINUTES)
        end = start + timedelta(minutes=minutes)
        # The loader refuses explicit times the clock changes skip or repeat.
        assume(happens_once_in_london(start) and happens_once_in_london(end))
    event["start"] = iso(start)
    if end is not None:
        event["end"] = iso(end)
    frequency = draw(_FREQUENCIES)
    if frequency is not None:
        count = draw(_COUNTS[frequency])
        starts = series_starts(start, frequency, count)
        excluded = draw(st.lists(st.sampled_from(starts[1:]), max_size=2, unique=True))
        event["recurrence"] = {"rule": {"frequency": frequency, "count": count}}
        if excluded:
            event["recurrence"]["excluded_dates"] = [iso(value) for value in excluded]
        remaining = [value for value in starts if value not in excluded]
        changed = draw(st.lists(st.sampled_from(remaining), max_size=2, unique=True))
        overrides = []
        for occurrence in changed:
            override: dict[str, Any] = {"occurrence": iso(occurrence)}
            action = draw(_ACTIONS)
            if action == "move":
                shift = draw(_SHIFTS)
                moved = occurrence + timedelta(days=shift)
                assume(not isinstance(moved, datetime) or happens_once_in_london(moved))
                override["start"] = iso(moved)
            elif action == "cancel":
                override["status"] = "cancelled"
            else:
                override["status"] = "provisional"
                override["note"] = text(draw, 3)
            overrides.append(override)
        if overrides:
            event["overrides"] = overrides
        # A series whose occurrences meet a change of the clocks is refused: keep this one
        # a single event (which may span a change: both its times are written).
        if isinstance(start, datetime) and end is not None:
            length = end - start
            moved_starts = [
                datetime.fromisoformat(item["start"]) for item in overrides if "start" in item
            ]
            kept = [value for value in starts if value not in excluded] + moved_starts
            if not all(clear_of_clock_changes(value, length) for value in kept):
                del event["recurrence"]
                event.pop("overrides", None)
    return event


_SIZES = st.integers(1, 5)


@st.composite
def calendars(draw: st.DrawFn) -> list[dict[str, Any]]:
    size = draw(_SIZES)
    return [draw(event_dicts(number)) for number in range(size)]


def compiled(events: list[dict[str, Any]], folder: Path) -> Catalog:
    """Write the events as a data directory, then load and compile it like the service."""
    (folder / "events").mkdir()
    shutil.copy(BUNDLED_DATA / "calendar.yaml", folder / "calendar.yaml")
    document = yaml.safe_dump({"events": events}, allow_unicode=True, sort_keys=False)
    (folder / "events" / "generated.yaml").write_text(document, encoding="utf-8")
    for event in events:
        EventData.model_validate(event)  # the generator only writes valid events
    return compile_catalog(load(folder, today=TODAY), today=TODAY)


def keys(found: list[Occurrence]) -> list[tuple[str, str]]:
    return [(occurrence.event_id, occurrence.key) for occurrence in found]


def instant(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), LONDON)


def expanded_beyond(catalog: Catalog, start: datetime, end: datetime) -> list[Occurrence]:
    """What the expansion worker finds over [start, end), run in this process: the
    series it is given (those that can reach the window) and its own expansion code."""
    window = Window(start.date(), end.date())
    job = expansion_job(catalog, Filter(), window, (expansion.Part(start, end),))
    if job is None:
        return []
    return [found for chunks in expansion.run(job) for found in expansion.unpickled(chunks)]
