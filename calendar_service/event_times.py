"""An event's times, a date (all day) or a local time: its day, its length, its instant."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def is_all_day(value: date | datetime) -> bool:
    return not isinstance(value, datetime)


def day_of(value: date | datetime) -> date:
    """The day of a date or a local time."""
    return value.date() if isinstance(value, datetime) else value


def occurrence_duration(start: date | datetime, end: date | datetime | None) -> timedelta:
    """Length from start to the exclusive end; an all-day `end` is the inclusive last day."""
    if is_all_day(start):
        last = end if end is not None else start
        return last - start + timedelta(days=1)
    if end is None:
        return timedelta(hours=1)
    return end - start


def start_instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """An aware datetime for ordering; an all-day date counts from local midnight."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time(), zone)
