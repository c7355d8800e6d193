"""Partner feeds turned into our events: the sources file, each feed checked, mapped and limited.

A partner's ICS feed is someone else's data: whatever it holds, it becomes at most
`max_events` events of our own model, plain text, in our vocabularies, with rules we can
expand cheaply; what cannot be imported is reported, never raised into the local data.
"""

from __future__ import annotations

import copy
import hashlib
import html
import itertools
import os
import re
import stat
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nh3
import recurring_ical_events
from icalendar import Calendar, Component
from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from calendar_service.errors import CalendarServiceError
from calendar_service.index import HORIZON_FUTURE, HORIZON_PAST
from calendar_service.local_times import check_local_times
from calendar_service.model import (
    CalendarSettings,
    Event,
    EventData,
    Organiser,
    Status,
    content_hash,
    day_of,
)
from calendar_service.recurrence import check_recurrence
from calendar_service.rules import WEEKDAY_PATTERN, Rule
from calendar_service.values import (
    MAX_COUNT,
    MAX_LIST,
    MAX_SEQUENCE,
    MAX_TEXT,
    MAX_TITLE,
    FieldPath,
    FieldProblem,
    Line,
    Slug,
    Strict,
    Url,
)

# Global caps: a source's own limits may be lower, never higher.
MAX_SOURCES = 50
MAX_SOURCE_EVENTS = 2_000
MAX_SOURCE_OCCURRENCES = 20_000
MAX_FEED_BYTES = 10_000_000  # the largest feed body parsed (decompressed)
MAX_SOURCE_ID = 48  # an imported event's id is the source id, a hyphen and UID_DIGITS
UID_DIGITS = 16
# A rule outside our subset is expanded into dates over the span the occurrence index
# covers; an endless rule of ours is counted over the same span.
EXPANSION_SPAN = HORIZON_PAST + HORIZON_FUTURE
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # LAST-MODIFIED of an event whose source gives none
FETCHED_NAME = "fetched"  # how an imported event's file is named in messages: fetched/<id>.ics
# A source's last good copy is `<fetched_dir>/<id><FETCHED_SUFFIX>` (fetching.FetchStore writes it).
FETCHED_SUFFIX = ".ics"


# --- The sources file ----------------------------------------------------------------------


class Prefer(StrEnum):
    """Who wins where an override sets a field the source's categories also map."""

    OURS = "ours"
    SOURCE = "source"


class CategoryMapping(Strict):
    """What a source's CATEGORIES value becomes in our vocabularies."""

    category: Slug | None = None
    audiences: list[Slug] = Field(default=[], max_length=MAX_LIST)
    themes: list[Slug] = Field(default=[], max_length=MAX_LIST)


class SourceFilter(Strict):
    """Events kept (include) or dropped (exclude): OR within a field, AND across fields.

    `text` matches words in the title or description, `categories` the source's own
    CATEGORIES, both ignoring case.
    """

    text: list[Line] = Field(default=[], max_length=MAX_LIST)
    categories: list[Line] = Field(default=[], max_length=MAX_LIST)

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.categories)

    def matches(self, text: str, categories: Iterable[str]) -> bool:
        """Whether an event passes every field given (an empty filter passes everything)."""
        folded = text.casefold()
        if self.text and not any(word.casefold() in folded for word in self.text):
            return False
        if self.categories:
            wanted = {category.casefold() for category in self.categories}
            return any(category.casefold() in wanted for category in categories)
        return True


