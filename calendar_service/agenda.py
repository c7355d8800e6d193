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
    """One cell of the month grid."""

    day: date
    in_month: bool
    occurrences: list[Occurrence]


@dataclass(frozen=True, slots=True)
class MonthGrid:
    """A Monday-first month grid, weeks as rows."""

    year: int
    month: int
    weeks: list[list[GridDay]]

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


def month_grid(year: int, month: int, occurrences: list[Occurrence]) -> MonthGrid:
    """Place each occurrence on every day it covers within the grid."""
    weeks = _calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    cells: dict[date, list[Occurrence]] = {day: [] for week in weeks for day in week}
    for occurrence in occurrences:
        day, last = first_day(occurrence), last_day(occurrence)
        day = max(day, weeks[0][0])
        while day <= min(last, weeks[-1][-1]):
            cells[day].append(occurrence)
            day += timedelta(days=1)
    return MonthGrid(
        year,
        month,
        [[GridDay(day, day.month == month, cells[day]) for day in week] for week in weeks],
    )


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First and last day of the Monday-first grid showing a month."""
    weeks = _calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return weeks[0][0], weeks[-1][-1]


def _day_text(day: date, *, year: bool = True) -> str:
    text = f"{day:%a} {day.day} {day:%b}"
    return f"{text} {day.year}" if year else text


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


def day_words(day: date, *, year: bool = True) -> str:
    """A day as a newsletter writes it: "Thursday 4 February 2027"."""
    text = f"{_calendar.day_name[day.weekday()]} {day.day} {_calendar.month_name[day.month]}"
    return f"{text} {day.year}" if year else text


def dates_in_words(occurrence: Occurrence, *, year: bool = True) -> str:
    """An occurrence's dates in words, with the start time of a timed one:
    "Monday 8 June to Sunday 14 June", "Thursday 4 February 2027, 10:00"."""
    first, last = first_day(occurrence), last_day(occurrence)
    text = day_words(first, year=year)
    if last != first:
        text += " to " + day_words(last, year=year)
    if isinstance(occurrence.start, datetime):
        text += f", {occurrence.start:%H:%M}"
    return text
