"""Local times and the clock changes: refuse times that do not exist or happen twice, and
occurrences whose length a clock change makes ambiguous."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendar_service.model import EventData
from calendar_service.series import Expansion, Series
from calendar_service.values import FieldPath
from calendar_service.zones import clock_changes

Problem = tuple[FieldPath, str]


# Asked for each time an event writes and each rule that may meet a change: kept, since
# working out each change's wall-clock hour again cost a tenth of checking 10,000 events.
@functools.lru_cache(maxsize=256)
def _changes_between(
    zone: ZoneInfo, first: int, last: int
) -> tuple[tuple[datetime, datetime, bool], ...]:
    """The wall-clock times each clock change of the years `first` to `last` (both
    included) skips or repeats, and whether it skips them."""
    return tuple(
        (*change.affected, change.forward)
        for year in range(first, last + 1)
        for change in clock_changes(zone.key, year)
    )


def clock_problem(
    start: datetime, end: datetime, zone: ZoneInfo, *, derived: bool = True
) -> str | None:
    """Why an occurrence from `start` to `end` (local wall-clock times) is ill defined, if it is.

    A start the clocks skip does not exist, one they repeat happens twice. An occurrence
    whose end is `derived` from the series' length and which runs across a change lasts
    one length by the clock and another in fact: RFC 5545 keeps the real length (every
    instance as long as the first), recurring-ical-events, the `ical` package and many
    calendars keep the clock times. Ending inside the changed hour is read alike by both.
    """
    for first, last, skipped in _changes_between(zone, start.year, end.year):
        what = (
            "skipped when the clocks go forward" if skipped else "repeated when the clocks go back"
        )
        hour = f"{first:%H:%M}–{last:%H:%M} on {first:%Y-%m-%d}"
        if first <= start < last:
            return f"starts in the hour {what} ({hour})"
        if derived and start < first and end >= last:
            return (
                f"runs across the hour {what} ({hour}), so that its length by the clock "
                "is not its real length"
            )
    return None


def _exists_once(value: datetime, zone: ZoneInfo) -> str | None:
    for first, last, skipped in _changes_between(zone, value.year, value.year):
        if first <= value < last:
            if skipped:
                return (
                    f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward "
                    "then; choose a time outside the skipped hour"
                )
            return (
                f"{value:%Y-%m-%d %H:%M} happens twice in {zone.key}: the clocks go back then; "
                "choose a time outside the repeated hour"
            )
    return None


def check_local_times(event: EventData, zone: ZoneInfo) -> Iterator[Problem]:
    """Refuse local times that do not exist or happen twice, and, in a series, occurrences
    the event writes out that contain a clock change (their length would be ambiguous)."""
    if event.all_day:
        return
    times: list[tuple[FieldPath, date | datetime | None]] = [
        (("start",), event.start),
        (("end",), event.end),
    ]
    # Excluded dates and overridden occurrences name what the rule gives, which may fall
    # in the gap; only times an editor chooses must exist.
    if event.recurrence is not None:
        times += [
            (("recurrence", "extra_dates", index), value)
            for index, value in enumerate(event.recurrence.extra_dates)
        ]
    for index, override in enumerate(event.overrides):
        times += [
            (("overrides", index, name), getattr(override, name)) for name in ("start", "end")
        ]
    wrong: set[FieldPath] = set()
    for path, value in times:
        if isinstance(value, datetime) and (message := _exists_once(value, zone)):
            wrong.add(path)
            yield path, message
    if event.recurrence is None or ("start",) in wrong:
        return  # one occurrence: its start and end are both written, nothing is derived
    assert isinstance(event.start, datetime)
    # Occurrences whose end is derived from the series' length (the first sets it).
    length = event.duration
    spans: list[tuple[FieldPath, datetime]] = [(("end",), event.start)]
    spans += [
        (("recurrence", "extra_dates", index), value)
        for index, value in enumerate(event.recurrence.extra_dates)
        if isinstance(value, datetime)
    ]
    spans += [
        (("overrides", index, "start"), override.start)
        for index, override in enumerate(event.overrides)
        if override.end is None and isinstance(override.start, datetime)
    ]
    for path, start in spans:
        if path not in wrong and (problem := clock_problem(start, start + length, zone)):
            yield path, f"this occurrence {problem}; {_CLOCK_ADVICE}"


_CLOCK_ADVICE = (
    "calendars disagree about such occurrences of a series: choose times clear of the hour "
    "the clocks change, or give the occurrence's end (an override with start and end)"
)


def rule_clock_problems(
    event: EventData, zone: ZoneInfo, reach: date, expansion: Expansion | None = None
) -> Iterator[Problem]:
    """Occurrences of a timed rule, up to `reach`, that meet a clock change; those excluded
    or moved by an override are the editor's choice and checked where they are written.
    `expansion` is the rule's, if loading listed it."""
    recurrence = event.recurrence
    if event.all_day or recurrence is None or recurrence.rule is None:
        return
    length = event.duration
    assert isinstance(event.start, datetime)
    if not _may_meet_clock_change(event.start, length, zone, reach):
        return
    # Excluded and moved occurrences are the editor's; moved ones are checked where written.
    moved = {item.occurrence for item in event.overrides if item.start is not None}
    ends = {item.occurrence: item.end for item in event.overrides if isinstance(item.end, datetime)}
    skipped = set(recurrence.excluded_dates) | moved
    found = []
    dates = expansion if expansion is not None else Expansion.unlisted(Series(event))
    for start in _near_clock_changes(dates, length, zone, reach):
        if start in skipped:
            continue
        end = ends.get(start)
        problem = clock_problem(start, end or start + length, zone, derived=end is None)
        if problem is not None:
            found.append((start, problem))
    if found:
        start, problem = found[0]
        more = f" ({len(found) - 1} more up to {reach})" if len(found) > 1 else ""
        yield (
            ("recurrence", "rule"),
            f"the occurrence of {start:%Y-%m-%d %H:%M} {problem}{more}; calendars disagree "
            "about such occurrences: choose times clear of the hour the clocks change, exclude "
            "the dates (excluded_dates), or move them with overrides giving start and end",
        )