class SourceConfig(Strict):
    """One partner feed: where it is, who runs it and how its events map to ours."""

    id: Slug = Field(max_length=MAX_SOURCE_ID, description="Namespaces the source's event UIDs.")
    name: Line
    url: Url = Field(description="The feed; the only address ever fetched for this source.")
    allow_http: bool = Field(default=False, description="Fetch over plain http (not https).")
    organiser: Organiser
    page: Url = Field(description="The source's own page, linked from each of its events.")
    category: Slug = Field(description="The category of its events unless mapped.")
    audiences: list[Slug] = Field(min_length=1, max_length=MAX_LIST)
    themes: list[Slug] = Field(default=[], max_length=MAX_LIST)
    map_categories: dict[Line, CategoryMapping] = Field(
        default={}, description="The source's CATEGORIES values mapped to ours (ignoring case)."
    )
    include: SourceFilter = SourceFilter()
    exclude: SourceFilter = SourceFilter()
    prefer: Prefer = Prefer.OURS
    max_events: int = Field(default=500, ge=1, le=MAX_SOURCE_EVENTS)
    max_occurrences: int = Field(default=5_000, ge=1, le=MAX_SOURCE_OCCURRENCES)

    @field_validator("url")
    @classmethod
    def _fetchable(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an https:// URL")
        return value

    @model_validator(mode="after")
    def _https_unless_allowed(self) -> SourceConfig:
        if self.url.lower().startswith("http://") and not self.allow_http:
            raise ValueError("url: http:// is refused unless the source sets allow_http: true")
        return self


class ImportOverride(Strict):
    """Our change to one imported event, named by its source and its UID there."""

    source: Slug
    uid: Line
    hidden: bool = Field(default=False, description="Leave the event out of every output.")
    category: Slug | None = None
    audiences: list[Slug] | None = Field(default=None, min_length=1, max_length=MAX_LIST)
    themes: list[Slug] | None = Field(default=None, max_length=MAX_LIST)


class SourcesFile(Strict):
    """The top level of `sources.yaml`: the partner feeds and our overrides of their events."""

    sources: list[SourceConfig] = Field(default=[], max_length=MAX_SOURCES)
    overrides: list[ImportOverride] = Field(default=[], max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> SourcesFile:
        ids = [source.id for source in self.sources]
        repeated = sorted({key for key in ids if ids.count(key) > 1})
        if repeated:
            raise ValueError(f"source ids must be unique; repeated: {', '.join(repeated)}")
        seen: set[tuple[str, str]] = set()
        for index, override in enumerate(self.overrides):
            if override.source not in ids:
                raise FieldProblem(
                    ("overrides", index, "source"),
                    f"unknown source {override.source!r}; expected one of: {', '.join(ids)}",
                )
            if (override.source, override.uid) in seen:
                raise FieldProblem(("overrides", index, "uid"), "this event is overridden twice")
            seen.add((override.source, override.uid))
        return self

    def overrides_of(self, source_id: str) -> list[ImportOverride]:
        return [override for override in self.overrides if override.source == source_id]


def vocabulary_problems(
    sources: SourcesFile, settings: CalendarSettings
) -> Iterator[tuple[FieldPath, str]]:
    """Every category, audience and theme the sources file names must be in our vocabularies."""
    vocab = settings.vocabularies
    kinds = {
        "category": vocab.categories,
        "audiences": vocab.audiences,
        "themes": vocab.themes,
    }

    def check(base: FieldPath, name: str, value: str | list[str] | None) -> Iterator[Any]:
        values = [value] if isinstance(value, str) else list(value or [])
        for position, item in enumerate(values):
            if item not in kinds[name]:
                path = (*base, name) if isinstance(value, str) else (*base, name, position)
                yield path, f"unknown value {item!r}; expected one of: {', '.join(kinds[name])}"

    for index, source in enumerate(sources.sources):
        for name in kinds:
            yield from check(("sources", index), name, getattr(source, name))
        for label, mapping in source.map_categories.items():
            for name in kinds:
                yield from check(
                    ("sources", index, "map_categories", label), name, getattr(mapping, name)
                )
    for index, override in enumerate(sources.overrides):
        for name in kinds:
            yield from check(("overrides", index), name, getattr(override, name))


# --- Reading a feed ------------------------------------------------------------------------


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
        raise FeedRejected(f"not valid iCalendar: {_short(str(exc))}") from None
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
        reader = _EventReader(source, zone, uid, master, changed, zones, today)
        try:
            mapped = reader.read(by_uid.get(uid), settings)
        except _Skipped as problem:
            problems.append(f"event {_short(uid)!r}: {problem}")
            skipped += 1
            continue
        except Exception as exc:  # a value icalendar cannot decode: someone else's data
            problems.append(f"event {_short(uid)!r}: cannot be read: {_short(str(exc))}")
            skipped += 1
            continue
        if mapped is None:
            continue  # filtered out or hidden: not a problem
        event, count = mapped
        problems += [f"event {_short(uid)!r}: {message}" for message in reader.notes]
        events.append(event)
        occurrences += count
    for uid in exceptions:
        problems.append(f"event {_short(uid)!r}: a changed occurrence without its series; left out")
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
            problems.append(f"event {_short(uid)!r}: the UID is repeated; the first is kept")
        else:
            masters[uid] = component
    return masters, exceptions


def imported_id(source_id: str, uid: str) -> str:
    """Our id of an imported event: the source's id and a hash of its UID there, so the
    same partner event keeps its id (and our UID) through every edit, and two sources
    never share one."""
    return f"{source_id}-{hashlib.sha256(uid.encode()).hexdigest()[:UID_DIGITS]}"


# --- Text ----------------------------------------------------------------------------------

_BREAKS = re.compile(r"<\s*(?:br\s*/?|/p|/div|/li|/h[1-6]|/tr)\s*>", re.IGNORECASE)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_text(value: str, limit: int = MAX_TEXT) -> str:
    """Text with every HTML tag stripped (scripts and styles with their content), entities
    read, control characters dropped and the length capped: plain text for every output."""
    text = _BREAKS.sub("\n", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))
    text = _CONTROLS.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return _capped(text, limit)


def plain_line(value: str, limit: int = MAX_TITLE) -> str:
    """One line of plain text (titles, venues), capped."""
    return _capped(" ".join(plain_text(value, MAX_TEXT).split()), limit)


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _short(text: str) -> str:
    return _capped(" ".join(text.split()), 80)


# --- One event -----------------------------------------------------------------------------


class _Skipped(Exception):
    """This VEVENT cannot become one of our events; the message says why."""


class _NotOurRule(Exception):
    """The series cannot be kept as our rule; it is expanded into dates instead."""


_SUB_DAILY = {"HOURLY", "MINUTELY", "SECONDLY", "BYHOUR", "BYMINUTE", "BYSECOND"}
_RULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "BYSETPOS"}
_STATUS = {"TENTATIVE": Status.PROVISIONAL, "CANCELLED": Status.CANCELLED}
_WEEKDAY = re.compile(WEEKDAY_PATTERN)


