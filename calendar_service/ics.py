"""Our iCalendar (RFC 5545 / RFC 7986) rendering's public names, each from the module writing it."""

from __future__ import annotations

from calendar_service.content_lines import FOLD_AT, escape, fold_line, render_lines, text
from calendar_service.feed_assembly import FeedHeader, assemble, feed_header
from calendar_service.icalendar_components import (
    event_components,
    render_components,
    term_components,
)
from calendar_service.identity import Identity
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
