"""A feed's VCALENDAR header, and a whole feed assembled from pre-rendered parts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from icalendar import Calendar

from calendar_service import __version__
from calendar_service.content_lines import text
from calendar_service.model import CalendarSettings


@dataclass(frozen=True, slots=True)
class FeedHeader:
    """The parts of a VCALENDAR around its components."""

    opening: bytes
    closing: bytes


def feed_header(settings: CalendarSettings, title: str, description: str) -> FeedHeader:
    """The VCALENDAR properties of a feed, split so components can be placed inside."""
    calendar = Calendar()
    product = f"-//{settings.organisation}//calendar-service {__version__}//EN"
    calendar.add("PRODID", text(product))
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("NAME", text(title))
    calendar.add("X-WR-CALNAME", text(title))
    if description:
        calendar.add("DESCRIPTION", text(description))
        calendar.add("X-WR-CALDESC", text(description))
    calendar.add("X-WR-TIMEZONE", text(settings.timezone))
    refresh = timedelta(hours=settings.refresh_hours)
    calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", f"PT{settings.refresh_hours}H")
    whole = calendar.to_ical()
    closing = b"END:VCALENDAR\r\n"
    assert whole.endswith(closing)
    return FeedHeader(whole[: -len(closing)], closing)


def assemble(header: FeedHeader, timezone: bytes, events: Iterable[bytes]) -> bytes:
    """A whole feed from pre-rendered parts: header, VTIMEZONE, events, footer."""
    return b"".join((header.opening, timezone, *events, header.closing))