class _EventReader:
    """Reads one series (or single event) of a feed into our model."""

    def __init__(
        self,
        source: SourceConfig,
        zone: ZoneInfo,
        uid: str,
        master: Component,
        exceptions: list[Component],
        zones: list[Component],
        today: date | None,
    ) -> None:
        self.source, self.zone, self.uid = source, zone, uid
        self.master, self.exceptions, self.today = master, exceptions, today
        self.zones = zones  # the feed's VTIMEZONEs, for expanding a series in its own zone
        self.notes: list[str] = []

    def read(
        self, override: ImportOverride | None, settings: CalendarSettings | None
    ) -> tuple[Event, int] | None:
        """Our event and the occurrences it adds; None when filtered out or hidden."""
        master, source = self.master, self.source
        title = plain_line(str(master.get("SUMMARY", ""))) or source.name
        description = plain_text(str(master.get("DESCRIPTION", "")))
        categories = _categories(master)
        text = f"{title}\n{description}"
        if not source.include.matches(text, categories):
            return None
        if not source.exclude.is_empty and source.exclude.matches(text, categories):
            return None
        if override is not None and override.hidden:
            return None
        fields = self._vocabulary(categories, override)
        start, end = self._times(master)
        fields.update(
            id=imported_id(source.id, self.uid),
            title=title,
            description=description,
            organiser=source.organiser,
            source=source.page,
            url=_url(master.get("URL")),
            location=_location(master.get("LOCATION")),
            status=_STATUS.get(str(master.get("STATUS", "")).upper(), Status.CONFIRMED),
            start=start,
            end=end,
        )
        data, count = self._series(fields)
        if settings is not None:
            vocab = settings.vocabularies
            if data.category not in vocab.categories:  # a mapping checked at load; for safety
                raise _Skipped(f"category {data.category!r} is not in our vocabulary")
        sequence, modified = self._stamps()
        # No line: the event comes from a fetched feed, named as its file would be.
        name = f"{FETCHED_NAME}/{source.id}{FETCHED_SUFFIX}"
        return Event(data, name, 0, sequence, modified, content_hash(data)), count

    # The parts, each from the source's properties ---------------------------------------

    def _vocabulary(self, categories: list[str], override: ImportOverride | None) -> dict[str, Any]:
        """Category, audiences and themes: mapped from the source's CATEGORIES or the
        source's defaults, then our override's (unless the source is preferred and mapped)."""
        source = self.source
        mappings = {label.casefold(): mapping for label, mapping in source.map_categories.items()}
        mapped = [mappings[key] for key in map(str.casefold, categories) if key in mappings]
        category = next((m.category for m in mapped if m.category), None)
        audiences = _unique(a for m in mapped for a in m.audiences)
        themes = _unique([*source.themes, *(t for m in mapped for t in m.themes)])
        mapped_themes = [t for m in mapped for t in m.themes]
        from_source = {"category": category, "audiences": audiences, "themes": mapped_themes}
        values: dict[str, Any] = {
            "category": category or source.category,
            "audiences": audiences or list(source.audiences),
            "themes": themes,
        }
        if override is not None:
            for name in ("category", "audiences", "themes"):
                ours = getattr(override, name)
                if ours is None:
                    continue
                if source.prefer == Prefer.SOURCE and from_source[name]:
                    continue  # the source's own mapped value stands
                values[name] = ours
        values["audiences"] = values["audiences"][:MAX_LIST]
        values["themes"] = values["themes"][:MAX_LIST]
        return values

    def _times(self, component: Component) -> tuple[date | datetime, date | datetime | None]:
        """Start and our end (all day: the last day, inclusive) in the calendar's zone."""
        if "DTSTART" not in component:
            raise _Skipped("no DTSTART")
        start = self._local(component, "DTSTART")
        if "DTEND" in component:
            end: date | datetime | None = self._local(component, "DTEND")
        elif "DURATION" in component:
            duration = component.decoded("DURATION")
            end = start + duration if isinstance(duration, timedelta) else None
        else:
            end = None
        if end is not None and type(end) is not type(start):
            raise _Skipped("DTSTART and DTEND differ in kind (one a date, one a time)")
        if isinstance(start, datetime):
            if end is not None and end <= start:
                end = None  # a zero-length event: shown with our default length
            return start, end
        if end is None:
            return start, None
        last = end - timedelta(days=1)  # iCalendar's all-day end is exclusive; ours inclusive
        return start, last if last > start else None

    def _local(self, component: Component, name: str) -> date | datetime:
        value = component.decoded(name)
        return self._in_zone(value, component[name].params.get("TZID"), name)

    def _in_zone(self, value: Any, tzid: str | None, name: str) -> date | datetime:
        """A date, or a time as the same instant in the calendar's zone, without offset."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                if tzid:
                    raise _Skipped(
                        f"{name} names the time zone {_short(tzid)!r}, which is neither an IANA"
                        " name nor given by a VTIMEZONE in the feed"
                    )
                return value.replace(microsecond=0)  # floating: the local time, wherever
            return value.astimezone(self.zone).replace(tzinfo=None, microsecond=0)
        if isinstance(value, date):
            return value
        raise _Skipped(f"{name} is not a date or a time")

    def _keeps_zone(self, value: Any) -> bool:
        """Whether a start's rule gives the same local times in the calendar's zone."""
        if not isinstance(value, datetime) or value.tzinfo is None:
            return True
        return getattr(value.tzinfo, "key", None) == self.zone.key or (
            value.utcoffset() == timedelta(0) and self.zone.key in ("UTC", "Etc/UTC")
        )

    def _stamps(self) -> tuple[int, datetime]:
        """SEQUENCE and LAST-MODIFIED from the source: the highest of the series and its
        changed occurrences; without LAST-MODIFIED its DTSTAMP, else EPOCH."""
        sequences, moments = [0], []
        for component in (self.master, *self.exceptions):
            try:
                sequences.append(int(component.get("SEQUENCE", 0)))
            except (TypeError, ValueError):
                self.notes.append("its SEQUENCE is not a number; 0 is used")
            for name in ("LAST-MODIFIED", "DTSTAMP"):
                if name in component:
                    value = component.decoded(name)
                    if isinstance(value, datetime) and value.tzinfo is not None:
                        moments.append(value.astimezone(UTC).replace(microsecond=0))
                        break
        return min(max(sequences), MAX_SEQUENCE), max(moments, default=EPOCH)

    # Recurrence --------------------------------------------------------------------------

    def _series(self, fields: dict[str, Any]) -> tuple[EventData, int]:
        """The event with its recurrence: our rule when the source's fits our subset,
        otherwise its occurrences as extra dates, at most the source's occurrence limit."""
        master = self.master
        if "RRULE" not in master and "RDATE" not in master:
            return self._valid(fields), 1
        for rule in _rules(master):
            if _SUB_DAILY & {str(rule.get("FREQ", [""])[0]).upper(), *map(str.upper, rule)}:
                # More than one occurrence a day: not an event series people subscribe to,
                # and expanding it would cost thousands of occurrences a year.
                raise _Skipped(
                    "its RRULE repeats within a day (FREQ or BY of hours, minutes or seconds);"
                    " only daily, weekly, monthly and yearly series are imported"
                )
        try:
            return self._as_rule(fields)
        except _NotOurRule:
            return self._expanded(fields)

    def _valid(self, fields: dict[str, Any]) -> EventData:
        try:
            data = EventData.model_validate(fields)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            raise _Skipped(f"{where}: {error['msg']}") from None
        problems = [*check_local_times(data, self.zone), *check_recurrence(data)]
        if problems:
            path, message = problems[0]
            raise _Skipped(f"{'.'.join(str(p) for p in path)}: {message}")
        return data

    def _as_rule(self, fields: dict[str, Any]) -> tuple[EventData, int]:
        master, start = self.master, fields["start"]
        if not self._keeps_zone(master.decoded("DTSTART")):
            raise _NotOurRule
        rules = master.get("RRULE")
        if isinstance(rules, list) or "RDATE" in master:
            raise _NotOurRule  # several rules, or dates beside the rule: expanded
        rule = _rule(rules, start, self.zone) if rules is not None else None
        excluded = [
            self._in_zone(value.dt, None, "EXDATE") for value in _date_values(master, "EXDATE")
        ]
        recurrence = {"rule": rule, "excluded_dates": sorted(set(excluded), key=_instant)}
        overrides = [self._override(component, fields) for component in self.exceptions]
        try:
            data = self._valid({**fields, "recurrence": recurrence, "overrides": overrides})
        except _Skipped as problem:
            raise _NotOurRule from problem
        assert data.recurrence is not None and data.recurrence.rule is not None
        first = start.date() if isinstance(start, datetime) else start
        count = data.recurrence.rule.expansion_steps(first, first + EXPANSION_SPAN)
        return data, count + len(data.recurrence.extra_dates)

    def _override(self, component: Component, fields: dict[str, Any]) -> dict[str, Any]:
        """A changed occurrence (RECURRENCE-ID) as our override of the series."""
        occurrence = self._local(component, "RECURRENCE-ID")
        start, end = self._times(component)
        status = _STATUS.get(str(component.get("STATUS", "")).upper(), Status.CONFIRMED)
        title = plain_line(str(component.get("SUMMARY", ""))) or fields["title"]
        length = _length(fields["start"], fields["end"])
        return {
            "occurrence": occurrence,
            "start": start if start != occurrence else None,
            "end": end if _length(start, end) != length else None,
            "status": status if status != fields["status"] else None,
            "title": title if title != fields["title"] else None,
        }

    def _expanded(self, fields: dict[str, Any]) -> tuple[EventData, int]:
        """The series' occurrences, by recurring-ical-events, as a start and extra dates.

        Expanded over EXPANSION_SPAN from the later of its start and the index's first day,
        and at most MAX_COUNT dates (and the source's occurrence limit); what lies beyond
        is left out and reported. Occurrences that differ from the first (another length,
        title or status) become overrides.
        """
        master = self.master
        limit = min(MAX_COUNT, self.source.max_occurrences)
        first = day_of(fields["start"])
        begin = max(first, self.today - HORIZON_PAST) if self.today else first
        stop = begin + EXPANSION_SPAN
        calendar = Calendar()
        for component in (*self.zones, _bounded(master, stop), *self.exceptions):
            calendar.add_component(component)
        with warnings.catch_warnings():
            # COUNT and UNTIL together: dateutil stops at whichever comes first, as wanted.
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                # `after` yields lazily, in order: a rule giving every second stops at limit.
                found = list(
                    itertools.islice(recurring_ical_events.of(calendar).after(begin), limit + 1)
                )
            except Exception as exc:  # the expander's own errors: a rule it cannot read
                raise _Skipped(f"its recurrence cannot be expanded: {_short(str(exc))}") from None
        occurrences: list[tuple[date | datetime, date | datetime | None, Status, str]] = []
        for component in found[:limit]:
            start, end = self._times(component)
            status = _STATUS.get(str(component.get("STATUS", "")).upper(), Status.CONFIRMED)
            title = plain_line(str(component.get("SUMMARY", ""))) or fields["title"]
            occurrences.append((start, end, status, title))
        occurrences.sort(key=lambda item: _instant(item[0]))
        if not occurrences:
            raise _Skipped(f"its recurrence gives no occurrence from {begin} to {stop}")
        if len(found) > limit or _goes_on(master, stop):
            last = day_of(occurrences[-1][0])
            self.notes.append(
                f"its recurrence is not one we keep as a rule; limited to {len(occurrences)}"
                f" occurrence(s), up to {last}"
            )
        head, rest = occurrences[0], occurrences[1:]
        series = {**fields, "start": head[0], "end": head[1], "status": head[2], "title": head[3]}
        length = _length(head[0], head[1])
        overrides = [
            {
                "occurrence": start,
                "end": end if _length(start, end) != length else None,
                "status": status if status != head[2] else None,
                "title": title if title != head[3] else None,
            }
            for start, end, status, title in rest
            if _length(start, end) != length or status != head[2] or title != head[3]
        ]
        if rest:
            extra = sorted({start for start, *_ in rest}, key=_instant)
            series["recurrence"] = {"extra_dates": extra}
            series["overrides"] = overrides
        return self._valid(series), len(occurrences)


