"""Expand events into occurrences, and index them over a horizon."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from calendar_service.model import (
    Event,
    EventData,
    Occurrence,
    Override,
    Status,
    day_of,
    occurrence_duration,
    start_instant,
)
from calendar_service.series import Expansion, Series

HORIZON_PAST = timedelta(days=2 * 366)
HORIZON_FUTURE = timedelta(days=5 * 366)

SortKey = tuple[float, str, str]


def sort_key(occurrence: Occurrence, zone: ZoneInfo) -> SortKey:
    """Order by start (an all-day date at local midnight), then title, then event."""
    return (
        start_instant(occurrence.start, zone).timestamp(),
        occurrence.title.casefold(),
        occurrence.event_id,
    )


def _local(value: date | datetime, zone: ZoneInfo) -> date | datetime:
    """A start or end in the calendar's zone, as the instant it is: a wall-clock time the
    clocks skip (01:30 when they go forward at 01:00) becomes the time shown then (02:30)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(UTC).astimezone(zone)
    return value


class _Timing(recurring_ical_events.CalendarQuery):  # type: ignore[misc]
    """A query that stops at the occurrences' times, without copying a component each.

    Expansion (rules, exclusions, overrides, time zones) is recurring-ical-events' own;
    copying every occurrence into a new VEVENT is most of its cost and we never use it.
    """

    def _occurrences_to_components(self, occurrences: list[Any]) -> list[Any]:
        return occurrences


@dataclass(frozen=True, slots=True)
class SeriesFacts:
    """What an occurrence takes from its event: title, status, per-occurrence changes and,
    for a timed event, the real length of the first occurrence, which RFC 5545 gives every
    occurrence of the series (DTEND is given: "the same exact duration")."""

    title: str
    status: Status
    overrides: Mapping[date | datetime, Override]
    length: timedelta | None = None


def facts_of(event: EventData, zone: ZoneInfo) -> SeriesFacts:
    length = None
    if isinstance(event.start, datetime):
        end = event.start + event.duration
        length = _instant(end, zone) - _instant(event.start, zone)
    overrides = {override.occurrence: override for override in event.overrides}
    return SeriesFacts(event.title, event.status, overrides, length)