def _near_clock_changes(
    dates: Expansion, length: timedelta, zone: ZoneInfo, reach: date
) -> list[datetime]:
    """The series' occurrences up to `reach` that could meet a clock change: those starting
    less than `length` before one, or during it. Each change is asked about near itself;
    a rule with a count (at most MAX_COUNT occurrences) is listed once instead."""
    last, series = datetime.combine(reach, time.max), dates.series
    if series.rule.count is not None:
        starts = dates.between(series.start, last)
    else:
        second = timedelta(seconds=1)
        starts = []
        for first, final, _ in _changes_between(zone, series.start.year, reach.year):
            if final > series.start and first - length < last:
                starts += dates.between(max(first - length + second, series.start), final - second)
    return sorted({value for value in starts if isinstance(value, datetime)})


def _may_meet_clock_change(start: datetime, length: timedelta, zone: ZoneInfo, last: date) -> bool:
    """Whether a daily time slot can meet a clock change from `start` to `last`: most never
    do, and are not expanded to be checked."""
    if length >= timedelta(days=1):
        return True
    begin = start.hour * 60 + start.minute
    end = begin + length // timedelta(minutes=1) + 1
    return _slot_meets_clock_change(begin, end, zone, start.year, last.year)


# A calendar's series share a few time slots (10:00 for an hour): each slot is asked once.
@functools.lru_cache(maxsize=1024)
def _slot_meets_clock_change(begin: int, end: int, zone: ZoneInfo, first: int, last: int) -> bool:
    """Whether the minutes of the day from `begin` to `end` meet the hour a clock change
    from year `first` to `last` skips or repeats."""
    for change, final, _ in _changes_between(zone, first, last):
        low = change.hour * 60 + change.minute
        high = low + (final - change) // timedelta(minutes=1)
        for shift in (-1440, 0, 1440):  # slots and changes around midnight
            if begin + shift < high and end + shift > low:
                return True
    return False