def _rule(value: Any, start: date | datetime, zone: ZoneInfo) -> dict[str, Any]:
    """The source's RRULE in our rule's fields, or _NotOurRule if it uses more."""
    parts = {key.upper(): list(items) for key, items in value.items()}
    if not set(parts) <= _RULE_PARTS:
        raise _NotOurRule
    frequency = str(parts["FREQ"][0]).lower()
    rule: dict[str, Any] = {"frequency": frequency}
    if "INTERVAL" in parts:
        rule["interval"] = int(parts["INTERVAL"][0])
    if "COUNT" in parts:
        rule["count"] = int(parts["COUNT"][0])
    if "UNTIL" in parts:
        rule["until"] = _until_day(parts["UNTIL"][0], start, zone)
    if "BYMONTH" in parts:
        rule["by_month"] = [int(month) for month in parts["BYMONTH"]]
    if "BYMONTHDAY" in parts:
        rule["by_month_day"] = [int(day) for day in parts["BYMONTHDAY"]]
    if "BYDAY" in parts:
        days = [str(day).upper().lstrip("+") for day in parts["BYDAY"]]
        if not all(_WEEKDAY.fullmatch(day) for day in days):
            raise _NotOurRule
        rule["by_weekday"] = days
    if "BYSETPOS" in parts:
        rule["by_set_position"] = [int(position) for position in parts["BYSETPOS"]]
    try:
        Rule.model_validate(rule)
    except ValidationError:
        raise _NotOurRule from None
    return rule


