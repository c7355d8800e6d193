"""Expand the compiled calendar into occurrences, and index them over a horizon."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Component

from calendar_service.model import Occurrence, Override, Status, start_instant

HORIZON_PAST = timedelta(days=2 * 366)
HORIZON_FUTURE = timedelta(days=5 * 366)

_STATUS = {"CONFIRMED": Status.CONFIRMED, "TENTATIVE": Status.PROVISIONAL}
_STATUS["CANCELLED"] = Status.CANCELLED

SortKey = tuple[float, str, str]


def sort_key(occurrence: Occurrence, zone: ZoneInfo) -> SortKey:
    """Order by start (an all-day date at local midnight), then title, then event."""
    return (
        start_instant(occurrence.start, zone).timestamp(),
        occurrence.title.casefold(),
        occurrence.event_id,
    )


def _local(value: date | datetime, zone: ZoneInfo) -> date | datetime:
    if isinstance(value, datetime):
        return value.astimezone(zone) if value.tzinfo is not None else value.replace(tzinfo=zone)
    return value


def to_occurrence(
    component: Component,
    zone: ZoneInfo,
    uid_suffix: str,
    overrides: Mapping[str, Mapping[date | datetime, Override]],
) -> Occurrence:
    """One expanded VEVENT as an Occurrence, in the calendar's zone."""
    event_id = str(component["UID"]).removesuffix(uid_suffix)
    start = _local(component.decoded("DTSTART"), zone)
    end = _local(component.decoded("DTEND"), zone) if "DTEND" in component else start
    recurrence = component.decoded("RECURRENCE-ID", None)
    original = _local(recurrence, zone) if recurrence is not None else start
    key = original.replace(tzinfo=None) if isinstance(original, datetime) else original
    override = overrides.get(event_id, {}).get(key)
    return Occurrence(
        event_id=event_id,
        start=start,
        end=end,
        all_day=not isinstance(start, datetime),
        status=_STATUS.get(str(component.get("STATUS", "CONFIRMED")), Status.CONFIRMED),
        title=str(component.get("SUMMARY", "")),
        note=override.note if override is not None else None,
        original_start=original,
    )


def expand(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    uid_suffix: str,
    overrides: Mapping[str, Mapping[date | datetime, Override]],
) -> list[Occurrence]:
    """Occurrences overlapping [start, end), by recurring-ical-events, sorted.

    This is what a subscriber's calendar shows, so the index and the on-demand path
    both come through here.
    """
    components = recurring_ical_events.of(calendar).between(start, end)
    occurrences = [to_occurrence(c, zone, uid_suffix, overrides) for c in components]
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

    @classmethod
    def build(
        cls,
        calendar: Calendar,
        zone: ZoneInfo,
        start: datetime,
        end: datetime,
        uid_suffix: str,
        overrides: Mapping[str, Mapping[date | datetime, Override]],
    ) -> OccurrenceIndex:
        occurrences = expand(calendar, start, end, zone, uid_suffix, overrides)
        keys = tuple(sort_key(o, zone) for o in occurrences)
        ends = tuple(start_instant(o.end, zone).timestamp() for o in occurrences)
        longest = max((e - k[0] for k, e in zip(keys, ends, strict=True)), default=0.0)
        return cls(zone, start, end, tuple(occurrences), keys, ends, longest)

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
