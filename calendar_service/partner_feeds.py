"""A partner's ICS feed read: checked, parsed and mapped into our events, within limits.

A partner's ICS feed is someone else's data: whatever it holds, it becomes at most
`max_events` events of our own model, plain text, in our vocabularies, with rules we can
expand cheaply; what cannot be imported is reported, never raised into the local data.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component

from calendar_service.errors import CalendarServiceError
from calendar_service.model import (
    CalendarSettings,
    Event,
)
from calendar_service.partner_events import EventReader, Skipped
from calendar_service.partner_sources import (
    FETCHED_SUFFIX,
    ImportOverride,
    SourceConfig,
    SourcesFile,
)
from calendar_service.plain_text import shortened

MAX_FEED_BYTES = 10_000_000  # the largest feed body parsed (decompressed)


class FeedRejected(CalendarServiceError):
    """A partner feed that cannot be used at all: its last good copy, if any, stays."""


@dataclass(frozen=True, slots=True)
class ImportedFeed:
    """What one feed gave: our events, the occurrences they add and what was left out."""

    source: str
    events: tuple[Event, ...]
    occurrences: int
    problems: tuple[str, ...]  # one line each: events skipped, limited or changed
    rejected: str | None = None  # why nothing of the feed is used, if so


def fetched_copy(directory: Path, source_id: str) -> bytes | None:
    """The last good copy of a source's feed, `<directory>/<id>.ics`, None if there is none.

    Only a regular file is read, at most MAX_FEED_BYTES (a larger one reads as rejected).
    """
    path = directory / f"{source_id}{FETCHED_SUFFIX}"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise FeedRejected(f"{path} is not a regular file")
        return file.read(MAX_FEED_BYTES + 1)


def import_sources(
    sources: SourcesFile,
    directory: Path,
    settings: CalendarSettings,
    taken: set[str],
    today: date | None = None,
) -> tuple[list[Event], list[ImportedFeed], list[bytes]]:
    """Every source's events from its last good copy in `directory`, and a report of each.

    A source whose copy is missing, unreadable or rejected adds nothing and is reported;
    it never stops the others or the local data. An imported id already `taken` (by a local
    event) is left out. Also returns the bodies read, for the data's version.
    """
    events: list[Event] = []
    reports: list[ImportedFeed] = []
    bodies: list[bytes] = []
    for source in sources.sources:
        try:
            body = fetched_copy(directory, source.id)
            if body is None:
                reports.append(ImportedFeed(source.id, (), 0, (), "not fetched yet"))
                continue
            bodies.append(body)
            feed = read_feed(source, body, settings, sources.overrides_of(source.id), today=today)
        except (FeedRejected, OSError) as exc:
            reports.append(ImportedFeed(source.id, (), 0, (), str(exc)))
            continue
        kept = [event for event in feed.events if event.id not in taken]
        clashes = [
            f"event id {event.id!r} is a local event's; left out"
            for event in feed.events
            if event.id in taken
        ]
        taken.update(event.id for event in kept)
        events += kept
        reports.append(replace(feed, events=tuple(kept), problems=(*feed.problems, *clashes)))
    return events, reports, bodies


def decode_feed(body: bytes) -> tuple[str, str | None]:
    """The feed's text, and a note if it was not UTF-8 (then read as Windows-1252, the
    encoding such feeds nearly always turn out to be in; no byte is ever refused)."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        byte = f"byte {body[exc.start]:#04x} at offset {exc.start}"
        note = f"not UTF-8 ({byte}); read as Windows-1252"
        return body.decode("cp1252", errors="replace"), note


def parse_feed(body: bytes) -> tuple[Calendar, str | None]:
    """The feed as an icalendar Calendar, or FeedRejected saying why it is not one."""
    if len(body) > MAX_FEED_BYTES:
        raise FeedRejected(f"the feed is larger than {MAX_FEED_BYTES:,} bytes")
    text, note = decode_feed(body)
    if "BEGIN:VCALENDAR" not in text[:1000].upper():
        raise FeedRejected("not an iCalendar feed: it does not begin with BEGIN:VCALENDAR")
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise FeedRejected(f"not valid iCalendar: {shortened(str(exc))}") from None
    if not isinstance(calendar, Calendar):
        raise FeedRejected("not an iCalendar feed: expected one VCALENDAR")
    if not calendar.walk("VEVENT"):
        raise FeedRejected("the feed has no events (no VEVENT)")
    return calendar, note


def check_feed(body: bytes, source: SourceConfig, *, timezone: str = "Europe/London") -> int:
    """The number of events a fetched body gives, or FeedRejected: parse errors, no VEVENT,
    more events or occurrences than the source may add. The fetcher keeps a body only if
    this passes; `timezone` is the calendar's (it decides which rules are kept as rules)."""
    return len(read_feed(source, body, timezone=timezone).events)


def imported_events(
    source: SourceConfig,
    body: bytes,
    settings: CalendarSettings,
    overrides: Sequence[ImportOverride] = (),
    today: date | None = None,
) -> list[Event]:
    """The feed's events as ours, overrides applied; FeedRejected if it cannot be used."""
    return list(read_feed(source, body, settings, overrides, today=today).events)


def read_feed(
    source: SourceConfig,
    body: bytes,
    settings: CalendarSettings | None = None,
    overrides: Sequence[ImportOverride] = (),
    *,
    timezone: str | None = None,
    today: date | None = None,
) -> ImportedFeed:
    """Map every VEVENT of a feed to our Event, reporting what is skipped or limited.

    Deterministic for the same bytes, settings and day (`today` places the span a rule
    outside our subset is expanded over; without it, from the event's own start).
    """
    calendar, note = parse_feed(body)
    zone = ZoneInfo(timezone or (settings.timezone if settings else "Europe/London"))
    problems = [note] if note else []
    masters, exceptions = _by_uid(calendar, problems)
    zones = calendar.walk("VTIMEZONE")
    by_uid = {override.uid: override for override in overrides}
    events: list[Event] = []
    occurrences = skipped = 0
    for uid, master in masters.items():
        changed = exceptions.pop(uid, [])
        reader = EventReader(source, zone, uid, master, changed, zones, today)
        try:
            mapped = reader.read(by_uid.get(uid), settings)
        except Skipped as problem:
            problems.append(f"event {shortened(uid)!r}: {problem}")
            skipped += 1
            continue
        except Exception as exc:  # a value icalendar cannot decode: someone else's data
            problems.append(f"event {shortened(uid)!r}: cannot be read: {shortened(str(exc))}")
            skipped += 1
            continue
        if mapped is None:
            continue  # filtered out or hidden: not a problem
        event, count = mapped
        problems += [f"event {shortened(uid)!r}: {message}" for message in reader.notes]
        events.append(event)
        occurrences += count
    for uid in exceptions:
        problems.append(
            f"event {shortened(uid)!r}: a changed occurrence without its series; left out"
        )
    if masters and not events and skipped:
        # Nothing usable where events were: a broken feed must not replace a good copy.
        raise FeedRejected(f"none of its {len(masters)} event(s) could be read; {problems[-1]}")
    if len(events) > source.max_events:
        raise FeedRejected(
            f"{len(events):,} events, more than the {source.max_events:,} this source may add"
        )
    if occurrences > source.max_occurrences:
        raise FeedRejected(
            f"{occurrences:,} occurrences, more than the {source.max_occurrences:,} this source"
            " may add (an endless rule counts over the occurrence index's span)"
        )
    events.sort(key=lambda item: item.id)
    return ImportedFeed(source.id, tuple(events), occurrences, tuple(problems))


def _by_uid(
    calendar: Calendar, problems: list[str]
) -> tuple[dict[str, Component], dict[str, list[Component]]]:
    """Each UID's series (the first of repeated ones) and its changed occurrences."""
    masters: dict[str, Component] = {}
    exceptions: dict[str, list[Component]] = {}
    for component in calendar.walk("VEVENT"):
        uid = str(component.get("UID", "")).strip()
        if not uid:
            problems.append("an event without a UID; left out (its updates could not be matched)")
        elif "RECURRENCE-ID" in component:
            exceptions.setdefault(uid, []).append(component)
        elif uid in masters:
            problems.append(f"event {shortened(uid)!r}: the UID is repeated; the first is kept")
        else:
            masters[uid] = component
    return masters, exceptions


__all__ = [
    "MAX_FEED_BYTES",
    "FeedRejected",
    "ImportedFeed",
    "check_feed",
    "fetched_copy",
    "import_sources",
    "imported_events",
    "read_feed",
]