def _until_day(value: Any, start: date | datetime, zone: ZoneInfo) -> date:
    """UNTIL as our rule's last day: an occurrence on that day after UNTIL's time is not
    one, so the day before is the last then (every occurrence starts at the start's time)."""
    if not isinstance(value, datetime):
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    local = value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(start, datetime) and local.time() < start.time():
        return local.date() - timedelta(days=1)
    return local.date()


def _bounded(master: Component, stop: date) -> Component:
    """A copy of the series whose rule ends by `stop`: the expander then never walks further,
    whatever the rule (a rule that never matches would walk to the year 9999)."""
    bounded = copy.deepcopy(master)
    start = master.decoded("DTSTART")
    for rule in _rules(bounded):
        limit: date | datetime = stop
        if isinstance(start, datetime):  # UNTIL is UTC for a zoned start, floating otherwise
            limit = datetime.combine(stop, time(), UTC if start.tzinfo is not None else None)
        given = rule.get("UNTIL")
        if not given or day_of(given[0]) > stop:
            rule["UNTIL"] = [limit]
    return bounded


def _goes_on(master: Component, stop: date) -> bool:
    """Whether the series' rule may give occurrences after `stop`."""
    for rule in _rules(master):
        if "COUNT" not in rule and ("UNTIL" not in rule or day_of(rule["UNTIL"][0]) > stop):
            return True
    return False


