"""Properties of the occurrence index over generated calendars: windows, completeness, durations."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from conftest import BUNDLED_DATA
from hypothesis import given
from hypothesis import strategies as st
from index_support import (
    LONDON,
    PROPERTIES,
    TODAY,
    calendars,
    compiled,
    expanded_beyond,
    instant,
    keys,
    series_starts,
)

from calendar_service import index
from calendar_service.agenda import when_text
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import LoadedData, load
from calendar_service.model import Event, EventData, Occurrence

# --- The index equals direct expansion ------------------------------------------------------


@PROPERTIES
@given(events=calendars(), data=st.data())
def test_index_window_equals_direct_expansion(events: list[dict[str, Any]], data: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = compiled(events, Path(folder))
    built = catalog.index
    assert built.occurrences, "every generated calendar has occurrences in the horizon"
    suffix = "@" + catalog.identity.uid_domain
    # Built once: Catalog.calendar builds it on each use (half this test's CPU, per window).
    calendar = catalog.calendar

    def direct(start: datetime, end: datetime) -> list[Occurrence]:
        return index.expand(calendar, start, end, LONDON, suffix, catalog.facts)

    # Windows as the service asks for them: London wall-clock bounds (whole days for the
    # API, any time of day here), opening and closing on, just before and just after the
    # days of occurrences, so that spans and timed events are cut by the edges. Clock times
    # inside the hour the clocks change are left out: see the module docstring.
    days = sorted(
        {_day(o.start) for o in built.occurrences} | {_day(o.end) for o in built.occurrences}
    )
    clocks = st.sampled_from([time(0, 0), time(0, 0), time(9, 59), time(10, 0), time(12, 0)])
    clocks |= st.sampled_from([time(14, 0), time(23, 0), time(23, 59), time(4, 0)])
    windows: list[tuple[datetime, datetime]] = []
    for _ in range(5):
        first = data.draw(st.sampled_from(days)) + timedelta(days=data.draw(st.integers(-2, 2)))
        last = data.draw(st.sampled_from(days)) + timedelta(days=data.draw(st.integers(-2, 2)))
        first, last = min(first, last), max(first, last)
        windows.append(
            (
                datetime.combine(first, data.draw(clocks), LONDON),
                datetime.combine(last, data.draw(clocks), LONDON) + timedelta(minutes=1),
            )
        )
    # A window of whole local days anywhere in the horizon, as /api/occurrences makes.
    day = data.draw(st.dates(date(2024, 6, 1), date(2029, 6, 1)))
    length = data.draw(st.integers(1, 400))
    windows.append(
        (
            datetime.combine(day, time(), LONDON),
            datetime.combine(day + timedelta(days=length), time(), LONDON),
        )
    )
    for start, end in windows:
        start = max(start, built.start)
        end = min(end, built.end)
        if start >= end:
            continue
        assert built.covers(start, end)
        expected = direct(start, end)
        got = built.between(start, end)
        assert keys(got) == keys(expected), (start, end)
        assert got == expected
        for occurrence in got:
            assert instant(occurrence.start) < end
            assert instant(occurrence.end) > start or instant(occurrence.start) >= start
    # Across and beyond the horizon the expansion worker is given only the events that
    # can reach the window: it finds the same occurrences as expanding every event.
    reach = data.draw(st.integers(1, 900))
    for start, end in (
        (built.start - timedelta(days=reach), built.start + timedelta(days=reach)),
        (built.end - timedelta(days=reach), built.end + timedelta(days=reach)),
        (built.start - timedelta(days=3 * reach), built.start - timedelta(days=reach)),
    ):
        assert not built.covers(start, end)
        assert keys(expanded_beyond(catalog, start, end)) == keys(direct(start, end)), (start, end)


@PROPERTIES
@given(events=calendars())
def test_index_holds_every_occurrence_the_data_describes(events: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = compiled(events, Path(folder))
    found: dict[str, list[Occurrence]] = {}
    for occurrence in catalog.index.occurrences:
        found.setdefault(occurrence.event_id, []).append(occurrence)
    for event in events:
        data = EventData.model_validate(event)
        recurrence = data.recurrence
        rule = recurrence.rule if recurrence else None
        count = rule.count if rule and rule.count else 1
        frequency = rule.frequency.value if rule else None
        starts = series_starts(data.start, frequency, count)
        excluded = set(recurrence.excluded_dates) if recurrence else set()
        overrides = {override.occurrence: override for override in data.overrides}
        expected = []
        for original in starts:
            if original in excluded:
                continue
            override = overrides.get(original)
            begin = override.start if override and override.start else original
            status = override.status if override and override.status else data.status
            span = occurrence_span(begin, data, override)
            if span[1] > catalog.index.start and span[0] < catalog.index.end:
                expected.append((original, begin, status))
        occurrences = sorted(found.get(data.id, []), key=lambda o: instant(o.original_start))
        got = [
            (_naive(o.original_start), _naive(o.start), o.status)
            for o in occurrences
            if o.original_start is not None
        ]
        assert sorted(got, key=str) == sorted(expected, key=str), data.id
        for occurrence in occurrences:
            assert occurrence.all_day == data.all_day
            if data.all_day:
                assert occurrence.end - occurrence.start == data.duration  # type: ignore[operator]


def occurrence_span(begin: Any, data: EventData, override: Any) -> tuple[datetime, datetime]:
    """Where an occurrence lies in time: the index keeps those overlapping its horizon."""
    end = override.end if override is not None and override.end is not None else None
    length = (end - begin + timedelta(days=1 if data.all_day else 0)) if end else data.duration
    first = instant(begin if data.all_day else begin.replace(tzinfo=LONDON))
    last = instant(begin + length if data.all_day else (begin + length).replace(tzinfo=LONDON))
    return first, last


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _naive(value: date | datetime | None) -> date | datetime | None:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


# --- Every occurrence as long as the first, across the clock changes ---------------------------


def compiled_anyway(item: dict[str, Any]) -> Catalog:
    """An event the loader refuses, compiled anyway: what each place that makes occurrences
    (the index, on-demand expansion, and the API and pages reading them) would serve."""
    settings = load(BUNDLED_DATA, today=TODAY).settings
    modified = datetime(2026, 1, 1, tzinfo=UTC)
    event = Event(EventData.model_validate(item), "events/night.yaml", 1, 0, modified, "0")
    return compile_catalog(LoadedData(settings, (event,), "anyway"), today=TODAY)


NIGHT_SLOT = {
    "id": "night-slot",
    "title": "Night slot",
    "category": "event",
    "audiences": ["schools"],
    "start": "2026-10-18T01:30",
    "end": "2026-10-18T02:15",
    "recurrence": {"rule": {"frequency": "weekly"}},
}


def test_every_occurrence_lasts_as_long_as_the_first_across_clock_changes() -> None:
    """Issue 9, item 15: 01:30-02:15 on the day the clocks go forward ended 15 minutes
    before it began, and on the day they go back lasted 1 h 45. RFC 5545: DTEND is given,
    so every instance lasts the first's exact duration; a start in the skipped hour is
    read with the offset before it, one in the repeated hour is the first."""
    catalog = compiled_anyway(NIGHT_SLOT)
    indexed = catalog.index.of_event("night-slot", catalog.index.start)
    later = datetime(2032, 3, 1, tzinfo=LONDON), datetime(2032, 12, 1, tzinfo=LONDON)
    assert not catalog.index.covers(*later)
    on_demand = expanded_beyond(catalog, *later)
    assert len(indexed) > 200 and len(on_demand) > 30
    changes = {}
    for occurrence in indexed + on_demand:
        start, end = occurrence.start, occurrence.end
        assert isinstance(start, datetime) and isinstance(end, datetime)
        assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=45), start
        changes[start.astimezone(UTC).replace(tzinfo=None)] = occurrence
    spring = changes[datetime(2027, 3, 28, 1, 30)]  # 01:30 does not exist: 01:30 GMT
    autumn = changes[datetime(2026, 10, 25, 0, 30)]  # 01:30 happens twice: the first, BST
    assert spring.end.astimezone(UTC) == datetime(2027, 3, 28, 2, 15, tzinfo=UTC)  # type: ignore[union-attr]
    assert autumn.end.astimezone(UTC) == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # type: ignore[union-attr]
    assert datetime(2032, 3, 28, 1, 30) in changes and datetime(2032, 10, 31, 0, 30) in changes
    assert when_text(spring) == "Sun 28 Mar 2027, 02:30\u201303:15 BST"
    assert when_text(autumn) == "Sun 25 Oct 2026, 01:30 BST \u2013 01:15 GMT"
