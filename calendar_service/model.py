"""The domain types' public names (settings, events, occurrences, terms), each from its module."""

from __future__ import annotations

from calendar_service.calendar_settings import (
    CalendarSettings,
    FeedDefinition,
    FeedFilter,
    Term,
    Vocabularies,
)
from calendar_service.change_log import Change, ChangeKind
from calendar_service.event_data import (
    EventData,
    EventFile,
    Location,
    Organiser,
    Override,
    Recurrence,
    Skip,
    Status,
    check_span,
)
from calendar_service.event_times import day_of, is_all_day, occurrence_duration, start_instant
from calendar_service.events import (
    HASH_DIGITS,
    HASHED_WHEN_GIVEN,
    UNSKIPPED,
    Event,
    Occurrence,
    Schedule,
    Skipped,
    content_hash,
)
from calendar_service.school_terms import (
    SCHOOL_YEAR_PATTERN,
    Closure,
    DateSpan,
    SchoolTerm,
    SchoolYear,
    TermCalendar,
)

__all__ = [
    "HASHED_WHEN_GIVEN",
    "HASH_DIGITS",
    "SCHOOL_YEAR_PATTERN",
    "UNSKIPPED",
    "CalendarSettings",
    "Change",
    "ChangeKind",
    "Closure",
    "DateSpan",
    "Event",
    "EventData",
    "EventFile",
    "FeedDefinition",
    "FeedFilter",
    "Location",
    "Occurrence",
    "Organiser",
    "Override",
    "Recurrence",
    "Schedule",
    "SchoolTerm",
    "SchoolYear",
    "Skip",
    "Skipped",
    "Status",
    "Term",
    "TermCalendar",
    "Vocabularies",
    "check_span",
    "content_hash",
    "day_of",
    "is_all_day",
    "occurrence_duration",
    "start_instant",
]