def _rules(component: Component) -> list[Any]:
    """Every RRULE of a component (RFC 5545 deprecates more than one; some feeds have it)."""
    found = component.get("RRULE")
    return found if isinstance(found, list) else [found] if found is not None else []


def _date_values(component: Component, name: str) -> list[Any]:
    """Every value of a date-list property (EXDATE, RDATE), however many lines it takes."""
    found = component.get(name)
    lines = found if isinstance(found, list) else [found] if found is not None else []
    return [value for line in lines for value in line.dts]


def _categories(component: Component) -> list[str]:
    found = component.get("CATEGORIES")
    lines = found if isinstance(found, list) else [found] if found is not None else []
    return [plain_line(str(value)) for line in lines for value in line.cats if str(value).strip()]


_URL: TypeAdapter[str] = TypeAdapter(Url)


def _url(value: Any) -> str | None:
    """The event's own link, if it is an http(s) URL we would publish; else none."""
    if value is None:
        return None
    try:
        url = _URL.validate_python(str(value))
    except ValidationError:
        return None
    return url if url.lower().startswith(("https://", "http://")) else None


def _location(value: Any) -> dict[str, Any] | None:
    venue = plain_line(str(value)) if value is not None else ""
    return {"venue": venue} if venue else None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _instant(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def _length(start: date | datetime, end: date | datetime | None) -> timedelta | None:
    return None if end is None else _instant(end) - _instant(start)


__all__ = [
    "MAX_FEED_BYTES",
    "FeedRejected",
    "ImportOverride",
    "ImportedFeed",
    "SourceConfig",
    "SourcesFile",
    "check_feed",
    "imported_events",
    "plain_text",
    "read_feed",
    "vocabulary_problems",
]