def _instant(value: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an instant (in UTC, so that arithmetic is exact: Python
    adds and subtracts aware times of one zone by the clock)."""
    return value.replace(tzinfo=zone).astimezone(UTC)


def _original(recurrence_ids: tuple[Any, ...], start: date | datetime, zone: ZoneInfo) -> Any:
    """The rule's start of an occurrence, in the calendar's zone."""
    if not recurrence_ids:
        return start
    value = recurrence_ids[0]
    if not isinstance(value, datetime):
        return value
    if not isinstance(start, datetime):  # an all-day series: the id is the day itself
        return value.date()
    # For timed series recurring-ical-events gives UTC without tzinfo.
    return value.replace(tzinfo=UTC).astimezone(zone)


def _occurrence(
    event_id: str,
    series: SeriesFacts,
    first: date | datetime,
    finish: date | datetime,
    original: date | datetime,
) -> Occurrence:
    """An occurrence with what it takes from its event and its override, if any."""
    override = None
    if series.overrides:
        # Overrides are keyed as the data writes them: local wall-clock time.
        written = original.replace(tzinfo=None) if isinstance(original, datetime) else original
        override = series.overrides.get(written)
    status = override.status if override and override.status else series.status
    return Occurrence(
        event_id=event_id,
        start=first,
        end=finish,
        all_day=not isinstance(first, datetime),
        status=status,
        title=override.title if override and override.title else series.title,
        note=override.note if override else None,
        original_start=original,
        source=override.source if override else None,
        checked=override.checked if override else None,
    )


def expand(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    uid_suffix: str,
    facts: Mapping[str, SeriesFacts],
) -> list[Occurrence]:
    """Occurrences overlapping [start, end), by recurring-ical-events, sorted.

    This is what a subscriber's calendar shows: `expand_events` gives the same from the
    events themselves (tests/test_index_expansion_equals_library.py).
    """
    occurrences = []
    for found in recurring_ical_events.of(calendar, calendar_query=_Timing).between(start, end):
        event_id = str(found.uid).removesuffix(uid_suffix)
        series = facts[event_id]
        first = _local(found.start, zone)
        original = _original(found.recurrence_ids, first, zone)
        finish = _local(found.end, zone)
        if series.length is not None and isinstance(first, datetime) and not found.recurrence_ids:
            # recurring-ical-events adds the length by the clock; across a change of the
            # clocks that is not the first occurrence's real length (and can end before
            # the start). Occurrences the loader accepts are the same either way.
            finish = (first.astimezone(UTC) + series.length).astimezone(zone)
        occurrences.append(_occurrence(event_id, series, first, finish, original))
    occurrences.sort(key=lambda item: sort_key(item, zone))
    return occurrences


def _in_span(
    start: date | datetime, end: date | datetime, span_start: datetime, span_end: datetime
) -> bool:
    """Whether [start, end) meets [span_start, span_end), as recurring-ical-events decides
    it: all-day dates count from midnight in the span's zone, an instant event (start ==
    end) counts where it starts, and an empty span is the instant it starts."""
    if not isinstance(start, datetime):
        start = datetime.combine(start, time(), span_start.tzinfo)
    if not isinstance(end, datetime):
        end = datetime.combine(end, time(), span_start.tzinfo)
    if start == end:
        return start == span_start if span_start == span_end else span_start <= start < span_end
    if span_start == span_end:  # an instant: what is happening then
        return start <= span_start < end
    return start < span_end and span_start < end


def expand_events(
    events: Iterable[Event],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    facts: Mapping[str, SeriesFacts],
    expansions: Mapping[str, Expansion] | None = None,
) -> list[Occurrence]:
    """Occurrences overlapping [start, end), from the events as we publish them, sorted.

    What `expand` gives from their VEVENTs through recurring-ical-events (proved equal over
    generated events in tests/test_index_expansion_equals_library.py), without building or
    reading any: the rule's dates come from dateutil, as the library's do, asked near the
    window (Series) rather than walked from each series' start, or read from `expansions`
    (by event id: the rules loading listed, LoadedData.expansions).
    """
    occurrences = occurrences_of(events, start, end, zone, facts, expansions)
    occurrences.sort(key=lambda item: sort_key(item, zone))
    return occurrences


def occurrences_of(
    events: Iterable[Event],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    facts: Mapping[str, SeriesFacts],
    expansions: Mapping[str, Expansion] | None = None,
) -> list[Occurrence]:
    """What `expand_events` gives, in no particular order (OccurrenceIndex.of sorts)."""
    listed = expansions or {}
    return [
        _occurrence(event.id, series, first, finish, original)
        for event in events
        for series in (facts[event.id],)
        for first, finish, original in _spans(
            event, series.length, start, end, zone, listed.get(event.id)
        )
    ]


def _spans(
    event: Event,
    length: timedelta | None,
    span_start: datetime,
    span_end: datetime,
    zone: ZoneInfo,
    expansion: Expansion | None = None,
) -> list[tuple[date | datetime, date | datetime, date | datetime]]:
    """(start, end, rule's start) of each occurrence of an event meeting the span: its
    dates (start, rule, extra dates) less those excluded or overridden, then its overrides
    that are not excluded, wherever their occurrence was. A timed series' occurrences last
    `length`, the first one's real length (see SeriesFacts). `expansion`: its rule as
    loading listed it, if it did. In the order of the rule's starts, as recurring-ical-events
    gives them: an occurrence moved onto another's start comes first if its own was earlier
    (the index's sort keeps that order between equal keys)."""
    data = event.timing
    recurrence = data.recurrence
    duration = data.duration
    excluded: set[date | datetime] = set(event.schedule.starts)
    starts: set[date | datetime] = set()
    rule = recurrence.rule if recurrence is not None else None
    if rule is None or rule.until is None or day_of(data.start) <= rule.until:
        starts.add(data.start)
    if recurrence is not None:
        excluded.update(recurrence.excluded_dates)
        starts.update(recurrence.extra_dates)
        if rule is not None:
            # Every start whose occurrence may meet the span, and some more: _in_span decides.
            slack = timedelta(days=2)
            first = (span_start - duration - slack).replace(tzinfo=None)
            last = (span_end + slack).replace(tzinfo=None)
            dates = expansion if expansion is not None else Series(data)
            starts.update(dates.between(first, last))
    overridden = {override.occurrence: override for override in data.overrides}
    found: list[tuple[date | datetime, date | datetime, date | datetime]] = []
    for value in starts:
        if value in excluded or value in overridden:
            continue
        if isinstance(value, datetime):
            begin = value.replace(tzinfo=zone)
            if _in_span(begin, begin + duration, span_start, span_end):
                assert length is not None
                instant = begin.astimezone(UTC)
                shown = instant.astimezone(zone)  # as _local shows it
                found.append((shown, (instant + length).astimezone(zone), shown))
        elif _in_span(value, value + duration, span_start, span_end):
            found.append((value, value + duration, value))
    for occurrence, override in overridden.items():
        if occurrence in excluded:
            continue
        moved = override.start if override.start is not None else occurrence
        finish = moved + (
            duration if override.end is None else occurrence_duration(moved, override.end)
        )
        if isinstance(moved, datetime) and isinstance(finish, datetime):
            moved, finish = moved.replace(tzinfo=zone), finish.replace(tzinfo=zone)
        if _in_span(moved, finish, span_start, span_end):
            found.append((_local(moved, zone), _local(finish, zone), _local(occurrence, zone)))
    found.sort(key=itemgetter(2))
    return found


@dataclass(frozen=True)
class OccurrenceIndex:
    """Occurrences over a horizon, sorted by start, for binary search by window."""

    zone: ZoneInfo
    start: datetime  # horizon, inclusive
    end: datetime  # horizon, exclusive
    occurrences: Sequence[Occurrence]
    keys: Sequence[SortKey]
    ends: Sequence[float]  # end instants, parallel to occurrences
    longest: float  # seconds: the longest occurrence, to find spans begun before a window
    by_event: Mapping[str, tuple[int, ...]]  # positions of each event's occurrences

    @classmethod
    def of(
        cls,
        occurrences: list[Occurrence],
        zone: ZoneInfo,
        start: datetime,
        end: datetime,
        known: OccurrenceIndex | None = None,
    ) -> OccurrenceIndex:
        """Index occurrences expanded (by `expand`) over [start, end).

        Occurrences that are `known`'s own objects (a reload keeps an unchanged event's)
        keep the sort key and end instant worked out there: most of a reload's indexing.
        """
        if known is None or known.zone != zone:
            known = None
        at = {id(o): i for i, o in enumerate(known.occurrences)} if known is not None else {}
        # A series' occurrences share its folded title, and many share a start: one object
        # of each, not one per key (2 MB at 10,000 events).
        shared: dict[float | str, Any] = {}

        def keyed_one(o: Occurrence) -> tuple[SortKey, float, Occurrence]:
            i = at.get(id(o))
            if known is not None and i is not None and known.occurrences[i] is o:
                return known.keys[i], known.ends[i], o
            begins, title, event_id = sort_key(o, zone)
            key = (shared.setdefault(begins, begins), shared.setdefault(title, title), event_id)
            return key, start_instant(o.end, zone).timestamp(), o

        keyed = sorted(map(keyed_one, occurrences), key=itemgetter(0))
        keys = tuple(key for key, _, _ in keyed)
        # Eight bytes each, read-only: a tuple of floats costs four times that.
        ends = memoryview(array("d", [finish for _, finish, _ in keyed]).tobytes()).cast("d")
        occurrences = [occurrence for _, _, occurrence in keyed]
        longest = max((e - k[0] for k, e in zip(keys, ends, strict=True)), default=0.0)
        positions: dict[str, list[int]] = {}
        for position, occurrence in enumerate(occurrences):
            positions.setdefault(occurrence.event_id, []).append(position)
        by_event = {event_id: tuple(found) for event_id, found in positions.items()}
        return cls(zone, start, end, tuple(occurrences), keys, ends, longest, by_event)

    def of_event(self, event_id: str, since: datetime) -> list[Occurrence]:
        """One event's occurrences in the horizon that have not ended by `since`, in order."""
        moment = since.timestamp()
        ends, occurrences = self.ends, self.occurrences
        return [occurrences[i] for i in self.by_event.get(event_id, ()) if ends[i] > moment]

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end

    def between(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences overlapping [start, end) in order; the window must be covered."""
        window_start = start.timestamp()
        begin = bisect_left(self.keys, (window_start - self.longest,))
        stop = bisect_left(self.keys, (end.timestamp(),))
        keys, ends, occurrences = self.keys, self.ends, self.occurrences
        # Overlap: ends after the window opens (an instant event: starts inside it).
        return [
            occurrences[i]
            for i in range(begin, stop)
            if ends[i] > window_start or (ends[i] == keys[i][0] >= window_start)
        ]
