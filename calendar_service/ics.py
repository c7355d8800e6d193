"""Render events as RFC 5545 / RFC 7986 iCalendar, following our ICS publishing profile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from icalendar import (
    Calendar,
)

from calendar_service import __version__
from calendar_service.content_lines import (
    FOLD_AT,
    escape,
    fold_line,
    render_lines,
    text,
)
from calendar_service.icalendar_components import (
    event_components,
    render_components,
    term_components,
)
from calendar_service.identity import Identity
from calendar_service.model import (
    CalendarSettings,
)
from calendar_service.vevents import description_text, event_lines, render_event, rrule_text
from calendar_service.vtimezone import vtimezone

__all__ = [
    "FOLD_AT",
    "FeedHeader",
    "Identity",
    "assemble",
    "description_text",
    "escape",
    "event_components",
    "event_lines",
    "feed_header",
    "fold_line",
    "render_components",
    "render_event",
    "render_lines",
    "rrule_text",
    "term_components",
    "text",
    "vtimezone",
]


# --- Calendars -----------------------------------------------------------------------------


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
