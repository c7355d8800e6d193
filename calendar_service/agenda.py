"""Arrange occurrences for people: an agenda grouped by month and a month grid."""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from calendar_service.model import Occurrence


@dataclass(frozen=True, slots=True)
class MonthGroup:
    """The occurrences starting in one month, for the list view."""

    year: int
    month: int
    occurrences: list[Occurrence]

    @property
    def title(self) -> str:
        return f"{_calendar.month_name[self.month]} {self.year}"

    @property
    def anchor(self) -> str:
        return f"m-{self.year}-{self.month:02d}"


def by_month(occurrences: list[Occurrence]) -> list[MonthGroup]:
    """Group in order by the month each occurrence starts."""
    groups: list[MonthGroup] = []
    for occurrence in occurrences:
        day = first_day(occurrence)
        if not groups or (groups[-1].year, groups[-1].month) != (day.year, day.month):
            groups.append(MonthGroup(day.year, day.month, []))
        groups[-1].occurrences.append(occurrence)
    return groups


WEEKDAYS = tuple(_calendar.day_name)  # Monday first, as the grid


def first_day(occurrence: Occurrence) -> date:
    start = occurrence.start
    return start.date() if isinstance(start, datetime) else start


def last_day(occurrence: Occurrence) -> date:
    """The last day an occurrence touches (ends are exclusive)."""
    end = occurrence.end
    if isinstance(end, datetime):
        day = end.date()
        # An event ending at midnight does not touch the next day.
        return day - timedelta(days=1) if end.time() == datetime.min.time() else day
    return end - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class GridDay:
    """One day of the month grid, with how many occurrences touch it."""

    day: date
    in_month: bool
    count: int


@dataclass(frozen=True, slots=True)
class Bar:
    """The part of one occurrence that falls in one week: a single bar across its days.

    `continued` and `continues` say the occurrence began in an earlier week or goes on
    into the next one: the bar wraps at the week's end rather than repeating per day.
    """

    occurrence: Occurrence
    column: int  # 0 is Monday
    span: int  # days, 1-7
    continued: bool
    continues: bool

    @property
    def first(self) -> date:
        return first_day(self.occurrence)

    @property
    def last(self) -> date:
        return last_day(self.occurrence)


@dataclass(frozen=True, slots=True)
class Lane:
    """One row of bars in a week: bars that do not overlap, and the gaps between them."""

    bars: list[Bar]

    def cells(self) -> list[Bar | int]:
        """Left to right: each bar, or the width in days of a gap before, between or after."""
        cells: list[Bar | int] = []
        column = 0
        for bar in self.bars:
            if bar.column > column:
                cells.append(bar.column - column)
            cells.append(bar)
            column = bar.column + bar.span
        if column < 7:
            cells.append(7 - column)
        return cells


@dataclass(frozen=True, slots=True)
class Week:
    """One row of the month grid: its seven days and its bars, in as few lanes as fit."""

    days: list[GridDay]
    lanes: list[Lane]


@dataclass(frozen=True, slots=True)
class MonthGrid:
    """A Monday-first month grid, weeks as rows."""

    year: int
    month: int
    weeks: list[Week]

    @property
    def title(self) -> str:
        return f"{_calendar.month_name[self.month]} {self.year}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def previous(self) -> date:
        return (self.first - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        return (self.first + timedelta(days=32)).replace(day=1)


def _week(days: list[date], month: int, occurrences: list[Occurrence]) -> Week:
    """Cut each occurrence to the week and stack the bars, first fit, longest first."""
    monday, sunday = days[0], days[-1]
    bars: list[Bar] = []
    for occurrence in occurrences:
        first, last = first_day(occurrence), last_day(occurrence)
        if last < monday or first > sunday:
            continue
        start, end = max(first, monday), min(last, sunday)
        bars.append(
            Bar(
                occurrence,
                (start - monday).days,
                (end - start).days + 1,
                first < monday,
                last > sunday,
            )
        )
    lanes: list[list[Bar]] = []
    for bar in sorted(bars, key=lambda bar: (bar.column, -bar.span)):
        for lane in lanes:
            if lane[-1].column + lane[-1].span <= bar.column:
                lane.append(bar)
                break
        else:
            lanes.append([bar])
    counts = [0] * 7
    for bar in bars:
        for column in range(bar.column, bar.column + bar.span):
            counts[column] += 1
    grid_days = [GridDay(day, day.month == month, counts[i]) for i, day in enumerate(days)]
    return Week(grid_days, [Lane(lane) for lane in lanes])


def month_grid(year: int, month: int, occurrences: list[Occurrence]) -> MonthGrid:
    """Lay out a month: per week, one bar per occurrence across the days it covers there."""
    weeks = _calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return MonthGrid(year, month, [_week(days, month, occurrences) for days in weeks])


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First and last day of the Monday-first grid showing a month."""
    weeks = _calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return weeks[0][0], weeks[-1][-1]


def _day_text(day: date, *, year: bool = True) -> str:
    text = f"{day:%a} {day.day} {day:%b}"
    return f"{text} {day.year}" if year else text


def clock_text(occurrence: Occurrence) -> str:
    """The start time with its zone named ("18:30 GMT", "09:00 BST"); "" for all-day items."""
    start = occurrence.start
    if not isinstance(start, datetime):
        return ""
    return f"{start:%H:%M} {start.tzname() or ''}".rstrip()


def when_text(occurrence: Occurrence) -> str:
    """When, as people read it: dates for all-day items, local times with the zone named."""
    first, last = first_day(occurrence), last_day(occurrence)
    start, end = occurrence.start, occurrence.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        zone, end_zone = start.tzname() or "", end.tzname() or ""
        if first == end.date() or last == first:
            if zone != end_zone:  # the clocks change in between: both zones are named
                return f"{_day_text(first)}, {start:%H:%M} {zone} – {end:%H:%M} {end_zone}"
            return f"{_day_text(first)}, {start:%H:%M}–{end:%H:%M} {zone}".rstrip()
        until = f"{_day_text(end.date())} {end:%H:%M} {end_zone}"
        return f"{_day_text(first)} {start:%H:%M} {zone} – {until}"
    if first == last:
        return _day_text(first)
    return f"{_day_text(first, year=first.year != last.year)} – {_day_text(last)}"
