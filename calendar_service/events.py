"""An event as compiled (its content hash, stamps, skipped days) and its occurrences."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from calendar_service.event_data import EventData, Status

HASH_DIGITS = 16  # of an event's content hash: enough to tell its versions apart
# Fields added after events were first stamped: hashed only when given, so that a new
# version of the model does not make every stamped event look changed (and restamped).
HASHED_WHEN_GIVEN = ("source", "checked")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A date the rule gives on which no session is held, and why."""

    start: date | datetime  # as the rule gives it: a date, or a local time without zone
    reason: str  # "February half term", "Easter Monday"

    @property
    def day(self) -> date:
        return self.start.date() if isinstance(self.start, datetime) else self.start


@dataclass(frozen=True, slots=True)
class Schedule:
    """What a recurrence's skip makes of its rule: the dates skipped and, for a count that
    had to run on past them, the day of the last session held (published as UNTIL)."""

    skipped: tuple[Skipped, ...] = ()
    until: date | None = None

    @property
    def starts(self) -> tuple[date | datetime, ...]:
        """The rule's starts that are skipped (each written as an EXDATE)."""
        return tuple(item.start for item in self.skipped)

    def published(self, data: EventData) -> EventData:
        """The event as its feeds state it: a count run on past skipped days becomes an
        until (RFC 5545 counts dates before EXDATE removes any)."""
        recurrence = data.recurrence
        if self.until is None or recurrence is None or recurrence.rule is None:
            return data
        rule = recurrence.rule.model_copy(update={"count": None, "until": self.until})
        return data.model_copy(update={"recurrence": recurrence.model_copy(update={"rule": rule})})


UNSKIPPED = Schedule()


def content_hash(event: EventData, found: Schedule = UNSKIPPED) -> str:
    """A hash of an event's meaning, independent of file layout and key order.

    The days its recurrence skips are part of its meaning: a change to a term calendar
    changes the sessions, and so the events' revisions.
    """
    meaning = event.model_dump(mode="json")
    for part in (meaning, *meaning["overrides"]):
        for name in HASHED_WHEN_GIVEN:
            if part.get(name) is None:
                part.pop(name, None)
    recurrence = meaning.get("recurrence")
    if recurrence is not None and recurrence.get("skip") is None:
        recurrence.pop("skip", None)  # added after events were first stamped
    if found.skipped:
        meaning["skipped"] = [[str(item.start), item.reason] for item in found.skipped]
        meaning["published_until"] = str(found.until)
    text = json.dumps(meaning, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_DIGITS]


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event with its revision stamp, as the compiler uses it."""

    data: EventData
    source: str  # file path relative to the data directory
    line: int
    sequence: int
    modified: datetime  # UTC
    content_hash: str
    schedule: Schedule = UNSKIPPED

    @property
    def id(self) -> str:
        return self.data.id

    @property
    def timing(self) -> EventData:
        """The event's dates as published: `data` with the rule its feeds write."""
        return self.schedule.published(self.data)

    @property
    def revision(self) -> tuple[str, int, datetime]:
        """What its rendering depends on besides settings and day: content and stamps."""
        return (self.content_hash, self.sequence, self.modified)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One expanded instance of an event."""

    event_id: str
    start: date | datetime  # datetime values are aware, in the calendar's zone
    end: date | datetime  # exclusive
    all_day: bool
    status: Status
    title: str
    note: str | None = None
    original_start: date | datetime | None = None  # the rule's start, when overridden
    source: str | None = None  # its override's; the event's applies where None
    checked: date | None = None  # its override's; the event's applies where None

    @property
    def key(self) -> str:
        """Stable identity within the event: the start the rule gave it."""
        original = self.original_start if self.original_start is not None else self.start
        if isinstance(original, datetime):
            return original.strftime("%Y%m%dT%H%M%S")
        return original.strftime("%Y%m%d")
