"""Properties of the occurrence index and of filters, over small generated calendars.

The index answers windows by binary search; it must give exactly what expanding the
calendar for that window gives. Filters must mean OR within a field and AND across fields.

Windows here are what the service asks for: bounds in the calendar's zone. The index
compares instants; recurring-ical-events compares wall-clock times when the window has the
events' zone (and puts an all-day date at midnight of the window's zone), so the two can
only differ for a window edge inside the hour the clocks change, which no caller makes.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import yaml
from conftest import BUNDLED_DATA
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from calendar_service import index
from calendar_service.agenda import when_text
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import LoadedData, load
from calendar_service.model import Event, EventData, Occurrence, Status, Vocabularies
from calendar_service.query import Filter, keys_for, parse_filter

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


def text(draw: st.DrawFn, most: int) -> str:
    return " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=most)))


def series_starts(start: date | datetime, frequency: str | None, count: int) -> list[Any]:
    """The starts a weekly or yearly rule with `count` gives (days kept below the 29th)."""
    if frequency is None:
        return [start]
    if frequency == "weekly":
        return [start + timedelta(weeks=step) for step in range(count)]
    return [start.replace(year=start.year + step) for step in range(count)]


def iso(value: date | datetime) -> str:
    return value.isoformat(timespec="minutes") if isinstance(value, datetime) else str(value)


@st.composite
def event_dicts(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """One event as an editor would write it in YAML, valid by construction."""
    kind = draw(st.sampled_from(["day", "span", "timed", "timed-dst", "timed-dst"]))
    if kind == "timed-dst":
        day = draw(st.sampled_from(DST_CHANGES)) - timedelta(days=draw(st.integers(0, 1)))
    else:
        day = draw(st.dates(date(2024, 6, 1), date(2028, 6, 28)))
    day = day.replace(day=min(day.day, 28))
    event: dict[str, Any] = {
        "id": f"event-{number}",
        "title": text(draw, 3),
        "summary": text(draw, 4),
        "description": text(draw, 6),
        "category": draw(st.sampled_from(CATEGORIES)),
        "audiences": draw(st.lists(st.sampled_from(AUDIENCES), min_size=1, max_size=3)),
        "themes": draw(st.lists(st.sampled_from(THEMES), max_size=2)),
        "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
        "status": draw(st.sampled_from(["confirmed", "provisional"])),
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
        end = day + timedelta(days=draw(st.integers(1, 8)))  # 2 to 9 days
    else:
        clock = draw(
            st.sampled_from([time(0, 30), time(1, 0), time(1, 30), time(2, 30), time(10, 0)])
            | st.sampled_from([time(23, 30), time(0, 0), time(1, 15), time(1, 45)])
        )
        start = datetime.combine(day, clock)
        minutes = draw(st.sampled_from([30, 45, 60, 90, 180, 240, 24 * 60, 26 * 60]))
        end = start + timedelta(minutes=minutes)
        # The loader refuses explicit times the clock changes skip or repeat.
        assume(happens_once_in_london(start) and happens_once_in_london(end))
    event["start"] = iso(start)
    if end is not None:
        event["end"] = iso(end)
    frequency = draw(st.sampled_from([None, "weekly", "yearly"]))
    if frequency is not None:
        count = draw(st.integers(2, 10 if frequency == "weekly" else 5))
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
            action = draw(st.sampled_from(["move", "cancel", "provisional"]))
            if action == "move":
                shift = draw(st.sampled_from([-3, -2, -1, 1, 2, 3]))
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


@st.composite
def calendars(draw: st.DrawFn) -> list[dict[str, Any]]:
    size = draw(st.integers(1, 5))
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


# --- The index equals direct expansion ------------------------------------------------------


@PROPERTIES
@given(events=calendars(), data=st.data())
def test_index_window_equals_direct_expansion(events: list[dict[str, Any]], data: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = compiled(events, Path(folder))
    built = catalog.index
    assert built.occurrences, "every generated calendar has occurrences in the horizon"
    suffix = "@" + catalog.identity.uid_domain

    def direct(start: datetime, end: datetime) -> list[Occurrence]:
        return index.expand(catalog.calendar, start, end, LONDON, suffix, catalog.facts)

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
    # Across and beyond the horizon the snapshot expands on demand, skipping events that
    # cannot reach the window: the same occurrences as expanding every event.
    reach = data.draw(st.integers(1, 900))
    for start, end in (
        (built.start - timedelta(days=reach), built.start + timedelta(days=reach)),
        (built.end - timedelta(days=reach), built.end + timedelta(days=reach)),
        (built.start - timedelta(days=3 * reach), built.start - timedelta(days=reach)),
    ):
        assert not built.covers(start, end)
        assert keys(catalog.occurrences(start, end)) == keys(direct(start, end)), (start, end)


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
    on_demand = catalog.occurrences(*later)
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


# --- Filters ---------------------------------------------------------------------------------


def fold(value: str) -> str:
    """Accent- and case-free text, written independently of calendar_service.query.fold."""
    stripped = "".join(
        char for char in unicodedata.normalize("NFKD", value) if unicodedata.category(char) != "Mn"
    )
    return unicodedata.normalize("NFKD", stripped.casefold())


def reference_matches(query: Filter, event: EventData) -> bool:
    """OR within a field, AND across fields, every word of q somewhere in the text."""
    checks = [
        not query.category or event.category in query.category,
        not query.audience or any(value in query.audience for value in event.audiences),
        not query.theme or any(value in query.theme for value in event.themes),
        not query.tag or any(value in query.tag for value in event.tags),
    ]
    online = bool(event.location is not None and event.location.online)
    checks.append(query.online is None or query.online == online)
    fields = [event.title, event.summary, event.description, *event.tags]
    if event.organiser is not None:
        fields.append(event.organiser.name)
    for word in query.q.split():
        checks.append(any(fold(word) in fold(field) for field in fields))
    return all(checks)


@st.composite
def filters(draw: st.DrawFn) -> Filter:
    def some(values: list[str]) -> tuple[str, ...]:
        return tuple(draw(st.lists(st.sampled_from(values), max_size=2)))

    words = draw(st.lists(st.sampled_from([*WORDS, "kind", "AFÉ", "zoe", "nothing"]), max_size=2))
    return Filter(
        category=some(CATEGORIES),
        audience=some(AUDIENCES),
        theme=some(THEMES),
        tag=some(TAGS),
        q=" ".join(words),
        online=draw(st.sampled_from([None, True, False])),
    )


@settings(deadline=None, max_examples=200, derandomize=True)
@given(
    events=st.lists(st.integers(0, 10**6).flatmap(event_dicts), min_size=1, max_size=4),
    query=filters(),
)
def test_filter_matches_like_the_reference_reading(
    events: list[dict[str, Any]], query: Filter
) -> None:
    for raw in events:
        event = EventData.model_validate(raw)
        assert query.matches(keys_for(event)) == reference_matches(query, event), (query, raw)


@settings(deadline=None, max_examples=200, derandomize=True)
@given(query=filters(), seed=st.integers(0, 2**32), statuses=st.lists(st.sampled_from(Status)))
def test_filters_are_canonical_whatever_the_order_or_repeats(
    query: Filter, seed: int, statuses: list[Status]
) -> None:
    shuffle: Callable[[tuple[Any, ...]], tuple[Any, ...]] = _shuffler(random.Random(seed))
    original = Filter(
        query.category,
        query.audience,
        query.theme,
        query.tag,
        query.q,
        query.online,
        tuple(statuses),
    )
    again = Filter(
        category=shuffle(original.category * 2),
        audience=shuffle(original.audience + original.audience[:1]),
        theme=shuffle(original.theme),
        tag=shuffle(original.tag * 3),
        q=f"  {original.q.replace(' ', '   ')} ",
        online=original.online,
        status=shuffle(tuple(statuses) * 2),
    )
    assert again == original
    assert hash(again) == hash(original)
    assert again.query_string() == original.query_string()
    assert again.items() == original.items()
    for name in ("category", "audience", "theme", "tag"):
        values = getattr(again, name)
        assert list(values) == sorted(set(values))
    # The canonical query string reads back as the same filter.
    parsed = parse_filter(parse_qs(original.query_string()), VOCABULARIES)
    assert parsed == original
    assert parsed.query_string() == original.query_string()
    assert again.event_level().status == ()


def _shuffler(generator: random.Random) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    def shuffle(values: tuple[Any, ...]) -> tuple[Any, ...]:
        items = list(values)
        generator.shuffle(items)
        return tuple(items)

    return shuffle
