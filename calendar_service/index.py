"""Expand the compiled calendar into occurrences, and index them over a horizon."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from calendar_service.model import EventData, Occurrence, Override, Status, start_instant

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


def expand(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    uid_suffix: str,
    facts: Mapping[str, SeriesFacts],
) -> list[Occurrence]:
    """Occurrences overlapping [start, end), by recurring-ical-events, sorted.

    This is what a subscriber's calendar shows, so the index and the on-demand path
    both come through here.
    """
    occurrences = []
    for found in recurring_ical_events.of(calendar, calendar_query=_Timing).between(start, end):
        event_id = str(found.uid).removesuffix(uid_suffix)
        series = facts[event_id]
        first = _local(found.start, zone)
        original = _original(found.recurrence_ids, first, zone)
        # Overrides are keyed as the data writes them: local wall-clock time.
        written = original.replace(tzinfo=None) if isinstance(original, datetime) else original
        override = series.overrides.get(written)
        status = override.status if override and override.status else series.status
        finish = _local(found.end, zone)
        if series.length is not None and isinstance(first, datetime) and not found.recurrence_ids:
            # recurring-ical-events adds the length by the clock; across a change of the
            # clocks that is not the first occurrence's real length (and can end before
            # the start). Occurrences the loader accepts are the same either way.
            finish = (first.astimezone(UTC) + series.length).astimezone(zone)
        occurrences.append(
            Occurrence(
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
        )
    occurrences.sort(key=lambda item: sort_key(item, zone))
    return occurrences


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
        cls, occurrences: list[Occurrence], zone: ZoneInfo, start: datetime, end: datetime
    ) -> OccurrenceIndex:
        """Index occurrences expanded (by `expand`) over [start, end)."""
        occurrences = sorted(occurrences, key=lambda item: sort_key(item, zone))
        keys = tuple(sort_key(o, zone) for o in occurrences)
        ends = tuple(start_instant(o.end, zone).timestamp() for o in occurrences)
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
